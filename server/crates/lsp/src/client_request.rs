//! Requests from the server to the client, made safe to abandon.
//!
//! tower-lsp 0.20 keeps a waiter per request and panics when the client's response finds that waiter gone
//! (`Pending::insert`: "receiver already dropped"), which takes the whole server down. A waiter goes when
//! the request's future is dropped: a caller's timeout, a cancelled run, a server shutting down. So no
//! future of tower-lsp's is ever dropped here: each request runs in its own task until the client answers,
//! and callers wait on that task's result with their own timeout or cancellation, free to walk away. An
//! answer that comes after its caller left is logged and dropped. Every server-to-client request goes
//! through [`send`] (tests/it/architecture.rs checks that nothing else calls tower-lsp's request methods).

use std::time::Duration;

use tokio::sync::oneshot;
use tower_lsp::Client;
use tower_lsp::lsp_types::request::Request;

#[derive(Debug)]
pub(crate) enum RequestError {
    /// The client did not answer within the caller's timeout (it may still answer; that answer is dropped).
    TimedOut(Duration),
    /// The client answered with an error.
    Failed(tower_lsp::jsonrpc::Error),
    /// The connection ended before an answer.
    Closed,
}

impl std::fmt::Display for RequestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RequestError::TimedOut(t) => write!(f, "no answer within {} s", t.as_secs()),
            RequestError::Failed(e) => write!(f, "the editor answered with an error: {}", e.message),
            RequestError::Closed => f.write_str("the connection to the editor closed"),
        }
    }
}

/// Sends `R` to the client and waits for its answer, at most `timeout` when one is given. Dropping the
/// returned future (a cancelled run) is always safe.
pub(crate) async fn send<R>(
    client: &Client,
    params: R::Params,
    timeout: Option<Duration>,
) -> Result<R::Result, RequestError>
where
    R: Request,
    R::Params: Send + 'static,
    R::Result: Send + 'static,
{
    let (tx, rx) = oneshot::channel();
    let client = client.clone();
    tokio::spawn(async move {
        let answer = client.send_request::<R>(params).await;
        if tx.send(answer).is_err() {
            tracing::info!(method = R::METHOD, "the editor answered after the server stopped waiting; answer dropped");
        }
    });
    let answer = match timeout {
        Some(limit) => tokio::time::timeout(limit, rx).await.map_err(|_| RequestError::TimedOut(limit))?,
        None => rx.await,
    };
    answer.map_err(|_| RequestError::Closed)?.map_err(RequestError::Failed)
}
