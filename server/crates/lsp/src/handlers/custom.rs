//! `samokoder/status`, `samokoder/runs`, `samokoder/templates`, and progress cancellation.

use serde_json::{Value, json};
use tower_lsp::jsonrpc::Result;
use tower_lsp::lsp_types as lsp;

use crate::Backend;

pub(crate) fn status(backend: &Backend) -> Result<Value> {
    let engine = backend.engine()?;
    let runs: Vec<Value> = engine
        .active_runs()
        .into_iter()
        .map(|r| {
            let s = r.status;
            json!({
                "runId": r.id, "kind": r.kind, "message": r.message, "percentage": r.percentage,
                "agent": s.agent, "task": s.task, "step": s.step,
                "promptTokens": s.prompt_tokens, "completionTokens": s.completion_tokens, "costUsd": s.cost_usd,
            })
        })
        .collect();
    let config = engine.config();
    let (provider, model) = config.llm.primary().unwrap_or_default();
    Ok(json!({ "runs": runs, "provider": provider, "model": model, "image": config.sandbox.image }))
}

pub(crate) fn runs(backend: &Backend, params: Value) -> Result<Value> {
    let engine = backend.engine()?;
    let limit = params.get("limit").and_then(Value::as_u64).unwrap_or(50).min(1000) as usize;
    let records = engine.store().list_runs(limit).map_err(|e| {
        let mut err = tower_lsp::jsonrpc::Error::internal_error();
        err.message = e.to_string().into();
        err
    })?;
    let runs: Vec<Value> = records
        .into_iter()
        .map(|r| {
            json!({
                "runId": r.id, "kind": r.kind, "description": r.description, "status": r.status,
                "summary": r.summary, "createdMs": r.created_ms, "updatedMs": r.updated_ms,
                "promptTokens": r.prompt_tokens, "completionTokens": r.completion_tokens,
                "costUsd": r.cost_usd, "phase": r.phase,
            })
        })
        .collect();
    Ok(json!({ "runs": runs }))
}

/// `samokoder/templates`: the templates `samokoder.generate` takes, for an editor's picker (the VS Code
/// extension's quick pick): name, what it is for, and its options.
pub(crate) fn templates() -> Result<Value> {
    let mut list = Vec::new();
    for name in samokoder_prompts::template_names() {
        let t = samokoder_prompts::template(name).map_err(|e| {
            let mut err = tower_lsp::jsonrpc::Error::internal_error();
            err.message = e.to_string().into();
            err
        })?;
        let options: serde_json::Map<String, Value> = t
            .options
            .iter()
            .map(|(k, o)| {
                (k.clone(), json!({ "description": o.description, "values": o.values, "default": o.default }))
            })
            .collect();
        list.push(json!({ "name": t.name, "description": t.description, "options": options }));
    }
    Ok(json!({ "templates": list }))
}

/// The user cancelled a run's progress in the editor: that cancels the run.
pub(crate) fn progress_cancel(backend: &Backend, params: lsp::WorkDoneProgressCancelParams) {
    let lsp::NumberOrString::String(token) = params.token else {
        return;
    };
    if let (Ok(engine), Some(id)) = (backend.engine(), token.strip_prefix("samokoder/")) {
        engine.cancel(id);
    }
}

/// `samokoder/viewFileText {uri}`: the server's copy of an open document, for checking synchronisation
/// (rust-analyzer has the same request for the same reason).
pub(crate) fn view_file_text(backend: &Backend, params: lsp::TextDocumentIdentifier) -> Result<Value> {
    let engine = backend.engine()?;
    let text = crate::from_proto::path(&params.uri).and_then(|p| engine.document_text(&p));
    Ok(match text {
        Some((text, version)) => json!({ "text": text, "version": version }),
        None => Value::Null,
    })
}
