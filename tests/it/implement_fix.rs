//! implement and fix through the real binary: a TODO comment over LSP becomes minimal edits in the open
//! buffer (the rest of the buffer, unsaved work included, untouched); a project with a failing test is
//! fixed by a scripted fix from a terminal; both tested in the real sandbox.

use std::time::Duration;

use samokoder_test_utils::{Reply, ScriptedLlm, docker_available};
use serde_json::{Value, json};

use crate::support::{SUM_PACKAGE, SUM_TEST, Sandboxed, bin, code_action, failing_sum_project, pick, run_end};

/// The implementer's scripted reply: the TODO of src/sum.js becomes the sum.
const IMPLEMENTED: &str = "src/sum.js\n<<<<<<< SEARCH\n  // TODO(samokoder): return the sum of a and b\n=======\n  return a + b;\n>>>>>>> REPLACE\n";

/// What an implement run asks the model: four draws of the implementation (`first` for the first, the
/// right one for the others) and one call for generated tests, all at once.
fn implement_routes(first: &str) -> Vec<(&'static str, Reply)> {
    vec![
        ("body:\"seed\":0", Reply::text(first)),
        ("body:\"seed\":1", Reply::text(IMPLEMENTED)),
        ("body:\"seed\":2", Reply::text(IMPLEMENTED)),
        ("body:\"seed\":3", Reply::text(IMPLEMENTED)),
        ("you are the test writer", Reply::text("```js\nassert.deepStrictEqual(sum(2, 3), 5);\n```\n")),
    ]
}

#[tokio::test]
async fn implement_on_a_todo_comment_lands_as_minimal_edits_in_the_open_buffer() {
    if !docker_available() {
        return;
    }
    // The first draw is wrong; the three that agree, and pass the generated test, land. The candidates run
    // in the real sandbox.
    let llm = ScriptedLlm::routed(implement_routes(&IMPLEMENTED.replace("a + b", "a - b")));
    let s = Sandboxed::new();
    std::fs::create_dir_all(s.root().join("src")).unwrap();
    std::fs::create_dir_all(s.root().join("test")).unwrap();
    std::fs::write(s.root().join("package.json"), SUM_PACKAGE).unwrap();
    std::fs::write(s.root().join("test/sum.test.js"), SUM_TEST).unwrap();
    // The editor holds unsaved work the disk does not have.
    let buffer =
        "// my unsaved note\nexport function sum(a, b) {\n  // TODO(samokoder): return the sum of a and b\n}\n";
    std::fs::write(s.root().join("src/sum.js"), "export function sum(a, b) {\n}\n").unwrap();
    let client = s.spawn(s.options(Some(&llm)));
    client.initialize().await.unwrap();
    client.did_open("src/sum.js", "javascript", buffer).await.unwrap();

    // The code action is offered on the comment, and carries the command.
    let range = json!({"start": {"line": 2, "character": 4}, "end": {"line": 2, "character": 4}});
    let actions = client
        .request(
            "textDocument/codeAction",
            json!({"textDocument": {"uri": client.uri("src/sum.js")}, "range": range, "context": {"diagnostics": []}}),
        )
        .await
        .unwrap();
    let implement =
        actions.as_array().unwrap().iter().find(|a| a["title"] == "Samokoder: implement this").expect("offered");
    assert_eq!(implement["kind"], "refactor.rewrite");
    let command = &implement["command"];
    client
        .request("workspace/executeCommand", json!({"command": command["command"], "arguments": command["arguments"]}))
        .await
        .unwrap();
    let end = client
        .wait_for(Duration::from_secs(60), "the run's end", |m| {
            m["method"] == "$/progress" && m["params"]["value"]["kind"] == "end"
        })
        .await
        .unwrap();
    let log: String = client
        .messages()
        .iter()
        .filter(|m| m["method"] == "samokoder/log")
        .map(|m| m["params"]["text"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(end["params"]["value"]["message"], "implemented; tests pass (1 passed)", "{log}");
    assert!(log.contains("chose candidate 2 of 4 (3 agree): no stated example, 1 of 1 generated tests pass"), "{log}");
    // One edit, of the one line, against the open document's version.
    let edit = client.messages().into_iter().find(|m| m["method"] == "workspace/applyEdit").unwrap();
    let changes = edit["params"]["edit"]["documentChanges"].as_array().unwrap().clone();
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0]["textDocument"]["version"], 1);
    let edits = changes[0]["edits"].as_array().unwrap();
    assert_eq!(edits.len(), 1);
    assert_eq!(edits[0]["range"]["start"]["line"], 2);
    assert_eq!(edits[0]["newText"], "  return a + b;\n");
    assert_eq!(
        client.buffer("src/sum.js").unwrap(),
        "// my unsaved note\nexport function sum(a, b) {\n  return a + b;\n}\n",
        "the unsaved note survived"
    );
    client.shutdown_and_exit().await.unwrap();
}

