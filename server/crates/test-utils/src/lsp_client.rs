//! An LSP client that drives the real `samokoder` binary over stdio, the way an editor does: it frames
//! JSON-RPC, answers the server's requests (applying workspace edits to its own buffers, like Neovim,
//! without saving them), and lets a test wait for what the server sends, always with a timeout.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::{Notify, oneshot};

/// How the client answers `workspace/applyEdit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplyMode {
    /// Applies the edit to its buffers (never to disk) and answers `applied: true`.
    Apply,
    /// Answers `applied: false` with a reason, changing nothing.
    Refuse,
    /// Never answers, like a wedged or buggy client.
    Never,
}

#[derive(Debug, Clone)]
pub struct ClientOptions {
    pub root: PathBuf,
    /// Offered in `general.positionEncodings`; empty offers nothing (so UTF-16).
    pub position_encodings: Vec<String>,
    pub apply: ApplyMode,
    pub env: Vec<(String, String)>,
    pub initialization_options: Value,
    /// Answered to `workspace/configuration` for the `samokoder` section.
    pub settings: Value,
    /// Every request from the server is answered this late (a user reading eglot's "Proceed?").
    pub answer_delay: Option<Duration>,
    /// Answers to `samokoder/ask`, in order; when not empty the client announces
    /// `experimental.samokoderAsk`.
    pub ask_answers: Vec<String>,
    /// Requests from the server this client never answers (a user who walked away); `samokoder/ask` among
    /// them makes the client announce `experimental.samokoderAsk`.
    pub never_answers: Vec<String>,
    /// Requests from the server this client answers with an error (a token it will not create).
    pub refuses: Vec<String>,
}

impl ClientOptions {
    pub fn new(root: &Path) -> Self {
        Self {
            root: root.to_owned(),
            position_encodings: vec![],
            apply: ApplyMode::Apply,
            env: vec![],
            initialization_options: Value::Null,
            settings: Value::Null,
            answer_delay: None,
            ask_answers: vec![],
            never_answers: vec![],
            refuses: vec![],
        }
    }
}

struct Shared {
    /// `None` once the test closed the server's stdin.
    writer: tokio::sync::Mutex<Option<ChildStdin>>,
    pending: Mutex<HashMap<i64, oneshot::Sender<Value>>>,
    /// Every notification and request the server sent, in order.
    inbox: Mutex<Vec<Value>>,
    arrived: Notify,
    /// What the client holds: open documents and applied edits, by URI.
    buffers: Mutex<BTreeMap<String, String>>,
    /// Documents opened with didOpen, and their versions: an edit to one is announced with didChange.
    open: Mutex<BTreeMap<String, i32>>,
    encoding: Mutex<String>,
    apply: ApplyMode,
    settings: Value,
    answer_delay: Option<Duration>,
    ask_answers: Mutex<std::collections::VecDeque<String>>,
    never_answers: Vec<String>,
    refuses: Vec<String>,
    /// Anything on stdout that is not a framed JSON-RPC message.
    violations: Mutex<Vec<String>>,
}

pub struct LspClient {
    child: Child,
    shared: Arc<Shared>,
    next_id: AtomicI64,
    options: ClientOptions,
    pub stderr_log: PathBuf,
    pub timeout: Duration,
}

impl LspClient {
    /// Spawns `bin args...` in `options.root` with `options.env`; stderr goes to a log file.
    pub fn spawn(bin: &Path, args: &[&str], options: ClientOptions) -> Result<Self> {
        let stderr_log = std::env::temp_dir().join(format!(
            "samokoder-it-{}-{}.log",
            std::process::id(),
            NEXT_LOG.fetch_add(1, Ordering::Relaxed)
        ));
        let stderr = std::fs::File::create(&stderr_log)?;
        let mut cmd = Command::new(bin);
        cmd.args(args)
            .current_dir(&options.root)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .kill_on_drop(true);
        // The developer's own keys and endpoints must not leak into a test.
        for var in [
            "OPENAI_API_KEY",
            "OPENAI_BASE_URL",
            "ANTHROPIC_API_KEY",
            "ANTHROPIC_BASE_URL",
            "GROQ_API_KEY",
            "SAMOKODER_MODEL",
            "SAMOKODER_SANDBOX_IMAGE",
            "DOCKER_HOST",
        ] {
            if std::env::var_os(var).is_some() && var == "DOCKER_HOST" {
                continue; // a remote engine is how this machine reaches Docker
            }
            cmd.env_remove(var);
        }
        for (k, v) in &options.env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().with_context(|| format!("spawning {}", bin.display()))?;
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let shared = Arc::new(Shared {
            writer: tokio::sync::Mutex::new(Some(stdin)),
            pending: Mutex::new(HashMap::new()),
            inbox: Mutex::new(Vec::new()),
            arrived: Notify::new(),
            buffers: Mutex::new(BTreeMap::new()),
            open: Mutex::new(BTreeMap::new()),
            encoding: Mutex::new("utf-16".into()),
            apply: options.apply,
            settings: options.settings.clone(),
            answer_delay: options.answer_delay,
            never_answers: options.never_answers.clone(),
            refuses: options.refuses.clone(),
            ask_answers: Mutex::new(options.ask_answers.iter().cloned().collect()),
            violations: Mutex::new(Vec::new()),
        });
        tokio::spawn(read_loop(stdout, shared.clone()));
        Ok(Self { child, shared, next_id: AtomicI64::new(1), options, stderr_log, timeout: Duration::from_secs(20) })
    }

