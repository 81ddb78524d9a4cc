//! Architect: chooses the project template (and any extra packages and system needs) for the spec, and
//! writes `.samokoder/architecture.md`. A template name that does not exist is refused and asked again,
//! never trusted. A simple request with only one template to choose from needs no model call.
//!
//! Commits: `architecture/architecture`, then architecture.md as a step.

use anyhow::Result;
use samokoder_llm::AgentRole;
use samokoder_store::{RecordKind, put_typed};
use serde_json::json;

use super::{ask_json, messages, run_file, shared_vars, template_description, write_run_file};
use crate::RunContext;
use crate::state::{Architecture, ArchitectureReply, Complexity, RunState};

const REPLY_TOKENS: u32 = 512;

pub(crate) async fn run(ctx: &RunContext, state: &RunState, subdir: Option<&str>) -> Result<()> {
    let names: Vec<&str> = samokoder_prompts::template_names().collect();
    let simple = state.spec.as_ref().is_none_or(|s| s.complexity == Complexity::Simple);
    let architecture = if simple && names.len() == 1 {
        Architecture {
            template: names[0].to_owned(),
            why: "A simple request, and the only template.".into(),
            packages: vec![],
            system_needs: vec![],
        }
    } else {
        let mut vars = shared_vars(ctx, state, subdir, &[])?;
        let templates: Vec<_> =
            names.iter().map(|n| json!({"name": n, "description": template_description(n)})).collect();
        vars["templates"] = json!(templates);
        let reply: ArchitectureReply = ask_json(
            ctx,
            AgentRole::Architect,
            messages(ctx, &vars, "architect/task")?,
            REPLY_TOKENS,
            |r: &ArchitectureReply| {
                let name = r.template.trim();
                if names.contains(&name) {
                    Ok(())
                } else {
                    Err(format!("there is no template named `{name}`; choose one of: {}", names.join(", ")))
                }
            },
        )
        .await?;
        Architecture {
            template: reply.template.trim().to_owned(),
            why: reply.why.trim().to_owned(),
            packages: reply.packages.into_iter().map(|p| p.trim().to_owned()).filter(|p| !p.is_empty()).collect(),
            system_needs: reply
                .system_needs
                .into_iter()
                .map(|p| p.trim().to_owned())
                .filter(|p| !p.is_empty())
                .collect(),
        }
    };
    put_typed(&*ctx.store, RecordKind::Architecture, &ctx.id.0, "architecture", &architecture)?;
    let text = architecture.markdown(&template_description(&architecture.template));
    write_run_file(ctx, "architect", &run_file(subdir, "architecture.md"), text).await?;
    ctx.frontend.log(&ctx.id, "architect", &format!("template {}\n", architecture.template));
    Ok(())
}
