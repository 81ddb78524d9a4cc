//! Durable run state: runs and their steps, normalised (a run record plus one record per step, never one
//! growing blob), each write flushed before the caller goes on, so a crashed run resumes at its last step.
//!
//! This is the only crate that uses sled. It must never store an API key or any secret: records hold what
//! a run did, never how it authenticated.

use std::path::Path;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

/// Bumped when the layout of stored records changes incompatibly.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Running,
    Succeeded,
    /// Finished, but the project's tests fail.
    TestsFailed,
    Failed,
    Cancelled,
}

/// One run: what was asked, and where it stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub id: String,
    /// "generate", "runTests", ...
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
}

/// One step of a run, written when the step is done.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    pub agent: String,
    pub summary: String,
    /// Workspace-relative paths the step wrote.
    pub files: Vec<String>,
    pub at_ms: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "cannot open the run store at {path}: {message}; another samokoder may be using this workspace \
         (runs are then kept in memory only)"
    )]
    Open { path: String, message: String },
    #[error(
        "the run store at {path} has schema {found}, newer than this samokoder's {SCHEMA_VERSION}; upgrade samokoder"
    )]
    Schema { path: String, found: u32 },
    #[error("the run store failed: {0}")]
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
}

/// The sled store: trees `runs` (id -> record), `steps` (`<run id>/<index:08>` -> record) and
/// `llm_requests` (`<run id>/<sequence:016>` -> record).
pub struct SledStore {
    db: sled::Db,
    runs: sled::Tree,
    steps: sled::Tree,
    llm_requests: sled::Tree,
}

impl SledStore {
    pub fn open(path: &Path) -> Result<Self> {
        let open_err = |e: sled::Error| StoreError::Open { path: path.display().to_string(), message: e.to_string() };
        let db = sled::Config::new().path(path).mode(sled::Mode::LowSpace).open().map_err(open_err)?;
        match db.get("schema_version").map_err(open_err)? {
            Some(v) => {
                let found = u32::from_be_bytes(
                    v.as_ref().try_into().map_err(|_| StoreError::Corrupt("schema_version".into()))?,
                );
                if found > SCHEMA_VERSION {
                    return Err(StoreError::Schema { path: path.display().to_string(), found });
                }
            }
            None => {
                db.insert("schema_version", &SCHEMA_VERSION.to_be_bytes()).map_err(open_err)?;
            }
        }
        let runs = db.open_tree("runs").map_err(open_err)?;
        let steps = db.open_tree("steps").map_err(open_err)?;
        let llm_requests = db.open_tree("llm_requests").map_err(open_err)?;
        Ok(Self { db, runs, steps, llm_requests })
    }

    fn flush(&self) -> Result<()> {
        self.db.flush().map(|_| ()).map_err(|e| StoreError::Db(e.to_string()))
    }
}

fn db_err(e: sled::Error) -> StoreError {
    StoreError::Db(e.to_string())
}

fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("records serialise")
}

impl Store for SledStore {
    fn put_run(&self, run: &RunRecord) -> Result<()> {
        self.runs.insert(run.id.as_bytes(), encode(run)).map_err(db_err)?;
        self.flush()
    }

    fn get_run(&self, id: &str) -> Result<Option<RunRecord>> {
        self.runs.get(id.as_bytes()).map_err(db_err)?.map(|v| decode(&v)).transpose()
    }

    fn list_runs(&self, limit: usize) -> Result<Vec<RunRecord>> {
        // Run ids start with a zero-padded timestamp, so reverse key order is newest first.
        self.runs.iter().rev().take(limit).map(|kv| decode(&kv.map_err(db_err)?.1)).collect()
    }

    fn append_step(&self, run_id: &str, step: &StepRecord) -> Result<u32> {
        let prefix = format!("{run_id}/");
        let index = self.steps.scan_prefix(prefix.as_bytes()).count() as u32;
        self.steps.insert(format!("{prefix}{index:08}").as_bytes(), encode(step)).map_err(db_err)?;
        self.flush()?;
        Ok(index)
    }

    fn append_llm_request(&self, run_id: &str, record: &serde_json::Value) -> Result<()> {
        let sequence = self.db.generate_id().map_err(db_err)?;
        self.llm_requests.insert(format!("{run_id}/{sequence:016}").as_bytes(), encode(record)).map_err(db_err)?;
        self.flush()
    }

    fn llm_requests(&self, run_id: &str) -> Result<Vec<serde_json::Value>> {
        let prefix = format!("{run_id}/");
        self.llm_requests.scan_prefix(prefix.as_bytes()).map(|kv| decode(&kv.map_err(db_err)?.1)).collect()
    }

