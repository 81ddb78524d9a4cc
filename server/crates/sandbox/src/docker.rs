//! [`DockerSandbox`]: one warm, hardened container per workspace, created on first use and reused.
//!
//! Commands run as the configured user (1000 by default) through `docker exec`; the container's own
//! process (an init that reaps, keeping a `sleep` alive) runs as `nobody`. So killing a command is
//! `kill -9 -1` as the command's user: every process of that user dies, however it daemonised, and the
//! container lives on.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bollard::Docker;
use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::models::{ContainerCreateBody, HostConfig, Mount, MountType, VolumeCreateRequest};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, CreateImageOptionsBuilder, ListContainersOptionsBuilder,
    RemoveContainerOptionsBuilder, RemoveVolumeOptionsBuilder,
};
use futures::StreamExt;
use tokio::io::AsyncWriteExt;

use crate::files::{collect_files, tar};
use crate::output::CappedOutput;
use crate::{ExecResult, Health, Result, RunRequest, Sandbox, SandboxConfig, SandboxError, WORKDIR};

/// Label on everything we create, so leftovers can be found and removed.
pub const LABEL: &str = "dev.samokoder";
const LABEL_WORKSPACE: &str = "dev.samokoder.workspace";
/// `<pid>:<start time>` of the server that created it: alive only while that very process is.
const LABEL_OWNER: &str = "dev.samokoder.owner";
/// The host of that server: owners are only judged on the host they ran on.
const LABEL_HOST: &str = "dev.samokoder.host";
/// The container's own process runs as nobody, out of reach of `kill -1` by the command user.
const KEEPER_USER: &str = "65534:65534";

pub struct DockerSandbox {
    config: SandboxConfig,
    root: PathBuf,
    /// Stable per workspace: names the container and its volume.
    key: String,
    state: Arc<tokio::sync::Mutex<State>>,
    /// An exec was abandoned while its process ran (its run was cancelled): whoever next holds `state`
    /// kills the command user's processes before anything else.
    orphaned: Arc<AtomicBool>,
}

#[derive(Default)]
struct State {
    docker: Option<Docker>,
    container: Option<String>,
    volume: Option<String>,
}

impl DockerSandbox {
    pub fn new(config: SandboxConfig, workspace_root: &Path) -> Self {
        let key = format!("{:016x}", fnv1a(workspace_root.to_string_lossy().as_bytes()));
        Self { config, root: workspace_root.to_owned(), key, state: Arc::default(), orphaned: Arc::default() }
    }

    pub fn config(&self) -> &SandboxConfig {
        &self.config
    }

    /// The container's name (`samokoder-<hash of the workspace path>`).
    pub fn container_name(&self) -> String {
        format!("samokoder-{}", self.key)
    }

    fn endpoint() -> String {
        std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".to_owned())
    }

    async fn connect(state: &mut State) -> Result<Docker> {
        if let Some(docker) = &state.docker {
            return Ok(docker.clone());
        }
        let unreachable = |message: String| SandboxError::Unreachable { endpoint: Self::endpoint(), message };
        let docker = Docker::connect_with_defaults().map_err(|e| unreachable(e.to_string()))?;
        let docker = tokio::time::timeout(Duration::from_secs(10), docker.negotiate_version())
            .await
            .map_err(|_| unreachable("no answer within 10 s".into()))?
            .map_err(|e| unreachable(e.to_string()))?;
        state.docker = Some(docker.clone());
        Ok(docker)
    }

    async fn ensure_image(&self, docker: &Docker) -> Result<()> {
        let image = &self.config.image;
        if docker.inspect_image(image).await.is_ok() {
            return Ok(());
        }
        tracing::info!(%image, "pulling the sandbox image");
        let options = CreateImageOptionsBuilder::default().from_image(image).build();
        let mut pull = docker.create_image(Some(options), None, None);
        while let Some(progress) = pull.next().await {
            match progress {
                Ok(info) => {
                    tracing::debug!(status = ?info.status, detail = ?info.progress_detail, "pull")
                }
                Err(e) => {
                    return Err(SandboxError::ImageUnavailable { image: image.clone(), message: e.to_string() });
                }
            }
        }
        docker
            .inspect_image(image)
            .await
            .map(|_| ())
            .map_err(|e| SandboxError::ImageUnavailable { image: image.clone(), message: e.to_string() })
    }

    fn labels(&self) -> HashMap<String, String> {
        HashMap::from([
            (LABEL.to_owned(), "1".to_owned()),
            (LABEL_WORKSPACE.to_owned(), self.root.display().to_string()),
            (LABEL_OWNER.to_owned(), process_identity(std::process::id()).unwrap_or_default()),
            (LABEL_HOST.to_owned(), hostname()),
        ])
    }

