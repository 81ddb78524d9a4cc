//! The layering rules of ARCHITECTURE.md, checked on the manifests: each external engine has exactly one
//! crate that may use it, and dependency arrows point down.

use std::collections::BTreeMap;
use std::path::Path;

/// crate directory -> its `[dependencies]` names.
fn dependencies() -> BTreeMap<String, Vec<String>> {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("server/crates");
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(crates).unwrap() {
        let dir = entry.unwrap().path();
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
        let mut deps = Vec::new();
        let mut in_deps = false;
        for line in manifest.lines() {
            let line = line.trim();
            if line.starts_with('[') {
                in_deps = line == "[dependencies]";
            } else if in_deps && let Some((name, _)) = line.split_once(['.', '=']) {
                deps.push(name.trim().to_owned());
            }
        }
        out.insert(dir.file_name().unwrap().to_string_lossy().into_owned(), deps);
    }
    out
}

#[test]
fn each_engine_has_one_room() {
    let rooms = [
        ("tower-lsp", "lsp"),
        ("bollard", "sandbox"),
        ("reqwest", "llm"),
        ("sled", "store"),
        ("tree-sitter", "context"),
        ("tree-sitter-typescript", "context"),
    ];
    let deps = dependencies();
    assert!(deps.len() >= 10, "{deps:?}");
    for (krate, list) in &deps {
        for (engine, room) in rooms {
            if list.iter().any(|d| d == engine) {
                assert_eq!(krate, room, "only crates/{room} may depend on {engine}, but crates/{krate} does");
            }
        }
    }
}

#[test]
fn arrows_point_down() {
    // lsp -> engine -> pipeline -> the leaves; a leaf depends on no crate of ours.
    let layers = ["lsp", "engine", "pipeline"];
    let leaves = ["llm", "context", "edits", "sandbox", "store", "prompts"];
    let deps = dependencies();
    for (krate, list) in &deps {
        for name in list.iter().filter_map(|d| d.strip_prefix("samokoder-")) {
            assert_ne!(name, "test-utils", "crates/{krate} depends on test-utils outside [dev-dependencies]");
            let allowed = match layers.iter().position(|l| l == krate) {
                Some(i) => layers[i + 1..].contains(&name) || leaves.contains(&name),
                None => false,
            };
            assert!(allowed, "crates/{krate} must not depend on crates/{name}");
        }
    }
}

/// A dropped tower-lsp request future turns the client's answer into a panic that kills the server
/// (tower-lsp 0.20's `Pending::insert`); `client_request::send` never drops one. So it is the only caller of
/// tower-lsp's server-to-client request methods.
#[test]
fn client_requests_go_through_client_request() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("server/crates/lsp/src");
    let forbidden = [
        "send_request",
        ".apply_edit(",
        ".configuration(",
        ".show_message_request(",
        ".show_document(",
        ".workspace_folders(",
        ".register_capability(",
        ".unregister_capability(",
        ".code_lens_refresh(",
        ".semantic_tokens_refresh(",
        ".inlay_hint_refresh(",
        ".inline_value_refresh(",
        ".workspace_diagnostic_refresh(",
    ];
    let mut files = vec![src.clone()];
    let mut offenders = Vec::new();
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        if path.file_name().is_some_and(|n| n == "client_request.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for needle in forbidden {
            if text.contains(needle) {
                offenders.push(format!("{} uses {needle}", path.display()));
            }
        }
    }
    assert!(offenders.is_empty(), "use client_request::send instead: {offenders:?}");
}
