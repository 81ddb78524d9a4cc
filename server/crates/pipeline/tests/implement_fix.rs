//! implement and fix: one task in place, then the tests, then the fix loop when they fail.

mod support;

use samokoder_pipeline::{EditRequest, fix, implement, instruction_at};
use samokoder_store::RunStatus;
use samokoder_test_utils::{Reply, ScriptedLlm};
use support::*;

const TODO_SUM: &str =
    "export function sum(a, b) {\n  // TODO(samokoder): return the sum of a and b\n}\n\nexport const unrelated = 1;\n";
const IMPLEMENTED: &str = "src/sum.js\n<<<<<<< SEARCH\n  // TODO(samokoder): return the sum of a and b\n=======\n  return a + b;\n>>>>>>> REPLACE\n";

fn with_todo() -> RecordingFrontend {
    let frontend = RecordingFrontend::default();
    frontend.files.lock().unwrap().insert("src/sum.js".into(), TODO_SUM.into());
    frontend
}

fn todo_request() -> EditRequest {
    let line = TODO_SUM.lines().nth(1).unwrap();
    EditRequest { path: "src/sum.js".into(), start_line: 2, end_line: 2, instruction: instruction_at(line).unwrap() }
}

#[tokio::test]
async fn implement_replaces_the_comment_in_place_then_tests() {
    let server = ScriptedLlm::routed(vec![("Implement this in src/sum.js", Reply::text(IMPLEMENTED))]);
    let b = Bench::new(&server, with_todo(), FakeSandbox::new(PASSING_TAP, 0));
    let outcome = implement(&b.ctx, &todo_request()).await.unwrap();
    assert_eq!(outcome.status, RunStatus::Succeeded, "{}", outcome.summary);
    assert_eq!(outcome.summary, "implemented; tests pass (1 passed)");
    assert_eq!(
        b.frontend.file("src/sum.js").unwrap(),
        TODO_SUM.replace("  // TODO(samokoder): return the sum of a and b", "  return a + b;")
    );
    let asked = &Bench::asked(&server)[0];
    assert!(asked.contains("return the sum of a and b") && asked.contains("(line 2)"), "{asked}");
    assert_eq!(b.sandbox.commands(), ["node --test"]);
    let run = b.store.get_run(&b.ctx.id.0).unwrap().unwrap();
    assert_eq!(run.kind, "implement");
}

#[tokio::test]
async fn blocks_under_the_prompts_example_path_land_in_the_file_that_holds_their_lines() {
    // Qwen 1.5B copied the example's path; its SEARCH lines are the TODO of src/sum.js.
    let server = ScriptedLlm::routed(vec![(
        "Implement this in src/sum.js",
        Reply::text(IMPLEMENTED.replace("src/sum.js\n<<<", "src/example.js\n<<<")),
    )]);
    let b = Bench::new(&server, with_todo(), FakeSandbox::new(PASSING_TAP, 0));
    let outcome = implement(&b.ctx, &todo_request()).await.unwrap();
    assert_eq!(outcome.status, RunStatus::Succeeded, "{}", outcome.summary);
    assert!(b.frontend.file("src/sum.js").unwrap().contains("  return a + b;"));
    assert!(b.frontend.file("src/example.js").is_none());
    let implement_asks = server.requests().iter().filter(|r| r.last_user_message().contains("Implement this")).count();
    assert_eq!(implement_asks, 1, "no re-ask");
}

