//! The sandbox against the Docker floor, in one run:
//!
//! - a trivial command (`true`) in the warm container (workspace unchanged, so no sync) against the raw
//!   exec floor (create + start + read + inspect an exec through the Engine API, same container) and
//!   against a container per command (create + start + wait + remove through the Engine API);
//! - a full sync of 1,000 files, and an incremental sync after one file changed.
//!
//! Run: `cargo bench -p samokoder-sandbox --bench sandbox` (needs a Docker daemon and the test image:
//! `scripts/build-test-image.sh`). Results: docs/benchmarks.md.

// A bench binary reports on stdout.
#![allow(clippy::print_stdout)]

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{RemoveContainerOptionsBuilder, WaitContainerOptions};
use futures::StreamExt;
use samokoder_sandbox::{DockerSandbox, RunRequest, Sandbox, SandboxConfig};
use samokoder_test_utils::test_image;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:8.2} ms", d.as_secs_f64() * 1e3)
}

async fn raw_exec(docker: &Docker, container: &str) {
    let options = CreateExecOptions {
        cmd: Some(vec!["true".to_owned()]),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        user: Some("1000:1000".to_owned()),
        ..Default::default()
    };
    let exec = docker.create_exec(container, options).await.unwrap();
    if let StartExecResults::Attached { mut output, .. } = docker.start_exec(&exec.id, None).await.unwrap() {
        while output.next().await.is_some() {}
    }
    assert_eq!(docker.inspect_exec(&exec.id).await.unwrap().exit_code, Some(0));
}

/// A container per command: bare, or with the hardening a sandbox needs (ours has it).
async fn run_per_command(docker: &Docker, image: &str, hardened: bool) {
    let host_config = hardened.then(|| HostConfig {
        network_mode: Some("none".into()),
        cap_drop: Some(vec!["ALL".into()]),
        security_opt: Some(vec!["no-new-privileges:true".into()]),
        readonly_rootfs: Some(true),
        tmpfs: Some(HashMap::from([
            ("/tmp".to_owned(), "rw,nosuid,nodev,size=268435456,mode=1777".to_owned()),
            ("/workspace".to_owned(), "rw,size=1073741824,uid=1000,gid=1000".to_owned()),
        ])),
        memory: Some(1 << 30),
        memory_swap: Some(1 << 30),
        nano_cpus: Some(1_000_000_000),
        pids_limit: Some(256),
        init: Some(true),
        ..Default::default()
    });
    let body = ContainerCreateBody {
        image: Some(image.to_owned()),
        cmd: Some(vec!["true".to_owned()]),
        user: hardened.then(|| "1000:1000".to_owned()),
        network_disabled: Some(true),
        host_config,
        ..Default::default()
    };
    let created =
        docker.create_container(None::<bollard::query_parameters::CreateContainerOptions>, body).await.unwrap();
    docker.start_container(&created.id, None).await.unwrap();
    let mut wait = docker.wait_container(&created.id, None::<WaitContainerOptions>);
    while wait.next().await.is_some() {}
    docker
        .remove_container(&created.id, Some(RemoveContainerOptionsBuilder::default().force(true).build()))
        .await
        .unwrap();
}

#[tokio::main]
async fn main() {
    let docker = Docker::connect_with_defaults().unwrap().negotiate_version().await.unwrap();
    let image = test_image();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), "a").unwrap();
    let sandbox = DockerSandbox::new(SandboxConfig { image: image.clone(), ..Default::default() }, dir.path());
    let overlay = BTreeMap::new();
    let request = || RunRequest::new(dir.path(), &overlay, "true", Duration::from_secs(30));
    assert!(sandbox.run(request(), &|_| {}).await.unwrap().success());
    let container = sandbox.container_name();

    let (mut ours, mut floor, mut per_command, mut hardened) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..20 {
        let t = Instant::now();
        let result = sandbox.run(request(), &|_| {}).await.unwrap();
        assert!(result.success() && result.synced_files == 0);
        ours.push(t.elapsed());
        let t = Instant::now();
        raw_exec(&docker, &container).await;
        floor.push(t.elapsed());
    }
    for _ in 0..10 {
        let t = Instant::now();
        run_per_command(&docker, &image, false).await;
        per_command.push(t.elapsed());
        let t = Instant::now();
        run_per_command(&docker, &image, true).await;
        hardened.push(t.elapsed());
    }
    let (ours, floor, per_command, hardened) = (median(ours), median(floor), median(per_command), median(hardened));
    println!("trivial command, warm sandbox p50        {}", ms(ours));
    println!(
        "  raw exec floor (Engine API) p50        {}   ratio {:.2}x (target <= 1.2x)",
        ms(floor),
        ours.as_secs_f64() / floor.as_secs_f64()
    );
    println!(
        "  hardened container per command p50     {}   {:.1}x slower than ours (target >= 4x)",
        ms(hardened),
        hardened.as_secs_f64() / ours.as_secs_f64()
    );
    println!(
        "  bare container per command p50         {}   {:.1}x slower than ours",
        ms(per_command),
        per_command.as_secs_f64() / ours.as_secs_f64()
    );
    sandbox.shutdown().await;

    // Sync: 1,000 files of about 1 KiB in nested directories.
    let many = tempfile::tempdir().unwrap();
    std::fs::write(many.path().join("seed.txt"), "x").unwrap();
    let sandbox = DockerSandbox::new(SandboxConfig { image: image.clone(), ..Default::default() }, many.path());
    let request = || RunRequest::new(many.path(), &overlay, "true", Duration::from_secs(60));
    sandbox.run(request(), &|_| {}).await.unwrap();
    for i in 0..1000 {
        let sub = many.path().join(format!("src/m{}", i % 20));
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(sub.join(format!("f{i}.js")), format!("export const v{i} = {};\n", "1".repeat(1000))).unwrap();
    }
    let t = Instant::now();
    let full = sandbox.run(request(), &|_| {}).await.unwrap();
    let full_time = t.elapsed();
    assert_eq!(full.synced_files, 1000);
    let mut incremental = Vec::new();
    for round in 0..10 {
        std::fs::write(many.path().join("src/m0/f0.js"), format!("export const v0 = {round};\n")).unwrap();
        let t = Instant::now();
        let result = sandbox.run(request(), &|_| {}).await.unwrap();
        assert_eq!(result.synced_files, 1);
        incremental.push(t.elapsed());
    }
    println!("sync of 1,000 new files, then `true`     {}", ms(full_time));
    println!("sync of 1 changed file of 1,001, `true`  {} (p50 of 10)", ms(median(incremental)));
    sandbox.shutdown().await;
}
