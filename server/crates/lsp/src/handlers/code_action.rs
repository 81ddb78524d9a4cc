//! Code actions: each carries a command, never a slow inline edit, so listing them is instant.

use tower_lsp::jsonrpc::Result;
use tower_lsp::lsp_types as lsp;

use crate::{Backend, from_proto};

pub(crate) fn code_action(backend: &Backend, params: lsp::CodeActionParams) -> Result<Option<lsp::CodeActionResponse>> {
    let engine = backend.engine()?;
    let in_workspace = from_proto::path(&params.text_document.uri).and_then(|p| engine.jail().relativize(&p)).is_some();
    let wanted = |kind: &lsp::CodeActionKind| match &params.context.only {
        None => true,
        Some(only) => {
            only.iter().any(|o| kind.as_str() == o.as_str() || kind.as_str().starts_with(&format!("{}.", o.as_str())))
        }
    };
    let mut actions = Vec::new();
    if in_workspace && wanted(&lsp::CodeActionKind::SOURCE) {
        actions.push(lsp::CodeActionOrCommand::CodeAction(lsp::CodeAction {
            title: "Samokoder: run tests".into(),
            kind: Some(lsp::CodeActionKind::SOURCE),
            command: Some(lsp::Command {
                title: "Samokoder: run tests".into(),
                command: "samokoder.runTests".into(),
                arguments: Some(vec![]),
            }),
            ..Default::default()
        }));
    }
    Ok(Some(actions))
}
