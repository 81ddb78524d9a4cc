//! The editor as a run's [`Frontend`]. Notifications go through one ordered outbox task (tower-lsp's
//! client methods are async, and a job must neither block on them nor send them out of order); requests
//! to the client (`workspace/applyEdit`, progress creation) are awaited by the job, each with a timeout.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Result, anyhow};
use async_trait::async_trait;
use parking_lot::Mutex;
use samokoder_edits::{ChangeSet, FileChange, Jail};
use samokoder_engine::{Engine, PlannedEdit};
use samokoder_pipeline::{ApplyOutcome, Frontend, Level, Progress, RunId};
use samokoder_sandbox::TestReport;
use serde_json::json;
use tokio::sync::mpsc;
use tower_lsp::Client;
use tower_lsp::lsp_types as lsp;

use crate::client_request::RequestError;
use crate::{ClientCaps, client_request, to_proto};

/// How long the outbox waits for `window/workDoneProgress/create`.
const PROGRESS_CREATE_TIMEOUT: Duration = Duration::from_secs(5);

enum Outgoing {
    Progress { token: String, value: lsp::WorkDoneProgress },
    Log(serde_json::Value),
    Message(lsp::MessageType, String),
    Diagnostics(lsp::Url, Vec<lsp::Diagnostic>),
}

/// The ordered queue of server-to-client notifications.
#[derive(Clone)]
pub(crate) struct Outbox {
    tx: mpsc::UnboundedSender<Outgoing>,
}

impl Outbox {
    pub fn start(client: Client) -> Self {
        let (tx, mut rx) = mpsc::unbounded_channel::<Outgoing>();
        tokio::spawn(async move {
            // Tokens the client accepted; progress for a token it refused is dropped, as the spec asks.
            let mut created: HashSet<String> = HashSet::new();
            while let Some(item) = rx.recv().await {
                match item {
                    Outgoing::Progress { token, value } => {
                        if matches!(value, lsp::WorkDoneProgress::Begin(_)) {
                            let params =
                                lsp::WorkDoneProgressCreateParams { token: lsp::NumberOrString::String(token.clone()) };
                            let create = client_request::send::<lsp::request::WorkDoneProgressCreate>(
                                &client,
                                params,
                                Some(PROGRESS_CREATE_TIMEOUT),
                            );
                            match create.await {
                                Ok(()) => {
                                    created.insert(token.clone());
                                }
                                Err(e) => {
                                    tracing::warn!(%e, %token, "the client did not accept a progress token")
                                }
                            }
                        }
                        if created.contains(&token) {
                            let end = matches!(value, lsp::WorkDoneProgress::End(_));
                            let params = lsp::ProgressParams {
                                token: lsp::NumberOrString::String(token.clone()),
                                value: lsp::ProgressParamsValue::WorkDone(value),
                            };
                            client.send_notification::<lsp::notification::Progress>(params).await;
                            if end {
                                created.remove(&token);
                            }
                        }
                    }
                    Outgoing::Log(params) => {
                        client.send_notification::<SamokoderLog>(params).await;
                    }
                    Outgoing::Message(typ, text) => client.show_message(typ, text).await,
                    Outgoing::Diagnostics(uri, diagnostics) => client.publish_diagnostics(uri, diagnostics, None).await,
                }
            }
        });
        Self { tx }
    }

    fn send(&self, item: Outgoing) {
        // The receiver lives as long as the server; a send can only fail while it shuts down.
        let _ = self.tx.send(item);
    }

    pub fn message(&self, typ: lsp::MessageType, text: impl Into<String>) {
        self.send(Outgoing::Message(typ, text.into()));
    }
}

/// How long showing a file may take before the server stops waiting (the run does not wait at all).
pub(crate) const SHOW_DOCUMENT_TIMEOUT: Duration = Duration::from_secs(10);

/// `samokoder/ask {question, choices}` -> `{answer}`, for clients that announce `experimental.samokoderAsk`.
enum SamokoderAsk {}

impl lsp::request::Request for SamokoderAsk {
    type Params = serde_json::Value;
    type Result = serde_json::Value;
    const METHOD: &'static str = "samokoder/ask";
}

/// `samokoder/log`: agent messages and streamed model text, for an output panel.
enum SamokoderLog {}

impl lsp::notification::Notification for SamokoderLog {
    type Params = serde_json::Value;
    const METHOD: &'static str = "samokoder/log";
}

/// The progress token of a run.
pub(crate) fn progress_token(run: &RunId) -> String {
    format!("samokoder/{run}")
}

