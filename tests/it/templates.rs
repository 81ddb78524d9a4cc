//! Each template, for real: rendered, installed from the npm registry in the sandbox's network step (with
//! the host's CA bundle), and its own tests green in the warm container, without a database server.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use samokoder_prompts::{ProjectVars, template};
use samokoder_sandbox::{DockerSandbox, Location, RunRequest, Sandbox, SandboxConfig, WORKDIR, parse_test_output};
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

async fn installs_and_passes(name: &str, options: &[(&str, &str)]) {
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
    sb.shutdown().await;
}

#[tokio::test]
async fn vite_react_installs_and_its_tests_pass() {
    installs_and_passes("vite-react", &[]).await;
}

#[tokio::test]
async fn node_express_mongoose_installs_and_its_tests_pass_without_a_database() {
    installs_and_passes("node-express-mongoose", &[]).await;
}

#[tokio::test]
async fn react_express_with_mongoose_and_auth_installs_and_its_tests_pass() {
    installs_and_passes("react-express", &[("database", "mongoose"), ("auth", "yes")]).await;
}
