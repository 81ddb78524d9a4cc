//! `workspace/executeCommand`: every command answers at once; long work becomes a job.

use std::sync::Arc;

use samokoder_engine::{
    EditRequest, GenerateRequest, RunId, UndoRequest, fix, generate, generate_tests, implement, instruction_at, resume,
    run_tests, undo,
};
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
    /// The project template (`samokoder templates` lists them); the architect chooses when absent.
    template: Option<String>,
    /// The template's options (`{"database": "mongoose"}`).
    #[serde(default)]
    options: std::collections::BTreeMap<String, String>,
    /// A workspace-relative directory to build the project in.
    dir: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RunIdArgs {
    run_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct UriArgs {
    uri: lsp::Url,
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

/// What a spec without a description is asked for: the project the workspace holds.
const WORKSPACE_AS_IT_IS: &str = "The project in this workspace, as it is: what its code already does (its files \
                                  are listed above). Describe that; add no feature the code does not have.";

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SpecArgs {
    description: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ImplementArgs {
    uri: lsp::Url,
    range: lsp::Range,
    instruction: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct FixArgs {
    uri: Option<lsp::Url>,
    diagnostic: Option<lsp::Diagnostic>,
    /// Fix a run's failing tests (the same as no argument: the workspace's failing tests).
    run_id: Option<String>,
}

/// The workspace-relative path of a URI, or an error that says why it cannot be used.
fn workspace_path(engine: &samokoder_engine::Engine, uri: &lsp::Url) -> Result<String> {
    let path = crate::from_proto::path(uri).ok_or_else(|| invalid_params(format!("{uri} is not a file")))?;
    let rel =
        engine.jail().relativize(&path).ok_or_else(|| invalid_params(format!("{uri} is outside the workspace")))?;
    Ok(rel.to_string())
}

/// The lines a range covers, 1-based and inclusive (a range that ends at a line's start stops before it).
fn lines_of(range: &lsp::Range) -> (u32, u32) {
    let start = range.start.line + 1;
    let end =
        if range.end.line > range.start.line && range.end.character == 0 { range.end.line } else { range.end.line + 1 };
    (start, end.max(start))
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
            let usage = "samokoder.generate takes one argument: {\"description\": \"what to build\", \"dir\"?: \"sub/dir\", \
                         \"template\"?: \"vite-react\", \"options\"?: {\"name\": \"value\"}}";
            let args: GenerateArgs = match arg {
                Value::String(description) => {
                    GenerateArgs { description, template: None, options: Default::default(), dir: None }
                }
                other => serde_json::from_value(other).map_err(|e| invalid_params(format!("{usage} ({e})")))?,
            };
            if args.description.trim().is_empty() {
                return Err(invalid_params(format!("{usage}: the description is empty")));
            }
            if let Some(template) = args.template.as_deref() {
                let template = samokoder_prompts::template(template).map_err(|_| {
                    let known: Vec<&str> = samokoder_prompts::template_names().collect();
                    invalid_params(format!("unknown template `{template}`; available: {}", known.join(", ")))
                })?;
                template.options(&args.options).map_err(|e| invalid_params(e.to_string()))?;
            } else if !args.options.is_empty() {
                return Err(invalid_params("`options` are a template's: name the `template` too"));
            }
            let subdir = match args.dir.as_deref().map(str::trim).filter(|d| !d.is_empty() && *d != ".") {
                Some(dir) => Some(engine.jail().check(dir).map_err(|e| invalid_params(e.to_string()))?.to_string()),
                None => None,
            };
            let frontend = frontend(backend, &engine, "Samokoder: generate");
            let request = GenerateRequest {
                description: args.description,
                subdir,
                template: args.template,
                options: args.options,
                ..Default::default()
            };
            let id = engine
                .spawn_run("generate", None, frontend, move |ctx| async move { generate(&ctx, &request).await })
                .map_err(job_error)?;
            Ok(Some(json!({ "runId": id.0 })))
        }
        "samokoder.writeSpec" => {
            let usage = "samokoder.writeSpec takes {\"description\"?: \"what to build\"} (without one, the spec \
                         describes the code the workspace has)";
            let args: SpecArgs = match arg {
                Value::Null => SpecArgs::default(),
                Value::String(description) => SpecArgs { description: Some(description) },
                other => serde_json::from_value(other).map_err(|e| invalid_params(format!("{usage} ({e})")))?,
            };
            let description = match args.description.filter(|d| !d.trim().is_empty()) {
                Some(description) => description,
                None => WORKSPACE_AS_IT_IS.to_owned(),
            };
            let frontend = frontend(backend, &engine, "Samokoder: write spec");
            let request = GenerateRequest { description, spec_only: true, ..Default::default() };
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
        "samokoder.implement" => {
            let args: ImplementArgs = serde_json::from_value(arg).map_err(|e| {
                invalid_params(format!(
                    "samokoder.implement takes {{\"uri\": \"...\", \"range\": {{...}}, \"instruction\"?: \"...\"}} ({e})"
                ))
            })?;
            let path = workspace_path(&engine, &args.uri)?;
            let (start_line, end_line) = lines_of(&args.range);
            let line = crate::from_proto::path(&args.uri)
                .and_then(|p| engine.document_text(&p).map(|(t, _)| t).or_else(|| std::fs::read_to_string(p).ok()))
                .and_then(|text| text.lines().nth(start_line as usize - 1).map(str::to_owned));
            let instruction = match args.instruction.filter(|i| !i.trim().is_empty()) {
                Some(instruction) => instruction,
                None => match line.as_deref().and_then(instruction_at) {
                    Some(found) => found,
                    None if args.range.start != args.range.end => {
                        "implement what the selected lines describe".to_owned()
                    }
                    None => {
                        return Err(invalid_params(
                            "nothing to implement here: put the cursor on a `TODO(samokoder): ...` comment, select code, \
                             or give an instruction",
                        ));
                    }
                },
            };
            let request = EditRequest { path, start_line, end_line, instruction };
            let frontend = frontend(backend, &engine, "Samokoder: implement");
            let id = engine
                .spawn_run("implement", None, frontend, move |ctx| async move { implement(&ctx, &request).await })
                .map_err(job_error)?;
            Ok(Some(json!({ "runId": id.0 })))
        }
        "samokoder.fix" => {
            let args: FixArgs = match arg {
                Value::Null => FixArgs::default(),
                other => serde_json::from_value(other).map_err(|e| {
                    invalid_params(format!(
                        "samokoder.fix takes {{\"uri\": \"...\", \"diagnostic\": {{...}}}} or {{\"runId\": \"...\"}} ({e})"
                    ))
                })?,
            };
            let request = match (&args.uri, &args.diagnostic) {
                (Some(uri), Some(diagnostic)) => {
                    let (start_line, end_line) = lines_of(&diagnostic.range);
                    let source = diagnostic.source.as_deref().map(|s| format!(" ({s})")).unwrap_or_default();
                    Some(EditRequest {
                        path: workspace_path(&engine, uri)?,
                        start_line,
                        end_line,
                        instruction: format!("{}{source}", diagnostic.message.lines().next().unwrap_or("")),
                    })
                }
                (None, None) => None,
                _ => return Err(invalid_params("samokoder.fix needs both `uri` and `diagnostic`, or neither")),
            };
            let _ = args.run_id;
            let frontend = frontend(backend, &engine, "Samokoder: fix");
            let id = engine
                .spawn_run("fix", None, frontend, move |ctx| async move { fix(&ctx, request.as_ref()).await })
                .map_err(job_error)?;
            Ok(Some(json!({ "runId": id.0 })))
        }
        "samokoder.generateTests" => {
            let usage = "samokoder.generateTests takes {\"uri\": \"file:///.../src/module.js\"}";
            let args: UriArgs = serde_json::from_value(arg).map_err(|e| invalid_params(format!("{usage} ({e})")))?;
            let path = workspace_path(&engine, &args.uri)?;
            let frontend = frontend(backend, &engine, "Samokoder: generate tests");
            let id = engine
                .spawn_run("tests", None, frontend, move |ctx| async move { generate_tests(&ctx, &path).await })
                .map_err(job_error)?;
            Ok(Some(json!({ "runId": id.0 })))
        }
        "samokoder.submitAnswers" => {
            let usage = "samokoder.submitAnswers takes {\"uri\": \"file:///.../.samokoder/questions.md\"}";
            let args: UriArgs = serde_json::from_value(arg).map_err(|e| invalid_params(format!("{usage} ({e})")))?;
            let path = crate::from_proto::path(&args.uri)
                .filter(|p| p.ends_with(".samokoder/questions.md"))
                .ok_or_else(|| invalid_params(format!("{usage}: {} is not a questions.md", args.uri)))?;
            workspace_path(&engine, &args.uri)?;
            let text = engine.document_text(&path).map(|(t, _)| t).or_else(|| std::fs::read_to_string(&path).ok());
            let run =
                text.as_deref().and_then(samokoder_pipeline::questions_md::run_of).map(str::to_owned).ok_or_else(
                    || {
                        invalid_params(format!(
                            "{} names no run (its line `Run <id> waits for your answers` is gone)",
                            args.uri
                        ))
                    },
                )?;
            match engine.store().get_run(&run) {
                Ok(Some(record)) if record.status == samokoder_engine::RunStatus::Paused => {}
                Ok(Some(record)) => {
                    return Err(invalid_params(format!(
                        "run {run} is not waiting for answers ({}); nothing to submit",
                        record.summary
                    )));
                }
                _ => return Err(invalid_params(format!("there is no run {run} in this workspace"))),
            }
            let frontend = frontend(backend, &engine, "Samokoder: submit answers");
            let id = engine
                .spawn_run("resume", Some(RunId(run)), frontend, |ctx| async move { resume(&ctx).await })
                .map_err(job_error)?;
            Ok(Some(json!({ "runId": id.0 })))
        }
        "samokoder.acceptPending" | "samokoder.rejectPending" => {
            let accept = params.command == "samokoder.acceptPending";
            let run = crate::review::decide(&backend.review, accept).map_err(invalid_params)?;
            Ok(Some(json!({ "runId": run.0, "accepted": accept })))
        }
        "samokoder.run" => {
            let frontend = frontend(backend, &engine, "Samokoder: run the app");
            Ok(Some(crate::app::start(backend, engine, frontend)))
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
        review: backend.review.clone(),
    })
}
