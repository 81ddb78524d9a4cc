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

impl Active {
    /// Not yet ended: a run whose progress ended is over, though its task may still unwind.
    fn going_on(&self) -> bool {
        !self.status.ended()
    }
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
            {
                // Only this run's entry: once it ended, an undo or a resume may have taken its id.
                let mut active = registry.active.lock();
                if active.get(&id).is_some_and(|a| Arc::ptr_eq(&a.status, &ctx.status)) {
                    active.remove(&id);
                }
            }
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

    /// A run that has ended (its progress ended) is no longer going on, though its task may still unwind:
    /// it cannot be cancelled (that would record an ended run as cancelled), and its id is free for an
    /// undo or a resume.
    pub fn cancel(&self, id: &str) -> bool {
        match self.active.lock().get(id).filter(|a| a.going_on()) {
            Some(active) => {
                active.token.cancel();
                true
            }
            None => false,
        }
    }

    pub fn cancel_all(&self) {
        for active in self.active.lock().values().filter(|a| a.going_on()) {
            active.token.cancel();
        }
    }

    pub fn is_active(&self, id: &str) -> bool {
        self.active.lock().get(id).is_some_and(Active::going_on)
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
            .filter(|(_, a)| a.going_on())
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use async_trait::async_trait;
    use samokoder_edits::ChangeSet;
    use samokoder_pipeline::{ApplyOutcome, Frontend, Level, Progress, RunId, RunOutcome};
    use samokoder_sandbox::TestReport;
    use samokoder_store::RunStatus;
    use tokio::sync::mpsc;

    use crate::Engine;

    /// A frontend that passes on the messages a run's supervisor sends once the run's task has returned.
    struct Messages(mpsc::UnboundedSender<String>);

    #[async_trait]
    impl Frontend for Messages {
        fn progress(&self, _: &RunId, _: Progress) {}
        fn log(&self, _: &RunId, _: &str, _: &str) {}
        fn message(&self, _: Level, text: &str) {
            let _ = self.0.send(text.to_owned());
        }
        async fn apply(&self, _: &RunId, _: &ChangeSet) -> anyhow::Result<ApplyOutcome> {
            anyhow::bail!("this frontend applies nothing")
        }
        fn overlay(&self) -> BTreeMap<String, String> {
            BTreeMap::new()
        }
        fn test_results(&self, _: &RunId, _: &TestReport) {}
    }

    fn succeeded(summary: &str) -> RunOutcome {
        let summary = summary.to_owned();
        RunOutcome { status: RunStatus::Succeeded, summary, files: vec![], report: None, usage: Default::default() }
    }

    /// An editor that undoes a run the moment its progress ends must find it ended, though the run's task
    /// has not returned yet (CI saw "run … is already going on" on exactly that); and when that task
    /// returns, the undo under the same id goes on being a run that is going on.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_run_whose_progress_ended_is_not_going_on_while_its_task_unwinds() {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::new(dir.path()).unwrap();
        let (messages_tx, mut messages) = mpsc::unbounded_channel();
        let frontend = Arc::new(Messages(messages_tx));
        let (end_tx, end_rx) = tokio::sync::oneshot::channel::<()>();
        let (ended_tx, ended_rx) = tokio::sync::oneshot::channel();
        let (unwind_tx, unwind_rx) = tokio::sync::oneshot::channel::<()>();
        let id = engine
            .spawn_run("generate", None, frontend.clone(), |ctx| async move {
                end_rx.await.unwrap();
                ctx.end("built".into());
                ended_tx.send(()).unwrap();
                // Still unwinding after its last word.
                unwind_rx.await.unwrap();
                Ok(succeeded("built"))
            })
            .unwrap();
        assert!(engine.runs.is_active(&id.0));
        assert_eq!(engine.active_runs().len(), 1);
        end_tx.send(()).unwrap();
        ended_rx.await.unwrap();

        assert!(!engine.runs.is_active(&id.0));
        assert!(engine.active_runs().is_empty());
        assert!(!engine.cancel(&id.0), "an ended run cannot be cancelled");
        // Nor by a shutdown: its end stays "built" below, not "cancelled".
        engine.runs.cancel_all();
        let (undo_end_tx, undo_end_rx) = tokio::sync::oneshot::channel::<()>();
        let undo = engine.spawn_run("undo", Some(RunId(id.0.clone())), frontend, |ctx| async move {
            undo_end_rx.await.unwrap();
            ctx.end("undid".into());
            Ok(succeeded("undid"))
        });
        assert_eq!(undo.unwrap(), id, "the id is free for an undo");

        unwind_tx.send(()).unwrap();
        assert_eq!(messages.recv().await.unwrap(), "Samokoder: built", "the first run's task has returned");
        assert!(engine.runs.is_active(&id.0), "the undo is still going on");
        assert_eq!(engine.active_runs()[0].kind, "undo");
        undo_end_tx.send(()).unwrap();
        assert_eq!(messages.recv().await.unwrap(), "Samokoder: undid");
        assert!(engine.active_runs().is_empty());
    }
}
