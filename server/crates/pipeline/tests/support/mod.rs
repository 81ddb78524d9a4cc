//! The pipeline's test bench: a scripted model over real HTTP, a fake sandbox, a frontend that keeps the
//! workspace in memory like an editor's buffers (and can play the user: answer questions, edit plan.md),
//! and the transcripts of a simple and a moderate request.
#![allow(dead_code)] // each test binary uses a part

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use samokoder_edits::{ChangeSet, Jail};
use samokoder_llm::{
    Budget, Limits, LimitsConfig, NoLog, PriceTable, ProviderConfig, RetryPolicy, Route, Router, connect,
};
use samokoder_pipeline::{ApplyOutcome, Frontend, GenerateRequest, Level, Progress, RunContext, RunId, RunSettings};
use samokoder_prompts::Prompts;
use samokoder_sandbox::{ExecResult, Health, RunRequest, Sandbox, TestReport};
use samokoder_store::{MemStore, Store};
use samokoder_test_utils::ScriptedLlm;

pub fn req(description: &str) -> GenerateRequest {
    GenerateRequest { description: description.into(), ..Default::default() }
}

/// A user edit, played each time a change set touching its path has been applied.
pub type Edit = Box<dyn Fn(&mut BTreeMap<String, String>) + Send + Sync>;

#[derive(Default)]
pub struct RecordingFrontend {
    pub refuse: bool,
    /// The workspace as the "editor" holds it: every applied change lands here.
    pub files: Mutex<BTreeMap<String, String>>,
    pub progress: Mutex<Vec<Progress>>,
    pub reports: Mutex<Vec<TestReport>>,
    pub log: Mutex<String>,
    /// Each `log` call: (agent, text).
    pub log_entries: Mutex<Vec<(String, String)>>,
    pub messages: Mutex<Vec<String>>,
    pub shown: Mutex<Vec<String>>,
    /// Answers to questions, in order; `None` in `can_ask` means nobody can answer.
    pub answers: Mutex<VecDeque<String>>,
    pub can_ask: bool,
    pub asked: Mutex<Vec<(String, Vec<String>)>>,
    pub can_confirm: bool,
    /// An editor: questions it cannot ask go to questions.md.
    pub answer_in_file: bool,
    pub confirmed: Mutex<Vec<String>>,
    /// (path whose change triggers it, the edit), played after every change to that path.
    pub user_edits: Mutex<Vec<(String, Edit)>>,
    pub apply_count: Mutex<usize>,
    /// Paths whose next change makes `apply` hang forever (an editor that stopped answering, or a process
    /// about to be killed); `blocked` is notified when it happens.
    pub hang_on: Mutex<Vec<String>>,
    pub blocked: tokio::sync::Notify,
}

#[async_trait]
impl Frontend for RecordingFrontend {
    fn progress(&self, _: &RunId, progress: Progress) {
        self.progress.lock().unwrap().push(progress);
    }
    fn log(&self, _: &RunId, agent: &str, text: &str) {
        self.log.lock().unwrap().push_str(text);
        self.log_entries.lock().unwrap().push((agent.to_owned(), text.to_owned()));
    }
    fn message(&self, _: Level, text: &str) {
        self.messages.lock().unwrap().push(text.to_owned());
    }
    async fn apply(&self, _: &RunId, changes: &ChangeSet) -> anyhow::Result<ApplyOutcome> {
        if self.refuse {
            return Ok(ApplyOutcome::Refused { reason: "declined".into() });
        }
        let hang = {
            let mut hang_on = self.hang_on.lock().unwrap();
            let at = hang_on.iter().position(|p| changes.paths().any(|c| c.as_str() == p));
            at.map(|i| hang_on.remove(i)).is_some()
        };
        if hang {
            self.blocked.notify_one();
            std::future::pending::<()>().await;
        }
        *self.apply_count.lock().unwrap() += 1;
        let mut files = self.files.lock().unwrap();
        for c in &changes.changes {
            files.insert(c.path.to_string(), c.text.clone());
        }
        for d in &changes.deletes {
            files.remove(d.as_str());
        }
        self.confirmed.lock().unwrap().extend(changes.confirm.iter().map(|p| p.to_string()));
        for (path, edit) in self.user_edits.lock().unwrap().iter() {
            if changes.paths().any(|p| p.as_str() == path) {
                edit(&mut files);
            }
        }
        Ok(ApplyOutcome::Applied)
    }
    fn overlay(&self) -> BTreeMap<String, String> {
        self.files.lock().unwrap().clone()
    }
    fn test_results(&self, _: &RunId, report: &TestReport) {
        self.reports.lock().unwrap().push(report.clone());
    }
    fn can_ask(&self) -> bool {
        self.can_ask
    }
    fn can_confirm(&self) -> bool {
        self.can_confirm
    }
    fn can_answer_in_file(&self) -> bool {
        self.answer_in_file
    }
    async fn ask(&self, _: &RunId, question: &str, suggestions: &[String]) -> anyhow::Result<Option<String>> {
        self.asked.lock().unwrap().push((question.to_owned(), suggestions.to_vec()));
        Ok(if self.can_ask { self.answers.lock().unwrap().pop_front() } else { None })
    }
    fn show_file(&self, _: &RunId, path: &str) {
        self.shown.lock().unwrap().push(path.to_owned());
    }
}