/// The diagnostics we published and that still stand, per file: the next report clears the files that pass
/// again, and a file opened later gets its own again (eglot drops diagnostics for files it does not visit).
pub(crate) type DiagnosticFiles = Arc<Mutex<BTreeMap<lsp::Url, Vec<lsp::Diagnostic>>>>;

pub(crate) struct LspFrontend {
    pub client: Client,
    pub outbox: Outbox,
    pub engine: Arc<Engine>,
    pub caps: ClientCaps,
    pub diagnostics: DiagnosticFiles,
    /// The label of the edit in the editor's undo history ("Samokoder: generate").
    pub label: String,
    /// The review waiting in pending.diff, for clients that cannot confirm annotated edits.
    pub review: crate::review::PendingReview,
}

impl LspFrontend {
    /// Sends the planned edits; when the editor refuses them because a document it holds changed since they
    /// were planned (the user typed, or closed it), the run's change is merged with the new text and sent
    /// once more (`rebase`), or refused with the reason when both changed the same lines: never overwritten.
    async fn apply_planned(
        &self,
        run: &RunId,
        changes: &ChangeSet,
        planned: Vec<PlannedEdit>,
        rebase: bool,
    ) -> Result<ApplyOutcome> {
        if planned.is_empty() {
            return Ok(ApplyOutcome::Applied);
        }
        let caps = &self.caps;
        let annotated = caps.document_changes && caps.change_annotations;
        // With `editor.review`, every change to the project waits for the user, not only the ones that must.
        let mut confirm: Vec<std::path::PathBuf> =
            changes.confirm.iter().map(|rel| self.engine.jail().abs(rel)).collect();
        if self.engine.config().editor.review {
            let project = changes.changes.iter().map(|c| &c.path).chain(&changes.deletes).filter(|rel| {
                let rel = rel.to_string();
                !(rel.starts_with(".samokoder/") || rel.contains("/.samokoder/"))
            });
            for rel in project.filter(|rel| !changes.confirm.contains(rel)) {
                confirm.push(self.engine.jail().abs(rel));
            }
        }
        if !confirm.is_empty() && !annotated {
            // No annotations to confirm with: the user reads pending.diff and accepts or rejects it. The
            // edits stay the ones planned now, versioned: a buffer changed meanwhile refuses them.
            let jail = self.engine.jail();
            let diff = crate::review::diff(jail, changes, &planned);
            let show = || self.show_file(run, crate::review::PENDING_FILE);
            if !crate::review::wait_for_decision(jail, &self.review, run, &diff, show).await? {
                return Ok(ApplyOutcome::Refused {
                    reason: format!("you rejected the changes in {}", crate::review::PENDING_FILE),
                });
            }
            confirm.clear();
        }
        let can_create = caps.document_changes && caps.create_files;
        let can_delete = caps.document_changes && caps.delete_files;
        let mut created_on_disk = ChangeSet::default();
        if !can_create {
            // The client cannot create files: new files go to disk through the jail, edits to the client.
            for p in &planned {
                if let PlannedEdit::Create { path, text } = p
                    && let Some(rel) = self.engine.jail().relativize(path)
                {
                    created_on_disk.changes.push(FileChange { path: rel, text: text.clone() });
                }
            }
            self.engine.jail().write(&created_on_disk, false)?;
        }
        let options = to_proto::EditOptions { document_changes: can_create, delete_files: can_delete, confirm };
        let edit = to_proto::workspace_edit(&planned, caps.encoding, &options);
        let params = lsp::ApplyWorkspaceEditParams { label: Some(self.label.clone()), edit };
        // No timeout: the user may be reviewing the edit for minutes (eglot's "Proceed?", VS Code's
        // preview). The run stays cancellable, and a cancelled wait is safe (client_request).
        let request = client_request::send::<lsp::request::ApplyWorkspaceEdit>(&self.client, params, None);
        let response = match request.await {
            Ok(response) => response,
            Err(e) => {
                self.undo_created(&created_on_disk);
                return Err(anyhow!("workspace/applyEdit failed: {e}; nothing was applied"));
            }
        };
        if !response.applied {
            self.undo_created(&created_on_disk);
            let reason = response.failure_reason.unwrap_or_else(|| "the editor refused the edit".to_owned());
            if rebase {
                match self.rebased(changes, &planned) {
                    Ok(Some(rebased)) => {
                        tracing::info!(%reason, "the editor refused the edit after a document changed; rebased once");
                        let planned = self.engine.plan_edits(&rebased);
                        return Box::pin(self.apply_planned(run, &rebased, planned, false)).await;
                    }
                    Ok(None) => {}
                    Err(why) => return Ok(ApplyOutcome::Refused { reason: format!("{reason}: {why}") }),
                }
            }
            return Ok(ApplyOutcome::Refused { reason });
        }
        if !can_delete && !changes.deletes.is_empty() {
            // The client cannot delete files: the rest landed, so they go from disk now.
            let deletes = ChangeSet { deletes: changes.deletes.clone(), ..ChangeSet::default() };
            self.engine.jail().write(&deletes, true)?;
        }
        self.engine.edits_accepted(changes);
        Ok(ApplyOutcome::Applied)
    }

