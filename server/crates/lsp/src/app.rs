//! `samokoder.run` and `samokoder.stop`: the project's app for the editor. The command answers at once with
//! the id its output is logged under (`samokoder/log`, agent `app`); once the app listens, the editor is
//! asked to open its URL (`window/showDocument`, external) and told where it is; a failure to start, or the
//! app exiting by itself, is a message that says why.

use std::sync::Arc;

use samokoder_engine::{Engine, RunId};
use samokoder_pipeline::Frontend;
use serde_json::{Value, json};
use tower_lsp::lsp_types as lsp;

use crate::Backend;
use crate::client_request;
use crate::frontend::{LspFrontend, SHOW_DOCUMENT_TIMEOUT};

pub(crate) fn start(backend: &Backend, engine: Arc<Engine>, frontend: Arc<LspFrontend>) -> Value {
    let id = RunId::new();
    let (client, outbox, show_document) =
        (backend.client.clone(), backend.outbox.clone(), backend.caps().show_document);
    let answer = json!({ "runId": id.0 });
    tokio::spawn(async move {
        let (log, log_id) = (frontend.clone(), id.clone());
        let output = Arc::new(move |text: &str| log.log(&log_id, "app", text));
        let (started, exited) = match engine.run_app(frontend, output).await {
            Ok(started) => started,
            Err(e) => {
                outbox.message(lsp::MessageType::ERROR, format!("Samokoder: the app did not start: {e:#}"));
                return;
            }
        };
        outbox.message(
            lsp::MessageType::INFO,
            format!(
                "Samokoder: the app is running at {} (`{}`); samokoder.stop stops it",
                started.url, started.command
            ),
        );
        if show_document && let Ok(uri) = lsp::Url::parse(&started.url) {
            let params = lsp::ShowDocumentParams { uri, external: Some(true), take_focus: Some(true), selection: None };
            if let Err(e) =
                client_request::send::<lsp::request::ShowDocument>(&client, params, Some(SHOW_DOCUMENT_TIMEOUT)).await
            {
                tracing::info!(%e, "window/showDocument of the app's URL failed");
            }
        }
        let code = exited.await;
        // Stopped (samokoder.stop, another samokoder.run, the server's exit) is not news; exiting by itself is.
        if let Some(code) = code
            && engine.app_url().await.as_deref() == Some(started.url.as_str())
        {
            outbox.message(lsp::MessageType::WARNING, format!("Samokoder: the app exited (code {code}); see its log"));
        }
    });
    answer
}
