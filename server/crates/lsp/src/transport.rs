//! The stdio transport in front of tower-lsp. tower-lsp's reader stops for good after one undecodable
//! message (tokio-util ends a framed stream after a decode error), so a single malformed message from an
//! editor would silently kill the session. Here every frame is read and checked first: a well-formed
//! JSON-RPC message goes on to tower-lsp, anything else is answered with a JSON-RPC error (parse error, or
//! invalid request) and the session goes on; `framing` finds the next frame after a broken one. Output is forwarded frame by frame, so our error responses
//! never split one of tower-lsp's messages. Nothing but framed JSON-RPC reaches stdout.

use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, DuplexStream};
use tokio::sync::mpsc;
use tower_lsp::jsonrpc::{Request, Response};

use crate::framing::{Frame, FrameReader};

const PIPE_BYTES: usize = 1 << 16;

/// Starts the proxy tasks; returns the stdin and stdout tower-lsp should use.
pub(crate) fn proxy(
    stdin: impl AsyncRead + Unpin + Send + 'static,
    stdout: impl AsyncWrite + Unpin + Send + 'static,
) -> (DuplexStream, DuplexStream) {
    let (server_in, feed) = tokio::io::duplex(PIPE_BYTES);
    let (server_out, drain) = tokio::io::duplex(PIPE_BYTES);
    let (inject, injected) = mpsc::unbounded_channel::<Vec<u8>>();
    tokio::spawn(read_client(stdin, feed, inject));
    tokio::spawn(write_client(stdout, drain, injected));
    (server_in, server_out)
}

fn frame(body: &[u8]) -> Vec<u8> {
    let mut out = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    out.extend_from_slice(body);
    out
}

fn error_response(id: Value, code: i64, message: String) -> Vec<u8> {
    tracing::warn!(code, %message, "answering a malformed message with an error");
    frame(json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}}).to_string().as_bytes())
}

/// Why tower-lsp would refuse this body, if it would: the same types its codec decodes.
fn check(body: &[u8]) -> Result<(), Vec<u8>> {
    let value: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => {
            return Err(error_response(
                Value::Null,
                -32700,
                format!("parse error: the message is not JSON ({e}); it was ignored"),
            ));
        }
    };
    if serde_json::from_value::<Request>(value.clone()).is_ok()
        || serde_json::from_value::<Response>(value.clone()).is_ok()
    {
        return Ok(());
    }
    let id = value.get("id").cloned().filter(|id| id.is_number() || id.is_string()).unwrap_or(Value::Null);
    Err(error_response(
        id,
        -32600,
        "invalid request: not a JSON-RPC 2.0 request, notification or response (it needs \"jsonrpc\": \"2.0\" and a \"method\", or an \"id\" with a \"result\" or \"error\"); it was ignored".into(),
    ))
}

async fn read_client(stdin: impl AsyncRead + Unpin, mut feed: DuplexStream, inject: mpsc::UnboundedSender<Vec<u8>>) {
    let mut reader = FrameReader::new(stdin);
    loop {
        match reader.next().await {
            Frame::Eof => break,
            Frame::Broken(why) => {
                let _ = inject.send(error_response(Value::Null, -32700, format!("parse error: {why}")));
            }
            Frame::Message(body) => match check(&body) {
                Ok(()) => {
                    if feed.write_all(&frame(&body)).await.is_err() {
                        break; // the server stopped reading: it is exiting
                    }
                }
                Err(response) => {
                    let _ = inject.send(response);
                }
            },
        }
    }
    // Dropping `feed` ends tower-lsp's input.
}

async fn write_client(
    mut stdout: impl AsyncWrite + Unpin,
    drain: DuplexStream,
    mut injected: mpsc::UnboundedReceiver<Vec<u8>>,
) {
    let mut drain = FrameReader::new(drain);
    let mut server_open = true;
    loop {
        let bytes = tokio::select! {
            frame = drain.next(), if server_open => match frame {
                Frame::Message(body) => frame_bytes(body),
                Frame::Broken(why) => {
                    tracing::error!(%why, "tower-lsp wrote a malformed frame");
                    continue;
                }
                Frame::Eof => {
                    server_open = false;
                    continue;
                }
            },
            Some(bytes) = injected.recv() => bytes,
            else => break,
        };
        if stdout.write_all(&bytes).await.is_err() || stdout.flush().await.is_err() {
            break;
        }
    }
}

fn frame_bytes(body: Vec<u8>) -> Vec<u8> {
    frame(&body)
}
