//! Developer: one task becomes steps, each a set of files to write together (with an instruction each)
//! and optional commands. Paths are checked before anything is written: outside the workspace, a file
//! that needs the user's confirmation (`.git/hooks`, `.vscode`, CI workflows, the config), or the same
//! path named twice in one step is merged into one file with both instructions (small models repeat a test
//! file; nothing is lost, nothing guessed). In a project whose tests run with `node --test`, a step that
//! writes a module under `src/` without its test, when the project has none (`test/<name>.test.js`), gets
//! that test file added with an instruction that names the module: a small model plans the module alone
//! often enough, and a task without tests proves nothing. A simple request's one task is one step written in
//! one call, without a model call here.
//!
//! Commits: `tasks/<id>` with the steps.

use anyhow::Result;
use samokoder_edits::{Jail, Protection};
use samokoder_llm::AgentRole;
use serde_json::json;

use super::{ask_json, messages, shared_vars};
use crate::RunContext;
use crate::state::{Complexity, DevStep, DeveloperReply, PlanTask, RunState, TaskProgress, save_task};

pub(crate) const MAX_FILES_PER_STEP: usize = 8;
const REPLY_TOKENS: u32 = 1536;

pub(crate) async fn run(
    ctx: &RunContext,
    state: &RunState,
    task: &PlanTask,
    done: &[String],
    subdir: Option<&str>,
) -> Result<()> {
    let id = task.id.as_deref().unwrap_or_default();
    let simple = state.spec.as_ref().is_some_and(|s| s.complexity == Complexity::Simple);
    let steps = if simple {
        vec![DevStep { description: task.title.clone(), files: vec![], commands: vec![] }]
    } else {
        let mut vars = shared_vars(ctx, state, subdir, &[])?;
        vars["task"] = json!({"title": task.title, "description": task.description, "test": task.test});
        vars["done"] = json!(done);
        let reply: DeveloperReply = ask_json(
            ctx,
            AgentRole::Developer,
            messages(ctx, &vars, "developer/task")?,
            REPLY_TOKENS,
            |r: &DeveloperReply| check_steps(&ctx.jail, subdir, &merged(&r.steps)),
        )
        .await?;
        let steps = merged(&reply.steps);
        // The test added is Node's own (`node:test`): for a project whose tests run with `node --test`.
        if super::executor::test_command(ctx, state, subdir).contains("node --test") {
            with_tests(steps, |path| super::read_file(ctx, &super::in_project(subdir, path)).is_some())
        } else {
            steps
        }
    };
    let mut progress = state.task(id).cloned().unwrap_or_else(|| TaskProgress::new(id));
    progress.basis = task.basis();
    progress.steps = Some(steps);
    progress.applied = 0;
    progress.applying = None;
    progress.outcome = None;
    save_task(&*ctx.store, &ctx.id.0, &progress)?;
    let files: usize = progress.steps.iter().flatten().map(|s| s.files.len()).sum();
    ctx.frontend.log(
        &ctx.id,
        "developer",
        &format!("{id}: {} step(s), {files} file(s)\n", progress.steps.as_ref().map_or(0, Vec::len)),
    );
    Ok(())
}

/// The steps with each path once per step: a path named twice keeps its first place and both instructions.
pub(crate) fn merged(steps: &[DevStep]) -> Vec<DevStep> {
    steps
        .iter()
        .map(|step| {
            let mut files: Vec<crate::state::FileInstruction> = Vec::new();
            for file in &step.files {
                let key = file.path.trim().trim_start_matches("./");
                match files.iter_mut().find(|f| f.path.trim().trim_start_matches("./") == key) {
                    Some(first) => first.instruction = format!("{}; {}", first.instruction, file.instruction),
                    None => files.push(file.clone()),
                }
            }
            DevStep { files, ..step.clone() }
        })
        .collect()
}

/// The steps with a test file added beside each JavaScript module under `src/` that a step writes without one,
/// unless `exists` says the project has that test already or the step is full.
pub(crate) fn with_tests(mut steps: Vec<DevStep>, exists: impl Fn(&str) -> bool) -> Vec<DevStep> {
    for step in &mut steps {
        let planned: Vec<String> =
            step.files.iter().map(|f| f.path.trim().trim_start_matches("./").to_owned()).collect();
        if planned.iter().any(|p| super::troubleshooter::is_test(p)) {
            continue;
        }
        for module in &planned {
            if !module.starts_with("src/") || !(module.ends_with(".js") || module.ends_with(".mjs")) {
                continue;
            }
            let test = super::test_writer::test_path(module);
            let planned_already = step.files.iter().any(|f| f.path == test);
            if step.files.len() >= MAX_FILES_PER_STEP || planned_already || exists(&test) {
                continue;
            }
            let import = super::test_writer::relative(&test, module);
            step.files.push(crate::state::FileInstruction {
                path: test,
                instruction: format!(
                    "tests every export of {module} with node:test and node:assert/strict, importing them from \
                     '{import}'; each test checks one case the task names, with the exact expected value"
                ),
            });
        }
    }
    steps
}