#[tokio::test]
async fn a_projects_own_dependencies_are_installed_before_its_tests_and_again_only_when_they_change() {
    // A user's TypeScript project, no template: its devDependencies must be in the sandbox to test it.
    let package = r#"{"type": "module", "devDependencies": {"typescript": "5.6.3"}}"#;
    let server = ScriptedLlm::routed(vec![("Implement this in src/sum.js", Reply::text(IMPLEMENTED)); 3]);
    let frontend = with_todo();
    frontend.files.lock().unwrap().insert("package.json".into(), package.into());
    let b = Bench::new(&server, frontend, FakeSandbox::new(PASSING_TAP, 0));
    let outcome = implement(&b.ctx, &todo_request()).await.unwrap();
    assert_eq!(outcome.status, RunStatus::Succeeded, "{}", outcome.summary);
    let install = "npm install --no-audit --no-fund --prefer-offline && printf %s ";
    let commands = b.sandbox.commands();
    assert_eq!(commands.len(), 2, "{commands:?}");
    assert!(commands[0].starts_with(install), "installed first: {commands:?}");
    assert_eq!(commands[1], "node --test");

    // The same dependencies: no second install. Changed ones: installed again.
    b.frontend.files.lock().unwrap().insert("src/sum.js".into(), TODO_SUM.into());
    implement(&b.another_run(&server), &todo_request()).await.unwrap();
    assert_eq!(b.sandbox.commands().len(), 3, "{:?}", b.sandbox.commands());
    let changed = package.replace("5.6.3", "5.7.2");
    b.frontend.files.lock().unwrap().insert("package.json".into(), changed);
    b.frontend.files.lock().unwrap().insert("src/sum.js".into(), TODO_SUM.into());
    implement(&b.another_run(&server), &todo_request()).await.unwrap();
    let commands = b.sandbox.commands();
    assert!(commands[3].starts_with(install), "{commands:?}");
    assert_ne!(commands[3], commands[0], "a new fingerprint");
}

const TODO_WORDS: &str = "export function countWords(text) {\n  // TODO(samokoder): return how many words text has (an empty text has 0)\n}\n";
const WORDS_TEST: &str = "import { test } from 'node:test';\nimport assert from 'node:assert/strict';\nimport { countWords } from '../src/words.js';\ntest('two', () => {\n  assert.equal(countWords('a b'), 2);\n});\n";

fn words() -> (RecordingFrontend, EditRequest) {
    let frontend = RecordingFrontend::default();
    frontend.files.lock().unwrap().extend([
        ("src/words.js".to_owned(), TODO_WORDS.to_owned()),
        ("test/words.test.js".to_owned(), WORDS_TEST.to_owned()),
    ]);
    let line = TODO_WORDS.lines().nth(1).unwrap();
    let request = EditRequest {
        path: "src/words.js".into(),
        start_line: 2,
        end_line: 2,
        instruction: instruction_at(line).unwrap(),
    };
    (frontend, request)
}

const SPLIT: &str = "src/words.js\n<<<<<<< SEARCH\n  // TODO(samokoder): return how many words text has (an empty text has 0)\n=======\n  return text.split(' ').length;\n>>>>>>> REPLACE\n";

#[tokio::test]
async fn a_case_the_request_names_and_no_test_checks_gets_a_test_and_the_loop_fixes_the_code_for_it() {
    // Qwen 1.5B's `split(' ').length` passes the user's test and gives 1 for an empty text.
    let cases = "test/words.samokoder.test.js\n```js\nimport { test } from 'node:test';\nimport assert from 'node:assert/strict';\nimport { countWords } from '../src/words.js';\n\ntest(\"return how many words text has\", () => {\n  assert.equal(countWords('a b c'), 3);\n});\n\ntest(\"an empty text has 0\", () => {\n  assert.equal(countWords(''), 0);\n});\n```\n";
    let fixed = "src/words.js\n<<<<<<< SEARCH\n  return text.split(' ').length;\n=======\n  return text.split(/\\s+/).filter(Boolean).length;\n>>>>>>> REPLACE\n";
    let server = ScriptedLlm::routed(vec![
        ("Implement this in src/words.js", Reply::text(SPLIT)),
        (
            "Below is a new test file with one empty test per line above",
            Reply::text(cases.replace("an empty text has 0", "zero")),
        ),
        ("is not one of the tests given", Reply::text(cases)),
        ("you are the troubleshooter", Reply::text(fixed)),
    ]);
    let (frontend, request) = words();
    let sandbox = FakeSandbox::sequence(&[(PASSING_TAP, 0), (FAILING_TAP, 1), (PASSING_TAP, 0)]);
    let b = Bench::new(&server, frontend, sandbox);
    let outcome = implement(&b.ctx, &request).await.unwrap();
    assert_eq!(outcome.status, RunStatus::Succeeded, "{}", outcome.summary);
    assert_eq!(outcome.summary, "implemented, then fixed in 1 iteration(s); tests pass (1 passed)");
    let asked = Bench::asked(&server);
    let case_prompt =
        asked.iter().find(|a| a.contains("test/words.samokoder.test.js")).expect("the cases were asked for");
    assert!(
        case_prompt.contains("its comments say it does:\n- return how many words text has (an empty text has 0)\n")
            && case_prompt.contains("return text.split(' ').length;")
            && case_prompt.contains("test(\"an empty text has 0\", () => {\n  // assert what the name states\n});")
            && case_prompt.contains("assert.equal(countWords('a b'), 2);"),
        "the code, the request and the user's tests are shown: {case_prompt}"
    );
    assert!(
        asked.iter().any(|a| a.contains("the test 'zero' is not one of the tests given")),
        "a case no line states is sent back"
    );
    assert!(b.frontend.file("test/words.samokoder.test.js").unwrap().contains("countWords(''), 0"));
    assert_eq!(b.frontend.file("test/words.test.js").unwrap(), WORDS_TEST, "the user's test is as it was");
    assert!(b.frontend.file("src/words.js").unwrap().contains("filter(Boolean)"));
    assert_eq!(b.sandbox.commands(), ["node --test"; 3]);
}

