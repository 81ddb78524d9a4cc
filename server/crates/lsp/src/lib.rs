//! The language server: the only crate that knows LSP, JSON-RPC and tower-lsp. It converts between the
//! protocol and the engine's plain types (`from_proto`, `to_proto`), answers every request at once, and
//! turns long work into jobs that report through `$/progress` and finish with `workspace/applyEdit`.
//!
//! It must never await the client inside a handler (tower-lsp has four handler slots and wedges when a
//! client stays silent), never hold a lock across an await, and never write to stdout except through
//! tower-lsp's framing.

mod app;
mod capabilities;
mod client_request;
mod framing;
mod from_proto;
mod frontend;
mod gate;
mod handlers;
mod review;
mod to_proto;
mod transport;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use samokoder_edits::PositionEncoding;
use samokoder_engine::Engine;
use tower_lsp::{Client, LspService, Server};

use crate::frontend::Outbox;

/// What the client said it can do, at initialize.
#[derive(Debug, Clone, Default)]
pub(crate) struct ClientCaps {
    pub encoding: PositionEncoding,
    pub work_done_progress: bool,
    pub document_changes: bool,
    pub create_files: bool,
    pub delete_files: bool,
    pub configuration: bool,
    /// `experimental.samokoderAsk`: the client answers `samokoder/ask` with free text.
    pub samokoder_ask: bool,
    /// `window/showMessageRequest` with actions.
    pub message_actions: bool,
    pub show_document: bool,
    /// `workspace.workspaceEdit.changeAnnotationSupport`: edits can ask for confirmation.
    pub change_annotations: bool,
}

pub(crate) struct Backend {
    client: Client,
    engine: Arc<OnceLock<Arc<Engine>>>,
    caps: OnceLock<ClientCaps>,
    outbox: Outbox,
    diagnostics: frontend::DiagnosticFiles,
    review: review::PendingReview,
    shutdown_requested: Arc<AtomicBool>,
    /// Problems to show once the client is initialized.
    startup_problems: parking_lot::Mutex<Vec<String>>,
}

impl Backend {
    fn engine(&self) -> tower_lsp::jsonrpc::Result<&Arc<Engine>> {
        self.engine.get().ok_or_else(|| {
            let mut e = tower_lsp::jsonrpc::Error::invalid_request();
            e.message = "the server is not initialized".into();
            e
        })
    }

    fn caps(&self) -> ClientCaps {
        self.caps.get().cloned().unwrap_or_default()
    }
}

/// How the session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// `shutdown` then `exit`: exit code 0.
    Clean,
    /// `exit` without `shutdown`, or the client went away: exit code 1.
    Abrupt,
}

/// Serves LSP over stdin/stdout until `exit` or end of input.
pub async fn serve_stdio() -> Ending {
    let shutdown_requested = Arc::new(AtomicBool::new(false));
    let exit = Arc::new(tokio::sync::Notify::new());
    let engine_slot: Arc<OnceLock<Arc<Engine>>> = Arc::new(OnceLock::new());

    let (service, socket) = {
        let shutdown_requested = shutdown_requested.clone();
        let engine = engine_slot.clone();
        LspService::build(move |client| Backend {
            outbox: Outbox::start(client.clone()),
            client,
            engine,
            diagnostics: Default::default(),
            review: Default::default(),
            caps: OnceLock::new(),
            shutdown_requested,
            startup_problems: parking_lot::Mutex::new(Vec::new()),
        })
        .custom_method("samokoder/status", Backend::status)
        .custom_method("samokoder/runs", Backend::runs)
        .custom_method("samokoder/templates", Backend::templates)
        .custom_method("samokoder/viewFileText", Backend::view_file_text)
        .custom_method("window/workDoneProgress/cancel", Backend::progress_cancel)
        .finish()
    };
    let service = gate::Gate::new(service, exit.clone(), engine_slot.clone());
    let (stdin, stdout) = transport::proxy(tokio::io::stdin(), tokio::io::stdout());
    let server = Server::new(stdin, stdout, socket);
    tokio::select! {
        _ = server.serve(service) => tracing::info!("end of input"),
        _ = exit.notified() => tracing::info!("exit notification"),
    }
    // After `shutdown` this is already done (and cheap to repeat); after an abrupt end it is not.
    if let Some(engine) = engine_slot.get()
        && tokio::time::timeout(std::time::Duration::from_secs(10), engine.shutdown()).await.is_err()
    {
        tracing::warn!("the sandbox was not cleaned up within 10 s");
    }
    if shutdown_requested.load(Ordering::SeqCst) { Ending::Clean } else { Ending::Abrupt }
}
