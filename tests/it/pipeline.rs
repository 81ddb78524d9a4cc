//! The team through the real binary: over LSP and from a terminal, against a scripted OpenAI-compatible
//! server over HTTP and the real dockerd. A moderate description goes spec -> architecture -> a two-task plan
//! -> files written in parallel -> tests, green; the process killed with SIGKILL after the plan and again
//! mid-task resumes without repeating a committed call; undo over LSP is one applyEdit; a second process on
//! the workspace gets a clear error.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use samokoder_test_utils::{Reply, ScriptedLlm, docker_available};
use serde_json::{Value, json};

use crate::support::{Sandboxed, bin};

const SPEC: &str = r#"{"complexity": "moderate", "summary": "A todo store and a text formatter for it.", "features": ["add and list todos", "format todos as numbered lines"], "assumptions": [], "questions": [{"question": "Where are todos kept?", "suggestions": ["in memory", "in a JSON file"]}]}"#;
const SPEC_REVISED: &str = r#"{"complexity": "moderate", "summary": "A todo store kept in memory, and a text formatter.", "features": ["add and list todos", "format todos as numbered lines"], "assumptions": [], "questions": []}"#;
const ARCHITECTURE: &str =
    r#"{"template": "node", "why": "Plain Node modules are enough.", "packages": [], "system_needs": []}"#;
const PLAN: &str = r#"{"epics": [{"name": "Todos", "tasks": [{"title": "A todo store", "description": "src/todos.js with add(title) and list()", "test": "test/todos.test.js"}, {"title": "A formatter", "description": "src/format.js with format(todos)", "test": "test/format.test.js"}]}]}"#;
const DEV_STORE: &str = r#"{"steps": [{"description": "the store and its test", "files": [{"path": "package.json", "instruction": "type module, test script node --test"}, {"path": "src/todos.js", "instruction": "export function add(title), export function list()"}, {"path": "test/todos.test.js", "instruction": "tests add and list"}], "commands": []}]}"#;
const DEV_FORMAT: &str = r#"{"steps": [{"description": "the formatter and its test", "files": [{"path": "src/format.js", "instruction": "export function format(todos)"}, {"path": "test/format.test.js", "instruction": "tests format"}], "commands": []}]}"#;

fn file(path: &str, lang: &str, body: &str) -> Reply {
    Reply::text(format!("{path}\n```{lang}\n{body}\n```\n"))
}

