//! The project's app running in the sandbox, reachable from the host: `samokoder run`.
//!
//! The app gets a container of its own, hardened like the warm one (no network: loopback only, no
//! capabilities, read-only root, the command user, the same limits) and sharing the workspace volume, so the
//! edits each sync brings reach it as they reach the tests, and its dev server's own watch picks them up.
//! It does not run in the warm container: a command that times out there kills every process of the command
//! user, which would take the app with it. Its port reaches the host through [`crate::forward`].

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{CreateContainerOptionsBuilder, LogsOptionsBuilder, RemoveContainerOptionsBuilder};
use futures::StreamExt;
use tokio::time::Instant;

use crate::docker::call;
use crate::exec::{ExecSpec, base_env, run_exec};
use crate::forward::{Forward, Target, forward};
use crate::{DockerSandbox, Result, RunRequest, Sandbox, SandboxError, WORKDIR};

/// The app's output the caller sees at most at once; beyond it, 64 KB a second (a flood is counted, not shown).
const LOG_BURST: usize = 256 * 1024;
const LOG_RATE: usize = 64 * 1024;
/// The end of the app's output kept for messages (it exited, it never listened).
const TAIL: usize = 4 * 1024;

/// What to run and where it listens.
#[derive(Debug, Clone)]
pub struct AppRequest<'a> {
    pub root: &'a Path,
    /// Workspace-relative path -> content the editor holds.
    pub overlay: &'a BTreeMap<String, String>,
    /// A shell command line (`npx vite --host 0.0.0.0`), run with `sh -c`; it gets `PORT`.
    pub command: &'a str,
    /// Workspace-relative working directory; the workspace root when `None`.
    pub cwd: Option<&'a str>,
    /// The port the app listens on, as its template declares; `None`: the first it listens on.
    pub port: Option<u16>,
    pub env: &'a [(String, String)],
    /// How long the app may take to listen.
    pub start_timeout: Duration,
}

/// A running app. [`App::stop`] removes its container; dropping it does too, in the background.
pub struct App {
    /// `http://127.0.0.1:<host port>/`.
    pub url: String,
    pub host_port: u16,
    /// The port the app listens on inside its container.
    pub port: u16,
    docker: Docker,
    container: String,
    forward: Option<Forward>,
    logs: tokio::task::JoinHandle<()>,
    stopped: bool,
}

impl App {
    /// Stops the app and removes its container.
    pub async fn stop(mut self) {
        self.stopped = true;
        self.forward = None;
        self.logs.abort();
        remove(&self.docker, &self.container).await;
    }

    /// Resolves when the app exits by itself, with its exit code (it holds no borrow of the app).
    pub fn exited(&self) -> impl Future<Output = Option<i64>> + Send + 'static + use<> {
        let (docker, container) = (self.docker.clone(), self.container.clone());
        async move {
            let mut waits = docker.wait_container(&container, None::<bollard::query_parameters::WaitContainerOptions>);
            match waits.next().await {
                Some(Ok(status)) => Some(status.status_code),
                Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => Some(code),
                _ => None,
            }
        }
    }
}

impl Drop for App {
    fn drop(&mut self) {
        self.logs.abort();
        if self.stopped {
            return;
        }
        let (docker, container) = (self.docker.clone(), std::mem::take(&mut self.container));
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move { remove(&docker, &container).await });
        }
    }
}

async fn remove(docker: &Docker, container: &str) {
    let options = RemoveContainerOptionsBuilder::default().force(true).build();
    let _ = call("remove container", docker.remove_container(container, Some(options))).await;
}

/// The app's output: streamed within a budget, its end kept.
struct Log {
    sink: Arc<dyn Fn(&str) + Send + Sync>,
    tail: VecDeque<u8>,
    budget: usize,
    refilled: Instant,
    skipped: u64,
}

impl Log {
    fn push(&mut self, bytes: &[u8]) {
        let overflow = (self.tail.len() + bytes.len()).saturating_sub(TAIL);
        self.tail.drain(..overflow.min(self.tail.len()));
        self.tail.extend(&bytes[bytes.len().saturating_sub(TAIL)..]);
        let earned = self.refilled.elapsed().as_secs_f64() * LOG_RATE as f64;
        if earned >= 1.0 {
            self.budget = (self.budget + earned as usize).min(LOG_BURST);
            self.refilled = Instant::now();
        }
        if bytes.len() > self.budget {
            self.skipped += bytes.len() as u64;
            return;
        }
        if self.skipped > 0 {
            (self.sink)(&format!("[... {} bytes of the app's output skipped ...]\n", self.skipped));
            self.skipped = 0;
        }
        self.budget -= bytes.len();
        (self.sink)(&String::from_utf8_lossy(bytes));
    }

    fn tail(&self) -> String {
        let bytes: Vec<u8> = self.tail.iter().copied().collect();
        String::from_utf8_lossy(&bytes).trim().to_owned()
    }
}

