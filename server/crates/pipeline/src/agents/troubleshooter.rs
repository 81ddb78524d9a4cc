//! Troubleshooter (and BugHunter, for a failure no test reports): a task's tests fail; it reads the failures,
//! the end of the test output, the spec and the code involved (the failing files, what they import, the
//! task's files), and proposes edits: SEARCH/REPLACE blocks for files that exist, whole files for new ones.
//! An edit that cannot be applied (a SEARCH that matches nothing or several places), a file with a syntax
//! error, or a change to a test that is not allowed is sent back with the exact reason. The edits land as one
//! change; the checks then run (`node --check` on touched JavaScript, `tsc --noEmit` for TypeScript:
//! agents/checks.rs), and errors the edits introduced go back to the model in the same iteration. The
//! executor runs the tests again; the orchestrator's rules decide whether to go on (docs/agents.md).
//!
//! Tests are guarded: a test file the user wrote is changed only with the user's confirmation; a change that
//! deletes tests or assertions is refused; a generated test changes only when the reply quotes the spec line
//! that proves the test wrong (`Spec: ...`).
//!
//! Commits: the fix as a step, and the task's progress (`fixes`, outcome cleared).

use anyhow::{Result, bail};
use samokoder_llm::{AgentRole, ChatRequest};
use samokoder_store::StepRecord;
use serde_json::json;

use super::checks::{Checks, introduced, refusal};
use super::prepare::UNCHANGED;
pub(crate) use super::prepare::{Guard, prepare};
use super::{
    apply_step, in_project, messages, read_file, reask, run_file, shared_vars_showing, stream_text_at, touches,
};
use crate::RunContext;
use crate::state::{Fix, PlanTask, RunState, TaskProgress, save_task};

/// How many times an edit that cannot be applied, or that broke the code, is sent back.
const EDIT_RETRIES: usize = 2;
const REPLY_TOKENS: u32 = 2048;
/// The most of a file shown to the model.
const FILE_BYTES: usize = 12_000;
/// Lines of the prompt's own frame that have no place in a reply: a small model that starts writing one is
/// copying the prompt back (Qwen 1.5B did, to its 2,048-token cap: four minutes of decoding), so the reply
/// stops there and what came before it is read. Four, the most OpenAI's API takes.
const ECHOES: [&str; 4] = [
    "\nThe end of the test output:",
    "\nThe end of the output:",
    "\nThe files involved:",
    "This change is in the files now",
];
/// How many of the fixes already tried the model sees, and how much of each.
const TRIED_SHOWN: usize = 2;
const TRIED_BYTES: usize = 2_000;

