//! The runs. Today: `generate` (one model call writes the project, then its tests run in the sandbox) and
//! `run_tests`. Each records itself in the store, reports progress from begin to end, and fails with a
//! message that says what to do.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail};
use parking_lot::Mutex;
use samokoder_context::{Lang, MapRequest, RepoIndex, syntax_issues};
use samokoder_edits::{ChangeSet, FileChange, Jail};
use samokoder_llm::{AgentRole, Budget, CallContext, ChatRequest, FinishReason, Message, Router, StreamEvent, Usage};
use samokoder_prompts::Prompts;
use samokoder_sandbox::{Location, RunRequest, Sandbox, TestReport, WORKDIR, parse_test_output};
use samokoder_store::{RunRecord, RunStatus, StepRecord, Store};
use serde_json::json;

use crate::output::WHOLE_FILES_GBNF;
use crate::{ApplyOutcome, Frontend, Level, Progress, parse_whole_files};

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

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// The knobs of a run that come from configuration.
#[derive(Debug, Clone)]
pub struct RunSettings {
    pub test_command: String,
    pub test_timeout: Duration,
    /// A test run that prints nothing for this long is killed.
    pub test_idle_timeout: Option<Duration>,
    /// The Node major version the prompts target.
    pub node_major: u32,
    /// Token budget of the repo map in prompts.
    pub map_tokens: usize,
}

