//! The templates' installs and tests, each against `docker run` per command, in one run:
//!
//! - the first install (npm's cache volume emptied first) and a second install of the same project in a new
//!   workspace (the cache warm), through the sandbox's network step; against `npm install` in a
//!   `docker run --rm` container (no cache: what a container per command gives);
//! - the template's test command in the warm container (p50 of 3) against the same command in a
//!   `docker run --rm` container with the project bind-mounted (p50 of 3).
//!
//! Run: `cargo bench --bench templates` (needs a Docker daemon, the test image, `scripts/build-test-image.sh`,
//! and the npm registry). Results: docs/benchmarks.md.

// A bench binary reports on stdout.
#![allow(clippy::print_stdout)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use samokoder_prompts::{ProjectVars, template};
use samokoder_sandbox::{DockerSandbox, RunRequest, Sandbox, SandboxConfig};
use samokoder_test_utils::test_image;

const CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";
const CACHE_VOLUME: &str = "samokoder-npm-cache";

fn render(name: &str, options: &BTreeMap<String, String>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for file in template(name).unwrap().render(&ProjectVars::new("bench-app", "a bench"), options).unwrap() {
        let path = dir.path().join(&file.path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, &file.content).unwrap();
    }
    dir
}

fn sandbox(dir: &Path) -> DockerSandbox {
    let config = SandboxConfig {
        image: test_image(),
        network: "host".into(),
        ca_bundle: Path::new(CA_BUNDLE).exists().then(|| CA_BUNDLE.into()),
        memory_bytes: 2 << 30,
        cpus: 2.0,
        pids_limit: 1024,
        ..Default::default()
    };
    DockerSandbox::new(config, dir)
}

async fn ours(sb: &DockerSandbox, dir: &Path, command: &str, network: bool) -> Duration {
    let overlay = BTreeMap::new();
    let mut request = RunRequest::new(dir, &overlay, command, Duration::from_secs(900));
    request.network = network;
    let started = Instant::now();
    let result = sb.run(request, &|_| {}).await.unwrap();
    assert!(result.success(), "`{command}`: {}", result.output);
    started.elapsed()
}

/// `docker run --rm` with the project bind-mounted, as the sandbox's user.
fn docker_run(dir: &Path, command: &str, network: bool) -> Duration {
    let mut docker = Command::new("docker");
    docker.args(["run", "--rm", "--user", "1000:1000", "-w", "/workspace", "-e", "HOME=/tmp"]);
    docker.arg("-v").arg(format!("{}:/workspace", dir.display()));
    if network {
        docker.args(["--network", "host"]);
        if Path::new(CA_BUNDLE).exists() {
            docker.args(["-v", &format!("{CA_BUNDLE}:/tmp/ca.pem:ro"), "-e", "NODE_EXTRA_CA_CERTS=/tmp/ca.pem"]);
            docker.args(["-e", "npm_config_cafile=/tmp/ca.pem"]);
        }
    } else {
        docker.args(["--network", "none"]);
    }
    docker.args([&test_image(), "sh", "-c", command]);
    let started = Instant::now();
    let out = docker.output().unwrap();
    assert!(out.status.success(), "docker run `{command}`: {}", String::from_utf8_lossy(&out.stderr));
    started.elapsed()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn row(what: &str, ours: Duration, base: Duration) {
    println!(
        "| {what} | {:.2} s | {:.2} s | {:.2}x |",
        ours.as_secs_f64(),
        base.as_secs_f64(),
        base.as_secs_f64() / ours.as_secs_f64()
    );
}

#[tokio::main]
async fn main() {
    let cases: [(&str, &[(&str, &str)]); 3] = [
        ("vite-react", &[]),
        ("node-express-mongoose", &[]),
        ("react-express", &[("database", "mongoose"), ("auth", "yes")]),
    ];
    println!("| what | ours | docker run per command | ours is faster by |\n| --- | --- | --- | --- |");
    for (name, options) in cases {
        let options: BTreeMap<String, String> = options.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let t = template(name).unwrap();
        let _ = Command::new("docker").args(["volume", "rm", "-f", CACHE_VOLUME]).output();

        let first = render(name, &options);
        let sb = sandbox(first.path());
        let cold = ours(&sb, first.path(), &t.install, true).await;
        sb.shutdown().await;

        let second = render(name, &options);
        let sb = sandbox(second.path());
        let warm = ours(&sb, second.path(), &t.install, true).await;
        let mut tests = Vec::new();
        for _ in 0..3 {
            tests.push(ours(&sb, second.path(), &t.test, false).await);
        }
        sb.shutdown().await;

        let base_dir = render(name, &options);
        Command::new("chmod").args(["-R", "a+rwX"]).arg(base_dir.path()).status().unwrap();
        let base_install = docker_run(base_dir.path(), &t.install, true);
        let base_tests: Vec<Duration> = (0..3).map(|_| docker_run(base_dir.path(), &t.test, false)).collect();

        row(&format!("{name}: first install (cold cache)"), cold, base_install);
        row(&format!("{name}: second install (warm cache)"), warm, base_install);
        row(&format!("{name}: `{}`, p50 of 3", t.test), median(tests), median(base_tests));
    }
}
