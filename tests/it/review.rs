//! Preview before apply in a client without `changeAnnotationSupport` (our harness announces none, like
//! Neovim and eglot): a fix that touches the user's own test file waits in `.samokoder/pending.diff` until the
//! user picks "Samokoder: accept pending changes" on it; then it lands, and the file is gone.

use std::time::Duration;

use samokoder_test_utils::{Reply, ScriptedLlm, docker_available};
use serde_json::json;

use crate::support::{Sandboxed, failing_sum_project, run_end};

/// Waits (at most 2 minutes) until the run has written `path`.
async fn wait_for_file(client: &samokoder_test_utils::LspClient, path: &std::path::Path) {
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while !path.exists() {
        assert!(std::time::Instant::now() < deadline, "no {}; log: {:?}", path.display(), client.messages());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_change_to_the_users_test_waits_in_pending_diff_until_accepted() {
    if !docker_available() {
        return;
    }
    let llm = ScriptedLlm::routed(vec![(
        "you are the troubleshooter",
        Reply::text(
            "The sign is wrong.\n\nsrc/sum.js\n<<<<<<< SEARCH\n  return a - b;\n=======\n  return a + b;\n>>>>>>> REPLACE\n\n\
             test/sum.test.js\n<<<<<<< SEARCH\n  assert.equal(sum(1, 2), 3);\n=======\n  assert.equal(sum(1, 2), 3);\n  assert.equal(sum(2, 2), 4);\n>>>>>>> REPLACE\n",
        ),
    )]);
    let s = Sandboxed::new();
    failing_sum_project(&s);
    let client = s.spawn(s.options(Some(&llm)));
    client.initialize().await.unwrap();

    // Nothing waits yet: accepting says so.
    let accept = json!({"command": "samokoder.acceptPending", "arguments": [{}]});
    let err = client.request("workspace/executeCommand", accept.clone()).await.unwrap_err().to_string();
    assert!(err.contains("no change is waiting for review"), "{err}");

    client.request("workspace/executeCommand", json!({"command": "samokoder.fix", "arguments": []})).await.unwrap();
    let pending = s.root().join(".samokoder/pending.diff");
    wait_for_file(&client, &pending).await;
    let diff = std::fs::read_to_string(&pending).unwrap();
    assert!(
        diff.contains("--- a/src/sum.js\n+++ b/src/sum.js") && diff.contains("-  return a - b;\n+  return a + b;"),
        "{diff}"
    );
    assert!(diff.contains("+  assert.equal(sum(2, 2), 4);"), "{diff}");
    // Nothing landed while the user reads.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(client.buffer("src/sum.js").is_none_or(|b| b.contains("a - b")));

    let range = json!({"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}});
    let params = json!({"textDocument": {"uri": client.uri(".samokoder/pending.diff")}, "range": range, "context": {"diagnostics": []}});
    let actions = client.request("textDocument/codeAction", params).await.unwrap();
    let titles: Vec<&str> = actions.as_array().unwrap().iter().filter_map(|a| a["title"].as_str()).collect();
    assert!(
        titles.contains(&"Samokoder: accept pending changes") && titles.contains(&"Samokoder: reject pending changes"),
        "{titles:?}"
    );
    let accepted = client.request("workspace/executeCommand", accept).await.unwrap();
    assert_eq!(accepted["accepted"], true);

    let end = run_end(&client, 120).await;
    assert_eq!(end["params"]["value"]["message"], "fixed in 1 iteration(s); tests pass (1 passed)", "{end}");
    assert!(client.buffer("test/sum.test.js").unwrap().contains("assert.equal(sum(2, 2), 4);"));
    assert!(client.buffer("src/sum.js").unwrap().contains("return a + b;"));
    assert!(!pending.exists(), "pending.diff is gone once decided");
    client.shutdown_and_exit().await.unwrap();
}

#[tokio::test]
async fn with_review_on_every_change_to_the_project_waits_and_a_rejected_one_never_lands() {
    if !docker_available() {
        return;
    }
    let fix = "The sign is wrong.\n\nsrc/sum.js\n<<<<<<< SEARCH\n  return a - b;\n=======\n  return a + b;\n>>>>>>> REPLACE\n";
    let llm = ScriptedLlm::routed(vec![("you are the troubleshooter", Reply::text(fix))]);
    let s = Sandboxed::new();
    failing_sum_project(&s);
    let mut options = s.options(Some(&llm));
    options.initialization_options = json!({"samokoder": {"editor": {"review": true}}});
    let client = s.spawn(options);
    client.initialize().await.unwrap();
    client.request("workspace/executeCommand", json!({"command": "samokoder.fix", "arguments": []})).await.unwrap();
    // A change to the code alone (no test touched) waits for review too.
    let pending = s.root().join(".samokoder/pending.diff");
    wait_for_file(&client, &pending).await;
    assert!(std::fs::read_to_string(&pending).unwrap().contains("+  return a + b;"));
    let reject = json!({"command": "samokoder.rejectPending", "arguments": [{}]});
    assert_eq!(client.request("workspace/executeCommand", reject).await.unwrap()["accepted"], false);
    let end = run_end(&client, 120).await;
    let message = end["params"]["value"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("you rejected the changes in .samokoder/pending.diff"), "{message}");
    assert!(std::fs::read_to_string(s.root().join("src/sum.js")).unwrap().contains("a - b"), "nothing landed");
    assert!(client.buffer("src/sum.js").is_none_or(|b| b.contains("a - b")));
    client.shutdown_and_exit().await.unwrap();
}
