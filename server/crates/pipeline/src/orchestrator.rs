//! The run as a state machine. The committed state (`RunState`: spec, architecture, plan, each task's
//! progress) and plan.md as the user holds it decide the next agent; the agent does its one job and commits
//! what it produced; the loop reads the state again. Nothing is carried between agents in memory, so a run
//! killed anywhere resumes at its last commit, and an edited plan.md changes what comes next.
//!
//! ```text
//! no spec -> SpecWriter -> no architecture -> Architect -> no plan -> TechLead
//! for the first task in plan.md not ticked:
//!   no steps (or reworded before any was applied) -> Developer
//!   steps left to apply -> CodeMonkey (one step)
//!   all applied, not tested -> Executor
//!   tests fail -> the fix loop (`fix_loop.rs`): Troubleshooter, undo of a worse fix, a stronger model, the
//!                 user, or the run ends `tests_failed`, by rule
//! no task left -> done
//! ```

use anyhow::{Context, Result, bail};
use samokoder_edits::FileChange;
use samokoder_store::{RecordKind, RunRecord, RunStatus, StepRecord, put_typed};

use crate::agents::implementer::EditRequest;
use crate::agents::{self, read_file, run_file};
use crate::plan_md::{self, PLAN_FILE, PlanError};
use crate::run::{new_record, now_ms, recorded};
use crate::state::{PlanTask, RunState, TaskOutcome};
use crate::{GenerateRequest, Level, Progress, RunContext, RunOutcome};
use crate::{edit_runs, fix_loop};

/// What the committed state calls for next.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Next {
    /// An implement run's one edit.
    Implement(EditRequest),
    /// A tests run's new test file.
    WriteTests(EditRequest),
    /// A fix run begins: its task, then a first test run.
    StartFix,
    /// A fix run whose diagnostic is not a failing test: it becomes the failure to fix.
    SeedDiagnostic(EditRequest),
    /// The seeded diagnostic was fixed and the tests pass: is the diagnostic gone?
    VerifyDiagnostic(EditRequest),
    /// An implement or fix run's tests pass: the cases the comments name get tests of their own.
    CaseTests(Option<EditRequest>),
    /// The loop stopped with the case tests failing: they and the fixes for them are undone.
    UndoCases(String),
    Spec,
    Architecture,
    /// The chosen template's files land in the project.
    Scaffold,
    Plan,
    Develop(PlanTask),
    Code(PlanTask),
    Test(PlanTask),
    /// Only tests the run wrote fail: other versions of the module weigh them (`agents/arbiter.rs`).
    Arbitrate(PlanTask),
    /// The task's tests fail: the fix loop decides (`fix_loop::decide`).
    Fix(PlanTask, fix_loop::Decision),
    /// The task's tests fail and the fix loop stopped: the run ends.
    Failed(PlanTask, TaskOutcome, String),
    /// plan.md cannot be followed as it is: the run waits for the user.
    Pause(String),
    Done,
}

/// `samokoder.generate` (and `samokoder spec`): the team turns the description into a tested project.
#[tracing::instrument(skip_all, fields(run = %ctx.id))]
pub async fn generate(ctx: &RunContext, request: &GenerateRequest) -> Result<RunOutcome> {
    let kind = if request.spec_only { "spec" } else { "generate" };
    let record = new_record(ctx, kind, request.description.trim(), request.subdir.as_deref());
    if request.description.trim().is_empty() {
        bail!("nothing to build: give a description, e.g. `a function that sums two numbers, with tests`");
    }
    if request.one_shot {
        let subdir = request.subdir.as_deref();
        return recorded(ctx, record, "Samokoder: generate (one shot)", async {
            let files = agents::code_monkey::one_shot(ctx, &request.description, subdir).await?;
            let summary = format!("wrote {} file(s) in one call, untested", files.len());
            let mut outcome = outcome_of(ctx, RunStatus::Succeeded, summary);
            outcome.files = files;
            Ok(outcome)
        })
        .await;
    }
    if let Some(name) = request.template.as_deref() {
        // Checked now, so that a wrong name or option fails before anything runs.
        let template = samokoder_prompts::template(name)?;
        template.options(&request.options)?;
        let choice = agents::architect::TemplateChoice { name: name.to_owned(), options: request.options.clone() };
        put_typed(&*ctx.store, RecordKind::Spec, &ctx.id.0, agents::architect::CHOICE_KEY, &choice)?;
    }
    recorded(ctx, record.clone(), "Samokoder: generate", drive(ctx, &record)).await
}