/// A user who answers the moderate request's one question.
pub fn answered() -> RecordingFrontend {
    RecordingFrontend {
        can_ask: true,
        answers: std::sync::Mutex::new(["in memory".to_owned()].into()),
        ..Default::default()
    }
}

impl RecordingFrontend {
    pub fn file(&self, path: &str) -> Option<String> {
        self.files.lock().unwrap().get(path).cloned()
    }

    pub fn on_change(&self, path: &str, edit: impl Fn(&mut BTreeMap<String, String>) + Send + Sync + 'static) {
        self.user_edits.lock().unwrap().push((path.to_owned(), Box::new(edit)));
    }
}

/// The marker of the checks that follow every write (`node --check`, `tsc --noEmit`).
pub const CHECK: &str = "==samokoder-check==";

/// The marker of the stated examples' harness (`oracle::run`).
pub const ORACLE: &str = "==samokoder-oracle==";

/// Runs `request`'s command with the host's node in a new directory holding its overlay.
fn run_on_host(request: &RunRequest<'_>) -> (String, i64) {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in request.overlay {
        let file = dir.path().join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, text).unwrap();
    }
    let out = std::process::Command::new("sh").arg("-c").arg(request.command).current_dir(dir.path()).output().unwrap();
    let output = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (output, i64::from(out.status.code().unwrap_or(-1)))
}

/// Answers the test command with canned outputs, in turn (the last one repeats), and the checks after a
/// write with `check_outputs`, in turn (the last one repeats; none: every file passes); remembers what it was
/// shown.
pub struct FakeSandbox {
    pub outputs: Mutex<VecDeque<(String, i64)>>,
    pub check_outputs: Mutex<VecDeque<String>>,
    /// How many of the first test runs hit the sandbox's time limit (a command that never ends).
    pub time_outs: Mutex<usize>,
    pub seen: Mutex<Vec<(String, BTreeMap<String, String>)>>,
    /// The dependency fingerprint the sandbox's node_modules holds (what its last install wrote).
    pub installed: Mutex<Option<String>>,
    /// The image is missing and cannot be pulled (`prepare` fails).
    pub no_image: bool,
}

impl FakeSandbox {
    pub fn new(output: &str, exit: i64) -> Self {
        Self::sequence(&[(output, exit)])
    }

    /// The test command's outputs, one per run of it.
    pub fn sequence(outputs: &[(&str, i64)]) -> Self {
        Self {
            outputs: Mutex::new(outputs.iter().map(|(o, e)| (o.to_string(), *e)).collect()),
            check_outputs: Mutex::default(),
            time_outs: Mutex::default(),
            seen: Mutex::default(),
            installed: Mutex::default(),
            no_image: false,
        }
    }

    /// The commands run, without the checks after writes and the looks at what is installed.
    pub fn commands(&self) -> Vec<String> {
        let seen = self.seen.lock().unwrap();
        let commands = seen.iter().map(|(c, _)| c.clone());
        commands
            .filter(|c| {
                !c.contains(CHECK) && !c.contains(ORACLE) && !c.starts_with("cat node_modules/.samokoder-installed")
            })
            .collect()
    }
}

