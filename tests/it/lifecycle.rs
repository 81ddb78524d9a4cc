//! Handshake, capabilities, shutdown and exit, malformed input.

use std::time::Duration;

use serde_json::{Value, json};

use samokoder_test_utils::{Reply, ScriptedLlm};

use crate::support::Sandboxed;

#[tokio::test]
async fn handshake_advertises_what_works() {
    let s = Sandboxed::new();
    let client = s.spawn(s.options(None));
    let result = client.initialize().await.unwrap();
    let caps = &result["capabilities"];
    assert_eq!(caps["textDocumentSync"]["change"], 2, "incremental sync");
    assert_eq!(caps["positionEncoding"], "utf-16", "no encoding offered: the protocol's default");
    let commands: Vec<&str> =
        caps["executeCommandProvider"]["commands"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
    assert_eq!(
        commands,
        [
            "samokoder.generate",
            "samokoder.writeSpec",
            "samokoder.runTests",
            "samokoder.cancel",
            "samokoder.resume",
            "samokoder.undo",
            "samokoder.implement",
            "samokoder.fix",
            "samokoder.generateTests",
            "samokoder.submitAnswers",
            "samokoder.acceptPending",
            "samokoder.rejectPending",
            "samokoder.run",
            "samokoder.stop"
        ]
    );
    assert_eq!(caps["executeCommandProvider"]["workDoneProgress"], true);
    assert!(caps["codeActionProvider"]["codeActionKinds"].as_array().is_some_and(|k| !k.is_empty()));
    assert_eq!(result["serverInfo"]["name"], "samokoder");

    // Every announced command works: an unknown one is an error that lists the real ones.
    let err = client
        .request("workspace/executeCommand", json!({"command": "samokoder.nope", "arguments": []}))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown command") && err.contains("samokoder.generate"), "{err}");
    assert!(client.stdout_violations().is_empty(), "non-JSON-RPC bytes on stdout: {:?}", client.stdout_violations());
    let status = client.shutdown_and_exit().await.unwrap();
    assert_eq!(status.code(), Some(0));
}

#[tokio::test]
async fn utf8_is_chosen_when_offered() {
    let s = Sandboxed::new();
    let mut options = s.options(None);
    options.position_encodings = vec!["utf-16".into(), "utf-8".into()];
    let client = s.spawn(options);
    assert_eq!(client.initialize().await.unwrap()["capabilities"]["positionEncoding"], "utf-8");
    client.shutdown_and_exit().await.unwrap();
}

#[tokio::test]
async fn exit_without_shutdown_exits_with_1() {
    let s = Sandboxed::new();
    let mut client = s.spawn(s.options(None));
    client.initialize().await.unwrap();
    client.notify("exit", Value::Null).await.unwrap();
    assert_eq!(client.wait_exit().await.unwrap().code(), Some(1));
}

#[tokio::test]
async fn a_closed_stdin_ends_the_server_with_1() {
    let s = Sandboxed::new();
    let mut client = s.spawn(s.options(None));
    client.initialize().await.unwrap();
    client.close_stdin().await.unwrap();
    assert_eq!(client.wait_exit().await.unwrap().code(), Some(1));
}

#[tokio::test]
async fn malformed_messages_get_an_error_and_the_server_lives_on() {
    let s = Sandboxed::new();
    let client = s.spawn(s.options(None));
    client.initialize().await.unwrap();
    client.send_raw(b"Content-Length: 9\r\n\r\n{not json").await.unwrap();
    let parse_error =
        client.wait_for(Duration::from_secs(5), "a parse error", |m| m["error"]["code"] == -32700).await.unwrap();
    assert_eq!(parse_error["id"], Value::Null);
    client.send_raw(b"Content-Length: 17\r\n\r\n{\"id\": 7, \"x\": 1}").await.unwrap();
    let invalid = client
        .wait_for(Duration::from_secs(5), "an invalid request error", |m| m["error"]["code"] == -32600)
        .await
        .unwrap();
    assert_eq!(invalid["id"], 7);
    assert!(invalid["error"]["message"].as_str().unwrap().contains("jsonrpc"), "{invalid}");
    client.send_raw(b"Garbage-Without-Colon\r\n\r\n").await.unwrap();
    // A request with the wrong params for its method.
    let bad = client.request_raw("workspace/executeCommand", json!({"command": 5})).await.unwrap();
    assert!(bad.get("error").is_some(), "{bad}");
    let bad_args = client
        .request("workspace/executeCommand", json!({"command": "samokoder.generate", "arguments": [{"what": 1}]}))
        .await
        .unwrap_err();
    assert!(bad_args.to_string().contains("description"), "{bad_args}");
    // Still serving.
    let status = client.request("samokoder/status", json!({})).await.unwrap();
    assert_eq!(status["runs"], json!([]));
    assert_eq!(client.shutdown_and_exit().await.unwrap().code(), Some(0));
}

#[tokio::test]
async fn templates_are_listed_for_an_editors_picker_with_their_options() {
    let s = Sandboxed::new();
    let client = s.spawn(s.options(None));
    let init = client.initialize().await.unwrap();
    assert_eq!(init["capabilities"]["experimental"]["samokoderTemplates"], true, "{init}");
    let listed = client.request("samokoder/templates", json!({})).await.unwrap();
    let names: Vec<&str> = listed["templates"].as_array().unwrap().iter().filter_map(|t| t["name"].as_str()).collect();
    let known: Vec<&str> = samokoder_prompts::template_names().collect();
    assert_eq!(names, known);
    let api = listed["templates"].as_array().unwrap().iter().find(|t| t["name"] == "react-express").unwrap();
    assert!(!api["description"].as_str().unwrap().is_empty(), "{api}");
    let database = &api["options"]["database"];
    assert!(database["values"].as_array().unwrap().contains(&database["default"]), "{api}");
    assert_eq!(client.shutdown_and_exit().await.unwrap().code(), Some(0));
}

#[tokio::test]
async fn logs_go_to_the_log_file_and_never_to_stdout() {
    let s = Sandboxed::new();
    let log = s.home.path().join("server.log");
    let mut options = s.options(None);
    options.env.push(("SAMOKODER_LOG_FILE".into(), log.display().to_string()));
    let client = s.spawn(options);
    client.initialize().await.unwrap();
    client.shutdown_and_exit().await.unwrap();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("initialize"), "the debug log was not written: {text:?}");
}