/// `samokoder resume`: a run that was stopped (killed, cancelled, paused) goes on from its last commit.
#[tracing::instrument(skip_all, fields(run = %ctx.id))]
pub async fn resume(ctx: &RunContext) -> Result<RunOutcome> {
    let Some(record) = ctx.store.get_run(&ctx.id.0)? else {
        bail!("there is no run {} in this workspace: `samokoder runs` lists them", ctx.id)
    };
    if !matches!(record.kind.as_str(), "generate" | "spec" | "implement" | "fix" | "tests") {
        bail!(
            "run {} is a `{}` run; only generate, spec, implement, fix and tests runs can be resumed",
            ctx.id,
            record.kind
        );
    }
    if !record.status.is_unfinished() {
        bail!("run {} already ended ({}); start a new one instead", ctx.id, record.summary);
    }
    restore_lost_files(ctx).await?;
    recorded(ctx, record.clone(), "Samokoder: resume", drive(ctx, &record)).await
}

pub(crate) async fn drive(ctx: &RunContext, record: &RunRecord) -> Result<RunOutcome> {
    let subdir = record.subdir.as_deref();
    let spec_only = record.kind == "spec";
    if !spec_only {
        // A run that cannot test fails now, not after its first model calls (without a registry, a generate
        // run spent 1,416 tokens before it said the image was missing).
        let log = |line: &str| ctx.frontend.log(&ctx.id, "executor", line);
        ctx.sandbox.prepare(&log).await.context("the sandbox is not ready, so nothing was asked of the model")?;
    }
    loop {
        let state = RunState::load(&*ctx.store, &ctx.id.0)?;
        let next = match record.kind.as_str() {
            "implement" | "fix" | "tests" => edit_runs::next(ctx, &state, &record.kind)?,
            _ => next(ctx, &state, spec_only, subdir).await?,
        };
        let (agent, task) = match &next {
            Next::Implement(_) | Next::WriteTests(_) | Next::CaseTests(_) => ("code_monkey", None),
            Next::StartFix | Next::SeedDiagnostic(_) | Next::VerifyDiagnostic(_) | Next::UndoCases(_) => ("", None),
            Next::Spec => ("spec_writer", None),
            Next::Architecture | Next::Scaffold => ("architect", None),
            Next::Plan => ("tech_lead", None),
            Next::Develop(t) => ("developer", Some(t)),
            Next::Code(t) => ("code_monkey", Some(t)),
            Next::Test(t) => ("executor", Some(t)),
            Next::Arbitrate(t) => ("code_monkey", Some(t)),
            Next::Fix(t, _) => ("troubleshooter", Some(t)),
            Next::Failed(..) | Next::Pause(_) | Next::Done => ("", None),
        };
        if !agent.is_empty() {
            enter(ctx, agent, task, &state)?;
        }
        match next {
            Next::Implement(request) => agents::implementer::run(ctx, &state, &request).await?,
            Next::WriteTests(request) => agents::test_writer::run(ctx, &state, &request).await?,
            Next::StartFix => edit_runs::start_fix(ctx)?,
            Next::SeedDiagnostic(request) => edit_runs::seed(ctx, &state, &request, None)?,
            Next::VerifyDiagnostic(request) => edit_runs::verify(ctx, &state, &request).await?,
            Next::CaseTests(request) => agents::case_tests::run(ctx, &state, request.as_ref()).await?,
            Next::UndoCases(why) => agents::case_tests::undo(ctx, &state, &why).await?,
            Next::Spec => {
                if let Some(why) = agents::spec_writer::run(ctx, &state, &record.description, subdir).await? {
                    // The run's end tells the user (once).
                    return Ok(outcome_of(ctx, RunStatus::Paused, why));
                }
            }
            Next::Architecture => agents::architect::run(ctx, &state, subdir).await?,
            Next::Scaffold => agents::architect::scaffold(ctx, &state, subdir).await?,
            Next::Plan => agents::tech_lead::run(ctx, &state, subdir).await?,
            Next::Develop(task) => {
                let done = done_titles(ctx, &state, subdir);
                agents::developer::run(ctx, &state, &task, &done, subdir).await?
            }
            Next::Code(task) => {
                let progress = state.task(task.id.as_deref().unwrap_or_default()).cloned().expect("a planned task");
                agents::code_monkey::run(ctx, &state, &task, progress, subdir).await?
            }
            Next::Test(task) => {
                let progress = state.task(task.id.as_deref().unwrap_or_default()).cloned().expect("a planned task");
                agents::executor::run(ctx, &state, &task, progress, subdir).await?
            }
            Next::Fix(task, decision) => {
                let progress = state.task(task.id.as_deref().unwrap_or_default()).cloned().expect("a planned task");
                fix_loop::act(ctx, &state, &task, progress, decision, subdir).await?
            }
            Next::Arbitrate(task) => {
                let progress = state.task(task.id.as_deref().unwrap_or_default()).cloned().expect("a planned task");
                agents::arbiter::run(ctx, &state, &task, progress, subdir).await?
            }
            Next::Failed(task, outcome, why) => {
                let mut summary =
                    format!("task {} ({}): {}", task.id.as_deref().unwrap_or("?"), task.title, outcome.summary);
                if !outcome.failures.is_empty() {
                    summary.push_str(&format!("; {}", outcome.failures.join("; ")));
                }
                if !why.is_empty() {
                    summary.push_str(&format!("; {why}"));
                }
                return Ok(outcome_of(ctx, RunStatus::TestsFailed, summary));
            }
            Next::Pause(why) => {
                // The run's end tells the user (once).
                return Ok(outcome_of(ctx, RunStatus::Paused, why));
            }
            Next::Done => {
                let summary = match (&state.spec, spec_only) {
                    _ if matches!(record.kind.as_str(), "implement" | "fix" | "tests") => {
                        edit_runs::summary(&state, &record.kind)
                    }
                    (Some(_), true) => format!("wrote {}", run_file(subdir, "spec.md")),
                    _ => {
                        let tasks = state.tasks.iter().filter(|t| t.outcome.as_ref().is_some_and(|o| o.passed)).count();
                        let last = state.tasks.iter().rev().find_map(|t| t.outcome.as_ref()).map(|o| o.summary.clone());
                        format!("built {tasks} task{}; {}", if tasks == 1 { "" } else { "s" }, last.unwrap_or_default())
                    }
                };
                return Ok(outcome_of(ctx, RunStatus::Succeeded, summary));
            }
        }
    }
}

