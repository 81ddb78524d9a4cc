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

/// The run's window on the user. Implementations must not block: every method but `apply` returns at
/// once, and `apply` gives up after its own timeout.
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
}
