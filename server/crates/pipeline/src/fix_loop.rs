//! The fix loop's rules. When a task's tests fail, the loop goes on or stops by rule, never by the model's
//! mood, and each rule is checked against the committed state alone:
//!
//! - all tests pass: the task is done (the executor ticks it);
//! - a fix that made more stated examples fail, or as many and more tests (or the test command crash), is
//!   undone before the next try;
//! - the run's cap on fix iterations (`RunSettings::max_fix_iterations`, default 4) stops it; tokens and
//!   dollars are capped by the run's budget, which refuses the call that would pass them;
//! - the same failure set twice in a row (the last fix changed nothing about it): the next try goes to the
//!   next model of the troubleshooter's chain; when there is none, one try sampled hotter (a different
//!   try, not an identical one), then the user is asked ("stop", "try again with a hint", "skip the task");
//!   with no one to ask, the loop stops;
//! - a reply none of whose edits could be applied (after its re-asks) is a failed iteration, not a failed
//!   run: it counts against the cap, and since it changed nothing, the same-failure rule applies to it.
//!
//! Every iteration is a step in the store (undoable, resumable).

use anyhow::Result;
use samokoder_llm::AgentRole;

use crate::agents::troubleshooter;
use crate::state::{PlanTask, RunState, TaskOutcome, TaskProgress, save_task};
use crate::undo::{UndoRequest, undo};
use crate::{Level, RunContext};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Decision {
    Troubleshoot,
    /// The last fix made things worse: undo it, then try again.
    UndoWorse,
    /// The same failure came back: try with the next model of the chain.
    Escalate,
    /// The same failure came back and the chain has no stronger model: one try sampled hotter.
    Heat,
    /// The same failure came back and no stronger model is left: ask the user.
    AskUser,
    Stop(String),
}

/// How bad an outcome is, worst first: the examples the user stated that fail (they outrank every test: a fix
/// that mends two generated tests by breaking a stated example is worse), then a crash (nothing recognisable
/// ran), then the failing tests.
fn badness(outcome: &TaskOutcome) -> (u32, bool, u32) {
    let tests_failed = outcome.failed.saturating_sub(outcome.stated_failed);
    let crashed = !outcome.passed && tests_failed == 0 && outcome.passed_count == 0;
    (outcome.stated_failed, crashed, tests_failed)
}

/// The fix iterations the run has had, all its tasks together (what the cap counts).
pub(crate) fn iterations(state: &RunState) -> usize {
    state.tasks.iter().map(|t| t.fixes.len()).sum()
}

pub(crate) fn decide(ctx: &RunContext, state: &RunState, progress: &TaskProgress, outcome: &TaskOutcome) -> Decision {
    if let Some(why) = &progress.stopped {
        return Decision::Stop(why.clone());
    }
    if let Some(last) = progress.fixes.last()
        && !last.undone
        && last.step.is_some()
        && badness(outcome) > badness(&last.before)
    {
        return Decision::UndoWorse;
    }
    let in_run = iterations(state);
    if in_run >= ctx.settings.max_fix_iterations {
        return Decision::Stop(format!(
            "the fix loop stopped after {in_run} iterations, the run's cap (llm.budget.maxFixIterations)"
        ));
    }
    let since_the_user = &progress.fixes[progress.asked_at.min(progress.fixes.len())..];
    // An undone fix left the failure as it was by construction: that says nothing about fixing it. A reply
    // none of whose edits applied changed nothing either: the model is stuck, as with the same failure.
    let same = since_the_user.last().is_some_and(|f| !f.undone && f.before.signature() == outcome.signature());
    if !same {
        return Decision::Troubleshoot;
    }
    if progress.tier + 1 < ctx.llm.chain(AgentRole::Troubleshooter).len() {
        Decision::Escalate
    } else if !progress.heated {
        Decision::Heat
    } else {
        Decision::AskUser
    }
}

const STOP: &str = "stop";
const HINT: &str = "try again with a hint";
const SKIP: &str = "skip the task";

pub(crate) async fn act(
    ctx: &RunContext,
    state: &RunState,
    task: &PlanTask,
    mut progress: TaskProgress,
    decision: Decision,
    subdir: Option<&str>,
) -> Result<()> {
    let fe = &ctx.frontend;
    match decision {
        Decision::Troubleshoot => troubleshooter::run(ctx, state, task, progress, subdir).await,
        Decision::Escalate => {
            progress.tier += 1;
            fe.log(&ctx.id, "troubleshooter", "the same failure came back: a stronger model tries next\n");
            save_task(&*ctx.store, &ctx.id.0, &progress)?;
            troubleshooter::run(ctx, state, task, progress, subdir).await
        }
        Decision::Heat => {
            progress.heated = true;
            fe.log(&ctx.id, "troubleshooter", "the same failure came back: one more try, sampled differently\n");
            save_task(&*ctx.store, &ctx.id.0, &progress)?;
            troubleshooter::run(ctx, state, task, progress, subdir).await
        }
        Decision::UndoWorse => {
            let Some(last) = progress.fixes.last_mut() else { return Ok(()) };
            let Some(step) = last.step else { return Ok(()) };
            fe.log(&ctx.id, "troubleshooter", "the last fix made more stated examples or tests fail: undoing it\n");
            undo(ctx, &UndoRequest { step: Some(step), force: true }).await?;
            last.undone = true;
            progress.outcome = Some(last.before.clone());
            save_task(&*ctx.store, &ctx.id.0, &progress)?;
            Ok(())
        }
        Decision::AskUser => {
            let outcome = progress.outcome.clone().map(|o| o.summary).unwrap_or_default();
            let question = format!(
                "The tests of \"{}\" still fail the same way after {} fix(es) ({outcome}). What now?",
                task.title,
                progress.fixes.len()
            );
            let choices = [STOP.to_owned(), HINT.to_owned(), SKIP.to_owned()];
            let answer = if fe.can_ask() { fe.ask(&ctx.id, &question, &choices).await? } else { None };
            match answer.as_deref().map(str::trim) {
                None => {
                    progress.stopped = Some(
                        "the same failure came back after a fix, and there was no one to ask whether to go on".into(),
                    );
                }
                Some(STOP) => progress.stopped = Some("stopped by the user".into()),
                Some(SKIP) => {
                    progress.skipped = true;
                    fe.message(Level::Warning, &format!("Samokoder: skipped \"{}\"; its tests still fail", task.title));
                }
                Some(answer) => {
                    let hint = if answer == HINT {
                        fe.ask(&ctx.id, "Your hint for the next try:", &[]).await?.unwrap_or_default()
                    } else {
                        answer.to_owned()
                    };
                    progress.hint = Some(hint);
                    progress.asked_at = progress.fixes.len();
                    progress.tier = 0;
                }
            }
            save_task(&*ctx.store, &ctx.id.0, &progress)?;
            Ok(())
        }
        Decision::Stop(_) => Ok(()),
    }
}
