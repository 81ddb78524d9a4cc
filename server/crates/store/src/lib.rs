//! Durable run state, normalised: a record per run, per step, per spec, architecture, plan item, task,
//! question and drafted file, file contents by hash, and the LLM request log; never one growing blob. Every
//! write is flushed before the caller goes on, so a run killed at any point resumes at its last commit.
//!
//! This is the only crate that uses sled. It must never store an API key or any secret: records hold what
//! a run did, never how it authenticated. It knows nothing of what a spec or a plan means: the pipeline
//! gives it typed values as JSON under a [`RecordKind`], and reads them back.

mod mem;
mod sled_store;

use serde::{Deserialize, Serialize};

pub use mem::MemStore;
pub use sled_store::SledStore;

/// Bumped when the layout of stored records changes; older stores are migrated when opened.
/// 1: runs, steps, LLM requests. 2: runs know how to resume, steps record the files they touched, and
/// the run's state has its own records (spec, architecture, plan items, tasks, questions, drafts, blobs).
pub const SCHEMA_VERSION: u32 = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Running,
    /// Stopped to wait for the user (a plan.md to fix, questions to answer); `resume` continues it.
    Paused,
    Succeeded,
    /// Finished, but the project's tests fail.
    TestsFailed,
    Failed,
    Cancelled,
}

impl RunStatus {
    /// Whether `resume` can continue a run in this state (a run killed midway is still `Running`).
    pub fn is_unfinished(self) -> bool {
        matches!(self, RunStatus::Running | RunStatus::Paused | RunStatus::Cancelled)
    }
}

/// One run: what was asked, and where it stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub id: String,
    /// "generate", "spec", "runTests", "undo", ...
    pub kind: String,
    pub description: String,
    pub status: RunStatus,
    pub created_ms: u64,
    pub updated_ms: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// USD spent on models (0 when every price was unknown or local).
    #[serde(default)]
    pub cost_usd: f64,
    /// The error or the outcome, in one line.
    pub summary: String,
    /// A workspace-relative directory the run builds in, if not the whole workspace.
    #[serde(default)]
    pub subdir: Option<String>,
    /// Where the run stands: the agent at work, or the one that would be next ("tech_lead", "task 2:
    /// code_monkey"). Empty for runs recorded before schema 2.
    #[serde(default)]
    pub phase: String,
}

/// What one step did to one file: its content before and after, by blob hash (`None`: no such file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileTouch {
    pub path: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// One step of a run, written when the step is done.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    pub agent: String,
    pub summary: String,
    /// Workspace-relative paths the step wrote.
    pub files: Vec<String>,
    pub at_ms: u64,
    /// The plan task the step belongs to.
    #[serde(default)]
    pub task: Option<String>,
    /// Each file's content before and after the step, for undo.
    #[serde(default)]
    pub touched: Vec<FileTouch>,
}

impl StepRecord {
    pub fn new(agent: &str, summary: impl Into<String>, at_ms: u64) -> Self {
        Self { agent: agent.to_owned(), summary: summary.into(), files: vec![], at_ms, task: None, touched: vec![] }
    }
}

/// The kinds of a run's state records, each kept in its own table under `<run id>/<key>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    /// The spec writer's result (key `spec`), and its analysis before questions (key `analysis`).
    Spec,
    /// The architect's choice (key `architecture`).
    Architecture,
    /// One task of the plan as the tech lead wrote it (key: its position, zero-padded).
    PlanItem,
    /// Progress of one task: the developer's steps, what is applied, the test outcome (key: the task id).
    Task,
    /// A clarifying question and its answer (key: its position).
    Question,
    /// A file a code writer produced and that is not yet applied (key: `<task>/<step>/<path>`).
    Draft,
}

impl RecordKind {
    pub const ALL: [RecordKind; 6] = [
        RecordKind::Spec,
        RecordKind::Architecture,
        RecordKind::PlanItem,
        RecordKind::Task,
        RecordKind::Question,
        RecordKind::Draft,
    ];