#[tokio::test]
async fn case_tests_the_loop_cannot_make_pass_are_undone_with_the_fixes_made_for_them() {
    // A case test can be wrong: Qwen 1.5B expected clamp(25, 0, 20) to be 15, and the loop then rewrote a
    // right clamp to match it. What the run leaves is what it had when its tests passed.
    let cases = "test/words.samokoder.test.js\n```js\nimport { test } from 'node:test';\nimport assert from 'node:assert/strict';\nimport { countWords } from '../src/words.js';\n\ntest(\"an empty text has 0\", () => {\n  assert.equal(countWords(''), 7);\n});\n```\n";
    let worse =
        "src/words.js\n<<<<<<< SEARCH\n  return text.split(' ').length;\n=======\n  return 7;\n>>>>>>> REPLACE\n";
    let server = ScriptedLlm::routed(vec![
        ("Implement this in src/words.js", Reply::text(SPLIT)),
        ("Below is a new test file with one empty test per line above", Reply::text(cases)),
        ("you are the troubleshooter", Reply::text(worse)),
    ]);
    let (frontend, request) = words();
    let sandbox = FakeSandbox::sequence(&[(PASSING_TAP, 0), (FAILING_TAP, 1), (FAILING_TAP, 1)]);
    let mut b = Bench::new(&server, frontend, sandbox);
    b.ctx.settings.max_fix_iterations = 1;
    let outcome = implement(&b.ctx, &request).await.unwrap();
    assert_eq!(outcome.status, RunStatus::Succeeded, "{}", outcome.summary);
    assert!(
        outcome.summary.starts_with("implemented; tests pass (1 passed); a case the comments state failed and could not be fixed, and was undone: test/sum.test.js:6: adds: boom"),
        "{}",
        outcome.summary
    );
    assert_eq!(
        b.frontend.file("src/words.js").unwrap(),
        TODO_WORDS.replace(
            "  // TODO(samokoder): return how many words text has (an empty text has 0)",
            "  return text.split(' ').length;"
        ),
        "the code as it was when the tests passed"
    );
    assert!(b.frontend.file("test/words.samokoder.test.js").is_none(), "the case tests are gone");
    assert!(
        b.frontend.messages.lock().unwrap().iter().any(|m| m.contains("could not be fixed, so its test was undone"))
    );
}

