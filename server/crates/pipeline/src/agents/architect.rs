//! Architect: chooses the project template and its options (and any extra packages and system needs) for
//! the spec, and writes `.samokoder/architecture.md`; then the template's files are applied. A template name
//! that does not exist, or an option it does not have, is refused and asked again, never trusted. A simple
//! request (one module and its tests, as the spec writer rates it) that names none of another template's
//! keywords is built on the plain template without a call; a template the user named (`generate
//! --template`) is taken as it is.
//!
//! Commits: `architecture/architecture`, then architecture.md as a step; then the template's files as one
//! step (`scaffold`), then the architecture again, marked scaffolded.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use samokoder_edits::{ChangeSet, FileChange};
use samokoder_llm::AgentRole;
use samokoder_prompts::{ProjectVars, Template};
use samokoder_store::{RecordKind, get_typed, put_typed};
use serde_json::json;

use super::{apply_step, ask_json, in_project, messages, read_file, run_file, shared_vars, touches, write_run_file};
use crate::RunContext;
use crate::state::{Architecture, ArchitectureReply, Complexity, RunState};

const REPLY_TOKENS: u32 = 512;
/// The template of a simple request: plain Node, no dependencies.
pub(crate) const PLAIN_TEMPLATE: &str = "node";
/// Where a generate run keeps the template the user named (`RecordKind::Spec`).
pub(crate) const CHOICE_KEY: &str = "template";

/// The template the user named, with the options they gave.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct TemplateChoice {
    pub name: String,
    pub options: BTreeMap<String, String>,
}

pub(crate) async fn run(ctx: &RunContext, state: &RunState, subdir: Option<&str>) -> Result<()> {
    let names: Vec<&str> = samokoder_prompts::template_names().collect();
    let simple = state.spec.as_ref().is_none_or(|s| s.complexity == Complexity::Simple);
    let named: Option<TemplateChoice> = get_typed(&*ctx.store, RecordKind::Spec, &ctx.id.0, CHOICE_KEY)?;
    let architecture = if let Some(choice) = named {
        let template = samokoder_prompts::template(&choice.name)?;
        Architecture {
            options: template.options(&choice.options)?,
            template: choice.name,
            why: "The template the user named.".into(),
            packages: vec![],
            system_needs: vec![],
            scaffolded: false,
        }
    } else if (simple && !names_a_template(state)) || names.len() == 1 {
        let template = samokoder_prompts::template(PLAIN_TEMPLATE)?;
        Architecture {
            options: template.options(&BTreeMap::new())?,
            template: PLAIN_TEMPLATE.to_owned(),
            why: "A simple request: one module and its tests, on plain Node.".into(),
            packages: vec![],
            system_needs: vec![],
            scaffolded: false,
        }
    } else {
        ask(ctx, state, subdir, &names).await?
    };
    put_typed(&*ctx.store, RecordKind::Architecture, &ctx.id.0, "architecture", &architecture)?;
    let template = samokoder_prompts::template(&architecture.template)?;
    let text = architecture.markdown(&template.description, &template.summary);
    write_run_file(ctx, "architect", &run_file(subdir, "architecture.md"), text).await?;
    ctx.frontend.log(&ctx.id, "architect", &format!("template {}\n", architecture.template));
    Ok(())
}

/// The request or its spec names what another template is for (`a React page`): a simple request is not
/// enough reason to take the plain template without asking (Qwen rates a React counter page simple).
fn names_a_template(state: &RunState) -> bool {
    let Some(spec) = &state.spec else { return false };
    let text = format!("{}\n{}", spec.description, spec.summary);
    samokoder_prompts::template_names()
        .filter(|n| *n != PLAIN_TEMPLATE)
        .filter_map(|n| samokoder_prompts::template(n).ok())
        .any(|t| t.named_in(&text))
}

