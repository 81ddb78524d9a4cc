//! The team, end to end, against scripted transcripts (real HTTP), a fake sandbox and a frontend that plays
//! the editor and the user.

mod support;

use samokoder_pipeline::generate;
use samokoder_store::{RecordKind, RunStatus};
use samokoder_test_utils::{Reply, ScriptedLlm};
use support::*;

#[tokio::test]
async fn a_simple_request_is_one_task_written_in_one_call_and_tested() {
    let server = ScriptedLlm::routed(vec![
        ("you are the spec writer", Reply::text(SPEC_SIMPLE)),
        ("you are the code writer", Reply::text(WHOLE_SUM)),
    ]);
    let b = Bench::new(&server, RecordingFrontend::default(), FakeSandbox::new(PASSING_TAP, 0));
    let outcome = generate(&b.ctx, &req("a function that sums two numbers, with tests")).await.unwrap();
    assert_eq!(outcome.status, RunStatus::Succeeded, "{}", outcome.summary);
    assert_eq!(outcome.files, ["package.json", "src/sum.js", "test/sum.test.js"]);
    assert_eq!(server.requests().len(), 2, "a simple request: the spec, then the code in one call");
    let spec = b.frontend.file(".samokoder/spec.md").unwrap();
    assert!(spec.contains("A sum function with a test.") && spec.contains("Complexity: simple"), "{spec}");
    let plan = b.frontend.file(".samokoder/plan.md").unwrap();
    assert!(plan.contains("- [x] a function that sums two numbers, with tests <!-- id:t1 -->"), "ticked: {plan}");
    assert!(b.frontend.file(".samokoder/architecture.md").unwrap().contains("Template: **node**"));
    assert_eq!(
        b.frontend.shown.lock().unwrap().as_slice(),
        [".samokoder/spec.md", ".samokoder/architecture.md", ".samokoder/plan.md", ".samokoder/plan.md"]
    );
    // The tests ran on what the editor holds.
    let (command, overlay) = b.sandbox.seen.lock().unwrap().iter().find(|(c, _)| c == "node --test").cloned().unwrap();
    assert_eq!(command, "node --test");
    assert!(overlay["src/sum.js"].contains("return a + b"));
    // The test output, streamed in pieces, reached the log in whole lines.
    let entries = b.frontend.log_entries.lock().unwrap().clone();
    let executor: Vec<&str> = entries.iter().filter(|(a, _)| a == "executor").map(|(_, t)| t.as_str()).collect();
    assert!(executor.iter().all(|t| t.ends_with('\n')), "{executor:?}");
    assert!(executor.contains(&"TAP version 13\n"), "{executor:?}");
    let agents: Vec<String> = b.store.steps(&b.ctx.id.0).unwrap().into_iter().map(|s| s.agent).collect();
    assert_eq!(agents, ["spec_writer", "architect", "tech_lead", "code_monkey", "executor", "executor"]);
    let run = b.store.get_run(&b.ctx.id.0).unwrap().unwrap();
    assert_eq!((run.status, run.kind.as_str()), (RunStatus::Succeeded, "generate"));
    assert!(run.prompt_tokens > 0, "tokens are recorded on the run");
}