/// Why these steps cannot be carried out, if they cannot.
pub(crate) fn check_steps(jail: &Jail, subdir: Option<&str>, steps: &[DevStep]) -> Result<(), String> {
    if steps.is_empty() {
        return Err("there are no steps: give at least one step with its files".into());
    }
    for (i, step) in steps.iter().enumerate() {
        let n = i + 1;
        if step.files.is_empty() {
            return Err(format!("step {n} has no files"));
        }
        if step.files.len() > MAX_FILES_PER_STEP {
            return Err(format!(
                "step {n} has {} files; split it into steps of at most {MAX_FILES_PER_STEP}",
                step.files.len()
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for file in &step.files {
            let path = file.path.trim();
            let rel = jail.check(&super::in_project(subdir, path)).map_err(|e| format!("step {n}: {e}"))?;
            if Jail::protection(&rel) == Protection::NeedsConfirmation {
                return Err(format!(
                    "step {n}: {path} is a file other tools run ({rel}); the user must write it, not a step"
                ));
            }
            if !seen.insert(rel.to_string()) {
                return Err(format!("step {n} names {path} twice: give each file once, with one instruction"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::FileInstruction;

    fn step(paths: &[&str]) -> DevStep {
        DevStep {
            description: "s".into(),
            files: paths.iter().map(|p| FileInstruction { path: (*p).into(), instruction: "i".into() }).collect(),
            commands: vec![],
        }
    }

    #[test]
    fn bad_steps_are_refused_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let jail = Jail::new(dir.path()).unwrap();
        assert_eq!(check_steps(&jail, None, &[step(&["src/a.js", "test/a.test.js"])]), Ok(()));
        let cases: [(&[DevStep], &str); 6] = [
            (&[], "no steps"),
            (&[step(&[])], "step 1 has no files"),
            (&[step(&["src/a.js"]), step(&["../outside.js"])], "step 2"),
            (&[step(&["/etc/passwd"])], "absolute"),
            (&[step(&[".github/workflows/ci.yml"])], "other tools run"),
            (&[step(&["src/a.js", "./src/a.js"])], "names ./src/a.js twice"),
        ];
        for (steps, says) in cases {
            let err = check_steps(&jail, None, steps).unwrap_err();
            assert!(err.contains(says), "{says}: {err}");
        }
        let twice = merged(&[step(&["src/a.js", "./src/a.js", "test/a.test.js"])]);
        let files: Vec<(&str, &str)> =
            twice[0].files.iter().map(|f| (f.path.as_str(), f.instruction.as_str())).collect();
        assert_eq!(files, [("src/a.js", "i; i"), ("test/a.test.js", "i")]);
        let nine: Vec<String> = (0..9).map(|i| format!("f{i}.js")).collect();
        let nine: Vec<&str> = nine.iter().map(String::as_str).collect();
        assert!(check_steps(&jail, None, &[step(&nine)]).unwrap_err().contains("at most 8"));
    }

    #[test]
    fn a_module_planned_without_its_test_gets_one_unless_the_project_has_it() {
        let paths = |steps: &[DevStep]| -> Vec<Vec<String>> {
            steps.iter().map(|s| s.files.iter().map(|f| f.path.clone()).collect()).collect()
        };
        let steps = with_tests(
            vec![
                step(&["src/stack.js", "README.md"]),
                step(&["./src/lib/queue.mjs", "src/old.js"]),
                step(&["src/a.js", "test/a.test.js"]),
            ],
            |path| path == "test/old.test.js",
        );
        assert_eq!(
            paths(&steps),
            [
                vec!["src/stack.js", "README.md", "test/stack.test.js"],
                vec!["./src/lib/queue.mjs", "src/old.js", "test/lib/queue.test.js"],
                vec!["src/a.js", "test/a.test.js"],
            ]
        );
        let added = &steps[1].files[2].instruction;
        assert!(
            added.contains("every export of src/lib/queue.mjs") && added.contains("'../../src/lib/queue.mjs'"),
            "{added}"
        );
        // Two modules of one name get two tests, named as the test writer names them.
        assert_eq!(
            paths(&with_tests(vec![step(&["src/a/index.js", "src/b/index.js"])], |_| false)),
            [vec!["src/a/index.js", "src/b/index.js", "test/a/index.test.js", "test/b/index.test.js"]]
        );
        let full: Vec<String> = (0..8).map(|i| format!("src/f{i}.js")).collect();
        let full: Vec<&str> = full.iter().map(String::as_str).collect();
        assert_eq!(with_tests(vec![step(&full)], |_| false)[0].files.len(), 8, "a full step stays as it is");
        assert_eq!(
            paths(&with_tests(vec![step(&["config.js", "src/style.css"])], |_| false)),
            [vec!["config.js", "src/style.css"]]
        );
    }
}
