use serde_json::json;

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
        subdir: None,
        phase: String::new(),
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
    let mut step = StepRecord::new("code_monkey", "wrote 2 files", 2);
    step.files = vec!["a.js".into()];
    step.touched = vec![FileTouch { path: "a.js".into(), before: None, after: Some(store.put_blob("x").unwrap()) }];
    assert_eq!(store.append_step("0001-a", &step).unwrap(), 0);
    assert_eq!(store.append_step("0001-a", &step).unwrap(), 1);
    assert_eq!(store.steps("0001-a").unwrap(), [step.clone(), step]);
    assert!(store.steps("0002-b").unwrap().is_empty());
    store.append_llm_request("0001-a", &json!({"model": "m", "n": 1})).unwrap();
    store.append_llm_request("0001-a", &json!({"model": "m", "n": 2})).unwrap();
    let log: Vec<i64> = store.llm_requests("0001-a").unwrap().iter().map(|r| r["n"].as_i64().unwrap()).collect();
    assert_eq!(log, [1, 2]);

    // State records: per kind, per run, in key order; replaced by key; deleted.
    store.put_record(RecordKind::PlanItem, "0001-a", "0001", &json!({"title": "second"})).unwrap();
    store.put_record(RecordKind::PlanItem, "0001-a", "0000", &json!({"title": "first"})).unwrap();
    store.put_record(RecordKind::PlanItem, "0002-b", "0000", &json!({"title": "other run"})).unwrap();
    store.put_record(RecordKind::Task, "0001-a", "0000", &json!({"title": "other kind"})).unwrap();
    let titles: Vec<String> = store
        .records(RecordKind::PlanItem, "0001-a")
        .unwrap()
        .into_iter()
        .map(|(k, v)| format!("{k}:{}", v["title"].as_str().unwrap()))
        .collect();
    assert_eq!(titles, ["0000:first", "0001:second"]);
    store.put_record(RecordKind::PlanItem, "0001-a", "0000", &json!({"title": "first, reworded"})).unwrap();
    let first = store.get_record(RecordKind::PlanItem, "0001-a", "0000").unwrap().unwrap();
    assert_eq!(first["title"], "first, reworded");
    store.delete_record(RecordKind::PlanItem, "0001-a", "0000").unwrap();
    assert_eq!(store.records(RecordKind::PlanItem, "0001-a").unwrap().len(), 1);
    assert!(store.get_record(RecordKind::Spec, "0001-a", "spec").unwrap().is_none());

    // Blobs: by content hash, kept once.
    let a = store.put_blob("export const a = 1;\n").unwrap();
    assert_eq!(a, store.put_blob("export const a = 1;\n").unwrap());
    assert_ne!(a, store.put_blob("export const a = 2;\n").unwrap());
    assert_eq!(store.get_blob(&a).unwrap().as_deref(), Some("export const a = 1;\n"));
    assert_eq!(store.get_blob("0000").unwrap(), None);
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
    {
        let store = SledStore::open(&path).unwrap();
        store.put_run(&run("0001-a")).unwrap();
        store.put_record(RecordKind::Spec, "0001-a", "spec", &json!({"summary": "sums"})).unwrap();
    }
    let store = SledStore::open(&path).unwrap();
    assert!(store.get_run("0001-a").unwrap().is_some());
    assert_eq!(store.get_record(RecordKind::Spec, "0001-a", "spec").unwrap().unwrap()["summary"], "sums");
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

#[test]
fn a_second_opener_gets_a_clear_error_and_the_store_stays_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let first = SledStore::open(&path).unwrap();
    first.put_run(&run("0001-a")).unwrap();
    let err = SledStore::open(&path).err().expect("a second opener is refused");
    assert!(matches!(err, StoreError::Locked { .. }), "{err:?}");
    assert!(err.to_string().contains("in use by another samokoder"), "{err}");
    first.put_run(&run("0002-b")).unwrap();
    drop(first);
    assert_eq!(SledStore::open(&path).unwrap().list_runs(10).unwrap().len(), 2);
}

/// A store written by schema 1 (runs and steps as they were then, with no state records) opens under
/// schema 2: every record reads, and a run it left `running` (its server died) is marked failed, since
/// schema 1 kept nothing to resume it from.
#[test]
fn a_schema_1_store_is_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    {
        let db = sled::open(&path).unwrap();
        db.insert("schema_version", &1u32.to_be_bytes()).unwrap();
        let runs = db.open_tree("runs").unwrap();
        let v1_run = |id: &str, status: &str| {
            json!({"id": id, "kind": "generate", "description": "a sum", "status": status, "created_ms": 1,
                   "updated_ms": 2, "prompt_tokens": 10, "completion_tokens": 20, "summary": ""})
        };
        runs.insert("0001-a", serde_json::to_vec(&v1_run("0001-a", "succeeded")).unwrap()).unwrap();
        runs.insert("0002-b", serde_json::to_vec(&v1_run("0002-b", "running")).unwrap()).unwrap();
        let steps = db.open_tree("steps").unwrap();
        let v1_step = json!({"agent": "code_monkey", "summary": "wrote 3 files", "files": ["a.js"], "at_ms": 3});
        steps.insert("0001-a/00000000", serde_json::to_vec(&v1_step).unwrap()).unwrap();
        db.flush().unwrap();
    }
    let store = SledStore::open(&path).unwrap();
    let done = store.get_run("0001-a").unwrap().unwrap();
    assert_eq!((done.status, done.cost_usd, done.phase.as_str()), (RunStatus::Succeeded, 0.0, ""));
    let interrupted = store.get_run("0002-b").unwrap().unwrap();
    assert_eq!(interrupted.status, RunStatus::Failed);
    assert!(interrupted.summary.contains("interrupted"), "{}", interrupted.summary);
    let steps = store.steps("0001-a").unwrap();
    assert_eq!((steps[0].files.as_slice(), steps[0].touched.len()), (&["a.js".to_owned()][..], 0));
    drop(store);
    let db = sled::open(&path).unwrap();
    assert_eq!(db.get("schema_version").unwrap().unwrap().as_ref(), &SCHEMA_VERSION.to_be_bytes());
}

#[test]
fn typed_records_round_trip_and_name_the_corrupt_one() {
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Spec {
        summary: String,
    }
    let store = MemStore::default();
    put_typed(&store, RecordKind::Spec, "r", "spec", &Spec { summary: "sums".into() }).unwrap();
    let back: Option<Spec> = get_typed(&store, RecordKind::Spec, "r", "spec").unwrap();
    assert_eq!(back, Some(Spec { summary: "sums".into() }));
    store.put_record(RecordKind::Spec, "r", "bad", &json!({"nope": 1})).unwrap();
    let err = get_typed::<Spec>(&store, RecordKind::Spec, "r", "bad").unwrap_err().to_string();
    assert!(err.contains("specs/r/bad"), "{err}");
}