    /// `initialize` + `initialized`; returns the initialize result.
    pub async fn initialize(&self) -> Result<Value> {
        let root_uri = file_uri(&self.options.root);
        let mut general = json!({});
        if !self.options.position_encodings.is_empty() {
            general["positionEncodings"] = json!(self.options.position_encodings);
        }
        let params = json!({
            "processId": std::process::id(),
            "rootUri": root_uri,
            "workspaceFolders": [{"uri": root_uri, "name": "ws"}],
            "initializationOptions": self.options.initialization_options,
            "capabilities": {
                "general": general,
                "workspace": {
                    "applyEdit": true,
                    "workspaceEdit": {"documentChanges": true, "resourceOperations": ["create", "rename", "delete"]},
                    "configuration": true,
                    "executeCommand": {"dynamicRegistration": false},
                },
                "window": {"workDoneProgress": true, "showDocument": {"support": true}},
                "experimental": {"samokoderAsk": !self.options.ask_answers.is_empty()
                    || self.options.never_answers.iter().any(|m| m == "samokoder/ask")},
                "textDocument": {
                    "synchronization": {"didSave": true},
                    "codeAction": {"codeActionLiteralSupport": {"codeActionKind": {"valueSet": ["", "quickfix", "refactor", "refactor.rewrite", "source"]}}},
                    "publishDiagnostics": {"relatedInformation": true},
                },
            },
        });
        let result = self.request("initialize", params).await?;
        if let Some(enc) = result["capabilities"]["positionEncoding"].as_str() {
            *self.shared.encoding.lock().unwrap() = enc.to_owned();
        }
        self.notify("initialized", json!({})).await?;
        Ok(result)
    }

    /// Sends a request and waits for its response; an error response is an `Err` holding the error object.
    pub async fn request(&self, method: &str, params: Value) -> Result<Value> {
        let response = self.request_raw(method, params).await?;
        if let Some(err) = response.get("error") {
            bail!("{method} failed: {err}");
        }
        Ok(response["result"].clone())
    }

