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
use samokoder_edits::{ChangeSet, FileChange, Jail, Protection, apply_blocks};
use samokoder_llm::{AgentRole, ChatRequest};
use samokoder_store::StepRecord;
use serde_json::json;

use super::checks::{Checks, introduced, refusal};
use super::{
    apply_step, in_project, messages, read_file, reask, run_file, shared_vars_showing, stream_text_at, touches,
};
use crate::edit_format::{FileEdit, echoed_example, holder_of, parse_edits_among};
use crate::state::{Fix, PlanTask, RunState, TaskProgress, save_task};
use crate::{Level, RunContext};

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
                "made more tests fail, so it was undone"
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
fn relative_imports(path: &str, text: &str) -> Vec<String> {
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

/// Tests and assertions in a file: what a fix may not take away.
fn test_weight(text: &str) -> (usize, usize) {
    let count = |needle: &str| {
        text.match_indices(needle)
            .filter(|(i, _)| {
                text[..*i].chars().next_back().is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == '.'))
            })
            .count()
    };
    (count("test(") + count("it("), count("assert") + count("expect("))
}

/// What a failing test is weighed against.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Guard<'a> {
    /// The spec: the code is what gets fixed; a test the run generated changes only with the spec's line
    /// that proves it wrong quoted (`Spec: ...`).
    Spec(&'a str),
    /// The user's code (a tests run): the run's new tests are what gets fixed; the code changes only with
    /// the user's confirmation.
    CodeIsRight,
}

