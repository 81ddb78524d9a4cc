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
    /// A streamed completion of `text`, cut into content chunks of at most `chunk` chars.
    Stream { text: String, chunk: usize },
    /// A plain HTTP status with a JSON body and headers.
    Status {
        code: u16,
        body: String,
        headers: Vec<(String, String)>,
    },
    /// Streams `text`'s content chunks, then closes the connection without a finish reason.
    BrokenStream { text: String },
    /// Accepts the request and never answers.
    Hang,
    /// Waits, then answers with the inner reply.
    Delayed(Duration, Box<Reply>),
}

impl Reply {
    pub fn text(text: impl Into<String>) -> Self {
        Self::Stream {
            text: text.into(),
            chunk: 7,
        }
    }

    pub fn status(code: u16, message: &str) -> Self {
        Self::Status {
            code,
            body: json!({"error": {"message": message, "type": "invalid_request_error"}})
                .to_string(),
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
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every message's content, joined: what the model was shown.
    pub fn prompt(&self) -> String {
        self.body["messages"]
            .as_array()
            .map(|m| {
                m.iter()
                    .filter_map(|m| m["content"].as_str())
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default()
    }
}

struct Script {
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
        Self::spawn(Script {
            replies: replies.into(),
            repeat: None,
            requests: Vec::new(),
        })
    }

    /// Answers every request with `reply`.
    pub fn repeating(reply: Reply) -> Self {
        Self::spawn(Script {
            replies: VecDeque::new(),
            repeat: Some(reply),
            requests: Vec::new(),
        })
    }

    fn spawn(script: Script) -> Self {
        let script = Arc::new(Mutex::new(script));
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (shutdown, mut shutdown_rx) = tokio::sync::oneshot::channel::<()>();
        let shared = script.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
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
        Self {
            addr,
            script,
            _shutdown: shutdown,
        }
    }

    /// The base URL to configure, as OPENAI_BASE_URL takes it (`http://127.0.0.1:PORT/v1`).
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.script.lock().unwrap().requests.clone()
    }
}

async fn serve(mut stream: TcpStream, script: Arc<Mutex<Script>>) {
    let Some(request) = read_request(&mut stream).await else {
        return;
    };
    let reply = {
        let mut s = script.lock().unwrap();
        s.requests.push(request.clone());
        s.replies.pop_front().or_else(|| s.repeat.clone())
    };
    let reply =
        reply.unwrap_or_else(|| Reply::status(500, "scripted LLM: no reply left in the script"));
    let include_usage = request.body["stream_options"]["include_usage"]
        .as_bool()
        .unwrap_or(false);
    let model = request.body["model"]
        .as_str()
        .unwrap_or("scripted")
        .to_owned();
    answer(&mut stream, reply, include_usage, &model).await;
}

async fn answer(stream: &mut TcpStream, reply: Reply, include_usage: bool, model: &str) {
    let mut reply = reply;
    while let Reply::Delayed(d, inner) = reply {
        tokio::time::sleep(d).await;
        reply = *inner;
    }
    match reply {
        Reply::Delayed(..) => unreachable!(),
        Reply::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
        Reply::Status {
            code,
            body,
            headers,
        } => {
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
        Reply::Stream { text, chunk } => {
            write_stream(stream, &text, chunk, model, include_usage, true).await;
        }
        Reply::BrokenStream { text } => {
            write_stream(stream, &text, 7, model, false, false).await;
        }
    }
    let _ = stream.shutdown().await;
}

async fn write_stream(
    stream: &mut TcpStream,
    text: &str,
    chunk: usize,
    model: &str,
    usage: bool,
    finish: bool,
) {
    let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\nconnection: close\r\n\r\n";
    if stream.write_all(head.as_bytes()).await.is_err() {
        return;
    }
    let frame = |v: Value| format!("data: {v}\n\n");
    let base = |choices: Value| json!({"id": "chatcmpl-scripted", "object": "chat.completion.chunk", "created": 0, "model": model, "choices": choices});
    let mut frames = vec![frame(base(
        json!([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}]),
    ))];
    let chars: Vec<char> = text.chars().collect();
    for piece in chars.chunks(chunk.max(1)) {
        let piece: String = piece.iter().collect();
        frames.push(frame(base(
            json!([{"index": 0, "delta": {"content": piece}, "finish_reason": null}]),
        )));
    }
    if finish {
        frames.push(frame(base(
            json!([{"index": 0, "delta": {}, "finish_reason": "stop"}]),
        )));
        if usage {
            let completion = chars.len().div_ceil(4);
            let mut u = base(json!([]));
            u["usage"] = json!({"prompt_tokens": 42, "completion_tokens": completion, "total_tokens": 42 + completion});
            frames.push(frame(u));
        }
        frames.push("data: [DONE]\n\n".to_owned());
    }
    for f in frames {
        if stream.write_all(f.as_bytes()).await.is_err() {
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
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
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
    Some(RecordedRequest {
        method,
        path,
        headers,
        body,
    })
}
