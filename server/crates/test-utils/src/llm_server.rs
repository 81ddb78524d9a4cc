//! A scripted LLM server on 127.0.0.1 that speaks the OpenAI Chat Completions wire format over real HTTP:
//! real SSE frames (a role chunk, content chunks, a finish_reason chunk, a usage chunk when the request
//! asks for one, `data: [DONE]`), real status codes and headers, real broken connections.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the server answers to one request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A completion of `text` in the format the request asked for: OpenAI Chat Completions or Anthropic
    /// Messages (by path), streamed as server-sent events when the request says `"stream": true`, else one
    /// JSON body.
    Text { text: String, style: Style },
    /// A plain HTTP status with a body and headers.
    Status { code: u16, body: String, headers: Vec<(String, String)> },
    /// Streams `text`'s content events, then ends the connection without finishing: a clean close, or a
    /// TCP reset when `reset`.
    Broken { text: String, reset: bool },
    /// A 200 with event-stream headers and exactly these bytes as the body.
    RawSse(String),
    /// A 200 JSON response whose body is `bytes` long.
    Huge { bytes: usize },
    /// Accepts the request and never answers.
    Hang,
    /// Waits, then answers with the inner reply.
    Delayed(Duration, Box<Reply>),
}

/// How a streamed reply is framed, to exercise every form the providers use.
#[derive(Debug, Clone)]
pub struct Style {
    /// Content characters per event.
    pub chunk: usize,
    /// CRLF line endings instead of LF.
    pub crlf: bool,
    /// SSE comment lines (`: keep-alive`) between events.
    pub comments: bool,
    /// OpenAI: the first chunk carries the role and the first content (some servers do); else the role
    /// alone, as OpenAI does.
    pub role_with_content: bool,
    /// Anthropic: ping events between deltas.
    pub pings: bool,
    pub prompt_tokens: u64,
    /// Of `prompt_tokens`, those the provider says its prompt cache served.
    pub cached_tokens: u64,
}

impl Default for Style {
    fn default() -> Self {
        Self {
            chunk: 7,
            crlf: false,
            comments: false,
            role_with_content: false,
            pings: true,
            prompt_tokens: 42,
            cached_tokens: 0,
        }
    }
}

impl Reply {
    pub fn text(text: impl Into<String>) -> Self {
        Self::Text { text: text.into(), style: Style::default() }
    }

    pub fn styled(text: impl Into<String>, style: Style) -> Self {
        Self::Text { text: text.into(), style }
    }

    pub fn status(code: u16, message: &str) -> Self {
        Self::Status {
            code,
            body: json!({"error": {"message": message, "type": "invalid_request_error"}}).to_string(),
            headers: vec![],
        }
    }
}

/// A request the server received.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

impl RecordedRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The content of the last user message.
    pub fn last_user_message(&self) -> String {
        self.body["messages"]
            .as_array()
            .and_then(|m| m.iter().rev().find(|m| m["role"] == "user"))
            .and_then(|m| m["content"].as_str())
            .unwrap_or_default()
            .to_owned()
    }

    /// Every message's content, joined: what the model was shown.
    pub fn prompt(&self) -> String {
        self.body["messages"]
            .as_array()
            .map(|m| m.iter().filter_map(|m| m["content"].as_str()).collect::<Vec<_>>().join("\n"))
            .unwrap_or_default()
    }
}

struct Script {
    /// Replies chosen by what the request says: the first unused route whose key is in the request's
    /// last user message answers it (each route answers once). Tried before `replies`.
    routes: Vec<(String, Reply, bool)>,
    replies: VecDeque<Reply>,
    /// Answers every request once `replies` is empty.
    repeat: Option<Reply>,
    requests: Vec<RecordedRequest>,
}

/// The running server; it stops when dropped.
pub struct ScriptedLlm {
    addr: SocketAddr,
    script: Arc<Mutex<Script>>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

impl ScriptedLlm {
    /// Answers the requests in order with `replies`; past the end, with a 500 that says the script ran out.
    pub fn start(replies: Vec<Reply>) -> Self {
        Self::spawn(Script { routes: Vec::new(), replies: replies.into(), repeat: None, requests: Vec::new() })
    }