impl DockerSandbox {
    /// Starts the app on the workspace as the request holds it, waits until it listens, and forwards a host
    /// port to it. `on_output` sees the app's output for as long as it runs.
    pub async fn start_app(&self, request: AppRequest<'_>, on_output: Arc<dyn Fn(&str) + Send + Sync>) -> Result<App> {
        // The workspace into the volume (and the warm container that owns it) first.
        let sink = on_output.clone();
        let mut sync = RunRequest::new(request.root, request.overlay, "true", Duration::from_secs(120));
        sync.cwd = request.cwd;
        self.run(sync, &move |s| sink(s)).await?;
        let (docker, volume) = {
            let state = self.state.lock().await;
            (state.docker.clone(), state.volume.clone())
        };
        let (Some(docker), Some(volume)) = (docker, volume) else {
            return Err(SandboxError::Docker { action: "start the app", message: "the sandbox went away".into() });
        };
        let name = format!("{}-app", self.container_name());
        // A leftover of an earlier `run` of this workspace, or one whose removal is still under way: the name
        // is free only once it is gone.
        if let Ok(info) = call("inspect container", docker.inspect_container(&name, None)).await
            && info.state.and_then(|s| s.running).unwrap_or(false)
        {
            on_output("samokoder: the app already running for this workspace is stopped; this one replaces it\n");
        }
        remove(&docker, &name).await;
        for _ in 0..100 {
            if call("inspect container", docker.inspect_container(&name, None)).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let cwd = match request.cwd {
            Some(dir) => format!("{WORKDIR}/{}", dir.trim_matches('/')),
            None => WORKDIR.to_owned(),
        };
        let port_env = request.port.unwrap_or(3000);
        let env: Vec<String> = base_env()
            .into_iter()
            .filter(|e| e != "CI=true") // a dev server in CI mode may not watch
            .chain([format!("PORT={port_env}")])
            .chain(request.env.iter().map(|(k, v)| format!("{k}={v}")))
            .collect();
        let mut labels = self.labels(None);
        labels.insert("dev.samokoder.app".to_owned(), "1".to_owned());
        let body = ContainerCreateBody {
            image: Some(self.image()),
            cmd: Some(vec!["sh".into(), "-c".into(), request.command.to_owned()]),
            entrypoint: Some(vec![]),
            user: Some(self.config().user.clone()),
            working_dir: Some(cwd),
            env: Some(env),
            labels: Some(labels),
            host_config: Some(self.host_config(&volume, "none")),
            ..Default::default()
        };
        let options = CreateContainerOptionsBuilder::default().name(&name).build();
        let created = call("create container", docker.create_container(Some(options), body)).await?;
        let id = created.id;
        // From here on, a failure removes the container before it is reported.
        let mut app = App {
            url: String::new(),
            host_port: 0,
            port: 0,
            docker: docker.clone(),
            container: id.clone(),
            forward: None,
            logs: tokio::spawn(async {}),
            stopped: false,
        };
        match self.bring_up(&mut app, &request, on_output).await {
            Ok(()) => Ok(app),
            Err(e) => {
                app.stop().await;
                Err(e)
            }
        }
    }

    /// Starts the created app, waits until it listens, and forwards its port.
    async fn bring_up(
        &self,
        app: &mut App,
        request: &AppRequest<'_>,
        on_output: Arc<dyn Fn(&str) + Send + Sync>,
    ) -> Result<()> {
        let (docker, id) = (app.docker.clone(), app.container.clone());
        call("start container", docker.start_container(&id, None)).await?;
        let log = Arc::new(parking_lot::Mutex::new(Log {
            sink: on_output.clone(),
            tail: VecDeque::new(),
            budget: LOG_BURST,
            refilled: Instant::now(),
            skipped: 0,
        }));
        app.logs = follow_logs(docker.clone(), id.clone(), log.clone());

        let target = self.wait_listening(&docker, &id, request, &log).await?;
        let sink = on_output.clone();
        let relay_log: Arc<dyn Fn(&str) + Send + Sync> = Arc::new(move |s: &str| sink(s));
        let forward =
            forward(docker, id, self.config().user.clone(), target.clone(), Some(target.port), relay_log).await?;
        app.port = target.port;
        app.host_port = forward.host_port;
        app.url = format!("http://127.0.0.1:{}/", forward.host_port);
        app.forward = Some(forward);
        Ok(())
    }

    /// Polls the app's sockets (its /proc/net/tcp and tcp6) until it listens on its port (the first one when
    /// none is declared); an app that exits or never listens is an error that shows its last output.
    async fn wait_listening(
        &self,
        docker: &Docker,
        id: &str,
        request: &AppRequest<'_>,
        log: &Arc<parking_lot::Mutex<Log>>,
    ) -> Result<Target> {
        let deadline = crate::later(Instant::now(), request.start_timeout);
        let last_output = |log: &Arc<parking_lot::Mutex<Log>>| {
            let tail = log.lock().tail();
            if tail.is_empty() { "it printed nothing".to_owned() } else { format!("its last output:\n{tail}") }
        };
        let fail = |message: String| SandboxError::App { message };
        loop {
            let info = call("inspect container", docker.inspect_container(id, None)).await?;
            let state = info.state.unwrap_or_default();
            if !state.running.unwrap_or(false) {
                // Give the log stream a moment to deliver the last words.
                tokio::time::sleep(Duration::from_millis(200)).await;
                return Err(fail(format!(
                    "the app exited (code {}) before it listened: `{}`; {}",
                    state.exit_code.unwrap_or(-1),
                    request.command,
                    last_output(log)
                )));
            }
            let spec = ExecSpec::new(
                vec!["sh".into(), "-c".into(), "cat /proc/net/tcp /proc/net/tcp6 2>/dev/null".into()],
                &self.config().user,
                Duration::from_secs(10),
                256 * 1024,
            );
            if let Ok(outcome) = run_exec(docker, id, spec, &|_| {}, None).await {
                let sockets = listening(&outcome.output);
                let found = match request.port {
                    Some(port) => sockets.iter().find(|(p, _)| *p == port),
                    None => sockets.first(),
                };
                if let Some(&(port, v6_only)) = found {
                    let host = if v6_only { "::1" } else { "127.0.0.1" };
                    return Ok(Target { port, host: host.to_owned() });
                }
            }
            if Instant::now() >= deadline {
                let port = request.port.map_or("any port".to_owned(), |p| format!("port {p}"));
                return Err(fail(format!(
                    "the app did not listen on {port} within {} s: `{}`; {}",
                    request.start_timeout.as_secs(),
                    request.command,
                    last_output(log)
                )));
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }
}

fn follow_logs(docker: Docker, id: String, log: Arc<parking_lot::Mutex<Log>>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let options = LogsOptionsBuilder::default().follow(true).stdout(true).stderr(true).build();
        let mut stream = docker.logs(&id, Some(options));
        while let Some(Ok(chunk)) = stream.next().await {
            if let LogOutput::StdOut { message } | LogOutput::StdErr { message } | LogOutput::Console { message } =
                chunk
            {
                log.lock().push(&message);
            }
        }
    })
}

/// The ports listened on, in the order /proc lists them, each with whether only IPv6's loopback has it (then
/// the relay connects to `::1`). `/proc/net/tcp` lines: `sl local_address rem_address st ...`, addresses `HEX:PORT`,
/// state `0A` is LISTEN.
fn listening(proc_net: &str) -> Vec<(u16, bool)> {
    let mut ports: Vec<(u16, bool)> = Vec::new();
    let mut v4: HashMap<u16, bool> = HashMap::new();
    for line in proc_net.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 4 || fields[3] != "0A" {
            continue;
        }
        let Some((address, port)) = fields[1].split_once(':') else { continue };
        let Ok(port) = u16::from_str_radix(port, 16) else { continue };
        // `::` takes IPv4 too (and the container's loopback may have no IPv6 at all); only `::1` needs it.
        let v6_loopback = address == "00000000000000000000000001000000";
        if !v6_loopback {
            v4.insert(port, true);
        }
        if !ports.iter().any(|(p, _)| *p == port) {
            ports.push((port, v6_loopback));
        }
    }
    ports.into_iter().map(|(p, v6_only)| (p, v6_only && !v4.contains_key(&p))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listening_sockets_are_read_from_proc_net_tcp() {
        let text = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:0BB8 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 1 1 0 100 0 0 10 0
   1: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000  1000        0 2 1 0 20 4 30 10 -1
  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:1435 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 3 1 0 100 0 0 10 0
   1: 00000000000000000000000000000000:0BB8 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 4 1 0 100 0 0 10 0
";
        // 3000 on IPv4 (and IPv6), 5173 on ::1 only; 8080 is a connection, not a listener.
        assert_eq!(listening(text), [(3000, false), (5173, true)]);
        // Node's default `::` takes IPv4 connections too.
        let any =
            text.lines().filter(|l| !l.contains(":0BB8 0000") || l.contains("00000000000000000000000000000000:0BB8"));
        let v6_any: String = any.map(|l| format!("{l}\n")).collect();
        assert_eq!(listening(&v6_any), [(5173, true), (3000, false)]);
        assert_eq!(listening(""), []);
    }

    #[test]
    fn a_flood_of_output_is_counted_not_shown_and_its_end_is_kept() {
        let shown = Arc::new(parking_lot::Mutex::new(String::new()));
        let sink = shown.clone();
        let mut log = Log {
            sink: Arc::new(move |s: &str| sink.lock().push_str(s)),
            tail: VecDeque::new(),
            budget: LOG_BURST,
            refilled: Instant::now(),
            skipped: 0,
        };
        let line = [b'x'; 1023].iter().copied().chain([b'\n']).collect::<Vec<u8>>();
        let started = Instant::now();
        for _ in 0..50 * 1024 {
            log.push(&line); // 50 MB, at once
        }
        log.push(b"the end\n");
        let shown_len = shown.lock().len();
        // What the rate allows for the time the loop took (however slow the machine), far below 50 MB.
        let allowed = LOG_BURST as f64 + LOG_RATE as f64 * (started.elapsed().as_secs_f64() + 1.0);
        assert!((shown_len as f64) <= allowed, "{shown_len} bytes shown of 50 MB");
        assert!(log.tail().ends_with("the end"));
        assert!(log.tail.len() <= TAIL);
    }
}
