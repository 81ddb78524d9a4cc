//! A layer in front of tower-lsp's service that sees every message in arrival order: it releases document
//! changes held for a version gap when something other than a change is handled (so a request never sees
//! text older than what the client sent before it), it catches `exit`, which tower-lsp handles by refusing
//! further input without ending `serve`, and it accepts `"params": null` where no params are expected.

use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use samokoder_engine::Engine;
use tower::Service;
use tower_lsp::jsonrpc::{Request, Response};

pub(crate) struct Gate<S> {
    inner: S,
    exit: Arc<tokio::sync::Notify>,
    /// Filled at initialize, when the backend creates the engine.
    engine: Arc<OnceLock<Arc<Engine>>>,
}

impl<S> Gate<S> {
    pub fn new(inner: S, exit: Arc<tokio::sync::Notify>, engine: Arc<OnceLock<Arc<Engine>>>) -> Self {
        Self { inner, exit, engine }
    }
}

impl<S> Service<Request> for Gate<S>
where
    S: Service<Request, Response = Option<Response>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = futures::future::BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let req = drop_null_params(req);
        let method = req.method();
        if method == "exit" {
            self.exit.notify_one();
        }
        // The release must happen when this message's handler runs, not when it is read: tower-lsp reads
        // ahead, and the change before it may not have been handled yet.
        let release = (method != "textDocument/didChange").then(|| self.engine.clone());
        let future = self.inner.call(req);
        Box::pin(async move {
            if let Some(engine) = release.as_ref().and_then(|slot| slot.get()) {
                engine.release_held_changes();
            }
            future.await
        })
    }
}

/// `shutdown` and `exit` take no params, and some clients (Helix, Neovim) send `"params": null` for them,
/// which tower-lsp refuses as unexpected params. Null and absent mean the same here.
fn drop_null_params(req: Request) -> Request {
    if !matches!(req.method(), "shutdown" | "exit") || req.params() != Some(&serde_json::Value::Null) {
        return req;
    }
    let (method, id, _) = req.into_parts();
    let builder = Request::build(method);
    match id {
        Some(id) => builder.id(id).finish(),
        None => builder.finish(),
    }
}