#[test]
fn a_failing_test_is_fixed_from_a_terminal() {
    if !docker_available() {
        return;
    }
    let llm = ScriptedLlm::routed(vec![(
        "you are the troubleshooter",
        Reply::text(
            "The sign is wrong.\n\nsrc/sum.js\n<<<<<<< SEARCH\n  return a - b;\n=======\n  return a + b;\n>>>>>>> REPLACE\n",
        ),
    )]);
    let s = Sandboxed::new();
    failing_sum_project(&s);
    std::fs::write(s.root().join("src/util.js"), "export function helper() {\n  return 1;\n}\n").unwrap();
    let out = std::process::Command::new(bin())
        .args(["fix", "--dir", s.root().to_str().unwrap()])
        .envs(s.env(Some(&llm)))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("fixed in 1 iteration(s); tests pass (1 passed)"), "{stdout}");
    assert!(std::fs::read_to_string(s.root().join("src/sum.js")).unwrap().contains("a + b"));
    let asked = llm.requests()[0].last_user_message();
    assert!(asked.contains("test/sum.test.js:6: adds") && asked.contains("return a - b;"), "{asked}");
    assert!(asked.contains("The user wrote test/sum.test.js: those tests are right"), "{asked}");
    // The run started once the workspace was indexed: the map lists the file the prompt does not show whole
    // (and leaves out the ones it does).
    assert!(asked.contains("The project's files") && asked.contains("export function helper()"), "{asked}");
    assert!(!asked.contains("no source files") && !asked.contains("src/sum.js:\n"), "{asked}");
}

#[tokio::test]
async fn generate_tests_for_a_file_writes_a_test_file_that_runs_in_the_sandbox() {
    if !docker_available() {
        return;
    }
    let tests = format!("test/sum.test.js\n```js\n{SUM_TEST}```\n");
    let llm = ScriptedLlm::routed(vec![("Write tests for src/sum.js", Reply::text(&tests))]);
    let s = Sandboxed::new();
    std::fs::create_dir_all(s.root().join("src")).unwrap();
    std::fs::write(s.root().join("package.json"), SUM_PACKAGE).unwrap();
    let code = "export function sum(a, b) {\n  return a + b;\n}\n";
    std::fs::write(s.root().join("src/sum.js"), code).unwrap();
    let client = s.spawn(s.options(Some(&llm)));
    client.initialize().await.unwrap();
    client.did_open("src/sum.js", "javascript", code).await.unwrap();
    const TITLE: &str = "Samokoder: generate tests for this file";
    let action = code_action(&client, "src/sum.js", 0, TITLE).await.expect("offered on a source file");
    assert_eq!(action["kind"], "source");
    pick(&client, &action).await;
    let end = run_end(&client, 60).await;
    assert_eq!(end["params"]["value"]["message"], "wrote the tests; tests pass (1 passed)");
    // The new file is the editor's (an unsaved buffer) and was tested as such.
    assert_eq!(client.buffer("test/sum.test.js").unwrap(), SUM_TEST);
    assert_eq!(client.buffer("src/sum.js").unwrap(), code, "the code is not changed");

    // Not offered on a test file; a test file given anyway is refused with the reason.
    assert_eq!(code_action(&client, "test/sum.test.js", 0, TITLE).await, None);
    client
        .request(
            "workspace/executeCommand",
            json!({"command": "samokoder.generateTests", "arguments": [{"uri": client.uri("test/sum.test.js")}]}),
        )
        .await
        .unwrap();
    let refused = client
        .wait_for(Duration::from_secs(30), "the refusal", |m| {
            m["method"] == "window/showMessage"
                && m["params"]["message"].as_str().is_some_and(|t| t.contains("is a test file"))
        })
        .await;
    assert!(refused.is_ok(), "{:?}", client.messages());
    client.shutdown_and_exit().await.unwrap();
}

