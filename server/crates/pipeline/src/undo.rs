//! Undo: the workspace back to how it was before a step of a run (or before the whole run), as ONE change
//! through `Frontend::apply`. Every step recorded each file it touched, before and after, by content hash;
//! the file's target is its content before the first undone step that touched it (no file: it is deleted).
//! A file the user changed since the run last wrote it is not overwritten without saying so: the terminal
//! refuses unless forced, an editor that can confirm is asked to. The undo is itself a step of the run, so it
//! can be undone too.

use std::collections::BTreeMap;

use anyhow::{Result, bail};
use samokoder_edits::{ChangeSet, FileChange};
use samokoder_store::{FileTouch, StepRecord, blob_hash};
use similar::TextDiff;

use crate::agents::read_file;
use crate::run::now_ms;
use crate::{ApplyOutcome, Level, Progress, RunContext, RunOutcome};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UndoRequest {
    /// Undo this step and every later one; `None`: the whole run.
    pub step: Option<u32>,
    /// Overwrite files the user changed since the run wrote them.
    pub force: bool,
}

/// What an undo will do, before it does it.
#[derive(Debug, Clone, Default)]
pub struct UndoPlan {
    pub changes: ChangeSet,
    /// One line per file: what happens to it and how many lines change.
    pub summary: Vec<String>,
    /// Files the user changed since the run last wrote them.
    pub conflicts: Vec<String>,
    pub touched: Vec<FileTouch>,
}

/// Works out the undo of `ctx.id` from `request.step` on, against the workspace as the user holds it.
pub fn plan_undo(ctx: &RunContext, request: &UndoRequest) -> Result<UndoPlan> {
    let steps: Vec<StepRecord> = ctx.store.steps(&ctx.id.0)?;
    if ctx.store.get_run(&ctx.id.0)?.is_none() {
        bail!("there is no run {} in this workspace: `samokoder runs` lists them", ctx.id);
    }
    let from = request.step.unwrap_or(0) as usize;
    if from >= steps.len() {
        bail!(
            "run {} has {} step(s), numbered 0 to {}; there is no step {from}",
            ctx.id,
            steps.len(),
            steps.len().saturating_sub(1)
        );
    }
    // Per file: its content before the first undone step, and after the last one.
    let mut files: BTreeMap<String, (Option<String>, Option<String>)> = BTreeMap::new();
    for step in &steps[from..] {
        for touch in &step.touched {
            files.entry(touch.path.clone()).or_insert((touch.before.clone(), None)).1 = touch.after.clone();
        }
    }
    let mut plan = UndoPlan::default();
    for (path, (target, last)) in files {
        let current = read_file(ctx, &path);
        let current_hash = current.as_deref().map(blob_hash);
        if current_hash == target {
            continue;
        }
        if current_hash != last {
            plan.conflicts.push(path.clone());
        }
        let rel = ctx.jail.check(&path)?;
        let before_text = current.clone().unwrap_or_default();
        match &target {
            Some(hash) => {
                let Some(text) = ctx.store.get_blob(hash)? else {
                    bail!("the run's record of {path} is missing from the store; it cannot be undone")
                };
                let (added, removed) = line_counts(&before_text, &text);
                plan.summary.push(format!(
                    "{path}: {} (+{added} -{removed})",
                    if current.is_some() { "restored" } else { "re-created" }
                ));
                plan.changes.changes.push(FileChange { path: rel, text });
            }
            None if current.is_some() => {
                let lines = before_text.lines().count();
                plan.summary.push(format!("{path}: deleted (the run created it; -{lines})"));
                plan.changes.deletes.push(rel);
            }
            None => continue,
        }
        plan.touched.push(FileTouch { path, before: current_hash, after: target });
    }
    Ok(plan)
}

/// `samokoder undo RUN [--step N]`: plans, shows what will change, then applies it as one change.
pub async fn undo(ctx: &RunContext, request: &UndoRequest) -> Result<RunOutcome> {
    // Progress like every run's, so an editor sees the undo begin and end (the undo works on another run's
    // record, so it does not go through that record's bookkeeping).
    let fe = &ctx.frontend;
    fe.progress(&ctx.id, Progress::Begin { title: "Samokoder: undo".into(), message: "starting".into() });
    let result = undo_run(ctx, request).await;
    let message = match &result {
        Ok(outcome) => outcome.summary.clone(),
        Err(e) => format!("failed: {e:#}"),
    };
    ctx.end(message);
    result
}

async fn undo_run(ctx: &RunContext, request: &UndoRequest) -> Result<RunOutcome> {
    let mut plan = plan_undo(ctx, request)?;
    let what = match request.step {
        Some(step) => format!("run {} from step {step}", ctx.id),
        None => format!("run {}", ctx.id),
    };
    if plan.summary.is_empty() {
        return Ok(outcome(format!("nothing to undo in {what}: the files are as they were")));
    }
    let fe = &ctx.frontend;
    fe.log(&ctx.id, "undo", &format!("undoing {what}:\n{}\n", plan.summary.join("\n")));
    if !plan.conflicts.is_empty() && !request.force {
        if !fe.can_confirm() {
            bail!(
                "{} changed since the run wrote {}; nothing was undone. To overwrite, undo with --force",
                plan.conflicts.join(", "),
                if plan.conflicts.len() == 1 { "it" } else { "them" }
            );
        }
        for path in &plan.conflicts {
            plan.changes.confirm.push(ctx.jail.check(path)?);
        }
    }
    match fe.apply(&ctx.id, &plan.changes).await? {
        ApplyOutcome::Applied => {}
        ApplyOutcome::Refused { reason } => bail!("the undo was not applied ({reason}); nothing changed"),
    }
    let mut step = StepRecord::new("undo", format!("undid {what}"), now_ms());
    step.files = plan.touched.iter().map(|t| t.path.clone()).collect();
    step.touched = plan.touched;
    ctx.store.append_step(&ctx.id.0, &step)?;
    fe.message(Level::Info, &format!("Samokoder: undid {what}: {}", plan.summary.join("; ")));
    Ok(outcome(format!("undid {what}: {} file(s)", step.files.len())))
}

fn outcome(summary: String) -> RunOutcome {
    RunOutcome {
        status: samokoder_store::RunStatus::Succeeded,
        summary,
        files: vec![],
        report: None,
        usage: samokoder_llm::Usage::default(),
    }
}

/// Lines added and removed going from `old` to `new`.
fn line_counts(old: &str, new: &str) -> (usize, usize) {
    let diff = TextDiff::from_lines(old, new);
    let mut added = 0;
    let mut removed = 0;
    for change in diff.iter_all_changes() {
        match change.tag() {
            similar::ChangeTag::Insert => added += 1,
            similar::ChangeTag::Delete => removed += 1,
            similar::ChangeTag::Equal => {}
        }
    }
    (added, removed)
}
