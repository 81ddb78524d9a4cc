//! How fast a cancel stops a run, through stdio against the real binary and the real dockerd: from the
//! client's `window/workDoneProgress/cancel` on the run's progress token to
//!
//! - mid model call (the scripted model never answers): the run's `$/progress` end, "cancelled";
//! - mid test command (`node -e "for (;;) {}"` in the warm sandbox): the end, and the command's death in the
//!   container (polled with `docker exec ... ps`, back to back: the figure is late by up to one poll, whose
//!   own duration is printed too).
//!
//! The baseline is `samokoder/status` alone in the same run (a request the server answers at once). The
//! goal (issue 14): within a second. Run: `cargo bench --bench cancel` (needs a Docker daemon and the test
//! image: `cargo xtask setup run`). Results: docs/benchmarks.md.

// A bench binary reports on stdout.
#![allow(clippy::print_stdout)]

use std::path::Path;
use std::time::{Duration, Instant};

use samokoder_test_utils::{ClientOptions, LspClient, Reply, ScriptedLlm};
use serde_json::{Value, json};

const SAMPLES: usize = 10;
const SPINNER: &str = "node -e 'for (;;) {}'";

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

async fn start(client: &LspClient, command: &str, arguments: Value) -> String {
    let started = client
        .request("workspace/executeCommand", json!({"command": command, "arguments": [arguments]}))
        .await
        .unwrap();
    started["runId"].as_str().unwrap().to_owned()
}

/// Sends the cancel for `run`'s progress, and waits for its end: the time it took, and the end's message.
async fn cancel(client: &LspClient, run: &str) -> (Duration, Instant) {
    let token = format!("samokoder/{run}");
    let sent = Instant::now();
    client.notify("window/workDoneProgress/cancel", json!({"token": token})).await.unwrap();
    let end = client
        .wait_for(Duration::from_secs(30), "the cancelled run's end", |m| {
            m["method"] == "$/progress" && m["params"]["token"] == token && m["params"]["value"]["kind"] == "end"
        })
        .await
        .unwrap();
    assert_eq!(end["params"]["value"]["message"], "cancelled", "{end}");
    (sent.elapsed(), sent)
}

/// The spinners alive in the workspace's container.
fn spinners(workspace: &Path) -> usize {
    samokoder_test_utils::sandbox_processes(workspace, "for (;;)")
}

#[tokio::main]
async fn main() {
    if !samokoder_test_utils::docker_available() {
        println!("no Docker daemon: start one (cargo xtask setup run) and run again");
        std::process::exit(1);
    }
    let home = tempfile::tempdir().unwrap();
    let ws = tempfile::tempdir().unwrap();
    let root = ws.path().canonicalize().unwrap();
    std::fs::create_dir_all(root.join(".samokoder")).unwrap();
    std::fs::write(root.join(".samokoder/config.toml"), format!("[sandbox]\ntest_command = \"{SPINNER}\"\n")).unwrap();
    let llm = ScriptedLlm::routed((0..SAMPLES).map(|_| ("you are the spec writer", Reply::Hang)).collect());
    let mut options = ClientOptions::new(&root);
    options.env = samokoder_test_utils::isolated_env(home.path(), Some(&llm));
    let client = LspClient::spawn(Path::new(env!("CARGO_BIN_EXE_samokoder")), &[], options).unwrap();
    client.initialize().await.unwrap();

    let mut baseline = Vec::new();
    for _ in 0..SAMPLES * 10 {
        let t = Instant::now();
        client.request("samokoder/status", json!({})).await.unwrap();
        baseline.push(t.elapsed());
    }

    // Mid model call: the spec writer's request is open at the scripted server, which never answers.
    let mut model = Vec::new();
    for i in 0..SAMPLES {
        let run = start(&client, "samokoder.writeSpec", json!({"description": "anything"})).await;
        while llm.requests().len() <= i {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        model.push(cancel(&client, &run).await.0);
    }

    // Mid test command: the spinner runs in the container; the end, then its death there.
    let (mut ended, mut killed, mut polls) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..SAMPLES {
        let run = start(&client, "samokoder.runTests", json!({})).await;
        let deadline = Instant::now() + Duration::from_secs(120);
        while spinners(&root) == 0 {
            assert!(Instant::now() < deadline, "the test command never started: {:?}", client.messages());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let (took, sent) = cancel(&client, &run).await;
        ended.push(took);
        loop {
            let poll = Instant::now();
            let alive = spinners(&root);
            polls.push(poll.elapsed());
            if alive == 0 {
                break;
            }
            assert!(sent.elapsed() < Duration::from_secs(30), "the test command outlived its run");
        }
        killed.push(sent.elapsed());
    }

    println!("samokoder cancellation benchmark ({} build)", if cfg!(debug_assertions) { "debug" } else { "release" });
    let base = median(&mut baseline);
    println!("samokoder/status alone, median of {}: {}", baseline.len(), ms(base));
    println!("one `docker exec ... ps` poll, median of {}: {}", polls.len(), ms(median(&mut polls)));
    for (what, samples) in [
        ("mid model call: cancel -> run ended", &mut model),
        ("mid test command: cancel -> run ended", &mut ended),
        ("mid test command: cancel -> command gone", &mut killed),
    ] {
        let mid = median(samples);
        let worst = *samples.iter().max().unwrap();
        println!(
            "{what:<42} median {:>9}  max {:>9}  ({:.0}x samokoder/status; goal 1 s: {})",
            ms(mid),
            ms(worst),
            mid.as_secs_f64() / base.as_secs_f64(),
            if worst <= Duration::from_secs(1) { "met" } else { "NOT met" }
        );
    }
    client.shutdown_and_exit().await.unwrap();
}
