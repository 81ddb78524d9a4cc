//! The code actions a user picks from, and the commands behind them, over stdio against the real binary:
//! what is offered where, and what a command says when it cannot act.

use serde_json::{Value, json};

use crate::support::{Sandboxed, run_end};

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

#[tokio::test]
async fn write_spec_for_this_workspace_describes_the_code_it_has() {
    let spec = r#"{"complexity": "simple", "summary": "A sum(a, b) function in src/sum.js.", "features": ["sum(a, b) returns a plus b"], "assumptions": [], "questions": []}"#;
    let llm = samokoder_test_utils::ScriptedLlm::routed(vec![(
        "you are the spec writer",
        samokoder_test_utils::Reply::text(spec),
    )]);
    let s = Sandboxed::new();
    std::fs::create_dir_all(s.root().join("src")).unwrap();
    std::fs::write(s.root().join("src/sum.js"), "export function sum(a, b) {\n  return a + b;\n}\n").unwrap();
    let client = s.spawn(s.options(Some(&llm)));
    client.initialize().await.unwrap();
    client.did_open("src/sum.js", "javascript", "export function sum(a, b) {\n  return a + b;\n}\n").await.unwrap();
    assert!(titles(&client, "src/sum.js").await.contains(&"Samokoder: write spec for this workspace".to_owned()));
    client
        .request("workspace/executeCommand", json!({"command": "samokoder.writeSpec", "arguments": [{}]}))
        .await
        .unwrap();
    let end = run_end(&client, 30).await;
    assert_eq!(end["params"]["value"]["message"], "wrote .samokoder/spec.md", "{:?}", client.messages());
    // The spec writer was asked for the project as it is, and saw its code in the map.
    let asked = llm.requests()[0].last_user_message();
    assert!(asked.contains("The project in this workspace, as it is") && asked.contains("sum(a, b)"), "{asked}");
    client.shutdown_and_exit().await.unwrap();
}

#[tokio::test]
async fn a_question_the_editor_never_answers_goes_to_questions_md_after_the_timeout() {
    let spec = r#"{"complexity": "moderate", "summary": "A todo store.", "features": ["add and list todos"], "assumptions": [], "questions": [{"question": "Where are todos kept?", "suggestions": ["in memory", "in a JSON file"]}]}"#;
    let llm = samokoder_test_utils::ScriptedLlm::routed(vec![(
        "you are the spec writer",
        samokoder_test_utils::Reply::text(spec),
    )]);
    let s = Sandboxed::new();
    let mut options = s.options(Some(&llm));
    // The client announces samokoder/ask and then never answers it (a user who walked away).
    options.never_answers = vec!["samokoder/ask".into()];
    options.initialization_options = json!({"samokoder": {"editor": {"askTimeoutSecs": 1}}});
    let client = s.spawn(options);
    client.initialize().await.unwrap();
    client
        .request(
            "workspace/executeCommand",
            json!({"command": "samokoder.writeSpec", "arguments": [{"description": "a todo list"}]}),
        )
        .await
        .unwrap();
    let end = run_end(&client, 30).await;
    let message = end["params"]["value"]["message"].as_str().unwrap_or_default().to_owned();
    assert!(message.contains("1 question(s) wait in .samokoder/questions.md"), "{message}");
    assert!(client.messages().iter().any(|m| m["method"] == "samokoder/ask"), "it was asked first");
    let told = client.messages().iter().any(|m| {
        m["method"] == "window/showMessage"
            && m["params"]["message"]
                .as_str()
                .is_some_and(|t| t.contains("samokoder/ask had no answer (no answer within 1 s)"))
    });
    assert!(told, "{:?}", client.messages());
    let file = client
        .buffer(".samokoder/questions.md")
        .or_else(|| std::fs::read_to_string(s.root().join(".samokoder/questions.md")).ok())
        .unwrap();
    assert!(file.contains("## 1. Where are todos kept?"), "{file}");
    client.shutdown_and_exit().await.unwrap();
}

#[tokio::test]
async fn a_client_that_refuses_the_progress_token_still_gets_the_log_and_the_end() {
    let spec = r#"{"complexity": "simple", "summary": "A sum function.", "features": ["sum(a, b)"], "assumptions": [], "questions": []}"#;
    let llm = samokoder_test_utils::ScriptedLlm::routed(vec![(
        "you are the spec writer",
        samokoder_test_utils::Reply::text(spec),
    )]);
    let s = Sandboxed::new();
    let mut options = s.options(Some(&llm));
    options.refuses = vec!["window/workDoneProgress/create".into()];
    let client = s.spawn(options);
    client.initialize().await.unwrap();
    let run = client
        .request("workspace/executeCommand", json!({"command": "samokoder.writeSpec", "arguments": ["a sum function"]}))
        .await
        .unwrap();
    let id = run["runId"].as_str().unwrap().to_owned();
    let end = client
        .wait_for(std::time::Duration::from_secs(30), "the run's final message", |m| {
            m["method"] == "window/showMessage"
                && m["params"]["message"].as_str().is_some_and(|t| t.contains("wrote .samokoder/spec.md"))
        })
        .await;
    assert!(end.is_ok(), "{:?}", client.messages());
    let messages = client.messages();
    assert!(messages.iter().any(|m| m["method"] == "window/workDoneProgress/create"), "the token was asked for");
    assert!(!messages.iter().any(|m| m["method"] == "$/progress"), "no progress on a refused token");
    assert!(messages.iter().any(|m| m["method"] == "samokoder/log" && m["params"]["runId"] == id.as_str()));
    client.shutdown_and_exit().await.unwrap();
}
