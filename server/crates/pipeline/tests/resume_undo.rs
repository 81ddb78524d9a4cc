//! Resume and undo: a run stopped at any point goes on from its last commit without repeating a model call
//! whose result was committed; a step or a whole run is undone as one change, and a file the user changed
//! since is not overwritten without saying so.

mod support;

use std::time::Duration;

use samokoder_pipeline::{RunContext, UndoRequest, generate, resume, undo};
use samokoder_store::{RecordKind, RunStatus};
use samokoder_test_utils::ScriptedLlm;
use support::*;

/// Runs `generate` until the frontend hangs on one of its applies, then drops the run there, as a kill
/// would stop it.
async fn generate_until_stuck(b: &Bench, ctx: &RunContext) {
    let request = req("a todo list");
    tokio::select! {
        outcome = generate(ctx, &request) => panic!("the run ended instead of stopping: {outcome:?}"),
        _ = b.frontend.blocked.notified() => {}
        _ = tokio::time::sleep(Duration::from_secs(30)) => panic!("the run never reached the point to stop at"),
    }
}

#[tokio::test]
async fn a_run_stopped_after_its_plan_and_again_mid_task_finishes_without_repeating_a_committed_call() {
    // Every route answers once: a model call made twice would find no reply and fail the run.
    let server = ScriptedLlm::routed(moderate_routes());
    let frontend = answered();
    frontend.hang_on.lock().unwrap().extend([".samokoder/plan.md".to_owned(), "src/format.js".to_owned()]);
    let b = Bench::new(&server, frontend, FakeSandbox::new(PASSING_TAP, 0));

    // Stopped while plan.md was being written: the plan itself is committed.
    generate_until_stuck(&b, &b.ctx).await;
    assert_eq!(b.store.records(RecordKind::PlanItem, &b.ctx.id.0).unwrap().len(), 2);
    assert!(b.frontend.file(".samokoder/plan.md").is_none(), "the stop came before plan.md landed");
    assert_eq!(b.store.get_run(&b.ctx.id.0).unwrap().unwrap().status, RunStatus::Running);

    // Resumed in a "new process": plan.md is written again from the record; the run goes on until it is
    // stopped again, this time while applying the second task's files (their drafts are committed).
    let second = b.restarted(&server);
    tokio::select! {
        outcome = resume(&second) => panic!("the resumed run ended instead of stopping: {outcome:?}"),
        _ = b.frontend.blocked.notified() => {}
        _ = tokio::time::sleep(Duration::from_secs(30)) => panic!("the resumed run never reached the second stop"),
    }
    drop(second);
    let drafts: Vec<String> =
        b.store.records(RecordKind::Draft, &b.ctx.id.0).unwrap().into_iter().map(|(k, _)| k).collect();
    assert_eq!(drafts, ["t2/000/src/format.js", "t2/000/test/format.test.js"]);
    assert!(b.frontend.file("src/todos.js").is_some() && b.frontend.file("src/format.js").is_none());

    let outcome = resume(&b.restarted(&server)).await.unwrap();
    assert_eq!(outcome.status, RunStatus::Succeeded, "{}", outcome.summary);
    assert!(b.frontend.file("src/format.js").unwrap().contains("format(todos)"));
    let asked = Bench::asked(&server);
    assert_eq!(asked.len(), 10, "each of the ten calls once: {asked:#?}");
    let run = b.store.get_run(&b.ctx.id.0).unwrap().unwrap();
    assert_eq!(run.status, RunStatus::Succeeded);
}

#[tokio::test]
async fn a_finished_run_is_not_resumed_and_an_unknown_one_is_named() {
    let server = ScriptedLlm::routed(moderate_routes());
    let b = Bench::new(&server, answered(), FakeSandbox::new(PASSING_TAP, 0));
    generate(&b.ctx, &req("a todo list")).await.unwrap();
    let err = format!("{:#}", resume(&b.restarted(&server)).await.unwrap_err());
    assert!(err.contains("already ended") && err.contains("start a new one"), "{err}");
    let mut other = b.restarted(&server);
    other.id = samokoder_pipeline::RunId("0000000000000-dead".into());
    let err = format!("{:#}", resume(&other).await.unwrap_err());
    assert!(err.contains("there is no run 0000000000000-dead") && err.contains("samokoder runs"), "{err}");
}