/// Marks the agent at work: the run's phase in the store, the live status, progress.
fn enter(ctx: &RunContext, agent: &str, task: Option<&PlanTask>, state: &RunState) -> Result<()> {
    let task_label = task.map(|t| format!("{}: {}", t.id.as_deref().unwrap_or("new"), t.title));
    let step_label = task.and_then(|t| {
        let progress = state.task(t.id.as_deref()?)?;
        let steps = progress.steps.as_ref()?;
        let step = steps.get(progress.applied)?;
        (agent == "code_monkey").then(|| format!("{}/{}: {}", progress.applied + 1, steps.len(), step.description))
    });
    ctx.status.set_agent(agent, task_label.clone(), step_label.clone());
    if let Some(mut record) = ctx.store.get_run(&ctx.id.0)? {
        record.phase = match &task {
            Some(t) => format!("{} {agent}", t.id.as_deref().unwrap_or("")),
            None => agent.to_owned(),
        };
        let status = ctx.status.get();
        record.prompt_tokens = status.prompt_tokens;
        record.completion_tokens = status.completion_tokens;
        record.cost_usd = status.cost_usd;
        record.updated_ms = now_ms();
        ctx.store.put_run(&record)?;
    }
    let message = match (&task_label, &step_label) {
        (_, Some(step)) => format!("{}: {step}", label(agent)),
        (Some(task), None) => format!("{}: {task}", label(agent)),
        (None, None) => label(agent).to_owned(),
    };
    ctx.frontend.progress(&ctx.id, Progress::Report { message, percentage: percentage(state) });
    Ok(())
}