    /// Sends a request and returns the whole response message.
    pub async fn request_raw(&self, method: &str, params: Value) -> Result<Value> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.shared.pending.lock().unwrap().insert(id, tx);
        send(&self.shared, json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})).await?;
        tokio::time::timeout(self.timeout, rx)
            .await
            .map_err(|_| {
                anyhow!("no answer to {method} within {:?}; server log: {}", self.timeout, self.stderr_log.display())
            })?
            .map_err(|_| anyhow!("the server closed before answering {method}"))
    }

    pub async fn notify(&self, method: &str, params: Value) -> Result<()> {
        send(&self.shared, json!({"jsonrpc": "2.0", "method": method, "params": params})).await
    }

    /// Writes raw bytes to the server's stdin (for malformed-input tests).
    pub async fn send_raw(&self, bytes: &[u8]) -> Result<()> {
        let mut guard = self.shared.writer.lock().await;
        let w = guard.as_mut().context("stdin is closed")?;
        w.write_all(bytes).await?;
        w.flush().await?;
        Ok(())
    }

    /// Waits for a notification or request from the server that satisfies `pred` (already received ones
    /// count), up to `timeout`.
    pub async fn wait_for(&self, timeout: Duration, what: &str, pred: impl Fn(&Value) -> bool) -> Result<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let notified = self.shared.arrived.notified();
            if let Some(found) = self.shared.inbox.lock().unwrap().iter().find(|m| pred(m)) {
                return Ok(found.clone());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || tokio::time::timeout(left, notified).await.is_err() {
                let methods: Vec<String> = self.messages().iter().map(|m| m["method"].to_string()).collect();
                bail!(
                    "timed out after {timeout:?} waiting for {what}; received: {}; server log: {}",
                    methods.join(", "),
                    self.stderr_log.display()
                );
            }
        }
    }

    /// Waits for a notification with this method whose params satisfy `pred`.
    pub async fn wait_notification(
        &self,
        method: &str,
        timeout: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Result<Value> {
        let found = self
            .wait_for(timeout, method, |m| m["method"] == method && m.get("id").is_none() && pred(&m["params"]))
            .await?;
        Ok(found["params"].clone())
    }

    /// Everything the server sent that was not a response.
    /// The server's process id (for measuring it).
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    pub fn messages(&self) -> Vec<Value> {
        self.shared.inbox.lock().unwrap().clone()
    }

    /// The client's buffer for a workspace-relative path, if it holds one.
    pub fn buffer(&self, rel: &str) -> Option<String> {
        self.shared.buffers.lock().unwrap().get(&self.uri(rel)).cloned()
    }

    pub fn uri(&self, rel: &str) -> String {
        file_uri(&self.options.root.join(rel))
    }

    /// The negotiated position encoding ("utf-8" or "utf-16").
    pub fn encoding(&self) -> String {
        self.shared.encoding.lock().unwrap().clone()
    }

    pub fn stdout_violations(&self) -> Vec<String> {
        self.shared.violations.lock().unwrap().clone()
    }

    pub async fn did_open(&self, rel: &str, language: &str, text: &str) -> Result<()> {
        self.shared.buffers.lock().unwrap().insert(self.uri(rel), text.to_owned());
        self.shared.open.lock().unwrap().insert(self.uri(rel), 1);
        self.notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": self.uri(rel), "languageId": language, "version": 1, "text": text}}),
        )
        .await
    }

    /// Sends one incremental change; `range` is `[start_line, start_char, end_line, end_char]` in the
    /// negotiated encoding.
    pub async fn did_change(&self, rel: &str, version: i32, range: [u32; 4], text: &str) -> Result<()> {
        let [l1, c1, l2, c2] = range;
        if let Some(known) = self.shared.open.lock().unwrap().get_mut(&self.uri(rel)) {
            *known = (*known).max(version);
        }
        // The user's typing lands in the client's buffer too.
        if let Some(buffer) = self.shared.buffers.lock().unwrap().get_mut(&self.uri(rel)) {
            let encoding = self.shared.encoding.lock().unwrap().clone();
            let start = offset(buffer, &json!({"line": l1, "character": c1}), &encoding)?;
            let end = offset(buffer, &json!({"line": l2, "character": c2}), &encoding)?;
            buffer.replace_range(start..end, text);
        }
        self.notify(
            "textDocument/didChange",
            json!({
                "textDocument": {"uri": self.uri(rel), "version": version},
                "contentChanges": [{"range": {"start": {"line": l1, "character": c1}, "end": {"line": l2, "character": c2}}, "text": text}],
            }),
        )
        .await
    }

    /// `shutdown`, then `exit`; returns the exit status.
    pub async fn shutdown_and_exit(mut self) -> Result<ExitStatus> {
        self.request("shutdown", Value::Null).await?;
        self.notify("exit", Value::Null).await?;
        self.wait_exit().await
    }

    /// Waits for the process to end (after `exit`, or a closed stdin).
    pub async fn wait_exit(&mut self) -> Result<ExitStatus> {
        tokio::time::timeout(self.timeout, self.child.wait())
            .await
            .map_err(|_| anyhow!("the server did not exit within {:?}", self.timeout))?
            .map_err(Into::into)
    }

    /// Closes the server's stdin, as an editor that dies does.
    pub async fn close_stdin(&self) -> Result<()> {
        // Dropping the pipe's write end is what closes it.
        drop(self.shared.writer.lock().await.take());
        Ok(())
    }

    pub fn server_log(&self) -> String {
        std::fs::read_to_string(&self.stderr_log).unwrap_or_default()
    }
}

static NEXT_LOG: AtomicI64 = AtomicI64::new(0);