#[tokio::test]
async fn no_case_tests_when_no_fix_iteration_is_left_or_the_reply_gives_none() {
    let server = ScriptedLlm::routed(vec![("Implement this in src/words.js", Reply::text(SPLIT))]);
    let (frontend, request) = words();
    let mut b = Bench::new(&server, frontend, FakeSandbox::new(PASSING_TAP, 0));
    b.ctx.settings.max_fix_iterations = 0;
    let outcome = implement(&b.ctx, &request).await.unwrap();
    assert_eq!(outcome.summary, "implemented; tests pass (1 passed)");
    assert_eq!(server.requests().len(), 1, "one shot: the edit alone");

    // A project whose tests are not Node's own: no `node:test` file is written into it.
    let server = ScriptedLlm::routed(vec![("Implement this in src/words.js", Reply::text(SPLIT))]);
    let (frontend, request) = words();
    let mut b = Bench::new(&server, frontend, FakeSandbox::new(PASSING_TAP, 0));
    b.ctx.settings.test_command = "npx vitest run".into();
    b.ctx.settings.test_command_configured = true;
    implement(&b.ctx, &request).await.unwrap();
    assert_eq!(server.requests().len(), 1, "a Vitest project gets no case tests");

    // A reply that is not a test file, twice: the run ends as it was, tests passing, nothing written.
    let server = ScriptedLlm::routed(vec![
        ("Implement this in src/words.js", Reply::text(SPLIT)),
        ("you are the code writer", Reply::text("All cases are tested already.")),
        ("That change cannot be applied", Reply::text("All cases are tested already.")),
    ]);
    let (frontend, request) = words();
    let b = Bench::new(&server, frontend, FakeSandbox::new(PASSING_TAP, 0));
    let outcome = implement(&b.ctx, &request).await.unwrap();
    assert_eq!(outcome.status, RunStatus::Succeeded, "{}", outcome.summary);
    assert_eq!(outcome.summary, "implemented; tests pass (1 passed)");
    assert!(b.frontend.file("test/words.samokoder.test.js").is_none());
    assert_eq!(server.requests().len(), 3, "the edit, then the case tests asked for twice");
    assert_eq!(b.sandbox.commands(), ["node --test"], "nothing new to run");
}

#[tokio::test]
async fn an_implementation_whose_tests_fail_goes_through_the_fix_loop() {
    let wrong = IMPLEMENTED.replace("return a + b;", "return a - b;");
    let fixed = "src/sum.js\n<<<<<<< SEARCH\n  return a - b;\n=======\n  return a + b;\n>>>>>>> REPLACE\n";
    let server = ScriptedLlm::routed(vec![
        ("Implement this in src/sum.js", Reply::text(wrong)),
        ("you are the troubleshooter", Reply::text(fixed)),
    ]);
    let b = Bench::new(&server, with_todo(), FakeSandbox::sequence(&[(FAILING_TAP, 1), (PASSING_TAP, 0)]));
    let outcome = implement(&b.ctx, &todo_request()).await.unwrap();
    assert_eq!(outcome.status, RunStatus::Succeeded, "{}", outcome.summary);
    assert_eq!(outcome.summary, "implemented, then fixed in 1 iteration(s); tests pass (1 passed)");
    assert!(b.frontend.file("src/sum.js").unwrap().contains("return a + b;"));
}

