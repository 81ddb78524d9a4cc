//! The frontend of the terminal: files straight to disk through the jail; progress on stderr, as live
//! lines when stderr is a terminal (indicatif: a line per agent, a bar per file while files are written in
//! parallel, tokens and cost as they grow) and as plain lines otherwise; questions asked on the terminal
//! when it is one (dialoguer) and not answered with `--yes`.

use std::collections::{BTreeMap, HashMap};
use std::io::{IsTerminal, Write};
use std::time::Duration;

use async_trait::async_trait;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use parking_lot::Mutex;
use samokoder_edits::{ChangeSet, Jail};
use samokoder_pipeline::{ApplyOutcome, Frontend, Level, Progress, RunId};
use samokoder_sandbox::TestReport;

pub struct TerminalFrontend {
    jail: Jail,
    /// Echo the model's text and the commands' output as they stream.
    verbose: bool,
    /// Questions may be asked (an interactive terminal, and no `--yes`).
    interactive: bool,
    last_report: Mutex<Option<TestReport>>,
    live: Option<Live>,
}

/// The live display, when stderr is a terminal.
struct Live {
    multi: MultiProgress,
    header: ProgressBar,
    state: Mutex<LiveState>,
}

#[derive(Default)]
struct LiveState {
    title: String,
    /// The current agent's line.
    agent: Option<(String, ProgressBar)>,
    files: HashMap<String, ProgressBar>,
}

impl TerminalFrontend {
    /// `interactive`: whether the user asked to be asked (no `--yes`); questions also need a terminal.
    pub fn new(jail: Jail, verbose: bool, interactive: bool) -> Self {
        let terminal = std::io::stderr().is_terminal();
        let live = terminal.then(|| {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(8));
            let header = multi.add(ProgressBar::new_spinner());
            header.set_style(ProgressStyle::with_template("{spinner} {msg}").expect("a valid template"));
            header.enable_steady_tick(Duration::from_millis(120));
            Live { multi, header, state: Mutex::new(LiveState::default()) }
        });
        Self {
            jail,
            verbose,
            interactive: interactive && terminal && std::io::stdin().is_terminal(),
            last_report: Mutex::new(None),
            live,
        }
    }

    pub fn last_report(&self) -> Option<TestReport> {
        self.last_report.lock().clone()
    }

    /// Ends the live display (before the summary is printed).
    pub fn finish(&self) {
        if let Some(live) = &self.live {
            let mut state = live.state.lock();
            if let Some((_, bar)) = state.agent.take() {
                bar.finish();
            }
            for (_, bar) in state.files.drain() {
                bar.finish_and_clear();
            }
            live.header.finish_and_clear();
        }
    }

    fn line(&self, text: &str) {
        match &self.live {
            Some(live) => live.multi.suspend(|| {
                let _ = writeln!(std::io::stderr().lock(), "{text}");
            }),
            None => {
                let _ = writeln!(std::io::stderr().lock(), "{text}");
            }
        }
    }
}

fn agent_style() -> ProgressStyle {
    ProgressStyle::with_template("  {spinner} {msg} {elapsed:.dim}").expect("a valid template")
}