/// Issue: one bad frame used to cost the whole session (every later message got -32700), and an announced
/// terabyte made the server wait forever.
#[tokio::test]
async fn after_a_broken_frame_the_next_message_is_read() {
    let s = Sandboxed::new();
    let client = s.spawn(s.options(None));
    client.initialize().await.unwrap();
    let status = |id: i64| format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"samokoder/status","params":{{}}}}"#);
    let answered = |id: i64| move |m: &Value| m["id"] == id && m.get("result").is_some();
    let wait = Duration::from_secs(5);

    // A Content-Length that is not a number, then a good frame.
    let (bad, good) = (status(100), status(101));
    client
        .send_raw(format!("Content-Length: abc\r\n\r\n{bad}Content-Length: {}\r\n\r\n{good}", good.len()).as_bytes())
        .await
        .unwrap();
    let error = client.wait_for(wait, "the bad length's error", |m| m["error"]["code"] == -32700).await.unwrap();
    assert!(error["error"]["message"].as_str().unwrap().contains("Content-Length: abc"), "{error}");
    client.wait_for(wait, "the frame after a bad length", answered(101)).await.unwrap();

    // A body without any header, then a good frame.
    let good = status(102);
    client.send_raw(format!("{}Content-Length: {}\r\n\r\n{good}", status(99), good.len()).as_bytes()).await.unwrap();
    client.wait_for(wait, "the frame after a headerless body", answered(102)).await.unwrap();

    // A frame announcing 10^12 bytes is refused at once, and the next frame is read.
    client.send_raw(b"Content-Length: 1000000000000\r\n\r\n{\"jsonrpc\":\"2.0\"}").await.unwrap();
    let refused = client
        .wait_for(wait, "the oversized frame's error", |m| {
            m["error"]["message"].as_str().is_some_and(|t| t.contains("1000000000000 bytes is over"))
        })
        .await
        .unwrap();
    assert_eq!(refused["error"]["code"], -32700);
    let good = status(103);
    client.send_raw(format!("Content-Length: {}\r\n\r\n{good}", good.len()).as_bytes()).await.unwrap();
    client.wait_for(wait, "the frame after an oversized one", answered(103)).await.unwrap();

    // A header split across writes, a lower-case header, and a Content-Type header are all fine.
    let good = status(104);
    let whole = format!("Content-Length: {}\r\n\r\n{good}", good.len());
    for piece in [&whole[..7], &whole[7..20], &whole[20..]] {
        client.send_raw(piece.as_bytes()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    client.wait_for(wait, "a frame split across writes", answered(104)).await.unwrap();
    let good = status(105);
    client
        .send_raw(
            format!(
                "content-length: {}\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n{good}",
                good.len()
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    client.wait_for(wait, "a lower-case header with Content-Type", answered(105)).await.unwrap();

    let errors = client.messages().iter().filter(|m| m["error"]["code"] == -32700).count();
    assert_eq!(errors, 3, "one error per broken frame: {:?}", client.messages());
    assert!(client.stdout_violations().is_empty(), "{:?}", client.stdout_violations());
    assert_eq!(client.shutdown_and_exit().await.unwrap().code(), Some(0));
}

/// Issue: eglot answered workspace/applyEdit after the server had given up on it, and tower-lsp panicked
/// ("receiver already dropped"), killing the server. Here every request of the server's is answered 12 s
/// late: after its 5 s wait for a progress token, after its 10 s wait for the settings, and after the run
/// waiting on applyEdit was cancelled.
#[tokio::test]
async fn answers_that_come_after_the_server_stopped_waiting_do_not_kill_it() {
    let llm = ScriptedLlm::start(vec![Reply::text(crate::run::SPEC_SIMPLE)]);
    let s = Sandboxed::new();
    let mut options = s.options(Some(&llm));
    let late = Duration::from_secs(12);
    options.answer_delay = Some(late);
    let client = s.spawn(options);
    client.initialize().await.unwrap();
    let run = client
        .request(
            "workspace/executeCommand",
            json!({"command": "samokoder.generate", "arguments": [{"description": "a sum function"}]}),
        )
        .await
        .unwrap();
    client
        .wait_for(Duration::from_secs(30), "workspace/applyEdit", |m| m["method"] == "workspace/applyEdit")
        .await
        .unwrap();
    let cancelled = client
        .request(
            "workspace/executeCommand",
            json!({"command": "samokoder.cancel", "arguments": [{"runId": run["runId"]}]}),
        )
        .await
        .unwrap();
    assert_eq!(cancelled["cancelled"], true);
    // Every late answer has arrived once the applyEdit's has (it was sent last) and a little more.
    tokio::time::sleep(late + Duration::from_secs(2)).await;
    let status = client.request("samokoder/status", json!({})).await.expect("the server is alive");
    assert!(status["runs"].as_array().is_some(), "{status}");
    let log = client.server_log();
    assert!(!log.contains("panicked"), "the server panicked: {log}");
    assert!(log.contains("answered after the server stopped waiting"), "the late answers were seen: {log}");
    assert_eq!(client.shutdown_and_exit().await.unwrap().code(), Some(0));
}

/// One process holds a workspace's run store: a second server on the same workspace says so (and keeps
/// its runs in memory), and the first one's store is untouched.
#[tokio::test]
async fn a_second_server_on_the_workspace_is_told_the_store_is_in_use() {
    let s = Sandboxed::new();
    let first = s.spawn(s.options(None));
    first.initialize().await.unwrap();
    let second = s.spawn(s.options(None));
    second.initialize().await.unwrap();
    let warning = second
        .wait_notification("window/showMessage", Duration::from_secs(15), |p| {
            p["message"].as_str().is_some_and(|t| t.contains("in use by another samokoder"))
        })
        .await
        .unwrap();
    assert_eq!(warning["type"], 2, "a warning: {warning}");
    assert_eq!(second.request("samokoder/runs", json!({})).await.unwrap()["runs"], json!([]));
    assert_eq!(second.shutdown_and_exit().await.unwrap().code(), Some(0));
    assert_eq!(first.request("samokoder/runs", json!({})).await.unwrap()["runs"], json!([]));
    assert_eq!(first.shutdown_and_exit().await.unwrap().code(), Some(0));
}
