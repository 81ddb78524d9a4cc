//! `samokoder run`'s sandbox half against the real daemon: the app in its own hardened container, reached
//! through a host port forwarded over the Docker API.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use samokoder_sandbox::{AppRequest, DockerSandbox, RunRequest, Sandbox, SandboxConfig, SandboxError};
use samokoder_test_utils::{docker_available, test_image, write_fixture};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SERVER: &str = r#"
//- /package.json
{"type": "module"}
//- /public/message.txt
first
//- /server.js
import http from 'node:http';
import fs from 'node:fs';

const big = Buffer.alloc(20 * 1024 * 1024, 'x');
http.createServer((req, res) => {
  if (req.url === '/big') {
    res.writeHead(200, { 'content-length': big.length });
    res.end(big);
    return;
  }
  if (req.method === 'POST') {
    let n = 0;
    req.on('data', (d) => { n += d.length; });
    req.on('end', () => res.end(`got ${n} bytes`));
    return;
  }
  res.end(fs.readFileSync('public/message.txt', 'utf8'));
}).listen(Number(process.env.PORT), () => console.log(`listening on ${process.env.PORT}`));
"#;

fn config() -> SandboxConfig {
    SandboxConfig { image: test_image(), ..Default::default() }
}

fn request<'a>(dir: &'a std::path::Path, overlay: &'a BTreeMap<String, String>, command: &'a str) -> AppRequest<'a> {
    AppRequest {
        root: dir,
        overlay,
        command,
        cwd: None,
        port: Some(4321),
        env: &[],
        start_timeout: Duration::from_secs(30),
    }
}

/// One HTTP/1.0 exchange through the forwarded port: the status line and the body.
async fn http(port: u16, method: &str, path: &str, body: &[u8]) -> (String, Vec<u8>) {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let head = format!("{method} {path} HTTP/1.0\r\nhost: localhost\r\ncontent-length: {}\r\n\r\n", body.len());
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").expect("an HTTP response") + 4;
    let status = String::from_utf8_lossy(&response[..split]).lines().next().unwrap_or_default().to_owned();
    (status, response[split..].to_vec())
}

/// How many processes of the container `name` have a command line that starts with `pattern`.
fn processes(name: &str, pattern: &str) -> usize {
    // `[x]yz`: grep must not count itself.
    let pattern = format!("^[{}]{}", &pattern[..1], &pattern[1..]);
    let out = std::process::Command::new("docker")
        .args(["exec", name, "sh", "-c", &format!("ps -o args | grep -c '{pattern}' || true")])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or(0)
}

/// The message of the App error `what` must give.
fn app_error(result: Result<samokoder_sandbox::App, SandboxError>, what: &str) -> String {
    match result {
        Err(SandboxError::App { message }) => message,
        Err(other) => panic!("{what} is an App error, not {other}"),
        Ok(app) => panic!("{what} is an error, but it listens on {}", app.port),
    }
}

fn container_exists(name: &str) -> bool {
    std::process::Command::new("docker").args(["inspect", name]).output().unwrap().status.success()
}