#[tokio::test]
async fn a_moderate_request_goes_through_every_agent_with_files_in_parallel() {
    let server = ScriptedLlm::routed(moderate_routes());
    let frontend =
        RecordingFrontend { can_ask: true, answers: Mutex::new(["in memory".to_owned()].into()), ..Default::default() };
    let b = Bench::new(&server, frontend, FakeSandbox::new(PASSING_TAP, 0));
    let outcome = generate(&b.ctx, &req("a todo list with a text formatter")).await.unwrap();
    assert_eq!(outcome.status, RunStatus::Succeeded, "{}", outcome.summary);
    assert_eq!(outcome.summary, "built 2 tasks; tests pass (1 passed)");
    // The spec writer asked its question, with its suggestions, and wrote the answer into the spec.
    let asked = b.frontend.asked.lock().unwrap().clone();
    assert_eq!(
        asked,
        [("Where are todos kept?".to_owned(), vec!["in memory".to_owned(), "in a JSON file".to_owned()])]
    );
    let spec = b.frontend.file(".samokoder/spec.md").unwrap();
    assert!(spec.contains("## Decisions") && spec.contains("Where are todos kept? **in memory**"), "{spec}");
    // Progress carries the plan's share of passed tasks once there is a plan: none, then one of two.
    let percentages: Vec<u32> = b
        .frontend
        .progress
        .lock()
        .unwrap()
        .iter()
        .filter_map(|p| match p {
            samokoder_pipeline::Progress::Report { percentage, .. } => *percentage,
            _ => None,
        })
        .collect();
    assert!(percentages.contains(&0) && percentages.contains(&50), "{percentages:?}");
    assert!(spec.contains("kept in memory"), "the revised spec: {spec}");
    // Every agent was asked once, and each file on its own.
    let asked = Bench::asked(&server);
    assert_eq!(asked.len(), 10, "{asked:#?}");
    for file in ["src/todos.js", "test/todos.test.js", "src/format.js", "test/format.test.js"] {
        assert!(b.frontend.file(file).is_some(), "{file} was written");
    }
    // The developer of the second task knew the first was done; a file writer saw its sibling's instruction.
    let dev2 = asked.iter().find(|a| a.contains("Task: A formatter")).unwrap();
    assert!(dev2.contains("Already done: A todo store."), "{dev2}");
    let test_writer = asked.iter().find(|a| a.contains("Write the file test/todos.test.js")).unwrap();
    assert!(test_writer.contains("- src/todos.js: export function add(title)"), "{test_writer}");
    // Both tasks ticked in plan.md; every agent's result is its own record.
    let plan = b.frontend.file(".samokoder/plan.md").unwrap();
    assert!(
        plan.contains("- [x] A todo store <!-- id:t1 -->") && plan.contains("- [x] A formatter <!-- id:t2 -->"),
        "{plan}"
    );
    let tasks = b.store.records(RecordKind::Task, &b.ctx.id.0).unwrap();
    assert_eq!(tasks.len(), 2);
    assert_eq!(b.store.records(RecordKind::PlanItem, &b.ctx.id.0).unwrap().len(), 2);
    assert_eq!(b.store.records(RecordKind::Question, &b.ctx.id.0).unwrap().len(), 1);
    assert!(b.store.records(RecordKind::Draft, &b.ctx.id.0).unwrap().is_empty(), "drafts are gone once applied");
    // One change set per step: 2 files each, applied together.
    let steps = b.store.steps(&b.ctx.id.0).unwrap();
    let written: Vec<Vec<String>> =
        steps.iter().filter(|s| s.agent == "code_monkey").map(|s| s.files.clone()).collect();
    assert_eq!(
        written,
        [
            vec!["src/todos.js".to_owned(), "test/todos.test.js".into()],
            vec!["src/format.js".into(), "test/format.test.js".into()]
        ]
    );
    assert_eq!(b.sandbox.commands(), ["node --test", "node --test"], "tests after each task");
}

#[tokio::test]
async fn with_no_one_to_answer_questions_become_assumptions() {
    let mut routes = moderate_routes();
    routes.retain(|(k, _)| !k.contains("Write the spec again"));
    let server = ScriptedLlm::routed(routes);
    let b = Bench::new(&server, RecordingFrontend::default(), FakeSandbox::new(PASSING_TAP, 0));
    let outcome = generate(&b.ctx, &req("a todo list with a text formatter")).await.unwrap();
    assert_eq!(outcome.status, RunStatus::Succeeded, "{}", outcome.summary);
    let first = &Bench::asked(&server)[0];
    assert!(first.contains("Ask no questions (nobody can answer them now)"), "{first}");
    assert!(b.frontend.asked.lock().unwrap().is_empty(), "nobody was asked");
    let spec = b.frontend.file(".samokoder/spec.md").unwrap();
    assert!(spec.contains("Where are todos kept? Assumed: in memory."), "{spec}");
}

#[tokio::test]
async fn tests_that_stay_failing_end_the_run_with_the_failures_listed() {
    let server = ScriptedLlm::routed(vec![
        ("you are the spec writer", Reply::text(SPEC_SIMPLE)),
        ("you are the code writer", Reply::text(WHOLE_SUM)),
        // A fix that changes nothing about the failure, then one hotter try that changes nothing either:
        // with no one to ask, the loop stops.
        ("you are the troubleshooter", Reply::text(NO_HELP_FIX)),
        ("you are the troubleshooter", Reply::text(NO_HELP_FIX_BACK)),
    ]);
    let b = Bench::new(&server, RecordingFrontend::default(), FakeSandbox::new(FAILING_TAP, 1));
    let outcome = generate(&b.ctx, &req("a sum function")).await.unwrap();
    assert_eq!(outcome.status, RunStatus::TestsFailed);
    assert!(
        outcome.summary.contains("1 test failed") && outcome.summary.contains("test/sum.test.js:6: adds: boom"),
        "{}",
        outcome.summary
    );
    let report = &b.frontend.reports.lock().unwrap()[0];
    assert_eq!((report.failures[0].file.as_deref(), report.failures[0].line), (Some("test/sum.test.js"), Some(6)));
    assert!(b.frontend.file(".samokoder/plan.md").unwrap().contains("- [ ] a sum function"), "not ticked");
    let temperatures: Vec<f64> = server
        .requests()
        .iter()
        .filter(|r| r.last_user_message().contains("you are the troubleshooter"))
        .map(|r| r.body["temperature"].as_f64().unwrap_or(0.0))
        .collect();
    assert_eq!(temperatures.len(), 2, "{temperatures:?}");
    assert!(temperatures[1] > temperatures[0], "the second try is sampled hotter: {temperatures:?}");
}