#[async_trait]
impl Frontend for TerminalFrontend {
    fn progress(&self, _run: &RunId, progress: Progress) {
        let Some(live) = &self.live else {
            let mut err = std::io::stderr().lock();
            let _ = match progress {
                Progress::Begin { title, .. } => writeln!(err, "{title}"),
                Progress::Report { message, percentage: Some(p) } => writeln!(err, "  [{p:>3}%] {message}"),
                Progress::Report { message, percentage: None } => writeln!(err, "  {message}"),
                Progress::End { message } => writeln!(err, "  done: {message}"),
            };
            return;
        };
        let mut state = live.state.lock();
        match progress {
            Progress::Begin { title, .. } => {
                state.title = title.clone();
                live.header.set_message(title);
            }
            Progress::Report { message, .. } => {
                // A new agent at work ("tech lead: planning the tasks") gets its own line; anything else
                // updates the current one.
                let agent = message.split(':').next().unwrap_or("").to_owned();
                match &state.agent {
                    Some((current, bar)) if *current == agent => bar.set_message(message),
                    _ => {
                        if let Some((_, done)) = state.agent.take() {
                            done.set_style(
                                ProgressStyle::with_template("  ✓ {msg} {elapsed:.dim}").expect("a valid template"),
                            );
                            done.finish();
                        }
                        let bar = live.multi.add(ProgressBar::new_spinner());
                        bar.set_style(agent_style());
                        bar.enable_steady_tick(Duration::from_millis(120));
                        bar.set_message(message);
                        state.agent = Some((agent, bar));
                    }
                }
            }
            Progress::End { message } => {
                if let Some((_, bar)) = state.agent.take() {
                    bar.finish();
                }
                live.header.set_message(format!("{}: {message}", state.title));
            }
        }
    }

    fn log(&self, _run: &RunId, _agent: &str, text: &str) {
        if !self.verbose {
            return;
        }
        match &self.live {
            Some(live) => live.multi.suspend(|| {
                let _ = std::io::stderr().lock().write_all(text.as_bytes());
            }),
            None => {
                let _ = std::io::stderr().lock().write_all(text.as_bytes());
            }
        }
    }

    fn message(&self, level: Level, text: &str) {
        let tag = match level {
            Level::Info => "",
            Level::Warning => "warning: ",
            Level::Error => "error: ",
        };
        self.line(&format!("{tag}{text}"));
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

    fn can_ask(&self) -> bool {
        self.interactive
    }

    async fn ask(&self, _run: &RunId, question: &str, suggestions: &[String]) -> anyhow::Result<Option<String>> {
        if !self.interactive {
            return Ok(None);
        }
        let question = question.to_owned();
        let suggestions = suggestions.to_vec();
        let ask = move || -> anyhow::Result<String> {
            let theme = dialoguer::theme::SimpleTheme;
            if suggestions.is_empty() {
                return Ok(dialoguer::Input::<String>::with_theme(&theme).with_prompt(&question).interact_text()?);
            }
            let mut items = suggestions.clone();
            items.push("something else (type it)".into());
            let picked =
                dialoguer::Select::with_theme(&theme).with_prompt(&question).items(&items).default(0).interact()?;
            if picked < suggestions.len() {
                return Ok(suggestions[picked].clone());
            }
            Ok(dialoguer::Input::<String>::with_theme(&theme).with_prompt("your answer").interact_text()?)
        };
        let answer = match &self.live {
            Some(live) => live.multi.suspend(ask),
            None => ask(),
        }?;
        Ok(Some(answer))
    }

    fn show_file(&self, _run: &RunId, path: &str) {
        self.line(&format!("  wrote {path}"));
    }

    fn usage(&self, _run: &RunId, tokens: u64, cost_usd: f64) {
        if let Some(live) = &self.live {
            let title = live.state.lock().title.clone();
            live.header.set_message(format!("{title} · {tokens} tokens · ${cost_usd:.4}"));
        }
    }

    fn file_progress(&self, _run: &RunId, path: &str, tokens: u64, done: bool) {
        let Some(live) = &self.live else { return };
        let mut state = live.state.lock();
        let bar = state
            .files
            .entry(path.to_owned())
            .or_insert_with(|| {
                let bar = live.multi.add(ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template("      {spinner} {prefix} {msg:.dim}").expect("a valid template"),
                );
                bar.set_prefix(path.to_owned());
                bar.enable_steady_tick(Duration::from_millis(120));
                bar
            })
            .clone();
        if done {
            bar.set_style(ProgressStyle::with_template("      ✓ {prefix} {msg:.dim}").expect("a valid template"));
            bar.finish_with_message(format!("{tokens} tokens"));
        } else {
            bar.set_message(format!("{tokens} tokens"));
        }
    }
}
