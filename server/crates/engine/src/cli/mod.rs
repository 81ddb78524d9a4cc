//! The terminal's commands, on the same engine the editor uses: the runs (`runs.rs`: generate, spec,
//! resume, undo, runs), and `test`, `map`, `model fetch` here. Each returns the process exit code: 0 when
//! all is well, 1 when tests fail or a check fails, 2 on an error, 3 when a run paused for the user, 130 when
//! interrupted.

mod app;
mod runs;

pub use app::run_app_command;

pub use runs::{
    GenerateHow, fix_command, generate_command, generate_tests_command, implement_command, resume_command,
    runs_command, spec_command, templates_command, undo_command,
};

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use samokoder_pipeline::{RunId, RunOutcome, run_tests};
use samokoder_store::RunStatus;

use crate::{Engine, TerminalFrontend};

/// The model fetch script, embedded so the binary can run it anywhere.
const FETCH_MODEL: &str = include_str!("../../../../../scripts/fetch-model.sh");

/// `samokoder model fetch [--size 1.5b|0.5b|smollm2]`: downloads and verifies a GGUF; prints its path.
pub async fn model_fetch_command(size: &str) -> Result<i32> {
    let path = fetch_model(size).await?;
    writeln!(std::io::stdout(), "{}", path.display())?;
    Ok(0)
}

/// Runs the fetch script (its progress on stderr); the verified model's path.
pub(crate) async fn fetch_model(size: &str) -> Result<std::path::PathBuf> {
    let script = std::env::temp_dir().join(format!("samokoder-fetch-model-{}.sh", std::process::id()));
    std::fs::write(&script, FETCH_MODEL).context("writing the fetch script")?;
    let output = tokio::process::Command::new("bash")
        .arg(&script)
        .arg(size)
        .stderr(std::process::Stdio::inherit())
        .output()
        .await
        .context("running bash (the model fetch is a bash script)")?;
    let _ = std::fs::remove_file(&script);
    if !output.status.success() {
        anyhow::bail!("fetching the model failed (see above)");
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().into())
}

/// `samokoder test [DIR]`.
pub async fn test_command(dir: &Path, verbose: bool) -> Result<i32> {
    let engine = Engine::new(dir)?;
    report_problems(&engine);
    let frontend = Arc::new(TerminalFrontend::new(engine.jail().clone(), verbose, false));
    let outcome = interruptible(&engine, None, frontend.clone(), |ctx| async move { run_tests(&ctx).await }).await;
    finish(&engine, &frontend, outcome).await
}

pub(crate) fn report_problems(engine: &Engine) {
    for problem in &engine.config_problems {
        let _ = writeln!(std::io::stderr(), "warning: {problem}");
    }
}

/// Runs until done or Ctrl-C. `None` when interrupted.
pub(crate) async fn interruptible<F, Fut>(
    engine: &Arc<Engine>,
    id: Option<RunId>,
    frontend: Arc<TerminalFrontend>,
    body: F,
) -> Option<Result<RunOutcome>>
where
    F: FnOnce(Arc<samokoder_pipeline::RunContext>) -> Fut,
    Fut: Future<Output = Result<RunOutcome>>,
{
    tokio::select! {
        outcome = engine.run_now(id, frontend, body) => Some(outcome),
        _ = tokio::signal::ctrl_c() => None,
    }
}

pub(crate) async fn finish(
    engine: &Engine,
    frontend: &TerminalFrontend,
    outcome: Option<Result<RunOutcome>>,
) -> Result<i32> {
    frontend.finish();
    engine.shutdown().await;
    let mut out = std::io::stdout().lock();
    let Some(outcome) = outcome else {
        writeln!(out, "interrupted")?;
        return Ok(130);
    };
    let outcome = match outcome {
        Ok(o) => o,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "error: {e:#}");
            return Ok(2);
        }
    };
    for file in &outcome.files {
        writeln!(out, "wrote {file}")?;
    }
    if let Some(report) = frontend.last_report() {
        for f in &report.failures {
            let at = match (&f.file, f.line) {
                (Some(file), Some(line)) => format!("{file}:{line}: "),
                (Some(file), None) => format!("{file}: "),
                _ => String::new(),
            };
            writeln!(out, "FAIL {at}{}: {}", f.name, f.message.lines().next().unwrap_or(""))?;
        }
    }
    writeln!(out, "{}", outcome.summary)?;
    Ok(match outcome.status {
        RunStatus::Succeeded => 0,
        // Waiting for the user (a plan.md to fix): not a failure of the project.
        RunStatus::Paused => 3,
        _ => 1,
    })
}

/// `samokoder map [DIR] --tokens N --focus FILE...`: the repo map the agents see.
pub async fn map_command(dir: &Path, tokens: usize, focus: &[String]) -> Result<i32> {
    let engine = Engine::new(dir)?;
    engine.wait_indexed().await;
    let request = samokoder_context::MapRequest { tokens, focus: focus.to_vec(), ..Default::default() };
    let map = engine.index().read().map(&request);
    let mut out = std::io::stdout().lock();
    out.write_all(map.as_bytes())?;
    if map.is_empty() {
        let _ = writeln!(std::io::stderr(), "no TypeScript or JavaScript definitions found under {}", dir.display());
    }
    Ok(0)
}
