//! Bad input to the team: replies that do not fit their schema, a template that does not exist, a plan with
//! no tasks, steps that name paths they may not, two files of one step with one path, files with syntax
//! errors, a plan.md the user broke, a store that fails. Each gets a clear message, and nothing is guessed.

mod support;

use std::sync::Arc;

use samokoder_pipeline::{generate, resume};
use samokoder_store::{MemStore, RecordKind, RunStatus, Store};
use samokoder_test_utils::{Reply, ScriptedLlm};
use support::*;

#[tokio::test]
async fn a_reply_that_does_not_fit_its_schema_is_re_asked_with_the_error_then_fails_naming_the_agent() {
    let broken = r#"{"complexity": "enormous", "summary": "x", "features": [], "assumptions": [], "questions": []}"#;
    // The first reply is wrong, the repair is right: the run goes on.
    let server = ScriptedLlm::routed(vec![
        ("you are the spec writer", Reply::text(broken)),
        ("That reply is not valid", Reply::text(SPEC_SIMPLE)),
        ("you are the code writer", Reply::text(WHOLE_SUM)),
    ]);
    let b = Bench::new(&server, RecordingFrontend::default(), FakeSandbox::new(PASSING_TAP, 0));
    let outcome = generate(&b.ctx, &req("a sum")).await.unwrap();
    assert_eq!(outcome.status, RunStatus::Succeeded);
    let repair = &Bench::asked(&server)[1];
    assert!(repair.contains("That reply is not valid") && repair.contains("enormous"), "{repair}");

    // Always wrong: a clear failure that names the agent, after the repairs.
    let server = ScriptedLlm::repeating(Reply::text(broken));
    let b = Bench::new(&server, RecordingFrontend::default(), FakeSandbox::new(PASSING_TAP, 0));
    let err = format!("{:#}", generate(&b.ctx, &req("a sum")).await.unwrap_err());
    assert!(err.contains("the spec writer could not give a usable reply") && err.contains("enormous"), "{err}");
    assert_eq!(server.requests().len(), 3, "the first try and two repairs");
    assert!(b.frontend.files.lock().unwrap().is_empty(), "nothing was written");
}

#[tokio::test]
async fn an_unknown_template_is_refused_and_asked_again() {
    let react = r#"{"template": "react-native", "why": "mobile", "packages": [], "system_needs": []}"#;
    // The re-ask says why; its answer is a real template.
    let mut routes = moderate_routes();
    routes.retain(|(k, _)| *k != "you are the architect");
    routes.push(("you are the architect", Reply::text(react)));
    routes.push(("That reply cannot be used: there is no template named `react-native`", Reply::text(ARCHITECTURE)));
    let routes_server = ScriptedLlm::routed(routes);
    let b = Bench::new(&routes_server, answered(), FakeSandbox::new(PASSING_TAP, 0));
    let outcome = generate(&b.ctx, &req("a todo list")).await.unwrap();
    assert_eq!(outcome.status, RunStatus::Succeeded, "{}", outcome.summary);
    let asked = Bench::asked(&routes_server);
    assert!(asked.iter().any(|a| a.contains("choose one of: node")), "{asked:#?}");
    assert!(b.frontend.file(".samokoder/architecture.md").unwrap().contains("**node**"));

    // Never a real one: the run fails, saying which name was refused.
    let mut routes = moderate_routes();
    routes.retain(|(k, _)| *k != "you are the architect");
    for _ in 0..3 {
        routes.push(("you are the architect", Reply::text(react)));
        routes.push(("That reply cannot be used", Reply::text(react)));
    }
    let server = ScriptedLlm::routed(routes);
    let b = Bench::new(&server, answered(), FakeSandbox::new(PASSING_TAP, 0));
    let err = format!("{:#}", generate(&b.ctx, &req("a todo list")).await.unwrap_err());
    assert!(err.contains("the architect's reply was refused 3 times") && err.contains("`react-native`"), "{err}");
    assert!(b.frontend.file(".samokoder/architecture.md").is_none());
}

#[tokio::test]
async fn a_plan_with_no_tasks_is_asked_again() {
    let empty = r#"{"epics": [{"name": "Everything", "tasks": []}]}"#;
    let mut routes = moderate_routes();
    routes.retain(|(k, _)| *k != "you are the tech lead");
    routes.push(("you are the tech lead", Reply::text(empty)));
    routes.push(("the plan has no tasks", Reply::text(PLAN)));
    let server = ScriptedLlm::routed(routes);
    let b = Bench::new(&server, answered(), FakeSandbox::new(PASSING_TAP, 0));
    let outcome = generate(&b.ctx, &req("a todo list")).await.unwrap();
    assert_eq!(outcome.status, RunStatus::Succeeded, "{}", outcome.summary);
}

