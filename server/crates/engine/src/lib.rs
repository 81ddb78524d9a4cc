//! The API boundary that the LSP server and the CLI both stand on: the workspace as the editor holds it
//! (open documents, edits the client accepted but has not saved), configuration, and the registry of
//! runs (spawned, cancellable, supervised jobs).
//!
//! Plain Rust types in editor terms: this crate must never know about LSP, JSON-RPC or lsp-types (the
//! `lsp` crate converts), and never block a caller on a run: runs are tasks.

mod app;
mod cli;
pub mod config;
mod doctor;
mod headless;
mod index;
mod llm;
pub mod logging;
mod runs;
mod workspace;

pub use app::AppStarted;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use parking_lot::{Mutex, RwLock};
use samokoder_edits::{ChangeOutcome, ChangeSet, ContentChange, DocumentError, Jail, PositionEncoding};
use samokoder_llm::{Budget, Router};
use samokoder_pipeline::{Frontend, RunContext, RunOutcome, RunSettings};
use samokoder_prompts::Prompts;
use samokoder_sandbox::{DockerSandbox, Sandbox, SandboxConfig};
use samokoder_store::{MemStore, SledStore, Store};

pub use cli::{
    GenerateHow, fix_command, generate_command, generate_tests_command, implement_command, map_command,
    model_fetch_command, resume_command, run_app_command, runs_command, spec_command, templates_command, test_command,
    undo_command,
};
pub use config::{Config, ConfigLayer};
pub use doctor::doctor_command;
pub use headless::TerminalFrontend;
pub use runs::RunInfo;
pub use samokoder_pipeline::{
    ApplyOutcome, EditRequest, GenerateRequest, Level, Progress, RunId, StatusSnapshot, UndoRequest, fix, generate,
    generate_tests, implement, instruction_at, is_test_file, resume, run_tests, undo,
};
pub use samokoder_store::{RunRecord, RunStatus};
pub use workspace::PlannedEdit;

/// Looks up an environment variable (the process's, or a test's).
pub type EnvLookup = Box<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// The mutable host of one workspace.
pub struct Engine {
    jail: Jail,
    files_layer: ConfigLayer,
    editor_layer: Mutex<ConfigLayer>,
    env: EnvLookup,
    config: RwLock<Config>,
    /// Problems found while loading configuration, for the user and `doctor`.
    pub config_problems: Vec<String>,
    workspace: Mutex<workspace::Workspace>,
    runs: runs::Registry,
    store: Arc<dyn Store>,
    /// Why the durable store could not be used, if it could not.
    pub store_problem: Option<String>,
    sandbox: Mutex<Option<(SandboxConfig, Arc<DockerSandbox>)>>,
    /// The project's app, while it runs (`app.rs`).
    app: tokio::sync::Mutex<Option<app::RunningApp>>,
    /// Built from the configuration, shared by all runs (provider limits are per provider, not per run).
    router: RwLock<Arc<Router>>,
    /// Problems in the LLM configuration (unknown roles, providers named but missing).
    pub llm_problems: RwLock<Vec<String>>,
    /// The context index of the workspace, kept current in the background.
    indexer: index::Indexer,
}

impl Engine {
    /// An engine for the workspace at `root`, with configuration from files and the process environment.
    pub fn new(root: &Path) -> Result<Arc<Self>> {
        Self::with_env(root, Box::new(|k| std::env::var(k).ok()))
    }

