//! Spawning the server with an isolated environment.

use std::path::{Path, PathBuf};

use samokoder_test_utils::{ClientOptions, LspClient, ScriptedLlm};
use tempfile::TempDir;

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_samokoder"))
}

/// A workspace and private config/data directories, so tests never touch the user's.
pub struct Sandboxed {
    pub workspace: TempDir,
    pub home: TempDir,
}

impl Sandboxed {
    pub fn new() -> Self {
        Self { workspace: tempfile::tempdir().unwrap(), home: tempfile::tempdir().unwrap() }
    }

    pub fn root(&self) -> &Path {
        self.workspace.path()
    }

    /// The environment the server runs with; `llm` points it at a scripted model.
    pub fn env(&self, llm: Option<&ScriptedLlm>) -> Vec<(String, String)> {
        let mut env = samokoder_test_utils::isolated_env(self.home.path(), llm);
        env.push(("SAMOKODER_LOG".to_owned(), "debug".to_owned()));
        env
    }

    pub fn options(&self, llm: Option<&ScriptedLlm>) -> ClientOptions {
        let mut options = ClientOptions::new(self.root());
        options.env = self.env(llm);
        options
    }

    pub fn spawn(&self, options: ClientOptions) -> LspClient {
        LspClient::spawn(&bin(), &[], options).unwrap()
    }
}

pub const SUM_PACKAGE: &str = "{\"type\": \"module\", \"scripts\": {\"test\": \"node --test\"}}\n";
pub const SUM_TEST: &str = "import { test } from 'node:test';\nimport assert from 'node:assert/strict';\nimport { sum } from '../src/sum.js';\n\ntest('adds', () => {\n  assert.equal(sum(1, 2), 3);\n});\n";

/// A project whose one test fails: `sum` subtracts.
pub fn failing_sum_project(s: &Sandboxed) {
    std::fs::create_dir_all(s.root().join("src")).unwrap();
    std::fs::create_dir_all(s.root().join("test")).unwrap();
    std::fs::write(s.root().join("package.json"), SUM_PACKAGE).unwrap();
    std::fs::write(s.root().join("test/sum.test.js"), SUM_TEST).unwrap();
    std::fs::write(s.root().join("src/sum.js"), "export function sum(a, b) {\n  return a - b;\n}\n").unwrap();
}

/// The end of the run the client sees next (`$/progress` end), waiting at most `secs`.
pub async fn run_end(client: &LspClient, secs: u64) -> serde_json::Value {
    client
        .wait_for(std::time::Duration::from_secs(secs), "the run's end", |m| {
            m["method"] == "$/progress" && m["params"]["value"]["kind"] == "end"
        })
        .await
        .unwrap()
}

/// The code action titled `title` at `line` of `rel` (no diagnostics in the context), or `None`.
pub async fn code_action(client: &LspClient, rel: &str, line: u32, title: &str) -> Option<serde_json::Value> {
    let at = serde_json::json!({"start": {"line": line, "character": 0}, "end": {"line": line, "character": 0}});
    let params =
        serde_json::json!({"textDocument": {"uri": client.uri(rel)}, "range": at, "context": {"diagnostics": []}});
    let actions = client.request("textDocument/codeAction", params).await.unwrap();
    actions.as_array().unwrap().iter().find(|a| a["title"] == title).cloned()
}

/// Runs a code action's command, as an editor does when the user picks it.
pub async fn pick(client: &LspClient, action: &serde_json::Value) -> serde_json::Value {
    let command = &action["command"];
    let params = serde_json::json!({"command": command["command"], "arguments": command["arguments"]});
    client.request("workspace/executeCommand", params).await.unwrap()
}
