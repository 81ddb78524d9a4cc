//! The runs from a terminal: `generate`, `spec`, `implement`, `fix`, `generate-tests`, `resume`, `undo` and
//! `runs`. They need the workspace's
//! durable run store (a run that cannot be recorded cannot be resumed or undone), so they refuse to start
//! without it, saying why (most often: an editor's samokoder holds this workspace).

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use samokoder_pipeline::{
    EditRequest, GenerateRequest, RunId, UndoRequest, fix, generate, generate_tests, implement, instruction_at, resume,
    undo,
};

use super::{fetch_model, finish, interruptible, report_problems};
use crate::{Engine, TerminalFrontend};

/// An engine on `dir` whose run store is durable.
fn engine_with_store(dir: &Path) -> Result<Arc<Engine>> {
    let engine = Engine::new(dir)?;
    if let Some(problem) = &engine.store_problem {
        bail!("{problem}");
    }
    Ok(engine)
}

/// Says so when the workspace has runs that did not finish.
fn mention_unfinished(engine: &Engine) {
    for run in engine.unfinished_runs().into_iter().take(3) {
        let _ = writeln!(
            std::io::stderr(),
            "note: run {} ({:?}) did not finish ({}, at {}); `samokoder resume {}` continues it",
            run.id,
            run.description.chars().take(60).collect::<String>(),
            serde_json::to_value(run.status).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default(),
            if run.phase.is_empty() { "its start" } else { &run.phase },
            run.id
        );
    }
}

/// How `samokoder generate` runs, from its flags.
#[derive(Debug, Default)]
pub struct GenerateHow {
    pub verbose: bool,
    pub yes: bool,
    pub one_shot: bool,
    pub template: Option<String>,
    /// `NAME=VALUE`.
    pub options: Vec<String>,
}

/// `samokoder generate "<description>" --dir DIR [--yes] [--one-shot] [--template NAME [--option K=V]...]`:
/// the whole team, then the tests; with `--one-shot`, one model call and no tests.
pub async fn generate_command(description: &str, dir: &Path, how: GenerateHow) -> Result<i32> {
    let mut options = std::collections::BTreeMap::new();
    for option in &how.options {
        let Some((name, value)) = option.split_once('=') else {
            bail!("--option takes NAME=VALUE (e.g. `--option database=mongoose`), not `{option}`")
        };
        options.insert(name.trim().to_owned(), value.trim().to_owned());
    }
    if let Some(name) = how.template.as_deref() {
        // A wrong name or option stops here, before a model is loaded.
        samokoder_prompts::template(name)?.options(&options)?;
    }
    let request = GenerateRequest {
        description: description.to_owned(),
        one_shot: how.one_shot,
        template: how.template,
        options,
        ..Default::default()
    };
    start(request, dir, how.verbose, how.yes).await
}

/// `samokoder templates`: each template, what it is for, its options and its commands.
pub fn templates_command() -> Result<i32> {
    let mut out = String::new();
    for name in samokoder_prompts::template_names() {
        let t = samokoder_prompts::template(name)?;
        out.push_str(&format!("{name}\n  {}\n", t.description));
        for line in t.summary.trim().lines() {
            out.push_str(&format!("  {}\n", line.trim()));
        }
        for (option, spec) in &t.options {
            out.push_str(&format!(
                "  --option {option}={}  ({}; default {})\n",
                spec.values.join("|"),
                spec.description,
                spec.default
            ));
        }
        for (what, command) in [("install", &t.install), ("test", &t.test), ("build", &t.build), ("dev", &t.dev)] {
            if !command.is_empty() {
                out.push_str(&format!("  {what}: {command}\n"));
            }
        }
        if let Some(port) = t.port {
            out.push_str(&format!("  serves on port {port} (`samokoder run` forwards it)\n"));
        }
        out.push('\n');
    }
    write!(std::io::stdout(), "{out}")?;
    Ok(0)
}

/// `samokoder spec "<description>" --dir DIR`: the spec writer only.
pub async fn spec_command(description: &str, dir: &Path, verbose: bool, yes: bool) -> Result<i32> {
    let request = GenerateRequest { description: description.to_owned(), spec_only: true, ..Default::default() };
    start(request, dir, verbose, yes).await
}

async fn start(request: GenerateRequest, dir: &Path, verbose: bool, yes: bool) -> Result<i32> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut engine = engine_with_store(dir)?;
    if engine.config().llm.default_chain().is_empty() && cfg!(feature = "local-llm") {
        // No provider at all: the embedded model, fetched the first time.
        let _ = writeln!(
            std::io::stderr(),
            "no LLM provider is configured: fetching the embedded model (Qwen2.5-Coder-1.5B, 1.1 GB, once); \
             set OPENAI_API_KEY or another provider to skip this (see docs/config.md)"
        );
        fetch_model("1.5b").await?;
        engine.shutdown().await;
        drop(engine);
        engine = engine_with_store(dir)?;
    }
    report_problems(&engine);
    mention_unfinished(&engine);
    let frontend = Arc::new(TerminalFrontend::new(engine.jail().clone(), verbose, !yes));
    let outcome =
        interruptible(&engine, None, frontend.clone(), move |ctx| async move { generate(&ctx, &request).await }).await;
    finish(&engine, &frontend, outcome).await
}

