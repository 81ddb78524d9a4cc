//! The Docker sandbox against the real daemon and the locally built test image.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use samokoder_sandbox::{
    DockerSandbox, ExecResult, Location, RunRequest, Sandbox, SandboxConfig, SandboxError, parse_test_output,
};

const AT_ROOT: Location<'static> = Location { root: "/workspace", cwd: "" };
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

fn config() -> SandboxConfig {
    SandboxConfig { image: test_image(), ..Default::default() }
}

fn inspect(name: &str) -> Option<serde_json::Value> {
    let out = std::process::Command::new("docker").args(["inspect", name]).output().unwrap();
    out.status.success().then(|| serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()[0].clone())
}

/// Runs a request; checks that what streamed to the sink is what the result holds.
async fn exec(sb: &DockerSandbox, request: RunRequest<'_>) -> ExecResult {
    let streamed = Mutex::new(String::new());
    let result = sb.run(request, &|s| streamed.lock().unwrap().push_str(s)).await.unwrap();
    if !result.timed_out && result.dropped_bytes == 0 {
        assert_eq!(*streamed.lock().unwrap(), result.output, "the sink saw what the result holds");
    }
    result
}

async fn sh(sb: &DockerSandbox, root: &Path, command: &str) -> ExecResult {
    exec(sb, RunRequest::new(root, &BTreeMap::new(), command, Duration::from_secs(60))).await
}

#[tokio::test]
async fn tests_see_unsaved_buffers_sync_is_incremental_and_deletions_arrive() {
    if !docker_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    write_fixture(dir.path(), SUITE);
    let sb = DockerSandbox::new(config(), dir.path());

    let passing = sh(&sb, dir.path(), "node --test").await;
    assert!(passing.success(), "{}", passing.output);
    assert_eq!(passing.synced_files, 3, "the first sync sends everything");
    assert_eq!(parse_test_output(&passing.output, AT_ROOT).passed, 1);

    // The editor holds a broken sum that is not saved: the container must test that, and only that file
    // travels.
    let overlay =
        BTreeMap::from([("src/sum.js".to_owned(), "export function sum(a, b) {\n  return a - b;\n}\n".to_owned())]);
    let failing = exec(&sb, RunRequest::new(dir.path(), &overlay, "node --test", Duration::from_secs(60))).await;
    assert_eq!(failing.exit_code, Some(1), "{}", failing.output);
    assert_eq!(failing.synced_files, 1);
    let report = parse_test_output(&failing.output, AT_ROOT);
    let f = &report.failures[0];
    assert_eq!((f.file.as_deref(), f.line), (Some("test/sum.test.js"), Some(6)), "{report:?}");

    // Nothing changed: nothing is sent.
    assert_eq!(exec(&sb, RunRequest::new(dir.path(), &overlay, "true", Duration::from_secs(10))).await.synced_files, 0);

    // A file deleted on disk is gone inside the container too.
    std::fs::remove_file(dir.path().join("test/sum.test.js")).unwrap();
    let listed = sh(&sb, dir.path(), "test -e test/sum.test.js && echo present || echo gone").await;
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
    let sb = DockerSandbox::new(config(), dir.path());
    let probe = "id -u; (touch /etc/x 2>/dev/null && echo rootfs-writable) || echo rootfs-ro; \
                 test -e /var/run/docker.sock && echo has-socket || echo no-socket; \
                 node -e \"require('net').connect(443,'1.1.1.1').on('error',e=>console.log('net:'+e.code)).on('connect',()=>console.log('net:open'))\"; \
                 touch /workspace/w && echo ws-writable; touch /tmp/t && echo tmp-writable; stat -c %u /workspace";
    let out = sh(&sb, dir.path(), probe).await.output;
    assert!(out.starts_with("1000\n"), "{out}");
    for expected in ["rootfs-ro", "no-socket", "ws-writable", "tmp-writable"] {
        assert!(out.contains(expected), "{expected}: {out}");
    }
    assert!(out.contains("net:ENETUNREACH") || out.contains("net:EAI_AGAIN"), "{out}");
    assert!(out.trim_end().ends_with("1000"), "the workspace is owned by the command user: {out}");

    let info = inspect(&sb.container_name()).unwrap();
    let host = &info["HostConfig"];
    assert_eq!(host["NetworkMode"], "none");
    assert_eq!(host["CapDrop"], serde_json::json!(["ALL"]));
    assert_eq!(host["ReadonlyRootfs"], true);
    assert!(host["SecurityOpt"].to_string().contains("no-new-privileges"));
    assert!(
        host["Memory"].as_i64().unwrap() > 0
            && host["PidsLimit"].as_i64().unwrap() > 0
            && host["NanoCpus"].as_i64().unwrap() > 0
    );
    assert_eq!(host["Memory"], host["MemorySwap"], "no swap on top of the memory limit");
    assert!(host["Tmpfs"]["/tmp"].is_string());
    assert!(host["Binds"].is_null(), "no host path may be mounted: {}", host["Binds"]);
    for mount in info["Mounts"].as_array().unwrap() {
        assert_eq!(mount["Type"], "volume", "only our volume is mounted: {mount}");
        assert!(!mount["Source"].as_str().unwrap_or("").contains("docker.sock"));
    }
    assert_eq!(info["Config"]["User"], "65534:65534", "not root");
    let labels = &info["Config"]["Labels"];
    assert_eq!(labels["dev.samokoder"], "1");
    assert_eq!(labels["dev.samokoder.workspace"], dir.path().display().to_string());
    sb.shutdown().await;
    assert!(inspect(&sb.container_name()).is_none(), "shutdown removes the container");
}

