//! The thin run end to end over LSP: a scripted model over HTTP, edits into the client's buffers, the tests
//! in a real container on what the client holds, diagnostics back.

use std::time::Duration;

use samokoder_test_utils::{ApplyMode, LspClient, Reply, ScriptedLlm, docker_available};
use serde_json::{Value, json};

use crate::support::Sandboxed;

/// A project whose test fails: `sum` subtracts. The failing assertion is on line 6 of the test file.
pub const BUGGY_SUM: &str = "I wrote a sum module with a test.\n\npackage.json\n```json\n{\"type\": \"module\", \"scripts\": {\"test\": \"node --test\"}}\n```\n\nsrc/sum.js\n```js\nexport function sum(a, b) {\n  return a - b;\n}\n```\n\ntest/sum.test.js\n```js\nimport { test } from 'node:test';\nimport assert from 'node:assert/strict';\nimport { sum } from '../src/sum.js';\n\ntest('adds two numbers', () => {\n  assert.equal(sum(1, 2), 3);\n});\n```\n";

/// The spec writer's reply for a simple request: what comes before the code.
pub const SPEC_SIMPLE: &str = r#"{"complexity": "simple", "summary": "A sum function with a test.", "features": ["sum(a, b) returns a + b"], "assumptions": [], "questions": []}"#;

/// Two fixes to BUGGY_SUM that do not fix it (the troubleshooter's try, then its hotter try, before the loop
/// stops: the same failure again, and no one to ask).
pub const NO_HELP_FIX: &str =
    "src/sum.js\n<<<<<<< SEARCH\n  return a - b;\n=======\n  return -(b - a);\n>>>>>>> REPLACE\n";
pub const NO_HELP_AGAIN: &str =
    "src/sum.js\n<<<<<<< SEARCH\n  return -(b - a);\n=======\n  return 0 - (b - a);\n>>>>>>> REPLACE\n";

/// What the model answers when asked for another version of src/sum.js from the spec: no code at all, so the
/// arbiter has nothing to weigh the failing test against and the fix loop goes on.
pub const NO_VERSION: &str = "I would need more detail to write src/sum.js.";

/// A simple request's whole transcript: the spec, then `code` (the code writer's reply), then three versions
/// of the module that are not code, then two fixes that do not help.
pub fn simple_run(code: &str) -> ScriptedLlm {
    let version = "Output the complete content of src/sum.js";
    ScriptedLlm::routed(vec![
        ("you are the spec writer", Reply::text(SPEC_SIMPLE)),
        // The whole task is drawn four times (`run.candidates`); alike, they land with nothing run.
        ("you are the code writer", Reply::text(code)),
        ("you are the code writer", Reply::text(code)),
        ("you are the code writer", Reply::text(code)),
        ("you are the code writer", Reply::text(code)),
        (version, Reply::text(NO_VERSION)),
        (version, Reply::text(NO_VERSION)),
        (version, Reply::text(NO_VERSION)),
        ("you are the troubleshooter", Reply::text(NO_HELP_FIX)),
        ("you are the troubleshooter", Reply::text(NO_HELP_AGAIN)),
    ])
}

async fn generate(client: &LspClient, description: &str) -> String {
    let result = client
        .request(
            "workspace/executeCommand",
            json!({"command": "samokoder.generate", "arguments": [{"description": description}]}),
        )
        .await
        .unwrap();
    result["runId"].as_str().expect("generate answers {runId}").to_owned()
}

fn progress_kinds(client: &LspClient, run_id: &str) -> Vec<String> {
    let token = format!("samokoder/{run_id}");
    client
        .messages()
        .iter()
        .filter(|m| m["method"] == "$/progress" && m["params"]["token"] == token)
        .map(|m| m["params"]["value"]["kind"].as_str().unwrap_or("").to_owned())
        .collect()
}