/// `samokoder resume [RUN] --dir DIR`: the run (else the newest unfinished one) goes on from its last commit.
pub async fn resume_command(dir: &Path, run: Option<&str>, verbose: bool, yes: bool) -> Result<i32> {
    let engine = engine_with_store(dir)?;
    report_problems(&engine);
    let id = match run {
        Some(id) => RunId(id.to_owned()),
        None => match engine.last_unfinished() {
            Some(id) => id,
            None => bail!("no unfinished run in {}: `samokoder runs` lists the runs", dir.display()),
        },
    };
    let _ = writeln!(std::io::stderr(), "resuming run {id}");
    let frontend = Arc::new(TerminalFrontend::new(engine.jail().clone(), verbose, !yes));
    let outcome = interruptible(&engine, Some(id), frontend.clone(), |ctx| async move { resume(&ctx).await }).await;
    finish(&engine, &frontend, outcome).await
}

/// `FILE:LINE` or `FILE:LINE-LINE`: a workspace-relative path and 1-based lines.
fn location(engine: &Engine, at: &str) -> Result<(String, u32, u32)> {
    let usage = || anyhow::anyhow!("`{at}` is not FILE:LINE (for example src/sum.js:12, or src/sum.js:12-20)");
    let (file, lines) = at.rsplit_once(':').ok_or_else(usage)?;
    let (start, end) = match lines.split_once('-') {
        Some((a, b)) => (a.parse().map_err(|_| usage())?, b.parse().map_err(|_| usage())?),
        None => {
            let n = lines.parse().map_err(|_| usage())?;
            (n, n)
        }
    };
    let rel = engine.jail().check(file)?;
    Ok((rel.to_string(), start, end))
}

/// `samokoder implement FILE:LINE [--instruction "..."] --dir DIR`.
pub async fn implement_command(dir: &Path, at: &str, instruction: Option<&str>, verbose: bool) -> Result<i32> {
    let engine = engine_with_store(dir)?;
    report_problems(&engine);
    let (path, start_line, end_line) = location(&engine, at)?;
    let instruction = match instruction.filter(|i| !i.trim().is_empty()) {
        Some(i) => i.to_owned(),
        None => {
            let text = std::fs::read_to_string(engine.jail().abs(&engine.jail().check(&path)?))
                .with_context(|| format!("reading {path}"))?;
            let line = text.lines().nth(start_line.saturating_sub(1) as usize).unwrap_or_default();
            instruction_at(line).ok_or_else(|| {
                anyhow::anyhow!(
                    "line {start_line} of {path} is not a `TODO(samokoder): ...` comment; give --instruction \"what to do\""
                )
            })?
        }
    };
    let request = EditRequest { path, start_line, end_line, instruction };
    let frontend = Arc::new(TerminalFrontend::new(engine.jail().clone(), verbose, true));
    let outcome =
        interruptible(&engine, None, frontend.clone(), move |ctx| async move { implement(&ctx, &request).await }).await;
    finish(&engine, &frontend, outcome).await
}

/// `samokoder generate-tests FILE --dir DIR`: a new test file for FILE, run and corrected until it passes.
pub async fn generate_tests_command(dir: &Path, file: &str, verbose: bool) -> Result<i32> {
    let engine = engine_with_store(dir)?;
    report_problems(&engine);
    let path = engine.jail().check(file)?.to_string();
    let frontend = Arc::new(TerminalFrontend::new(engine.jail().clone(), verbose, true));
    let outcome =
        interruptible(&engine, None, frontend.clone(), move |ctx| async move { generate_tests(&ctx, &path).await })
            .await;
    finish(&engine, &frontend, outcome).await
}

/// `samokoder fix [FILE:LINE --message "..."] --dir DIR`: a diagnostic, or the failing tests.
pub async fn fix_command(dir: &Path, at: Option<&str>, message: Option<&str>, verbose: bool) -> Result<i32> {
    let engine = engine_with_store(dir)?;
    report_problems(&engine);
    let request = match at {
        Some(at) => {
            let (path, start_line, end_line) = location(&engine, at)?;
            let instruction =
                message.map(str::to_owned).unwrap_or_else(|| "the failure reported at this line".to_owned());
            Some(EditRequest { path, start_line, end_line, instruction })
        }
        None => None,
    };
    let frontend = Arc::new(TerminalFrontend::new(engine.jail().clone(), verbose, true));
    let outcome =
        interruptible(&engine, None, frontend.clone(), move |ctx| async move { fix(&ctx, request.as_ref()).await })
            .await;
    finish(&engine, &frontend, outcome).await
}

