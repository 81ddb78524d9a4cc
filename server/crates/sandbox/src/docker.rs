//! [`DockerSandbox`]: one warm, hardened container per workspace, created on first use, reused by every
//! command, removed after it sits idle, and replaced if its processes cannot be killed.
//!
//! Commands run as the configured user (1000 by default) through `docker exec`; the container's own
//! process (an init that reaps, keeping a `sleep` alive) runs as `nobody`. So stopping a command is
//! `kill -9 -1` as the command's user: every process of that user dies, however it daemonised, and the
//! container lives on. The workspace is an in-memory volume owned by the command user, filled by `tar -x`
//! from an exec's stdin (the archive API cannot write through a read-only root filesystem), and kept in
//! step incrementally. Steps that need the network run in a short-lived container on the configured network
//! that shares the volume; the warm container never has a network.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use bollard::Docker;
use bollard::models::{ContainerCreateBody, HostConfig, Mount, MountType, VolumeCreateRequest};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, CreateImageOptionsBuilder, RemoveContainerOptionsBuilder, RemoveVolumeOptionsBuilder,
};
use futures::StreamExt;
use tokio::time::Instant;

use crate::agent::{Agent, MAX_JOB_BYTES, job_script, nonce};
use crate::cleanup::{RemoveOnDrop, hostname, process_identity, remove_all, remove_leftovers, survivors};
use crate::exec::{ExecOutcome, ExecSpec, KillOnDrop, base_env, kill_user_processes, oom_kills, run_exec};
use crate::files::collect_files;
use crate::sync::{SYNC_FAILED, SYNC_FAILED_MESSAGE, SyncPlan};
use crate::{ExecResult, Health, Result, RunRequest, Sandbox, SandboxConfig, SandboxError, WORKDIR};

/// Label on everything we create, so leftovers can be found and removed.
pub const LABEL: &str = "dev.samokoder";
const LABEL_WORKSPACE: &str = "dev.samokoder.workspace";
const LABEL_RUN: &str = "dev.samokoder.run";
/// `<pid>:<start time>` of the server that created it: alive only while that very process is.
pub(crate) const LABEL_OWNER: &str = "dev.samokoder.owner";
/// The host of that server: owners are only judged on the host they ran on.
pub(crate) const LABEL_HOST: &str = "dev.samokoder.host";
/// The container's own process runs as nobody, out of reach of `kill -1` by the command user.
const KEEPER_USER: &str = "65534:65534";
/// Any single Docker API call (not a command's run time) that takes longer than this has failed.
const API_TIMEOUT: Duration = Duration::from_secs(60);

pub struct DockerSandbox {
    config: SandboxConfig,
    /// The image commands run in: the configured one, or the fallback once the configured one could not
    /// be had.
    image: parking_lot::Mutex<String>,
    root: PathBuf,
    /// Stable per workspace: names the container and its volume.
    key: String,
    pub(crate) state: Arc<tokio::sync::Mutex<State>>,
    /// An exec was abandoned while its process ran (its run was cancelled): whoever next holds `state`
    /// kills the command user's processes before anything else.
    orphaned: Arc<AtomicBool>,
    network_steps: AtomicU32,
}

pub(crate) struct State {
    pub(crate) docker: Option<Docker>,
    container: Option<String>,
    pub(crate) volume: Option<String>,
    /// What the workspace volume holds (content hashes); `None` when unknown, so the next sync is full.
    synced: Option<HashMap<String, u64>>,
    last_used: Instant,
    /// OOM kills counted so far in this container's cgroup.
    oom_seen: u64,
    /// Bumped on every new container, so an idle watcher knows its container is gone.
    generation: u64,
    /// The shell that runs commands inside the warm container; started on demand.
    agent: Option<Agent>,
}

impl Default for State {
    fn default() -> Self {
        Self {
            docker: None,
            container: None,
            volume: None,
            synced: None,
            last_used: Instant::now(),
            oom_seen: 0,
            generation: 0,
            agent: None,
        }
    }
}

/// A Docker API call with a bound: an engine that does not answer is an error, never a hang.
pub(crate) async fn call<T>(
    action: &'static str,
    future: impl Future<Output = std::result::Result<T, bollard::errors::Error>>,
) -> Result<T> {
    match tokio::time::timeout(API_TIMEOUT, future).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(SandboxError::Docker { action, message: e.to_string() }),
        Err(_) => Err(SandboxError::Unreachable {
            endpoint: endpoint(None),
            message: format!("{action}: no answer within {} s", API_TIMEOUT.as_secs()),
        }),
    }
}