    /// The warm container, created (with its volume) on first use, restarted if it stopped.
    async fn ensure_container(&self, state: &mut State) -> Result<(Docker, String)> {
        let docker = Self::connect(state).await?;
        if let Some(id) = &state.container {
            match docker.inspect_container(id, None).await {
                Ok(info) if info.state.as_ref().and_then(|s| s.running).unwrap_or(false) => {
                    return Ok((docker, id.clone()));
                }
                Ok(_) => {
                    docker
                        .start_container(id, None)
                        .await
                        .map_err(|e| SandboxError::Docker { action: "start", message: e.to_string() })?;
                    return Ok((docker, id.clone()));
                }
                Err(_) => state.container = None,
            }
        }
        self.ensure_image(&docker).await?;
        if let Err(e) = remove_leftovers(&docker).await {
            tracing::warn!(error = %e, "could not look for leftover sandbox containers");
        }
        let name = self.container_name();
        // A container of this name is a leftover of an earlier server for this workspace.
        let _ =
            docker.remove_container(&name, Some(RemoveContainerOptionsBuilder::default().force(true).build())).await;

        let volume = format!("{name}-ws");
        let (uid, gid) = self.config.user.split_once(':').unwrap_or((&self.config.user, &self.config.user));
        // An in-memory volume owned by the command user: writable by it although the root filesystem is
        // read-only and no capability (CHOWN) is left to fix ownership from inside.
        let _ = docker.remove_volume(&volume, Some(RemoveVolumeOptionsBuilder::default().force(true).build())).await;
        docker
            .create_volume(VolumeCreateRequest {
                name: Some(volume.clone()),
                driver: Some("local".into()),
                driver_opts: Some(HashMap::from([
                    ("type".to_owned(), "tmpfs".to_owned()),
                    ("device".to_owned(), "tmpfs".to_owned()),
                    ("o".to_owned(), format!("size={},uid={uid},gid={gid},mode=0755", self.config.workspace_bytes)),
                ])),
                labels: Some(self.labels()),
                ..Default::default()
            })
            .await
            .map_err(|e| SandboxError::Docker { action: "create volume", message: e.to_string() })?;
        state.volume = Some(volume.clone());

        let host_config = HostConfig {
            network_mode: Some("none".into()),
            cap_drop: Some(vec!["ALL".into()]),
            security_opt: Some(vec!["no-new-privileges:true".into()]),
            readonly_rootfs: Some(true),
            tmpfs: Some(HashMap::from([("/tmp".to_owned(), "rw,nosuid,nodev,size=268435456,mode=1777".to_owned())])),
            mounts: Some(vec![Mount {
                target: Some(WORKDIR.into()),
                source: Some(volume.clone()),
                typ: Some(MountType::VOLUME),
                ..Default::default()
            }]),
            memory: Some(self.config.memory_bytes),
            memory_swap: Some(self.config.memory_bytes),
            nano_cpus: Some((self.config.cpus * 1e9) as i64),
            pids_limit: Some(self.config.pids_limit),
            init: Some(true),
            ..Default::default()
        };
        let body = ContainerCreateBody {
            image: Some(self.config.image.clone()),
            cmd: Some(vec!["sleep".into(), "2147483647".into()]),
            entrypoint: Some(vec![]),
            user: Some(KEEPER_USER.into()),
            working_dir: Some(WORKDIR.into()),
            env: Some(vec!["HOME=/tmp".into()]),
            labels: Some(self.labels()),
            network_disabled: Some(true),
            host_config: Some(host_config),
            ..Default::default()
        };
        let created = docker
            .create_container(Some(CreateContainerOptionsBuilder::default().name(&name).build()), body)
            .await
            .map_err(|e| SandboxError::Docker { action: "create container", message: e.to_string() })?;
        state.container = Some(created.id.clone());
        docker
            .start_container(&created.id, None)
            .await
            .map_err(|e| SandboxError::Docker { action: "start container", message: e.to_string() })?;
        tracing::info!(container = %name, image = %self.config.image, "sandbox container started");
        Ok((docker, created.id))
    }

