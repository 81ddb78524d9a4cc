//! One command in a container: attached output streamed and capped, stdin fed, a wall-clock timeout and a
//! no-output timeout, and the kill of the command user's whole process tree when it must stop.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::exec::{CreateExecOptions, StartExecResults};
use futures::StreamExt;
use tokio::io::AsyncWriteExt;

use crate::docker::{State, call};
use crate::output::CappedOutput;
use crate::{Result, SandboxError, WORKDIR};

pub(crate) struct ExecSpec {
    pub argv: Vec<String>,
    pub user: String,
    /// Absolute working directory in the container.
    pub cwd: String,
    pub env: Vec<String>,
    pub stdin: Option<Vec<u8>>,
    pub timeout: Duration,
    pub idle_timeout: Option<Duration>,
    pub output_cap: usize,
}

impl ExecSpec {
    pub fn new(argv: Vec<String>, user: &str, timeout: Duration, output_cap: usize) -> Self {
        Self {
            argv,
            user: user.to_owned(),
            cwd: WORKDIR.to_owned(),
            env: base_env(),
            stdin: None,
            timeout,
            idle_timeout: None,
            output_cap,
        }
    }
}

/// The environment every command gets: a writable HOME, no colour codes in output to parse, CI mode.
pub(crate) fn base_env() -> Vec<String> {
    ["HOME=/tmp", "CI=true", "NO_COLOR=1", "FORCE_COLOR=0", "npm_config_update_notifier=false"]
        .map(String::from)
        .to_vec()
}

/// How a command (one exec, or one job of the agent shell) ended. `exit_code` is `None` when it was stopped
/// by a timeout.
pub(crate) struct ExecOutcome {
    pub exit_code: Option<i64>,
    pub output: String,
    pub dropped: u64,
    pub timed_out: bool,
    pub idle_timed_out: bool,
    pub duration: Duration,
}

/// Kills the command user's processes if the exec is abandoned midway (its run was cancelled). The kill
/// waits for the sandbox's lock, and whoever takes the lock first (this task, or the next run) does it, so
/// it never hits the processes of a later run.
pub(crate) struct KillOnDrop {
    pub docker: Docker,
    pub container: String,
    pub user: String,
    pub state: Arc<tokio::sync::Mutex<State>>,
    pub orphaned: Arc<AtomicBool>,
    pub armed: bool,
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

/// Runs one exec to its end, or until a timeout, streaming output to `on_output` up to the cap.
pub(crate) async fn run_exec(
    docker: &Docker,
    container: &str,
    spec: ExecSpec,
    on_output: &(dyn for<'s> Fn(&'s str) + Send + Sync),
    mut guard: Option<KillOnDrop>,
) -> Result<ExecOutcome> {
    let started = Instant::now();
    let options = CreateExecOptions {
        attach_stdin: Some(spec.stdin.is_some()),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        cmd: Some(spec.argv),
        user: Some(spec.user.clone()),
        working_dir: Some(spec.cwd),
        env: Some(spec.env),
        ..Default::default()
    };
    let (exec_id, mut output, mut input) = attach(docker, container, options).await?;
    if let Some(bytes) = spec.stdin {
        let sync_err = |e: std::io::Error| SandboxError::Sync { message: format!("writing to the container: {e}") };
        input.write_all(&bytes).await.map_err(sync_err)?;
        input.shutdown().await.map_err(sync_err)?;
    }
    drop(input);

    let mut captured = CappedOutput::new(spec.output_cap);
    let mut streamed = 0usize;
    let deadline = crate::later(tokio::time::Instant::now(), spec.timeout);
    let mut last_output = tokio::time::Instant::now();
    let (mut timed_out, mut idle_timed_out) = (false, false);
    loop {
        let idle_deadline = spec.idle_timeout.map(|idle| crate::later(last_output, idle));
        let wake = idle_deadline.map_or(deadline, |i| i.min(deadline));
        match tokio::time::timeout_at(wake, output.next()).await {
            Err(_) => {
                timed_out = true;
                idle_timed_out = idle_deadline.is_some_and(|i| i <= deadline);
                break;
            }
            Ok(None) => break,
            Ok(Some(Err(e))) => return Err(SandboxError::Docker { action: "exec output", message: e.to_string() }),
            Ok(Some(Ok(chunk))) => {
                last_output = tokio::time::Instant::now();
                let bytes = chunk.into_bytes();
                captured.push(&bytes);
                // The caller sees as much as is kept, then one notice: a flood must not flood the editor.
                if streamed < spec.output_cap {
                    let take = bytes.len().min(spec.output_cap - streamed);
                    streamed += take;
                    on_output(&String::from_utf8_lossy(&bytes[..take]));
                    if streamed == spec.output_cap {
                        on_output("\n[... output capped here; the rest is counted, not shown ...]\n");
                    }
                }
            }
        }
    }
    drop(output);
    if let Some(guard) = guard.as_mut() {
        guard.armed = false;
    }
    let exit_code = if timed_out {
        kill_user_processes(docker, container, &spec.user).await;
        None
    } else {
        call("exec inspect", docker.inspect_exec(&exec_id)).await?.exit_code
    };
    let (output, dropped) = captured.finish();
    Ok(ExecOutcome { exit_code, output, dropped, timed_out, idle_timed_out, duration: started.elapsed() })
}

/// An exec created and started with its streams attached: its id, its output, its stdin.
pub(crate) async fn attach(
    docker: &Docker,
    container: &str,
    options: CreateExecOptions<String>,
) -> Result<(
    String,
    std::pin::Pin<
        Box<dyn futures::Stream<Item = Result<bollard::container::LogOutput, bollard::errors::Error>> + Send>,
    >,
    std::pin::Pin<Box<dyn tokio::io::AsyncWrite + Send>>,
)> {
    let exec = call("exec", docker.create_exec(container, options)).await?;
    let StartExecResults::Attached { output, input } = call("exec start", docker.start_exec(&exec.id, None)).await?
    else {
        return Err(SandboxError::Docker { action: "exec start", message: "the exec did not attach".into() });
    };
    Ok((exec.id, output, input))
}

/// Kills every process of the command user (the command's whole tree, daemonised or not).
pub(crate) async fn kill_user_processes(docker: &Docker, container: &str, user: &str) {
    let options = CreateExecOptions {
        cmd: Some(vec!["kill".to_owned(), "-9".to_owned(), "-1".to_owned()]),
        user: Some(user.to_owned()),
        attach_stdout: Some(true),
        ..Default::default()
    };
    if let Ok(exec) = call("exec", docker.create_exec(container, options)).await
        && let Ok(StartExecResults::Attached { mut output, .. }) =
            call("exec start", docker.start_exec(&exec.id, None)).await
    {
        while output.next().await.is_some() {}
    }
}

/// The container's count of OOM kills (cgroup v2 `memory.events`, or v1 `memory.oom_control`).
pub(crate) async fn oom_kills(docker: &Docker, container: &str, user: &str) -> Option<u64> {
    let script =
        "cat /sys/fs/cgroup/memory.events 2>/dev/null || cat /sys/fs/cgroup/memory/memory.oom_control 2>/dev/null";
    let spec = ExecSpec::new(vec!["sh".into(), "-c".into(), script.into()], user, Duration::from_secs(10), 64 * 1024);
    let outcome = run_exec(docker, container, spec, &|_| {}, None).await.ok()?;
    outcome.output.lines().find_map(|l| l.strip_prefix("oom_kill ")).and_then(|n| n.trim().parse().ok())
}
