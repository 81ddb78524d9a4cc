//! The frontend of the terminal: progress to stderr, files straight to disk through the jail.

use std::collections::BTreeMap;
use std::io::Write;

use async_trait::async_trait;
use parking_lot::Mutex;
use samokoder_edits::{ChangeSet, Jail};
use samokoder_pipeline::{ApplyOutcome, Frontend, Level, Progress, RunId};
use samokoder_sandbox::TestReport;

pub struct TerminalFrontend {
    jail: Jail,
    /// Echo the model's text and the commands' output as they stream.
    verbose: bool,
    last_report: Mutex<Option<TestReport>>,
}

impl TerminalFrontend {
    pub fn new(jail: Jail, verbose: bool) -> Self {
        Self { jail, verbose, last_report: Mutex::new(None) }
    }

    pub fn last_report(&self) -> Option<TestReport> {
        self.last_report.lock().clone()
    }
}

#[async_trait]
impl Frontend for TerminalFrontend {
    fn progress(&self, _run: &RunId, progress: Progress) {
        let mut err = std::io::stderr().lock();
        let _ = match progress {
            Progress::Begin { title, .. } => writeln!(err, "{title}"),
            Progress::Report { message, percentage } => match percentage {
                Some(p) => writeln!(err, "  [{p:>3}%] {message}"),
                None => writeln!(err, "         {message}"),
            },
            Progress::End { message } => writeln!(err, "  done: {message}"),
        };
    }

    fn log(&self, _run: &RunId, _agent: &str, text: &str) {
        if self.verbose {
            let _ = std::io::stderr().lock().write_all(text.as_bytes());
        }
    }

    fn message(&self, level: Level, text: &str) {
        let tag = match level {
            Level::Info => "",
            Level::Warning => "warning: ",
            Level::Error => "error: ",
        };
        let _ = writeln!(std::io::stderr().lock(), "{tag}{text}");
    }

    async fn apply(&self, _run: &RunId, changes: &ChangeSet) -> anyhow::Result<ApplyOutcome> {
        Ok(match self.jail.write(changes, false) {
            Ok(()) => ApplyOutcome::Applied,
            Err(e) => ApplyOutcome::Refused { reason: e.to_string() },
        })
    }

    fn overlay(&self) -> BTreeMap<String, String> {
        BTreeMap::new()
    }

    fn test_results(&self, _run: &RunId, report: &TestReport) {
        *self.last_report.lock() = Some(report.clone());
    }
}