async fn ask(ctx: &RunContext, state: &RunState, subdir: Option<&str>, names: &[&str]) -> Result<Architecture> {
    let templates: Vec<Template> = names.iter().map(|n| samokoder_prompts::template(n)).collect::<Result<_, _>>()?;
    let mut vars = shared_vars(ctx, state, subdir, &[])?;
    vars["templates"] = json!(templates);
    // Templates whose keywords the request names, most named first: said in the prompt, and the reply's example names the first
    // (a small model copies the example: with `node` there, Qwen chose it for a React page and a Mongo API).
    let text = state.spec.as_ref().map(|s| format!("{}\n{}", s.description, s.summary)).unwrap_or_default();
    let mut ranked: Vec<(usize, &str)> =
        templates.iter().map(|t| (t.keywords_in(&text), t.name.as_str())).filter(|(n, _)| *n > 0).collect();
    ranked.sort_by_key(|r| std::cmp::Reverse(r.0));
    let named: Vec<&str> = ranked.into_iter().map(|(_, name)| name).collect();
    vars["named"] = json!(named);
    vars["example"] = json!(named.first().copied().unwrap_or(PLAIN_TEMPLATE));
    let chosen = |r: &ArchitectureReply| -> Result<(Template, BTreeMap<String, String>), String> {
        let name = r.template.trim();
        let Some(template) = templates.iter().find(|t| t.name == name) else {
            return Err(format!("there is no template named `{name}`; choose one of: {}", names.join(", ")));
        };
        // A template without options has nothing to choose wrongly: what a model lists for it is dropped
        // (Qwen 1.5B filled in the prompt's example). For one with options, a wrong name or value is refused.
        let given: BTreeMap<String, String> = match template.options.is_empty() {
            true => BTreeMap::new(),
            false => r.options.iter().map(|o| (o.option.trim().to_owned(), o.value.trim().to_owned())).collect(),
        };
        let options = template.options(&given).map_err(|e| e.to_string())?;
        Ok((template.clone(), options))
    };
    let reply: ArchitectureReply =
        ask_json(ctx, AgentRole::Architect, messages(ctx, &vars, "architect/task")?, REPLY_TOKENS, |r| {
            chosen(r).map(|_| ())
        })
        .await?;
    let (template, options) = chosen(&reply).map_err(anyhow::Error::msg)?;
    let tidy = |list: Vec<String>| list.into_iter().map(|p| p.trim().to_owned()).filter(|p| !p.is_empty()).collect();
    Ok(Architecture {
        template: template.name,
        why: reply.why.trim().to_owned(),
        packages: tidy(reply.packages),
        system_needs: tidy(reply.system_needs),
        options,
        scaffolded: false,
    })
}

/// The chosen template's files, rendered for this project, as one change: files the project has already
/// are kept as they are (never overwritten).
pub(crate) async fn scaffold(ctx: &RunContext, state: &RunState, subdir: Option<&str>) -> Result<()> {
    let Some(mut architecture) = state.architecture.clone() else { return Ok(()) };
    let template = samokoder_prompts::template(&architecture.template)?;
    let dir_name = match subdir {
        Some(dir) => dir.rsplit('/').next().unwrap_or(dir).to_owned(),
        None => ctx.jail.root().file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
    };
    let description = state.spec.as_ref().map(|s| s.summary.clone()).unwrap_or_default();
    let files = template.render(&ProjectVars::new(&dir_name, &description), &architecture.options)?;
    let mut changes = ChangeSet::default();
    let mut kept = Vec::new();
    for file in &files {
        let path = in_project(subdir, &file.path);
        if read_file(ctx, &path).is_some() {
            kept.push(path);
            continue;
        }
        let checked = ctx.jail.check(&path)?;
        match file.text() {
            Some(text) => changes.changes.push(FileChange { path: checked, text: text.to_owned() }),
            // An editor edits text: a binary file (an icon, say) is copied straight to disk.
            None => {
                let target = ctx.jail.root().join(checked.as_str());
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
                }
                std::fs::write(&target, &file.content).with_context(|| format!("cannot write {path}"))?;
            }
        }
    }
    if !kept.is_empty() {
        ctx.frontend.log(&ctx.id, "architect", &format!("kept the project's own {}\n", kept.join(", ")));
    }
    if !changes.changes.is_empty() {
        let touched = touches(ctx, &changes)?;
        let summary = format!("template {}: {} file(s)", template.name, changes.changes.len());
        apply_step(ctx, &changes, touched, "scaffold", None, summary).await?;
    }
    architecture.scaffolded = true;
    put_typed(&*ctx.store, RecordKind::Architecture, &ctx.id.0, "architecture", &architecture)?;
    Ok(())
}