#[tokio::test]
async fn an_endless_loop_is_killed_at_the_timeout_and_the_container_lives_on() {
    if !docker_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    write_fixture(dir.path(), "//- /loop.js\nwhile (true) {}\n");
    let sb = DockerSandbox::new(config(), dir.path());
    let looped = exec(&sb, RunRequest::new(dir.path(), &BTreeMap::new(), "node loop.js", Duration::from_secs(2))).await;
    assert!(looped.timed_out && !looped.idle_timed_out && looped.exit_code.is_none(), "{looped:?}");
    assert!(looped.abnormal_end().unwrap().contains("time limit"));
    let after = sh(&sb, dir.path(), "ps -o user,args | grep -c '[n]ode loop' ; echo alive").await;
    assert!(after.output.contains("alive"), "{}", after.output);
    assert!(after.output.starts_with("0\n"), "the loop survived the kill: {}", after.output);
    sb.shutdown().await;
}

#[tokio::test]
async fn a_silent_hang_is_killed_by_the_no_output_timeout() {
    if !docker_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sb = DockerSandbox::new(config(), dir.path());
    let overlay = BTreeMap::new();
    let mut request = RunRequest::new(dir.path(), &overlay, "echo started; sleep 600", Duration::from_secs(60));
    request.idle_timeout = Some(Duration::from_secs(1));
    let hung = exec(&sb, request).await;
    assert!(hung.timed_out && hung.idle_timed_out, "{hung:?}");
    assert!(hung.output.contains("started"));
    assert!(hung.abnormal_end().unwrap().contains("printed nothing"));
    assert_eq!(sh(&sb, dir.path(), "ps -o args | grep -c '[s]leep 600'").await.output.trim(), "0");
    sb.shutdown().await;
}

#[tokio::test]
async fn a_cancelled_command_does_not_outlive_its_run() {
    if !docker_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    write_fixture(dir.path(), "//- /loop.js\nwhile (true) {}\n");
    let sb = DockerSandbox::new(config(), dir.path());
    let overlay = BTreeMap::new();
    let run = sb.run(RunRequest::new(dir.path(), &overlay, "node loop.js", Duration::from_secs(60)), &|_| {});
    // Cancel by dropping the future, as the run registry does, once the loop is surely running.
    assert!(tokio::time::timeout(Duration::from_secs(3), run).await.is_err());
    let after = sh(&sb, dir.path(), "ps -o args | grep -c '[n]ode loop' ; echo alive").await.output;
    assert!(after.starts_with("0\n") && after.contains("alive"), "the cancelled command survived: {after}");
    sb.shutdown().await;
}

