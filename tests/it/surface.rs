//! The code actions a user picks from, and the commands behind them, over stdio against the real binary:
//! what is offered where, and what a command says when it cannot act.

use serde_json::{Value, json};

use crate::support::Sandboxed;

async fn titles(client: &samokoder_test_utils::LspClient, rel: &str) -> Vec<String> {
    let range = json!({"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}});
    let params = json!({"textDocument": {"uri": client.uri(rel)}, "range": range, "context": {"diagnostics": []}});
    let actions = client.request("textDocument/codeAction", params).await.unwrap();
    actions.as_array().unwrap().iter().filter_map(|a| a["title"].as_str().map(str::to_owned)).collect()
}

#[tokio::test]
async fn questions_md_offers_submit_answers_and_a_file_without_a_waiting_run_is_refused_with_the_reason() {
    let s = Sandboxed::new();
    let client = s.spawn(s.options(None));
    client.initialize().await.unwrap();
    let questions = "# Questions from Samokoder\n\nRun 0000000000001-0000 waits for your answers.\n\n## 1. Which database?\n\nAnswer: SQLite\n";
    client.did_open(".samokoder/questions.md", "markdown", questions).await.unwrap();
    client.did_open("src/app.js", "javascript", "export const a = 1;\n").await.unwrap();

    let on_questions = titles(&client, ".samokoder/questions.md").await;
    assert!(on_questions.contains(&"Samokoder: submit answers".to_owned()), "{on_questions:?}");
    let on_code = titles(&client, "src/app.js").await;
    assert!(!on_code.contains(&"Samokoder: submit answers".to_owned()), "{on_code:?}");
    assert!(on_code.contains(&"Samokoder: run tests".to_owned()), "{on_code:?}");
    // No run yet: nothing to resume or undo.
    assert!(
        !on_code.iter().any(|t| t.starts_with("Samokoder: resume") || t.starts_with("Samokoder: undo")),
        "{on_code:?}"
    );

    let submit = |arguments: Value| {
        client.request(
            "workspace/executeCommand",
            json!({"command": "samokoder.submitAnswers", "arguments": [arguments]}),
        )
    };
    let err = submit(json!({"uri": client.uri(".samokoder/questions.md")})).await.unwrap_err().to_string();
    assert!(err.contains("there is no run 0000000000001-0000"), "{err}");
    let err = submit(json!({})).await.unwrap_err().to_string();
    assert!(err.contains("samokoder.submitAnswers takes {\\\"uri\\\""), "{err}");
    let err = submit(json!({"uri": client.uri("src/app.js")})).await.unwrap_err().to_string();
    assert!(err.contains("is not a questions.md"), "{err}");
    client.shutdown_and_exit().await.unwrap();
}
