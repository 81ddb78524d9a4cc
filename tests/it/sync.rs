//! Incremental document sync with multi-byte text under both encodings, and out-of-order changes.

use serde_json::json;

use crate::support::Sandboxed;

async fn server_text(client: &samokoder_test_utils::LspClient, rel: &str) -> String {
    let view = client.request("samokoder/viewFileText", json!({"uri": client.uri(rel)})).await.unwrap();
    view["text"].as_str().unwrap().to_owned()
}

/// The same edits, expressed in each encoding's units, give the same text.
#[tokio::test]
async fn multibyte_incremental_sync_in_utf8_and_utf16() {
    // line 0: "é日😀x" ; replacing "x" (after é=1/2, 日=1/3, 😀=2/4 units/bytes) and inserting on line 1.
    for (encodings, x_at, line1_at) in [(vec![], 4, 3), (vec!["utf-8".to_owned()], 9, 6)] {
        let s = Sandboxed::new();
        let mut options = s.options(None);
        options.position_encodings = encodings;
        let client = s.spawn(options);
        client.initialize().await.unwrap();
        client.did_open("a.ts", "typescript", "é日😀x\nñ😀z\n").await.unwrap();
        client.did_change("a.ts", 2, [0, x_at, 0, x_at + 1], "Y").await.unwrap();
        client.did_change("a.ts", 3, [1, line1_at, 1, line1_at], "中").await.unwrap();
        assert_eq!(server_text(&client, "a.ts").await, "é日😀Y\nñ😀中z\n", "encoding {}", client.encoding());
        client.shutdown_and_exit().await.unwrap();
    }
}

#[tokio::test]
async fn an_out_of_order_change_is_held_until_its_predecessor_arrives() {
    let s = Sandboxed::new();
    let client = s.spawn(s.options(None));
    client.initialize().await.unwrap();
    client.did_open("a.js", "javascript", "abc\n").await.unwrap();
    // Version 3 was written against version 2's text "Xabc"; it arrives first.
    client.did_change("a.js", 3, [0, 1, 0, 2], "Y").await.unwrap();
    client.did_change("a.js", 2, [0, 0, 0, 0], "X").await.unwrap();
    assert_eq!(server_text(&client, "a.js").await, "XYbc\n");
    let view = client.request("samokoder/viewFileText", json!({"uri": client.uri("a.js")})).await.unwrap();
    assert_eq!(view["version"], 3);

    // A change older than the text is refused, and the user is told.
    client.did_change("a.js", 2, [0, 0, 0, 0], "Z").await.unwrap();
    client
        .wait_notification("window/showMessage", std::time::Duration::from_secs(5), |p| {
            p["message"].as_str().unwrap_or("").contains("refused")
        })
        .await
        .unwrap();
    assert_eq!(server_text(&client, "a.js").await, "XYbc\n");
    client.shutdown_and_exit().await.unwrap();
}

#[tokio::test]
async fn a_skipped_version_is_applied_when_the_next_request_arrives() {
    // Neovim numbers versions by changedtick, which skips.
    let s = Sandboxed::new();
    let client = s.spawn(s.options(None));
    client.initialize().await.unwrap();
    client.did_open("a.js", "javascript", "abc\n").await.unwrap();
    client.did_change("a.js", 5, [0, 3, 0, 3], "d").await.unwrap();
    assert_eq!(server_text(&client, "a.js").await, "abcd\n");
    client.shutdown_and_exit().await.unwrap();
}
