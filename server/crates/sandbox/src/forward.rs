//! A port on the host that reaches a port on a container's own loopback, the way `kubectl port-forward`
//! does: no bridge, no iptables, no published port. One exec in the container runs a small relay (Node, which
//! every image of ours has) that opens a connection to the app for each one the host accepts; the host and
//! the relay speak over the exec's stdin and stdout in frames, so any number of connections share one exec
//! (Vite's dev server is asked for dozens of modules at once, and the container's pids limit would not let an
//! exec per connection through). It works the same with a remote engine: the exec is an API call.
//!
//! A frame: kind (1 byte: open, data, close), connection id (u32, big-endian), length (u32), payload.
//! `close` from the host means the client sent everything (the relay half-closes its socket); from the
//! relay, that the app's socket closed (the host shuts its client's write side and forgets it).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::exec::CreateExecOptions;
use futures::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use crate::{Result, SandboxError};

const OPEN: u8 = 0;
const DATA: u8 = 1;
const CLOSE: u8 = 2;
const HEADER: usize = 9;
/// What one read from a client sends at most in a frame.
const CHUNK: usize = 64 * 1024;

/// The relay, run by `node -e RELAY PORT HOST` as the command user.
const RELAY: &str = r#"
const net = require('net');
const [port, host] = [Number(process.argv[1]), process.argv[2]];
const socks = new Map();
let buf = Buffer.alloc(0);
function send(kind, id, payload) {
  const head = Buffer.alloc(9);
  head[0] = kind; head.writeUInt32BE(id, 1); head.writeUInt32BE(payload ? payload.length : 0, 5);
  process.stdout.write(payload ? Buffer.concat([head, payload]) : head);
}
process.stdin.on('data', (d) => {
  buf = buf.length ? Buffer.concat([buf, d]) : d;
  while (buf.length >= 9) {
    const n = buf.readUInt32BE(5);
    if (buf.length < 9 + n) break;
    const [kind, id, payload] = [buf[0], buf.readUInt32BE(1), buf.subarray(9, 9 + n)];
    buf = buf.subarray(9 + n);
    if (kind === 0) {
      const s = net.connect(port, host);
      socks.set(id, s);
      s.on('data', (x) => send(1, id, x));
      s.on('error', (e) => process.stderr.write(`samokoder relay: connection ${id}: ${e.message}\n`));
      s.on('close', () => { socks.delete(id); send(2, id); });
    } else if (kind === 1) {
      socks.get(id)?.write(Buffer.from(payload));
    } else if (kind === 2) {
      socks.get(id)?.end();
    }
  }
});
process.stdin.on('end', () => process.exit(0));
"#;

/// Where the app listens inside the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    pub port: u16,
    /// `127.0.0.1`, or `::1` for an app that listens on IPv6 only.
    pub host: String,
}

