//! `samokoder run`'s forwarded port, in one run:
//!
//! - time from `start_app` to the first HTTP 200 through the forwarded port, next to the app's own start
//!   (its process start to listening, as it reports it) and to the container's start;
//! - one 100 MB response through the port, next to the same 100 MB read from an exec's stdout (the Engine
//!   API's own floor for a stream out of a container);
//! - 100 concurrent requests, counting errors.
//!
//! Run: `cargo bench -p samokoder-sandbox --bench forward` (needs a Docker daemon and the test image:
//! `scripts/build-test-image.sh`). Results: docs/benchmarks.md.

// A bench binary reports on stdout.
#![allow(clippy::print_stdout)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::exec::{CreateExecOptions, StartExecResults};
use futures::StreamExt;
use samokoder_sandbox::{AppRequest, DockerSandbox, Sandbox, SandboxConfig};
use samokoder_test_utils::test_image;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const BIG: usize = 100 * 1024 * 1024;
const SERVER: &str = "import http from 'node:http';\n\
const big = Buffer.alloc(100 * 1024 * 1024, 'x');\n\
http.createServer((req, res) => res.end(req.url === '/big' ? big : 'ok')).listen(Number(process.env.PORT), () => \
console.log(`listening after ${performance.now().toFixed(1)} ms`));\n";

async fn get(port: u16, path: &str) -> std::io::Result<usize> {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    stream.write_all(format!("GET {path} HTTP/1.0\r\nhost: localhost\r\n\r\n").as_bytes()).await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    if !response.starts_with(b"HTTP/1.1 200") {
        return Err(std::io::Error::other("not a 200"));
    }
    Ok(response.len())
}

/// The same bytes out of the container through a plain exec's stdout.
async fn exec_floor(docker: &Docker, container: &str) -> Duration {
    let options = CreateExecOptions {
        cmd: Some(vec!["sh".into(), "-c".into(), format!("head -c {BIG} /dev/zero")]),
        attach_stdout: Some(true),
        user: Some("1000:1000".into()),
        ..Default::default()
    };
    let exec = docker.create_exec(container, options).await.unwrap();
    let started = Instant::now();
    let mut total = 0;
    if let StartExecResults::Attached { mut output, .. } = docker.start_exec(&exec.id, None).await.unwrap() {
        while let Some(Ok(chunk)) = output.next().await {
            total += chunk.into_bytes().len();
        }
    }
    assert_eq!(total, BIG);
    started.elapsed()
}

fn mb_per_s(bytes: usize, d: Duration) -> f64 {
    bytes as f64 / (1024.0 * 1024.0) / d.as_secs_f64()
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("package.json"), r#"{"type": "module"}"#).unwrap();
    std::fs::write(dir.path().join("server.js"), SERVER).unwrap();
    let sb = DockerSandbox::new(SandboxConfig { image: test_image(), ..Default::default() }, dir.path());
    let overlay = BTreeMap::new();
    // The warm container and its volume first, so the start below is the app's alone.
    sb.run(samokoder_sandbox::RunRequest::new(dir.path(), &overlay, "true", Duration::from_secs(60)), &|_| {})
        .await
        .unwrap();

    let said = Arc::new(parking_lot::Mutex::new(String::new()));
    let sink = said.clone();
    let request = AppRequest {
        root: dir.path(),
        overlay: &overlay,
        command: "node server.js",
        cwd: None,
        port: Some(4000),
        env: &[],
        start_timeout: Duration::from_secs(60),
    };
    let started = Instant::now();
    let app = sb.start_app(request, Arc::new(move |s: &str| sink.lock().push_str(s))).await.unwrap();
    while get(app.host_port, "/").await.is_err() {}
    let first_200 = started.elapsed();
    let own: f64 = said
        .lock()
        .split("listening after ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|ms| ms.parse().ok())
        .unwrap_or(f64::NAN);
    let docker = Docker::connect_with_local_defaults().unwrap();
    let name = format!("{}-app", sb.container_name());
    println!("start to the first 200 through the port: {:.0} ms", first_200.as_secs_f64() * 1e3);
    println!("  the app's own start (node's process start to listening): {own:.0} ms");
    println!("  ratio: {:.1}x", first_200.as_secs_f64() * 1e3 / own);

    let mut through = Vec::new();
    let mut floor = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        let n = get(app.host_port, "/big").await.unwrap();
        through.push(t.elapsed());
        assert!(n > BIG);
        floor.push(exec_floor(&docker, &name).await);
    }
    through.sort();
    floor.sort();
    let (t, f) = (mb_per_s(BIG, through[1]), mb_per_s(BIG, floor[1]));
    println!("100 MB through the forwarded port: {t:.0} MB/s (median of 3)");
    println!("100 MB out of an exec's stdout (the Engine API's floor): {f:.0} MB/s");
    println!("  ratio: {:.2}x", t / f);

    let crowd: Vec<_> = (0..100).map(|_| tokio::spawn(get(app.host_port, "/"))).collect();
    let t = Instant::now();
    let mut errors = 0;
    for request in crowd {
        if !matches!(request.await, Ok(Ok(_))) {
            errors += 1;
        }
    }
    println!("100 concurrent requests: {errors} errors, {:.0} ms for all", t.elapsed().as_secs_f64() * 1e3);
    app.stop().await;
    sb.shutdown().await;
}
