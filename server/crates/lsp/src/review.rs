//! Preview before apply for clients that cannot confirm annotated edits (no
//! `workspace.workspaceEdit.changeAnnotationSupport`: Neovim, eglot, Helix): the change set goes to
//! `.samokoder/pending.diff` as a unified diff, the file is shown, and the run waits until the user picks
//! "Samokoder: accept pending changes" or "Samokoder: reject pending changes" on it. A person may read it for
//! many minutes: the wait has no timeout while the client lives, and the run stays cancellable (its future is
//! dropped, and with it the wait). One review waits at a time per workspace.

use std::sync::Arc;

use anyhow::{Result, bail};
use parking_lot::Mutex;
use samokoder_edits::{ChangeSet, FileChange, Jail, unified_diff};
use samokoder_engine::PlannedEdit;
use samokoder_pipeline::RunId;
use tokio::sync::oneshot;

pub(crate) const PENDING_FILE: &str = ".samokoder/pending.diff";

/// The review waiting for the user's answer, if any.
pub(crate) type PendingReview = Arc<Mutex<Option<Pending>>>;

pub(crate) struct Pending {
    pub run: RunId,
    decide: oneshot::Sender<bool>,
}

/// The diff of what `changes` would do to the texts the edits were planned against.
pub(crate) fn diff(jail: &Jail, changes: &ChangeSet, planned: &[PlannedEdit]) -> String {
    let base = |rel: &str| {
        planned.iter().find_map(|p| match p {
            PlannedEdit::Edit { path, base, .. } if jail.relativize(path).is_some_and(|r| r.as_str() == rel) => {
                Some(base.clone())
            }
            _ => None,
        })
    };
    let mut out = String::new();
    for change in &changes.changes {
        let old = base(change.path.as_str()).or_else(|| jail.read(&change.path).ok().flatten()).unwrap_or_default();
        out.push_str(&unified_diff(change.path.as_str(), &old, &change.text));
    }
    for rel in &changes.deletes {
        let old = jail.read(rel).ok().flatten().unwrap_or_default();
        out.push_str(&unified_diff(rel.as_str(), &old, ""));
    }
    out
}

/// Writes the pending diff, registers the wait, and returns what the user decided (`true`: accept). The file
/// is removed whatever happens.
pub(crate) async fn wait_for_decision(
    jail: &Jail,
    pending: &PendingReview,
    run: &RunId,
    diff: &str,
    show: impl FnOnce(),
) -> Result<bool> {
    let (tx, rx) = oneshot::channel();
    {
        let mut slot = pending.lock();
        if let Some(other) = slot.as_ref().filter(|p| !p.decide.is_closed()) {
            bail!("run {} waits for its own review in {PENDING_FILE}: accept or reject it first", other.run);
        }
        *slot = Some(Pending { run: run.clone(), decide: tx });
    }
    let header = format!(
        "# Samokoder: run {run} wants to make these changes. Pick \"Samokoder: accept pending changes\" or\n# \
         \"Samokoder: reject pending changes\" on this file (editing it changes nothing).\n"
    );
    let file = jail.check(PENDING_FILE)?;
    jail.write(&ChangeSet::new(vec![FileChange { path: file.clone(), text: format!("{header}{diff}") }]), false)?;
    let removed = RemoveOnDrop { jail, file: file.clone() };
    show();
    let decision = rx.await;
    drop(removed);
    match decision {
        Ok(accept) => Ok(accept),
        Err(_) => bail!("the review of {PENDING_FILE} was dropped"),
    }
}

/// Answers the waiting review; the run it belonged to, or why there is none.
pub(crate) fn decide(pending: &PendingReview, accept: bool) -> std::result::Result<RunId, String> {
    let Some(waiting) = pending.lock().take() else {
        return Err(format!("no change is waiting for review ({PENDING_FILE} is from a run that ended)"));
    };
    let run = waiting.run.clone();
    waiting.decide.send(accept).map_err(|_| format!("run {run} stopped waiting for its review"))?;
    Ok(run)
}

struct RemoveOnDrop<'a> {
    jail: &'a Jail,
    file: samokoder_edits::RelPath,
}

impl Drop for RemoveOnDrop<'_> {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(self.jail.abs(&self.file));
    }
}