pub fn file_uri(path: &Path) -> String {
    let mut out = String::from("file://");
    for b in path.to_string_lossy().bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

async fn send(shared: &Shared, msg: Value) -> Result<()> {
    let body = msg.to_string();
    let mut guard = shared.writer.lock().await;
    let w = guard.as_mut().context("stdin is closed")?;
    w.write_all(format!("Content-Length: {}\r\n\r\n{body}", body.len()).as_bytes()).await?;
    w.flush().await?;
    Ok(())
}

async fn read_loop(stdout: ChildStdout, shared: Arc<Shared>) {
    let mut reader = BufReader::new(stdout);
    loop {
        let mut len = None;
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line).await {
                Ok(0) | Err(_) => {
                    shared.arrived.notify_waiters();
                    return;
                }
                Ok(_) => {}
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            match line.split_once(':') {
                Some((name, value)) if name.eq_ignore_ascii_case("content-length") => len = value.trim().parse().ok(),
                Some((name, _)) if name.eq_ignore_ascii_case("content-type") => {}
                _ => shared.violations.lock().unwrap().push(line.to_owned()),
            }
        }
        let Some(len) = len else { continue };
        let mut body = vec![0; len];
        if reader.read_exact(&mut body).await.is_err() {
            return;
        }
        let Ok(msg) = serde_json::from_slice::<Value>(&body) else {
            shared.violations.lock().unwrap().push(String::from_utf8_lossy(&body).into_owned());
            continue;
        };
        let is_response = msg.get("method").is_none();
        if is_response {
            let waiter = msg["id"].as_i64().and_then(|id| shared.pending.lock().unwrap().remove(&id));
            match waiter {
                Some(tx) => {
                    let _ = tx.send(msg);
                }
                None => {
                    // A response to nothing we sent (an error for a malformed message has id null).
                    shared.inbox.lock().unwrap().push(msg);
                    shared.arrived.notify_waiters();
                }
            }
            continue;
        }
        let ignored = msg["method"].as_str().is_some_and(|m| shared.never_answers.iter().any(|n| n == m));
        if msg.get("id").is_some() && !ignored {
            match shared.answer_delay {
                None => answer(&shared, &msg).await,
                Some(delay) => {
                    let (shared, msg) = (shared.clone(), msg.clone());
                    tokio::spawn(async move {
                        tokio::time::sleep(delay).await;
                        answer(&shared, &msg).await;
                    });
                }
            }
        }
        shared.inbox.lock().unwrap().push(msg);
        shared.arrived.notify_waiters();
    }
}

async fn answer(shared: &Shared, msg: &Value) {
    let before = shared.buffers.lock().unwrap().clone();
    let result = answer_server_request(shared, msg);
    // As editors do, an edit to an open document is announced with didChange before the answer.
    let changed: Vec<(String, String, i32)> = {
        let buffers = shared.buffers.lock().unwrap();
        let mut open = shared.open.lock().unwrap();
        open.iter_mut()
            .filter_map(|(uri, version)| {
                let now = buffers.get(uri)?;
                (before.get(uri) != Some(now)).then(|| {
                    *version += 1;
                    (uri.clone(), now.clone(), *version)
                })
            })
            .collect()
    };
    for (uri, text, version) in changed {
        let _ = send(
            shared,
            json!({"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {
                "textDocument": {"uri": uri, "version": version}, "contentChanges": [{"text": text}]}}),
        )
        .await;
    }
    if msg["method"].as_str().is_some_and(|m| shared.refuses.iter().any(|r| r == m)) {
        let error = json!({"code": -32603, "message": "this client refuses that request"});
        let _ = send(shared, json!({"jsonrpc": "2.0", "id": msg["id"], "error": error})).await;
    } else if let Some(result) = result {
        let _ = send(shared, json!({"jsonrpc": "2.0", "id": msg["id"], "result": result})).await;
    }
}

