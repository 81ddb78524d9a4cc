//! What every run works through ([`RunContext`]), how it is named ([`RunId`]) and how it ends
//! ([`RunOutcome`]); `run_tests`, the one run that is not the agents' (see `orchestrator` for those).

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use samokoder_context::RepoIndex;
use samokoder_edits::Jail;
use samokoder_llm::{Budget, Router, Usage};
use samokoder_prompts::Prompts;
use samokoder_sandbox::{Sandbox, TestReport};
use samokoder_store::{RunRecord, RunStatus, StepRecord, Store};
use tokio_util::sync::CancellationToken;

use crate::{Frontend, Progress};

/// A run's id: a zero-padded millisecond timestamp and a counter, so ids sort by start time.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RunId(pub String);

impl RunId {
    pub fn new() -> Self {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed) % 0x10000;
        Self(format!("{:013}-{n:04x}", now_ms()))
    }
}

impl Default for RunId {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Display for RunId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// The knobs of a run that come from configuration.
#[derive(Debug, Clone)]
pub struct RunSettings {
    pub test_command: String,
    /// The user chose the test command (otherwise a project's template decides it).
    pub test_command_configured: bool,
    pub test_timeout: Duration,
    /// A test run that prints nothing for this long is killed.
    pub test_idle_timeout: Option<Duration>,
    /// The Node major version the prompts target.
    pub node_major: u32,
    /// Token budget of the repo map in prompts.
    pub map_tokens: usize,
    /// Wall-clock limit of a template's install command.
    pub install_timeout: Duration,
    /// Fix iterations one run may make (over all its tasks).
    pub max_fix_iterations: usize,
    /// Candidates drawn for one function or small module and chosen by running them; 1: no choosing.
    pub candidates: usize,
    /// The examples the user stated run as checks that outrank generated tests.
    pub oracle: bool,
}

impl Default for RunSettings {
    fn default() -> Self {
        Self {
            test_command: samokoder_sandbox::DEFAULT_TEST_COMMAND.into(),
            test_command_configured: false,
            test_timeout: Duration::from_secs(120),
            test_idle_timeout: Some(Duration::from_secs(60)),
            node_major: 20,
            map_tokens: 2048,
            install_timeout: Duration::from_secs(600),
            max_fix_iterations: 4,
            candidates: 4,
            oracle: true,
        }
    }
}

/// Where a run stands, for `samokoder/status` and progress displays: written by the run, read by anyone.
#[derive(Debug, Default)]
pub struct LiveStatus {
    snapshot: parking_lot::Mutex<StatusSnapshot>,
    /// The run has said its last word (its progress ended): it is over, whatever its task still has to
    /// unwind.
    ended: std::sync::atomic::AtomicBool,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct StatusSnapshot {
    /// The agent at work ("tech_lead").
    pub agent: String,
    /// The plan task, if the run is in one: "t2: Add the REST routes".
    pub task: Option<String>,
    /// The step within the task: "2/3: the routes and their tests".
    pub step: Option<String>,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cost_usd: f64,
}

impl LiveStatus {
    pub fn get(&self) -> StatusSnapshot {
        self.snapshot.lock().clone()
    }

    /// Whether the run has ended (see [`RunContext::end`]).
    pub fn ended(&self) -> bool {
        self.ended.load(std::sync::atomic::Ordering::SeqCst)
    }

    pub fn set_agent(&self, agent: &str, task: Option<String>, step: Option<String>) {
        let mut s = self.snapshot.lock();
        s.agent = agent.to_owned();
        s.task = task;
        s.step = step;
    }

