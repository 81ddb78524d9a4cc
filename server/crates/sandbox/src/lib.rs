//! Where generated code runs: a hardened, warm Docker container per workspace, reached through bollard.
//!
//! The container has no network, no capabilities, no new privileges, a read-only root filesystem, a
//! non-root user, memory/CPU/pids limits, and no Docker socket or host path mounted. The workspace is sent
//! in as a tar stream (the disk overlaid with the editor's unsaved buffers), commands run with a wall-clock
//! timeout and an output cap, and test output is parsed into structured failures.
//!
//! This is the only crate that uses bollard. It must never mount a host path or the Docker socket into a
//! container, and never run generated code on the host.

mod docker;
mod files;
mod output;
mod results;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;

pub use docker::DockerSandbox;
pub use files::{WorkspaceFile, collect_files};
pub use output::CappedOutput;
pub use results::{TestFailure, TestReport, parse_test_output};

/// The product's default image: a real, small Node image. Tests use a locally built one.
pub const DEFAULT_IMAGE: &str = "node:22-bookworm-slim";
/// The default test command of the skeleton's template.
pub const DEFAULT_TEST_COMMAND: &str = "node --test";
/// Where the workspace lives inside the container.
pub const WORKDIR: &str = "/workspace";

#[derive(Debug, Clone, PartialEq)]
pub struct SandboxConfig {
    pub image: String,
    /// Memory limit in bytes (swap is not allowed on top).
    pub memory_bytes: i64,
    /// CPUs, fractional allowed.
    pub cpus: f64,
    pub pids_limit: i64,
    /// The container user (`uid:gid`); never root.
    pub user: String,
    /// Size of the in-memory workspace volume, in bytes.
    pub workspace_bytes: u64,
    pub output_cap_bytes: usize,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            image: DEFAULT_IMAGE.into(),
            memory_bytes: 1024 * 1024 * 1024,
            cpus: 1.0,
            pids_limit: 256,
            user: "1000:1000".into(),
            workspace_bytes: 1024 * 1024 * 1024,
            output_cap_bytes: 1024 * 1024,
        }
    }
}

/// One command to run on the current workspace.
#[derive(Debug, Clone)]
pub struct RunRequest<'a> {
    pub root: &'a Path,
    /// Workspace-relative path -> content the editor holds (unsaved buffers, accepted edits).
    pub overlay: &'a BTreeMap<String, String>,
    /// A shell command line, run with `sh -c` in the workspace directory.
    pub command: &'a str,
    pub timeout: Duration,
}

/// What a command did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecResult {
    /// `None` when the command was killed (timeout) before it exited.
    pub exit_code: Option<i64>,
    /// stdout and stderr interleaved as they arrived, capped (head and tail kept).
    pub output: String,
    pub timed_out: bool,
    /// Bytes of output dropped by the cap.
    pub dropped_bytes: u64,
    pub duration: Duration,
    /// Files sent into the container for this command.
    pub synced_files: usize,
}

impl ExecResult {
    pub fn success(&self) -> bool {
        self.exit_code == Some(0)
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

    /// Removes what this sandbox created (containers, volumes). Idempotent.
    async fn shutdown(&self);
}
