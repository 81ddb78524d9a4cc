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
    let uri = &params.text_document.uri;
    let command = |title: &str, kind: lsp::CodeActionKind, command: &str, argument: serde_json::Value| {
        lsp::CodeActionOrCommand::CodeAction(lsp::CodeAction {
            title: title.into(),
            kind: Some(kind),
            command: Some(lsp::Command {
                title: title.into(),
                command: command.into(),
                arguments: Some(vec![argument]),
            }),
            ..Default::default()
        })
    };
    if in_workspace && wanted(&lsp::CodeActionKind::REFACTOR_REWRITE) {
        // From what the editor holds (no disk read: listing actions never waits).
        let line = from_proto::path(uri)
            .and_then(|p| engine.document_text(&p))
            .and_then(|(text, _)| text.lines().nth(params.range.start.line as usize).map(str::to_owned));
        let marked = line.as_deref().and_then(samokoder_engine::instruction_at).is_some();
        if marked || params.range.start != params.range.end {
            actions.push(command(
                "Samokoder: implement this",
                lsp::CodeActionKind::REFACTOR_REWRITE,
                "samokoder.implement",
                serde_json::json!({ "uri": uri, "range": params.range }),
            ));
        }
    }
    if in_workspace && wanted(&lsp::CodeActionKind::QUICKFIX) {
        for diagnostic in &params.context.diagnostics {
            let first = diagnostic.message.lines().next().unwrap_or("").chars().take(60).collect::<String>();
            actions.push(command(
                &format!("Samokoder: fix this ({first})"),
                lsp::CodeActionKind::QUICKFIX,
                "samokoder.fix",
                serde_json::json!({ "uri": uri, "diagnostic": diagnostic }),
            ));
        }
    }
    if in_workspace && wanted(&lsp::CodeActionKind::SOURCE) {
        let path = from_proto::path(uri);
        let is = |name: &str| path.as_ref().is_some_and(|p| p.ends_with(format!(".samokoder/{name}")));
        if is("questions.md") {
            let argument = serde_json::json!({ "uri": uri });
            actions.push(command(
                "Samokoder: submit answers",
                lsp::CodeActionKind::SOURCE,
                "samokoder.submitAnswers",
                argument,
            ));
        }
        if is("pending.diff") {
            for (title, name) in [
                ("Samokoder: accept pending changes", "samokoder.acceptPending"),
                ("Samokoder: reject pending changes", "samokoder.rejectPending"),
            ] {
                actions.push(command(title, lsp::CodeActionKind::SOURCE, name, serde_json::json!({})));
            }
        }
        let code = path.as_ref().and_then(|p| engine.jail().relativize(p)).is_some_and(|rel| {
            let rel = rel.to_string();
            let script =
                [".js", ".jsx", ".mjs", ".cjs", ".ts", ".tsx", ".mts", ".cts"].iter().any(|e| rel.ends_with(e));
            script && !rel.ends_with(".d.ts") && !samokoder_engine::is_test_file(&rel)
        });
        if code {
            actions.push(command(
                "Samokoder: generate tests for this file",
                lsp::CodeActionKind::SOURCE,
                "samokoder.generateTests",
                serde_json::json!({ "uri": uri }),
            ));
        }
        // From the store's in-memory index of runs (no wait on a run or the index).
        let unfinished = engine.last_unfinished();
        if let Some(run) = &unfinished {
            let argument = serde_json::json!({ "runId": run.0 });
            if is("plan.md") {
                let title = "Samokoder: continue with this plan";
                actions.push(command(title, lsp::CodeActionKind::SOURCE, "samokoder.resume", argument.clone()));
            }
            actions.push(command(
                "Samokoder: resume the last run",
                lsp::CodeActionKind::SOURCE,
                "samokoder.resume",
                argument,
            ));
        }
        actions.push(command(
            "Samokoder: write spec for this workspace",
            lsp::CodeActionKind::SOURCE,
            "samokoder.writeSpec",
            serde_json::json!({}),
        ));
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
        actions.push(command(
            "Samokoder: run the app",
            lsp::CodeActionKind::SOURCE,
            "samokoder.run",
            serde_json::json!({}),
        ));
        if let Some(last) = engine.last_run().filter(|r| r.kind != "undo" && r.kind != "runTests") {
            let argument = serde_json::json!({ "runId": last.id });
            let title = format!("Samokoder: undo the last run ({}: {})", last.kind, short(&last.description));
            actions.push(command(&title, lsp::CodeActionKind::SOURCE, "samokoder.undo", argument));
        }
    }
    Ok(Some(actions))
}

/// The first words of a run's description, for a menu title.
fn short(text: &str) -> String {
    let line = text.lines().next().unwrap_or("");
    match line.char_indices().nth(40) {
        Some((at, _)) => format!("{}...", &line[..at]),
        None => line.to_owned(),
    }
}