    pub fn add_usage(&self, usage: &Usage, cost_usd: f64) -> StatusSnapshot {
        let mut s = self.snapshot.lock();
        s.prompt_tokens += usage.prompt_tokens;
        s.completion_tokens += usage.completion_tokens;
        s.cost_usd = cost_usd;
        s.clone()
    }
}

/// Everything a run works through.
pub struct RunContext {
    pub id: RunId,
    pub jail: Jail,
    /// Roles to models, shared by every run (provider limits are shared too).
    pub llm: Arc<Router>,
    /// This run's limits on money and tokens.
    pub budget: Arc<Budget>,
    /// The workspace's context index (the repo map comes from it), kept current by the engine.
    pub index: Arc<parking_lot::RwLock<RepoIndex>>,
    pub sandbox: Arc<dyn Sandbox>,
    pub store: Arc<dyn Store>,
    pub prompts: Prompts,
    pub frontend: Arc<dyn Frontend>,
    pub settings: RunSettings,
    pub status: Arc<LiveStatus>,
    /// Fires when the run is cancelled; work in flight (parallel model calls) stops.
    pub cancel: CancellationToken,
}

impl RunContext {
    /// The run's last word: the end of its progress, with `message`. The run is over for the server before
    /// the editor hears so, so that what the editor does on hearing it (undo the run, resume it) does not
    /// find the run still going on while its task unwinds.
    pub fn end(&self, message: String) {
        self.status.ended.store(true, std::sync::atomic::Ordering::SeqCst);
        self.frontend.progress(&self.id, Progress::End { message });
    }
}

/// How a run ended.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    pub status: RunStatus,
    pub summary: String,
    /// Workspace-relative paths written.
    pub files: Vec<String>,
    pub report: Option<TestReport>,
    pub usage: Usage,
}

/// What `samokoder.generate` asks for.
#[derive(Debug, Clone, Default)]
pub struct GenerateRequest {
    pub description: String,
    /// A checked workspace-relative directory to build in; the whole workspace when `None`.
    pub subdir: Option<String>,
    /// Stop after the spec (`samokoder spec`).
    pub spec_only: bool,
    /// One model call writes the files, untested (`samokoder generate --one-shot`).
    pub one_shot: bool,
    /// The template to build on (`generate --template NAME`), instead of the architect's choice.
    pub template: Option<String>,
    /// The template's options (`--option database=mongoose`).
    pub options: std::collections::BTreeMap<String, String>,
}

/// `samokoder.runTests`: the project's tests, in the sandbox, on what the editor holds.
#[tracing::instrument(skip_all, fields(run = %ctx.id))]
pub async fn run_tests(ctx: &RunContext) -> Result<RunOutcome> {
    let record = new_record(ctx, "runTests", "", None);
    recorded(ctx, record, "Samokoder: run tests", async {
        let command = crate::agents::executor::test_command(ctx, &crate::state::RunState::default(), None);
        let outcome = crate::agents::executor::test(ctx, &crate::state::RunState::default(), &command, None).await?;
        ctx.store.append_step(&ctx.id.0, &StepRecord::new("executor", outcome.summary.clone(), now_ms()))?;
        Ok(RunOutcome {
            status: if outcome.passed { RunStatus::Succeeded } else { RunStatus::TestsFailed },
            summary: outcome.summary,
            files: vec![],
            report: Some(outcome.report),
            usage: Usage::default(),
        })
    })
    .await
}

pub(crate) fn new_record(ctx: &RunContext, kind: &str, description: &str, subdir: Option<&str>) -> RunRecord {
    RunRecord {
        id: ctx.id.0.clone(),
        kind: kind.to_owned(),
        description: description.to_owned(),
        status: RunStatus::Running,
        created_ms: now_ms(),
        updated_ms: now_ms(),
        prompt_tokens: 0,
        completion_tokens: 0,
        cost_usd: 0.0,
        summary: String::new(),
        subdir: subdir.map(str::to_owned),
        phase: String::new(),
    }
}

/// Records the run in the store and reports progress around `body`, whatever it does.
pub(crate) async fn recorded(
    ctx: &RunContext,
    mut record: RunRecord,
    title: &str,
    body: impl Future<Output = Result<RunOutcome>>,
) -> Result<RunOutcome> {
    record.status = RunStatus::Running;
    record.updated_ms = now_ms();
    ctx.store.put_run(&record).context("recording the run")?;
    ctx.frontend.progress(&ctx.id, Progress::Begin { title: title.to_owned(), message: "starting".to_owned() });
    let result = body.await;
    // The run's own commits may have moved its record on (its phase, its tokens): start from the stored one.
    let mut record = ctx.store.get_run(&ctx.id.0).ok().flatten().unwrap_or(record);
    match &result {
        Ok(outcome) => {
            record.status = outcome.status;
            record.summary = outcome.summary.clone();
        }
        Err(e) => {
            record.status = RunStatus::Failed;
            record.summary = format!("{e:#}");
        }
    }
    let status = ctx.status.get();
    record.prompt_tokens = status.prompt_tokens;
    record.completion_tokens = status.completion_tokens;
    record.cost_usd = ctx.budget.spent().0;
    record.updated_ms = now_ms();
    if let Err(e) = ctx.store.put_run(&record) {
        tracing::warn!(error = %e, "could not record the run's end");
    }
    ctx.end(record.summary.clone());
    result
}