#[tokio::test]
async fn the_project_rules_reach_every_agent() {
    let server = ScriptedLlm::routed(moderate_routes());
    let frontend =
        RecordingFrontend { can_ask: true, answers: Mutex::new(["in memory".to_owned()].into()), ..Default::default() };
    frontend.files.lock().unwrap().insert(".samokoder/rules.md".into(), "Use tabs, never spaces.\n".into());
    let b = Bench::new(&server, frontend, FakeSandbox::new(PASSING_TAP, 0));
    generate(&b.ctx, &req("a todo list")).await.unwrap();
    for request in server.requests() {
        assert!(request.last_user_message().contains("Use tabs, never spaces."), "{}", request.last_user_message());
    }
}

#[tokio::test]
async fn an_empty_description_is_refused_before_any_call() {
    let server = ScriptedLlm::start(vec![]);
    let b = Bench::new(&server, RecordingFrontend::default(), FakeSandbox::new("", 0));
    let err = format!("{:#}", generate(&b.ctx, &req("  ")).await.unwrap_err());
    assert!(err.contains("give a description"), "{err}");
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn a_refused_edit_stops_the_run_and_nothing_is_tested() {
    let server = ScriptedLlm::routed(vec![("you are the spec writer", Reply::text(SPEC_SIMPLE))]);
    let b = Bench::new(&server, RecordingFrontend { refuse: true, ..Default::default() }, FakeSandbox::new("", 0));
    let err = format!("{:#}", generate(&b.ctx, &req("x")).await.unwrap_err());
    assert!(err.contains("did not apply") && err.contains("declined") && err.contains("nothing was written"), "{err}");
    assert!(b.sandbox.seen.lock().unwrap().is_empty());
    assert_eq!(b.store.get_run(&b.ctx.id.0).unwrap().unwrap().status, RunStatus::Failed);
}

use std::sync::Mutex;

#[tokio::test]
async fn one_shot_is_one_call_and_no_tests() {
    let server = ScriptedLlm::routed(vec![("you are the code writer", Reply::text(WHOLE_SUM))]);
    let b = Bench::new(&server, RecordingFrontend::default(), FakeSandbox::new(PASSING_TAP, 0));
    let request = samokoder_pipeline::GenerateRequest { one_shot: true, ..req("a sum function") };
    let outcome = generate(&b.ctx, &request).await.unwrap();
    assert_eq!(outcome.summary, "wrote 3 file(s) in one call, untested");
    assert_eq!(server.requests().len(), 1);
    assert!(b.sandbox.commands().is_empty(), "no tests in one shot");
    assert!(b.frontend.file("src/sum.js").is_some() && b.frontend.file(".samokoder/spec.md").is_none());
}

#[tokio::test]
async fn an_existing_file_of_some_length_is_changed_by_blocks_not_written_again_whole() {
    // src/todos.js exists with 60 lines; the step changes one of them: the code writer is asked for blocks.
    let existing: String = (0..60).map(|i| format!("export const note{i} = {i};\n")).collect::<String>()
        + "export function add(title) {\n  return title;\n}\n";
    let block = "src/todos.js\n<<<<<<< SEARCH\nexport function add(title) {\n  return title;\n}\n=======\nconst todos = [];\nexport function add(title) {\n  todos.push(title);\n  return title;\n}\nexport function list() {\n  return todos;\n}\n>>>>>>> REPLACE\n";
    let mut routes = moderate_routes();
    routes.retain(|(key, _)| !key.contains("src/todos.js"));
    routes.push(("Change the file src/todos.js", samokoder_test_utils::Reply::text(block)));
    let server = ScriptedLlm::routed(routes);
    let frontend = answered();
    frontend.files.lock().unwrap().insert("src/todos.js".into(), existing.clone());
    let b = Bench::new(&server, frontend, FakeSandbox::new(PASSING_TAP, 0));
    let outcome = generate(&b.ctx, &req("a todo list with a text formatter")).await.unwrap();
    assert_eq!(outcome.status, RunStatus::Succeeded, "{}", outcome.summary);
    let todos = b.frontend.file("src/todos.js").unwrap();
    assert!(todos.starts_with(&existing[..existing.find("export function add").unwrap()]), "the rest is as it was");
    assert!(todos.contains("  todos.push(title);\n") && todos.contains("export function list()"), "{todos}");
    let asked = Bench::asked(&server);
    let prompt = asked.iter().find(|a| a.contains("Change the file src/todos.js")).expect("asked for blocks");
    assert!(prompt.contains("export const note59 = 59;"), "the file is shown: {prompt}");
    assert!(!asked.iter().any(|a| a.contains("Write the file src/todos.js")), "not asked for the whole file");
}