fn endpoint(configured: Option<&str>) -> String {
    configured
        .map(str::to_owned)
        .or_else(|| std::env::var("DOCKER_HOST").ok())
        .unwrap_or_else(|| "unix:///var/run/docker.sock".to_owned())
}

impl DockerSandbox {
    pub fn new(config: SandboxConfig, workspace_root: &Path) -> Self {
        let key = format!("{:016x}", fnv1a(workspace_root.to_string_lossy().as_bytes()));
        Self {
            image: parking_lot::Mutex::new(config.image.clone()),
            config,
            root: workspace_root.to_owned(),
            key,
            state: Arc::default(),
            orphaned: Arc::default(),
            network_steps: AtomicU32::new(0),
        }
    }

    pub fn config(&self) -> &SandboxConfig {
        &self.config
    }

    /// The image commands run in (the configured one, or the local fallback once that could not be had).
    pub fn image(&self) -> String {
        self.image.lock().clone()
    }

    /// The warm container's name (`samokoder-<hash of the workspace path>`).
    pub fn container_name(&self) -> String {
        format!("samokoder-{}", self.key)
    }

    fn user_ids(&self) -> (u64, u64) {
        let (uid, gid) = self.config.user.split_once(':').unwrap_or((&self.config.user, &self.config.user));
        (uid.parse().unwrap_or(1000), gid.parse().unwrap_or(1000))
    }

    async fn connect(&self, state: &mut State) -> Result<Docker> {
        if let Some(docker) = &state.docker {
            return Ok(docker.clone());
        }
        let host = endpoint(self.config.docker_host.as_deref());
        let unreachable = |message: String| SandboxError::Unreachable { endpoint: host.clone(), message };
        let docker = Docker::connect_with_host(&host).map_err(|e| unreachable(e.to_string()))?;
        let docker = tokio::time::timeout(Duration::from_secs(5), docker.negotiate_version())
            .await
            .map_err(|_| unreachable("no answer within 5 s".into()))?
            .map_err(|e| unreachable(e.to_string()))?;
        state.docker = Some(docker.clone());
        Ok(docker)
    }