/// The client's answer to a server request; `None` leaves it unanswered.
fn answer_server_request(shared: &Shared, msg: &Value) -> Option<Value> {
    let params = &msg["params"];
    match msg["method"].as_str().unwrap_or("") {
        "workspace/applyEdit" => match shared.apply {
            ApplyMode::Never => None,
            ApplyMode::Refuse => Some(json!({"applied": false, "failureReason": "the user declined the edit"})),
            ApplyMode::Apply => Some(match apply_workspace_edit(shared, &params["edit"]) {
                Ok(()) => json!({"applied": true}),
                Err(e) => json!({"applied": false, "failureReason": e.to_string()}),
            }),
        },
        "window/showDocument" => Some(json!({"success": true})),
        "samokoder/ask" => {
            let answer = shared.ask_answers.lock().unwrap().pop_front();
            Some(json!({"answer": answer}))
        }
        "workspace/configuration" => {
            let items = params["items"].as_array().map(|a| a.len()).unwrap_or(0);
            Some(Value::Array(vec![shared.settings.clone(); items]))
        }
        _ => Some(Value::Null),
    }
}

fn apply_workspace_edit(shared: &Shared, edit: &Value) -> Result<()> {
    let encoding = shared.encoding.lock().unwrap().clone();
    let mut buffers = shared.buffers.lock().unwrap();
    // Work on a copy so a failed edit changes nothing, as clients do.
    let mut next = buffers.clone();
    for change in edit["documentChanges"].as_array().cloned().unwrap_or_default() {
        match change["kind"].as_str() {
            Some("create") => {
                let uri = change["uri"].as_str().context("create without uri")?.to_owned();
                let exists = next.contains_key(&uri) || Path::new(uri_path(&uri).as_str()).exists();
                let overwrite = change["options"]["overwrite"].as_bool().unwrap_or(false);
                let ignore = change["options"]["ignoreIfExists"].as_bool().unwrap_or(false);
                if exists && !overwrite && !ignore {
                    bail!("{uri} already exists");
                }
                if !exists || overwrite {
                    next.insert(uri, String::new());
                }
            }
            Some("delete") => {
                let uri = change["uri"].as_str().context("delete without uri")?.to_owned();
                next.remove(&uri);
                // A file the client never opened lives on disk: the client deletes it there.
                let path = uri_path(&uri);
                if Path::new(&path).exists() {
                    std::fs::remove_file(&path)?;
                }
            }
            Some(other) => bail!("unsupported resource operation {other}"),
            None => {
                let uri = change["textDocument"]["uri"].as_str().context("edit without uri")?.to_owned();
                // As VS Code does: an edit for another version of an open document is refused.
                let held = shared.open.lock().unwrap().get(&uri).copied();
                if let (Some(wanted), Some(held)) = (change["textDocument"]["version"].as_i64(), held)
                    && wanted != i64::from(held)
                {
                    bail!("{uri} is at version {held}, and the edit is for version {wanted}");
                }
                let base = match next.get(&uri) {
                    Some(text) => text.clone(),
                    None => std::fs::read_to_string(uri_path(&uri)).unwrap_or_default(),
                };
                let mut edits = change["edits"].as_array().cloned().unwrap_or_default();
                let mut ranges = Vec::new();
                for e in &edits {
                    let start = offset(&base, &e["range"]["start"], &encoding)?;
                    let end = offset(&base, &e["range"]["end"], &encoding)?;
                    ranges.push((start, end));
                }
                let mut order: Vec<usize> = (0..edits.len()).collect();
                order.sort_by_key(|&i| std::cmp::Reverse(ranges[i]));
                let mut text = base;
                for i in order {
                    let (s, e) = ranges[i];
                    text.replace_range(s..e, edits[i]["newText"].as_str().unwrap_or(""));
                }
                edits.clear();
                next.insert(uri, text);
            }
        }
    }
    *buffers = next;
    Ok(())
}

fn uri_path(uri: &str) -> String {
    let raw = uri.strip_prefix("file://").unwrap_or(uri);
    let bytes = raw.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&raw[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Byte offset of an LSP position, counted independently of the server's code.
fn offset(text: &str, pos: &Value, encoding: &str) -> Result<usize> {
    let line = pos["line"].as_u64().context("position without line")? as usize;
    let character = pos["character"].as_u64().context("position without character")? as usize;
    let mut start = 0;
    for _ in 0..line {
        match text[start..].find('\n') {
            Some(i) => start += i + 1,
            None => return Ok(text.len()),
        }
    }
    let line_text = text[start..].split('\n').next().unwrap_or("").trim_end_matches('\r');
    let mut units = 0;
    for (i, ch) in line_text.char_indices() {
        if units >= character {
            return Ok(start + i);
        }
        units += if encoding == "utf-8" { ch.len_utf8() } else { ch.len_utf16() };
    }
    Ok(start + line_text.len())
}
