//! generate tests: a new test file for a file of the user's, then the tests, then the fix loop, which
//! corrects the new tests and leaves the user's code alone unless they confirm.

mod support;

use samokoder_pipeline::generate_tests;
use samokoder_store::RunStatus;
use samokoder_test_utils::{Reply, ScriptedLlm};
use support::*;

const CODE: &str = "// sum(a, b): a plus b.\nexport function sum(a, b) {\n  return a + b;\n}\n";
/// The new tests, one expectation wrong (the model's arithmetic, not the code).
const WRITTEN: &str = "test/sum.test.js\n```js\nimport { test } from 'node:test';\nimport assert from 'node:assert/strict';\nimport { sum } from '../src/sum.js';\n\ntest('adds', () => {\n  assert.equal(sum(2, 2), 5);\n});\n```\n";
const CORRECTED: &str = "The expected sum was wrong.\n\ntest/sum.test.js\n<<<<<<< SEARCH\n  assert.equal(sum(2, 2), 5);\n=======\n  assert.equal(sum(2, 2), 4);\n>>>>>>> REPLACE\n";
/// A fix that bends the code to the wrong test.
const BENT: &str = "src/sum.js\n<<<<<<< SEARCH\n  return a + b;\n=======\n  return a + b + 1;\n>>>>>>> REPLACE\n";

fn with_code() -> RecordingFrontend {
    let frontend = RecordingFrontend::default();
    frontend.files.lock().unwrap().insert("src/sum.js".into(), CODE.into());
    frontend
}

#[tokio::test]
async fn new_tests_are_written_run_and_corrected_without_touching_the_code() {
    let server = ScriptedLlm::routed(vec![
        ("Write tests for src/sum.js", Reply::text(WRITTEN)),
        ("you are the troubleshooter", Reply::text(BENT)),
        ("src/sum.js is the user's code, taken to be right", Reply::text(CORRECTED)),
    ]);
    let b = Bench::new(&server, with_code(), FakeSandbox::sequence(&[(FAILING_TAP, 1), (PASSING_TAP, 0)]));
    let outcome = generate_tests(&b.ctx, "src/sum.js").await.unwrap();
    assert_eq!(outcome.status, RunStatus::Succeeded, "{}", outcome.summary);
    assert_eq!(outcome.summary, "wrote the tests, then fixed them in 1 iteration(s); tests pass (1 passed)");
    assert_eq!(b.frontend.file("src/sum.js").unwrap(), CODE, "the user's code is not changed");
    assert!(b.frontend.file("test/sum.test.js").unwrap().contains("assert.equal(sum(2, 2), 4);"));
    let asked = Bench::asked(&server);
    assert!(asked[0].contains("imports what it tests from '../src/sum.js'"), "{}", asked[0]);
    assert!(asked[1].contains("which is taken to be right") && !asked[1].contains("Fix the code, not the tests"));
    assert_eq!(b.store.get_run(&b.ctx.id.0).unwrap().unwrap().kind, "tests");
}

#[tokio::test]
async fn a_test_the_user_wrote_is_kept_and_the_new_tests_go_beside_it() {
    let users = "import { test } from 'node:test';\ntest('mine', () => {});\n";
    let written = WRITTEN.replace("test/sum.test.js", "test/sum.samokoder.test.js").replace("5);", "4);");
    let server = ScriptedLlm::routed(vec![("Write tests for src/sum.js", Reply::text(&written))]);
    let frontend = with_code();
    frontend.files.lock().unwrap().insert("test/sum.test.js".into(), users.into());
    let b = Bench::new(&server, frontend, FakeSandbox::new(PASSING_TAP, 0));
    let outcome = generate_tests(&b.ctx, "src/sum.js").await.unwrap();
    assert_eq!(outcome.status, RunStatus::Succeeded, "{}", outcome.summary);
    assert_eq!(b.frontend.file("test/sum.test.js").unwrap(), users);
    assert!(b.frontend.file("test/sum.samokoder.test.js").unwrap().contains("sum(2, 2), 4"));
    assert!(Bench::asked(&server)[0].contains("do not repeat them"), "the model saw the user's tests");
}

#[tokio::test]
async fn a_reply_that_writes_anything_but_the_test_file_is_asked_again_then_the_run_fails_saying_so() {
    let elsewhere =
        "src/sum.js\n```js\n// sum(a, b): a plus b.\nexport function sum(a, b) {\n  return b + a;\n}\n```\n";
    let server = ScriptedLlm::routed(vec![
        ("Write tests for src/sum.js", Reply::text(elsewhere)),
        ("generate tests writes only test/sum.test.js", Reply::text(elsewhere)),
        ("generate tests writes only test/sum.test.js", Reply::text(elsewhere)),
    ]);
    let b = Bench::new(&server, with_code(), FakeSandbox::new(PASSING_TAP, 0));
    let err = generate_tests(&b.ctx, "src/sum.js").await.unwrap_err().to_string();
    assert!(err.contains("the tests could not be written after 3 tries"), "{err}");
    assert!(err.contains("generate tests writes only test/sum.test.js, and src/sum.js is not it"), "{err}");
    assert_eq!(b.frontend.file("src/sum.js").unwrap(), CODE);
    assert_eq!(server.requests().len(), 3);

    // A test file, or a file that is not there, is refused before any model call.
    for (path, says) in [("test/sum.test.js", "is a test file"), ("src/gone.js", "does not exist")] {
        let server = ScriptedLlm::routed(vec![]);
        let b = Bench::new(&server, with_code(), FakeSandbox::new(PASSING_TAP, 0));
        let err = generate_tests(&b.ctx, path).await.unwrap_err().to_string();
        assert!(err.contains(says), "{path}: {err}");
        assert!(server.requests().is_empty());
    }
}

#[tokio::test]
async fn a_reply_cut_off_before_its_closing_fence_is_asked_again_for_the_test_file() {
    // Qwen 1.5B listed cases until its token limit: the fence never closed.
    let cut = "test/sum.test.js\n```js\nimport { sum } from '../src/sum.js';\n\ntest('adds', () => {\n  assert.equal(sum(1, 1), 2);\n  assert.equal(sum(1, 2), 3);\n";
    let server = ScriptedLlm::routed(vec![
        ("Write tests for src/sum.js", Reply::text(cut)),
        ("the reply gives no file: give test/sum.test.js alone, whole", Reply::text(WRITTEN.replace("5);", "4);"))),
    ]);
    let b = Bench::new(&server, with_code(), FakeSandbox::new(PASSING_TAP, 0));
    let outcome = generate_tests(&b.ctx, "src/sum.js").await.unwrap();
    assert_eq!(outcome.status, RunStatus::Succeeded, "{}", outcome.summary);
    let reask = Bench::asked(&server).last().unwrap().clone();
    assert!(reask.contains("keep it short") && !reask.contains("SEARCH/REPLACE"), "{reask}");
}
