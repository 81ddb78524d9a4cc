//! Handshake, capabilities, shutdown and exit, malformed input.

use std::time::Duration;

use serde_json::{Value, json};

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
    assert_eq!(commands, ["samokoder.generate", "samokoder.runTests", "samokoder.cancel"]);
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
