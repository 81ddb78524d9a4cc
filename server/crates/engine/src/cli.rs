//! The terminal's commands: `generate`, `test` and `doctor`, on the same engine the editor uses. Each
//! returns the process exit code: 0 when all is well, 1 when tests fail or a check fails, 2 on an error,
//! 130 when interrupted.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use samokoder_pipeline::{GenerateRequest, RunOutcome, generate, run_tests};
use samokoder_store::RunStatus;

use crate::{Engine, TerminalFrontend};

/// The model fetch script, embedded so the binary can run it anywhere.
const FETCH_MODEL: &str = include_str!("../../../../scripts/fetch-model.sh");

/// `samokoder model fetch [--size 1.5b|0.5b|smollm2]`: downloads and verifies a GGUF; prints its path.
pub async fn model_fetch_command(size: &str) -> Result<i32> {
    let path = fetch_model(size).await?;
    writeln!(std::io::stdout(), "{}", path.display())?;
    Ok(0)
}

/// Runs the fetch script (its progress on stderr); the verified model's path.
async fn fetch_model(size: &str) -> Result<std::path::PathBuf> {
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

/// `samokoder generate "<description>" --dir DIR`.
pub async fn generate_command(description: &str, dir: &Path, verbose: bool) -> Result<i32> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut engine = Engine::new(dir)?;
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
        engine = Engine::new(dir)?;
    }
    report_problems(&engine);
    let frontend = Arc::new(TerminalFrontend::new(engine.jail().clone(), verbose));
    let request = GenerateRequest { description: description.to_owned(), subdir: None };
    let outcome =
        interruptible(&engine, frontend.clone(), move |ctx| async move { generate(&ctx, &request).await }).await;
    finish(&engine, &frontend, outcome).await
}

/// `samokoder test [DIR]`.
pub async fn test_command(dir: &Path, verbose: bool) -> Result<i32> {
    let engine = Engine::new(dir)?;
    report_problems(&engine);
    let frontend = Arc::new(TerminalFrontend::new(engine.jail().clone(), verbose));
    let outcome = interruptible(&engine, frontend.clone(), |ctx| async move { run_tests(&ctx).await }).await;
    finish(&engine, &frontend, outcome).await
}

fn report_problems(engine: &Engine) {
    for problem in &engine.config_problems {
        let _ = writeln!(std::io::stderr(), "warning: {problem}");
    }
}

/// Runs until done or Ctrl-C. `None` when interrupted.
async fn interruptible<F, Fut>(
    engine: &Arc<Engine>,
    frontend: Arc<TerminalFrontend>,
    body: F,
) -> Option<Result<RunOutcome>>
where
    F: FnOnce(Arc<samokoder_pipeline::RunContext>) -> Fut,
    Fut: Future<Output = Result<RunOutcome>>,
{
    tokio::select! {
        outcome = engine.run_now(frontend, body) => Some(outcome),
        _ = tokio::signal::ctrl_c() => None,
    }
}

async fn finish(engine: &Engine, frontend: &TerminalFrontend, outcome: Option<Result<RunOutcome>>) -> Result<i32> {
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
    Ok(if outcome.status == RunStatus::Succeeded { 0 } else { 1 })
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