    /// `changes` merged with what the user holds now, for each file whose open document changed (or was
    /// closed) since `planned`; `Ok(None)` when none did.
    fn rebased(&self, changes: &ChangeSet, planned: &[PlannedEdit]) -> std::result::Result<Option<ChangeSet>, String> {
        let jail = self.engine.jail();
        let mut rebased = changes.clone();
        let mut moved = false;
        for edit in planned {
            let PlannedEdit::Edit { path, version: Some(version), base, .. } = edit else { continue };
            let now = match self.engine.document_text(path) {
                Some((_, v)) if v == *version => continue,
                Some((text, _)) => text,
                // Closed since: what it holds is on disk again.
                None => std::fs::read_to_string(path).unwrap_or_default(),
            };
            let Some(rel) = jail.relativize(path) else { continue };
            let Some(change) = rebased.changes.iter_mut().find(|c| c.path == rel) else { continue };
            moved = true;
            match samokoder_edits::merge3(base, &change.text, &now) {
                Some(merged) => change.text = merged,
                None => {
                    return Err(format!(
                        "{rel} changed in the editor while the run edited it, on the same lines; nothing was \
                         written: run it again on the new text"
                    ));
                }
            }
        }
        Ok(moved.then_some(rebased))
    }

    /// Removes the new files written for a client that cannot create files, when the edit did not land.
    fn undo_created(&self, created: &ChangeSet) {
        for change in &created.changes {
            let _ = std::fs::remove_file(self.engine.jail().abs(&change.path));
        }
    }
}

#[async_trait]
impl Frontend for LspFrontend {
    fn progress(&self, run: &RunId, progress: Progress) {
        let value = match progress {
            Progress::Begin { title, message } => {
                self.engine.note_progress(run, &message, None);
                lsp::WorkDoneProgress::Begin(lsp::WorkDoneProgressBegin {
                    title,
                    cancellable: Some(true),
                    message: Some(message),
                    percentage: Some(0),
                })
            }
            Progress::Report { message, percentage } => {
                self.engine.note_progress(run, &message, percentage);
                lsp::WorkDoneProgress::Report(lsp::WorkDoneProgressReport {
                    cancellable: Some(true),
                    message: Some(message),
                    percentage,
                })
            }
            Progress::End { message } => {
                lsp::WorkDoneProgress::End(lsp::WorkDoneProgressEnd { message: Some(message) })
            }
        };
        if self.caps.work_done_progress {
            self.outbox.send(Outgoing::Progress { token: progress_token(run), value });
        }
    }

    fn log(&self, run: &RunId, agent: &str, text: &str) {
        self.outbox.send(Outgoing::Log(json!({ "runId": run.0, "agent": agent, "text": text })));
    }

    fn message(&self, level: Level, text: &str) {
        let typ = match level {
            Level::Info => lsp::MessageType::INFO,
            Level::Warning => lsp::MessageType::WARNING,
            Level::Error => lsp::MessageType::ERROR,
        };
        self.outbox.message(typ, text);
    }

    async fn apply(&self, run: &RunId, changes: &ChangeSet) -> Result<ApplyOutcome> {
        self.apply_planned(run, changes, self.engine.plan_edits(changes), true).await
    }

    /// With change annotations, or else through pending.diff: every editor can.
    fn can_confirm(&self) -> bool {
        true
    }

    fn can_ask(&self) -> bool {
        self.caps.samokoder_ask || self.caps.message_actions
    }

    fn can_answer_in_file(&self) -> bool {
        true
    }

