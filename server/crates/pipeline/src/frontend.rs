//! What a run needs from whoever started it: an editor (over LSP) or a terminal.

use std::collections::BTreeMap;

use async_trait::async_trait;
use samokoder_edits::ChangeSet;
use samokoder_sandbox::TestReport;

use crate::RunId;

/// Work-done progress of a run.
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    Begin { title: String, message: String },
    Report { message: String, percentage: Option<u32> },
    End { message: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Warning,
    Error,
}

/// Whether the user's side applied a change set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApplyOutcome {
    Applied,
    /// Refused (by the user, the client, or a check); nothing was written.
    Refused {
        reason: String,
    },
}

/// The run's window on the user. Implementations must not block: every method but `apply` and `ask`
/// returns at once; those two wait for the user, and the run stays cancellable while they do.
#[async_trait]
pub trait Frontend: Send + Sync {
    fn progress(&self, run: &RunId, progress: Progress);

    /// A line for the output panel: an agent's message, or streamed model text.
    fn log(&self, run: &RunId, agent: &str, text: &str);

    /// Something the user should see now.
    fn message(&self, level: Level, text: &str);

    /// Applies checked changes to the workspace as the user sees it (buffers in an editor, disk in a
    /// terminal), all or nothing.
    async fn apply(&self, run: &RunId, changes: &ChangeSet) -> anyhow::Result<ApplyOutcome>;

    /// What the user holds that is not on disk: workspace-relative path -> text.
    fn overlay(&self) -> BTreeMap<String, String>;

    /// The project's test results, for diagnostics.
    fn test_results(&self, run: &RunId, report: &TestReport);

    /// Whether [`Frontend::apply`] can ask the user to confirm the changes a change set marks for
    /// confirmation (`ChangeSet::confirm`).
    fn can_confirm(&self) -> bool {
        false
    }

    /// Whether [`Frontend::ask`] can reach someone.
    fn can_ask(&self) -> bool {
        false
    }

    /// Asks the user; `suggestions` are answers to pick from (the user may write another). `Ok(None)`: no one
    /// can answer here (a terminal that is not interactive, `--yes`, an editor that cannot ask).
    async fn ask(&self, _run: &RunId, _question: &str, _suggestions: &[String]) -> anyhow::Result<Option<String>> {
        Ok(None)
    }

    /// Whether the user can answer questions in `.samokoder/questions.md` and resume the run ("submit answers"):
    /// an editor can, whatever else it supports; a terminal run answers on its prompt or not at all.
    fn can_answer_in_file(&self) -> bool {
        false
    }

    /// A file the run wrote for the user to read (spec.md, plan.md): an editor shows it.
    fn show_file(&self, _run: &RunId, _path: &str) {}

    /// The run's tokens and cost so far, as they grow.
    fn usage(&self, _run: &RunId, _tokens: u64, _cost_usd: f64) {}

    /// One of the files written in parallel: tokens so far, and whether it is done.
    fn file_progress(&self, _run: &RunId, _path: &str, _tokens: u64, _done: bool) {}
}
