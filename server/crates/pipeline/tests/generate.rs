//! The thin run against a scripted model (real HTTP), a fake sandbox and a recording frontend.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use samokoder_edits::{ChangeSet, Jail};
use samokoder_llm::{
    AgentRole, Budget, Limits, LimitsConfig, NoLog, PriceTable, ProviderConfig, RetryPolicy, Route, Router, connect,
};
use samokoder_pipeline::{
    ApplyOutcome, Frontend, GenerateRequest, Level, Progress, RunContext, RunId, RunSettings, generate,
};

fn req(description: &str) -> GenerateRequest {
    GenerateRequest { description: description.into(), subdir: None }
}
use samokoder_prompts::Prompts;
use samokoder_sandbox::{ExecResult, Health, RunRequest, Sandbox, TestReport};
use samokoder_store::{MemStore, RunStatus, Store};
use samokoder_test_utils::{Reply, ScriptedLlm};

#[derive(Default)]
struct RecordingFrontend {
    refuse: bool,
    applied: Mutex<BTreeMap<String, String>>,
    progress: Mutex<Vec<Progress>>,
    reports: Mutex<Vec<TestReport>>,
    log: Mutex<String>,
}

#[async_trait]
impl Frontend for RecordingFrontend {
    fn progress(&self, _: &RunId, progress: Progress) {
        self.progress.lock().unwrap().push(progress);
    }
    fn log(&self, _: &RunId, _: &str, text: &str) {
        self.log.lock().unwrap().push_str(text);
    }
    fn message(&self, _: Level, _: &str) {}
    async fn apply(&self, _: &RunId, changes: &ChangeSet) -> anyhow::Result<ApplyOutcome> {
        if self.refuse {
            return Ok(ApplyOutcome::Refused { reason: "declined".into() });
        }
        let mut applied = self.applied.lock().unwrap();
        for c in &changes.changes {
            applied.insert(c.path.to_string(), c.text.clone());
        }
        Ok(ApplyOutcome::Applied)
    }
    fn overlay(&self) -> BTreeMap<String, String> {
        self.applied.lock().unwrap().clone()
    }
    fn test_results(&self, _: &RunId, report: &TestReport) {
        self.reports.lock().unwrap().push(report.clone());
    }
}

/// Answers every command with canned output; remembers what it was shown.
struct FakeSandbox {
    output: String,
    exit: i64,
    seen: Mutex<Vec<BTreeMap<String, String>>>,
}

#[async_trait]
impl Sandbox for FakeSandbox {
    async fn run(
        &self,
        request: RunRequest<'_>,
        on_output: &(dyn for<'s> Fn(&'s str) + Send + Sync),
    ) -> samokoder_sandbox::Result<ExecResult> {
        self.seen.lock().unwrap().push(request.overlay.clone());
        on_output(&self.output);
        Ok(ExecResult {
            exit_code: Some(self.exit),
            output: self.output.clone(),
            timed_out: false,
            idle_timed_out: false,
            oom_killed: false,
            memory_limit_mb: 1024,
            dropped_bytes: 0,
            duration: Duration::ZERO,
            synced_files: request.overlay.len(),
        })
    }
    async fn health(&self) -> samokoder_sandbox::Result<Health> {
        unreachable!()
    }
    async fn shutdown(&self) {}
}

const REPLY: &str = "Here is a sum module.\n\npackage.json\n```json\n{\"type\": \"module\"}\n```\n\nsrc/sum.js\n```js\nexport function sum(a, b) {\n  return a + b;\n}\n```\n\ntest/sum.test.js\n```js\nimport { test } from 'node:test';\n```\n";

const FAILING_TAP: &str = "TAP version 13\nnot ok 1 - adds\n  ---\n  location: '/workspace/test/sum.test.js:5:1'\n  error: 'boom'\n  stack: |-\n    TestContext.<anonymous> (file:///workspace/test/sum.test.js:6:10)\n  ...\n# pass 0\n# fail 1\n";

struct Setup {
    ctx: RunContext,
    frontend: Arc<RecordingFrontend>,
    sandbox: Arc<FakeSandbox>,
    store: Arc<MemStore>,
    _dir: tempfile::TempDir,
}

fn setup(server: &ScriptedLlm, frontend: RecordingFrontend, output: &str, exit: i64) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let mut config = ProviderConfig::openai(server.base_url(), "scripted-model");
    config.retry = RetryPolicy { base_delay: Duration::from_millis(5), ..Default::default() };
    let mut router = Router::new(PriceTable::default(), Arc::new(NoLog));
    router.add_provider("openai", connect(config).unwrap(), Arc::new(Limits::new(&LimitsConfig::default())));
    router.set_chain(None, vec![Route::parse("openai")]);
    assert_eq!(router.describe(AgentRole::CodeMonkey), "openai/scripted-model");
    let frontend = Arc::new(frontend);
    let sandbox = Arc::new(FakeSandbox { output: output.into(), exit, seen: Mutex::default() });
    let store = Arc::new(MemStore::default());
    // What the engine's indexer would hold for a workspace with one existing module.
    let mut index = samokoder_context::RepoIndex::new();
    index.upsert("src/existing.ts", "export function helper(x: number): number { return x; }\n".into());
    let ctx = RunContext {
        id: RunId::new(),
        jail: Jail::new(dir.path()).unwrap(),
        llm: Arc::new(router),
        budget: Arc::new(Budget::unlimited()),
        index: Arc::new(parking_lot::RwLock::new(index)),
        sandbox: sandbox.clone(),
        store: store.clone(),
        prompts: Prompts::new(Some(dir.path())),
        frontend: frontend.clone(),
        settings: RunSettings::default(),
    };
    Setup { ctx, frontend, sandbox, store, _dir: dir }
}

