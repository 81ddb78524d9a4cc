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
/// Templates whose projects have a user interface: their plan must build it.
const UI_TEMPLATES: &[&str] = &["vite-react", "react-express"];
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
        let template = state.architecture.as_ref().map(|a| a.template.clone()).unwrap_or_default();
        let ui = UI_TEMPLATES.contains(&template.as_str());
        vars["ui"] = json!(ui);
        vars["template"] = json!(template);
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
                if ui && !r.epics.iter().flat_map(|e| &e.tasks).any(plans_ui) {
                    return Err(format!(
                        "no task builds the user interface, and the project is a {template} app: add the task for \
                         its React components in src/ that the request is about"
                    ));
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
    tasks = to_size(tasks);
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

/// A task that builds a user interface: it names a component file or the interface in its words.
fn plans_ui(task: &crate::state::TaskDraft) -> bool {
    let text = format!("{} {}", task.title, task.description).to_lowercase();
    [".jsx", ".tsx", "component", "user interface", " ui", "page", "app.j", "react", "form", "button", "view"]
        .iter()
        .any(|w| text.contains(w))
}

/// The plan to the size of the work: a task that repeats an earlier one (the same title, once case, spaces and
/// punctuation are set aside) goes, and tasks that all work on one and the same source file (the
/// only one the plan names) are one task: Qwen 1.5B planned an LRU cache as five tasks ("implement the
/// class", then get, set, has and size), each a call that rewrote the same file.
fn to_size(tasks: Vec<PlanTask>) -> Vec<PlanTask> {
    // Letters and digits alone: `The TodoList class` and `the todo list class.` are one task.
    let normal = |t: &str| t.to_lowercase().chars().filter(|c| c.is_alphanumeric()).collect::<String>();
    let mut kept: Vec<PlanTask> = Vec::new();
    for task in tasks {
        if !kept.iter().any(|k| normal(&k.title) == normal(&task.title)) {
            kept.push(task);
        }
    }
    let files = |t: &PlanTask| -> Vec<String> {
        format!("{} {}", t.title, t.description)
            .split(|c: char| c.is_whitespace() || matches!(c, '`' | '(' | ')' | ',' | ';' | '\'' | '"'))
            .map(|w| w.trim_end_matches(['.', ':']))
            .filter(|w| w.starts_with("src/") && w.contains('.') && !crate::agents::troubleshooter::is_test(w))
            .map(str::to_owned)
            .collect()
    };
    let mut named: Vec<String> = kept.iter().flat_map(files).collect();
    named.sort();
    named.dedup();
    if kept.len() > 1 && named.len() == 1 {
        let mut merged = kept[0].clone();
        merged.description =
            kept.iter().map(|t| format!("{}: {}", t.title, t.description)).collect::<Vec<_>>().join("\n");
        merged.test = kept.iter().map(|t| t.test.clone()).filter(|t| !t.is_empty()).collect::<Vec<_>>().join("; ");
        return vec![merged];
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(title: &str, description: &str) -> PlanTask {
        PlanTask {
            id: None,
            epic: String::new(),
            title: title.into(),
            description: description.into(),
            test: format!("tests {title}"),
            done: false,
            line: 0,
        }
    }

    #[test]
    fn a_plan_of_one_module_is_one_task_and_a_repeated_task_goes() {
        let lru = vec![
            task("Implement the LRUCache class", "in src/lru.js with a capacity"),
            task("get(key)", "returns the value and marks it used, in src/lru.js"),
            task("set(key, value)", "evicts the least recently used"),
        ];
        let sized = to_size(lru);
        assert_eq!(sized.len(), 1);
        assert_eq!(sized[0].title, "Implement the LRUCache class");
        assert!(sized[0].description.contains("set(key, value): evicts"), "{}", sized[0].description);
        let twice = vec![
            task("The TodoList class", "src/todos.js"),
            task("The todo list class.", "src/todos.js again"),
            task("The App component", "src/App.jsx shows the list"),
        ];
        let sized = to_size(twice);
        assert_eq!(
            sized.iter().map(|t| t.title.as_str()).collect::<Vec<_>>(),
            ["The TodoList class", "The App component"]
        );
        assert!(plans_ui(&crate::state::TaskDraft {
            title: "The App component".into(),
            description: String::new(),
            test: String::new()
        }));
        assert!(!plans_ui(&crate::state::TaskDraft {
            title: "The TodoList class".into(),
            description: "src/todos.js".into(),
            test: String::new()
        }));
    }
}
