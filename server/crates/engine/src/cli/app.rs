//! `samokoder run [DIR]`: the project's app in the sandbox, on a URL on 127.0.0.1, until Ctrl-C.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::Result;

use super::report_problems;
use crate::{Engine, TerminalFrontend};

/// Installs what the project needs, starts its app, prints its URL, streams its output, keeps it in step
/// with the files on disk, and stops it (nothing left running) on Ctrl-C or when it exits. 0 on Ctrl-C, 1
/// when the app exited by itself or could not start, 2 on an error.
pub async fn run_app_command(dir: &Path) -> Result<i32> {
    let engine = Engine::new(dir)?;
    report_problems(&engine);
    let frontend = Arc::new(TerminalFrontend::new(engine.jail().clone(), false, false));
    let started = tokio::select! {
        started = engine.run_app(frontend.clone(), Arc::new(say)) => started,
        _ = tokio::signal::ctrl_c() => {
            engine.shutdown().await;
            return Ok(130);
        }
    };
    frontend.finish();
    let (started, exited) = match started {
        Ok(started) => started,
        Err(e) => {
            engine.shutdown().await;
            if let Some(e @ samokoder_sandbox::SandboxError::App { .. }) = e.downcast_ref() {
                let _ = writeln!(std::io::stderr(), "error: {e}");
                return Ok(1);
            }
            return Err(e);
        }
    };
    say(&format!("the app is running at {} (port {} in the sandbox); Ctrl-C stops it\n", started.url, started.port));
    let code = tokio::select! {
        _ = tokio::signal::ctrl_c() => 0,
        exit = exited => {
            let code = exit.map_or("unknown".to_owned(), |c| c.to_string());
            let _ = writeln!(std::io::stderr(), "the app exited (code {code})");
            1
        }
    };
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
