//! The project's app, run by the engine for the editor (`samokoder.run`, `samokoder.stop`) and the terminal
//! (`samokoder run`): one app per workspace at a time, kept in step with what the editor holds (its unsaved
//! buffers included) by a sync each second, and stopped with the server.

use std::sync::{Arc, Weak};
use std::time::Duration;

use anyhow::Result;
use samokoder_pipeline::{Frontend, prepare_app};
use samokoder_sandbox::{App, AppRequest, RunRequest, Sandbox};

use crate::Engine;

/// How long an app may take from its start to listening (a dev server's first build included).
const START_TIMEOUT: Duration = Duration::from_secs(120);
/// How often the workspace is synced into the running app's volume (its own watch takes it from there).
const SYNC_EVERY: Duration = Duration::from_secs(1);

pub(crate) struct RunningApp {
    app: App,
    sync: tokio::task::JoinHandle<()>,
}

/// Where the app answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppStarted {
    /// `http://127.0.0.1:<port>/`.
    pub url: String,
    /// The command that runs it.
    pub command: String,
    /// The port it listens on inside the sandbox.
    pub port: u16,
}

impl Engine {
    /// Installs what the project needs and starts its app (stopping one already running); `on_output` sees
    /// the app's output. The future returned resolves when the app exits by itself, with its exit code.
    pub async fn run_app(
        self: &Arc<Self>,
        frontend: Arc<dyn Frontend>,
        on_output: Arc<dyn Fn(&str) + Send + Sync>,
    ) -> Result<(AppStarted, impl Future<Output = Option<i64>> + Send + 'static + use<>)> {
        if self.stop_app().await {
            on_output("the app that was running is stopped; starting it again\n");
        }
        let plan = self.run_now(None, frontend, |ctx| async move { prepare_app(&ctx).await }).await?;
        on_output(&format!("starting `{}` in the sandbox\n", plan.command));
        let sandbox = self.sandbox(&self.config());
        let overlay = self.overlay();
        let request = AppRequest {
            root: self.root(),
            overlay: &overlay,
            command: &plan.command,
            cwd: None,
            port: plan.port,
            env: &[],
            start_timeout: START_TIMEOUT,
        };
        let app = sandbox.start_app(request, on_output).await?;
        let started = AppStarted { url: app.url.clone(), command: plan.command, port: app.port };
        let exited = app.exited();
        let sync = tokio::spawn(keep_in_step(Arc::downgrade(self)));
        if let Some(old) = self.app.lock().await.replace(RunningApp { app, sync }) {
            // Another start won the race: one app per workspace, the newest.
            old.sync.abort();
            old.app.stop().await;
        }
        Ok((started, exited))
    }

    /// The URL of the app running now, if one is.
    pub async fn app_url(&self) -> Option<String> {
        self.app.lock().await.as_ref().map(|running| running.app.url.clone())
    }

    /// Stops the app and removes its container; `false` when none was running.
    pub async fn stop_app(&self) -> bool {
        let Some(running) = self.app.lock().await.take() else { return false };
        running.sync.abort();
        running.app.stop().await;
        true
    }
}

/// Syncs what the editor holds into the sandbox each second while the app runs.
async fn keep_in_step(engine: Weak<Engine>) {
    let mut tick = tokio::time::interval(SYNC_EVERY);
    loop {
        tick.tick().await;
        let Some(engine) = engine.upgrade() else { return };
        let (sandbox, overlay) = (engine.sandbox(&engine.config()), engine.overlay());
        let request = RunRequest::new(engine.root(), &overlay, "true", Duration::from_secs(60));
        if let Err(e) = sandbox.run(request, &|_| {}).await {
            tracing::warn!(error = %e, "the running app did not get the latest files");
        }
    }
}
