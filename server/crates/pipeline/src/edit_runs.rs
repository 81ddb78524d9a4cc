//! The runs that change an existing project in place: `implement` (a `TODO(samokoder): ...` comment or a
//! selection becomes code, then the tests run and the fix loop follows), `fix` (a diagnostic, or the
//! failing tests: the fix loop until the tests pass) and `tests` (a new test file for a file of the user's,
//! then the tests run and the fix loop corrects the new tests, not the user's code). Each is one task, `t1`,
//! driven by the same state machine and the same loop rules as a generate run, so it is durable, resumable
//! and undoable the same way.

use anyhow::Result;
use samokoder_store::{RecordKind, get_typed, put_typed};

use crate::agents::checks::Checks;
use crate::agents::implementer::EditRequest;
use crate::fix_loop::{Decision, decide};
use crate::orchestrator::{Next, drive};
use crate::run::{new_record, recorded};
use crate::state::{PlanTask, RunState, TaskOutcome, TaskProgress, save_task};
use crate::{RunContext, RunOutcome};

const TASK: &str = "t1";

/// `samokoder.implement {uri, range, instruction?}` / `samokoder implement FILE:LINE`.
#[tracing::instrument(skip_all, fields(run = %ctx.id))]
pub async fn implement(ctx: &RunContext, request: &EditRequest) -> Result<RunOutcome> {
    let record = new_record(
        ctx,
        "implement",
        &format!("{}:{}: {}", request.path, request.start_line, request.instruction),
        None,
    );
    ctx.store.put_run(&record)?;
    put_typed(&*ctx.store, RecordKind::Spec, &ctx.id.0, "request", request)?;
    recorded(ctx, record.clone(), "Samokoder: implement", drive(ctx, &record)).await
}

/// `samokoder.generateTests {uri}` / `samokoder tests FILE`: tests for the file `path`.
#[tracing::instrument(skip_all, fields(run = %ctx.id))]
pub async fn generate_tests(ctx: &RunContext, path: &str) -> Result<RunOutcome> {
    let request =
        EditRequest { path: path.to_owned(), start_line: 1, end_line: 1, instruction: format!("tests for {path}") };
    let record = new_record(ctx, "tests", &request.instruction, None);
    ctx.store.put_run(&record)?;
    put_typed(&*ctx.store, RecordKind::Spec, &ctx.id.0, "request", &request)?;
    recorded(ctx, record.clone(), "Samokoder: generate tests", drive(ctx, &record)).await
}

/// `samokoder.fix {uri, diagnostic}` / `samokoder fix [FILE:LINE]`: `request` names a diagnostic to fix; without
/// one, the failing tests.
#[tracing::instrument(skip_all, fields(run = %ctx.id))]
pub async fn fix(ctx: &RunContext, request: Option<&EditRequest>) -> Result<RunOutcome> {
    let what = match request {
        Some(r) => format!("{}:{}: {}", r.path, r.start_line, r.instruction),
        None => "the failing tests".to_owned(),
    };
    let record = new_record(ctx, "fix", &what, None);
    ctx.store.put_run(&record)?;
    if let Some(request) = request {
        put_typed(&*ctx.store, RecordKind::Spec, &ctx.id.0, "request", request)?;
    }
    recorded(ctx, record.clone(), "Samokoder: fix", drive(ctx, &record)).await
}

fn request(ctx: &RunContext) -> Result<Option<EditRequest>> {
    Ok(get_typed(&*ctx.store, RecordKind::Spec, &ctx.id.0, "request")?)
}

fn task(request: Option<&EditRequest>) -> PlanTask {
    PlanTask {
        id: Some(TASK.to_owned()),
        epic: String::new(),
        title: request.map_or_else(|| "the failing tests".to_owned(), |r| r.instruction.clone()),
        description: request.map(|r| format!("in {} at line {}", r.path, r.start_line)).unwrap_or_default(),
        test: String::new(),
        done: false,
        line: 0,
    }
}

