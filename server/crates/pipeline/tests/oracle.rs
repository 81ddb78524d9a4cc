//! The user's words are the oracle: the examples a doc comment states run as checks (on the host's node,
//! through the same harness the sandbox runs), candidates are chosen by running them, a generated test that
//! contradicts a stated example is dropped, the fix loop cannot edit an example, and a run whose examples
//! still fail has failed.

mod support;

use samokoder_pipeline::{EditRequest, implement, instruction_at};
use samokoder_store::{RecordKind, RunStatus};
use samokoder_test_utils::{Reply, ScriptedLlm};
use support::*;

const LONGEST: &str = "/**\n * Return the longest string, the first of those as long; null for an empty list.\n * >>> longest([])\n *\n * >>> longest(['a', 'bb'])\n * 'bb'\n */\nexport function longest(strings) {\n  // TODO(samokoder): implement longest as its comment above describes\n}\n";
const TODO: &str = "  // TODO(samokoder): implement longest as its comment above describes";

fn project() -> (RecordingFrontend, EditRequest) {
    let frontend = RecordingFrontend::default();
    frontend.files.lock().unwrap().extend([
        ("src/longest.js".to_owned(), LONGEST.to_owned()),
        ("package.json".to_owned(), r#"{"type": "module", "scripts": {"test": "node --test"}}"#.to_owned()),
    ]);
    let request = EditRequest {
        path: "src/longest.js".into(),
        start_line: 9,
        end_line: 9,
        instruction: instruction_at(TODO).unwrap(),
    };
    (frontend, request)
}

fn block(body: &str) -> String {
    format!("src/longest.js\n<<<<<<< SEARCH\n{TODO}\n=======\n{body}\n>>>>>>> REPLACE\n")
}

const FIRST: &str = "  return strings.length ? strings[0] : null;";
const LOOKUP: &str =
    "  if (strings.length === 0) return null;\n  if (strings[1] === 'bb') return 'bb';\n  return 'zz';";
const RIGHT: &str = "  let best = null;\n  for (const s of strings) {\n    if (best === null || s.length > best.length) best = s;\n  }\n  return best;";
const RIGHT_TOO: &str =
    "  if (strings.length === 0) return null;\n  return strings.reduce((a, b) => (b.length > a.length ? b : a));";
const TESTS: &str = "```js\nassert.deepStrictEqual(longest(['x', 'yyy', 'zz']), 'yyy');\nassert.deepStrictEqual(longest(['a', 'bb']), 'a');\nassert.deepStrictEqual(longest(['q']), 'q');\n```\n";

#[tokio::test]
async fn the_candidate_most_draws_agree_on_lands_not_the_first_nor_a_lookup_table() {
    let server = ScriptedLlm::routed(vec![
        ("body:\"seed\":0", Reply::text(block(FIRST))),
        ("body:\"seed\":1", Reply::text(block(LOOKUP))),
        ("body:\"seed\":2", Reply::text(block(RIGHT))),
        ("body:\"seed\":3", Reply::text(block(RIGHT_TOO))),
        ("you are the test writer", Reply::text(TESTS)),
    ]);
    let (frontend, request) = project();
    let mut b = Bench::new(&server, frontend, FakeSandbox::new(PASSING_TAP, 0));
    b.ctx.settings.candidates = 4;
    let outcome = implement(&b.ctx, &request).await.unwrap();
    assert_eq!(outcome.status, RunStatus::Succeeded, "{}", outcome.summary);
    assert_eq!(outcome.summary, "implemented; the 2 stated examples hold; tests pass (1 passed)");
    assert_eq!(b.frontend.file("src/longest.js").unwrap(), LONGEST.replace(TODO, RIGHT));
    let steps = b.store.steps(&b.ctx.id.0).unwrap();
    assert_eq!(
        steps[0].summary,
        "implemented in src/longest.js: candidate 3 of 4 (2 agree): the 2 stated examples hold, 2 of 2 generated tests pass"
    );
    // Five calls, no more: four draws and the tests, at once; no case tests after code that meets everything.
    assert_eq!(server.requests().len(), 5);
    let record: serde_json::Value =
        samokoder_store::get_typed(&*b.store, RecordKind::Spec, &b.ctx.id.0, "oracle").unwrap().unwrap();
    let dropped = record["dropped"].to_string();
    assert!(
        dropped.contains("assert.deepStrictEqual(longest(['a', 'bb']), 'a');")
            && dropped
                .contains("contradicts the stated example `longest(['a', 'bb']) should be 'bb'` (src/longest.js:5)"),
        "{dropped}"
    );
    let log = b.frontend.log.lock().unwrap().clone();
    assert!(log.contains("candidate 1: 1 of 2 stated examples hold"), "{log}");
}

#[tokio::test]
async fn the_fix_loop_cannot_edit_a_stated_example_and_a_run_whose_example_fails_has_failed() {
    // The code is wrong; the troubleshooter first "fixes" the example to match it (refused), then gives up
    // on the code: the run ends failed, naming the example, never "implemented".
    let edit_example = "src/longest.js\n<<<<<<< SEARCH\n * 'bb'\n=======\n * 'a'\n>>>>>>> REPLACE\n";
    let server = ScriptedLlm::routed(vec![
        ("Implement this in src/longest.js", Reply::text(block(FIRST))),
        ("you are the troubleshooter", Reply::text(edit_example)),
        ("That change cannot be applied", Reply::text(edit_example)),
        ("That change cannot be applied", Reply::text(edit_example)),
    ]);
    let (frontend, request) = project();
    let mut b = Bench::new(&server, frontend, FakeSandbox::new(PASSING_TAP, 0));
    b.ctx.settings.max_fix_iterations = 1;
    let outcome = implement(&b.ctx, &request).await.unwrap();
    assert_eq!(outcome.status, RunStatus::TestsFailed, "{}", outcome.summary);
    assert!(
        outcome.summary.contains("1 of 2 stated examples fails")
            && outcome
                .summary
                .contains("src/longest.js:5: the stated example `longest(['a', 'bb']) should be 'bb'` failed: got 'a'"),
        "{}",
        outcome.summary
    );
    assert!(b.frontend.file("src/longest.js").unwrap().contains(" * 'bb'\n"), "the example is as the user wrote it");
    let asked = Bench::asked(&server);
    assert!(
        asked.iter().any(|a| a.contains("edits the example `longest(['a', 'bb']) should be 'bb'`")
            && a.contains("change the code, not the example")),
        "{asked:?}"
    );
}

#[tokio::test]
async fn the_fix_loop_starts_from_a_failing_example_and_the_run_passes_once_the_code_meets_it() {
    let fixed = "src/longest.js\n<<<<<<< SEARCH\n  return strings.length ? strings[0] : null;\n=======\n  return strings.length ? strings.reduce((a, b) => (b.length > a.length ? b : a)) : null;\n>>>>>>> REPLACE\n";
    let server = ScriptedLlm::routed(vec![
        ("Implement this in src/longest.js", Reply::text(block(FIRST))),
        ("you are the troubleshooter", Reply::text(fixed)),
    ]);
    let (frontend, request) = project();
    let b = Bench::new(&server, frontend, FakeSandbox::new(PASSING_TAP, 0));
    let outcome = implement(&b.ctx, &request).await.unwrap();
    assert_eq!(outcome.status, RunStatus::Succeeded, "{}", outcome.summary);
    assert!(
        outcome.summary.starts_with("implemented, then fixed in 1 iteration(s); the 2 stated examples hold"),
        "{}",
        outcome.summary
    );
    let troubleshooter = Bench::asked(&server).into_iter().find(|a| a.contains("you are the troubleshooter")).unwrap();
    assert!(
        troubleshooter
            .contains("src/longest.js:5: the stated example `longest(['a', 'bb']) should be 'bb'` failed: got 'a'"),
        "the failing example is the failure: {troubleshooter}"
    );
}
