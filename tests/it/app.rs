//! `samokoder run` from a terminal: the app in the sandbox on a URL on 127.0.0.1, in step with the disk,
//! stopped with nothing left behind on Ctrl-C; a project with nothing to run is told what to add.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use samokoder_test_utils::docker_available;
use serde_json::json;

use crate::support::{Sandboxed, bin};

const SERVER: &str = "import http from 'node:http';\nimport fs from 'node:fs';\n\nhttp.createServer((req, res) => res.end(fs.readFileSync('message.txt', 'utf8'))).listen(Number(process.env.PORT ?? 3000), () => console.log('serving'));\n";

fn get(url: &str) -> String {
    let address = url.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream.write_all(b"GET / HTTP/1.0\r\nhost: localhost\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default()
}

fn app_containers(root: &std::path::Path) -> String {
    let out = Command::new("docker")
        .args(["ps", "-a", "-q", "--filter", "label=dev.samokoder.app"])
        .args(["--filter", &format!("label=dev.samokoder.workspace={}", root.display())])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn run_serves_the_app_on_a_local_url_follows_edits_and_stops_on_ctrl_c() {
    if !docker_available() {
        return;
    }
    let s = Sandboxed::new();
    let root = s.root().join("app");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("package.json"), r#"{"type": "module", "scripts": {"start": "node server.js"}}"#).unwrap();
    std::fs::write(root.join("server.js"), SERVER).unwrap();
    std::fs::write(root.join("message.txt"), "hello\n").unwrap();
    let mut child = Command::new(bin())
        .args(["run", root.to_str().unwrap()])
        .envs(s.env(None))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = String::new();
    let url = loop {
        let line = lines.next().expect("the app's URL before the output ends").unwrap();
        seen.push_str(&line);
        seen.push('\n');
        if let Some(rest) = line.strip_prefix("the app is running at ") {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    assert!(seen.contains("starting `npm start` in the sandbox"), "{seen}");
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    assert_eq!(get(&url), "hello\n");

    // An edit on disk reaches the app (synced each second); a bound on the wait, not a speed assertion.
    std::fs::write(root.join("message.txt"), "edited\n").unwrap();
    let until = Instant::now() + Duration::from_secs(60);
    while get(&url) != "edited\n" {
        assert!(Instant::now() < until, "the edit never reached the app");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(!app_containers(&root).is_empty());

    let interrupted = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(interrupted.success());
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{rest:?}");
    assert!(rest.iter().any(|l| l == "stopped"), "{rest:?}");
    assert_eq!(app_containers(&root), "", "the app's container is gone");
    assert!(std::net::TcpStream::connect(url.trim_start_matches("http://").trim_end_matches('/')).is_err());
}

#[test]
fn run_on_a_project_with_nothing_to_run_says_what_to_add() {
    let s = Sandboxed::new();
    std::fs::write(s.root().join("package.json"), r#"{"scripts": {"test": "node --test"}}"#).unwrap();
    let out = Command::new(bin()).args(["run", s.root().to_str().unwrap()]).envs(s.env(None)).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("no `dev` or `start` script") && stderr.contains("\"start\": \"node src/server.js\""),
        "{stderr}"
    );
}

#[tokio::test]
async fn over_lsp_run_opens_the_apps_url_logs_its_output_and_stop_leaves_nothing() {
    if !docker_available() {
        return;
    }
    let s = Sandboxed::new();
    std::fs::write(s.root().join("package.json"), r#"{"type": "module", "scripts": {"start": "node server.js"}}"#)
        .unwrap();
    std::fs::write(s.root().join("server.js"), SERVER).unwrap();
    std::fs::write(s.root().join("message.txt"), "on disk\n").unwrap();
    let client = s.spawn(s.options(None));
    client.initialize().await.unwrap();
    // What the editor holds, unsaved, is what the app serves.
    client.did_open("message.txt", "plaintext", "unsaved\n").await.unwrap();
    let actions = client
        .request(
            "textDocument/codeAction",
            json!({
            "textDocument": {"uri": client.uri("server.js")},
            "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}},
            "context": {"diagnostics": []}}),
        )
        .await
        .unwrap();
    assert!(actions.to_string().contains("Samokoder: run the app"), "{actions}");
    let answer = client
        .request("workspace/executeCommand", json!({"command": "samokoder.run", "arguments": [{}]}))
        .await
        .unwrap();
    let run_id = answer["runId"].as_str().unwrap().to_owned();
    let shown = client
        .wait_for(Duration::from_secs(120), "window/showDocument of the app", |m| {
            m["method"] == "window/showDocument" && m["params"]["external"] == true
        })
        .await
        .unwrap();
    let url = shown["params"]["uri"].as_str().unwrap().to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let body = tokio::task::spawn_blocking({
        let url = url.clone();
        move || get(&url)
    })
    .await
    .unwrap();
    assert_eq!(body, "unsaved\n");
    client
        .wait_notification("samokoder/log", Duration::from_secs(30), |p| {
            p["runId"] == run_id.as_str()
                && p["agent"] == "app"
                && p["text"].as_str().is_some_and(|t| t.contains("serving"))
        })
        .await
        .unwrap();

    let stopped = client
        .request("workspace/executeCommand", json!({"command": "samokoder.stop", "arguments": []}))
        .await
        .unwrap();
    assert_eq!(stopped, json!({"stopped": true}));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let warned = client.messages().iter().any(|m| {
        m["method"] == "window/showMessage" && m["params"]["message"].as_str().is_some_and(|t| t.contains("exited"))
    });
    assert!(!warned, "a stop the user asked for is not reported as the app exiting");
    assert_eq!(app_containers(s.root()), "", "the app's container is gone");
    let again = client
        .request("workspace/executeCommand", json!({"command": "samokoder.stop", "arguments": []}))
        .await
        .unwrap();
    assert_eq!(again, json!({"stopped": false}));
    client.shutdown_and_exit().await.unwrap();
}
