//! Where generated code runs: a hardened, warm Docker container per workspace, reached through bollard.
//!
//! The container has no network, no capabilities, no new privileges, a read-only root filesystem, a
//! non-root user, memory/CPU/pids limits, and no Docker socket or host path mounted. The workspace is sent
//! in as a tar stream (the disk overlaid with the editor's unsaved buffers), commands run with a wall-clock
//! timeout and an output cap, and test output is parsed into structured failures.
//!
//! This is the only crate that uses bollard. It must never mount a host path or the Docker socket into a
//! container, and never run generated code on the host.

mod agent;
mod app;
mod cleanup;
mod docker;
mod exec;
mod files;
mod forward;
mod network;
mod output;
mod results;
mod sync;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;

pub use app::{App, AppRequest};
pub use docker::{DockerSandbox, LABEL};
pub use files::{WalkedFile, WorkspaceFile, collect_files, walk_workspace};
pub use forward::Forward;
pub use output::CappedOutput;
pub use results::{Location, TestFailure, TestReport, parse_test_output};
pub use sync::SyncPlan;

/// The product's default image: a real, small Node image. Tests use a locally built one.
pub const DEFAULT_IMAGE: &str = "node:22-bookworm-slim";
/// The image `cargo xtask setup` builds from the host's own node, where no registry can be reached.
pub const LOCAL_IMAGE: &str = "samokoder-test-node:latest";
/// The default test command of the skeleton's template.
pub const DEFAULT_TEST_COMMAND: &str = "node --test";
/// Where the workspace lives inside the container.
pub const WORKDIR: &str = "/workspace";

#[derive(Debug, Clone, PartialEq)]
pub struct SandboxConfig {
    pub image: String,
    /// A local image to use when `image` is neither here nor pullable (set only when the user chose no
    /// image: the one `cargo xtask setup` builds); its use is said.
    pub fallback_image: Option<String>,
    /// Memory limit in bytes (swap is not allowed on top).
    pub memory_bytes: i64,
    /// CPUs, fractional allowed.
    pub cpus: f64,
    pub pids_limit: i64,
    /// The user commands run as (`uid:gid`); never root.
    pub user: String,
    /// Size of the in-memory workspace volume, in bytes.
    pub workspace_bytes: u64,
    /// Output kept per command (head and tail) and streamed to the caller.
    pub output_cap_bytes: usize,
    /// The warm container is removed after this long without a command.
    pub idle_stop: Duration,
    /// The Docker network of steps that need one (installs): `bridge`, `host`, or a network's name.
    pub network: String,
    /// A CA bundle (PEM) given to steps that use the network, for registries behind an intercepting proxy.
    pub ca_bundle: Option<PathBuf>,
    /// Directories normally left out of the sync (node_modules, dist, build, ...) to send anyway.
    pub sync_include: Vec<String>,
    /// The Docker engine (`unix:///var/run/docker.sock`, `tcp://host:2375`); `DOCKER_HOST` when `None`.
    pub docker_host: Option<String>,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            image: DEFAULT_IMAGE.into(),
            fallback_image: None,
            memory_bytes: 1024 * 1024 * 1024,
            cpus: 1.0,
            pids_limit: 256,
            user: "1000:1000".into(),
            workspace_bytes: 1024 * 1024 * 1024,
            output_cap_bytes: 1024 * 1024,
            idle_stop: Duration::from_secs(15 * 60),
            network: "bridge".into(),
            ca_bundle: None,
            sync_include: Vec::new(),
            docker_host: None,
        }
    }
}

/// One command to run on the current workspace.
#[derive(Debug, Clone)]
pub struct RunRequest<'a> {
    pub root: &'a Path,
    /// Workspace-relative path -> content the editor holds (unsaved buffers, accepted edits).
    pub overlay: &'a BTreeMap<String, String>,
    /// A shell command line, run with `sh -c`.
    pub command: &'a str,
    /// Workspace-relative working directory; the workspace root when `None`.
    pub cwd: Option<&'a str>,
    /// Extra environment variables.
    pub env: &'a [(String, String)],
    /// Wall-clock limit.
    pub timeout: Duration,
    /// Killed when it prints nothing for this long.
    pub idle_timeout: Option<Duration>,
    /// Run in a short-lived container on the configured network (installing dependencies), sharing the
    /// workspace; everything else runs in the warm container without network.
    pub network: bool,
    /// The run this command belongs to (a label on the containers it creates).
    pub run_id: Option<&'a str>,
}

