//! The sled store: trees `runs` (id -> record), `steps` (`<run id>/<index:08>`), `llm_requests`
//! (`<run id>/<sequence:016>`), one tree per [`RecordKind`] (`<run id>/<key>`), and `blobs` (hash ->
//! content). One process holds a workspace's store at a time (sled locks it); a second gets
//! [`StoreError::Locked`].

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{RecordKind, Result, RunRecord, RunStatus, SCHEMA_VERSION, StepRecord, Store, StoreError, blob_hash};

pub struct SledStore {
    db: sled::Db,
    runs: sled::Tree,
    steps: sled::Tree,
    llm_requests: sled::Tree,
    blobs: sled::Tree,
    records: HashMap<&'static str, sled::Tree>,
}

impl SledStore {
    pub fn open(path: &Path) -> Result<Self> {
        let shown = path.display().to_string();
        let open_err = |e: sled::Error| {
            let message = e.to_string();
            if message.contains("could not acquire lock") {
                StoreError::Locked { path: shown.clone() }
            } else {
                StoreError::Open { path: shown.clone(), message }
            }
        };
        let db = open_waiting(path).map_err(open_err)?;
        let found = match db.get("schema_version").map_err(open_err)? {
            Some(v) => {
                u32::from_be_bytes(v.as_ref().try_into().map_err(|_| StoreError::Corrupt("schema_version".into()))?)
            }
            None => SCHEMA_VERSION,
        };
        if found > SCHEMA_VERSION {
            return Err(StoreError::Schema { path: shown, found });
        }
        let mut records = HashMap::new();
        for kind in RecordKind::ALL {
            records.insert(kind.table(), db.open_tree(kind.table()).map_err(open_err)?);
        }
        let store = Self {
            runs: db.open_tree("runs").map_err(open_err)?,
            steps: db.open_tree("steps").map_err(open_err)?,
            llm_requests: db.open_tree("llm_requests").map_err(open_err)?,
            blobs: db.open_tree("blobs").map_err(open_err)?,
            records,
            db,
        };
        if found < 2 {
            store.migrate_from_1()?;
        }
        store.db.insert("schema_version", &SCHEMA_VERSION.to_be_bytes()).map_err(db_err)?;
        store.flush()?;
        Ok(store)
    }

    /// Schema 1 had no state to resume from: a run it left `running` (its server died) can never go on, so it
    /// is marked failed and says why. Every other record reads as it is (new fields have defaults).
    fn migrate_from_1(&self) -> Result<()> {
        for entry in self.runs.iter() {
            let (key, value) = entry.map_err(db_err)?;
            let mut run: RunRecord = decode(&value)?;
            if run.status == RunStatus::Running {
                run.status = RunStatus::Failed;
                run.summary = "interrupted (recorded by a samokoder that could not resume runs)".into();
                self.runs.insert(key, encode(&run)).map_err(db_err)?;
            }
        }
        Ok(())
    }

    fn flush(&self) -> Result<()> {
        self.db.flush().map(|_| ()).map_err(db_err)
    }

    fn table(&self, kind: RecordKind) -> &sled::Tree {
        &self.records[kind.table()]
    }
}

/// Opens the database, waiting a moment while another holder lets go of its lock: a store just closed in
/// this process (an engine rebuilt) releases it only when sled's background thread has finished.
fn open_waiting(path: &Path) -> sled::Result<sled::Db> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    loop {
        match sled::Config::new().path(path).mode(sled::Mode::LowSpace).open() {
            Err(e) if e.to_string().contains("could not acquire lock") && std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            other => return other,
        }
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

fn scan<T: for<'de> Deserialize<'de>>(tree: &sled::Tree, run_id: &str) -> Result<Vec<(String, T)>> {
    let prefix = format!("{run_id}/");
    tree.scan_prefix(prefix.as_bytes())
        .map(|kv| {
            let (k, v) = kv.map_err(db_err)?;
            let key = String::from_utf8_lossy(&k[prefix.len()..]).into_owned();
            Ok((key, decode(&v)?))
        })
        .collect()
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

    fn steps(&self, run_id: &str) -> Result<Vec<StepRecord>> {
        Ok(scan(&self.steps, run_id)?.into_iter().map(|(_, s)| s).collect())
    }

    fn append_llm_request(&self, run_id: &str, record: &serde_json::Value) -> Result<()> {
        let sequence = self.db.generate_id().map_err(db_err)?;
        self.llm_requests.insert(format!("{run_id}/{sequence:016}").as_bytes(), encode(record)).map_err(db_err)?;
        self.flush()
    }

    fn llm_requests(&self, run_id: &str) -> Result<Vec<serde_json::Value>> {
        Ok(scan(&self.llm_requests, run_id)?.into_iter().map(|(_, r)| r).collect())
    }

    fn put_record(&self, kind: RecordKind, run_id: &str, key: &str, value: &serde_json::Value) -> Result<()> {
        self.table(kind).insert(format!("{run_id}/{key}").as_bytes(), encode(value)).map_err(db_err)?;
        self.flush()
    }

    fn get_record(&self, kind: RecordKind, run_id: &str, key: &str) -> Result<Option<serde_json::Value>> {
        self.table(kind).get(format!("{run_id}/{key}").as_bytes()).map_err(db_err)?.map(|v| decode(&v)).transpose()
    }

    fn records(&self, kind: RecordKind, run_id: &str) -> Result<Vec<(String, serde_json::Value)>> {
        scan(self.table(kind), run_id)
    }

    fn delete_record(&self, kind: RecordKind, run_id: &str, key: &str) -> Result<()> {
        self.table(kind).remove(format!("{run_id}/{key}").as_bytes()).map_err(db_err)?;
        self.flush()
    }

    fn put_blob(&self, content: &str) -> Result<String> {
        let hash = blob_hash(content);
        if !self.blobs.contains_key(hash.as_bytes()).map_err(db_err)? {
            self.blobs.insert(hash.as_bytes(), content.as_bytes()).map_err(db_err)?;
            self.flush()?;
        }
        Ok(hash)
    }

    fn get_blob(&self, hash: &str) -> Result<Option<String>> {
        self.blobs
            .get(hash.as_bytes())
            .map_err(db_err)?
            .map(|v| String::from_utf8(v.to_vec()).map_err(|_| StoreError::Corrupt(format!("blob {hash}"))))
            .transpose()
    }
}