pub(crate) fn next(ctx: &RunContext, state: &RunState, kind: &str) -> Result<Next> {
    let request = request(ctx)?;
    let task = task(request.as_ref());
    let Some(progress) = state.task(TASK) else {
        return Ok(match (kind, request) {
            ("implement", Some(request)) => Next::Implement(request),
            ("tests", Some(request)) => Next::WriteTests(request),
            _ => Next::StartFix,
        });
    };
    if progress.skipped {
        return Ok(Next::Done);
    }
    let Some(outcome) = &progress.outcome else { return Ok(Next::Test(task)) };
    if outcome.passed {
        // A diagnostic that is not a failing test (a type error another server reported) is still to fix.
        return Ok(match request {
            Some(request) if kind == "fix" && progress.fixes.is_empty() && !progress.seeded => {
                Next::SeedDiagnostic(request)
            }
            Some(request) if kind == "fix" && progress.seeded && !progress.verified => Next::VerifyDiagnostic(request),
            // The cases the comments name, tested, while the loop can still act on what they find.
            // When candidates were chosen by running them, only where that points: they disagreed and nothing
            // settled it, or a fix was needed (the code met what was stated only after the loop).
            request
                if !progress.cases_checked
                    && ((kind == "implement" && request.is_some()) || (kind == "fix" && request.is_none()))
                    && (ctx.settings.candidates <= 1 || progress.disputed || !progress.fixes.is_empty())
                    && crate::fix_loop::iterations(state) < ctx.settings.max_fix_iterations =>
            {
                Next::CaseTests(request)
            }
            _ => Next::Done,
        });
    }
    Ok(match decide(ctx, state, progress, outcome) {
        Decision::Stop(why) if progress.cases_written.is_some() && progress.cases_undone.is_none() => {
            Next::UndoCases(why)
        }
        Decision::Stop(why) => Next::Failed(task, outcome.clone(), why),
        decision => Next::Fix(task, decision),
    })
}

/// A fix run's task: nothing to write first, a project without tests is fine.
pub(crate) fn start_fix(ctx: &RunContext) -> Result<()> {
    let mut progress = TaskProgress::new(TASK);
    progress.steps = Some(Vec::new());
    progress.no_tests_ok = true;
    save_task(&*ctx.store, &ctx.id.0, &progress)
}

/// The tests pass, but the diagnostic was not one of them: it becomes the failure the troubleshooter fixes
/// (again, with `still` saying which check still reports it).
pub(crate) fn seed(ctx: &RunContext, state: &RunState, request: &EditRequest, still: Option<&str>) -> Result<()> {
    let Some(mut progress) = state.task(TASK).cloned() else { return Ok(()) };
    let failure = format!("{}:{}: {}", request.path, request.start_line, request.instruction);
    progress.outcome = Some(TaskOutcome {
        passed: false,
        summary: match still {
            Some(check) => format!("still reported by {check}: {failure}"),
            None => format!("to fix: {failure}"),
        },
        failures: vec![failure],
        failed: 1,
        passed_count: progress.outcome.as_ref().map_or(0, |o| o.passed_count),
        stated_failed: 0,
        output: String::new(),
    });
    progress.seeded = true;
    save_task(&*ctx.store, &ctx.id.0, &progress)
}

/// After a fix of a seeded diagnostic, with the tests passing: the checks that follow every write run on the
/// diagnostic's file (`tsc --noEmit` in the nearest project with a tsconfig.json, `node --check`), and a
/// diagnostic they still report is the failure again, under the loop's rules (the same failure twice
/// escalates). A diagnostic no check of ours can see (a linter's, say) counts as gone when the tests pass.
pub(crate) async fn verify(ctx: &RunContext, state: &RunState, request: &EditRequest) -> Result<()> {
    let Some(mut progress) = state.task(TASK).cloned() else { return Ok(()) };
    let project = request
        .path
        .match_indices('/')
        .map(|(i, _)| &request.path[..i])
        .rev()
        .find(|dir| crate::agents::read_file(ctx, &format!("{dir}/tsconfig.json")).is_some());
    let checks = Checks::for_write(ctx, std::slice::from_ref(&request.path), project);
    let problems = checks.run(ctx).await?;
    let reported = problems.get(&request.path).into_iter().flatten().any(|p| {
        let message = p.message();
        !message.is_empty() && request.instruction.contains(message)
    });
    if reported {
        let check = if checks.tsc.is_some() { "tsc --noEmit" } else { "node --check" };
        ctx.frontend.log(&ctx.id, "executor", &format!("{}: {check} still reports it\n", request.path));
        return seed(ctx, state, request, Some(check));
    }
    progress.verified = true;
    save_task(&*ctx.store, &ctx.id.0, &progress)
}

pub(crate) fn summary(state: &RunState, kind: &str) -> String {
    let Some(progress) = state.task(TASK) else { return "nothing was done".into() };
    let tests = progress.outcome.as_ref().map(|o| o.summary.clone()).unwrap_or_default();
    let fixes = progress.fixes.iter().filter(|f| !f.undone).count();
    let tests = match &progress.cases_undone {
        Some(failed) => {
            format!("{tests}; a case the comments state failed and could not be fixed, and was undone: {failed}")
        }
        None => tests,
    };
    match (kind, fixes) {
        _ if progress.skipped => format!("skipped: {tests}"),
        ("implement", 0) => format!("implemented; {tests}"),
        ("implement", n) => format!("implemented, then fixed in {n} iteration(s); {tests}"),
        ("tests", 0) => format!("wrote the tests; {tests}"),
        ("tests", n) => format!("wrote the tests, then fixed them in {n} iteration(s); {tests}"),
        (_, 0) => format!("nothing to fix; {tests}"),
        (_, n) => format!("fixed in {n} iteration(s); {tests}"),
    }
}
