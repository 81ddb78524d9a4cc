//! A generated test is a hypothesis: before the tests run, an assertion in a test file the run wrote that a
//! stated example contradicts (the same call, another result) is taken out of the file, and the step and
//! the run's record say which and why, quoting the example. The model's slugify test expected
//! `'Hello-World'` to become `'helloworld'` against the request's words, and the loop used to make the code
//! agree with it. A test the user wrote is never touched here: it is the user's word too.

use anyhow::Result;
use samokoder_edits::{ChangeSet, FileChange};

use super::asserts::contradicted;
use super::record::{load, save};
use crate::RunContext;
use crate::agents::{apply_step, read_file, touches};

/// Drops the contradicted assertions from the run's own test files, as one step of `task`.
pub async fn drop_contradicted(ctx: &RunContext, task: &str) -> Result<()> {
    let Some(mut record) = load(ctx)? else { return Ok(()) };
    if record.examples.is_empty() {
        return Ok(());
    }
    let mut created = crate::agents::troubleshooter::created_by_run(ctx);
    created.retain(|p| crate::agents::troubleshooter::is_test(p));
    created.sort();
    created.dedup();
    let mut changes = ChangeSet::default();
    let mut dropped = Vec::new();
    for path in created {
        let Some(text) = read_file(ctx, &path) else { continue };
        let lines = contradicted(&text, &record.examples);
        if lines.is_empty() {
            continue;
        }
        let kept: String = text
            .split_inclusive('\n')
            .enumerate()
            .filter(|(i, _)| !lines.iter().any(|(l, _)| l == i))
            .map(|(_, line)| line)
            .collect();
        for (_, why) in lines {
            ctx.frontend.log(&ctx.id, "executor", &format!("{path}: {why}\n"));
            dropped.push(format!("{path}: {why}"));
        }
        changes.changes.push(FileChange { path: ctx.jail.check(&path)?, text: kept });
    }
    if changes.is_empty() {
        return Ok(());
    }
    let touched = touches(ctx, &changes)?;
    let summary = format!("dropped {} generated assertion(s) a stated example contradicts", dropped.len());
    apply_step(ctx, &changes, touched, "executor", Some(task), summary).await?;
    record.dropped.extend(dropped);
    save(ctx, &record)
}
