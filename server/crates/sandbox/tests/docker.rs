//! The Docker sandbox against the real daemon and the locally built test image.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use samokoder_sandbox::{DockerSandbox, RunRequest, Sandbox, SandboxConfig, parse_test_output};
use samokoder_test_utils::{docker_available, test_image, write_fixture};

const SUITE: &str = r#"
//- /package.json
{"type": "module"}
//- /src/sum.js
export function sum(a, b) {
  return a + b;
}
//- /test/sum.test.js
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sum } from '../src/sum.js';

test('adds', () => {
  assert.equal(sum(1, 2), 3);
});
"#;

fn sandbox(root: &std::path::Path) -> DockerSandbox {
    DockerSandbox::new(SandboxConfig { image: test_image(), ..Default::default() }, root)
}

async fn run(
    sb: &DockerSandbox,
    root: &std::path::Path,
    overlay: &BTreeMap<String, String>,
    command: &str,
    timeout: Duration,
) -> samokoder_sandbox::ExecResult {
    let streamed = Mutex::new(String::new());
    let result = sb
        .run(RunRequest { root, overlay, command, timeout }, &|s| streamed.lock().unwrap().push_str(s))
        .await
        .unwrap();
    if !result.timed_out && result.dropped_bytes == 0 {
        assert_eq!(*streamed.lock().unwrap(), result.output, "the sink saw what the result holds");
    }
    result
}