#[tokio::test]
async fn a_fork_bomb_hits_the_pids_limit_and_the_sandbox_recovers() {
    if !docker_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sb = DockerSandbox::new(SandboxConfig { pids_limit: 64, ..config() }, dir.path());
    let bomb = "bomb() { bomb | bomb & }; bomb; sleep 3; echo still-here";
    let result = exec(&sb, RunRequest::new(dir.path(), &BTreeMap::new(), bomb, Duration::from_secs(6))).await;
    assert!(
        result.output.contains("can't fork") || result.output.contains("Resource temporarily unavailable"),
        "{}",
        result.output
    );
    let after = sh(&sb, dir.path(), "echo alive").await;
    assert_eq!(after.output.trim(), "alive");
    let info = inspect(&sb.container_name()).unwrap();
    assert_eq!(info["HostConfig"]["PidsLimit"], 64);
    sb.shutdown().await;
}

#[tokio::test]
async fn memory_over_the_limit_is_killed_and_reported_as_such() {
    if !docker_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sb = DockerSandbox::new(SandboxConfig { memory_bytes: 256 * 1024 * 1024, ..config() }, dir.path());
    let hog = "node -e \"const b = Buffer.alloc(400e6); b.fill(1); console.log(b.length)\"";
    let result = sh(&sb, dir.path(), hog).await;
    assert_eq!(result.exit_code, Some(137), "{result:?}");
    assert!(result.oom_killed, "{result:?}");
    assert!(result.abnormal_end().unwrap().contains("out of memory (limit 256 MB"), "{result:?}");
    // A plain failure afterwards is not mistaken for another OOM.
    let plain = sh(&sb, dir.path(), "exit 3").await;
    assert!(!plain.oom_killed && plain.exit_code == Some(3));
    // A child killed for memory, whose parent exits 1 as a test runner does ("test failed"), is seen too.
    let child = "node -e \"const r = require('child_process').spawnSync('node', ['-e', 'Buffer.alloc(400e6).fill(1)']); \
                 console.log('child signal', r.signal); process.exit(1)\"";
    let result = sh(&sb, dir.path(), child).await;
    assert_eq!(result.exit_code, Some(1), "{result:?}");
    assert!(result.output.contains("child signal SIGKILL"), "{result:?}");
    assert!(result.oom_killed, "a child's OOM kill is reported: {result:?}");
    assert!(result.abnormal_end().unwrap().contains("out of memory (limit 256 MB"), "{result:?}");
    sb.shutdown().await;
}

fn peak_rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .unwrap()
        .trim()
        .trim_end_matches(" kB")
        .trim()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn fifty_megabytes_of_output_are_capped_in_memory_and_in_what_streams() {
    if !docker_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cap = 256 * 1024;
    let sb = DockerSandbox::new(SandboxConfig { output_cap_bytes: cap, ..config() }, dir.path());
    sh(&sb, dir.path(), "true").await; // the container exists before we measure
    let before = peak_rss_kb();
    let streamed = Mutex::new(0usize);
    let flood = "head -c 52428800 /dev/zero | tr '\\0' 'x'; echo; echo THE-END";
    let result = sb
        .run(RunRequest::new(dir.path(), &BTreeMap::new(), flood, Duration::from_secs(120)), &|s| {
            *streamed.lock().unwrap() += s.len()
        })
        .await
        .unwrap();
    let grown_mb = (peak_rss_kb() - before) / 1024;
    assert!(result.success());
    assert!(result.output.len() < cap + 200, "{}", result.output.len());
    assert!(result.output.contains("bytes of output dropped") && result.output.trim_end().ends_with("THE-END"));
    assert!(result.dropped_bytes > 50 * 1024 * 1024 - cap as u64 - 10);
    assert!(*streamed.lock().unwrap() < cap + 200, "the sink got {} bytes", streamed.lock().unwrap());
    assert!(grown_mb < 40, "memory grew by {grown_mb} MB for 50 MB of output");
    sb.shutdown().await;
}

