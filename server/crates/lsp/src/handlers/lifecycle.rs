//! initialize, initialized, shutdown, configuration.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::Duration;

use samokoder_engine::Engine;
use tower_lsp::jsonrpc::Result;
use tower_lsp::lsp_types as lsp;

use super::invalid_params;
use crate::{Backend, ClientCaps, capabilities, client_request, from_proto};

/// How long the server waits for the editor's settings before it goes on with the other layers.
const CONFIGURATION_TIMEOUT: Duration = Duration::from_secs(10);

#[tracing::instrument(skip_all)]
pub(crate) fn initialize(backend: &Backend, params: lsp::InitializeParams) -> Result<lsp::InitializeResult> {
    let root = workspace_root(&params)
        .or_else(|| std::env::current_dir().ok())
        .ok_or_else(|| invalid_params("no workspace folder, rootUri or current directory: open a folder"))?;
    let engine = Engine::new(&root).map_err(|e| invalid_params(format!("{e:#}")))?;
    let mut problems = engine.config_problems.clone();
    if let Some(options) = params.initialization_options.as_ref().filter(|o| !o.is_null())
        && let Err(e) = engine.set_editor_settings(options)
    {
        problems.push(format!("initializationOptions ignored: {e}"));
    }
    if let Some(p) = &engine.store_problem {
        problems.push(p.clone());
    }
    let caps = &params.capabilities;
    let workspace = caps.workspace.as_ref();
    let edit = workspace.and_then(|w| w.workspace_edit.as_ref());
    let client_caps = ClientCaps {
        encoding: from_proto::negotiate_encoding(&params),
        work_done_progress: caps.window.as_ref().and_then(|w| w.work_done_progress).unwrap_or(false),
        document_changes: edit.and_then(|e| e.document_changes).unwrap_or(false),
        create_files: edit
            .and_then(|e| e.resource_operations.as_ref())
            .is_some_and(|ops| ops.contains(&lsp::ResourceOperationKind::Create)),
        delete_files: edit
            .and_then(|e| e.resource_operations.as_ref())
            .is_some_and(|ops| ops.contains(&lsp::ResourceOperationKind::Delete)),
        configuration: workspace.and_then(|w| w.configuration).unwrap_or(false),
        samokoder_ask: caps
            .experimental
            .as_ref()
            .and_then(|e| e.get("samokoderAsk"))
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false),
        message_actions: caps
            .window
            .as_ref()
            .and_then(|w| w.show_message.as_ref())
            .is_some_and(|m| m.message_action_item.is_some()),
        show_document: caps.window.as_ref().and_then(|w| w.show_document.as_ref()).is_some_and(|d| d.support),
        change_annotations: edit.and_then(|e| e.change_annotation_support.as_ref()).is_some(),
    };
    let encoding = client_caps.encoding;
    tracing::info!(root = %engine.root().display(), ?encoding, "initialize");
    let _ = backend.engine.set(engine);
    let _ = backend.caps.set(client_caps);
    backend.startup_problems.lock().extend(problems);
    Ok(lsp::InitializeResult {
        capabilities: capabilities::server_capabilities(encoding),
        server_info: Some(lsp::ServerInfo {
            name: "samokoder".into(),
            version: Some(env!("CARGO_PKG_VERSION").into()),
        }),
    })
}

fn workspace_root(params: &lsp::InitializeParams) -> Option<PathBuf> {
    if let Some(folder) = params.workspace_folders.as_ref().and_then(|f| f.first()) {
        return from_proto::path(&folder.uri);
    }
    #[allow(deprecated)]
    params.root_uri.as_ref().and_then(from_proto::path)
}

pub(crate) fn initialized(backend: &Backend) {
    for problem in backend.startup_problems.lock().drain(..) {
        backend.outbox.message(lsp::MessageType::WARNING, format!("Samokoder: {problem}"));
    }
    if let Some(engine) = backend.engine.get() {
        for run in engine.unfinished_runs().into_iter().take(3) {
            let at = if run.phase.is_empty() { "its start".to_owned() } else { run.phase.clone() };
            backend.outbox.message(
                lsp::MessageType::INFO,
                format!(
                    "Samokoder: the run {} (\"{}\") did not finish; it stopped at {at}. Resume it with the command \
                     samokoder.resume {{\"runId\": \"{}\"}} (or `samokoder resume {}` in a terminal)",
                    run.id,
                    run.description.chars().take(60).collect::<String>(),
                    run.id,
                    run.id
                ),
            );
        }
    }
    fetch_configuration(backend);
}

/// Asks the client for the `samokoder` section, in a task: a handler never awaits the client.
fn fetch_configuration(backend: &Backend) {
    if !backend.caps().configuration {
        return;
    }
    let (Some(engine), client, outbox) =
        (backend.engine.get().cloned(), backend.client.clone(), backend.outbox.clone())
    else {
        return;
    };
    tokio::spawn(async move {
        let item = lsp::ConfigurationItem { scope_uri: None, section: Some("samokoder".into()) };
        let request = client_request::send::<lsp::request::WorkspaceConfiguration>(
            &client,
            lsp::ConfigurationParams { items: vec![item] },
            Some(CONFIGURATION_TIMEOUT),
        );
        match request.await {
            Ok(values) => {
                if let Some(value) = values.first().filter(|v| !v.is_null())
                    && let Err(e) = engine.set_editor_settings(value)
                {
                    outbox.message(lsp::MessageType::WARNING, format!("Samokoder: settings ignored: {e}"));
                }
            }
            Err(e) => tracing::warn!(%e, "workspace/configuration failed"),
        }
    });
}

pub(crate) fn did_change_configuration(backend: &Backend, params: lsp::DidChangeConfigurationParams) {
    let settings = params.settings;
    let from_params = settings.is_object() && settings.get("samokoder").is_some();
    if from_params {
        if let Some(engine) = backend.engine.get()
            && let Err(e) = engine.set_editor_settings(&settings)
        {
            backend.outbox.message(lsp::MessageType::WARNING, format!("Samokoder: settings ignored: {e}"));
        }
    } else {
        // The pull model: the notification only says "something changed".
        fetch_configuration(backend);
    }
}

pub(crate) async fn shutdown(backend: &Backend) -> Result<()> {
    backend.shutdown_requested.store(true, Ordering::SeqCst);
    if let Some(engine) = backend.engine.get() {
        // Runs stop at once; removing the sandbox's container is bounded so shutdown always answers.
        if tokio::time::timeout(Duration::from_secs(10), engine.shutdown()).await.is_err() {
            tracing::warn!("the sandbox was not cleaned up within 10 s");
        }
    }
    Ok(())
}
