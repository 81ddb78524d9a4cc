//! documentSymbol and workspace/symbol through the real server, from the background index.

use std::time::Duration;

use samokoder_test_utils::{LspClient, write_fixture};
use serde_json::{Value, json};

use crate::support::Sandboxed;

/// Asks until the answer satisfies `pred`: the index catches up in the background. The limit only keeps a
/// broken server from hanging the suite (a debug build parsing a 1 MB bundle on a loaded machine is slow).
async fn eventually(client: &LspClient, method: &str, params: Value, pred: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..1200 {
        let answer = client.request(method, params.clone()).await.unwrap();
        if pred(&answer) {
            return answer;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{method} never satisfied the test; last answer: {}", client.request(method, params).await.unwrap());
}

#[tokio::test]
async fn symbols_come_from_the_index_with_positions_in_the_clients_encoding() {
    let s = Sandboxed::new();
    write_fixture(
        s.root(),
        "//- /src/shapes.ts\nexport class Círculo {\n  área(): number { return 1; }\n}\nexport function 😀make(): Círculo { return new Círculo(); }\n//- /node_modules/dep/index.js\nexport function ignored() {}\n",
    );
    let client = s.spawn(s.options(None));
    let caps = client.initialize().await.unwrap();
    assert_eq!(caps["capabilities"]["documentSymbolProvider"], true);
    assert_eq!(caps["capabilities"]["workspaceSymbolProvider"], true);

    let uri = client.uri("src/shapes.ts");
    let symbols = eventually(&client, "textDocument/documentSymbol", json!({"textDocument": {"uri": uri}}), |a| {
        a.as_array().is_some_and(|s| s.len() == 2)
    })
    .await;
    let class = &symbols[0];
    assert_eq!(class["name"], "Círculo");
    assert_eq!(class["kind"], 5, "class");
    assert_eq!(class["children"][0]["name"], "área");
    assert_eq!(class["children"][0]["selectionRange"]["start"], json!({"line": 1, "character": 2}));
    // "export function 😀make": the emoji is two UTF-16 units before the name ends.
    assert_eq!(symbols[1]["name"], "😀make");
    assert_eq!(symbols[1]["selectionRange"]["end"], json!({"line": 3, "character": 22}));

    let found = eventually(&client, "workspace/symbol", json!({"query": "make"}), |a| {
        a.as_array().is_some_and(|s| !s.is_empty())
    })
    .await;
    assert_eq!(found[0]["location"]["uri"], uri);
    let ignored = client.request("workspace/symbol", json!({"query": "ignored"})).await.unwrap();
    assert_eq!(ignored, json!([]), "node_modules is not indexed");

    // An edit in the editor (not saved) reaches the index.
    client
        .did_open("src/shapes.ts", "typescript", &std::fs::read_to_string(s.root().join("src/shapes.ts")).unwrap())
        .await
        .unwrap();
    client.did_change("src/shapes.ts", 2, [3, 16, 3, 22], "build").await.unwrap();
    let renamed = eventually(&client, "workspace/symbol", json!({"query": "build"}), |a| {
        a.as_array().is_some_and(|s| !s.is_empty())
    })
    .await;
    assert_eq!(renamed[0]["name"], "build");
    assert_eq!(client.request("workspace/symbol", json!({"query": "make"})).await.unwrap(), json!([]));
    client.shutdown_and_exit().await.unwrap();
}

/// A bundle's edits reach the index too: its reparse waits for the indexer to be idle, then runs.
#[tokio::test]
async fn an_edit_in_a_bundle_reaches_the_index_when_the_indexer_is_idle() {
    let s = Sandboxed::new();
    let mut bundle = String::from("var ns;\n(function (ns) {\n");
    let mut i = 0;
    while bundle.len() <= 1024 * 1024 + 1 {
        bundle.push_str(&format!("    function helper{i}(a) {{ return a * {i}; }}\n    ns.helper{i} = helper{i};\n"));
        i += 1;
    }
    bundle.push_str("})(ns || (ns = {}));\n");
    std::fs::create_dir_all(s.root().join("lib")).unwrap();
    std::fs::write(s.root().join("lib/bundle.js"), &bundle).unwrap();
    let client = s.spawn(s.options(None));
    client.initialize().await.unwrap();
    eventually(&client, "workspace/symbol", json!({"query": "helper7"}), |a| {
        a.as_array().is_some_and(|s| !s.is_empty())
    })
    .await;

    client.did_open("lib/bundle.js", "javascript", &bundle).await.unwrap();
    // Line 2 is `    function helper0(a) ...`: rename helper0 to renamed0.
    client.did_change("lib/bundle.js", 2, [2, 13, 2, 20], "renamed0").await.unwrap();
    let renamed = eventually(&client, "workspace/symbol", json!({"query": "renamed0"}), |a| {
        a.as_array().is_some_and(|s| !s.is_empty())
    })
    .await;
    assert_eq!(renamed[0]["location"]["range"]["start"], json!({"line": 2, "character": 13}));
    client.shutdown_and_exit().await.unwrap();
}