#[async_trait]
impl Sandbox for FakeSandbox {
    async fn run(
        &self,
        request: RunRequest<'_>,
        on_output: &(dyn for<'s> Fn(&'s str) + Send + Sync),
    ) -> samokoder_sandbox::Result<ExecResult> {
        self.seen.lock().unwrap().push((request.command.to_owned(), request.overlay.clone()));
        let mut timed_out = false;
        let (output, exit) = if let Some(rest) = request.command.strip_prefix("cat node_modules/.samokoder-installed") {
            assert!(rest.starts_with(" 2>/dev/null") && !request.network, "{}", request.command);
            (self.installed.lock().unwrap().clone().unwrap_or_default(), 0)
        } else if let Some((_, mark)) = request.command.split_once("&& printf %s ") {
            assert!(request.network, "an install has network: {}", request.command);
            let fingerprint = mark.split_whitespace().next().unwrap().to_owned();
            *self.installed.lock().unwrap() = Some(fingerprint);
            ("added 1 package\n".to_owned(), 0)
        } else if request.command.contains(ORACLE) || request.command.starts_with("node --test '") {
            // The examples' harness, and one test file run against a candidate, run for real on the host's
            // node, over the files the sandbox was given.
            run_on_host(&request)
        } else if request.command.contains(CHECK) {
            let mut outputs = self.check_outputs.lock().unwrap();
            (if outputs.len() > 1 { outputs.pop_front() } else { outputs.front().cloned() }.unwrap_or_default(), 0)
        } else if let Some(left) = Some(&mut *self.time_outs.lock().unwrap()).filter(|n| **n > 0) {
            *left -= 1;
            timed_out = true;
            ("TAP version 13\n# Subtest: adds\n".to_owned(), -1)
        } else {
            let mut outputs = self.outputs.lock().unwrap();
            if outputs.len() > 1 { outputs.pop_front().unwrap() } else { outputs.front().cloned().unwrap_or_default() }
        };
        // In small pieces, as Docker's stream splits output anywhere, lines included.
        let chars: Vec<char> = output.chars().collect();
        for piece in chars.chunks(5) {
            on_output(&piece.iter().collect::<String>());
        }
        Ok(ExecResult {
            exit_code: (!timed_out).then_some(exit),
            output,
            timed_out,
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
    async fn prepare(&self, _: &(dyn for<'s> Fn(&'s str) + Send + Sync)) -> samokoder_sandbox::Result<()> {
        if self.no_image {
            let message = "pull access denied: no registry".to_owned();
            return Err(samokoder_sandbox::SandboxError::ImageUnavailable {
                image: "node:22-bookworm-slim".into(),
                message,
            });
        }
        Ok(())
    }
    async fn shutdown(&self) {}
}

pub const PASSING_TAP: &str = "TAP version 13\nok 1 - works\n# pass 1\n# fail 0\n";
pub const FAILING_TAP: &str = "TAP version 13\nnot ok 1 - adds\n  ---\n  location: '/workspace/test/sum.test.js:5:1'\n  error: 'boom'\n  stack: |-\n    TestContext.<anonymous> (file:///workspace/test/sum.test.js:6:10)\n  ...\n# pass 0\n# fail 1\n";

pub struct Bench {
    pub ctx: RunContext,
    pub frontend: Arc<RecordingFrontend>,
    pub sandbox: Arc<FakeSandbox>,
    pub store: Arc<dyn Store>,
    pub dir: tempfile::TempDir,
}

impl Bench {
    pub fn new(server: &ScriptedLlm, frontend: RecordingFrontend, sandbox: FakeSandbox) -> Self {
        Self::with_store(server, frontend, sandbox, Arc::new(MemStore::default()))
    }

    pub fn with_store(
        server: &ScriptedLlm,
        frontend: RecordingFrontend,
        sandbox: FakeSandbox,
        store: Arc<dyn Store>,
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let frontend = Arc::new(frontend);
        let sandbox = Arc::new(sandbox);
        let ctx = context(server, dir.path(), frontend.clone(), sandbox.clone(), store.clone(), RunId::new());
        Self { ctx, frontend, sandbox, store, dir }
    }

    /// The same run, as a new process would see it after a crash: a fresh context on the same store,
    /// workspace and id.
    pub fn restarted(&self, server: &ScriptedLlm) -> RunContext {
        context(
            server,
            self.dir.path(),
            self.frontend.clone(),
            self.sandbox.clone(),
            self.store.clone(),
            self.ctx.id.clone(),
        )
    }

    /// A new run on the same workspace, frontend, sandbox and store.
    pub fn another_run(&self, server: &ScriptedLlm) -> RunContext {
        let (frontend, sandbox) = (self.frontend.clone(), self.sandbox.clone());
        context(server, self.dir.path(), frontend, sandbox, self.store.clone(), samokoder_pipeline::RunId::new())
    }

    /// The requests' last user messages, in order: what each agent was asked.
    pub fn asked(server: &ScriptedLlm) -> Vec<String> {
        server.requests().iter().map(|r| r.last_user_message()).collect()
    }
}

fn context(
    server: &ScriptedLlm,
    dir: &std::path::Path,
    frontend: Arc<RecordingFrontend>,
    sandbox: Arc<FakeSandbox>,
    store: Arc<dyn Store>,
    id: RunId,
) -> RunContext {
    let mut config = ProviderConfig::openai(server.base_url(), "scripted-model");
    config.retry = RetryPolicy { base_delay: Duration::from_millis(5), ..Default::default() };
    let mut router = Router::new(PriceTable::default(), Arc::new(NoLog));
    router.add_provider("openai", connect(config).unwrap(), Arc::new(Limits::new(&LimitsConfig::default())));
    router.set_chain(None, vec![Route::parse("openai")]);
    // What the engine's indexer would hold for a workspace with one existing module.
    let mut index = samokoder_context::RepoIndex::new();
    index.upsert("src/existing.ts", "export function helper(x: number): number { return x; }\n".into());
    RunContext {
        id,
        jail: Jail::new(dir).unwrap(),
        llm: Arc::new(router),
        budget: Arc::new(Budget::unlimited()),
        index: Arc::new(parking_lot::RwLock::new(index)),
        sandbox,
        store,
        prompts: Prompts::new(Some(dir)),
        frontend,
        // One draw: the other mechanisms are tested on one reply each; the tests of choosing among
        // candidates set their number.
        settings: RunSettings { candidates: 1, ..Default::default() },
        status: Default::default(),
        cancel: Default::default(),
    }
}

// --- transcripts ------------------------------------------------------------------------------------

pub const SPEC_SIMPLE: &str = r#"{"complexity": "simple", "summary": "A sum function with a test.", "features": ["sum(a, b) returns a + b"], "assumptions": ["numbers only"], "questions": []}"#;

pub const WHOLE_SUM: &str = "package.json\n```json\n{\"type\": \"module\", \"scripts\": {\"test\": \"node --test\"}}\n```\n\nsrc/sum.js\n```js\nexport function sum(a, b) {\n  return a + b;\n}\n```\n\ntest/sum.test.js\n```js\nimport { test } from 'node:test';\nimport assert from 'node:assert/strict';\nimport { sum } from '../src/sum.js';\n\ntest('adds', () => {\n  assert.equal(sum(1, 2), 3);\n});\n```\n";

/// A fix to WHOLE_SUM that changes nothing about its behaviour.
pub const NO_HELP_FIX: &str = "Swapping the operands.\n\nsrc/sum.js\n<<<<<<< SEARCH\n  return a + b;\n=======\n  return b + a;\n>>>>>>> REPLACE\n";

/// NO_HELP_FIX undone by hand: changes nothing either.
pub const NO_HELP_FIX_BACK: &str =
    "Swapping them back.\n\nsrc/sum.js\n<<<<<<< SEARCH\n  return b + a;\n=======\n  return a + b;\n>>>>>>> REPLACE\n";

pub const SPEC_MODERATE: &str = r#"{"complexity": "moderate", "summary": "A todo store and a text formatter for it.", "features": ["add and list todos", "format todos as numbered lines"], "assumptions": ["no user accounts"], "questions": [{"question": "Where are todos kept?", "suggestions": ["in memory", "in a JSON file"]}]}"#;

pub const SPEC_REVISED: &str = r#"{"complexity": "moderate", "summary": "A todo store kept in memory, and a text formatter for it.", "features": ["add and list todos", "format todos as numbered lines"], "assumptions": ["no user accounts"], "questions": []}"#;

pub const ARCHITECTURE: &str =
    r#"{"template": "node", "why": "Plain Node modules are enough.", "packages": [], "system_needs": []}"#;

pub const PLAN: &str = r#"{"epics": [{"name": "Todos", "tasks": [{"title": "A todo store", "description": "src/todos.js with add(title) and list()", "test": "test/todos.test.js checks add and list"}, {"title": "A formatter", "description": "src/format.js with format(todos)", "test": "test/format.test.js"}]}]}"#;

pub const DEV_STORE: &str = r#"{"steps": [{"description": "the store and its test", "files": [{"path": "src/todos.js", "instruction": "export function add(title) and export function list()"}, {"path": "test/todos.test.js", "instruction": "tests add and list"}], "commands": []}]}"#;

pub const DEV_FORMAT: &str = r#"{"steps": [{"description": "the formatter and its test", "files": [{"path": "src/format.js", "instruction": "export function format(todos)"}, {"path": "test/format.test.js", "instruction": "tests format"}], "commands": []}]}"#;

pub fn file_reply(path: &str, body: &str) -> String {
    format!("{path}\n```js\n{body}\n```\n")
}

pub const TODOS_JS: &str = "const todos = [];\nexport function add(title) {\n  const todo = { id: todos.length + 1, title, done: false };\n  todos.push(todo);\n  return todo;\n}\nexport function list() {\n  return [...todos];\n}";
pub const TODOS_TEST: &str = "import { test } from 'node:test';\nimport assert from 'node:assert/strict';\nimport { add, list } from '../src/todos.js';\ntest('adds', () => {\n  add('a');\n  assert.equal(list().length, 1);\n});";
pub const FORMAT_JS: &str =
    "export function format(todos) {\n  return todos.map((t, i) => `${i + 1}. ${t.title}`).join('\\n');\n}";
pub const FORMAT_TEST: &str = "import { test } from 'node:test';\nimport assert from 'node:assert/strict';\nimport { format } from '../src/format.js';\ntest('numbers lines', () => {\n  assert.equal(format([{ title: 'a' }]), '1. a');\n});";

/// The whole moderate transcript, routed by what each request says.
pub fn moderate_routes() -> Vec<(&'static str, samokoder_test_utils::Reply)> {
    use samokoder_test_utils::Reply;
    vec![
        ("you are the spec writer. The user asked for", Reply::text(SPEC_MODERATE)),
        ("Write the spec again", Reply::text(SPEC_REVISED)),
        ("you are the architect", Reply::text(ARCHITECTURE)),
        ("you are the tech lead", Reply::text(PLAN)),
        ("Task: A todo store", Reply::text(DEV_STORE)),
        ("Task: A formatter", Reply::text(DEV_FORMAT)),
        ("Write the file src/todos.js", Reply::text(file_reply("src/todos.js", TODOS_JS))),
        ("Write the file test/todos.test.js", Reply::text(file_reply("test/todos.test.js", TODOS_TEST))),
        ("Write the file src/format.js", Reply::text(file_reply("src/format.js", FORMAT_JS))),
        ("Write the file test/format.test.js", Reply::text(file_reply("test/format.test.js", FORMAT_TEST))),
    ]
}

/// A Roman-numeral module, right, and a test of it with one wrong case (MMX is a numeral).
pub const ROMAN_SPEC: &str = r#"{"complexity": "simple", "summary": "Roman numerals both ways.", "features": ["toRoman(n) and fromRoman(s)"], "assumptions": [], "questions": []}"#;
pub const ROMAN: &str = "const TABLE = [[1000, 'M'], [900, 'CM'], [500, 'D'], [400, 'CD'], [100, 'C'], [90, 'XC'], [50, 'L'], [40, 'XL'], [10, 'X'], [9, 'IX'], [5, 'V'], [4, 'IV'], [1, 'I']];\nexport function toRoman(n) {\n  let out = '';\n  for (const [v, s] of TABLE) {\n    while (n >= v) {\n      out += s;\n      n -= v;\n    }\n  }\n  return out;\n}\nexport function fromRoman(s) {\n  let n = 0;\n  let i = 0;\n  for (const [v, r] of TABLE) {\n    while (s.startsWith(r, i)) {\n      n += v;\n      i += r.length;\n    }\n  }\n  return n;\n}";
pub const ROMAN_TEST: &str = "import { test } from 'node:test';\nimport assert from 'node:assert/strict';\nimport { toRoman, fromRoman } from '../src/roman.js';\n\ntest('writes 1994', () => {\n  assert.equal(toRoman(1994), 'MCMXCIV');\n});\n\ntest('reads MMX', () => {\n  assert.equal(fromRoman('MMX'), 2010);\n});\n\ntest('MMX is not a numeral', () => {\n  assert.throws(() => fromRoman('MMX'), RangeError);\n});\n";
pub const ROMAN_FAILS: &str = "TAP version 13\nnot ok 3 - MMX is not a numeral\n  ---\n  location: '/workspace/test/roman.test.js:13:1'\n  error: 'Missing expected exception (RangeError).'\n  ...\n# pass 2\n# fail 1\n";

pub fn roman_files(code: &str) -> String {
    roman_reply(code, ROMAN_TEST)
}

/// A whole-task reply: package.json, src/roman.js and test/roman.test.js.
pub fn roman_reply(code: &str, test: &str) -> String {
    format!(
        "package.json\n```json\n{{\"type\": \"module\", \"scripts\": {{\"test\": \"node --test\"}}}}\n```\n\n{}\n{}",
        file_reply("src/roman.js", code),
        file_reply("test/roman.test.js", test.trim_end())
    )
}
