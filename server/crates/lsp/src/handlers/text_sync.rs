//! Document synchronisation. Every handler here applies its change before any `.await` (there is none),
//! so changes are applied in the order they arrived.

use samokoder_edits::ChangeOutcome;
use tower_lsp::lsp_types as lsp;

use crate::{Backend, from_proto};

pub(crate) fn did_open(backend: &Backend, params: lsp::DidOpenTextDocumentParams) {
    let (Ok(engine), Some(path)) = (backend.engine(), from_proto::path(&params.text_document.uri)) else {
        return;
    };
    engine.open_document(path, &params.text_document.text, params.text_document.version);
    crate::frontend::republish(&backend.outbox, &backend.diagnostics, &params.text_document.uri);
}

pub(crate) fn did_change(backend: &Backend, params: lsp::DidChangeTextDocumentParams) {
    let (Ok(engine), Some(path)) = (backend.engine(), from_proto::path(&params.text_document.uri)) else {
        return;
    };
    let changes = params.content_changes.into_iter().map(from_proto::content_change).collect();
    let version = params.text_document.version;
    match engine.change_document(&path, version, changes, backend.caps().encoding) {
        Ok(ChangeOutcome::Applied { .. }) => {}
        Ok(ChangeOutcome::Held) => {
            tracing::debug!(version, path = %path.display(), "change held until the version gap fills");
            // If nothing else arrives, apply it after a short grace.
            let engine = engine.clone();
            tokio::spawn(async move {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                engine.release_held_changes();
            });
        }
        Err(e) => {
            tracing::warn!(error = %e, path = %path.display(), "didChange refused");
            backend.outbox.message(lsp::MessageType::WARNING, format!("Samokoder: {e}"));
        }
    }
}

pub(crate) fn did_save(backend: &Backend, params: lsp::DidSaveTextDocumentParams) {
    let (Ok(engine), Some(path)) = (backend.engine(), from_proto::path(&params.text_document.uri)) else {
        return;
    };
    engine.file_saved(&path);
}

pub(crate) fn did_close(backend: &Backend, params: lsp::DidCloseTextDocumentParams) {
    let (Ok(engine), Some(path)) = (backend.engine(), from_proto::path(&params.text_document.uri)) else {
        return;
    };
    engine.close_document(&path);
}

pub(crate) fn did_change_watched_files(backend: &Backend, params: lsp::DidChangeWatchedFilesParams) {
    let Ok(engine) = backend.engine() else { return };
    for change in params.changes {
        if let Some(path) = from_proto::path(&change.uri) {
            engine.file_changed_on_disk(&path);
        }
    }
}