    pub fn table(self) -> &'static str {
        match self {
            RecordKind::Spec => "specs",
            RecordKind::Architecture => "architectures",
            RecordKind::PlanItem => "plan_items",
            RecordKind::Task => "tasks",
            RecordKind::Question => "questions",
            RecordKind::Draft => "drafts",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "the run store at {path} is in use by another samokoder (an editor's server, or a terminal command) on \
         this workspace: stop that one, or run this there"
    )]
    Locked { path: String },
    #[error("cannot open the run store at {path}: {message}")]
    Open { path: String, message: String },
    #[error(
        "the run store at {path} has schema {found}, newer than this samokoder's {SCHEMA_VERSION}; upgrade samokoder"
    )]
    Schema { path: String, found: u32 },
    #[error("the run store failed: {0}; if the disk is full or read-only, free space or fix its permissions")]
    Db(String),
    #[error("a stored record is corrupt: {0}")]
    Corrupt(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Where runs are kept. Writes are durable when they return.
pub trait Store: Send + Sync {
    fn put_run(&self, run: &RunRecord) -> Result<()>;
    fn get_run(&self, id: &str) -> Result<Option<RunRecord>>;
    /// Newest first.
    fn list_runs(&self, limit: usize) -> Result<Vec<RunRecord>>;
    /// Appends a step; returns its index in the run.
    fn append_step(&self, run_id: &str, step: &StepRecord) -> Result<u32>;
    fn steps(&self, run_id: &str) -> Result<Vec<StepRecord>>;
    /// Appends one LLM request record (the llm crate's `LlmRecord`, as JSON) to a run's request log.
    fn append_llm_request(&self, run_id: &str, record: &serde_json::Value) -> Result<()>;
    /// A run's request log, in order.
    fn llm_requests(&self, run_id: &str) -> Result<Vec<serde_json::Value>>;

    /// Writes one state record of a run (replacing the one under the same key).
    fn put_record(&self, kind: RecordKind, run_id: &str, key: &str, value: &serde_json::Value) -> Result<()>;
    fn get_record(&self, kind: RecordKind, run_id: &str, key: &str) -> Result<Option<serde_json::Value>>;
    /// Every record of this kind of a run, by key order.
    fn records(&self, kind: RecordKind, run_id: &str) -> Result<Vec<(String, serde_json::Value)>>;
    fn delete_record(&self, kind: RecordKind, run_id: &str, key: &str) -> Result<()>;

    /// Keeps a file's content; returns its hash (the same content is kept once).
    fn put_blob(&self, content: &str) -> Result<String>;
    fn get_blob(&self, hash: &str) -> Result<Option<String>>;
}

/// The key of content: SHA-256, hex.
pub fn blob_hash(content: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(content.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Typed access over the JSON records.
pub fn get_typed<T: for<'de> Deserialize<'de>>(
    store: &dyn Store,
    kind: RecordKind,
    run_id: &str,
    key: &str,
) -> Result<Option<T>> {
    store
        .get_record(kind, run_id, key)?
        .map(|v| {
            serde_json::from_value(v).map_err(|e| StoreError::Corrupt(format!("{}/{run_id}/{key}: {e}", kind.table())))
        })
        .transpose()
}

pub fn put_typed<T: Serialize>(store: &dyn Store, kind: RecordKind, run_id: &str, key: &str, value: &T) -> Result<()> {
    let value = serde_json::to_value(value).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    store.put_record(kind, run_id, key, &value)
}

pub fn all_typed<T: for<'de> Deserialize<'de>>(
    store: &dyn Store,
    kind: RecordKind,
    run_id: &str,
) -> Result<Vec<(String, T)>> {
    store
        .records(kind, run_id)?
        .into_iter()
        .map(|(k, v)| {
            let parsed = serde_json::from_value(v)
                .map_err(|e| StoreError::Corrupt(format!("{}/{run_id}/{k}: {e}", kind.table())))?;
            Ok((k, parsed))
        })
        .collect()
}

#[cfg(test)]
mod tests;