#[tokio::test]
async fn generate_applies_files_then_tests_what_the_editor_holds() {
    let server = ScriptedLlm::start(vec![Reply::text(REPLY)]);
    let s = setup(&server, RecordingFrontend::default(), FAILING_TAP, 1);
    let outcome = generate(&s.ctx, &req("a sum function with tests")).await.unwrap();

    assert_eq!(outcome.status, RunStatus::TestsFailed);
    assert_eq!(outcome.files, ["package.json", "src/sum.js", "test/sum.test.js"]);
    let prompt = server.requests()[0].prompt();
    assert!(prompt.contains("a sum function with tests"));
    // The reply's size is bounded by what a small project needs, not by the model's context.
    assert_eq!(server.requests()[0].body["max_tokens"], 3072);
    assert!(
        prompt.contains("src/existing.ts:\n  export function helper(x: number): number"),
        "the repo map is in the prompt: {prompt}"
    );
    // The sandbox saw the applied (unsaved) files, not an empty disk.
    let seen = &s.sandbox.seen.lock().unwrap()[0];
    assert!(seen["src/sum.js"].contains("return a + b"));
    let report = &s.frontend.reports.lock().unwrap()[0];
    assert_eq!((report.failures[0].file.as_deref(), report.failures[0].line), (Some("test/sum.test.js"), Some(6)));
    // Progress began and ended; the store holds the run and both steps.
    let progress = s.frontend.progress.lock().unwrap();
    assert!(
        matches!(progress.first(), Some(Progress::Begin { .. }))
            && matches!(progress.last(), Some(Progress::End { .. }))
    );
    let run = s.store.get_run(&s.ctx.id.0).unwrap().unwrap();
    assert_eq!(run.status, RunStatus::TestsFailed);
    let agents: Vec<String> = s.store.steps(&s.ctx.id.0).unwrap().into_iter().map(|st| st.agent).collect();
    assert_eq!(agents, ["code_monkey", "executor"]);
    // The streamed text reached the output panel.
    assert!(s.frontend.log.lock().unwrap().contains("export function sum"));
}

#[tokio::test]
async fn a_path_outside_the_workspace_refuses_the_whole_reply() {
    for hostile in ["../outside.ts", "/tmp/abs.ts", "src/../../x.js"] {
        let reply = format!("src/ok.js\n```js\nok\n```\n{hostile}\n```ts\nevil\n```\n");
        let server = ScriptedLlm::start(vec![Reply::text(reply)]);
        let s = setup(&server, RecordingFrontend::default(), "", 0);
        let err = format!("{:#}", generate(&s.ctx, &req("x")).await.unwrap_err());
        assert!(err.contains(hostile.trim_start_matches('/')) || err.contains(hostile), "{err}");
        assert!(err.contains("nothing was written"), "{err}");
        assert!(s.frontend.applied.lock().unwrap().is_empty(), "nothing may be applied for {hostile}");
        assert!(s.sandbox.seen.lock().unwrap().is_empty());
        assert_eq!(s.store.get_run(&s.ctx.id.0).unwrap().unwrap().status, RunStatus::Failed);
    }
}

#[tokio::test]
async fn a_refused_edit_stops_the_run_with_a_clear_message() {
    let server = ScriptedLlm::start(vec![Reply::text(REPLY)]);
    let s = setup(&server, RecordingFrontend { refuse: true, ..Default::default() }, "", 0);
    let err = format!("{:#}", generate(&s.ctx, &req("x")).await.unwrap_err());
    assert!(err.contains("did not apply") && err.contains("declined") && err.contains("nothing was written"), "{err}");
    assert!(s.sandbox.seen.lock().unwrap().is_empty(), "tests must not run on changes the user refused");
}

#[tokio::test]
async fn a_reply_without_files_says_what_was_expected() {
    let server = ScriptedLlm::start(vec![Reply::text("I cannot help with that.")]);
    let s = setup(&server, RecordingFrontend::default(), "", 0);
    let err = format!("{:#}", generate(&s.ctx, &req("x")).await.unwrap_err());
    assert!(err.contains("no files") && err.contains("I cannot help"), "{err}");
}

#[tokio::test]
async fn an_empty_description_is_refused_before_any_call() {
    let server = ScriptedLlm::start(vec![]);
    let s = setup(&server, RecordingFrontend::default(), "", 0);
    let err = format!("{:#}", generate(&s.ctx, &req("  ")).await.unwrap_err());
    assert!(err.contains("give a description"), "{err}");
    assert!(server.requests().is_empty());
}
