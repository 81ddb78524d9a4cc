//! A store in memory: for tests, and when the durable store cannot be opened.

use std::collections::BTreeMap;

use parking_lot::Mutex;

use crate::{RecordKind, Result, RunRecord, StepRecord, Store, blob_hash};

#[derive(Default)]
pub struct MemStore {
    runs: Mutex<BTreeMap<String, RunRecord>>,
    steps: Mutex<BTreeMap<String, Vec<StepRecord>>>,
    llm_requests: Mutex<BTreeMap<String, Vec<serde_json::Value>>>,
    /// (table, run id, key) -> value.
    records: Mutex<BTreeMap<(&'static str, String, String), serde_json::Value>>,
    blobs: Mutex<BTreeMap<String, String>>,
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

    fn put_record(&self, kind: RecordKind, run_id: &str, key: &str, value: &serde_json::Value) -> Result<()> {
        self.records.lock().insert((kind.table(), run_id.to_owned(), key.to_owned()), value.clone());
        Ok(())
    }

    fn get_record(&self, kind: RecordKind, run_id: &str, key: &str) -> Result<Option<serde_json::Value>> {
        Ok(self.records.lock().get(&(kind.table(), run_id.to_owned(), key.to_owned())).cloned())
    }

    fn records(&self, kind: RecordKind, run_id: &str) -> Result<Vec<(String, serde_json::Value)>> {
        Ok(self
            .records
            .lock()
            .iter()
            .filter(|((t, r, _), _)| *t == kind.table() && r == run_id)
            .map(|((_, _, k), v)| (k.clone(), v.clone()))
            .collect())
    }

    fn delete_record(&self, kind: RecordKind, run_id: &str, key: &str) -> Result<()> {
        self.records.lock().remove(&(kind.table(), run_id.to_owned(), key.to_owned()));
        Ok(())
    }

    fn put_blob(&self, content: &str) -> Result<String> {
        let hash = blob_hash(content);
        self.blobs.lock().entry(hash.clone()).or_insert_with(|| content.to_owned());
        Ok(hash)
    }

    fn get_blob(&self, hash: &str) -> Result<Option<String>> {
        Ok(self.blobs.lock().get(hash).cloned())
    }
}
