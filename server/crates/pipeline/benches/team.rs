//! The team's figures, each against a baseline measured in the same run:
//!
//! - parallel writing: a run whose one step writes 8 files, each answered by the scripted server after
//!   300 ms, against the same run writing 1 file (the goal: within 1.2x);
//! - the store: the latency of one agent's commit on sled (a task record, two file contents, a step),
//!   p50 and p99, against a bare sled insert-and-flush;
//! - resume: opening the store and loading the committed state of a run of 50 steps (what `resume` does
//!   before its next agent), against opening the store alone.
//!
//! Run: `cargo bench -p samokoder-pipeline --bench team`. Results are in docs/benchmarks.md.

// A bench binary reports on stdout.
#![allow(clippy::print_stdout)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use samokoder_pipeline::state::{DevStep, FileInstruction, RunState, TaskProgress, save_task};
use samokoder_pipeline::{RunId, generate};
use samokoder_store::{FileTouch, SledStore, StepRecord, Store};
use samokoder_test_utils::{Reply, ScriptedLlm};
use support::*;

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    samples[((samples.len() as f64 - 1.0) * p).round() as usize]
}

const FILE_DELAY: Duration = Duration::from_millis(300);

/// A moderate run of one task whose one step writes `files` files, each answered after 300 ms.
fn script(files: usize) -> ScriptedLlm {
    let spec = r#"{"complexity": "moderate", "summary": "Helpers.", "features": ["helpers"], "assumptions": [], "questions": []}"#;
    let plan = r#"{"epics": [{"name": "All", "tasks": [{"title": "Helpers", "description": "d", "test": "t"}]}]}"#;
    let entries: Vec<String> = (0..files)
        .map(|i| format!(r#"{{"path": "src/helper{i}.js", "instruction": "export function helper{i}()"}}"#))
        .collect();
    let dev =
        format!(r#"{{"steps": [{{"description": "helpers", "files": [{}], "commands": []}}]}}"#, entries.join(", "));
    let mut routes = vec![
        ("you are the spec writer", Reply::text(spec)),
        ("you are the architect", Reply::text(support::ARCHITECTURE)),
        ("you are the tech lead", Reply::text(plan)),
        ("you are the developer", Reply::text(dev)),
    ];
    let keys: Vec<&'static str> =
        (0..files).map(|i| &*Box::leak(format!("Write the file src/helper{i}.js").into_boxed_str())).collect();
    for (i, key) in keys.into_iter().enumerate() {
        let body = format!("```js\nexport function helper{i}() {{\n  return {i};\n}}\n```\n");
        routes.push((key, Reply::Delayed(FILE_DELAY, Box::new(Reply::text(body)))));
    }
    ScriptedLlm::routed(routes)
}

async fn one_run(files: usize) -> Duration {
    let server = script(files);
    let b = Bench::new(&server, RecordingFrontend::default(), FakeSandbox::new(PASSING_TAP, 0));
    let started = Instant::now();
    let outcome = generate(&b.ctx, &req("some helpers")).await.expect("the run");
    let took = started.elapsed();
    assert_eq!(outcome.files.len(), files, "{}", outcome.summary);
    took
}

async fn parallel_writing() {
    let rounds = 5;
    let mut one = Vec::new();
    let mut eight = Vec::new();
    for _ in 0..rounds {
        one.push(one_run(1).await);
        eight.push(one_run(8).await);
    }
    let (one, eight) = (percentile(&mut one, 0.5), percentile(&mut eight, 0.5));
    println!(
        "parallel writing, whole run (median of {rounds}): 8 files {:>10}   1 file {:>10}   ratio {:.2}x (goal 1.2x)",
        ms(eight),
        ms(one),
        eight.as_secs_f64() / one.as_secs_f64()
    );
}

fn store_commits() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(&dir.path().join("db")).unwrap();
    let run = "0000000000001-0000";
    let n = 300;
    let mut commit = Vec::with_capacity(n);
    for i in 0..n {
        let started = Instant::now();
        let mut task = TaskProgress::new(&format!("t{i}"));
        task.steps = Some(vec![DevStep {
            description: "step".into(),
            files: vec![FileInstruction { path: "src/a.js".into(), instruction: "x".repeat(200) }],
            commands: vec![],
        }]);
        save_task(&store, run, &task).unwrap();
        let before = store.put_blob(&format!("export const a = {i};\n").repeat(20)).unwrap();
        let after = store.put_blob(&format!("export const a = {};\n", i + 1).repeat(20)).unwrap();
        let mut step = StepRecord::new("code_monkey", "wrote src/a.js", 0);
        step.touched = vec![FileTouch { path: "src/a.js".into(), before: Some(before), after: Some(after) }];
        store.append_step(run, &step).unwrap();
        commit.push(started.elapsed());
    }
    let raw = sled::open(dir.path().join("raw")).unwrap();
    let mut bare = Vec::with_capacity(n);
    for i in 0..n {
        let started = Instant::now();
        raw.insert(format!("k{i}"), vec![0u8; 256]).unwrap();
        raw.flush().unwrap();
        bare.push(started.elapsed());
    }
    let (p50, p99) = (percentile(&mut commit, 0.5), percentile(&mut commit, 0.99));
    let (b50, b99) = (percentile(&mut bare, 0.5), percentile(&mut bare, 0.99));
    println!(
        "one agent's commit on sled ({n}): p50 {:>9} p99 {:>9}   bare insert+flush p50 {:>9} p99 {:>9}   ratio {:.1}x",
        format!("{:.3} ms", p50.as_secs_f64() * 1000.0),
        format!("{:.3} ms", p99.as_secs_f64() * 1000.0),
        format!("{:.3} ms", b50.as_secs_f64() * 1000.0),
        format!("{:.3} ms", b99.as_secs_f64() * 1000.0),
        p50.as_secs_f64() / b50.as_secs_f64()
    );
}

fn resume_load() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let run = RunId("0000000000002-0000".into());
    {
        let store = SledStore::open(&path).unwrap();
        // A run of 50 steps: 10 tasks of a developer plan, 3 files and an executor step each.
        for t in 0..10 {
            let mut task = TaskProgress::new(&format!("t{t}"));
            task.steps = Some(vec![DevStep { description: "s".into(), files: vec![], commands: vec![] }]);
            task.applied = 1;
            save_task(&store, &run.0, &task).unwrap();
            for _ in 0..4 {
                let blob = store.put_blob(&"line\n".repeat(100)).unwrap();
                let mut step = StepRecord::new("code_monkey", "wrote", 0);
                step.touched = vec![FileTouch { path: format!("src/f{t}.js"), before: None, after: Some(blob) }];
                store.append_step(&run.0, &step).unwrap();
            }
            store.append_step(&run.0, &StepRecord::new("executor", "tests pass", 0)).unwrap();
        }
        assert_eq!(store.steps(&run.0).unwrap().len(), 50);
    }
    let rounds = 20;
    let mut resume = Vec::new();
    let mut open = Vec::new();
    for _ in 0..rounds {
        let started = Instant::now();
        let store = SledStore::open(&path).unwrap();
        let state = RunState::load(&store, &run.0).unwrap();
        let steps = store.steps(&run.0).unwrap();
        assert_eq!((state.tasks.len(), steps.len()), (10, 50));
        resume.push(started.elapsed());
        drop(store);
        let started = Instant::now();
        let store = SledStore::open(&path).unwrap();
        open.push(started.elapsed());
        drop(store);
    }
    let (r, o) = (percentile(&mut resume, 0.5), percentile(&mut open, 0.5));
    println!(
        "resume a run of 50 steps (open + load, median of {rounds}): {:>9}   open alone {:>9}   ratio {:.2}x",
        ms(r),
        ms(o),
        r.as_secs_f64() / o.as_secs_f64()
    );
}

#[tokio::main]
async fn main() {
    parallel_writing().await;
    store_commits();
    resume_load();
}
