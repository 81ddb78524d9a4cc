//! Spawning the server with an isolated environment.

use std::path::{Path, PathBuf};

use samokoder_test_utils::{ClientOptions, LspClient, ScriptedLlm, test_image};
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
        let home = self.home.path();
        let mut env = vec![
            ("HOME".to_owned(), home.display().to_string()),
            ("XDG_CONFIG_HOME".to_owned(), home.join("config").display().to_string()),
            ("XDG_DATA_HOME".to_owned(), home.join("data").display().to_string()),
            ("SAMOKODER_LOG".to_owned(), "debug".to_owned()),
            ("SAMOKODER_SANDBOX_IMAGE".to_owned(), test_image()),
        ];
        if let Some(llm) = llm {
            env.push(("OPENAI_BASE_URL".to_owned(), llm.base_url()));
            env.push(("OPENAI_API_KEY".to_owned(), "sk-test".to_owned()));
            env.push(("SAMOKODER_MODEL".to_owned(), "scripted-model".to_owned()));
        }
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