#[tokio::test]
async fn a_step_naming_forbidden_paths_is_asked_again_and_a_repeated_path_is_merged() {
    let outside =
        r#"{"steps": [{"description": "s", "files": [{"path": "../escape.js", "instruction": "x"}], "commands": []}]}"#;
    let hook = r#"{"steps": [{"description": "s", "files": [{"path": ".git/hooks/pre-commit", "instruction": "x"}], "commands": []}]}"#;
    let twice = r#"{"steps": [{"description": "s", "files": [{"path": "src/todos.js", "instruction": "a"}, {"path": "src/todos.js", "instruction": "b"}], "commands": []}]}"#;
    let mut routes = moderate_routes();
    routes.retain(|(k, _)| *k != "Task: A todo store");
    routes.push(("Task: A todo store", Reply::text(outside)));
    routes.push(("`..` would leave the workspace", Reply::text(hook)));
    routes.push(("other tools run", Reply::text(twice)));
    let server = ScriptedLlm::routed(routes);
    let b = Bench::new(&server, answered(), FakeSandbox::new(PASSING_TAP, 0));
    let outcome = generate(&b.ctx, &req("a todo list")).await.unwrap();
    assert_eq!(outcome.status, RunStatus::Succeeded, "{}", outcome.summary);
    let asked = Bench::asked(&server);
    assert!(asked.iter().any(|a| a.contains("`..` would leave the workspace root")), "{asked:#?}");
    assert!(asked.iter().any(|a| a.contains(".git/hooks/pre-commit is a file other tools run")), "{asked:#?}");
    // The file named twice is written once, with both instructions.
    let writes: Vec<&String> = asked.iter().filter(|a| a.contains("Write the file src/todos.js")).collect();
    assert_eq!(writes.len(), 1, "{writes:#?}");
    assert!(writes[0].contains("a; b"), "{}", writes[0]);
    let files = b.frontend.files.lock().unwrap().clone();
    assert!(!files.keys().any(|k| k.contains("escape") || k.contains(".git/")), "{:?}", files.keys());
}

#[tokio::test]
async fn a_file_with_a_syntax_error_is_asked_for_again_then_fails_the_step() {
    let broken = file_reply("src/todos.js", "export function add(title) {\n  return (title;\n}");
    // Fixed on the second try.
    let mut routes = moderate_routes();
    routes.retain(|(k, _)| *k != "Write the file src/todos.js");
    routes.push(("Write the file src/todos.js", Reply::text(broken.clone())));
    routes.push(("src/todos.js has a syntax error: line 2", Reply::text(file_reply("src/todos.js", TODOS_JS))));
    let server = ScriptedLlm::routed(routes);
    let b = Bench::new(&server, answered(), FakeSandbox::new(PASSING_TAP, 0));
    let outcome = generate(&b.ctx, &req("a todo list")).await.unwrap();
    assert_eq!(outcome.status, RunStatus::Succeeded, "{}", outcome.summary);
    assert!(b.frontend.file("src/todos.js").unwrap().contains("todos.push"));

    // Broken twice: the step fails with the error, and none of its files lands.
    let mut routes = moderate_routes();
    routes.retain(|(k, _)| *k != "Write the file src/todos.js");
    routes.push(("Write the file src/todos.js", Reply::text(broken.clone())));
    routes.push(("src/todos.js has a syntax error", Reply::text(broken)));
    let server = ScriptedLlm::routed(routes);
    let b = Bench::new(&server, answered(), FakeSandbox::new(PASSING_TAP, 0));
    let err = format!("{:#}", generate(&b.ctx, &req("a todo list")).await.unwrap_err());
    assert!(err.contains("src/todos.js: it still has a syntax error after a second try: line 2"), "{err}");
    assert!(b.frontend.file("test/todos.test.js").is_none(), "the step's other file did not land either");
}