#[tokio::test]
async fn files_deleted_by_hand_while_a_run_was_stopped_are_put_back() {
    let server = ScriptedLlm::routed(moderate_routes());
    let frontend = answered();
    frontend.hang_on.lock().unwrap().push("src/format.js".to_owned());
    let b = Bench::new(&server, frontend, FakeSandbox::new(PASSING_TAP, 0));
    generate_until_stuck(&b, &b.ctx).await;
    b.frontend.files.lock().unwrap().remove("src/todos.js");
    b.frontend.files.lock().unwrap().remove(".samokoder/plan.md");
    let outcome = resume(&b.restarted(&server)).await.unwrap();
    assert_eq!(outcome.status, RunStatus::Succeeded, "{}", outcome.summary);
    assert!(b.frontend.file("src/todos.js").unwrap().contains("todos.push"), "put back from the run's record");
    let said = b.frontend.messages.lock().unwrap().join("\n");
    assert!(said.contains("were gone and are back") && said.contains("src/todos.js"), "{said}");
}

#[tokio::test]
async fn undo_of_a_step_and_of_the_whole_run() {
    let server = ScriptedLlm::routed(moderate_routes());
    let frontend = answered();
    frontend.files.lock().unwrap().insert("README.md".into(), "mine\n".into());
    let b = Bench::new(&server, frontend, FakeSandbox::new(PASSING_TAP, 0));
    generate(&b.ctx, &req("a todo list")).await.unwrap();
    let steps = b.store.steps(&b.ctx.id.0).unwrap();
    let second_code = steps.iter().rposition(|s| s.agent == "code_monkey").unwrap() as u32;
    let applies = *b.frontend.apply_count.lock().unwrap();

    // The second task's files go, and plan.md is unticked again; the first task's files stay.
    let outcome = undo(&b.restarted(&server), &UndoRequest { step: Some(second_code), force: false }).await.unwrap();
    assert!(
        outcome.summary.contains("undid run") && outcome.summary.contains(&format!("from step {second_code}")),
        "{}",
        outcome.summary
    );
    assert_eq!(*b.frontend.apply_count.lock().unwrap(), applies + 1, "one change set");
    assert!(b.frontend.file("src/format.js").is_none() && b.frontend.file("test/format.test.js").is_none());
    assert!(b.frontend.file("src/todos.js").is_some());
    let plan = b.frontend.file(".samokoder/plan.md").unwrap();
    assert!(plan.contains("- [x] A todo store") && plan.contains("- [ ] A formatter"), "{plan}");
    let log = b.frontend.log.lock().unwrap().clone();
    assert!(log.contains("src/format.js: deleted (the run created it; -3)"), "a diff summary first: {log}");

    // The whole run: back to the user's own README alone.
    undo(&b.restarted(&server), &UndoRequest { step: None, force: false }).await.unwrap();
    let left: Vec<String> = b.frontend.files.lock().unwrap().keys().cloned().collect();
    assert_eq!(left, ["README.md"]);
    // Undo twice: nothing left to do, and it says so.
    let again = undo(&b.restarted(&server), &UndoRequest { step: None, force: false }).await.unwrap();
    assert!(again.summary.contains("nothing to undo"), "{}", again.summary);
    let err =
        format!("{:#}", undo(&b.restarted(&server), &UndoRequest { step: Some(99), force: false }).await.unwrap_err());
    assert!(err.contains("there is no step 99"), "{err}");
}

