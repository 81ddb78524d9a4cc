//! The skeleton's figures, each against a baseline measured in the same run:
//!
//! - the initialize round trip (spawn to answer) against the same spawn-and-echo through `cat`;
//! - didChange on a 1 MB document through stdio (p50/p99, with a request as a barrier) against ropey's
//!   in-process edit of the same document, and against the barrier request alone;
//! - one test command in the warm container against `docker run` per command.
//!
//! Run: `cargo bench --bench skeleton` (Docker figures need a daemon and the test image:
//! `scripts/build-test-image.sh`). Results are recorded in docs/benchmarks.md.

// A bench binary reports on stdout.
#![allow(clippy::print_stdout)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use samokoder_edits::{ContentChange, Document, Position, PositionEncoding, Range};
use samokoder_sandbox::{DockerSandbox, RunRequest, Sandbox, SandboxConfig};
use samokoder_test_utils::{ClientOptions, LspClient, test_image, write_fixture};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    let i = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[i]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

fn row(name: &str, ours: Duration, base: Duration, base_name: &str) {
    println!(
        "{name:<44} {:>12}   {base_name:<34} {:>12}   ratio {:>6.2}x",
        ms(ours),
        ms(base),
        ours.as_secs_f64() / base.as_secs_f64()
    );
}

fn initialize_message(root: &Path) -> Vec<u8> {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"processId": null, "rootUri": format!("file://{}", root.display()), "capabilities": {}}}).to_string();
    format!("Content-Length: {}\r\n\r\n{body}", body.len()).into_bytes()
}

/// Spawns `program`, writes `message`, waits for the first bytes of a reply; returns the elapsed time.
async fn spawn_round_trip(program: &Path, args: &[&str], message: &[u8], env: &[(String, String)]) -> Duration {
    let started = Instant::now();
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .envs(env.iter().cloned())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    stdin.write_all(message).await.unwrap();
    let mut buf = [0u8; 64];
    let n = stdout.read(&mut buf).await.unwrap();
    let elapsed = started.elapsed();
    assert!(n > 0);
    drop(stdin);
    let _ = child.kill().await;
    elapsed
}

async fn bench_initialize(dir: &Path, env: &[(String, String)]) {
    let bin = Path::new(env!("CARGO_BIN_EXE_samokoder"));
    let message = initialize_message(dir);
    let cat = Path::new("/bin/cat");
    let (mut ours, mut base) = (Vec::new(), Vec::new());
    for _ in 0..20 {
        ours.push(spawn_round_trip(bin, &[], &message, env).await);
        base.push(spawn_round_trip(cat, &[], &message, env).await);
    }
    row(
        "initialize round trip, spawn to answer p50",
        percentile(&mut ours, 0.5),
        percentile(&mut base, 0.5),
        "spawn `cat` + echo p50",
    );
}