    pub fn with_env(root: &Path, env: EnvLookup) -> Result<Arc<Self>> {
        let jail = Jail::new(root).with_context(|| format!("opening the workspace {}", root.display()))?;
        let (files_layer, config_problems) = config::load_files(jail.root(), &*env);
        let mut layer = files_layer.clone();
        layer.merge(ConfigLayer::from_env(&*env));
        let config = Config::resolve(&layer, &*env);
        let (store, store_problem): (Arc<dyn Store>, _) = match store_path(jail.root(), &*env)
            .map(|p| SledStore::open(&p))
        {
            Some(Ok(store)) => (Arc::new(store), None),
            Some(Err(e)) => {
                tracing::warn!(error = %e, "using an in-memory run store");
                (Arc::new(MemStore::default()), Some(e.to_string()))
            }
            None => {
                (Arc::new(MemStore::default()), Some("no HOME or XDG_DATA_HOME: runs are kept in memory only".into()))
            }
        };
        let (router, llm_problems) = llm::build_router(&config.llm, Arc::new(llm::StoreLog(store.clone())));
        Ok(Arc::new(Self {
            indexer: index::Indexer::start(jail.root().to_owned()),
            router: RwLock::new(Arc::new(router)),
            llm_problems: RwLock::new(llm_problems),
            workspace: Mutex::new(workspace::Workspace::new(jail.clone())),
            jail,
            files_layer,
            editor_layer: Mutex::new(ConfigLayer::default()),
            env,
            config: RwLock::new(config),
            config_problems,
            runs: runs::Registry::default(),
            store,
            store_problem,
            sandbox: Mutex::new(None),
            app: tokio::sync::Mutex::new(None),
        }))
    }

    pub fn root(&self) -> &Path {
        self.jail.root()
    }

    pub fn config(&self) -> Config {
        self.config.read().clone()
    }

    /// Applies the editor's settings (initializationOptions or `workspace/configuration`). A value out of its
    /// range is left out and the rest applies; `Err` names what was left out.
    pub fn set_editor_settings(&self, settings: &serde_json::Value) -> Result<(), String> {
        let (editor, out_of_range) = ConfigLayer::from_json(settings)?;
        let mut current = self.editor_layer.lock();
        current.merge(editor);
        let mut layer = self.files_layer.clone();
        layer.merge(current.clone());
        layer.merge(ConfigLayer::from_env(&*self.env));
        let config = Config::resolve(&layer, &*self.env);
        let (router, problems) = llm::build_router(&config.llm, Arc::new(llm::StoreLog(self.store.clone())));
        *self.router.write() = Arc::new(router);
        *self.llm_problems.write() = problems;
        *self.config.write() = config;
        if out_of_range.is_empty() { Ok(()) } else { Err(out_of_range.join("; ")) }
    }

    // --- documents -------------------------------------------------------------------------------

    pub fn open_document(&self, path: PathBuf, text: &str, version: i32) {
        if let Some(rel) = self.jail.relativize(&path) {
            self.indexer.send(index::IndexOp::Open(rel.to_string(), text.to_owned()));
        }
        self.workspace.lock().open(path, text, version);
    }

    pub fn change_document(
        &self,
        path: &Path,
        version: i32,
        changes: Vec<ContentChange>,
        enc: PositionEncoding,
    ) -> Result<ChangeOutcome, DocumentError> {
        let mut workspace = self.workspace.lock();
        let outcome = workspace.change(path, version, changes, enc);
        self.forward_edits(&mut workspace);
        outcome
    }

    /// Applies every held change (see `Document`): called before handling any message that is not a change.
    pub fn release_held_changes(&self) -> bool {
        let mut workspace = self.workspace.lock();
        let any = workspace.release_held();
        if any {
            self.forward_edits(&mut workspace);
        }
        any
    }

    fn forward_edits(&self, workspace: &mut workspace::Workspace) {
        for (path, edits) in workspace.take_edits() {
            if let Some(rel) = self.jail.relativize(&path) {
                self.indexer.send(index::IndexOp::Edit(rel.to_string(), edits));
            }
        }
    }

    pub fn close_document(&self, path: &Path) {
        self.workspace.lock().close(path);
        self.reload_from_disk(path);
    }

    /// The file was saved: the disk is the truth for it again.
    pub fn file_saved(&self, path: &Path) {
        self.workspace.lock().saved(path);
    }

    /// The file changed on disk (created, changed or deleted by another tool).
    pub fn file_changed_on_disk(&self, path: &Path) {
        let open = {
            let mut workspace = self.workspace.lock();
            workspace.saved(path);
            workspace.text(path).is_some()
        };
        if !open {
            self.reload_from_disk(path);
        }
    }

    fn reload_from_disk(&self, path: &Path) {
        if let Some(rel) = self.jail.relativize(path) {
            self.indexer.send(index::IndexOp::Reload(rel.to_string()));
        }
    }