#[tokio::test]
async fn network_steps_reach_the_network_share_the_workspace_and_get_the_ca_bundle() {
    if !docker_available() {
        return;
    }
    // A service on the host's loopback: reachable only from a container on the host network.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let ca = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(ca.path(), "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n").unwrap();
    let dir = tempfile::tempdir().unwrap();
    write_fixture(dir.path(), "//- /package.json\n{}\n");
    let config = SandboxConfig { network: "host".into(), ca_bundle: Some(ca.path().to_owned()), ..config() };
    let sb = DockerSandbox::new(config, dir.path());
    let connect = format!(
        "node -e \"require('net').connect({port},'127.0.0.1').on('connect',()=>{{console.log('net:open');process.exit(0)}}).on('error',e=>console.log('net:'+e.code))\""
    );
    let install = format!(
        "{connect}; grep -c BEGIN \"$NODE_EXTRA_CA_CERTS\"; echo installed > node_modules.marker; mkdir -p node_modules && echo dep > node_modules/dep.js"
    );
    let overlay = BTreeMap::new();
    let mut request = RunRequest::new(dir.path(), &overlay, &install, Duration::from_secs(60));
    request.network = true;
    request.run_id = Some("run-42");
    let installed = exec(&sb, request).await;
    assert!(installed.success(), "{}", installed.output);
    assert!(installed.output.contains("net:open"), "the network step reaches the network: {}", installed.output);
    assert!(installed.output.contains("\n1\n"), "the CA bundle is there: {}", installed.output);

    // The warm container has no network, but sees what the step installed.
    let tested = sh(&sb, dir.path(), &format!("{connect}; cat node_modules/dep.js")).await;
    assert!(!tested.output.contains("net:open"), "{}", tested.output);
    assert!(tested.output.contains("dep"), "{}", tested.output);
    // The step's container is removed when the step ends (in the background).
    let step_containers = || {
        let out = std::process::Command::new("docker")
            .args(["ps", "-aq", "--filter", "label=dev.samokoder.run=run-42"])
            .output();
        out.unwrap().stdout
    };
    for _ in 0..50 {
        if step_containers().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(step_containers().is_empty(), "the network step's container was left behind");
    drop(listener);
    sb.shutdown().await;
}

#[tokio::test]
async fn working_directory_and_environment_are_passed() {
    if !docker_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    write_fixture(dir.path(), "//- /app/x.txt\nx\n");
    let sb = DockerSandbox::new(config(), dir.path());
    let env = [("GREETING".to_owned(), "héllo".to_owned())];
    let overlay = BTreeMap::new();
    let mut request = RunRequest::new(dir.path(), &overlay, "pwd; echo $GREETING", Duration::from_secs(30));
    request.cwd = Some("app");
    request.env = &env;
    assert_eq!(exec(&sb, request).await.output, "/workspace/app\nhéllo\n");
    let mut outside = RunRequest::new(dir.path(), &overlay, "pwd", Duration::from_secs(30));
    outside.cwd = Some("../etc");
    assert!(matches!(sb.run(outside, &|_| {}).await, Err(SandboxError::Workspace { .. })));
    sb.shutdown().await;
}

#[tokio::test]
async fn an_idle_container_is_removed_and_recreated_on_demand() {
    if !docker_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    write_fixture(dir.path(), "//- /a.txt\na\n");
    let sb = DockerSandbox::new(SandboxConfig { idle_stop: Duration::from_secs(1), ..config() }, dir.path());
    sh(&sb, dir.path(), "true").await;
    assert!(inspect(&sb.container_name()).is_some());
    for _ in 0..40 {
        if inspect(&sb.container_name()).is_none() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(inspect(&sb.container_name()).is_none(), "the idle container was not removed");
    let again = sh(&sb, dir.path(), "cat a.txt").await;
    assert_eq!((again.output.as_str(), again.synced_files), ("a\n", 1), "a new container gets a full sync");
    sb.shutdown().await;
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
    // Another test's sandbox may get there first (every new container looks for leftovers): either way
    // the dead one is gone and the live one stays.
    DockerSandbox::new(config(), dir.path()).remove_leftovers().await.unwrap();
    assert!(inspect(&dead).is_none(), "the dead server's container must go");
    assert!(inspect(&live).is_some(), "a live server's container must stay");
    let _ = std::process::Command::new("docker").args(["rm", "-f", &live]).output();
}

#[tokio::test]
async fn a_daemon_that_is_down_or_silent_is_a_clear_error_not_a_hang() {
    let dir = tempfile::tempdir().unwrap();
    let missing = SandboxConfig { docker_host: Some("unix:///tmp/samokoder-no-such-docker.sock".into()), ..config() };
    let err = tokio::time::timeout(
        Duration::from_secs(30),
        DockerSandbox::new(missing, dir.path())
            .run(RunRequest::new(dir.path(), &BTreeMap::new(), "true", Duration::from_secs(5)), &|_| {}),
    )
    .await
    .expect("must not hang")
    .unwrap_err()
    .to_string();
    assert!(err.contains("start Docker") && err.contains("DOCKER_HOST") && err.contains("no-such-docker"), "{err}");

    // A port that accepts connections and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let config = SandboxConfig { docker_host: Some(format!("tcp://{}", silent.local_addr().unwrap())), ..config() };
    let err = tokio::time::timeout(Duration::from_secs(30), DockerSandbox::new(config, dir.path()).health())
        .await
        .expect("must not hang")
        .unwrap_err()
        .to_string();
    assert!(err.contains("no answer") && err.contains("start Docker"), "{err}");
}

#[tokio::test]
async fn a_missing_image_that_cannot_be_pulled_names_the_image_and_the_fix() {
    if !docker_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = SandboxConfig { image: "samokoder-no-such-image:0".into(), ..config() };
    let err = DockerSandbox::new(config, dir.path())
        .run(RunRequest::new(dir.path(), &BTreeMap::new(), "true", Duration::from_secs(5)), &|_| {})
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("samokoder-no-such-image:0")
            && err.contains("docker pull")
            && err.contains("SAMOKODER_SANDBOX_IMAGE"),
        "{err}"
    );
}

#[tokio::test]
async fn an_image_nobody_chose_that_cannot_be_had_gives_way_to_the_local_one_and_says_so() {
    if !docker_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let unpullable =
        || SandboxConfig { image: "samokoder-no-such-image:0".into(), fallback_image: Some(test_image()), ..config() };
    let sb = DockerSandbox::new(unpullable(), dir.path());
    let said = Mutex::new(String::new());
    sb.prepare(&|s| said.lock().unwrap().push_str(s)).await.unwrap();
    let said = said.into_inner().unwrap();
    assert!(
        said.contains("the sandbox image samokoder-no-such-image:0 cannot be had")
            && said.contains(&format!("using the local image {}", test_image())),
        "{said}"
    );
    assert_eq!(sb.image(), test_image());
    let ran = sh(&sb, dir.path(), "node -e 'console.log(1 + 1)'").await;
    assert_eq!(ran.output.trim(), "2");
    // The health check says the same before anything runs.
    let fresh = DockerSandbox::new(unpullable(), dir.path());
    let health = fresh.health().await.unwrap();
    assert!(health.image_present && health.image.contains("is used when it cannot be pulled"), "{health:?}");
    sb.shutdown().await;
}