#[tokio::test]
async fn a_plan_md_the_user_broke_pauses_the_run_at_the_line_and_resume_goes_on_once_fixed() {
    let server = ScriptedLlm::routed(moderate_routes());
    let frontend = answered();
    // The user edits plan.md as soon as it is written, and breaks line 9.
    frontend.on_change(".samokoder/plan.md", |files| {
        let plan = files.get_mut(".samokoder/plan.md").unwrap();
        *plan = plan.replace("- [ ] A formatter", "- [?] A formatter");
    });
    let b = Bench::new(&server, frontend, FakeSandbox::new(PASSING_TAP, 0));
    let outcome = generate(&b.ctx, &req("a todo list")).await.unwrap();
    assert_eq!(outcome.status, RunStatus::Paused);
    let plan = b.frontend.file(".samokoder/plan.md").unwrap();
    let line = plan.lines().position(|l| l.contains("[?]")).unwrap() + 1;
    assert!(outcome.summary.contains(&format!("plan.md line {line}: `[?]` is not a checkbox")), "{}", outcome.summary);
    assert!(outcome.summary.contains("fix .samokoder/plan.md, then resume"), "{}", outcome.summary);
    assert!(b.store.records(RecordKind::Task, &b.ctx.id.0).unwrap().is_empty(), "no task was started on a guess");
    assert_eq!(b.store.get_run(&b.ctx.id.0).unwrap().unwrap().status, RunStatus::Paused);

    // Fixed: resume builds both tasks without asking any earlier agent again.
    b.frontend.user_edits.lock().unwrap().clear();
    b.frontend.files.lock().unwrap().insert(".samokoder/plan.md".into(), plan.replace("[?]", "[ ]"));
    let before = server.requests().len();
    let outcome = resume(&b.restarted(&server)).await.unwrap();
    assert_eq!(outcome.status, RunStatus::Succeeded, "{}", outcome.summary);
    let again: Vec<String> = Bench::asked(&server)[before..].to_vec();
    assert!(
        again.iter().all(|a| !a.contains("you are the spec writer") && !a.contains("you are the tech lead")),
        "{again:#?}"
    );
}

#[tokio::test]
async fn a_plan_md_emptied_by_hand_pauses_the_run_and_says_it_has_no_tasks() {
    let server = ScriptedLlm::routed(moderate_routes());
    let frontend = answered();
    frontend.on_change(".samokoder/plan.md", |files| {
        files.insert(".samokoder/plan.md".into(), String::new());
    });
    let b = Bench::new(&server, frontend, FakeSandbox::new(PASSING_TAP, 0));
    let outcome = generate(&b.ctx, &req("a todo list")).await.unwrap();
    assert_eq!(outcome.status, RunStatus::Paused, "{}", outcome.summary);
    assert!(outcome.summary.contains("the plan has no tasks: add one"), "{}", outcome.summary);
    assert!(Bench::asked(&server).iter().all(|a| !a.contains("Task: ")), "no developer was asked");
}