impl<'a> RunRequest<'a> {
    pub fn new(root: &'a Path, overlay: &'a BTreeMap<String, String>, command: &'a str, timeout: Duration) -> Self {
        Self { root, overlay, command, cwd: None, env: &[], timeout, idle_timeout: None, network: false, run_id: None }
    }
}

/// What a command did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecResult {
    /// `None` when the command was killed (timeout) before it exited.
    pub exit_code: Option<i64>,
    /// stdout and stderr interleaved as they arrived, capped (head and tail kept).
    pub output: String,
    /// Killed at the wall-clock limit, or for printing nothing for too long (then `idle_timed_out` too).
    pub timed_out: bool,
    pub idle_timed_out: bool,
    /// A process of the command (the command itself or a child, such as a test runner's worker) was killed
    /// by the kernel for using more memory than the container's limit.
    pub oom_killed: bool,
    /// The container's memory limit, for the message.
    pub memory_limit_mb: u64,
    /// Bytes of output dropped by the cap.
    pub dropped_bytes: u64,
    pub duration: Duration,
    /// Files sent into the container for this command (0 when nothing changed since the last one).
    pub synced_files: usize,
}

impl ExecResult {
    pub fn success(&self) -> bool {
        self.exit_code == Some(0)
    }

    /// Why the command did not finish normally, in words that say what to do, if it did not.
    pub fn abnormal_end(&self) -> Option<String> {
        if self.oom_killed {
            Some(format!(
                "killed: out of memory (limit {} MB; raise samokoder.sandbox.memoryMb if the project needs more)",
                self.memory_limit_mb
            ))
        } else if self.idle_timed_out {
            Some("killed: it printed nothing for too long, a hang? (samokoder.sandbox.noOutputSecs)".to_owned())
        } else if self.timed_out {
            Some("killed: it ran past its time limit (samokoder.sandbox.timeoutSecs)".to_owned())
        } else {
            None
        }
    }
}

/// The state of the sandbox's dependencies, for `samokoder doctor`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    pub endpoint: String,
    pub api_version: String,
    pub server_version: String,
    pub image: String,
    pub image_present: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error(
        "cannot reach the Docker daemon at {endpoint}: {message}; start Docker (`sudo systemctl start docker`, or \
         `dockerd &`) or set DOCKER_HOST to a running engine"
    )]
    Unreachable { endpoint: String, message: String },
    #[error(
        "the sandbox image `{image}` is not available and could not be pulled ({message}); run `docker pull {image}`, \
         build it locally, or set SAMOKODER_SANDBOX_IMAGE (samokoder.sandbox.image) to an image you have"
    )]
    ImageUnavailable { image: String, message: String },
    #[error("docker {action} failed: {message}")]
    Docker { action: &'static str, message: String },
    #[error("could not read the workspace at {path}: {message}")]
    Workspace { path: String, message: String },
    #[error("syncing the workspace into the container failed: {message}")]
    Sync { message: String },
    /// The app did not come up (`samokoder run`): why, with its last output.
    #[error("{message}")]
    App { message: String },
}

pub type Result<T, E = SandboxError> = std::result::Result<T, E>;

/// Runs commands on a copy of the workspace, away from the host.
#[async_trait]
pub trait Sandbox: Send + Sync {
    /// Syncs the workspace into the sandbox and runs the command there; `on_output` sees output as it
    /// arrives. Calls are serialised: each command runs on the files of its own sync.
    async fn run(
        &self,
        request: RunRequest<'_>,
        on_output: &(dyn for<'s> Fn(&'s str) + Send + Sync),
    ) -> Result<ExecResult>;

    /// Checks the daemon and the image without creating anything.
    async fn health(&self) -> Result<Health>;

    /// What every command needs, made ready before a run spends anything: the daemon answers and the image
    /// is here (pulled when it is not; the pull's progress to `on_output`). The error says what to do.
    async fn prepare(&self, on_output: &(dyn for<'s> Fn(&'s str) + Send + Sync)) -> Result<()> {
        let _ = on_output;
        Ok(())
    }

    /// Removes what this sandbox created (containers, volumes). Idempotent.
    async fn shutdown(&self);
}

/// `at` plus `wait`, or a century on when that overflows: a library's caller may pass `Duration::MAX` for "no
/// limit", and `Instant + Duration` panics past the clock's range.
pub(crate) fn later(at: tokio::time::Instant, wait: Duration) -> tokio::time::Instant {
    const CENTURY: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);
    at.checked_add(wait).unwrap_or_else(|| at + CENTURY)
}