async fn bench_did_change(dir: &Path, env: &[(String, String)]) {
    let line = "const x = \"é日😀\"; // some text to make the line longer than average\n";
    let text = line.repeat(1024 * 1024 / line.len() + 1);
    let lines = text.lines().count() as u32;
    let mut options = ClientOptions::new(dir);
    options.env = env.to_vec();
    let client = LspClient::spawn(Path::new(env!("CARGO_BIN_EXE_samokoder")), &[], options).unwrap();
    client.initialize().await.unwrap();
    client.did_open("big.ts", "typescript", &text).await.unwrap();
    client.request("samokoder/status", json!({})).await.unwrap();

    let n = 2000;
    let edit_at = |i: u32| (i * 7919) % lines;
    let (mut through_stdio, mut barrier_only, mut in_process) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..n {
        let l = edit_at(i);
        let started = Instant::now();
        client.did_change("big.ts", i as i32 + 2, [l, 3, l, 3], "y").await.unwrap();
        client.request("samokoder/status", json!({})).await.unwrap();
        through_stdio.push(started.elapsed());
        let started = Instant::now();
        client.request("samokoder/status", json!({})).await.unwrap();
        barrier_only.push(started.elapsed());
    }
    let mut doc = Document::new(&text, 1);
    for i in 0..n {
        let l = edit_at(i);
        let change =
            ContentChange { range: Some(Range::new(Position::new(l, 3), Position::new(l, 3))), text: "y".into() };
        let started = Instant::now();
        doc.change(i as i32 + 2, vec![change], PositionEncoding::Utf16).unwrap();
        in_process.push(started.elapsed());
    }
    let check = client.request("samokoder/viewFileText", json!({"uri": client.uri("big.ts")})).await.unwrap();
    assert_eq!(check["text"].as_str().unwrap(), doc.text(), "the server and the in-process document agree");
    for p in [0.5, 0.99] {
        let label = if p == 0.5 { "p50" } else { "p99" };
        let ours = percentile(&mut through_stdio, p);
        row(
            &format!("didChange 1 MB via stdio + barrier {label}"),
            ours,
            percentile(&mut in_process, p),
            &format!("ropey in-process edit {label}"),
        );
        row(
            &format!("didChange 1 MB via stdio + barrier {label}"),
            ours,
            percentile(&mut barrier_only, p),
            &format!("barrier request alone {label}"),
        );
    }
    client.shutdown_and_exit().await.unwrap();
}

async fn bench_container(dir: &Path) {
    write_fixture(
        dir,
        "//- /package.json\n{\"type\": \"module\"}\n//- /test/a.test.js\nimport { test } from 'node:test';\nimport assert from 'node:assert';\ntest('a', () => assert.equal(1, 1));\n",
    );
    let image = test_image();
    let sandbox = DockerSandbox::new(SandboxConfig { image: image.clone(), ..Default::default() }, dir);
    let overlay = BTreeMap::new();
    let request = || RunRequest::new(dir, &overlay, "node --test", Duration::from_secs(60));
    // The first run creates the container; it is not what the fix loop pays.
    let first = Instant::now();
    assert!(sandbox.run(request(), &|_| {}).await.unwrap().success());
    let cold = first.elapsed();
    let (mut warm, mut per_command) = (Vec::new(), Vec::new());
    for _ in 0..10 {
        let started = Instant::now();
        assert!(sandbox.run(request(), &|_| {}).await.unwrap().success());
        warm.push(started.elapsed());
        let started = Instant::now();
        let status = std::process::Command::new("docker")
            .args([
                "run",
                "--rm",
                "--network",
                "none",
                "-v",
                &format!("{}:/workspace", dir.display()),
                "-w",
                "/workspace",
                &image,
                "node",
                "--test",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
        per_command.push(started.elapsed());
    }
    sandbox.shutdown().await;
    row(
        "test command, warm container (sync+exec) p50",
        percentile(&mut warm, 0.5),
        percentile(&mut per_command, 0.5),
        "`docker run` per command p50",
    );
    println!("{:<44} {:>12}", "first run (creates the container)", ms(cold));
}

#[tokio::main]
async fn main() {
    let home = tempfile::tempdir().unwrap();
    let env = vec![
        ("HOME".to_owned(), home.path().display().to_string()),
        ("XDG_DATA_HOME".to_owned(), home.path().join("data").display().to_string()),
        ("XDG_CONFIG_HOME".to_owned(), home.path().join("config").display().to_string()),
    ];
    let ws = tempfile::tempdir().unwrap();
    println!("samokoder skeleton benchmarks ({} build)", if cfg!(debug_assertions) { "debug" } else { "release" });
    bench_initialize(ws.path(), &env).await;
    bench_did_change(ws.path(), &env).await;
    let docker = std::process::Command::new("docker")
        .args(["image", "inspect", &test_image()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if docker {
        bench_container(tempfile::tempdir().unwrap().path()).await;
    } else {
        println!("container figures skipped: no Docker daemon or no {} (scripts/build-test-image.sh)", test_image());
    }
}
