//! A layer in front of tower-lsp's service that sees every message in arrival order, before any handler:
//! it releases document changes held for a version gap when something other than a change arrives (so a
//! request never sees text older than what the client sent before it), and it catches `exit`, which
//! tower-lsp handles by refusing further input without ending `serve`.

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
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let method = req.method();
        if method == "exit" {
            self.exit.notify_one();
        } else if method != "textDocument/didChange" {
            if let Some(engine) = self.engine.get() {
                engine.release_held_changes();
            }
        }
        self.inner.call(req)
    }
}
