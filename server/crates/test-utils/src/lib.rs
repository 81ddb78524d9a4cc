//! Test support shared by the crates' tests and `tests/it`: multi-file fixtures, a scripted LLM that speaks
//! the real wire formats over real HTTP on 127.0.0.1, and an LSP client that drives the real binary over
//! stdio. Never a dependency of the product: only `[dev-dependencies]` name this crate.

mod fixture;
mod llm_server;
mod lsp_client;

pub use fixture::{Fixture, write_fixture};
pub use llm_server::{RecordedRequest, Reply, ScriptedLlm, Style};
pub use lsp_client::{ApplyMode, ClientOptions, LspClient};

/// Whether tests run in CI (`CI=true`), where a missing dependency (Docker) is a failure, never a skip.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// SmolLM2-135M-Instruct, the smallest honest model, for the local-model tests: `SAMOKODER_TEST_GGUF`, else
/// where `scripts/fetch-model.sh smollm2` puts it. `None` (the test skips, loudly) when it is missing outside
/// CI; in CI a missing model fails the test.
pub fn smollm2() -> Option<std::path::PathBuf> {
    if let Ok(path) = std::env::var("SAMOKODER_TEST_GGUF") {
        return Some(path.into());
    }
    let cache = std::env::var("XDG_CACHE_HOME")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| std::path::PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache"));
    let path = cache.join("samokoder/models/smollm2-135m-instruct-q4_1.gguf");
    if path.is_file() {
        return Some(path);
    }
    let hint = "the local-model tests need SmolLM2: run `cargo xtask setup` (or `scripts/fetch-model.sh smollm2`)";
    assert!(!in_ci(), "{hint}");
    eprintln!("SKIPPED: {hint}");
    None
}

/// The locally built sandbox image the tests use (scripts/build-test-image.sh builds it).
pub fn test_image() -> String {
    std::env::var("SAMOKODER_TEST_IMAGE").unwrap_or_else(|_| "samokoder-test-node:latest".to_owned())
}

/// The environment of a server that must touch nothing of the user's: its home, config and data under
/// `home`, the test image as its sandbox, and with `llm`, that scripted model as its provider.
pub fn isolated_env(home: &std::path::Path, llm: Option<&ScriptedLlm>) -> Vec<(String, String)> {
    let mut env = vec![
        ("HOME".to_owned(), home.display().to_string()),
        ("XDG_CONFIG_HOME".to_owned(), home.join("config").display().to_string()),
        ("XDG_DATA_HOME".to_owned(), home.join("data").display().to_string()),
        ("SAMOKODER_SANDBOX_IMAGE".to_owned(), test_image()),
    ];
    if let Some(llm) = llm {
        env.push(("OPENAI_BASE_URL".to_owned(), llm.base_url()));
        env.push(("OPENAI_API_KEY".to_owned(), "sk-test".to_owned()));
        env.push(("SAMOKODER_MODEL".to_owned(), "scripted-model".to_owned()));
    }
    env
}

/// How many processes whose command line holds `pattern` run in the warm sandbox container of `workspace`
/// (0 when it has none): a test's look inside the container, with `docker exec ... ps`.
pub fn sandbox_processes(workspace: &std::path::Path, pattern: &str) -> usize {
    let label = format!("label=dev.samokoder.workspace={}", workspace.display());
    let Ok(ps) = std::process::Command::new("docker").args(["ps", "-q", "--filter", &label]).output() else { return 0 };
    let id = String::from_utf8_lossy(&ps.stdout).lines().next().unwrap_or_default().to_owned();
    if id.is_empty() {
        return 0;
    }
    // `[x]yz`: grep must not count itself.
    let mut chars = pattern.chars();
    let first = chars.next().map(|c| format!("[{c}]")).unwrap_or_default();
    let count = format!("ps -o args | grep -c '{first}{}' || true", chars.as_str());
    let Ok(out) = std::process::Command::new("docker").args(["exec", &id, "sh", "-c", &count]).output() else {
        return 0;
    };
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or(0)
}

/// Whether the Docker daemon answers. When it does not, this fails the test with how to start it,
/// unless `SAMOKODER_SKIP_DOCKER=1` is set outside CI, which skips loudly (never in CI).
pub fn docker_available() -> bool {
    let ok = std::process::Command::new("docker")
        .args(["version", "--format", "{{.Server.APIVersion}}"])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        return true;
    }
    let skip = std::env::var("SAMOKODER_SKIP_DOCKER").is_ok_and(|v| v == "1");
    if skip && !in_ci() {
        eprintln!("SKIPPED: no Docker daemon and SAMOKODER_SKIP_DOCKER=1; this test did not run");
        return false;
    }
    panic!(
        "this test needs a Docker daemon and none answers: run `cargo xtask setup`, which starts one and builds \
         the test image (or start one yourself: `sudo systemctl start docker`, then `scripts/build-test-image.sh`); outside CI, SAMOKODER_SKIP_DOCKER=1 skips these tests"
    )
}