#[tokio::test]
async fn the_app_answers_on_the_host_sees_edits_takes_a_crowd_and_a_large_body_and_stops() {
    if !docker_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    write_fixture(dir.path(), SERVER);
    let sb = DockerSandbox::new(config(), dir.path());
    let output = Arc::new(parking_lot::Mutex::new(String::new()));
    let sink = output.clone();
    let overlay = BTreeMap::new();
    // The dev command forks a daemon: it goes with the app's container.
    let command = "(sleep 100000 &); node server.js";
    let app = sb
        .start_app(request(dir.path(), &overlay, command), Arc::new(move |s: &str| sink.lock().push_str(s)))
        .await
        .unwrap();
    assert_eq!(app.port, 4321);
    assert_eq!(app.url, format!("http://127.0.0.1:{}/", app.host_port));

    let (status, body) = http(app.host_port, "GET", "/", b"").await;
    assert_eq!((status.as_str(), body.as_slice()), ("HTTP/1.1 200 OK", b"first\n".as_slice()));

    // An edit on disk reaches the running app with the next sync.
    std::fs::write(dir.path().join("public/message.txt"), "second\n").unwrap();
    sb.run(RunRequest::new(dir.path(), &overlay, "true", Duration::from_secs(60)), &|_| {}).await.unwrap();
    assert_eq!(http(app.host_port, "GET", "/", b"").await.1, b"second\n");

    // A hundred at once, as a dev server's page asks for its modules.
    let crowd: Vec<_> = (0..100).map(|_| tokio::spawn(http(app.host_port, "GET", "/", b""))).collect();
    for request in crowd {
        assert_eq!(request.await.unwrap().1, b"second\n");
    }
    // Large bodies both ways arrive whole.
    let (_, big) = http(app.host_port, "GET", "/big", b"").await;
    assert_eq!(big.len(), 20 * 1024 * 1024);
    assert!(big.iter().all(|&b| b == b'x'));
    let upload = vec![b'y'; 5 * 1024 * 1024];
    assert_eq!(http(app.host_port, "POST", "/", &upload).await.1, format!("got {} bytes", upload.len()).as_bytes());

    assert!(output.lock().contains("listening on 4321"), "{}", output.lock());
    let name = format!("{}-app", sb.container_name());
    assert!(container_exists(&name));
    assert_eq!(processes(&name, "sleep 100000"), 1, "the daemon runs in the app's container");
    // A second start of the same workspace's app replaces the first, and says so.
    let again = Arc::new(parking_lot::Mutex::new(String::new()));
    let sink = again.clone();
    let second = sb
        .start_app(request(dir.path(), &overlay, command), Arc::new(move |s: &str| sink.lock().push_str(s)))
        .await
        .unwrap();
    assert!(again.lock().contains("the app already running for this workspace is stopped"), "{}", again.lock());
    let first_port = app.host_port;
    drop(app); // its container went with the second start; dropping its handle must not touch the second's
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(http(second.host_port, "GET", "/", b"").await.1, b"second\n");
    let port = second.host_port;
    second.stop().await;
    assert!(!container_exists(&name), "the app's container is removed, and the daemon with it");
    for port in [first_port, port] {
        assert!(tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err(), "nothing listens on {port}");
    }
    sb.shutdown().await;
}

#[tokio::test]
async fn a_host_port_already_taken_gets_another() {
    if !docker_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    write_fixture(dir.path(), SERVER);
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let sb = DockerSandbox::new(config(), dir.path());
    let overlay = BTreeMap::new();
    let mut wanted = request(dir.path(), &overlay, "node server.js");
    wanted.port = Some(port);
    let app = sb.start_app(wanted, Arc::new(|_: &str| {})).await.unwrap();
    assert_eq!(app.port, port);
    assert_ne!(app.host_port, port);
    assert_eq!(http(app.host_port, "GET", "/", b"").await.1, b"first\n");
    app.stop().await;
    sb.shutdown().await;
}

#[tokio::test]
async fn an_app_that_exits_at_once_or_never_listens_says_so_with_its_command_and_output() {
    if !docker_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    write_fixture(dir.path(), SERVER);
    let sb = DockerSandbox::new(config(), dir.path());
    let overlay = BTreeMap::new();
    let quits = request(dir.path(), &overlay, "echo 'cannot find module express'; exit 3");
    let message = app_error(sb.start_app(quits, Arc::new(|_: &str| {})).await, "an app that exits");
    assert!(message.contains("exited (code 3)") && message.contains("cannot find module express"), "{message}");

    let mut idle = request(dir.path(), &overlay, "echo 'waiting for nothing'; sleep 600");
    idle.start_timeout = Duration::from_secs(2);
    let message = app_error(sb.start_app(idle, Arc::new(|_: &str| {})).await, "an app that never listens");
    assert!(
        message.contains("did not listen on port 4321 within 2 s")
            && message.contains("sleep 600")
            && message.contains("waiting for nothing"),
        "{message}"
    );
    // Either way, nothing is left running: the container is removed before the error is reported.
    assert!(!container_exists(&format!("{}-app", sb.container_name())));
    sb.shutdown().await;
}

#[tokio::test]
async fn with_no_port_declared_the_first_the_app_listens_on_is_forwarded() {
    if !docker_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    write_fixture(dir.path(), SERVER);
    let sb = DockerSandbox::new(config(), dir.path());
    let overlay = BTreeMap::new();
    let mut any = request(dir.path(), &overlay, "PORT=8123 node server.js");
    any.port = None;
    let app = sb.start_app(any, Arc::new(|_: &str| {})).await.unwrap();
    assert_eq!(app.port, 8123);
    assert_eq!(http(app.host_port, "GET", "/", b"").await.1, b"first\n");
    app.stop().await;
    sb.shutdown().await;
}