pub(crate) async fn run(
    ctx: &RunContext,
    state: &RunState,
    task: &PlanTask,
    mut progress: TaskProgress,
    subdir: Option<&str>,
) -> Result<()> {
    let Some(outcome) = progress.outcome.clone() else { bail!("the troubleshooter has no failure to fix") };
    // A failure no test reports (a crash, a module that will not load, no tests at all) is the bug hunter's:
    // the same loop and rules, a prompt about the output instead of failing tests.
    let (role, prompt) = if outcome.failures.is_empty() {
        (AgentRole::BugHunter, "bug_hunter/task")
    } else {
        (AgentRole::Troubleshooter, "troubleshooter/task")
    };
    let agent = role.as_str();
    // The run's steps, read once: the files its code writer wrote, and the fixes already tried.
    let steps = ctx.store.steps(&ctx.id.0).unwrap_or_default();
    let files = involved(ctx, &steps, &progress, &outcome.failures, subdir);
    let focus: Vec<String> = files.iter().map(|(p, _)| p.clone()).collect();
    let mut vars = shared_vars_showing(ctx, state, subdir, &focus, &focus)?;
    vars["task"] = json!({"title": task.title, "description": task.description});
    vars["failures"] = json!(outcome.failures.iter().take(20).collect::<Vec<_>>());
    vars["output"] = json!(outcome.output);
    vars["summary"] = json!(outcome.summary);
    vars["tried"] = json!(!progress.fixes.is_empty());
    vars["tried_changes"] = json!(tried_changes(ctx, &steps, &progress, subdir));
    vars["hint"] = json!(progress.hint.clone().unwrap_or_default());
    vars["files"] = json!(files.iter().map(|(p, t)| json!({"path": p, "text": t})).collect::<Vec<_>>());
    // The user's tests are right and stay as they are: said up front, a small model stops trying to edit
    // them (Qwen 1.5B spent whole fix runs on refused changes to a user's test).
    let created = created_by_run(ctx);
    let users_tests: Vec<&str> = files
        .iter()
        .map(|(p, _)| p.as_str())
        .filter(|p| is_test(p) && !created.contains(&in_project(subdir, p)))
        .collect();
    vars["users_tests"] = json!(users_tests.join(", "));
    // A tests run's new tests fail against the user's code: the tests are what is wrong.
    let kind = ctx.store.get_run(&ctx.id.0)?.map(|r| r.kind).unwrap_or_default();
    let code_is_right = kind == "tests";
    vars["code_is_right"] = json!(code_is_right);
    let mut request = ChatRequest {
        messages: messages(ctx, &vars, prompt)?,
        temperature: Some(if progress.heated { 0.8 } else { 0.2 }),
        max_tokens: Some(REPLY_TOKENS),
        stop: ECHOES.iter().map(|s| (*s).to_owned()).collect(),
        ..Default::default()
    };
    // A run without a spec is held to the comments of the code involved, and an implement run to its request.
    let spec = read_file(ctx, &run_file(subdir, "spec.md")).unwrap_or_else(|| {
        let request = (kind == "implement").then(|| task.title.clone());
        let comments = files.iter().filter(|(p, _)| !is_test(p)).flat_map(|(_, t)| super::case_tests::comment_lines(t));
        request.into_iter().chain(comments).collect::<Vec<_>>().join("\n")
    });
    let guard = if code_is_right { Guard::CodeIsRight } else { Guard::Spec(&spec) };
    let mut first_step: Option<u32> = None;
    let mut attempt = 0;
    loop {
        let completion = stream_text_at(ctx, role, progress.tier, &request, None).await?;
        let changes = match prepare(ctx, &completion.text, subdir, guard, &files) {
            Ok(changes) => changes,
            Err(why) if attempt < EDIT_RETRIES => {
                attempt += 1;
                ctx.frontend.log(&ctx.id, agent, &format!("\n[not applied: {why}; asking again]\n"));
                // A reply that gives the code back as it is gets told what that code still does wrong.
                let why = match outcome.failures.first() {
                    Some(failure) if why.starts_with(UNCHANGED) => {
                        format!("{why}: the code as it is still fails ({failure}); change what it computes")
                    }
                    _ => why,
                };
                let why = format!("That change cannot be applied: {why}\n\nReply again with the corrected changes.");
                reask(&mut request, completion.text, why);
                continue;
            }
            Err(why) => {
                // A failed iteration, not a failed run: the loop's rules decide what comes next.
                let note = format!("\n[no fix could be applied after {} tries: {why}]\n", attempt + 1);
                ctx.frontend.log(&ctx.id, agent, &note);
                progress.fixes.push(Fix { step: None, before: outcome, tier: progress.tier, undone: false });
                progress.hint = None;
                save_task(&*ctx.store, &ctx.id.0, &progress)?;
                return Ok(());
            }
        };
        let paths: Vec<String> = changes.paths().map(|p| p.to_string()).collect();
        let checks = Checks::for_write(ctx, &paths, subdir);
        let before = checks.run(ctx).await?;
        let touched = touches(ctx, &changes)?;
        let step = apply_step(ctx, &changes, touched, agent, Some(&progress.id), format!("fixed {}", paths.join(", ")))
            .await?;
        first_step.get_or_insert(step);
        let broken = introduced(&before, &checks.run(ctx).await?);
        let errors: Vec<String> = broken.iter().map(|(file, error)| format!("{file}: {error}")).collect();
        if broken.is_empty() || attempt >= EDIT_RETRIES {
            if !broken.is_empty() {
                ctx.frontend.log(&ctx.id, agent, &format!("the fix still fails its checks: {}\n", errors.join("; ")));
            }
            break;
        }
        attempt += 1;
        ctx.frontend.log(
            &ctx.id,
            agent,
            &format!("{}: {}; asking again\n", refusal(&broken, "the code"), errors.join("; ")),
        );
        let why = format!(
            "Those changes were applied, but {}: {}. Fix that with SEARCH/REPLACE blocks against the files as they \
             are now.",
            refusal(&broken, "the code"),
            errors.join("; ")
        );
        reask(&mut request, completion.text, why);
    }
    progress.fixes.push(Fix { step: first_step, before: outcome, tier: progress.tier, undone: false });
    progress.outcome = None;
    progress.hint = None;
    save_task(&*ctx.store, &ctx.id.0, &progress)?;
    Ok(())
}