fn our_containers(root: &std::path::Path) -> String {
    let out = std::process::Command::new("docker")
        .args([
            "ps",
            "-a",
            "--filter",
            &format!("label=dev.samokoder.workspace={}", root.canonicalize().unwrap().display()),
            "--format",
            "{{.Names}}",
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[tokio::test]
async fn generate_applies_to_unsaved_buffers_and_tests_them_in_docker() {
    if !docker_available() {
        return;
    }
    let llm = simple_run(BUGGY_SUM);
    let s = Sandboxed::new();
    let client = s.spawn(s.options(Some(&llm)));
    client.initialize().await.unwrap();
    let run_id = generate(&client, "a sum function with a test").await;

    let test_uri = client.uri("test/sum.test.js");
    let diagnostics = client
        .wait_notification("textDocument/publishDiagnostics", Duration::from_secs(120), |p| {
            p["uri"] == test_uri && p["diagnostics"].as_array().is_some_and(|d| !d.is_empty())
        })
        .await
        .unwrap();
    let d = &diagnostics["diagnostics"][0];
    assert_eq!(d["range"]["start"]["line"], 5, "the failing assertion is on line 6: {d}");
    assert_eq!(d["range"]["start"]["character"], 2);
    assert_eq!(d["source"], "samokoder");
    assert!(d["message"].as_str().unwrap().contains("adds two numbers"), "{d}");

    client
        .wait_for(Duration::from_secs(60), "progress end", |m| {
            m["method"] == "$/progress"
                && m["params"]["token"] == format!("samokoder/{run_id}")
                && m["params"]["value"]["kind"] == "end"
        })
        .await
        .unwrap();
    // The files live in the client's buffers only: the container tested what the editor holds, and the
    // troubleshooter's fix (which does not help) landed there too, as an edit.
    assert!(client.buffer("src/sum.js").unwrap().contains("return 0 - (b - a);"));
    assert!(!s.root().join("src/sum.js").exists(), "the client never saved; nothing may be on disk");

    // The model was asked over HTTP: the spec writer, then the code writer with streaming requests (four
    // draws, alike), then
    // for three other versions of src/sum.js (only the run's own test fails; none is code, so nothing weighs
    // the test), then the troubleshooter twice (the same failure came back, a hotter try, the same again,
    // and no one to ask).
    let requests = llm.requests();
    assert_eq!(requests.len(), 10, "the spec, four draws of the code, three versions that are not code, two fixes");
    assert!(requests[0].prompt().contains("a sum function with a test"));
    assert_eq!(requests[1].body["stream"], true);
    // The spec and the plan were written into the client's buffers.
    assert!(client.buffer(".samokoder/spec.md").unwrap().contains("A sum function with a test."));
    assert!(client.buffer(".samokoder/plan.md").unwrap().contains("- [ ] a sum function with a test <!-- id:t1 -->"));

    let kinds = progress_kinds(&client, &run_id);
    assert_eq!(kinds.first().map(String::as_str), Some("begin"));
    assert_eq!(kinds.last().map(String::as_str), Some("end"));
    assert!(kinds.iter().filter(|k| *k == "report").count() >= 3, "{kinds:?}");
    assert!(client.messages().iter().any(|m| {
        m["method"] == "samokoder/log" && m["params"]["text"].as_str().unwrap_or("").contains("export function sum")
    }));

    let runs = client.request("samokoder/runs", json!({})).await.unwrap();
    assert_eq!(runs["runs"][0]["runId"], run_id.as_str());
    assert_eq!(runs["runs"][0]["status"], "tests_failed");

    let root = s.root().to_owned();
    assert_eq!(client.shutdown_and_exit().await.unwrap().code(), Some(0));
    assert_eq!(our_containers(&root), "", "shutdown must remove the sandbox container");
}

#[tokio::test]
async fn a_client_that_refuses_the_edit_gets_a_clear_message_and_nothing_is_written() {
    let llm = simple_run(BUGGY_SUM);
    let s = Sandboxed::new();
    let mut options = s.options(Some(&llm));
    options.apply = ApplyMode::Refuse;
    let client = s.spawn(options);
    client.initialize().await.unwrap();
    generate(&client, "a sum function").await;
    let message =
        client.wait_notification("window/showMessage", Duration::from_secs(30), |p| p["type"] == 1).await.unwrap();
    let text = message["message"].as_str().unwrap();
    assert!(
        text.contains("did not apply") && text.contains("the user declined") && text.contains("nothing was written"),
        "{text}"
    );
    assert!(client.buffer("src/sum.js").is_none());
    assert!(!s.root().join("src").exists());
    client.shutdown_and_exit().await.unwrap();
}

#[tokio::test]
async fn a_client_that_never_answers_apply_edit_cannot_wedge_the_server() {
    // The spec writer answers every run; each run then waits on its first applyEdit (spec.md).
    let llm = ScriptedLlm::repeating(Reply::text(SPEC_SIMPLE));
    let s = Sandboxed::new();
    let mut options = s.options(Some(&llm));
    options.apply = ApplyMode::Never;
    let client = s.spawn(options);
    client.initialize().await.unwrap();
    for i in 0..5 {
        generate(&client, &format!("project {i}")).await;
    }
    // All five runs now wait on an applyEdit the client will never answer...
    for _ in 0..50 {
        if client.messages().iter().filter(|m| m["method"] == "workspace/applyEdit").count() == 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(client.messages().iter().filter(|m| m["method"] == "workspace/applyEdit").count(), 5);
    // ...and requests are still answered at once.
    let status = client.request("samokoder/status", json!({})).await.unwrap();
    assert_eq!(status["runs"].as_array().unwrap().len(), 5, "{status}");
    let actions = client
        .request("textDocument/codeAction", json!({"textDocument": {"uri": client.uri("a.js")}, "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}}, "context": {"diagnostics": []}}))
        .await
        .unwrap();
    assert!(actions.as_array().is_some());
    let started = std::time::Instant::now();
    assert_eq!(client.shutdown_and_exit().await.unwrap().code(), Some(0));
    assert!(started.elapsed() < Duration::from_secs(15), "shutdown took {:?}", started.elapsed());
}

#[tokio::test]
async fn paths_outside_the_workspace_are_refused_and_nothing_is_written() {
    let outside = tempfile::tempdir().unwrap();
    let absolute = outside.path().join("abs.ts");
    let reply = format!(
        "src/ok.js\n```js\nexport const ok = 1;\n```\n\n../outside.ts\n```ts\nexport const evil = 1;\n```\n\n{}\n```ts\nevil\n```\n",
        absolute.display()
    );
    let llm = simple_run(&reply);
    let s = Sandboxed::new();
    let client = s.spawn(s.options(Some(&llm)));
    client.initialize().await.unwrap();
    generate(&client, "anything").await;
    let message =
        client.wait_notification("window/showMessage", Duration::from_secs(30), |p| p["type"] == 1).await.unwrap();
    let text = message["message"].as_str().unwrap();
    assert!(
        text.contains("../outside.ts") && text.contains("absolute") && text.contains("nothing was written"),
        "{text}"
    );
    let edits: Vec<String> = client
        .messages()
        .iter()
        .filter(|m: &&Value| m["method"] == "workspace/applyEdit")
        .map(|m| m["params"]["edit"].to_string())
        .collect();
    assert!(
        edits.iter().all(|e| !e.contains("ok.js") && !e.contains("outside") && !e.contains("abs.ts")),
        "no file of the refused reply may be sent: {edits:?}"
    );
    assert!(!s.root().parent().unwrap().join("outside.ts").exists());
    assert!(!absolute.exists());
    assert!(!s.root().join("src").exists());
    client.shutdown_and_exit().await.unwrap();
}

#[tokio::test]
async fn a_missing_provider_says_how_to_configure_one() {
    let s = Sandboxed::new();
    let client = s.spawn(s.options(None));
    client.initialize().await.unwrap();
    generate(&client, "anything").await;
    let message =
        client.wait_notification("window/showMessage", Duration::from_secs(30), |p| p["type"] == 1).await.unwrap();
    let text = message["message"].as_str().unwrap();
    assert!(text.contains("OPENAI_API_KEY") && text.contains("OPENAI_BASE_URL"), "{text}");
    client.shutdown_and_exit().await.unwrap();
}

#[tokio::test]
async fn cancel_stops_a_run_and_records_it() {
    let llm = ScriptedLlm::start(vec![Reply::Delayed(Duration::from_secs(60), Box::new(Reply::text(SPEC_SIMPLE)))]);
    let s = Sandboxed::new();
    let client = s.spawn(s.options(Some(&llm)));
    client.initialize().await.unwrap();
    let run_id = generate(&client, "a slow project").await;
    // Wait until the run is talking to the model.
    for _ in 0..100 {
        if !llm.requests().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let answer = client
        .request("workspace/executeCommand", json!({"command": "samokoder.cancel", "arguments": [{"runId": run_id}]}))
        .await
        .unwrap();
    assert_eq!(answer["cancelled"], true);
    client
        .wait_for(Duration::from_secs(10), "progress end", |m| {
            m["method"] == "$/progress"
                && m["params"]["value"]["kind"] == "end"
                && m["params"]["value"]["message"] == "cancelled"
        })
        .await
        .unwrap();
    let runs = client.request("samokoder/runs", json!({})).await.unwrap();
    assert_eq!(runs["runs"][0]["status"], "cancelled", "{runs}");
    let again = client
        .request("workspace/executeCommand", json!({"command": "samokoder.cancel", "arguments": [{"runId": run_id}]}))
        .await
        .unwrap();
    assert_eq!(again["cancelled"], false, "a finished run cannot be cancelled twice");
    assert!(client.buffer("src/sum.js").is_none());
    client.shutdown_and_exit().await.unwrap();
}

#[tokio::test]
async fn cancelling_the_progress_of_a_run_mid_test_kills_the_command_in_the_container() {
    if !samokoder_test_utils::docker_available() {
        return;
    }
    let s = Sandboxed::new();
    std::fs::create_dir_all(s.root().join(".samokoder")).unwrap();
    std::fs::write(s.root().join(".samokoder/config.toml"), "[sandbox]\ntest_command = \"node -e 'for (;;) {}'\"\n")
        .unwrap();
    let client = s.spawn(s.options(None));
    client.initialize().await.unwrap();
    let run = client
        .request("workspace/executeCommand", json!({"command": "samokoder.runTests", "arguments": []}))
        .await
        .unwrap();
    let token = format!("samokoder/{}", run["runId"].as_str().unwrap());
    let root = s.root().canonicalize().unwrap();
    let spinners = || samokoder_test_utils::sandbox_processes(&root, "for (;;)");
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while spinners() == 0 {
        assert!(std::time::Instant::now() < deadline, "the test command never started: {:?}", client.messages());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    client.notify("window/workDoneProgress/cancel", json!({"token": token})).await.unwrap();
    client
        .wait_for(Duration::from_secs(30), "the cancelled run's end", |m| {
            m["method"] == "$/progress"
                && m["params"]["token"] == token
                && m["params"]["value"]["kind"] == "end"
                && m["params"]["value"]["message"] == "cancelled"
        })
        .await
        .unwrap();
    // Gone from the container (the bench measures how fast: docs/benchmarks.md).
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while spinners() > 0 {
        assert!(std::time::Instant::now() < deadline, "the test command outlived its cancelled run");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    client.shutdown_and_exit().await.unwrap();
}
