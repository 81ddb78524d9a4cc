//! `workspace/executeCommand`: every command answers at once; long work becomes a job.

use std::sync::Arc;

use samokoder_engine::{GenerateRequest, RunId, UndoRequest, generate, resume, run_tests, undo};
use serde::Deserialize;
use serde_json::{Value, json};
use tower_lsp::jsonrpc::Result;
use tower_lsp::lsp_types as lsp;

use super::invalid_params;
use crate::Backend;
use crate::capabilities::COMMANDS;
use crate::frontend::LspFrontend;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct GenerateArgs {
    description: String,
    /// The project template; `node` is the one there is today.
    template: Option<String>,
    /// A workspace-relative directory to build the project in.
    dir: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RunIdArgs {
    run_id: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ResumeArgs {
    /// The newest unfinished run when absent.
    run_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct UndoArgs {
    run_id: String,
    /// Undo this step and every later one; the whole run when absent.
    step: Option<u32>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SpecArgs {
    description: Option<String>,
}

fn job_error(e: anyhow::Error) -> tower_lsp::jsonrpc::Error {
    invalid_params(format!("{e:#}"))
}

#[tracing::instrument(skip_all, fields(command = %params.command))]
pub(crate) fn execute_command(backend: &Backend, params: lsp::ExecuteCommandParams) -> Result<Option<Value>> {
    let engine = backend.engine()?.clone();
    let arg = params.arguments.into_iter().next().unwrap_or(Value::Null);
    match params.command.as_str() {
        "samokoder.generate" => {
            let usage =
                "samokoder.generate takes one argument: {\"description\": \"what to build\", \"dir\"?: \"sub/dir\"}";
            let args: GenerateArgs = match arg {
                Value::String(description) => GenerateArgs { description, template: None, dir: None },
                other => serde_json::from_value(other).map_err(|e| invalid_params(format!("{usage} ({e})")))?,
            };
            if args.description.trim().is_empty() {
                return Err(invalid_params(format!("{usage}: the description is empty")));
            }
            if let Some(template) = args.template.as_deref() {
                samokoder_prompts::template(template).map_err(|_| {
                    let known: Vec<&str> = samokoder_prompts::template_names().collect();
                    invalid_params(format!("unknown template `{template}`; available: {}", known.join(", ")))
                })?;
            }
            let subdir = match args.dir.as_deref().map(str::trim).filter(|d| !d.is_empty() && *d != ".") {
                Some(dir) => Some(engine.jail().check(dir).map_err(|e| invalid_params(e.to_string()))?.to_string()),
                None => None,
            };
            let frontend = frontend(backend, &engine, "Samokoder: generate");
            let request = GenerateRequest { description: args.description, subdir, spec_only: false };
            let id = engine
                .spawn_run("generate", None, frontend, move |ctx| async move { generate(&ctx, &request).await })
                .map_err(job_error)?;
            Ok(Some(json!({ "runId": id.0 })))
        }
        "samokoder.writeSpec" => {
            let usage = "samokoder.writeSpec takes {\"description\": \"what to build\"}";
            let args: SpecArgs = match arg {
                Value::Null => SpecArgs::default(),
                Value::String(description) => SpecArgs { description: Some(description) },
                other => serde_json::from_value(other).map_err(|e| invalid_params(format!("{usage} ({e})")))?,
            };
            let Some(description) = args.description.filter(|d| !d.trim().is_empty()) else {
                return Err(invalid_params(format!("{usage}: say what the workspace is for")));
            };
            let frontend = frontend(backend, &engine, "Samokoder: write spec");
            let request = GenerateRequest { description, subdir: None, spec_only: true };
            let id = engine
                .spawn_run("spec", None, frontend, move |ctx| async move { generate(&ctx, &request).await })
                .map_err(job_error)?;
            Ok(Some(json!({ "runId": id.0 })))
        }
        "samokoder.runTests" => {
            let frontend = frontend(backend, &engine, "Samokoder: run tests");
            let id = engine
                .spawn_run("runTests", None, frontend, |ctx| async move { run_tests(&ctx).await })
                .map_err(job_error)?;
            Ok(Some(json!({ "runId": id.0 })))
        }
        "samokoder.resume" => {
            let args: ResumeArgs = match arg {
                Value::Null => ResumeArgs::default(),
                other => serde_json::from_value(other)
                    .map_err(|e| invalid_params(format!("samokoder.resume takes {{\"runId\"?: \"...\"}} ({e})")))?,
            };
            let id = match args.run_id {
                Some(id) => RunId(id),
                None => engine
                    .last_unfinished()
                    .ok_or_else(|| invalid_params("there is no unfinished run in this workspace to resume"))?,
            };
            let frontend = frontend(backend, &engine, "Samokoder: resume");
            let id = engine
                .spawn_run("resume", Some(id), frontend, |ctx| async move { resume(&ctx).await })
                .map_err(job_error)?;
            Ok(Some(json!({ "runId": id.0 })))
        }
        "samokoder.undo" => {
            let args: UndoArgs = serde_json::from_value(arg).map_err(|e| {
                invalid_params(format!("samokoder.undo takes {{\"runId\": \"...\", \"step\"?: N}} ({e})"))
            })?;
            let frontend = frontend(backend, &engine, "Samokoder: undo");
            let request = UndoRequest { step: args.step, force: false };
            let id =
                engine
                    .spawn_run("undo", Some(RunId(args.run_id)), frontend, move |ctx| async move {
                        undo(&ctx, &request).await
                    })
                    .map_err(job_error)?;
            Ok(Some(json!({ "runId": id.0 })))
        }
        "samokoder.cancel" => {
            let args: RunIdArgs = serde_json::from_value(arg)
                .map_err(|e| invalid_params(format!("samokoder.cancel takes {{\"runId\": \"...\"}} ({e})")))?;
            Ok(Some(json!({ "cancelled": engine.cancel(&args.run_id) })))
        }
        other => {
            Err(invalid_params(format!("unknown command `{other}`; this server executes {}", COMMANDS.join(", "))))
        }
    }
}

fn frontend(backend: &Backend, engine: &Arc<samokoder_engine::Engine>, label: &str) -> Arc<LspFrontend> {
    Arc::new(LspFrontend {
        client: backend.client.clone(),
        outbox: backend.outbox.clone(),
        engine: engine.clone(),
        caps: backend.caps(),
        diagnostics: backend.diagnostics.clone(),
        label: label.to_owned(),
    })
}
