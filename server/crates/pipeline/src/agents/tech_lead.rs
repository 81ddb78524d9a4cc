//! TechLead: the spec becomes epics and tasks, each with how it is tested, written to
//! `.samokoder/plan.md` for the user to read and edit (the run follows the file, not this record). A
//! simple request gets one task, without a model call. A plan with no tasks is refused and asked again.
//!
//! Commits: one `plan_items/<n>` per task, then plan.md as a step.

use anyhow::{Result, bail};
use samokoder_llm::AgentRole;
use samokoder_store::{RecordKind, put_typed};
use serde_json::json;

use super::{ask_json, messages, run_file, shared_vars, write_run_file};
use crate::RunContext;
use crate::plan_md::{PLAN_FILE, render};
use crate::state::{Complexity, PlanReply, PlanTask, RunState};

pub(crate) const MAX_TASKS: usize = 8;
const REPLY_TOKENS: u32 = 1536;

pub(crate) async fn run(ctx: &RunContext, state: &RunState, subdir: Option<&str>) -> Result<()> {
    let Some(spec) = &state.spec else { bail!("the tech lead has no spec to plan from") };
    let mut tasks: Vec<PlanTask> = if spec.complexity == Complexity::Simple {
        vec![PlanTask {
            id: None,
            epic: String::new(),
            title: spec.description.split_whitespace().collect::<Vec<_>>().join(" "),
            description: spec.features.join("\n"),
            test: format!("its tests pass with `{}`", super::executor::test_command(ctx, state, subdir)),
            done: false,
            line: 0,
        }]
    } else {
        let mut vars = shared_vars(ctx, state, subdir, &[])?;
        vars["max_tasks"] = json!(MAX_TASKS);
        let reply: PlanReply = ask_json(
            ctx,
            AgentRole::TechLead,
            messages(ctx, &vars, "tech_lead/task")?,
            REPLY_TOKENS,
            |r: &PlanReply| {
                let count: usize = r.epics.iter().map(|e| e.tasks.len()).sum();
                if count == 0 {
                    return Err("the plan has no tasks: give at least one task".into());
                }
                if count > MAX_TASKS {
                    return Err(format!("the plan has {count} tasks; merge them into at most {MAX_TASKS}"));
                }
                if r.epics.iter().flat_map(|e| &e.tasks).any(|t| t.title.trim().is_empty()) {
                    return Err("a task has no title".into());
                }
                Ok(())
            },
        )
        .await?;
        reply
            .epics
            .into_iter()
            .flat_map(|epic| {
                let name = epic.name.trim().to_owned();
                epic.tasks.into_iter().map(move |t| PlanTask {
                    id: None,
                    epic: name.clone(),
                    title: t.title.trim().to_owned(),
                    description: t.description.trim().to_owned(),
                    test: t.test.trim().to_owned(),
                    done: false,
                    line: 0,
                })
            })
            .collect()
    };
    for (i, task) in tasks.iter_mut().enumerate() {
        task.id = Some(format!("t{}", i + 1));
        put_typed(&*ctx.store, RecordKind::PlanItem, &ctx.id.0, &format!("{i:04}"), task)?;
    }
    write_run_file(ctx, "tech_lead", &run_file(subdir, PLAN_FILE), render(&tasks)).await?;
    ctx.frontend.log(
        &ctx.id,
        "tech_lead",
        &format!("planned {} task{}\n", tasks.len(), if tasks.len() == 1 { "" } else { "s" }),
    );
    Ok(())
}