/// How far the plan is, once there is one: the share of its tasks whose tests passed.
fn percentage(state: &RunState) -> Option<u32> {
    let total = state.planned.len();
    if total == 0 {
        return None;
    }
    let passed = state.tasks.iter().filter(|t| t.outcome.as_ref().is_some_and(|o| o.passed)).count();
    Some((passed.min(total) * 100 / total) as u32)
}

fn label(agent: &str) -> &str {
    match agent {
        "spec_writer" => "spec writer: writing the spec",
        "architect" => "architect: choosing the template",
        "tech_lead" => "tech lead: planning the tasks",
        "developer" => "developer: planning the steps",
        "code_monkey" => "code writer: writing files",
        "executor" => "executor: running the tests",
        "troubleshooter" => "troubleshooter: fixing the failing tests",
        other => other,
    }
}

async fn next(ctx: &RunContext, state: &RunState, spec_only: bool, subdir: Option<&str>) -> Result<Next> {
    if state.spec.is_none() {
        return Ok(Next::Spec);
    }
    if spec_only {
        return Ok(Next::Done);
    }
    match &state.architecture {
        None => return Ok(Next::Architecture),
        Some(architecture) if !architecture.scaffolded => return Ok(Next::Scaffold),
        Some(_) => {}
    }
    if state.planned.is_empty() {
        return Ok(Next::Plan);
    }
    let tasks = match read_plan(ctx, state, subdir).await? {
        Ok(tasks) => tasks,
        Err(e) => return Ok(Next::Pause(format!("{e}; fix {}, then resume the run", run_file(subdir, PLAN_FILE)))),
    };
    for task in tasks.into_iter().filter(|t| !t.done) {
        let Some(id) = task.id.as_deref() else { continue };
        let Some(progress) = state.task(id) else { return Ok(Next::Develop(task)) };
        let Some(steps) = &progress.steps else { return Ok(Next::Develop(task)) };
        if progress.basis != task.basis() && progress.applied == 0 && progress.applying.is_none() {
            return Ok(Next::Develop(task));
        }
        if progress.applied < steps.len() {
            return Ok(Next::Code(task));
        }
        if progress.skipped {
            continue;
        }
        match &progress.outcome {
            None => return Ok(Next::Test(task)),
            Some(outcome) if outcome.passed => continue,
            Some(outcome) if agents::arbiter::wanted(ctx, progress, outcome, subdir) => {
                return Ok(Next::Arbitrate(task));
            }
            Some(outcome) => {
                return Ok(match fix_loop::decide(ctx, state, progress, outcome) {
                    fix_loop::Decision::Stop(why) => Next::Failed(task.clone(), outcome.clone(), why),
                    decision => Next::Fix(task.clone(), decision),
                });
            }
        }
    }
    Ok(Next::Done)
}

/// plan.md as the user holds it, every task with an id (new ones get theirs written into the file). A
/// plan.md that is gone is written again from the committed plan.
async fn read_plan(
    ctx: &RunContext,
    state: &RunState,
    subdir: Option<&str>,
) -> Result<Result<Vec<PlanTask>, PlanError>> {
    let path = run_file(subdir, PLAN_FILE);
    let text = match read_file(ctx, &path) {
        Some(text) => text,
        None => {
            let text = plan_md::render(&state.planned);
            ctx.frontend.log(&ctx.id, "orchestrator", &format!("{path} is gone: written again from the run's plan\n"));
            write_plain(ctx, &path, &text).await?;
            text
        }
    };
    let mut tasks = match plan_md::parse(&text) {
        Ok(tasks) => tasks,
        Err(e) => return Ok(Err(e)),
    };
    if tasks.iter().any(|t| t.id.is_none()) {
        let with_ids = plan_md::assign_ids(&text, &mut tasks);
        write_plain(ctx, &path, &with_ids).await?;
    }
    Ok(Ok(tasks))
}