    /// Answers each request with the first unused route whose key appears in its last user message (or, for
    /// a key `body:...`, in its JSON body), so requests made in parallel get the right replies whatever
    /// their order; past the routes, with a 500 that names the request.
    pub fn routed(routes: Vec<(&str, Reply)>) -> Self {
        let routes = routes.into_iter().map(|(k, r)| (k.to_owned(), r, false)).collect();
        Self::spawn(Script { routes, replies: VecDeque::new(), repeat: None, requests: Vec::new() })
    }

    /// Answers every request with `reply`.
    pub fn repeating(reply: Reply) -> Self {
        Self::spawn(Script { routes: Vec::new(), replies: VecDeque::new(), repeat: Some(reply), requests: Vec::new() })
    }

    fn spawn(script: Script) -> Self {
        let script = Arc::new(Mutex::new(script));
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (shutdown, mut shutdown_rx) = tokio::sync::oneshot::channel::<()>();
        let shared = script.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
                addr_tx.send(listener.local_addr().unwrap()).unwrap();
                loop {
                    tokio::select! {
                        _ = &mut shutdown_rx => break,
                        accepted = listener.accept() => {
                            let Ok((stream, _)) = accepted else { continue };
                            tokio::spawn(serve(stream, shared.clone()));
                        }
                    }
                }
            });
        });
        let addr = addr_rx.recv().unwrap();
        Self { addr, script, _shutdown: shutdown }
    }

    /// The base URL to configure, as OPENAI_BASE_URL takes it (`http://127.0.0.1:PORT/v1`).
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// The base URL as ANTHROPIC_BASE_URL takes it (`http://127.0.0.1:PORT`; `/v1/messages` is appended).
    pub fn anthropic_base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.script.lock().unwrap().requests.clone()
    }
}

async fn serve(mut stream: TcpStream, script: Arc<Mutex<Script>>) {
    let Some(request) = read_request(&mut stream).await else { return };
    let reply = {
        let mut s = script.lock().unwrap();
        s.requests.push(request.clone());
        let last_user = request.last_user_message();
        let body = request.body.to_string();
        // A key `body:...` is looked for in the request's JSON body (`body:"seed":2`: the third draw).
        let matches = |key: &str| match key.strip_prefix("body:") {
            Some(part) => body.contains(part),
            None => last_user.contains(key),
        };
        let routed = s.routes.iter_mut().find(|(key, _, used)| !used && matches(key.as_str())).map(|route| {
            route.2 = true;
            route.1.clone()
        });
        routed.or_else(|| s.replies.pop_front()).or_else(|| s.repeat.clone())
    };
    let reply = reply.unwrap_or_else(|| {
        let asked: String =
            request.last_user_message().chars().rev().take(300).collect::<Vec<_>>().into_iter().rev().collect();
        Reply::status(500, &format!("scripted LLM: no reply left in the script for a request ending: {asked}"))
    });
    answer(&mut stream, reply, &request).await;
}

/// The wire format a request speaks.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    OpenAi,
    Anthropic,
}