    /// The context index as it stands (it may lag the last edit by the time a parse takes).
    pub fn index(&self) -> Arc<RwLock<samokoder_context::RepoIndex>> {
        self.indexer.index.clone()
    }

    /// Waits until the first scan of the workspace is indexed.
    pub async fn wait_indexed(&self) {
        self.indexer.wait_ready().await;
    }

    pub fn document_text(&self, path: &Path) -> Option<(String, i32)> {
        self.workspace.lock().text(path)
    }

    /// What the editor holds that may not be on disk: workspace-relative path -> text.
    pub fn overlay(&self) -> std::collections::BTreeMap<String, String> {
        self.workspace.lock().overlay()
    }

    /// The edits that bring the workspace as the editor holds it to `changes`.
    pub fn plan_edits(&self, changes: &ChangeSet) -> Vec<PlannedEdit> {
        self.workspace.lock().plan(changes)
    }

    /// The client applied `changes`: until it saves them or opens the files, they live in its buffers only.
    pub fn edits_accepted(&self, changes: &ChangeSet) {
        let mut workspace = self.workspace.lock();
        workspace.accepted(changes);
        for change in &changes.changes {
            // Open documents hear of it through the editor's didChange.
            if workspace.text(&self.jail.abs(&change.path)).is_none() {
                self.indexer.send(index::IndexOp::Upsert(change.path.to_string(), change.text.clone()));
            }
        }
    }

    pub fn jail(&self) -> &Jail {
        &self.jail
    }

    // --- runs ------------------------------------------------------------------------------------

    /// Starts a run as a job and returns its id at once. The job reports through `frontend`; a failure
    /// or a panic ends it with a message, never the server. `id`: an existing run's (resume, undo); a new
    /// one when `None`.
    pub fn spawn_run<F, Fut>(
        self: &Arc<Self>,
        kind: &'static str,
        id: Option<RunId>,
        frontend: Arc<dyn Frontend>,
        body: F,
    ) -> Result<RunId>
    where
        F: FnOnce(Arc<RunContext>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<RunOutcome>> + Send + 'static,
    {
        if let Some(id) = &id
            && self.runs.is_active(&id.0)
        {
            anyhow::bail!("run {id} is already going on; cancel it first (samokoder.cancel)");
        }
        let ctx = Arc::new(self.run_context(id, frontend.clone()));
        let id = ctx.id.clone();
        let engine = self.clone();
        let run = ctx.clone();
        // The agents read the repo map: a run starts once the first scan is indexed (a run started at
        // once would tell the model "the project has no source files yet").
        let body = async move {
            engine.wait_indexed().await;
            body(run).await
        };
        self.runs.spawn(ctx, kind, self.store.clone(), body);
        Ok(id)
    }

    /// Runs to the end in the caller's task (the CLI), cancellable by `cancel`.
    pub async fn run_now<F, Fut, T>(
        self: &Arc<Self>,
        id: Option<RunId>,
        frontend: Arc<dyn Frontend>,
        body: F,
    ) -> Result<T>
    where
        F: FnOnce(Arc<RunContext>) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let ctx = Arc::new(self.run_context(id, frontend));
        self.wait_indexed().await;
        body(ctx).await
    }

    /// Runs recorded in this workspace that did not finish and are not going on now: killed, cancelled or
    /// paused ones, which `resume` continues.
    pub fn unfinished_runs(&self) -> Vec<samokoder_store::RunRecord> {
        let runs = self.store.list_runs(50).unwrap_or_default();
        runs.into_iter()
            .filter(|r| matches!(r.kind.as_str(), "generate" | "spec"))
            .filter(|r| r.status.is_unfinished() && !self.runs.is_active(&r.id))
            .collect()
    }

    /// The newest run recorded in this workspace that is not going on now (for "undo the last run").
    pub fn last_run(&self) -> Option<samokoder_store::RunRecord> {
        let runs = self.store.list_runs(1).unwrap_or_default();
        runs.into_iter().next().filter(|r| !self.runs.is_active(&r.id))
    }