/// Writes a file of the run's own (plan.md) without recording a step.
async fn write_plain(ctx: &RunContext, path: &str, text: &str) -> Result<()> {
    let rel = ctx.jail.check(path)?;
    let changes = samokoder_edits::ChangeSet::new(vec![FileChange { path: rel, text: text.to_owned() }]);
    match ctx.frontend.apply(&ctx.id, &changes).await? {
        crate::ApplyOutcome::Applied => Ok(()),
        crate::ApplyOutcome::Refused { reason } => bail!("the editor did not apply the change to {path} ({reason})"),
    }
}

/// The titles of the tasks whose tests passed, for the developer's prompt.
fn done_titles(ctx: &RunContext, state: &RunState, subdir: Option<&str>) -> Vec<String> {
    let text = read_file(ctx, &run_file(subdir, PLAN_FILE)).unwrap_or_default();
    let tasks = plan_md::parse(&text).unwrap_or_default();
    tasks
        .into_iter()
        .filter(|t| {
            t.done
                || t.id
                    .as_deref()
                    .and_then(|id| state.task(id))
                    .is_some_and(|p| p.outcome.as_ref().is_some_and(|o| o.passed))
        })
        .map(|t| t.title)
        .collect()
}

fn outcome_of(ctx: &RunContext, status: RunStatus, summary: String) -> RunOutcome {
    let steps = ctx.store.steps(&ctx.id.0).unwrap_or_default();
    let mut files: Vec<String> =
        steps.iter().filter(|s| s.agent == "code_monkey").flat_map(|s| s.files.clone()).collect();
    files.sort();
    files.dedup();
    let snapshot = ctx.status.get();
    RunOutcome {
        status,
        summary,
        files,
        report: None,
        usage: samokoder_llm::Usage {
            prompt_tokens: snapshot.prompt_tokens,
            completion_tokens: snapshot.completion_tokens,
            ..Default::default()
        },
    }
}

/// Files the run wrote that are gone from the workspace (deleted by hand while it was stopped) are put
/// back from the run's record, as one change, and the user is told which.
async fn restore_lost_files(ctx: &RunContext) -> Result<()> {
    let steps: Vec<StepRecord> = ctx.store.steps(&ctx.id.0)?;
    let mut last: std::collections::BTreeMap<String, Option<String>> = std::collections::BTreeMap::new();
    for step in &steps {
        for touch in &step.touched {
            last.insert(touch.path.clone(), touch.after.clone());
        }
    }
    let mut changes = samokoder_edits::ChangeSet::default();
    for (path, after) in last {
        let Some(hash) = after else { continue };
        if read_file(ctx, &path).is_some() {
            continue;
        }
        let Some(text) = ctx.store.get_blob(&hash)? else { continue };
        changes.changes.push(FileChange { path: ctx.jail.check(&path)?, text });
    }
    if changes.is_empty() {
        return Ok(());
    }
    let names: Vec<String> = changes.paths().map(|p| p.to_string()).collect();
    match ctx.frontend.apply(&ctx.id, &changes).await? {
        crate::ApplyOutcome::Applied => {}
        crate::ApplyOutcome::Refused { reason } => {
            bail!("files the run wrote are gone ({}) and could not be put back: {reason}", names.join(", "))
        }
    }
    ctx.frontend.message(
        Level::Warning,
        &format!("Samokoder: {} file(s) the run had written were gone and are back: {}", names.len(), names.join(", ")),
    );
    Ok(())
}