    async fn ensure_image(&self, docker: &Docker, on_output: &(dyn for<'s> Fn(&'s str) + Send + Sync)) -> Result<()> {
        let image = self.image();
        if call("inspect image", docker.inspect_image(&image)).await.is_ok() {
            return Ok(());
        }
        let pulled = pull(docker, &image, on_output).await;
        let Err(SandboxError::ImageUnavailable { message, .. }) = pulled else { return pulled };
        let unavailable = SandboxError::ImageUnavailable { image: image.clone(), message: message.clone() };
        let Some(fallback) = self.config.fallback_image.clone().filter(|f| *f != image) else {
            return Err(unavailable);
        };
        if call("inspect image", docker.inspect_image(&fallback)).await.is_err() {
            return Err(unavailable);
        }
        on_output(&format!(
            "the sandbox image {image} cannot be had ({message}); using the local image {fallback} (built by \
             `cargo xtask setup`); set SAMOKODER_SANDBOX_IMAGE (samokoder.sandbox.image) to choose another\n"
        ));
        tracing::warn!(%image, %fallback, "the sandbox image cannot be had; using the local fallback");
        *self.image.lock() = fallback;
        Ok(())
    }

    pub(crate) fn labels(&self, run_id: Option<&str>) -> HashMap<String, String> {
        let mut labels = HashMap::from([
            (LABEL.to_owned(), "1".to_owned()),
            (LABEL_WORKSPACE.to_owned(), self.root.display().to_string()),
            (LABEL_OWNER.to_owned(), process_identity(std::process::id()).unwrap_or_default()),
            (LABEL_HOST.to_owned(), hostname()),
        ]);
        if let Some(run) = run_id {
            labels.insert(LABEL_RUN.to_owned(), run.to_owned());
        }
        labels
    }

    /// The hardening every container of ours gets; `network` is `none` for the warm container.
    pub(crate) fn host_config(&self, volume: &str, network: &str) -> HostConfig {
        HostConfig {
            network_mode: Some(network.into()),
            cap_drop: Some(vec!["ALL".into()]),
            security_opt: Some(vec!["no-new-privileges:true".into()]),
            readonly_rootfs: Some(true),
            tmpfs: Some(HashMap::from([("/tmp".to_owned(), "rw,nosuid,nodev,size=268435456,mode=1777".to_owned())])),
            mounts: Some(vec![Mount {
                target: Some(WORKDIR.into()),
                source: Some(volume.to_owned()),
                typ: Some(MountType::VOLUME),
                ..Default::default()
            }]),
            memory: Some(self.config.memory_bytes),
            memory_swap: Some(self.config.memory_bytes),
            nano_cpus: Some((self.config.cpus * 1e9) as i64),
            pids_limit: Some(self.config.pids_limit),
            init: Some(true),
            ..Default::default()
        }
    }

    /// The warm container, created (with its volume) on first use, restarted if it stopped.
    async fn ensure_container(
        &self,
        state: &mut State,
        on_output: &(dyn for<'s> Fn(&'s str) + Send + Sync),
    ) -> Result<(Docker, String)> {
        let docker = self.connect(state).await?;
        if let Some(id) = state.container.clone() {
            match call("inspect container", docker.inspect_container(&id, None)).await {
                Ok(info) if info.state.as_ref().and_then(|s| s.running).unwrap_or(false) => return Ok((docker, id)),
                Ok(_) => {
                    // Stopped: its in-memory workspace and its shell are gone with it.
                    call("start container", docker.start_container(&id, None)).await?;
                    state.synced = None;
                    state.agent = None;
                    return Ok((docker, id));
                }
                Err(_) => {
                    state.container = None;
                    state.synced = None;
                    state.agent = None;
                }
            }
        }
        self.ensure_image(&docker, on_output).await?;
        if let Err(e) = remove_leftovers(&docker).await {
            tracing::warn!(error = %e, "could not look for leftover sandbox containers");
        }
        let name = self.container_name();
        // A container of this name is a leftover of an earlier server for this workspace.
        let force = || Some(RemoveContainerOptionsBuilder::default().force(true).build());
        let _ = call("remove container", docker.remove_container(&name, force())).await;

        let volume = format!("{name}-ws");
        let (uid, gid) = self.user_ids();
        // An in-memory volume owned by the command user: writable by it although the root filesystem is
        // read-only and no capability (CHOWN) is left to fix ownership from inside.
        let _ = call(
            "remove volume",
            docker.remove_volume(&volume, Some(RemoveVolumeOptionsBuilder::default().force(true).build())),
        )
        .await;
        let request = VolumeCreateRequest {
            name: Some(volume.clone()),
            driver: Some("local".into()),
            driver_opts: Some(HashMap::from([
                ("type".to_owned(), "tmpfs".to_owned()),
                ("device".to_owned(), "tmpfs".to_owned()),
                ("o".to_owned(), format!("size={},uid={uid},gid={gid},mode=0755", self.config.workspace_bytes)),
            ])),
            labels: Some(self.labels(None)),
            ..Default::default()
        };
        call("create volume", docker.create_volume(request)).await?;
        state.volume = Some(volume.clone());

        let body = ContainerCreateBody {
            image: Some(self.image()),
            cmd: Some(vec!["sleep".into(), "2147483647".into()]),
            entrypoint: Some(vec![]),
            user: Some(KEEPER_USER.into()),
            working_dir: Some(WORKDIR.into()),
            env: Some(vec!["HOME=/tmp".into()]),
            labels: Some(self.labels(None)),
            // Network `none`: loopback only (a test may serve on localhost, which Docker's /etc/hosts
            // names), nothing beyond it.
            host_config: Some(self.host_config(&volume, "none")),
            ..Default::default()
        };
        let options = CreateContainerOptionsBuilder::default().name(&name).build();
        let created = call("create container", docker.create_container(Some(options), body)).await?;
        state.container = Some(created.id.clone());
        call("start container", docker.start_container(&created.id, None)).await?;
        state.synced = None;
        state.agent = None;
        state.oom_seen = 0;
        state.generation += 1;
        state.last_used = Instant::now();
        self.watch_idle(state.generation);
        tracing::info!(container = %name, image = %self.image(), "sandbox container started");
        Ok((docker, created.id))
    }

    /// Removes the warm container once it has sat idle for `idle_stop`.
    fn watch_idle(&self, generation: u64) {
        let (state, idle) = (self.state.clone(), self.config.idle_stop);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep((idle / 4).clamp(Duration::from_millis(250), Duration::from_secs(60))).await;
                let mut st = state.lock().await;
                if st.generation != generation || st.container.is_none() {
                    return;
                }
                if st.last_used.elapsed() >= idle {
                    tracing::info!("removing the idle sandbox container");
                    let (container, volume) = (st.container.take(), st.volume.take());
                    st.synced = None;
                    st.agent = None;
                    if let Some(docker) = st.docker.clone() {
                        remove_all(&docker, container, volume).await;
                    }
                    return;
                }
            }
        });
    }

    /// A step with network access, in its own short-lived container sharing the workspace volume.
    async fn run_networked(
        &self,
        docker: &Docker,
        volume: &str,
        spec: ExecSpec,
        run_id: Option<&str>,
        on_output: &(dyn for<'s> Fn(&'s str) + Send + Sync),
    ) -> Result<ExecOutcome> {
        let n = self.network_steps.fetch_add(1, Ordering::Relaxed);
        let name = format!("{}-net-{}-{n}", self.container_name(), std::process::id());
        let body = ContainerCreateBody {
            image: Some(self.image()),
            cmd: Some(vec!["sleep".into(), "2147483647".into()]),
            entrypoint: Some(vec![]),
            user: Some(self.config.user.clone()),
            working_dir: Some(WORKDIR.into()),
            labels: Some(self.labels(run_id)),
            host_config: Some({
                let mut host = self.host_config(volume, &self.config.network);
                host.mounts.get_or_insert_default().push(crate::network::cache_mount());
                host
            }),
            ..Default::default()
        };
        let options = CreateContainerOptionsBuilder::default().name(&name).build();
        let created = call("create container", docker.create_container(Some(options), body)).await?;
        let _remove = RemoveOnDrop { docker: docker.clone(), id: created.id.clone() };
        call("start container", docker.start_container(&created.id, None)).await?;
        let mut spec = spec;
        crate::network::prepare(docker, &created.id, &self.config, &mut spec).await?;
        run_exec(docker, &created.id, spec, on_output, None).await
    }

    /// Runs a job through the container's shell, starting one if needed. A shell that died since the last
    /// job (killed with a command) is replaced once; a timeout kills the user's processes, shell included.
    async fn run_job(
        &self,
        state: &mut State,
        docker: &Docker,
        container: &str,
        job: &(dyn Fn(&str) -> String + Send + Sync),
        request: &RunRequest<'_>,
        on_output: &(dyn for<'s> Fn(&'s str) + Send + Sync),
    ) -> Result<ExecOutcome> {
        let user = &self.config.user;
        for attempt in 0..2 {
            let fresh = state.agent.is_none();
            if fresh {
                state.agent = Some(Agent::start(docker, container, user).await?);
            }
            let agent = state.agent.as_mut().expect("just started");
            let nonce = nonce();
            let cap = self.config.output_cap_bytes;
            match agent.run(&job(&nonce), &nonce, request.timeout, request.idle_timeout, cap, on_output).await {
                Ok(outcome) => {
                    if outcome.timed_out {
                        kill_user_processes(docker, container, user).await;
                        state.agent = None;
                    }
                    return Ok(outcome);
                }
                Err(e) => {
                    state.agent = None;
                    if fresh || attempt == 1 {
                        return Err(e);
                    }
                    tracing::debug!(error = %e, "the sandbox shell was gone; starting a new one");
                }
            }
        }
        unreachable!("the loop returns on its second attempt")
    }

    /// Removes containers (and their volumes) labelled as ours whose server process on this host is gone:
    /// what a killed or crashed server left behind. Returns how many it removed.
    pub async fn remove_leftovers(&self) -> Result<usize> {
        let mut state = self.state.lock().await;
        let docker = self.connect(&mut state).await?;
        drop(state);
        remove_leftovers(&docker).await
    }
}