/// A forwarded port; dropping it stops accepting, closes the relay and every connection through it.
pub struct Forward {
    pub host_port: u16,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Forward {
    fn drop(&mut self) {
        self.task.abort();
    }
}

type Clients = Arc<parking_lot::Mutex<HashMap<u32, mpsc::UnboundedSender<Option<Vec<u8>>>>>>;

/// One relay exec: frames to its stdin, and the clients its frames go back to.
struct Relay {
    to_container: mpsc::UnboundedSender<Vec<u8>>,
    clients: Clients,
    alive: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Relay {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

fn frame(kind: u8, id: u32, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(HEADER + payload.len());
    f.push(kind);
    f.extend_from_slice(&id.to_be_bytes());
    f.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// Binds 127.0.0.1:`wanted` (another free port when it is taken, or when `wanted` is `None`) and relays every
/// connection to `target` inside `container`. `log` sees what the relay says about failed connections.
pub(crate) async fn forward(
    docker: Docker,
    container: String,
    user: String,
    target: Target,
    wanted: Option<u16>,
    log: Arc<dyn Fn(&str) + Send + Sync>,
) -> Result<Forward> {
    let listener = match wanted {
        Some(port) => match TcpListener::bind(("127.0.0.1", port)).await {
            Ok(l) => l,
            Err(_) => bind_any().await?,
        },
        None => bind_any().await?,
    };
    let host_port = listener.local_addr().map_err(io_error)?.port();
    let task = tokio::spawn(async move {
        let mut relay: Option<Relay> = None;
        let mut next_id: u32 = 0;
        loop {
            let Ok((socket, _)) = listener.accept().await else { continue };
            if !relay.as_ref().is_some_and(|r| r.alive.load(Ordering::SeqCst)) {
                match start_relay(&docker, &container, &user, &target, log.clone()).await {
                    Ok(r) => relay = Some(r),
                    Err(e) => {
                        log(&format!("samokoder: the port relay could not start: {e}\n"));
                        continue; // the socket drops: the client sees the connection closed
                    }
                }
            }
            let Some(relay) = relay.as_ref() else { continue };
            next_id = next_id.wrapping_add(1);
            connect(relay, next_id, socket);
        }
    });
    Ok(Forward { host_port, task })
}

async fn bind_any() -> Result<TcpListener> {
    TcpListener::bind(("127.0.0.1", 0)).await.map_err(io_error)
}

fn io_error(e: std::io::Error) -> SandboxError {
    SandboxError::Docker { action: "forward a port", message: e.to_string() }
}

async fn start_relay(
    docker: &Docker,
    container: &str,
    user: &str,
    target: &Target,
    log: Arc<dyn Fn(&str) + Send + Sync>,
) -> Result<Relay> {
    let options = CreateExecOptions {
        attach_stdin: Some(true),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        cmd: Some(vec!["node".into(), "-e".into(), RELAY.into(), target.port.to_string(), target.host.clone()]),
        user: Some(user.to_owned()),
        ..Default::default()
    };
    let (_, mut output, mut input) = crate::exec::attach(docker, container, options).await?;
    let clients: Clients = Arc::default();
    let alive = Arc::new(AtomicBool::new(true));
    let (to_container, mut frames) = mpsc::unbounded_channel::<Vec<u8>>();
    let writer = tokio::spawn(async move {
        while let Some(f) = frames.recv().await {
            if input.write_all(&f).await.is_err() {
                break;
            }
        }
    });
    let (reader_clients, reader_alive) = (clients.clone(), alive.clone());
    let reader = tokio::spawn(async move {
        let mut buf: Vec<u8> = Vec::new();
        while let Some(Ok(chunk)) = output.next().await {
            match chunk {
                LogOutput::StdOut { message } => {
                    buf.extend_from_slice(&message);
                    dispatch(&mut buf, &reader_clients);
                }
                LogOutput::StdErr { message } => log(&String::from_utf8_lossy(&message)),
                _ => {}
            }
        }
        // The relay is gone: every connection through it ends, and the next one starts another.
        reader_alive.store(false, Ordering::SeqCst);
        for (_, client) in reader_clients.lock().drain() {
            let _ = client.send(None);
        }
    });
    Ok(Relay { to_container, clients, alive, tasks: vec![writer, reader] })
}

/// Hands every whole frame in `buf` to its client and keeps the rest.
fn dispatch(buf: &mut Vec<u8>, clients: &Clients) {
    let mut at = 0;
    while buf.len() - at >= HEADER {
        let kind = buf[at];
        let id = u32::from_be_bytes(buf[at + 1..at + 5].try_into().unwrap_or_default());
        let len = u32::from_be_bytes(buf[at + 5..at + 9].try_into().unwrap_or_default()) as usize;
        if buf.len() - at < HEADER + len {
            break;
        }
        let payload = &buf[at + HEADER..at + HEADER + len];
        match kind {
            DATA => {
                if let Some(client) = clients.lock().get(&id) {
                    let _ = client.send(Some(payload.to_vec()));
                }
            }
            CLOSE => {
                if let Some(client) = clients.lock().remove(&id) {
                    let _ = client.send(None);
                }
            }
            _ => {}
        }
        at += HEADER + len;
    }
    buf.drain(..at);
}

/// Relays one accepted connection: its bytes to the relay as data frames, the relay's back to it.
fn connect(relay: &Relay, id: u32, socket: TcpStream) {
    let _ = socket.set_nodelay(true);
    let (tx, mut rx) = mpsc::unbounded_channel::<Option<Vec<u8>>>();
    relay.clients.lock().insert(id, tx);
    let to_container = relay.to_container.clone();
    if to_container.send(frame(OPEN, id, &[])).is_err() {
        relay.clients.lock().remove(&id);
        return;
    }
    let (mut read, mut write) = socket.into_split();
    tokio::spawn(async move {
        let mut buf = vec![0u8; CHUNK];
        loop {
            match read.read(&mut buf).await {
                Ok(0) | Err(_) => {
                    let _ = to_container.send(frame(CLOSE, id, &[]));
                    break;
                }
                Ok(n) => {
                    if to_container.send(frame(DATA, id, &buf[..n])).is_err() {
                        break;
                    }
                }
            }
        }
    });
    tokio::spawn(async move {
        while let Some(Some(bytes)) = rx.recv().await {
            if write.write_all(&bytes).await.is_err() {
                break;
            }
        }
        let _ = write.shutdown().await;
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_split_anywhere_reach_their_clients_whole_and_in_order() {
        let clients: Clients = Arc::default();
        let (tx, mut rx) = mpsc::unbounded_channel();
        clients.lock().insert(7, tx);
        let mut stream = frame(DATA, 7, b"hello ");
        stream.extend(frame(DATA, 8, b"not yours"));
        stream.extend(frame(DATA, 7, b"world"));
        stream.extend(frame(CLOSE, 7, &[]));
        let mut buf = Vec::new();
        // Fed three bytes at a time, as a stream may cut it.
        for piece in stream.chunks(3) {
            buf.extend_from_slice(piece);
            dispatch(&mut buf, &clients);
        }
        assert!(buf.is_empty());
        let mut got = Vec::new();
        while let Ok(Some(bytes)) = rx.try_recv() {
            got.extend(bytes);
        }
        assert_eq!(got, b"hello world");
        assert!(clients.lock().is_empty(), "a closed connection is forgotten");
    }
}