    /// The newest unfinished run's id, for `resume` without one.
    pub fn last_unfinished(&self) -> Option<RunId> {
        self.unfinished_runs().into_iter().next().map(|r| RunId(r.id))
    }

    /// Asks a run to stop; `false` when no such run is active.
    pub fn cancel(&self, id: &str) -> bool {
        self.runs.cancel(id)
    }

    pub fn active_runs(&self) -> Vec<RunInfo> {
        self.runs.active()
    }

    /// Records a progress message (and percentage, when there is one) for `samokoder/status`.
    pub fn note_progress(&self, id: &RunId, message: &str, percentage: Option<u32>) {
        self.runs.note(&id.0, message, percentage);
    }

    pub fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    /// Cancels every run, stops the app, and removes the sandbox's containers.
    pub async fn shutdown(&self) {
        self.runs.cancel_all();
        self.stop_app().await;
        let sandbox = self.sandbox.lock().take();
        if let Some((_, sandbox)) = sandbox {
            sandbox.shutdown().await;
        }
    }

    fn run_context(&self, id: Option<RunId>, frontend: Arc<dyn Frontend>) -> RunContext {
        let config = self.config();
        RunContext {
            id: id.unwrap_or_default(),
            jail: self.jail.clone(),
            llm: self.router(),
            index: self.index(),
            budget: Arc::new(Budget::new(config.llm.budget.max_usd, config.llm.budget.max_tokens)),
            sandbox: self.sandbox(&config),
            store: self.store.clone(),
            prompts: Prompts::new(Some(self.jail.root())),
            frontend,
            settings: RunSettings {
                test_command: config.sandbox.test_command.clone(),
                test_command_configured: config.sandbox.test_command_configured,
                test_timeout: config.sandbox.timeout,
                test_idle_timeout: config.sandbox.no_output,
                max_fix_iterations: config.llm.budget.max_fix_iterations.unwrap_or(4),
                candidates: config.run.candidates,
                oracle: config.run.oracle,
                ..Default::default()
            },
            status: Default::default(),
            cancel: tokio_util::sync::CancellationToken::new(),
        }
    }

    /// The model router for the current configuration.
    pub fn router(&self) -> Arc<Router> {
        self.router.read().clone()
    }

    /// The workspace's sandbox, rebuilt when its configuration changed.
    pub fn sandbox(&self, config: &Config) -> Arc<DockerSandbox> {
        let wanted = sandbox_config(config);
        let mut slot = self.sandbox.lock();
        if let Some((current, sandbox)) = slot.as_ref() {
            if *current == wanted {
                return sandbox.clone();
            }
            let old = sandbox.clone();
            tokio::spawn(async move { old.shutdown().await });
        }
        let sandbox = Arc::new(DockerSandbox::new(wanted.clone(), self.jail.root()));
        *slot = Some((wanted, sandbox.clone()));
        sandbox
    }
}

fn sandbox_config(config: &Config) -> SandboxConfig {
    let s = &config.sandbox;
    SandboxConfig {
        image: s.image.clone(),
        fallback_image: (!s.image_configured).then(|| samokoder_sandbox::LOCAL_IMAGE.to_owned()),
        memory_bytes: i64::try_from(s.memory_mb.saturating_mul(1024 * 1024)).unwrap_or(i64::MAX),
        cpus: s.cpus,
        pids_limit: s.pids,
        idle_stop: s.idle_stop,
        network: s.network.clone(),
        ca_bundle: s.ca_bundle.clone(),
        sync_include: s.sync_include.clone(),
        docker_host: s.docker_host.clone(),
        ..Default::default()
    }
}

/// Where the workspace's runs are stored: `$XDG_DATA_HOME/samokoder/workspaces/<name>-<hash>`.
fn store_path(root: &Path, env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let base = env("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| env("HOME").map(|h| PathBuf::from(h).join(".local").join("share")))?;
    let name = root.file_name().and_then(|n| n.to_str()).unwrap_or("workspace");
    let hash =
        root.to_string_lossy().bytes().fold(0xcbf29ce484222325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100000001b3));
    Some(base.join("samokoder").join("workspaces").join(format!("{name}-{hash:016x}")))
}
