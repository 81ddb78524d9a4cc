//! One module per area; the `LanguageServer` impl only routes.

mod code_action;
mod commands;
mod custom;
mod lifecycle;
mod symbols;
mod text_sync;

use tower_lsp::LanguageServer;
use tower_lsp::jsonrpc::Result;
use tower_lsp::lsp_types as lsp;

use crate::Backend;

#[tower_lsp::async_trait]
impl LanguageServer for Backend {
    async fn initialize(&self, params: lsp::InitializeParams) -> Result<lsp::InitializeResult> {
        lifecycle::initialize(self, params)
    }

    async fn initialized(&self, _: lsp::InitializedParams) {
        lifecycle::initialized(self);
    }

    async fn shutdown(&self) -> Result<()> {
        lifecycle::shutdown(self).await
    }

    async fn did_open(&self, params: lsp::DidOpenTextDocumentParams) {
        text_sync::did_open(self, params);
    }

    async fn did_change(&self, params: lsp::DidChangeTextDocumentParams) {
        text_sync::did_change(self, params);
    }

    async fn did_save(&self, params: lsp::DidSaveTextDocumentParams) {
        text_sync::did_save(self, params);
    }

    async fn did_close(&self, params: lsp::DidCloseTextDocumentParams) {
        text_sync::did_close(self, params);
    }

    async fn did_change_watched_files(&self, params: lsp::DidChangeWatchedFilesParams) {
        text_sync::did_change_watched_files(self, params);
    }

    async fn did_change_configuration(&self, params: lsp::DidChangeConfigurationParams) {
        lifecycle::did_change_configuration(self, params);
    }

    async fn document_symbol(&self, params: lsp::DocumentSymbolParams) -> Result<Option<lsp::DocumentSymbolResponse>> {
        symbols::document_symbol(self, params)
    }

    async fn symbol(&self, params: lsp::WorkspaceSymbolParams) -> Result<Option<Vec<lsp::SymbolInformation>>> {
        symbols::workspace_symbol(self, params)
    }

    async fn code_action(&self, params: lsp::CodeActionParams) -> Result<Option<lsp::CodeActionResponse>> {
        code_action::code_action(self, params)
    }

    async fn execute_command(&self, params: lsp::ExecuteCommandParams) -> Result<Option<serde_json::Value>> {
        if params.command == "samokoder.stop" {
            // The one command answered when its work is done: "stopped" means nothing of the app is left.
            return Ok(Some(serde_json::json!({ "stopped": self.engine()?.stop_app().await })));
        }
        commands::execute_command(self, params)
    }
}

impl Backend {
    pub(crate) async fn status(&self, _: serde_json::Value) -> Result<serde_json::Value> {
        custom::status(self)
    }

    pub(crate) async fn runs(&self, params: serde_json::Value) -> Result<serde_json::Value> {
        custom::runs(self, params)
    }

    pub(crate) async fn templates(&self, _: serde_json::Value) -> Result<serde_json::Value> {
        custom::templates()
    }

    pub(crate) async fn view_file_text(&self, params: lsp::TextDocumentIdentifier) -> Result<serde_json::Value> {
        custom::view_file_text(self, params)
    }

    pub(crate) async fn progress_cancel(&self, params: lsp::WorkDoneProgressCancelParams) {
        custom::progress_cancel(self, params);
    }
}

/// An InvalidParams error with a message that says what to send.
pub(crate) fn invalid_params(message: impl Into<String>) -> tower_lsp::jsonrpc::Error {
    tower_lsp::jsonrpc::Error {
        code: tower_lsp::jsonrpc::ErrorCode::InvalidParams,
        message: message.into().into(),
        data: None,
    }
}