#[tokio::test]
async fn a_file_changed_since_the_run_is_not_overwritten_without_saying_so() {
    let server = ScriptedLlm::routed(moderate_routes());
    let b = Bench::new(&server, answered(), FakeSandbox::new(PASSING_TAP, 0));
    generate(&b.ctx, &req("a todo list")).await.unwrap();
    b.frontend.files.lock().unwrap().insert("src/todos.js".into(), "// my own changes\n".into());

    // A terminal: refused, naming the file, nothing undone.
    let err =
        format!("{:#}", undo(&b.restarted(&server), &UndoRequest { step: None, force: false }).await.unwrap_err());
    assert!(err.contains("src/todos.js changed since the run wrote it") && err.contains("--force"), "{err}");
    assert!(b.frontend.file("src/format.js").is_some(), "nothing was undone");

    // An editor that can confirm: the change goes out marked for confirmation.
    let mut confirming = b.restarted(&server);
    let frontend = std::sync::Arc::new(RecordingFrontend { can_confirm: true, ..Default::default() });
    *frontend.files.lock().unwrap() = b.frontend.files.lock().unwrap().clone();
    confirming.frontend = frontend.clone();
    undo(&confirming, &UndoRequest { step: None, force: false }).await.unwrap();
    assert_eq!(frontend.confirmed.lock().unwrap().as_slice(), ["src/todos.js"]);
    assert!(frontend.file("src/todos.js").is_none(), "confirmed: the run's file is gone");

    // --force overwrites.
    undo(&b.restarted(&server), &UndoRequest { step: None, force: true }).await.unwrap();
    assert!(b.frontend.file("src/todos.js").is_none());
}

#[tokio::test]
async fn questions_an_editor_cannot_ask_wait_in_questions_md_and_the_run_resumes_with_the_answers() {
    // An editor without samokoder/ask or showMessageRequest (Helix): the file form.
    let server = ScriptedLlm::routed(moderate_routes());
    let frontend = RecordingFrontend { answer_in_file: true, ..Default::default() };
    let b = Bench::new(&server, frontend, FakeSandbox::new(PASSING_TAP, 0));
    let outcome = generate(&b.ctx, &req("a todo list with a text formatter")).await.unwrap();
    assert_eq!(outcome.status, RunStatus::Paused, "{}", outcome.summary);
    assert!(outcome.summary.contains(".samokoder/questions.md"), "{}", outcome.summary);
    let file = b.frontend.file(".samokoder/questions.md").unwrap();
    assert!(file.contains(&format!("Run {} ", b.ctx.id)), "{file}");
    assert!(
        file.contains("## 1. Where are todos kept?\n\nSuggestions: in memory; in a JSON file\n\nAnswer: \n"),
        "{file}"
    );
    assert!(b.frontend.shown.lock().unwrap().contains(&".samokoder/questions.md".to_owned()));
    assert_eq!(b.store.get_run(&b.ctx.id.0).unwrap().unwrap().status, RunStatus::Paused, "durable: in the store");

    // Submitted with the slot empty: reported, nothing guessed, still waiting, no model call.
    let calls = server.requests().len();
    let again = resume(&b.restarted(&server)).await.unwrap();
    assert_eq!(again.status, RunStatus::Paused);
    assert!(again.summary.contains("question(s) 1 in .samokoder/questions.md have no answer yet"), "{}", again.summary);
    assert_eq!(server.requests().len(), calls);

    // Answered (in the editor's buffer, unsaved): the run goes on, and the spec has the decision.
    let answered = file.replace("Answer: \n", "Answer: in a JSON file\n");
    b.frontend.files.lock().unwrap().insert(".samokoder/questions.md".into(), answered);
    let done = resume(&b.restarted(&server)).await.unwrap();
    assert_eq!(done.status, RunStatus::Succeeded, "{}", done.summary);
    let spec = b.frontend.file(".samokoder/spec.md").unwrap();
    assert!(spec.contains("Where are todos kept? **in a JSON file**"), "{spec}");
}