/// The reply's changes, checked: applied to what the user holds, within the workspace, valid, and fair to
/// the tests.
pub(crate) fn prepare(
    ctx: &RunContext,
    reply: &str,
    subdir: Option<&str>,
    guard: Guard<'_>,
    files: &[(String, String)],
) -> Result<ChangeSet, String> {
    let edits = parse_edits_among(reply, files)?;
    if edits.is_empty() {
        // The form again, on a file of this project: a small model that strayed from it follows a filled-in one.
        let code = files.iter().map(|(p, _)| p.as_str()).find(|p| !is_test(p)).unwrap_or("src/index.js");
        // Said exactly when the only block was the prompt's example: Qwen 1.5B gave it three times in a row
        // when told only that nothing changed.
        let why = match echoed_example(reply) {
            Some(search) => format!(
                "the reply's only block is the example from the instructions (`{search}`), which is in no file of \
                 this project"
            ),
            None => "the reply changes no file".to_owned(),
        };
        return Err(format!(
            "{why}: give SEARCH/REPLACE blocks after each file's path, like this:\n\n{code}\n\
             <<<<<<< SEARCH\n(lines copied exactly from {code})\n=======\n(the lines as they should be)\n>>>>>>> REPLACE\n"
        ));
    }
    let created_by_run = created_by_run(ctx);
    // The examples the user stated outrank the code: a change may not edit the lines that state them.
    let oracle = crate::oracle::record::load(ctx).ok().flatten();
    let mut changes = ChangeSet::default();
    let mut created = Vec::new();
    // Changes to tests that the guard refuses: left out, and the rest of the reply stands (Qwen 1.5B gave
    // the right fix of the code beside a rewrite of the tests, and the whole reply was refused).
    let mut refused: Vec<String> = Vec::new();
    for (path, edit) in edits {
        let mut path = path;
        let mut full = in_project(subdir, &path);
        if let FileEdit::Blocks(blocks) = &edit
            && read_file(ctx, &full).is_none()
            && let Some(holder) = holder_of(files, blocks)
        {
            // Blocks for a file that does not exist, whose lines one file shown to the model holds: that file.
            path = holder.to_owned();
            full = in_project(subdir, &path);
        }
        let rel = ctx.jail.check(&full).map_err(|e| e.to_string())?;
        if Jail::protection(&rel) == Protection::NeedsConfirmation {
            return Err(format!("{path} is a file other tools run; it is the user's to change"));
        }
        let current = read_file(ctx, &full);
        let text = match edit {
            FileEdit::Whole(text) => {
                if let Some(old) = &current
                    && let Some(why) = elided(&path, old, &text)
                {
                    return Err(why);
                }
                text
            }
            FileEdit::Blocks(blocks) => {
                let replacements: Vec<&str> = blocks.iter().map(|b| b.replace.as_str()).collect();
                let whole = current.as_deref().and_then(|c| crate::repairs::whole_definitions(&path, c, &replacements));
                match whole {
                    Some((text, names)) => {
                        let note = format!(
                            "{path}: the reply's replacement is the whole of {}, which takes the place of the file's",
                            names.join(", ")
                        );
                        ctx.frontend.log(&ctx.id, "code_monkey", &format!("repaired without a model: {note}\n"));
                        text
                    }
                    None => apply_blocks(current.as_deref(), &blocks).map_err(|e| format!("{path}: {e}"))?.0,
                }
            }
        };
        if current.as_deref() == Some(text.as_str()) {
            continue;
        }
        if is_test(&path)
            && let Some(old) = &current
        {
            let (old_tests, old_asserts) = test_weight(old);
            let (new_tests, new_asserts) = test_weight(&text);
            if new_tests < old_tests || new_asserts < old_asserts {
                ctx.frontend.message(
                    Level::Warning,
                    &format!("Samokoder: a fix that took tests or assertions out of {path} was refused"),
                );
                refused.push(format!(
                    "the change to {path} takes out tests or assertions ({old_tests} tests and {old_asserts} assertions \
                     before, {new_tests} and {new_asserts} after); fix the code, not the tests"
                ));
                continue;
            }
            if !created_by_run.contains(&full) {
                if !ctx.frontend.can_confirm() {
                    ctx.frontend.message(
                        Level::Warning,
                        &format!("Samokoder: a fix wanted to change {path}, a test you wrote; it was not applied"),
                    );
                    refused
                        .push(format!("{path} is a test the user wrote and may not be changed; fix the code instead"));
                    continue;
                }
                changes.confirm.push(rel.clone());
            } else if let Guard::Spec(spec) = guard
                && !quotes_spec(reply, spec)
            {
                refused.push(format!(
                    "the change to the test {path} needs the spec's line that proves the test wrong, quoted on a line \
                     starting with `Spec:`; otherwise fix the code"
                ));
                continue;
            }
        } else if matches!(guard, Guard::CodeIsRight) && current.is_some() {
            if !ctx.frontend.can_confirm() {
                ctx.frontend.message(
                    Level::Warning,
                    &format!(
                        "Samokoder: a fix of the new tests wanted to change your code in {path}; it was not applied"
                    ),
                );
                return Err(format!(
                    "{path} is the user's code, taken to be right: change the new tests so they expect what the code \
                     does"
                ));
            }
            changes.confirm.push(rel.clone());
        }
        if let Some(record) = &oracle
            && let Err(why) = crate::oracle::record::guard(record, &full, current.as_deref(), &text)
        {
            refused.push(why);
            continue;
        }
        if let Some(issue) = super::code_monkey::syntax_problem(&path, &text) {
            return Err(format!("{path} would have a syntax error: {issue}"));
        }
        if current.is_none() && !is_test(&path) {
            // A new test file is found by the test runner, not by an import.
            created.push(path.clone());
        }
        changes.changes.push(FileChange { path: rel, text });
    }
    if changes.is_empty() {
        return Err(refused.into_iter().next().unwrap_or_else(|| "the changes leave every file as it is".into()));
    }
    for why in &refused {
        ctx.frontend.log(&ctx.id, "troubleshooter", &format!("\n[left out: {why}]\n"));
    }
    // A new file nothing refers to fixes nothing: a small model copies the prompt's example as a file of its own.
    let texts: Vec<&str> =
        files.iter().map(|(_, t)| t.as_str()).chain(changes.changes.iter().map(|c| c.text.as_str())).collect();
    if let Some(stray) = created.iter().find(|path| !referred_to(path, &texts)) {
        return Err(format!(
            "{stray} is a new file that no file imports, so it cannot fix the failure; change the files that exist \
             ({}), copying the SEARCH lines from them",
            files.iter().map(|(p, _)| p.as_str()).collect::<Vec<_>>().join(", ")
        ));
    }
    super::repair(ctx, &mut changes, subdir).map_err(|e| format!("{e:#}"))?;
    Ok(changes)
}