#[tokio::test]
async fn an_edited_plan_changes_what_comes_next() {
    let mut routes = moderate_routes();
    routes.retain(|(k, _)| *k != "Task: A formatter");
    routes.push(("Task: A formatter that numbers each line", Reply::text(DEV_FORMAT)));
    routes.push(("Task: A README", Reply::text(r#"{"steps": [{"description": "docs", "files": [{"path": "README.md", "instruction": "usage"}], "commands": []}]}"#)));
    routes.push(("Write the file README.md", Reply::text("README.md\n```md\n# Todos\n```\n")));
    let server = ScriptedLlm::routed(routes);
    let frontend = answered();
    // When the first task is ticked, the user rewords the second and adds a third of their own.
    frontend.on_change(".samokoder/plan.md", |files| {
        let plan = files.get_mut(".samokoder/plan.md").unwrap();
        if plan.contains("- [x] A todo store") && !plan.contains("A README") {
            *plan = plan.replace("- [ ] A formatter", "- [ ] A formatter that numbers each line") + "- [ ] A README\n";
        }
    });
    let b = Bench::new(&server, frontend, FakeSandbox::new(PASSING_TAP, 0));
    let outcome = generate(&b.ctx, &req("a todo list")).await.unwrap();
    assert_eq!(outcome.status, RunStatus::Succeeded, "{}", outcome.summary);
    assert_eq!(outcome.summary, "built 3 tasks; tests pass (1 passed)");
    let plan = b.frontend.file(".samokoder/plan.md").unwrap();
    assert!(plan.contains("- [x] A README <!-- id:t3 -->"), "the new task got an id and was done: {plan}");
    assert_eq!(b.frontend.file("README.md").as_deref(), Some("# Todos\n"));
}

/// A store whose writes start failing (a full or read-only disk): the run stops with the store's error,
/// which says what to do.
struct FailingStore {
    inner: MemStore,
    writes_left: std::sync::atomic::AtomicI32,
}

impl FailingStore {
    fn write(&self) -> samokoder_store::Result<()> {
        if self.writes_left.fetch_sub(1, std::sync::atomic::Ordering::SeqCst) <= 0 {
            return Err(samokoder_store::StoreError::Db("No space left on device (os error 28)".into()));
        }
        Ok(())
    }
}

impl Store for FailingStore {
    fn put_run(&self, run: &samokoder_store::RunRecord) -> samokoder_store::Result<()> {
        self.write()?;
        self.inner.put_run(run)
    }
    fn get_run(&self, id: &str) -> samokoder_store::Result<Option<samokoder_store::RunRecord>> {
        self.inner.get_run(id)
    }
    fn list_runs(&self, limit: usize) -> samokoder_store::Result<Vec<samokoder_store::RunRecord>> {
        self.inner.list_runs(limit)
    }
    fn append_step(&self, run_id: &str, step: &samokoder_store::StepRecord) -> samokoder_store::Result<u32> {
        self.write()?;
        self.inner.append_step(run_id, step)
    }
    fn steps(&self, run_id: &str) -> samokoder_store::Result<Vec<samokoder_store::StepRecord>> {
        self.inner.steps(run_id)
    }
    fn append_llm_request(&self, run_id: &str, record: &serde_json::Value) -> samokoder_store::Result<()> {
        self.inner.append_llm_request(run_id, record)
    }
    fn llm_requests(&self, run_id: &str) -> samokoder_store::Result<Vec<serde_json::Value>> {
        self.inner.llm_requests(run_id)
    }
    fn put_record(
        &self,
        kind: RecordKind,
        run_id: &str,
        key: &str,
        value: &serde_json::Value,
    ) -> samokoder_store::Result<()> {
        self.write()?;
        self.inner.put_record(kind, run_id, key, value)
    }
    fn get_record(
        &self,
        kind: RecordKind,
        run_id: &str,
        key: &str,
    ) -> samokoder_store::Result<Option<serde_json::Value>> {
        self.inner.get_record(kind, run_id, key)
    }
    fn records(&self, kind: RecordKind, run_id: &str) -> samokoder_store::Result<Vec<(String, serde_json::Value)>> {
        self.inner.records(kind, run_id)
    }
    fn delete_record(&self, kind: RecordKind, run_id: &str, key: &str) -> samokoder_store::Result<()> {
        self.inner.delete_record(kind, run_id, key)
    }
    fn put_blob(&self, content: &str) -> samokoder_store::Result<String> {
        self.write()?;
        self.inner.put_blob(content)
    }
    fn get_blob(&self, hash: &str) -> samokoder_store::Result<Option<String>> {
        self.inner.get_blob(hash)
    }
}

#[tokio::test]
async fn a_store_that_cannot_be_written_stops_the_run_with_what_to_do() {
    let server = ScriptedLlm::routed(vec![
        ("you are the spec writer", Reply::text(SPEC_SIMPLE)),
        ("you are the code writer", Reply::text(WHOLE_SUM)),
    ]);
    let store = Arc::new(FailingStore { inner: MemStore::default(), writes_left: 4.into() });
    let b = Bench::with_store(&server, RecordingFrontend::default(), FakeSandbox::new(PASSING_TAP, 0), store);
    let err = format!("{:#}", generate(&b.ctx, &req("a sum")).await.unwrap_err());
    assert!(err.contains("No space left on device") && err.contains("free space or fix its permissions"), "{err}");
    assert!(b.sandbox.seen.lock().unwrap().is_empty(), "the run stopped where it could not commit");
}

#[tokio::test]
async fn a_spec_with_an_empty_summary_keeps_the_users_words() {
    let empty = SPEC_SIMPLE.replace("A sum function with a test.", "  ");
    let server = ScriptedLlm::routed(vec![
        ("you are the spec writer", Reply::text(empty)),
        ("you are the code writer", Reply::text(WHOLE_SUM)),
    ]);
    let b = Bench::new(&server, RecordingFrontend::default(), FakeSandbox::new(PASSING_TAP, 0));
    let outcome = generate(&b.ctx, &req("a function that sums  two numbers")).await.unwrap();
    assert_eq!(outcome.status, RunStatus::Succeeded, "{}", outcome.summary);
    assert_eq!(server.requests().len(), 2, "not asked again");
    assert!(b.frontend.file(".samokoder/spec.md").unwrap().contains("a function that sums two numbers"));
}

#[tokio::test]
async fn a_run_that_cannot_test_fails_before_its_first_model_call() {
    // No image and no registry to pull it from: said at once, with what to do, and no token spent.
    let server = ScriptedLlm::routed(vec![("you are the spec writer", Reply::text(SPEC_SIMPLE))]);
    let mut sandbox = FakeSandbox::new(PASSING_TAP, 0);
    sandbox.no_image = true;
    let b = Bench::new(&server, RecordingFrontend::default(), sandbox);
    let err = format!("{:#}", generate(&b.ctx, &req("a sum")).await.unwrap_err());
    assert!(
        err.contains("the sandbox is not ready, so nothing was asked of the model")
            && err.contains("the sandbox image `node:22-bookworm-slim` is not available and could not be pulled")
            && err.contains("set SAMOKODER_SANDBOX_IMAGE"),
        "{err}"
    );
    assert_eq!(server.requests().len(), 0);
}
