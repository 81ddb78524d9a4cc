//! The registry of running jobs: each run is a task with a cancellation token, supervised so that a
//! failure or a panic ends the run with a message and a final progress report, never the server.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Result;
use parking_lot::Mutex;
use samokoder_pipeline::{Level, LiveStatus, Progress, RunContext, RunOutcome, StatusSnapshot};
use samokoder_store::{RunStatus, Store};
use tokio_util::sync::CancellationToken;

/// A run that is under way, for `samokoder/status`.
#[derive(Debug, Clone, PartialEq)]
pub struct RunInfo {
    pub id: String,
    pub kind: String,
    /// The last progress message.
    pub message: String,
    /// The last progress percentage (the plan's share of tasks whose tests pass), once there is a plan.
    pub percentage: Option<u32>,
    /// The agent at work, its task and step, tokens and cost so far.
    pub status: StatusSnapshot,
}

struct Active {
    kind: String,
    message: String,
    percentage: Option<u32>,
    status: Arc<LiveStatus>,
    token: CancellationToken,
}

#[derive(Default, Clone)]
pub(crate) struct Registry {
    active: Arc<Mutex<HashMap<String, Active>>>,
}

impl Registry {
    pub fn spawn(
        &self,
        ctx: Arc<RunContext>,
        kind: &str,
        store: Arc<dyn Store>,
        body: impl Future<Output = Result<RunOutcome>> + Send + 'static,
    ) {
        let id = ctx.id.0.clone();
        let token = ctx.cancel.clone();
        let active = Active {
            kind: kind.to_owned(),
            message: "starting".into(),
            percentage: None,
            status: ctx.status.clone(),
            token: token.clone(),
        };
        self.active.lock().insert(id.clone(), active);
        let task = tokio::spawn(async move {
            tokio::select! {
                _ = token.cancelled() => None,
                result = body => Some(result),
            }
        });
        let registry = self.clone();
        let kind = kind.to_owned();
        tokio::spawn(async move {
            let joined = task.await;
            registry.active.lock().remove(&id);
            let fe = &ctx.frontend;
            match joined {
                Ok(Some(Ok(outcome))) => {
                    let level = if outcome.status == RunStatus::Succeeded { Level::Info } else { Level::Warning };
                    fe.message(level, &format!("Samokoder: {}", outcome.summary));
                }
                Ok(Some(Err(e))) => fe.message(Level::Error, &format!("Samokoder: {e:#}")),
                Ok(None) => {
                    // An undo works on another run's record; that run's status is not the undo's.
                    if kind != "undo" {
                        mark(&*store, &id, RunStatus::Cancelled, "cancelled");
                    }
                    fe.progress(&ctx.id, Progress::End { message: "cancelled".into() });
                    fe.message(Level::Info, "Samokoder: run cancelled");
                }
                Err(join) => {
                    let why = if join.is_panic() {
                        "an internal error (a bug: please report it with the log)"
                    } else {
                        "it was aborted"
                    };
                    tracing::error!(run = %id, error = %join, "run task died");
                    if kind != "undo" {
                        mark(&*store, &id, RunStatus::Failed, why);
                    }
                    fe.progress(&ctx.id, Progress::End { message: format!("failed: {why}") });
                    fe.message(Level::Error, &format!("Samokoder: the run stopped because of {why}"));
                }
            }
        });
    }

    pub fn cancel(&self, id: &str) -> bool {
        match self.active.lock().get(id) {
            Some(active) => {
                active.token.cancel();
                true
            }
            None => false,
        }
    }

    pub fn cancel_all(&self) {
        for active in self.active.lock().values() {
            active.token.cancel();
        }
    }

    pub fn is_active(&self, id: &str) -> bool {
        self.active.lock().contains_key(id)
    }

    pub fn note(&self, id: &str, message: &str, percentage: Option<u32>) {
        if let Some(active) = self.active.lock().get_mut(id) {
            active.message = message.to_owned();
            active.percentage = percentage.or(active.percentage);
        }
    }

    pub fn active(&self) -> Vec<RunInfo> {
        let mut runs: Vec<RunInfo> = self
            .active
            .lock()
            .iter()
            .map(|(id, a)| RunInfo {
                id: id.clone(),
                kind: a.kind.clone(),
                message: a.message.clone(),
                percentage: a.percentage,
                status: a.status.get(),
            })
            .collect();
        runs.sort_by(|a, b| a.id.cmp(&b.id));
        runs
    }
}

fn mark(store: &dyn Store, id: &str, status: RunStatus, summary: &str) {
    if let Ok(Some(mut run)) = store.get_run(id) {
        run.status = status;
        run.summary = summary.to_owned();
        if let Err(e) = store.put_run(&run) {
            tracing::warn!(error = %e, "could not record the run's end");
        }
    }
}