/// Whether one of `texts` names the file by its path without the extension (`./todos`, `../src/todos.js`).
fn referred_to(path: &str, texts: &[&str]) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    let stem = name.split('.').next().unwrap_or(name);
    let needle = format!("/{stem}");
    texts.iter().any(|text| {
        text.match_indices(&needle).any(|(at, _)| {
            let after = text[at + needle.len()..].chars().next();
            after.is_none_or(|c| matches!(c, '.' | '\'' | '"' | '`'))
        })
    })
}

/// Why a whole file given for an existing one cannot be taken: it has less than half the lines it had (a
/// model that abbreviates the code it does not change, `// ... rest unchanged`, would otherwise delete it).
fn elided(path: &str, old: &str, new: &str) -> Option<String> {
    let lines = |t: &str| t.lines().filter(|l| !l.trim().is_empty()).count();
    let (before, after) = (lines(old), lines(new));
    (after * 2 < before).then(|| {
        format!(
            "the whole file given for {path} has {after} lines where it had {before}: it leaves code out; give \
             SEARCH/REPLACE blocks for just the lines to change"
        )
    })
}

/// Whether the reply quotes a line of the spec on a `Spec:` line.
fn quotes_spec(reply: &str, spec: &str) -> bool {
    let normal = |s: &str| {
        s.split_whitespace().collect::<Vec<_>>().join(" ").trim_matches(['"', '`', '*', '-', ' ']).to_lowercase()
    };
    let spec_lines: Vec<String> = spec.lines().map(normal).filter(|l| l.len() >= 8).collect();
    reply.lines().filter_map(|l| l.trim().strip_prefix("Spec:")).map(normal).any(|quoted| {
        quoted.len() >= 8 && spec_lines.iter().any(|line| line.contains(&quoted) || quoted.contains(line.as_str()))
    })
}

#[cfg(test)]
mod tests {
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
    fn tests_and_assertions_are_counted() {
        let text = "test('a', () => { assert.equal(1, 1); assert.ok(true); });\nit('b', () => expect(1).toBe(1));\nfunction retest() {}\n";
        assert_eq!(test_weight(text), (2, 3));
        assert!(is_test("test/sum.test.js") && is_test("src/__tests__/a.js") && is_test("src/a.spec.ts"));
        assert!(!is_test("src/contest.js") && !is_test("src/testing.js"));
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

    #[test]
    fn a_whole_file_that_leaves_out_most_of_the_code_is_refused() {
        let old = "// range\nexport function range(start, end) {\n  const out = [];\n  for (let i = start; i < end; i++) {\n    out.push(i);\n  }\n  return out;\n}\n";
        let gutted = "// range\nexport function range(start, end) {\n}\n";
        assert!(elided("src/range.js", old, gutted).unwrap().contains("has 3 lines where it had 8"));
        let shorter = "// range\nexport function range(start, end) {\n  return Array.from({ length: end - start + 1 }, (_, i) => start + i);\n}\n";
        assert_eq!(elided("src/range.js", old, shorter), None, "a shorter rewrite that keeps the code is fine");
    }

    #[test]
    fn a_new_file_counts_only_when_a_file_imports_it() {
        let test = "import { range } from '../src/range.js';\nimport { pad } from './helpers/pad';\n";
        assert!(referred_to("src/range.js", &[test]));
        assert!(referred_to("test/helpers/pad.js", &[test]));
        assert!(!referred_to("src/example.js", &[test]));
        assert!(!referred_to("src/ran.js", &[test]), "a prefix of another name is not a reference");
    }

    #[test]
    fn a_spec_quote_must_be_a_line_of_the_spec() {
        let spec = "# Spec\n\n## Features\n\n- render(list) prints one line per todo, numbered from 1\n";
        assert!(quotes_spec(
            "The test expects 0-based.\nSpec: render(list) prints one line per todo, numbered from 1\n",
            spec
        ));
        assert!(!quotes_spec("Spec: numbers start at zero\n", spec));
        assert!(!quotes_spec("no quote at all", spec));
    }
}