/// What the last fixes since the user last spoke changed, as SEARCH/REPLACE blocks (at most
/// [`TRIED_SHOWN`], each cut to [`TRIED_BYTES`]), each saying what came of it: a small model told only "try
/// something else" gives the same change again (Qwen 1.5B did, until the same-failure rule stopped it).
fn tried_changes(ctx: &RunContext, steps: &[StepRecord], progress: &TaskProgress, subdir: Option<&str>) -> Vec<String> {
    let prefix = subdir.map(|d| format!("{d}/")).unwrap_or_default();
    let fixes = &progress.fixes[progress.asked_at.min(progress.fixes.len())..];
    let mut shown: Vec<String> = fixes
        .iter()
        .rev()
        .filter_map(|fix| {
            // The fix's step and the ones its checks asked for in the same iteration: per file, its text
            // before the first and after the last.
            let first = usize::try_from(fix.step?).ok()?;
            let iteration = steps.get(first..)?.iter().take_while(|s| s.agent == steps[first].agent);
            let mut files: Vec<(&str, &Option<String>, &Option<String>)> = Vec::new();
            for touch in iteration.flat_map(|s| &s.touched) {
                match files.iter_mut().find(|(path, _, _)| *path == touch.path) {
                    Some(file) => file.2 = &touch.after,
                    None => files.push((&touch.path, &touch.before, &touch.after)),
                }
            }
            let text = |hash: &Option<String>| match hash {
                Some(hash) => ctx.store.get_blob(hash).ok().flatten(),
                None => Some(String::new()),
            };
            let blocks: String = files
                .iter()
                .filter_map(|(path, before, after)| {
                    let path = path.strip_prefix(&prefix).unwrap_or(path);
                    Some(as_blocks(path, &text(before)?, &text(after)?))
                })
                .collect();
            if blocks.is_empty() {
                return None;
            }
            let blocks = if blocks.len() > TRIED_BYTES {
                format!("{}\n[... cut ...]", &blocks[..floor(&blocks, TRIED_BYTES)])
            } else {
                blocks
            };
            let came_of_it = if fix.undone {
                "made more examples or tests fail, so it was undone"
            } else {
                "is in the files now, and the tests still fail"
            };
            Some(format!("This change {came_of_it}:\n\n{}", blocks.trim_end()))
        })
        .take(TRIED_SHOWN)
        .collect();
    shown.reverse();
    shown
}

/// A change to one file in the form the model answers in (SEARCH/REPLACE blocks, one line of context each):
/// shown a unified diff, Qwen 1.5B answered with diffs.
fn as_blocks(path: &str, old: &str, new: &str) -> String {
    let diff = similar::TextDiff::from_lines(old, new);
    let (olds, news) = (diff.old_slices(), diff.new_slices());
    let mut out = String::new();
    for group in diff.grouped_ops(1) {
        let (Some(first), Some(last)) = (group.first(), group.last()) else { continue };
        let was: String = olds[first.old_range().start..last.old_range().end].concat();
        let now: String = news[first.new_range().start..last.new_range().end].concat();
        let line = |s: &str| if s.is_empty() || s.ends_with('\n') { s.to_owned() } else { format!("{s}\n") };
        out.push_str(&format!("{path}\n<<<<<<< SEARCH\n{}=======\n{}>>>>>>> REPLACE\n\n", line(&was), line(&now)));
    }
    out
}