    /// Runs `argv` in the container as the command user, feeding `stdin`, up to `timeout`.
    async fn exec(
        &self,
        docker: &Docker,
        container: &str,
        argv: Vec<String>,
        stdin: Option<Vec<u8>>,
        timeout: Duration,
        on_output: &(dyn for<'s> Fn(&'s str) + Send + Sync),
    ) -> Result<ExecResult> {
        let started = Instant::now();
        let docker_err = |action: &'static str| {
            move |e: bollard::errors::Error| SandboxError::Docker { action, message: e.to_string() }
        };
        let exec = docker
            .create_exec(
                container,
                CreateExecOptions {
                    attach_stdin: Some(stdin.is_some()),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    cmd: Some(argv),
                    user: Some(self.config.user.clone()),
                    working_dir: Some(WORKDIR.to_owned()),
                    env: Some(vec!["HOME=/tmp".into(), "CI=true".into(), "NO_COLOR=1".into(), "FORCE_COLOR=0".into()]),
                    ..Default::default()
                },
            )
            .await
            .map_err(docker_err("exec"))?;
        // From here a process may run in the container: if this future is dropped (the run was cancelled)
        // before the process ends, the guard kills it, so it cannot outlive its run.
        let mut guard = KillOnDrop {
            docker: docker.clone(),
            container: container.to_owned(),
            user: self.config.user.clone(),
            state: self.state.clone(),
            orphaned: self.orphaned.clone(),
            armed: true,
        };
        let StartExecResults::Attached { mut output, mut input } =
            docker.start_exec(&exec.id, None).await.map_err(docker_err("exec start"))?
        else {
            return Err(SandboxError::Docker { action: "exec start", message: "the exec did not attach".into() });
        };
        if let Some(bytes) = stdin {
            input.write_all(&bytes).await.map_err(|e| SandboxError::Sync { message: e.to_string() })?;
            input.shutdown().await.map_err(|e| SandboxError::Sync { message: e.to_string() })?;
        }
        let mut captured = CappedOutput::new(self.config.output_cap_bytes);
        let deadline = tokio::time::Instant::now() + timeout;
        let mut timed_out = false;
        loop {
            match tokio::time::timeout_at(deadline, output.next()).await {
                Err(_) => {
                    timed_out = true;
                    break;
                }
                Ok(None) => break,
                Ok(Some(Err(e))) => return Err(docker_err("exec output")(e)),
                Ok(Some(Ok(chunk))) => {
                    let bytes = chunk.into_bytes();
                    captured.push(&bytes);
                    on_output(&String::from_utf8_lossy(&bytes));
                }
            }
        }
        drop(output);
        guard.armed = false;
        let exit_code = if timed_out {
            kill_user_processes(docker, container, &self.config.user).await;
            None
        } else {
            docker.inspect_exec(&exec.id).await.map_err(docker_err("exec inspect"))?.exit_code
        };
        let (output, dropped_bytes) = captured.finish();
        Ok(ExecResult { exit_code, output, timed_out, dropped_bytes, duration: started.elapsed(), synced_files: 0 })
    }

    async fn remove_all(docker: &Docker, container: Option<String>, volume: Option<String>) {
        if let Some(id) = container {
            let _ =
                docker.remove_container(&id, Some(RemoveContainerOptionsBuilder::default().force(true).build())).await;
        }
        if let Some(volume) = volume {
            let _ =
                docker.remove_volume(&volume, Some(RemoveVolumeOptionsBuilder::default().force(true).build())).await;
        }
    }

    /// Removes containers (and their volumes) labelled as ours whose server process on this host is gone:
    /// what a killed or crashed server left behind. Returns how many it removed.
    pub async fn remove_leftovers(&self) -> Result<usize> {
        let mut state = self.state.lock().await;
        let docker = Self::connect(&mut state).await?;
        drop(state);
        remove_leftovers(&docker).await
    }
}

async fn remove_leftovers(docker: &Docker) -> Result<usize> {
    let filters = HashMap::from([("label".to_owned(), vec![LABEL.to_owned()])]);
    let list = docker
        .list_containers(Some(ListContainersOptionsBuilder::default().all(true).filters(&filters).build()))
        .await
        .map_err(|e| SandboxError::Docker { action: "list containers", message: e.to_string() })?;
    let host = hostname();
    let mut removed = 0;
    for c in list {
        let labels = c.labels.unwrap_or_default();
        if labels.get(LABEL_HOST) != Some(&host) {
            continue; // another machine's server, on a shared engine: not ours to judge
        }
        let owner = labels.get(LABEL_OWNER).cloned().unwrap_or_default();
        let alive = owner
            .split_once(':')
            .and_then(|(pid, _)| pid.parse::<u32>().ok())
            .and_then(process_identity)
            .is_some_and(|identity| identity == owner);
        if !alive {
            let volume = c.names.as_ref().and_then(|n| n.first()).map(|n| format!("{}-ws", n.trim_start_matches('/')));
            tracing::info!(container = ?c.names, "removing a sandbox container left by a server that is gone");
            DockerSandbox::remove_all(docker, c.id, volume).await;
            removed += 1;
        }
    }
    Ok(removed)
}

/// `<pid>:<start time in clock ticks since boot>`, which names a process uniquely across pid reuse.
fn process_identity(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses; fields resume after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let start_time = rest.split_whitespace().nth(19)?;
    Some(format!("{pid}:{start_time}"))
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_owned()).unwrap_or_default()
}

