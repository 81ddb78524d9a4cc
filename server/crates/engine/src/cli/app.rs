//! `samokoder run [DIR]`: the project's app in the sandbox, on a URL on 127.0.0.1, until Ctrl-C.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use samokoder_pipeline::prepare_app;
use samokoder_sandbox::{AppRequest, RunRequest, Sandbox};

use super::report_problems;
use crate::{Engine, TerminalFrontend};

/// How long an app may take from its start to listening (a dev server's first build included).
const START_TIMEOUT: Duration = Duration::from_secs(120);
/// How often the workspace on disk is synced into the running app's volume (its own watch takes it from there).
const SYNC_EVERY: Duration = Duration::from_secs(1);

/// Installs what the project needs, starts its app, prints its URL, streams its output, keeps it in step
/// with the files on disk, and stops it (nothing left running) on Ctrl-C or when it exits. 0 on Ctrl-C, 1
/// when the app exited by itself or could not start, 2 on an error.
pub async fn run_app_command(dir: &Path) -> Result<i32> {
    let engine = Engine::new(dir)?;
    report_problems(&engine);
    let frontend = Arc::new(TerminalFrontend::new(engine.jail().clone(), false, false));
    let plan = tokio::select! {
        plan = engine.run_now(None, frontend.clone(), |ctx| async move { prepare_app(&ctx).await }) => plan,
        _ = tokio::signal::ctrl_c() => {
            engine.shutdown().await;
            return Ok(130);
        }
    };
    let plan = match plan {
        Ok(plan) => plan,
        Err(e) => {
            frontend.finish();
            engine.shutdown().await;
            return Err(e);
        }
    };
    let sandbox = engine.sandbox(&engine.config());
    let root = engine.root().to_owned();
    let overlay = Default::default();
    let request = AppRequest {
        root: &root,
        overlay: &overlay,
        command: &plan.command,
        cwd: None,
        port: plan.port,
        env: &[],
        start_timeout: START_TIMEOUT,
    };
    say(&format!("starting `{}` in the sandbox\n", plan.command));
    let print = Arc::new(say);
    let app = tokio::select! {
        app = sandbox.start_app(request, print) => app,
        _ = tokio::signal::ctrl_c() => {
            engine.shutdown().await;
            return Ok(130);
        }
    };
    let app = match app {
        Ok(app) => app,
        Err(e @ samokoder_sandbox::SandboxError::App { .. }) => {
            let _ = writeln!(std::io::stderr(), "error: {e}");
            engine.shutdown().await;
            return Ok(1);
        }
        Err(e) => {
            engine.shutdown().await;
            return Err(e).context("starting the app");
        }
    };
    say(&format!("the app is running at {} (port {} in the sandbox); Ctrl-C stops it\n", app.url, app.port));
    let mut sync = tokio::time::interval(SYNC_EVERY);
    let code = {
        let exited = app.exited();
        tokio::pin!(exited);
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => break 0,
                exit = &mut exited => {
                    let code = exit.map_or("unknown".to_owned(), |c| c.to_string());
                    let _ = writeln!(std::io::stderr(), "the app exited (code {code})");
                    break 1;
                }
                _ = sync.tick() => {
                    let request = RunRequest::new(&root, &overlay, "true", Duration::from_secs(60));
                    if let Err(e) = sandbox.run(request, &|_| {}).await {
                        let _ = writeln!(std::io::stderr(), "warning: the app did not get the latest files: {e}");
                    }
                }
            }
        }
    };
    app.stop().await;
    engine.shutdown().await;
    say("stopped\n");
    Ok(code)
}

/// To stdout as it comes (never `print!`: it panics when stdout is closed).
fn say(s: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(s.as_bytes());
    let _ = out.flush();
}