    fn steps(&self, run_id: &str) -> Result<Vec<StepRecord>> {
        let prefix = format!("{run_id}/");
        self.steps.scan_prefix(prefix.as_bytes()).map(|kv| decode(&kv.map_err(db_err)?.1)).collect()
    }
}

/// A store in memory: for tests, and when the durable store cannot be opened.
#[derive(Default)]
pub struct MemStore {
    runs: Mutex<std::collections::BTreeMap<String, RunRecord>>,
    steps: Mutex<std::collections::BTreeMap<String, Vec<StepRecord>>>,
    llm_requests: Mutex<std::collections::BTreeMap<String, Vec<serde_json::Value>>>,
}

impl Store for MemStore {
    fn put_run(&self, run: &RunRecord) -> Result<()> {
        self.runs.lock().insert(run.id.clone(), run.clone());
        Ok(())
    }

    fn get_run(&self, id: &str) -> Result<Option<RunRecord>> {
        Ok(self.runs.lock().get(id).cloned())
    }

    fn list_runs(&self, limit: usize) -> Result<Vec<RunRecord>> {
        Ok(self.runs.lock().values().rev().take(limit).cloned().collect())
    }

    fn append_step(&self, run_id: &str, step: &StepRecord) -> Result<u32> {
        let mut steps = self.steps.lock();
        let list = steps.entry(run_id.to_owned()).or_default();
        list.push(step.clone());
        Ok(list.len() as u32 - 1)
    }

    fn steps(&self, run_id: &str) -> Result<Vec<StepRecord>> {
        Ok(self.steps.lock().get(run_id).cloned().unwrap_or_default())
    }

    fn append_llm_request(&self, run_id: &str, record: &serde_json::Value) -> Result<()> {
        self.llm_requests.lock().entry(run_id.to_owned()).or_default().push(record.clone());
        Ok(())
    }

    fn llm_requests(&self, run_id: &str) -> Result<Vec<serde_json::Value>> {
        Ok(self.llm_requests.lock().get(run_id).cloned().unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(id: &str) -> RunRecord {
        RunRecord {
            id: id.into(),
            kind: "generate".into(),
            description: "a sum function".into(),
            status: RunStatus::Running,
            created_ms: 1,
            updated_ms: 1,
            prompt_tokens: 0,
            completion_tokens: 0,
            cost_usd: 0.0,
            summary: String::new(),
        }
    }

    fn exercise(store: &dyn Store) {
        store.put_run(&run("0001-a")).unwrap();
        store.put_run(&run("0002-b")).unwrap();
        let mut done = run("0001-a");
        done.status = RunStatus::Succeeded;
        store.put_run(&done).unwrap();
        let ids: Vec<String> = store.list_runs(10).unwrap().into_iter().map(|r| r.id).collect();
        assert_eq!(ids, ["0002-b", "0001-a"]);
        assert_eq!(store.get_run("0001-a").unwrap().unwrap().status, RunStatus::Succeeded);
        let step = StepRecord {
            agent: "code_monkey".into(),
            summary: "wrote 2 files".into(),
            files: vec!["a.js".into()],
            at_ms: 2,
        };
        assert_eq!(store.append_step("0001-a", &step).unwrap(), 0);
        assert_eq!(store.append_step("0001-a", &step).unwrap(), 1);
        assert_eq!(store.steps("0001-a").unwrap().len(), 2);
        assert!(store.steps("0002-b").unwrap().is_empty());
        store.append_llm_request("0001-a", &serde_json::json!({"model": "m", "n": 1})).unwrap();
        store.append_llm_request("0001-a", &serde_json::json!({"model": "m", "n": 2})).unwrap();
        let log: Vec<i64> = store.llm_requests("0001-a").unwrap().iter().map(|r| r["n"].as_i64().unwrap()).collect();
        assert_eq!(log, [1, 2]);
    }

    #[test]
    fn sled_and_memory_stores_behave_alike() {
        exercise(&MemStore::default());
        let dir = tempfile::tempdir().unwrap();
        exercise(&SledStore::open(&dir.path().join("db")).unwrap());
    }

    #[test]
    fn sled_store_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        SledStore::open(&path).unwrap().put_run(&run("0001-a")).unwrap();
        assert!(SledStore::open(&path).unwrap().get_run("0001-a").unwrap().is_some());
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        {
            let db = sled::open(&path).unwrap();
            db.insert("schema_version", &(SCHEMA_VERSION + 1).to_be_bytes()).unwrap();
            db.flush().unwrap();
        }
        let err = SledStore::open(&path).err().unwrap().to_string();
        assert!(err.contains("upgrade samokoder"), "{err}");
    }
}