#[async_trait]
impl Sandbox for DockerSandbox {
    #[tracing::instrument(skip_all, fields(command = request.command))]
    async fn run(
        &self,
        request: RunRequest<'_>,
        on_output: &(dyn for<'s> Fn(&'s str) + Send + Sync),
    ) -> Result<ExecResult> {
        let files = {
            let root = request.root.to_owned();
            let overlay = request.overlay.clone();
            tokio::task::spawn_blocking(move || collect_files(&root, &overlay)).await.map_err(|e| {
                SandboxError::Workspace { path: request.root.display().to_string(), message: e.to_string() }
            })??
        };
        let (uid, gid) = self.config.user.split_once(':').unwrap_or(("1000", "1000"));
        let archive = tar(&files, uid.parse().unwrap_or(1000), gid.parse().unwrap_or(1000))
            .map_err(|e| SandboxError::Sync { message: e.to_string() })?;

        let mut state = self.state.lock().await;
        let (docker, container) = self.ensure_container(&mut state).await?;
        if self.orphaned.swap(false, Ordering::SeqCst) {
            kill_user_processes(&docker, &container, &self.config.user).await;
        }
        // Replace the workspace with the new copy (dependencies installed in the container stay).
        let sync = format!(
            "find {WORKDIR} -mindepth 1 -maxdepth 1 ! -name node_modules -exec rm -rf {{}} + && tar -x -f - -C {WORKDIR}"
        );
        let synced = self
            .exec(
                &docker,
                &container,
                vec!["sh".into(), "-c".into(), sync],
                Some(archive),
                Duration::from_secs(120),
                &|_| {},
            )
            .await?;
        if !synced.success() {
            return Err(SandboxError::Sync { message: synced.output.trim().to_owned() });
        }
        let argv = vec!["sh".to_owned(), "-c".to_owned(), request.command.to_owned()];
        let mut result = self.exec(&docker, &container, argv, None, request.timeout, on_output).await?;
        result.synced_files = files.len();
        tracing::info!(exit = ?result.exit_code, timed_out = result.timed_out, ms = result.duration.as_millis() as u64, "command finished");
        Ok(result)
    }

    async fn health(&self) -> Result<Health> {
        let mut state = self.state.lock().await;
        let docker = Self::connect(&mut state).await?;
        drop(state);
        let version = docker
            .version()
            .await
            .map_err(|e| SandboxError::Unreachable { endpoint: Self::endpoint(), message: e.to_string() })?;
        let image_present = docker.inspect_image(&self.config.image).await.is_ok();
        Ok(Health {
            endpoint: Self::endpoint(),
            api_version: version.api_version.unwrap_or_default(),
            server_version: version.version.unwrap_or_default(),
            image: self.config.image.clone(),
            image_present,
        })
    }

    async fn shutdown(&self) {
        let mut state = self.state.lock().await;
        let (container, volume) = (state.container.take(), state.volume.take());
        if let Some(docker) = state.docker.clone() {
            Self::remove_all(&docker, container, volume).await;
        }
    }
}

/// Kills every process of the command user (the command's whole tree, daemonised or not).
async fn kill_user_processes(docker: &Docker, container: &str, user: &str) {
    let options = CreateExecOptions {
        cmd: Some(vec!["kill".to_owned(), "-9".to_owned(), "-1".to_owned()]),
        user: Some(user.to_owned()),
        attach_stdout: Some(true),
        ..Default::default()
    };
    if let Ok(exec) = docker.create_exec(container, options).await
        && let Ok(StartExecResults::Attached { mut output, .. }) = docker.start_exec(&exec.id, None).await
    {
        while output.next().await.is_some() {}
    }
}

/// Kills the command user's processes when an exec is abandoned midway. The kill waits for the sandbox's
/// lock, and whoever takes the lock first (this task, or the next run) does it, so it never hits the
/// processes of a later run.
struct KillOnDrop {
    docker: Docker,
    container: String,
    user: String,
    state: Arc<tokio::sync::Mutex<State>>,
    orphaned: Arc<AtomicBool>,
    armed: bool,
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        self.orphaned.store(true, Ordering::SeqCst);
        let (docker, container, user) =
            (self.docker.clone(), std::mem::take(&mut self.container), std::mem::take(&mut self.user));
        let (state, orphaned) = (self.state.clone(), self.orphaned.clone());
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _held = state.lock().await;
                if orphaned.swap(false, Ordering::SeqCst) {
                    kill_user_processes(&docker, &container, &user).await;
                }
            });
        }
    }
}

/// FNV-1a: a hash that stays the same across builds and toolchains, for names that must.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325, |h, &b| (h ^ b as u64).wrapping_mul(0x100000001b3))
}