#[tokio::test]
async fn tests_see_unsaved_buffers_and_failures_are_located() {
    if !docker_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    write_fixture(dir.path(), SUITE);
    let sb = sandbox(dir.path());

    let passing = run(&sb, dir.path(), &BTreeMap::new(), "node --test", Duration::from_secs(60)).await;
    assert!(passing.success(), "{}", passing.output);
    assert_eq!(parse_test_output(&passing.output, "/workspace").passed, 1);

    // The editor holds a broken sum that is not saved: the container must test that.
    let overlay =
        BTreeMap::from([("src/sum.js".to_owned(), "export function sum(a, b) {\n  return a - b;\n}\n".to_owned())]);
    let failing = run(&sb, dir.path(), &overlay, "node --test", Duration::from_secs(60)).await;
    assert_eq!(failing.exit_code, Some(1), "{}", failing.output);
    let report = parse_test_output(&failing.output, "/workspace");
    let f = &report.failures[0];
    assert_eq!((f.file.as_deref(), f.line), (Some("test/sum.test.js"), Some(6)), "{report:?}");

    // A file deleted on disk is gone inside the container too.
    std::fs::remove_file(dir.path().join("test/sum.test.js")).unwrap();
    let listed = run(
        &sb,
        dir.path(),
        &BTreeMap::new(),
        "test -e test/sum.test.js && echo present || echo gone",
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(listed.output.trim(), "gone");
    sb.shutdown().await;
}

#[tokio::test]
async fn hardening_holds_inside_the_container() {
    if !docker_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    write_fixture(dir.path(), "//- /a.txt\na\n");
    let sb = sandbox(dir.path());
    let probe = "id -u; (touch /etc/x 2>/dev/null && echo rootfs-writable) || echo rootfs-ro; \
                 test -e /var/run/docker.sock && echo has-socket || echo no-socket; \
                 node -e \"require('net').connect(443,'1.1.1.1').on('error',e=>console.log('net:'+e.code)).on('connect',()=>console.log('net:open'))\"; \
                 touch /workspace/w && echo ws-writable";
    let result = run(&sb, dir.path(), &BTreeMap::new(), probe, Duration::from_secs(30)).await;
    let out = result.output;
    assert!(out.starts_with("1000\n"), "{out}");
    assert!(out.contains("rootfs-ro") && out.contains("no-socket") && out.contains("ws-writable"), "{out}");
    assert!(out.contains("net:ENETUNREACH") || out.contains("net:EAI_AGAIN"), "{out}");

    let inspect = std::process::Command::new("docker").args(["inspect", &sb.container_name()]).output().unwrap();
    let info: serde_json::Value = serde_json::from_slice(&inspect.stdout).unwrap();
    let host = &info[0]["HostConfig"];
    assert_eq!(host["NetworkMode"], "none");
    assert_eq!(host["CapDrop"], serde_json::json!(["ALL"]));
    assert_eq!(host["ReadonlyRootfs"], true);
    assert!(host["SecurityOpt"].to_string().contains("no-new-privileges"));
    assert!(
        host["Memory"].as_i64().unwrap() > 0
            && host["PidsLimit"].as_i64().unwrap() > 0
            && host["NanoCpus"].as_i64().unwrap() > 0
    );
    assert!(host["Binds"].is_null(), "no host path may be mounted: {}", host["Binds"]);
    assert_ne!(info[0]["Config"]["User"], "");
    assert_ne!(info[0]["Config"]["User"], "root");
    sb.shutdown().await;
}

#[tokio::test]
async fn an_endless_loop_is_killed_at_the_timeout_and_the_container_lives_on() {
    if !docker_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    write_fixture(dir.path(), "//- /loop.js\nwhile (true) {}\n");
    let sb = sandbox(dir.path());
    let looped = run(&sb, dir.path(), &BTreeMap::new(), "node loop.js", Duration::from_secs(2)).await;
    assert!(looped.timed_out && looped.exit_code.is_none(), "{looped:?}");
    let after = run(
        &sb,
        dir.path(),
        &BTreeMap::new(),
        "ps -o user,args | grep -c '[n]ode loop' ; echo alive",
        Duration::from_secs(10),
    )
    .await;
    assert!(after.output.contains("alive"), "{}", after.output);
    assert!(after.output.starts_with("0\n"), "the loop survived the kill: {}", after.output);
    sb.shutdown().await;
}

#[tokio::test]
async fn a_cancelled_command_does_not_outlive_its_run() {
    if !docker_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    write_fixture(dir.path(), "//- /loop.js\nwhile (true) {}\n");
    let sb = sandbox(dir.path());
    let overlay = BTreeMap::new();
    let run = sb.run(
        RunRequest { root: dir.path(), overlay: &overlay, command: "node loop.js", timeout: Duration::from_secs(60) },
        &|_| {},
    );
    // Cancel by dropping the future, as the run registry does, once the loop is surely running.
    assert!(tokio::time::timeout(Duration::from_secs(3), run).await.is_err());
    let after = run_cmd(&sb, dir.path(), "ps -o args | grep -c '[n]ode loop' ; echo alive").await;
    assert!(after.starts_with("0\n") && after.contains("alive"), "the cancelled command survived: {after}");
    sb.shutdown().await;
}

async fn run_cmd(sb: &DockerSandbox, root: &std::path::Path, command: &str) -> String {
    run(sb, root, &BTreeMap::new(), command, Duration::from_secs(30)).await.output
}

#[tokio::test]
async fn containers_of_a_dead_server_are_removed_and_live_ones_kept() {
    if !docker_available() {
        return;
    }
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap().trim().to_owned();
    let create = |name: &str, owner: &str| {
        let status = std::process::Command::new("docker")
            .args([
                "create",
                "--name",
                name,
                "--label",
                "dev.samokoder=1",
                "--label",
                &format!("dev.samokoder.owner={owner}"),
            ])
            .args(["--label", &format!("dev.samokoder.host={host}"), &test_image(), "true"])
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
    };
    let dead = format!("samokoder-test-dead-{}", std::process::id());
    let live = format!("samokoder-test-live-{}", std::process::id());
    // pid 1's start time is never 999999999; a process that is gone looks like this.
    create(&dead, "1:999999999");
    let me = std::fs::read_to_string("/proc/self/stat").unwrap();
    let start = me[me.rfind(')').unwrap() + 2..].split_whitespace().nth(19).unwrap().to_owned();
    create(&live, &format!("{}:{start}", std::process::id()));

    let dir = tempfile::tempdir().unwrap();
    let removed = sandbox(dir.path()).remove_leftovers().await.unwrap();
    let exists =
        |name: &str| std::process::Command::new("docker").args(["inspect", name]).output().unwrap().status.success();
    assert!(removed >= 1);
    assert!(!exists(&dead), "the dead server's container must go");
    assert!(exists(&live), "a live server's container must stay");
    let _ = std::process::Command::new("docker").args(["rm", "-f", &live]).output();
}