async fn answer(stream: &mut TcpStream, reply: Reply, request: &RecordedRequest) {
    let mut reply = reply;
    while let Reply::Delayed(d, inner) = reply {
        tokio::time::sleep(d).await;
        reply = *inner;
    }
    let format = if request.path.ends_with("/messages") { Format::Anthropic } else { Format::OpenAi };
    let streamed = request.body["stream"].as_bool().unwrap_or(false);
    let include_usage = request.body["stream_options"]["include_usage"].as_bool().unwrap_or(false);
    let model = request.body["model"].as_str().unwrap_or("scripted").to_owned();
    match reply {
        Reply::Delayed(..) => unreachable!(),
        Reply::Hang => tokio::time::sleep(Duration::from_secs(3600)).await,
        Reply::Status { code, body, headers } => {
            let mut head = format!(
                "HTTP/1.1 {code} Scripted\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
                body.len()
            );
            for (n, v) in headers {
                head.push_str(&format!("{n}: {v}\r\n"));
            }
            head.push_str("\r\n");
            let _ = stream.write_all(head.as_bytes()).await;
            let _ = stream.write_all(body.as_bytes()).await;
        }
        Reply::Text { text, style } if !streamed => {
            let body = whole_body(format, &text, &model, &style);
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes()).await;
            let _ = stream.write_all(body.as_bytes()).await;
        }
        Reply::Text { text, style } => {
            let frames = match format {
                Format::OpenAi => openai_frames(&text, &model, &style, include_usage, true),
                Format::Anthropic => anthropic_frames(&text, &model, &style, true),
            };
            write_sse(stream, &frames, &style).await;
        }
        Reply::Broken { text, reset } => {
            let style = Style::default();
            let frames = match format {
                Format::OpenAi => openai_frames(&text, &model, &style, false, false),
                Format::Anthropic => anthropic_frames(&text, &model, &style, false),
            };
            write_sse(stream, &frames, &style).await;
            if reset {
                // SO_LINGER 0: closing sends RST instead of FIN (and, at zero, never blocks).
                #[allow(deprecated)]
                let _ = stream.set_linger(Some(Duration::ZERO));
                return;
            }
        }
        Reply::RawSse(body) => {
            let _ = stream.write_all(SSE_HEAD.as_bytes()).await;
            let _ = stream.write_all(body.as_bytes()).await;
        }
        Reply::Huge { bytes } => {
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {bytes}\r\nconnection: close\r\n\r\n"
            );
            let _ = stream.write_all(head.as_bytes()).await;
            let block = vec![b' '; 64 * 1024];
            let mut left = bytes;
            while left > 0 {
                let n = left.min(block.len());
                if stream.write_all(&block[..n]).await.is_err() {
                    break;
                }
                left -= n;
            }
        }
    }
    let _ = stream.shutdown().await;
}

const SSE_HEAD: &str =
    "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\nconnection: close\r\n\r\n";

fn pieces(text: &str, chunk: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    chars.chunks(chunk.max(1)).map(|p| p.iter().collect()).collect()
}