impl Default for RunSettings {
    fn default() -> Self {
        Self {
            test_command: samokoder_sandbox::DEFAULT_TEST_COMMAND.into(),
            test_timeout: Duration::from_secs(120),
            test_idle_timeout: Some(Duration::from_secs(60)),
            node_major: 20,
            map_tokens: 2048,
        }
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
}

/// `samokoder.generate`: the model writes the project from the description, the edits are applied, and
/// the project's tests run in the sandbox.
#[tracing::instrument(skip_all, fields(run = %ctx.id))]
pub async fn generate(ctx: &RunContext, request: &GenerateRequest) -> Result<RunOutcome> {
    let subdir = request.subdir.as_deref();
    recorded(ctx, "generate", &request.description, "Samokoder: generate", async {
        let mut outcome = write_files(ctx, &request.description, subdir).await?;
        let tests = test_step(ctx, subdir).await?;
        outcome.status = tests.status;
        outcome.summary = format!("{}; {}", outcome.summary, tests.summary);
        outcome.report = tests.report;
        Ok(outcome)
    })
    .await
}

/// `samokoder.runTests`: the project's tests, in the sandbox, on what the editor holds.
#[tracing::instrument(skip_all, fields(run = %ctx.id))]
pub async fn run_tests(ctx: &RunContext) -> Result<RunOutcome> {
    recorded(ctx, "runTests", "", "Samokoder: run tests", test_step(ctx, None)).await
}

/// Records the run in the store and reports progress around `body`, whatever it does.
async fn recorded(
    ctx: &RunContext,
    kind: &str,
    description: &str,
    title: &str,
    body: impl Future<Output = Result<RunOutcome>>,
) -> Result<RunOutcome> {
    let mut record = RunRecord {
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
    };
    ctx.store.put_run(&record).context("recording the run")?;
    ctx.frontend.progress(&ctx.id, Progress::Begin { title: title.to_owned(), message: "starting".to_owned() });
    let result = body.await;
    match &result {
        Ok(outcome) => {
            record.status = outcome.status;
            record.summary = outcome.summary.clone();
            record.prompt_tokens = outcome.usage.prompt_tokens;
            record.completion_tokens = outcome.usage.completion_tokens;
        }
        Err(e) => {
            record.status = RunStatus::Failed;
            record.summary = format!("{e:#}");
        }
    }
    record.cost_usd = ctx.budget.spent().0;
    record.updated_ms = now_ms();
    if let Err(e) = ctx.store.put_run(&record) {
        tracing::warn!(error = %e, "could not record the run's end");
    }
    ctx.frontend.progress(&ctx.id, Progress::End { message: record.summary.clone() });
    result
}

/// The token limit of the reply that writes a whole small project.
const WHOLE_PROJECT_TOKENS: u32 = 3072;

/// One model call writes files; they are checked and applied.
async fn write_files(ctx: &RunContext, description: &str, subdir: Option<&str>) -> Result<RunOutcome> {
    let description = description.trim();
    if description.is_empty() {
        bail!("nothing to build: give a description, e.g. `a function that sums two numbers, with tests`");
    }
    let fe = &ctx.frontend;
    fe.progress(&ctx.id, Progress::Report { message: "reading the workspace".into(), percentage: Some(5) });
    let (map, has_package_json) = project_map(ctx, subdir, description);
    let vars = json!({
        "description": description,
        "files": map,
        "has_package_json": has_package_json,
        "test_command": ctx.settings.test_command,
        "node_major": ctx.settings.node_major,
    });
    let request = ChatRequest {
        messages: vec![
            Message::system(ctx.prompts.render("code_monkey/system", &vars)?),
            Message::user(ctx.prompts.render("code_monkey/generate", &vars)?),
        ],
        temperature: Some(0.2),
        // A small project in whole files is well under this; a model that goes on past it is looping, and
        // on 2 cores every 1,000 tokens of the embedded model cost about 35 s. `llm.params.code_monkey.
        // max_tokens` raises it.
        max_tokens: Some(WHOLE_PROJECT_TOKENS),
        grammar: Some(WHOLE_FILES_GBNF.to_owned()),
        ..Default::default()
    };
    fe.progress(
        &ctx.id,
        Progress::Report {
            message: format!("asking {}", ctx.llm.describe(AgentRole::CodeMonkey)),
            percentage: Some(10),
        },
    );
    let completion = {
        let pending = Mutex::new(String::new());
        let flush = |text: &str| fe.log(&ctx.id, "code_monkey", text);
        let call = CallContext { budget: &ctx.budget, run_id: Some(&ctx.id.0) };
        let completion = ctx
            .llm
            .complete(AgentRole::CodeMonkey, &request, call, &|event| match event {
                StreamEvent::Delta(delta) => {
                    let mut p = pending.lock();
                    p.push_str(delta);
                    // Whole lines to the output panel, not a notification per token.
                    if let Some(i) = p.rfind('\n') {
                        let line: String = p.drain(..=i).collect();
                        drop(p);
                        flush(&line);
                    }
                }
                StreamEvent::Restart { attempt } => {
                    pending.lock().clear();
                    flush(&format!(
                        "\n[the reply starts over (attempt {attempt}): the stream broke or another provider took over]\n"
                    ));
                }
            })
            .await?;
        let rest = std::mem::take(&mut *pending.lock());
        if !rest.is_empty() {
            flush(&rest);
        }
        completion
    };
    if !completion.fallbacks.is_empty() {
        fe.message(
            Level::Warning,
            &format!(
                "Samokoder: {}/{} answered after {} failed: {}",
                completion.provider,
                completion.model,
                completion.fallbacks.len(),
                completion.fallbacks.join("; ")
            ),
        );
    }
    let cut = match &completion.finish_reason {
        FinishReason::Stop => None,
        FinishReason::Length => Some("it reached the token limit".to_owned()),
        FinishReason::ContentFilter => Some("the provider's content filter stopped it".to_owned()),
        FinishReason::Other(why) => Some(why.clone()),
    };
    if let Some(why) = &cut {
        fe.log(&ctx.id, "code_monkey", &format!("\n[stopped: {why}]\n"));
        fe.message(
            Level::Warning,
            &format!(
                "Samokoder: the reply of {}/{} did not end by itself ({why}); a file it had not finished is left out",
                completion.provider, completion.model
            ),
        );
    }
    fe.progress(&ctx.id, Progress::Report { message: "checking the files".into(), percentage: Some(50) });

    let parsed = parse_whole_files(&completion.text);
    if parsed.is_empty() {
        let start: String = completion.text.chars().take(200).collect();
        bail!(
            "the model's reply named no files in the expected format (a path alone on a line, then a fenced block); \
             nothing was written. Its reply began: {start:?}"
        );
    }
    let mut changes = ChangeSet::default();
    let mut refused = Vec::new();
    for file in parsed {
        let path = match subdir {
            Some(dir) => format!("{dir}/{}", file.path),
            None => file.path,
        };
        match ctx.jail.check(&path) {
            Ok(path) => changes.changes.push(FileChange { path, text: file.content }),
            Err(e) => refused.push(e.to_string()),
        }
    }
    if !refused.is_empty() {
        bail!("{}; nothing was written", refused.join("; "));
    }
    ctx.jail.validate(&changes, false).map_err(|e| anyhow!("{e}; nothing was written"))?;
    for change in &changes.changes {
        if let Some(lang) = Lang::from_path(change.path.as_str()) {
            let issues = syntax_issues(lang, &change.text);
            if let Some(first) = issues.first() {
                let line = change.text[..first.range.start].matches('\n').count() + 1;
                fe.log(&ctx.id, "code_monkey", &format!("warning: {}:{line}: {}\n", change.path, first.message));
            }
        }
    }

    fe.progress(
        &ctx.id,
        Progress::Report { message: format!("applying {} files", changes.changes.len()), percentage: Some(60) },
    );
    match fe.apply(&ctx.id, &changes).await? {
        ApplyOutcome::Applied => {}
        ApplyOutcome::Refused { reason } => {
            bail!("the editor did not apply the changes ({reason}); nothing was written")
        }
    }
    let files: Vec<String> = changes.paths().map(|p| p.to_string()).collect();
    ctx.store.append_step(
        &ctx.id.0,
        &StepRecord {
            agent: "code_monkey".into(),
            summary: format!("wrote {} files", files.len()),
            files: files.clone(),
            at_ms: now_ms(),
        },
    )?;
    fe.log(&ctx.id, "code_monkey", &format!("\nwrote {}\n", files.join(", ")));
    let mut summary = format!("wrote {} file{}", files.len(), if files.len() == 1 { "" } else { "s" });
    if let Some(why) = cut {
        summary.push_str(&format!(" (the model's reply was stopped early: {why})"));
    }
    Ok(RunOutcome { status: RunStatus::Succeeded, summary, files, report: None, usage: completion.usage })
}

/// The project's tests in the sandbox on the workspace as the user holds it; results to the frontend.
async fn test_step(ctx: &RunContext, subdir: Option<&str>) -> Result<RunOutcome> {
    let fe = &ctx.frontend;
    fe.progress(
        &ctx.id,
        Progress::Report {
            message: format!("running `{}` in the sandbox", ctx.settings.test_command),
            percentage: Some(70),
        },
    );
    let overlay = fe.overlay();
    let mut request = RunRequest::new(ctx.jail.root(), &overlay, &ctx.settings.test_command, ctx.settings.test_timeout);
    request.cwd = subdir;
    request.idle_timeout = ctx.settings.test_idle_timeout;
    request.run_id = Some(&ctx.id.0);
    let result = ctx.sandbox.run(request, &|out| fe.log(&ctx.id, "executor", out)).await?;
    let report = parse_test_output(&result.output, Location { root: WORKDIR, cwd: subdir.unwrap_or("") });
    fe.test_results(&ctx.id, &report);
    let (status, summary) = if let Some(why) = result.abnormal_end() {
        (RunStatus::TestsFailed, format!("`{}` was {why}", ctx.settings.test_command))
    } else if result.success() && report.recognized && report.passed + report.failed == 0 {
        // Exit code 0 with nothing run proves nothing: a generated project must come with its tests.
        (RunStatus::TestsFailed, format!("no tests ran: `{}` found no tests in the project", ctx.settings.test_command))
    } else if result.success() {
        (RunStatus::Succeeded, format!("tests pass ({} passed)", report.passed))
    } else if report.failed > 0 {
        (
            RunStatus::TestsFailed,
            format!(
                "{} test{} failed, {} passed",
                report.failed,
                if report.failed == 1 { "" } else { "s" },
                report.passed
            ),
        )
    } else {
        let tail: String =
            result.output.lines().rev().take(5).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n");
        (RunStatus::TestsFailed, format!("`{}` exited with {:?}: {tail}", ctx.settings.test_command, result.exit_code))
    };
    ctx.store.append_step(
        &ctx.id.0,
        &StepRecord { agent: "executor".into(), summary: summary.clone(), files: vec![], at_ms: now_ms() },
    )?;
    Ok(RunOutcome { status, summary, files: vec![], report: Some(report), usage: Usage::default() })
}

/// The repo map for the prompt, ranked toward what the editor holds and what the description names, with
/// paths relative to `subdir`; and whether the project has a package.json.
fn project_map(ctx: &RunContext, subdir: Option<&str>, description: &str) -> (String, bool) {
    let prefix = subdir.map(|d| format!("{d}/")).unwrap_or_default();
    let overlay = ctx.frontend.overlay();
    let request = MapRequest {
        tokens: ctx.settings.map_tokens,
        focus: overlay.keys().filter(|p| p.starts_with(&prefix)).cloned().collect(),
        mentioned: description
            .split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .filter(|w| w.chars().count() >= 3)
            .map(str::to_owned)
            .collect(),
        within: subdir.map(str::to_owned),
        ..Default::default()
    };
    let map = ctx.index.read().map(&request);
    let map = if prefix.is_empty() {
        map
    } else {
        map.lines().map(|l| l.strip_prefix(&prefix).unwrap_or(l)).collect::<Vec<_>>().join("\n")
    };
    let package = format!("{prefix}package.json");
    let has_package_json = overlay.contains_key(&package)
        || ctx.jail.check(&package).ok().and_then(|p| ctx.jail.read(&p).ok().flatten()).is_some();
    (map, has_package_json)
}