/// `samokoder undo RUN [--step N] [--force] --dir DIR`.
pub async fn undo_command(dir: &Path, run: &str, step: Option<u32>, force: bool) -> Result<i32> {
    let engine = engine_with_store(dir)?;
    let frontend = Arc::new(TerminalFrontend::new(engine.jail().clone(), true, false));
    let request = UndoRequest { step, force };
    let outcome = interruptible(&engine, Some(RunId(run.to_owned())), frontend.clone(), move |ctx| async move {
        undo(&ctx, &request).await
    })
    .await;
    finish(&engine, &frontend, outcome).await
}

/// `samokoder runs [RUN] --dir DIR`: the history, newest first, with status, tokens and cost; with a run's
/// id, its steps and its model calls (time, tokens and cost per agent).
pub async fn runs_command(dir: &Path, run: Option<&str>) -> Result<i32> {
    let engine = engine_with_store(dir)?;
    if let Some(id) = run {
        let code = run_detail(&engine, id);
        engine.shutdown().await;
        return code;
    }
    let runs = engine.store().list_runs(50)?;
    let mut out = std::io::stdout().lock();
    if runs.is_empty() {
        writeln!(out, "no runs in {}", dir.display())?;
        return Ok(0);
    }
    writeln!(out, "{:<19} {:<9} {:<12} {:>8} {:>9}  WHAT", "RUN", "KIND", "STATUS", "TOKENS", "COST")?;
    for run in runs {
        let status =
            serde_json::to_value(run.status).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
        let what = if run.summary.is_empty() { run.description.clone() } else { run.summary.clone() };
        writeln!(
            out,
            "{:<19} {:<9} {:<12} {:>8} {:>9}  {}",
            run.id,
            run.kind,
            status,
            run.prompt_tokens + run.completion_tokens,
            format!("${:.4}", run.cost_usd),
            what.lines().next().unwrap_or("").chars().take(80).collect::<String>()
        )?;
    }
    engine.shutdown().await;
    Ok(0)
}

fn run_detail(engine: &Engine, id: &str) -> Result<i32> {
    let store = engine.store();
    let Some(run) = store.get_run(id)? else {
        bail!("there is no run {id} in this workspace: `samokoder runs` lists them");
    };
    let mut out = std::io::stdout().lock();
    let status = serde_json::to_value(run.status).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
    writeln!(out, "run {} ({}): {status}: {}", run.id, run.kind, run.summary)?;
    writeln!(out, "asked: {}", run.description)?;
    writeln!(out, "\nSTEP AGENT        SUMMARY")?;
    for (i, step) in store.steps(id)?.iter().enumerate() {
        writeln!(out, "{i:>4} {:<13} {}", step.agent, step.summary.lines().next().unwrap_or(""))?;
    }
    let calls = store.llm_requests(id)?;
    writeln!(out, "\nMODEL CALLS   AGENT           CALLS   SECONDS  PROMPT  OUTPUT      COST")?;
    let mut per_agent: Vec<(String, u64, u64, u64, u64, f64)> = Vec::new();
    for call in &calls {
        let role = call["role"].as_str().unwrap_or("?").to_owned();
        let entry = match per_agent.iter_mut().find(|e| e.0 == role) {
            Some(e) => e,
            None => {
                per_agent.push((role, 0, 0, 0, 0, 0.0));
                per_agent.last_mut().expect("just pushed")
            }
        };
        entry.1 += 1;
        entry.2 += call["latency_ms"].as_u64().unwrap_or(0);
        entry.3 += call["prompt_tokens"].as_u64().unwrap_or(0);
        entry.4 += call["completion_tokens"].as_u64().unwrap_or(0);
        entry.5 += call["cost_usd"].as_f64().unwrap_or(0.0);
    }
    for (role, n, ms, prompt, output, cost) in &per_agent {
        writeln!(
            out,
            "              {role:<15} {n:>5} {:>9.1} {prompt:>7} {output:>7} {:>9}",
            *ms as f64 / 1000.0,
            format!("${cost:.4}")
        )?;
    }
    let total_ms: u64 = per_agent.iter().map(|e| e.2).sum();
    writeln!(out, "              {:<15} {:>5} {:>9.1}", "all", calls.len(), total_ms as f64 / 1000.0)?;
    // Each call, with the prompt tokens a cache served (what a prompt laid out for the cache saves).
    writeln!(out, "\nCALL AGENT           SECONDS  PROMPT  CACHED  OUTPUT")?;
    for (i, call) in calls.iter().enumerate() {
        let n = |k: &str| call[k].as_u64().unwrap_or(0);
        writeln!(
            out,
            "{i:>4} {:<15} {:>8.1} {:>7} {:>7} {:>7}",
            call["role"].as_str().unwrap_or("?"),
            n("latency_ms") as f64 / 1000.0,
            n("prompt_tokens"),
            n("cached_tokens"),
            n("completion_tokens")
        )?;
    }
    Ok(0)
}