fn request_env(env: &[(String, String)]) -> Vec<String> {
    base_env().into_iter().chain(env.iter().map(|(k, v)| format!("{k}={v}"))).collect()
}

#[async_trait]
impl Sandbox for DockerSandbox {
    #[tracing::instrument(skip_all, fields(command = request.command))]
    async fn run(
        &self,
        request: RunRequest<'_>,
        on_output: &(dyn for<'s> Fn(&'s str) + Send + Sync),
    ) -> Result<ExecResult> {
        let cwd = match request.cwd.map(str::trim).filter(|c| !c.is_empty() && *c != ".") {
            Some(dir) if dir.starts_with('/') || dir.split('/').any(|p| p == "..") => {
                return Err(SandboxError::Workspace {
                    path: dir.to_owned(),
                    message: "the working directory must be inside the workspace".into(),
                });
            }
            Some(dir) => format!("{WORKDIR}/{}", dir.trim_end_matches('/')),
            None => WORKDIR.to_owned(),
        };
        let files = {
            let (root, overlay, include) =
                (request.root.to_owned(), request.overlay.clone(), self.config.sync_include.clone());
            tokio::task::spawn_blocking(move || collect_files(&root, &overlay, &include)).await.map_err(|e| {
                SandboxError::Workspace { path: request.root.display().to_string(), message: e.to_string() }
            })??
        };

        let mut state = self.state.lock().await;
        let (docker, container) = self.ensure_container(&mut state, on_output).await?;
        let user = self.config.user.clone();
        if self.orphaned.swap(false, Ordering::SeqCst) {
            kill_user_processes(&docker, &container, &user).await;
            state.agent = None; // it ran as the user, so it is gone too
        }

        let plan = SyncPlan::new(&files, state.synced.as_ref());
        let synced_files = plan.changed.len();
        let archive = if plan.is_empty() {
            None
        } else {
            let (uid, gid) = self.user_ids();
            Some(plan.tar(&files, uid, gid).map_err(|e| SandboxError::Sync { message: e.to_string() })?)
        };
        let env: Vec<String> =
            base_env().into_iter().chain(request.env.iter().map(|(k, v)| format!("{k}={v}"))).collect();
        let command_spec = |argv: Vec<String>| {
            let mut spec = ExecSpec::new(argv, &user, request.timeout, self.config.output_cap_bytes);
            spec.idle_timeout = request.idle_timeout;
            spec.env = env.clone();
            spec
        };
        let outcome = if request.network {
            // Sync in the warm container, then the step in its own container on the network.
            if let Some(archive) = archive {
                let mut sync = ExecSpec::new(plan.argv(WORKDIR, "true"), &user, Duration::from_secs(120), 64 * 1024);
                sync.stdin = Some(archive);
                state.synced = None; // unknown until the sync succeeds
                let outcome = run_exec(&docker, &container, sync, &|_| {}, None).await?;
                if outcome.exit_code != Some(0) {
                    return Err(SandboxError::Sync { message: outcome.output.trim().to_owned() });
                }
            }
            state.synced = Some(plan.hashes);
            let mut spec = command_spec(vec!["sh".into(), "-c".into(), request.command.to_owned()]);
            spec.cwd = cwd;
            let volume = state.volume.clone().unwrap_or_default();
            self.run_networked(&docker, &volume, spec, request.run_id, on_output).await?
        } else {
            let guard = KillOnDrop {
                docker: docker.clone(),
                container: container.clone(),
                user: user.clone(),
                state: self.state.clone(),
                orphaned: self.orphaned.clone(),
                armed: true,
            };
            // A large sync goes through its own exec (stdin streams it); a small one rides with the job.
            let mut archive = archive;
            if archive.as_ref().is_some_and(|a| a.len() > MAX_JOB_BYTES) {
                let mut sync = ExecSpec::new(plan.argv(WORKDIR, "true"), &user, Duration::from_secs(300), 64 * 1024);
                sync.stdin = archive.take();
                state.synced = None;
                let outcome = run_exec(&docker, &container, sync, &|_| {}, None).await?;
                if outcome.exit_code != Some(0) {
                    return Err(SandboxError::Sync { message: outcome.output.trim().to_owned() });
                }
            }
            let sync_shell = plan.shell();
            let job = |nonce: &str| {
                job_script(
                    nonce,
                    archive.as_deref().map(|a| (sync_shell.as_str(), a)),
                    &cwd,
                    &request_env(request.env),
                    request.command,
                )
            };
            if archive.is_some() {
                state.synced = None; // unknown until the sync succeeds
            }
            let outcome = self.run_job(&mut state, &docker, &container, &job, &request, on_output).await;
            let mut guard = guard;
            guard.armed = false;
            let outcome = outcome?;
            if outcome.exit_code == Some(SYNC_FAILED) && outcome.output.contains(SYNC_FAILED_MESSAGE) {
                return Err(SandboxError::Sync { message: outcome.output.trim().to_owned() });
            }
            state.synced = Some(plan.hashes);
            ExecOutcome {
                exit_code: outcome.exit_code,
                output: outcome.output,
                dropped: outcome.dropped,
                timed_out: outcome.timed_out,
                idle_timed_out: outcome.idle_timed_out,
                duration: outcome.duration,
            }
        };

        let mut oom_killed = false;
        if outcome.exit_code != Some(0) && !outcome.timed_out && !request.network {
            // The kernel's OOM killer, if the cgroup's count went up: the command itself (exit 137), or one of
            // its children, whose parent then fails in its own way (a test runner reports "test failed").
            if let Some(count) = oom_kills(&docker, &container, &user).await {
                oom_killed = count > state.oom_seen;
                state.oom_seen = count;
            }
        }
        if outcome.timed_out && !request.network && survivors(&docker, &container, self.user_ids().0).await > 0 {
            tracing::warn!("processes survived the kill; restarting the sandbox container");
            let _ = call("restart container", docker.restart_container(&container, None)).await;
            state.synced = None;
        }
        state.last_used = Instant::now();
        tracing::info!(exit = ?outcome.exit_code, timed_out = outcome.timed_out, ms = outcome.duration.as_millis() as u64, synced_files, "command finished");
        Ok(ExecResult {
            exit_code: outcome.exit_code,
            output: outcome.output,
            timed_out: outcome.timed_out,
            idle_timed_out: outcome.idle_timed_out,
            oom_killed,
            memory_limit_mb: (self.config.memory_bytes.max(0) as u64) / (1024 * 1024),
            dropped_bytes: outcome.dropped,
            duration: outcome.duration,
            synced_files,
        })
    }

    async fn health(&self) -> Result<Health> {
        let mut state = self.state.lock().await;
        let docker = self.connect(&mut state).await?;
        drop(state);
        let version = call("version", docker.version()).await.map_err(|e| SandboxError::Unreachable {
            endpoint: endpoint(self.config.docker_host.as_deref()),
            message: e.to_string(),
        })?;
        let mut image = self.image();
        let mut image_present = call("inspect image", docker.inspect_image(&image)).await.is_ok();
        if let Some(fallback) = self.config.fallback_image.as_ref().filter(|_| !image_present)
            && call("inspect image", docker.inspect_image(fallback)).await.is_ok()
        {
            image = format!("{image} (not here; the local {fallback} is used when it cannot be pulled)");
            image_present = true;
        }
        Ok(Health {
            endpoint: endpoint(self.config.docker_host.as_deref()),
            api_version: version.api_version.unwrap_or_default(),
            server_version: version.version.unwrap_or_default(),
            image,
            image_present,
        })
    }

    async fn prepare(&self, on_output: &(dyn for<'s> Fn(&'s str) + Send + Sync)) -> Result<()> {
        let mut state = self.state.lock().await;
        let docker = self.connect(&mut state).await?;
        drop(state);
        self.ensure_image(&docker, on_output).await
    }

    async fn shutdown(&self) {
        let mut state = self.state.lock().await;
        let (container, volume) = (state.container.take(), state.volume.take());
        state.synced = None;
        if let Some(docker) = state.docker.clone() {
            remove_all(&docker, container, volume).await;
        }
    }
}

/// Pulls `image`, its progress to `on_output`; `ImageUnavailable` when it cannot be had.
async fn pull(docker: &Docker, image: &str, on_output: &(dyn for<'s> Fn(&'s str) + Send + Sync)) -> Result<()> {
    on_output(&format!("pulling the sandbox image {image}\n"));
    let options = CreateImageOptionsBuilder::default().from_image(image).build();
    let mut pull = docker.create_image(Some(options), None, None);
    let unavailable = |message: String| SandboxError::ImageUnavailable { image: image.to_owned(), message };
    let mut last = String::new();
    while let Some(progress) = pull.next().await {
        let info = progress.map_err(|e| unavailable(e.to_string()))?;
        let line = match (info.status, info.id) {
            (Some(status), Some(id)) => format!("{id}: {status}"),
            (Some(status), None) => status,
            _ => continue,
        };
        if line != last {
            on_output(&format!("  {line}\n"));
            last = line;
        }
    }
    call("inspect image", docker.inspect_image(image)).await.map(|_| ()).map_err(|e| unavailable(e.to_string()))
}

/// FNV-1a: a hash that stays the same across builds and toolchains, for names that must.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325, |h, &b| (h ^ b as u64).wrapping_mul(0x100000001b3))
}
