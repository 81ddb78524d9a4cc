//! What the server announces at initialize.

use samokoder_edits::PositionEncoding;
use tower_lsp::lsp_types as lsp;

/// Every command the server executes. Each one works; none is announced before it does.
pub(crate) const COMMANDS: &[&str] = &[
    "samokoder.generate",
    "samokoder.writeSpec",
    "samokoder.runTests",
    "samokoder.cancel",
    "samokoder.resume",
    "samokoder.undo",
    "samokoder.implement",
    "samokoder.fix",
    "samokoder.generateTests",
    "samokoder.submitAnswers",
    "samokoder.acceptPending",
    "samokoder.rejectPending",
    "samokoder.run",
    "samokoder.stop",
];

/// The code action kinds the server offers.
pub(crate) fn code_action_kinds() -> Vec<lsp::CodeActionKind> {
    vec![lsp::CodeActionKind::QUICKFIX, lsp::CodeActionKind::REFACTOR_REWRITE, lsp::CodeActionKind::SOURCE]
}

pub(crate) fn server_capabilities(enc: PositionEncoding) -> lsp::ServerCapabilities {
    lsp::ServerCapabilities {
        position_encoding: Some(crate::to_proto::encoding_kind(enc)),
        text_document_sync: Some(lsp::TextDocumentSyncCapability::Options(lsp::TextDocumentSyncOptions {
            open_close: Some(true),
            change: Some(lsp::TextDocumentSyncKind::INCREMENTAL),
            save: Some(lsp::TextDocumentSyncSaveOptions::Supported(true)),
            ..Default::default()
        })),
        code_action_provider: Some(lsp::CodeActionProviderCapability::Options(lsp::CodeActionOptions {
            code_action_kinds: Some(code_action_kinds()),
            work_done_progress_options: lsp::WorkDoneProgressOptions { work_done_progress: Some(false) },
            resolve_provider: Some(false),
        })),
        execute_command_provider: Some(lsp::ExecuteCommandOptions {
            commands: COMMANDS.iter().map(|c| c.to_string()).collect(),
            work_done_progress_options: lsp::WorkDoneProgressOptions { work_done_progress: Some(true) },
        }),
        document_symbol_provider: Some(lsp::OneOf::Left(true)),
        workspace_symbol_provider: Some(lsp::OneOf::Left(true)),
        experimental: Some(
            serde_json::json!({ "samokoderStatus": true, "samokoderRuns": true, "samokoderTemplates": true }),
        ),
        ..Default::default()
    }
}