fn js(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

/// OpenAI's chunks, shaped as its API reference shows them (including its spacing).
fn openai_frames(text: &str, model: &str, style: &Style, usage: bool, finish: bool) -> Vec<String> {
    let head = format!(
        r#"{{"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,"model":{}, "system_fingerprint": "fp_44709d6fcb", "choices":"#,
        js(model)
    );
    let chunk = |delta: String, finish: &str| {
        format!(r#"data: {head}[{{"index":0,"delta":{delta},"logprobs":null,"finish_reason":{finish}}}]}}"#)
    };
    let mut parts = pieces(text, style.chunk).into_iter();
    let mut frames = Vec::new();
    if style.role_with_content {
        let first = parts.next().unwrap_or_default();
        frames.push(chunk(format!(r#"{{"role":"assistant","content":{}}}"#, js(&first)), "null"));
    } else {
        frames.push(chunk(r#"{"role":"assistant","content":""}"#.to_owned(), "null"));
    }
    for part in parts {
        frames.push(chunk(format!(r#"{{"content":{}}}"#, js(&part)), "null"));
    }
    if finish {
        frames.push(chunk("{}".to_owned(), r#""stop""#));
        if usage {
            let completion = text.chars().count().div_ceil(4) as u64;
            frames.push(format!(
                r#"data: {head}[],"usage":{{"prompt_tokens":{},"completion_tokens":{completion},"total_tokens":{},"prompt_tokens_details":{{"cached_tokens":{}}}}}}}"#,
                style.prompt_tokens,
                style.prompt_tokens + completion,
                style.cached_tokens
            ));
        }
        frames.push("data: [DONE]".to_owned());
    }
    frames
}

/// Anthropic's events, shaped as its streaming documentation shows them.
fn anthropic_frames(text: &str, model: &str, style: &Style, finish: bool) -> Vec<String> {
    let mut frames = vec![
        format!(
            r#"event: message_start
data: {{"type": "message_start", "message": {{"id": "msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY", "type": "message", "role": "assistant", "content": [], "model": {}, "stop_reason": null, "stop_sequence": null, "usage": {{"input_tokens": {}, "cache_read_input_tokens": {}, "output_tokens": 1}}}}}}"#,
            js(model),
            style.prompt_tokens - style.cached_tokens,
            style.cached_tokens
        ),
        r#"event: content_block_start
data: {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}"#
            .to_owned(),
    ];
    for (i, part) in pieces(text, style.chunk).into_iter().enumerate() {
        if style.pings && i == 1 {
            frames.push("event: ping\ndata: {\"type\": \"ping\"}".to_owned());
        }
        frames.push(format!(
            "event: content_block_delta\ndata: {{\"type\": \"content_block_delta\", \"index\": 0, \"delta\": {{\"type\": \"text_delta\", \"text\": {}}}}}",
            js(&part)
        ));
    }
    if finish {
        let output = text.chars().count().div_ceil(4);
        frames.push("event: content_block_stop\ndata: {\"type\": \"content_block_stop\", \"index\": 0}".to_owned());
        frames.push(format!(
            "event: message_delta\ndata: {{\"type\": \"message_delta\", \"delta\": {{\"stop_reason\": \"end_turn\", \"stop_sequence\":null}}, \"usage\": {{\"output_tokens\": {output}}}}}"
        ));
        frames.push("event: message_stop\ndata: {\"type\": \"message_stop\"}".to_owned());
    }
    frames
}

fn whole_body(format: Format, text: &str, model: &str, style: &Style) -> String {
    let completion = text.chars().count().div_ceil(4) as u64;
    match format {
        Format::OpenAi => json!({
            "id": "chatcmpl-123", "object": "chat.completion", "created": 1694268190, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "logprobs": null, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": style.prompt_tokens, "completion_tokens": completion, "total_tokens": style.prompt_tokens + completion, "prompt_tokens_details": {"cached_tokens": style.cached_tokens}},
        }),
        Format::Anthropic => json!({
            "id": "msg_01", "type": "message", "role": "assistant", "model": model,
            "content": [{"type": "text", "text": text}], "stop_reason": "end_turn", "stop_sequence": null,
            "usage": {"input_tokens": style.prompt_tokens - style.cached_tokens, "cache_read_input_tokens": style.cached_tokens, "output_tokens": completion},
        }),
    }
    .to_string()
}

async fn write_sse(stream: &mut TcpStream, frames: &[String], style: &Style) {
    if stream.write_all(SSE_HEAD.as_bytes()).await.is_err() {
        return;
    }
    let eol = if style.crlf { "\r\n" } else { "\n" };
    for (i, frame) in frames.iter().enumerate() {
        let mut bytes = String::new();
        if style.comments && i % 2 == 1 {
            bytes.push_str(&format!(": keep-alive{eol}{eol}"));
        }
        bytes.push_str(&frame.replace('\n', eol));
        bytes.push_str(eol);
        bytes.push_str(eol);
        if stream.write_all(bytes.as_bytes()).await.is_err() {
            return;
        }
        let _ = stream.flush().await;
    }
}

async fn read_request(stream: &mut TcpStream) -> Option<RecordedRequest> {
    let mut buf = Vec::new();
    let mut tmp = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut tmp).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&tmp[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_owned();
    let path = first.next()?.to_owned();
    let headers: Vec<(String, String)> =
        lines.filter_map(|l| l.split_once(':')).map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned())).collect();
    let len: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < len {
        let n = stream.read(&mut tmp).await.ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&tmp[..n]);
    }
    let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
    Some(RecordedRequest { method, path, headers, body })
}
