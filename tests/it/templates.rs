//! Each template, for real: rendered, installed from the npm registry in the sandbox's network step (with
//! the host's CA bundle), its own tests green in the warm container, without a database server, and its dev
//! command answering HTTP 200 through `samokoder run`'s forwarded port.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use samokoder_prompts::{ProjectVars, template};
use samokoder_sandbox::{
    AppRequest, DockerSandbox, Location, RunRequest, Sandbox, SandboxConfig, WORKDIR, parse_test_output,
};
use samokoder_test_utils::{docker_available, test_image};

const CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

fn sandbox(dir: &Path) -> DockerSandbox {
    let ca_bundle = Path::new(CA_BUNDLE).exists().then(|| CA_BUNDLE.into());
    let config = SandboxConfig {
        image: test_image(),
        network: "host".into(),
        ca_bundle,
        memory_bytes: 2 * 1024 * 1024 * 1024,
        cpus: 2.0,
        pids_limit: 1024,
        ..Default::default()
    };
    DockerSandbox::new(config, dir)
}

async fn installs_and_passes(name: &str, options: &[(&str, &str)], page: &str) {
    if !docker_available() {
        return;
    }
    let t = template(name).unwrap();
    let options: BTreeMap<String, String> = options.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let dir = tempfile::tempdir().unwrap();
    for file in t.render(&ProjectVars::new("demo-app", "a demo"), &options).unwrap() {
        let path = dir.path().join(&file.path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, &file.content).unwrap();
    }
    let sb = sandbox(dir.path());
    let overlay = BTreeMap::new();
    let started = Instant::now();
    let mut install = RunRequest::new(dir.path(), &overlay, &t.install, Duration::from_secs(600));
    install.network = true;
    let installed = sb.run(install, &|_| {}).await.unwrap();
    assert!(installed.success(), "{name}: `{}` failed:\n{}", t.install, installed.output);
    let install_secs = started.elapsed().as_secs_f64();

    let started = Instant::now();
    let tested =
        sb.run(RunRequest::new(dir.path(), &overlay, &t.test, Duration::from_secs(300)), &|_| {}).await.unwrap();
    let report = parse_test_output(&tested.output, Location { root: WORKDIR, cwd: "" });
    assert!(tested.success(), "{name} {options:?}: `{}` failed:\n{}", t.test, tested.output);
    assert!(report.passed > 0 && report.failed == 0, "{name}: the tests ran and passed: {report:?}\n{}", tested.output);
    eprintln!(
        "{name} {options:?}: install {install_secs:.1} s, `{}` {:.1} s, {} passed",
        t.test,
        started.elapsed().as_secs_f64(),
        report.passed
    );

    // `samokoder run`'s half in the sandbox: the dev command on its declared port, an HTTP 200 through the
    // forwarded port, and nothing left once stopped.
    let output = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let sink = output.clone();
    let request = AppRequest {
        root: dir.path(),
        overlay: &overlay,
        command: &t.dev,
        cwd: None,
        port: t.port,
        env: &[],
        start_timeout: Duration::from_secs(120),
    };
    let started = Instant::now();
    let app = sb.start_app(request, std::sync::Arc::new(move |s: &str| sink.lock().unwrap().push_str(s))).await;
    let app = app.unwrap_or_else(|e| panic!("{name}: `{}` did not start: {e}", t.dev));
    let status = loop {
        let status = status_of(app.host_port, page).await;
        // The listener may come up before the app answers (Vite's first request builds): a bound, not a speed.
        if status.starts_with("HTTP/1.1 200") || started.elapsed() > Duration::from_secs(60) {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        status.starts_with("HTTP/1.1 200"),
        "{name}: GET {page} gave `{status}`; the app said:\n{}",
        output.lock().unwrap()
    );
    eprintln!(
        "{name}: `{}` answered 200 on {page} {:.1} s after its start; the app said: {}",
        t.dev,
        started.elapsed().as_secs_f64(),
        output
            .lock()
            .unwrap()
            .lines()
            .filter(|l| l.contains("ready in") || l.contains("listening"))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    let port = app.host_port;
    app.stop().await;
    assert!(tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err(), "{name}: stopped");
    sb.shutdown().await;
}

/// The status line of `GET path` through the forwarded port (empty when nothing answered).
async fn status_of(port: u16, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(mut stream) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else { return String::new() };
    let request = format!("GET {path} HTTP/1.0\r\nhost: localhost\r\n\r\n");
    if stream.write_all(request.as_bytes()).await.is_err() {
        return String::new();
    }
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    String::from_utf8_lossy(&response).lines().next().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn vite_react_installs_and_its_tests_pass() {
    installs_and_passes("vite-react", &[], "/").await;
}

#[tokio::test]
async fn node_express_mongoose_installs_and_its_tests_pass_without_a_database() {
    installs_and_passes("node-express-mongoose", &[], "/health").await;
}

#[tokio::test]
async fn react_express_with_mongoose_and_auth_installs_and_its_tests_pass() {
    installs_and_passes("react-express", &[("database", "mongoose"), ("auth", "yes")], "/").await;
}