/// The implement run's edit, planned on the buffer as it was; the user types while the editor holds it.
async fn implement_while_the_user_types(
    user_line: u32,
    user_text: &str,
) -> (Sandboxed, samokoder_test_utils::LspClient, Value) {
    let llm = ScriptedLlm::routed(implement_routes(IMPLEMENTED));
    let s = Sandboxed::new();
    std::fs::create_dir_all(s.root().join("src")).unwrap();
    std::fs::write(s.root().join("package.json"), SUM_PACKAGE).unwrap();
    let buffer =
        "export function sum(a, b) {\n  // TODO(samokoder): return the sum of a and b\n}\n\nexport const note = 1;\n";
    std::fs::write(s.root().join("src/sum.js"), buffer).unwrap();
    let mut options = s.options(Some(&llm));
    // The editor answers every request late: the user types before it answers the edit.
    options.answer_delay = Some(Duration::from_secs(2));
    let client = s.spawn(options);
    client.initialize().await.unwrap();
    client.did_open("src/sum.js", "javascript", buffer).await.unwrap();
    let range = json!({"start": {"line": 1, "character": 4}, "end": {"line": 1, "character": 4}});
    client
        .request(
            "workspace/executeCommand",
            json!({"command": "samokoder.implement", "arguments": [{"uri": client.uri("src/sum.js"), "range": range}]}),
        )
        .await
        .unwrap();
    let sent =
        |m: &Value| m["method"] == "workspace/applyEdit" && m["params"]["edit"].to_string().contains("return a + b");
    client.wait_for(Duration::from_secs(60), "the implementation's edit", sent).await.unwrap();
    client.did_change("src/sum.js", 2, [user_line, 0, user_line + 1, 0], user_text).await.unwrap();
    let end = run_end(&client, 60).await;
    (s, client, end)
}

#[tokio::test]
async fn an_edit_refused_because_the_user_typed_meanwhile_is_rebased_once_and_lands_beside_their_change() {
    if !docker_available() {
        return;
    }
    let (_s, client, end) = implement_while_the_user_types(4, "export const note = 2; // the user's\n").await;
    let edits = client.messages().into_iter().filter(|m| m["method"] == "workspace/applyEdit").count();
    assert!(edits >= 2, "the refused edit, then the rebased one");
    assert_eq!(end["params"]["value"]["message"], "implemented; the project has no tests to run");
    assert_eq!(
        client.buffer("src/sum.js").unwrap(),
        "export function sum(a, b) {\n  return a + b;\n}\n\nexport const note = 2; // the user's\n",
        "both the run's change and the user's"
    );
    client.shutdown_and_exit().await.unwrap();
}

#[tokio::test]
async fn an_edit_whose_lines_the_user_changed_meanwhile_stops_the_run_and_overwrites_nothing() {
    if !docker_available() {
        return;
    }
    let (_s, client, end) = implement_while_the_user_types(1, "  return b + a; // written by hand\n").await;
    let message = end["params"]["value"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("src/sum.js changed in the editor while the run edited it, on the same lines"),
        "{message}"
    );
    assert_eq!(
        client.buffer("src/sum.js").unwrap(),
        "export function sum(a, b) {\n  return b + a; // written by hand\n}\n\nexport const note = 1;\n",
        "the user's text stands"
    );
    client.shutdown_and_exit().await.unwrap();
}
