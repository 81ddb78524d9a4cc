//! Listing code actions while the server is busy, against the barrier request alone in the same run:
//! `textDocument/codeAction` on a 10,000-line TypeScript file (at its `TODO(samokoder)` line, with one
//! diagnostic in the context) through stdio, while a generate run writes a 40-file project into the
//! client's buffers (the scripted model streams its reply slowly, so the run goes on throughout) and every
//! sample first edits the big file (the index re-parses it: busy). p50 and p99 of 1000 samples; the
//! baseline is `samokoder/status` alone, the cheapest request the server has. The goal: p99 under 5 ms.
//!
//! Run: `cargo bench --bench surface` (no Docker needed: the run's tests fail to start without a daemon,
//! after its files are written). Results: docs/benchmarks.md.

// A bench binary reports on stdout.
#![allow(clippy::print_stdout)]

use std::path::Path;
use std::time::{Duration, Instant};

use samokoder_test_utils::{ClientOptions, LspClient, Reply, ScriptedLlm, Style};
use serde_json::json;

const SPEC: &str = r#"{"complexity": "simple", "summary": "Many small modules.", "features": ["modules"], "assumptions": [], "questions": []}"#;

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    samples[((samples.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

/// The code writer's reply: 40 modules with a test each, whole files.
fn project() -> String {
    let mut reply = String::from(
        "package.json\n```json\n{\"type\": \"module\", \"scripts\": {\"test\": \"node --test\"}}\n```\n\n",
    );
    for i in 0..40 {
        reply.push_str(&format!(
            "src/m{i}.js\n```js\nexport function f{i}(a, b) {{\n  return a + b + {i};\n}}\n```\n\n\
             test/m{i}.test.js\n```js\nimport {{ test }} from 'node:test';\nimport assert from 'node:assert/strict';\n\
             import {{ f{i} }} from '../src/m{i}.js';\ntest('f{i}', () => {{\n  assert.equal(f{i}(1, 2), {});\n}});\n```\n\n",
            3 + i
        ));
    }
    reply
}

#[tokio::main]
async fn main() {
    let home = tempfile::tempdir().unwrap();
    let ws = tempfile::tempdir().unwrap();
    // Streamed 2 characters per event: the run writes for the whole measurement.
    let slow = Style { chunk: 2, ..Style::default() };
    let llm = ScriptedLlm::routed(vec![
        ("you are the spec writer", Reply::text(SPEC)),
        ("you are the code writer", Reply::styled(project(), slow)),
    ]);
    let mut options = ClientOptions::new(ws.path());
    options.env = samokoder_test_utils::isolated_env(home.path(), Some(&llm));
    let client = LspClient::spawn(Path::new(env!("CARGO_BIN_EXE_samokoder")), &[], options).unwrap();
    client.initialize().await.unwrap();
    let mut text = String::new();
    for i in 0..10_000 {
        if i == 5_000 {
            text.push_str("  // TODO(samokoder): return the total of the order\n");
        } else {
            text.push_str(&format!("export const value{i}: number = {i} * 2; // line {i}\n"));
        }
    }
    client.did_open("big.ts", "typescript", &text).await.unwrap();
    client.request("samokoder/status", json!({})).await.unwrap();

    let started = client
        .request("workspace/executeCommand", json!({"command": "samokoder.generate", "arguments": [{"description": "many small modules", "dir": "app"}]}))
        .await
        .unwrap();
    let run = started["runId"].as_str().unwrap().to_owned();
    let diagnostic = json!({"range": {"start": {"line": 5000, "character": 2}, "end": {"line": 5000, "character": 40}}, "message": "Type 'string' is not assignable to type 'number'.", "source": "ts", "code": 2322});
    let params = json!({
        "textDocument": {"uri": client.uri("big.ts")},
        "range": {"start": {"line": 5000, "character": 4}, "end": {"line": 5000, "character": 4}},
        "context": {"diagnostics": [diagnostic]},
    });
    let (mut actions, mut barrier) = (Vec::new(), Vec::new());
    let mut during_run = 0;
    for i in 0..1000u32 {
        let line = (i * 7919) % 10_000;
        client.did_change("big.ts", i as i32 + 2, [line, 0, line, 0], "x").await.unwrap();
        let t = Instant::now();
        let listed = client.request("textDocument/codeAction", params.clone()).await.unwrap();
        actions.push(t.elapsed());
        assert!(listed.as_array().is_some_and(|a| a.len() >= 3), "{listed}");
        let t = Instant::now();
        let status = client.request("samokoder/status", json!({})).await.unwrap();
        barrier.push(t.elapsed());
        if status.to_string().contains(&run) {
            during_run += 1;
        }
    }
    println!("samokoder editor-surface benchmark ({} build)", if cfg!(debug_assertions) { "debug" } else { "release" });
    println!("samples taken while the generate run was going on: {during_run} of 1000");
    for p in [0.5, 0.99] {
        let ours = percentile(&mut actions, p);
        let base = percentile(&mut barrier, p);
        println!(
            "codeAction on 10,000 lines, busy, p{:<3} {:>10}   samokoder/status alone {:>10}   ratio {:>5.2}x",
            (p * 100.0) as u32,
            ms(ours),
            ms(base),
            ours.as_secs_f64() / base.as_secs_f64()
        );
    }
    let _ = client
        .request("workspace/executeCommand", json!({"command": "samokoder.cancel", "arguments": [{"runId": run}]}))
        .await;
    client.shutdown_and_exit().await.unwrap();
}