    async fn ask(&self, _run: &RunId, question: &str, suggestions: &[String]) -> Result<Option<String>> {
        // A question nobody answers must not hold the run: after the timeout it counts as unanswered, and the
        // run asks in `.samokoder/questions.md` instead (the spec writer), or stops by rule (the fix loop).
        let limit = Some(self.engine.config().editor.ask_timeout);
        let unanswered = |method: &str, e: RequestError| match e {
            RequestError::TimedOut(_) => {
                self.outbox.message(
                    lsp::MessageType::INFO,
                    format!("Samokoder: {method} had no answer ({e}); the question is asked in a file instead"),
                );
                Ok(None)
            }
            e => Err(anyhow!("{method} failed: {e}")),
        };
        if self.caps.samokoder_ask {
            let params = json!({ "question": question, "choices": suggestions });
            let answer = match client_request::send::<SamokoderAsk>(&self.client, params, limit).await {
                Ok(answer) => answer,
                Err(e) => return unanswered("samokoder/ask", e),
            };
            return Ok(answer
                .get("answer")
                .and_then(|a| a.as_str())
                .map(str::to_owned)
                .filter(|a| !a.trim().is_empty()));
        }
        if self.caps.message_actions && !suggestions.is_empty() {
            let params = lsp::ShowMessageRequestParams {
                typ: lsp::MessageType::INFO,
                message: format!("Samokoder: {question}"),
                actions: Some(
                    suggestions
                        .iter()
                        .map(|s| lsp::MessageActionItem { title: s.clone(), properties: Default::default() })
                        .collect(),
                ),
            };
            return match client_request::send::<lsp::request::ShowMessageRequest>(&self.client, params, limit).await {
                Ok(picked) => Ok(picked.map(|item| item.title)),
                Err(e) => unanswered("window/showMessageRequest", e),
            };
        }
        Ok(None)
    }

    fn show_file(&self, _run: &RunId, path: &str) {
        if !self.caps.show_document {
            return;
        }
        let Ok(rel) = self.engine.jail().check(path) else { return };
        let Some(uri) = to_proto::url(&self.engine.jail().abs(&rel)) else { return };
        let client = self.client.clone();
        tokio::spawn(async move {
            let params =
                lsp::ShowDocumentParams { uri, external: Some(false), take_focus: Some(false), selection: None };
            if let Err(e) =
                client_request::send::<lsp::request::ShowDocument>(&client, params, Some(SHOW_DOCUMENT_TIMEOUT)).await
            {
                tracing::info!(%e, "window/showDocument failed");
            }
        });
    }

    fn overlay(&self) -> BTreeMap<String, String> {
        self.engine.overlay()
    }

    fn test_results(&self, _run: &RunId, report: &TestReport) {
        publish_test_diagnostics(&self.engine, &self.outbox, &self.diagnostics, self.caps.encoding, report);
    }
}

/// Publishes one diagnostic per located failure and clears files that no longer fail.
pub(crate) fn publish_test_diagnostics(
    engine: &Engine,
    outbox: &Outbox,
    published: &DiagnosticFiles,
    enc: samokoder_edits::PositionEncoding,
    report: &TestReport,
) {
    let jail: &Jail = engine.jail();
    let overlay = engine.overlay();
    let mut by_file: BTreeMap<lsp::Url, Vec<lsp::Diagnostic>> = BTreeMap::new();
    for failure in &report.failures {
        let Some(file) = &failure.file else { continue };
        let Ok(rel) = jail.check(file) else { continue };
        let Some(uri) = to_proto::url(&jail.abs(&rel)) else {
            continue;
        };
        let text = overlay.get(rel.as_str()).cloned().or_else(|| jail.read(&rel).ok().flatten()).unwrap_or_default();
        by_file.entry(uri).or_default().push(to_proto::test_diagnostic(failure, &text, enc));
    }
    let mut published = published.lock();
    for stale in published.keys().filter(|u| !by_file.contains_key(*u)) {
        outbox.send(Outgoing::Diagnostics(stale.clone(), vec![]));
    }
    *published = by_file.clone();
    for (uri, diagnostics) in by_file {
        outbox.send(Outgoing::Diagnostics(uri, diagnostics));
    }
}

/// Sends a file's standing diagnostics again (it was just opened), under the URI the editor used for it.
pub(crate) fn republish(outbox: &Outbox, published: &DiagnosticFiles, uri: &lsp::Url) {
    let Some(path) = crate::from_proto::path(uri) else { return };
    let published = published.lock();
    let standing = published.iter().find(|(u, _)| crate::from_proto::path(u).as_ref() == Some(&path));
    if let Some((_, diagnostics)) = standing.filter(|(_, d)| !d.is_empty()) {
        outbox.send(Outgoing::Diagnostics(uri.clone(), diagnostics.clone()));
    }
}
