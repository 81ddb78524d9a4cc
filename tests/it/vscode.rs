//! The VS Code extension (editors/vscode) in real VS Code: code-server 4.139.1 on Node 24, driven through
//! Debian's Chromium by playwright-core (tests/it/editors/vscode.mjs), against the real binary, a scripted
//! OpenAI-compatible model and the real dockerd. `cargo xtask test` installs all of it (cached) and builds
//! the .vsix; a machine without them skips the test, except in CI, where that is a failure. Screenshots of
//! each stage land in target/vscode-screenshots/.

use std::path::PathBuf;
use std::process::Command;

use samokoder_test_utils::{Reply, ScriptedLlm, docker_available};
use serde_json::Value;

use crate::support::{Sandboxed, bin};

/// What the test needs, from `cargo xtask test` (its environment) or the default cache places.
struct Tools {
    node24: PathBuf,
    code_server: PathBuf,
    playwright: PathBuf,
    vsix: PathBuf,
    chromium: PathBuf,
}

fn tools() -> Option<Tools> {
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
    let cache = home.join(".cache/samokoder/editors");
    let var = |name: &str, default: PathBuf| std::env::var_os(name).map(PathBuf::from).unwrap_or(default);
    let tools = Tools {
        node24: var("SAMOKODER_NODE24", cache.join("node-24.22.3/bin/node")),
        code_server: var("SAMOKODER_CODE_SERVER", cache.join("code-server-4.139.1/node_modules/.bin/code-server")),
        playwright: var("SAMOKODER_PLAYWRIGHT", cache.join("playwright/node_modules/playwright-core")),
        vsix: var("SAMOKODER_VSIX", PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("editors/vscode/samokoder.vsix")),
        chromium: var("CHROMIUM", PathBuf::from("/usr/bin/chromium")),
    };
    let missing: Vec<String> = [&tools.node24, &tools.code_server, &tools.playwright, &tools.vsix, &tools.chromium]
        .into_iter()
        .filter(|p| !p.exists())
        .map(|p| p.display().to_string())
        .collect();
    if missing.is_empty() {
        return Some(tools);
    }
    assert!(std::env::var_os("CI").is_none(), "missing {missing:?}: `cargo xtask test` installs them");
    eprintln!("skipped: missing {missing:?}; `cargo xtask test` installs them");
    None
}

#[test]
fn vscode_generates_from_the_palette_shows_the_run_and_fixes_a_failing_test_from_a_quick_fix() {
    let Some(tools) = tools() else { return };
    if !docker_available() {
        return;
    }
    let mut routes = crate::pipeline::routes();
    routes.push(("you are the troubleshooter", Reply::text(crate::editors::FORMAT_FIX)));
    let llm = ScriptedLlm::routed(routes);
    let s = Sandboxed::new();
    let shots = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/vscode-screenshots");
    let _ = std::fs::remove_dir_all(&shots);
    std::fs::create_dir_all(&shots).unwrap();
    let result = s.home.path().join("editor-result.json");
    let path = format!("{}:{}", tools.node24.parent().unwrap().display(), std::env::var("PATH").unwrap_or_default());
    let status = Command::new("node")
        .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/it/editors/vscode.mjs"))
        .current_dir(s.root())
        .envs(s.env(Some(&llm)))
        .env("PATH", path)
        .env("SAMOKODER_BIN", bin())
        .env("SAMOKODER_WORKSPACE", s.root())
        .env("SAMOKODER_EDITOR_RESULT", &result)
        .env("SAMOKODER_SCREENSHOTS", &shots)
        .env("SAMOKODER_CODE_SERVER", &tools.code_server)
        .env("SAMOKODER_PLAYWRIGHT", &tools.playwright)
        .env("SAMOKODER_VSIX", &tools.vsix)
        .env("CHROMIUM", &tools.chromium)
        .env("SAMOKODER_LOG_FILE", s.home.path().join("server.log"))
        .status()
        .expect("node runs the driver");
    let text = std::fs::read_to_string(&result)
        .unwrap_or_else(|e| panic!("the driver ({status}) wrote no result at {}: {e}", result.display()));
    eprintln!("VS Code showed: {text}");
    let seen: Value = serde_json::from_str(&text).unwrap();
    if !seen["error"].is_null() {
        let log = std::fs::read_to_string(s.home.path().join("server.log")).unwrap_or_default();
        let tail: String =
            log.lines().rev().take(60).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n");
        let asked: Vec<String> =
            llm.requests().iter().map(|r| r.last_user_message().chars().take(80).collect()).collect();
        panic!("{seen:#}\nscreenshots: {}\nmodel asked: {asked:#?}\nserver log:\n{tail}", shots.display());
    }
    assert_eq!(seen["asked"], true, "{seen:#}");
    let during = seen["status_during"].as_str().unwrap();
    assert!(during.contains("Samokoder:") && during.contains("tokens"), "{during}");
    let explorer = seen["explorer"].as_str().unwrap();
    assert!(explorer.contains("src") && explorer.contains("package.json"), "{explorer}");
    assert!(seen["problem"].as_str().unwrap().contains("numbers lines"), "{seen:#}");
    assert!(seen["quick_fixes"].as_str().unwrap().contains("Samokoder: fix this"), "{seen:#}");
    // The fix landed in the editor's buffer (Monaco renders spaces as non-breaking ones).
    let fixed = seen["fixed"].as_str().unwrap().replace('\u{a0}', " ");
    assert!(fixed.contains("${i + 1}. ${t.title}"), "{fixed}");
}