fn package() -> Reply {
    file("package.json", "json", r#"{"type": "module", "scripts": {"test": "node --test"}}"#)
}
fn todos() -> Reply {
    file(
        "src/todos.js",
        "js",
        "const todos = [];\nexport function add(title) {\n  const todo = { id: todos.length + 1, title, done: false };\n  todos.push(todo);\n  return todo;\n}\nexport function list() {\n  return [...todos];\n}",
    )
}
fn todos_test() -> Reply {
    file(
        "test/todos.test.js",
        "js",
        "import { test } from 'node:test';\nimport assert from 'node:assert/strict';\nimport { add, list } from '../src/todos.js';\ntest('adds and lists', () => {\n  add('milk');\n  assert.deepEqual(list().map((t) => t.title), ['milk']);\n});",
    )
}
fn format() -> Reply {
    file(
        "src/format.js",
        "js",
        "export function format(todos) {\n  return todos.map((t, i) => `${i + 1}. ${t.title}`).join('\\n');\n}",
    )
}
fn format_test() -> Reply {
    file(
        "test/format.test.js",
        "js",
        "import { test } from 'node:test';\nimport assert from 'node:assert/strict';\nimport { format } from '../src/format.js';\ntest('numbers lines', () => {\n  assert.equal(format([{ title: 'a' }, { title: 'b' }]), '1. a\\n2. b');\n});",
    )
}

pub(crate) fn routes() -> Vec<(&'static str, Reply)> {
    vec![
        ("you are the spec writer. The user asked for", Reply::text(SPEC)),
        ("Write the spec again", Reply::text(SPEC_REVISED)),
        ("you are the architect", Reply::text(ARCHITECTURE)),
        ("you are the tech lead", Reply::text(PLAN)),
        ("Task: A todo store", Reply::text(DEV_STORE)),
        ("Task: A formatter", Reply::text(DEV_FORMAT)),
        ("Write the file package.json", package()),
        ("Write the file src/todos.js", todos()),
        ("Write the file test/todos.test.js", todos_test()),
        ("Write the file src/format.js", format()),
        ("Write the file test/format.test.js", format_test()),
    ]
}

/// How many requests' last user message contains `key`.
fn count(llm: &ScriptedLlm, key: &str) -> usize {
    llm.requests().iter().filter(|r| r.last_user_message().contains(key)).count()
}

#[tokio::test]
async fn over_lsp_a_moderate_description_becomes_a_green_two_task_project_and_undo_is_one_edit() {
    if !docker_available() {
        return;
    }
    let llm = ScriptedLlm::routed(routes());
    let s = Sandboxed::new();
    let mut options = s.options(Some(&llm));
    options.ask_answers = vec!["in memory".into()];
    let client = s.spawn(options);
    client.initialize().await.unwrap();
    let run = client
        .request(
            "workspace/executeCommand",
            json!({"command": "samokoder.generate", "arguments": [{"description": "a todo list with a text formatter"}]}),
        )
        .await
        .unwrap();
    let run_id = run["runId"].as_str().unwrap().to_owned();
    let end = client
        .wait_for(Duration::from_secs(180), "the run's end", |m| {
            m["method"] == "$/progress"
                && m["params"]["token"] == format!("samokoder/{run_id}")
                && m["params"]["value"]["kind"] == "end"
        })
        .await
        .unwrap();
    assert_eq!(end["params"]["value"]["message"], "built 2 tasks; tests pass (2 passed)", "{end}");

    // The question went to the user through samokoder/ask; the answer is in the spec.
    let ask = client.messages().into_iter().find(|m| m["method"] == "samokoder/ask").expect("samokoder/ask");
    assert_eq!(ask["params"]["question"], "Where are todos kept?");
    assert!(client.buffer(".samokoder/spec.md").unwrap().contains("Where are todos kept? **in memory**"));
    // spec.md and plan.md were shown; progress named each agent.
    let shown: Vec<String> = client
        .messages()
        .iter()
        .filter(|m| m["method"] == "window/showDocument")
        .map(|m| m["params"]["uri"].as_str().unwrap_or("").to_owned())
        .collect();
    assert!(
        shown.iter().any(|u| u.ends_with(".samokoder/spec.md"))
            && shown.iter().any(|u| u.ends_with(".samokoder/plan.md")),
        "{shown:?}"
    );
    let reports: Vec<String> = client
        .messages()
        .iter()
        .filter(|m| m["method"] == "$/progress" && m["params"]["value"]["kind"] == "report")
        .map(|m| m["params"]["value"]["message"].as_str().unwrap_or("").to_owned())
        .collect();
    for agent in [
        "spec writer",
        "architect",
        "tech lead",
        "developer: planning the steps: t1",
        "code writer: writing files: 1/1",
        "executor: running the tests: t2",
    ] {
        assert!(reports.iter().any(|r| r.starts_with(agent)), "no progress from {agent}: {reports:#?}");
    }
    // Once there is a plan, reports carry the share of its tasks whose tests pass: 0, then 50 (t1 of two).
    let shares: Vec<u64> = client
        .messages()
        .iter()
        .filter(|m| m["method"] == "$/progress" && m["params"]["value"]["kind"] == "report")
        .filter_map(|m| m["params"]["value"]["percentage"].as_u64())
        .collect();
    assert!(shares.windows(2).all(|w| w[0] <= w[1]), "{shares:?}");
    assert!(shares.contains(&0) && shares.contains(&50), "{shares:?}");
    // Every call once; the plan ticked; the files in the client's buffers only.
    assert_eq!(llm.requests().len(), 11);
    assert!(client.buffer(".samokoder/plan.md").unwrap().contains("- [x] A formatter <!-- id:t2 -->"));
    assert!(client.buffer("src/format.js").is_some() && !s.root().join("src/format.js").exists());
    let runs = client.request("samokoder/runs", json!({})).await.unwrap();
    assert_eq!(runs["runs"][0]["status"], "succeeded", "{runs}");

    // Undo the whole run: one workspace/applyEdit that deletes what the run created.
    let edits_before = client.messages().iter().filter(|m| m["method"] == "workspace/applyEdit").count();
    client
        .request("workspace/executeCommand", json!({"command": "samokoder.undo", "arguments": [{"runId": run_id}]}))
        .await
        .unwrap();
    client
        .wait_notification("window/showMessage", Duration::from_secs(30), |p| {
            p["message"].as_str().is_some_and(|t| t.starts_with("Samokoder: undid run"))
        })
        .await
        .unwrap();
    let edits: Vec<Value> =
        client.messages().into_iter().filter(|m| m["method"] == "workspace/applyEdit").skip(edits_before).collect();
    assert_eq!(edits.len(), 1, "one change set: {edits:#?}");
    let deleted = edits[0]["params"]["edit"]["documentChanges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["kind"] == "delete")
        .count();
    assert_eq!(deleted, 8, "spec, architecture, plan and five project files: {}", edits[0]);
    assert!(client.buffer("src/format.js").is_none() && client.buffer(".samokoder/plan.md").is_none());
    assert_eq!(client.shutdown_and_exit().await.unwrap().code(), Some(0));
}

/// Waits, polling, until `done` holds.
async fn until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn headless(s: &Sandboxed, llm: &ScriptedLlm, args: &[&str]) -> Command {
    let mut cmd = Command::new(bin());
    cmd.args(args).current_dir(s.root()).envs(s.env(Some(llm)));
    cmd
}

#[tokio::test]
async fn killed_after_the_plan_and_mid_task_the_run_resumes_without_repeating_a_committed_call() {
    if !docker_available() {
        return;
    }
    let slow = |reply: Reply| Reply::Delayed(Duration::from_secs(120), Box::new(reply));
    let mut routes = routes();
    // The first developer call and the first test-file call never answer in time: the process dies there.
    let dev = routes.iter().position(|(k, _)| *k == "Task: A todo store").unwrap();
    routes.insert(dev, ("Task: A todo store", slow(Reply::text(DEV_STORE))));
    let test_file = routes.iter().position(|(k, _)| *k == "Write the file test/todos.test.js").unwrap();
    routes.insert(test_file, ("Write the file test/todos.test.js", slow(todos_test())));
    let llm = ScriptedLlm::routed(routes);
    let s = Sandboxed::new();
    let root = s.root().to_str().unwrap().to_owned();

    // 1. Killed while the developer thinks: the plan is committed (plan.md is on disk).
    let mut first = headless(&s, &llm, &["generate", "a todo list with a text formatter", "--yes", "--dir", &root])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    until("the developer's call", Duration::from_secs(60), || count(&llm, "Task: A todo store") == 1).await;
    assert!(s.root().join(".samokoder/plan.md").exists());
    first.kill().unwrap(); // SIGKILL
    first.wait().unwrap();

    // A server started on the workspace says a run did not finish, and how to resume it.
    let client = s.spawn(s.options(Some(&llm)));
    client.initialize().await.unwrap();
    let note = client
        .wait_notification("window/showMessage", Duration::from_secs(10), |p| {
            p["message"].as_str().is_some_and(|t| t.contains("did not finish"))
        })
        .await
        .unwrap();
    assert!(note["message"].as_str().unwrap().contains("samokoder.resume"), "{note}");
    // While it holds the workspace, a terminal command gets a clear error, and the store stays whole.
    let locked = headless(&s, &llm, &["runs", "--dir", &root]).output().unwrap();
    assert_eq!(locked.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&locked.stderr).contains("in use by another samokoder"), "{locked:?}");
    assert_eq!(client.shutdown_and_exit().await.unwrap().code(), Some(0));

    // 2. Resumed, and killed again mid-task: src/todos.js is written (its draft committed), its test is not.
    let mut second = headless(&s, &llm, &["resume", "--yes", "--dir", &root])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    until("the test file's call", Duration::from_secs(60), || count(&llm, "Write the file test/todos.test.js") == 1)
        .await;
    until("the step's other files answered", Duration::from_secs(10), || {
        count(&llm, "Write the file src/todos.js") == 1 && count(&llm, "Write the file package.json") == 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await; // its draft is committed right after its answer
    second.kill().unwrap();
    second.wait().unwrap();

    // 3. Resumed to the end: green.
    let third = headless(&s, &llm, &["resume", "--yes", "--dir", &root]).output().unwrap();
    let stdout = String::from_utf8_lossy(&third.stdout);
    assert_eq!(third.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&third.stderr));
    assert!(stdout.contains("built 2 tasks; tests pass"), "{stdout}");

    // The scripted server's log: every committed call once; only the two calls cut by a kill again.
    for (key, times) in [
        ("you are the spec writer", 1),
        ("you are the architect", 1),
        ("you are the tech lead", 1),
        ("Task: A todo store", 2),
        ("Write the file src/todos.js", 1),
        ("Write the file package.json", 1),
        ("Write the file test/todos.test.js", 2),
        ("Task: A formatter", 1),
        ("Write the file src/format.js", 1),
    ] {
        assert_eq!(count(&llm, key), times, "{key}");
    }
    let runs = headless(&s, &llm, &["runs", "--dir", &root]).output().unwrap();
    let listing = String::from_utf8_lossy(&runs.stdout);
    assert!(listing.contains("generate") && listing.contains("succeeded"), "{listing}");

    // Undo from a terminal: the run's files are gone from disk.
    let run_id = listing.lines().nth(1).unwrap().split_whitespace().next().unwrap().to_owned();
    let undone = headless(&s, &llm, &["undo", &run_id, "--dir", &root]).output().unwrap();
    assert_eq!(undone.status.code(), Some(0), "{}", String::from_utf8_lossy(&undone.stderr));
    assert!(!s.root().join("src/todos.js").exists() && !s.root().join(".samokoder/plan.md").exists());
    assert!(String::from_utf8_lossy(&undone.stderr).contains("src/todos.js: deleted"), "a diff summary first");
}