/// The files the model sees: the failing files, the relative modules they import, and the task's files.
fn involved(
    ctx: &RunContext,
    steps: &[StepRecord],
    progress: &TaskProgress,
    failures: &[String],
    subdir: Option<&str>,
) -> Vec<(String, String)> {
    let mut paths: Vec<String> = failures.iter().filter_map(|f| f.split(':').next()).map(str::to_owned).collect();
    for step in progress.steps.iter().flatten() {
        paths.extend(step.files.iter().map(|f| f.path.clone()));
    }
    // Files the task's code-writing steps wrote (a simple request's step names none up front).
    let prefix = subdir.map(|d| format!("{d}/")).unwrap_or_default();
    for step in steps.iter().filter(|s| s.task.as_deref() == Some(progress.id.as_str()) && s.agent == "code_monkey") {
        paths.extend(step.files.iter().map(|f| f.strip_prefix(&prefix).unwrap_or(f).to_owned()));
    }
    let mut files: Vec<(String, String)> = Vec::new();
    let mut queue = paths;
    while let Some(path) = queue.pop() {
        if files.iter().any(|(p, _)| *p == path) || files.len() >= 12 {
            continue;
        }
        let Some(text) = read_file(ctx, &in_project(subdir, &path)) else { continue };
        queue.extend(relative_imports(&path, &text));
        let shown = if text.len() > FILE_BYTES {
            format!("{}\n[... cut ...]", &text[..floor(&text, FILE_BYTES)])
        } else {
            text
        };
        files.push((path, shown));
    }
    files.sort();
    files
}

fn floor(text: &str, mut at: usize) -> usize {
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// The files a JavaScript or TypeScript file imports by a relative path, resolved against its directory.
pub(crate) fn relative_imports(path: &str, text: &str) -> Vec<String> {
    let dir: Vec<&str> = path.split('/').collect::<Vec<_>>().split_last().map(|(_, d)| d.to_vec()).unwrap_or_default();
    let mut out = Vec::new();
    for quote in ['\'', '"'] {
        for piece in text.split(&format!("from {quote}")).skip(1).chain(text.split(&format!("require({quote}")).skip(1))
        {
            let Some(spec) = piece.split(quote).next() else { continue };
            if !spec.starts_with('.') {
                continue;
            }
            let mut parts: Vec<&str> = dir.clone();
            for part in spec.split('/') {
                match part {
                    "." | "" => {}
                    ".." => {
                        parts.pop();
                    }
                    p => parts.push(p),
                }
            }
            out.push(parts.join("/"));
        }
    }
    out
}

/// The workspace paths of the files this run created (its own tests among them).
pub(crate) fn created_by_run(ctx: &RunContext) -> Vec<String> {
    let steps = ctx.store.steps(&ctx.id.0).unwrap_or_default();
    steps.iter().flat_map(|s| s.touched.iter().filter(|t| t.before.is_none()).map(|t| t.path.clone())).collect()
}

/// Whether a path is a test file.
pub fn is_test(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    path.starts_with("test/")
        || path.starts_with("tests/")
        || path.contains("/test/")
        || path.contains("/tests/")
        || path.contains("__tests__/")
        || name.contains(".test.")
        || name.contains(".spec.")
}

#[cfg(test)]
mod tests {
    use samokoder_edits::apply_blocks;

    use super::*;

    #[test]
    fn imports_resolve_against_the_files_directory() {
        let text =
            "import { sum } from '../src/sum.js';\nconst x = require(\"./util/x.js\");\nimport fs from 'node:fs';\n";
        let mut got = relative_imports("test/sum.test.js", text);
        got.sort();
        assert_eq!(got, ["src/sum.js", "test/util/x.js"]);
    }

    #[test]
    fn a_change_tried_is_shown_as_blocks_that_apply_to_the_file_before_it() {
        let old = "a\nb\nc\nd\ne\nf\ng\nlast";
        let new = "a\nB\nc\nd\ne\nf\ng\nlast!";
        let shown = as_blocks("src/x.js", old, new);
        assert_eq!(
            shown,
            "src/x.js\n<<<<<<< SEARCH\na\nb\nc\n=======\na\nB\nc\n>>>>>>> REPLACE\n\n\
             src/x.js\n<<<<<<< SEARCH\ng\nlast\n=======\ng\nlast!\n>>>>>>> REPLACE\n\n"
        );
        // Read back as edits, the blocks turn the file before the change into the file after it.
        let edits = crate::edit_format::parse_edits_among(&shown, &[("src/x.js".to_owned(), old.to_owned())]).unwrap();
        let [(path, crate::edit_format::FileEdit::Blocks(blocks))] = edits.as_slice() else { panic!("{edits:?}") };
        assert_eq!(path, "src/x.js");
        assert_eq!(apply_blocks(Some(&format!("{old}\n")), blocks).unwrap().0, format!("{new}\n"));
        assert_eq!(as_blocks("src/x.js", old, old), "");
    }
}