#[tokio::test]
async fn fix_makes_failing_tests_pass_and_a_diagnostic_no_test_sees_is_fixed_too() {
    let buggy = TODO_SUM.replace("  // TODO(samokoder): return the sum of a and b", "  return a - b;");
    let fixed = "src/sum.js\n<<<<<<< SEARCH\n  return a - b;\n=======\n  return a + b;\n>>>>>>> REPLACE\n";
    // The failing tests.
    let server = ScriptedLlm::routed(vec![("you are the troubleshooter", Reply::text(fixed))]);
    let frontend = RecordingFrontend::default();
    frontend.files.lock().unwrap().insert("src/sum.js".into(), buggy.clone());
    let b = Bench::new(&server, frontend, FakeSandbox::sequence(&[(FAILING_TAP, 1), (PASSING_TAP, 0)]));
    let outcome = fix(&b.ctx, None).await.unwrap();
    assert_eq!(outcome.status, RunStatus::Succeeded, "{}", outcome.summary);
    assert_eq!(outcome.summary, "fixed in 1 iteration(s); tests pass (1 passed)");

    // A diagnostic from another server (the tests pass already): it becomes the failure to fix.
    let typed = "src/sum.js\n<<<<<<< SEARCH\nexport const unrelated = 1;\n=======\nexport const unrelated: number = 1;\n>>>>>>> REPLACE\n";
    let server = ScriptedLlm::routed(vec![("you are the troubleshooter", Reply::text(typed))]);
    let frontend = RecordingFrontend::default();
    frontend.files.lock().unwrap().insert("src/sum.js".into(), TODO_SUM.into());
    let b = Bench::new(&server, frontend, FakeSandbox::new(PASSING_TAP, 0));
    let request = EditRequest {
        path: "src/sum.js".into(),
        start_line: 5,
        end_line: 5,
        instruction: "Variable 'unrelated' implicitly has an 'any' type.".into(),
    };
    let outcome = fix(&b.ctx, Some(&request)).await.unwrap();
    assert_eq!(outcome.status, RunStatus::Succeeded, "{}", outcome.summary);
    let asked = &Bench::asked(&server)[0];
    assert!(asked.contains("- src/sum.js:5: Variable 'unrelated' implicitly has an 'any' type."), "{asked}");
    assert!(b.frontend.file("src/sum.js").unwrap().contains("unrelated: number"));

    // Nothing to fix: the tests pass and no diagnostic was named.
    let server = ScriptedLlm::routed(vec![]);
    let b = Bench::new(&server, RecordingFrontend::default(), FakeSandbox::new(PASSING_TAP, 0));
    let outcome = fix(&b.ctx, None).await.unwrap();
    assert_eq!(
        (outcome.status, outcome.summary.as_str()),
        (RunStatus::Succeeded, "nothing to fix; tests pass (1 passed)")
    );
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn a_type_error_is_fixed_only_when_tsc_no_longer_reports_it() {
    let code = "export function sum(a: number, b: number): number {\n  return `${a}${b}`;\n}\n";
    let first = "src/sum.ts\n<<<<<<< SEARCH\n  return `${a}${b}`;\n=======\n  return `${a + b}`;\n>>>>>>> REPLACE\n";
    let second = "src/sum.ts\n<<<<<<< SEARCH\n  return `${a + b}`;\n=======\n  return a + b;\n>>>>>>> REPLACE\n";
    let server = ScriptedLlm::start(vec![Reply::text(first), Reply::text(second)]);
    let error = format!(
        "{CHECK} tsc\nsrc/sum.ts(2,3): error TS2322: Type 'string' is not assignable to type 'number'.\n{CHECK} tsc-end\n"
    );
    let clean = format!("{CHECK} tsc\n{CHECK} tsc-end\n");
    let sandbox = FakeSandbox::new(PASSING_TAP, 0);
    // The first fix's checks (before, after: the old error is not its doing), the look after it (still
    // there), the second fix's checks, the look after it (gone).
    sandbox.check_outputs.lock().unwrap().extend([
        error.clone(),
        error.clone(),
        error.clone(),
        error,
        clean.clone(),
        clean,
    ]);
    let frontend = RecordingFrontend::default();
    frontend
        .files
        .lock()
        .unwrap()
        .extend([("tsconfig.json".to_owned(), "{}".to_owned()), ("src/sum.ts".to_owned(), code.to_owned())]);
    let b = Bench::new(&server, frontend, sandbox);
    let request = EditRequest {
        path: "src/sum.ts".into(),
        start_line: 2,
        end_line: 2,
        instruction: "Type 'string' is not assignable to type 'number'. (typescript)".into(),
    };
    let outcome = fix(&b.ctx, Some(&request)).await.unwrap();
    assert_eq!(outcome.status, RunStatus::Succeeded, "{}", outcome.summary);
    assert_eq!(server.requests().len(), 2, "a fix after which tsc still reports the error is not the end");
    assert!(b.frontend.file("src/sum.ts").unwrap().contains("  return a + b;"));
    assert_eq!(outcome.summary, "fixed in 2 iteration(s); tests pass (1 passed)");
}

#[tokio::test]
async fn implement_at_a_line_that_is_not_there_says_so() {
    let server = ScriptedLlm::routed(vec![]);
    let b = Bench::new(&server, with_todo(), FakeSandbox::new(PASSING_TAP, 0));
    let request = EditRequest { path: "src/sum.js".into(), start_line: 40, end_line: 40, instruction: "x".into() };
    let err = format!("{:#}", implement(&b.ctx, &request).await.unwrap_err());
    assert!(err.contains("has 5 lines; there is no line 40"), "{err}");
    let request = EditRequest { path: "src/nope.js".into(), start_line: 1, end_line: 1, instruction: "x".into() };
    let err = format!("{:#}", implement(&b.ctx, &request).await.unwrap_err());
    assert!(err.contains("src/nope.js does not exist"), "{err}");
}
