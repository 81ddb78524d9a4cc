//! Case tests: after an implement or fix run's tests pass, the cases that the code's comments (or the
//! implement instruction) name and that no test checks get tests of their own, written by the code writer,
//! and the tests run again; the fix loop then fixes the code for any case it gets wrong. A project's tests
//! rarely check every case a comment names ("0 for an empty list"), and a small model's fix passes the
//! failing test and leaves such a case wrong (Qwen2.5-Coder-1.5B did, on every seed, in the evaluation).
//! This is what the comments say, not the visible test: the new test file names the module and its cases.
//!
//! Only when the loop can still act (a fix iteration is left under the run's cap) and only once per run.
//! A reply that gives no usable test file ends this step without tests: the run is no worse than before.
//! The new file is the run's own: a fix may correct an expectation in it only with the line of the comment
//! or instruction that proves it wrong quoted (`troubleshooter::Guard::Spec`).
//!
//! Commits: the step (`wrote case tests in ...`), then `tasks/t1` (not yet tested again).

use anyhow::Result;
use samokoder_llm::ChatRequest;
use serde_json::json;

use super::implementer::{EditRequest, changes_from};
use super::test_writer::{relative, test_file_for};
use super::troubleshooter::is_test;
use super::{apply_step, messages, read_file, shared_vars_showing, touches};
use crate::RunContext;
use crate::state::{RunState, save_task};

const TASK: &str = "t1";
const REPLY_TOKENS: u32 = 1024;

pub(crate) async fn run(ctx: &RunContext, state: &RunState, request: Option<&EditRequest>) -> Result<()> {
    let Some(mut progress) = state.task(TASK).cloned() else { return Ok(()) };
    progress.cases_checked = true;
    let instruction = request.map(|r| r.instruction.clone()).unwrap_or_default();
    let target = match request {
        Some(request) => Some(request.path.clone()),
        None => fixed_code(ctx).into_iter().next(),
    };
    let code = target.as_ref().and_then(|path| Some((path.clone(), read_file(ctx, path)?)));
    if let Some((path, code)) = code
        && (has_comments(&code) || !instruction.is_empty())
    {
        // The tests pass already: whatever goes wrong here (a dead provider, a spent budget, a reply with no
        // file) is said and leaves the run as it was.
        match write(ctx, state, &path, &code, &instruction).await.unwrap_or_else(|e| Err(format!("{e:#}"))) {
            Ok(test_path) => {
                ctx.frontend.log(&ctx.id, "code_monkey", &format!("wrote case tests in {test_path}\n"));
                progress.outcome = None;
            }
            Err(why) => ctx.frontend.log(&ctx.id, "code_monkey", &format!("no case tests: {why}\n")),
        }
    }
    save_task(&*ctx.store, &ctx.id.0, &progress)
}

/// The new test file for the cases of `path`, or why there is none.
async fn write(
    ctx: &RunContext,
    state: &RunState,
    path: &str,
    code: &str,
    instruction: &str,
) -> Result<std::result::Result<String, String>> {
    let (test_path, existing) = test_file_for(ctx, path);
    let shown = [path.to_owned()];
    let mut vars = shared_vars_showing(ctx, state, None, &shown, &shown)?;
    vars["path"] = json!(path);
    vars["code"] = json!(code);
    vars["instruction"] = json!(instruction);
    vars["test_path"] = json!(test_path);
    vars["import_path"] = json!(relative(&test_path, path));
    vars["existing"] = json!(existing.iter().map(|(p, t)| json!({"path": p, "text": t})).collect::<Vec<_>>());
    let mut chat = ChatRequest {
        messages: messages(ctx, &vars, "test_writer/cases")?,
        temperature: Some(0.2),
        max_tokens: Some(REPLY_TOKENS),
        ..Default::default()
    };
    let files = [(path.to_owned(), code.to_owned())];
    let form = format!("the reply gives no file: give {test_path} alone, whole, in a fenced code block after its path");
    let only_the_test_file =
        |changes: &samokoder_edits::ChangeSet| match changes.paths().map(|p| p.to_string()).find(|p| *p != test_path) {
            Some(other) => Err(format!("write only {test_path}, not {other}: give {test_path} alone, whole")),
            None => Ok(()),
        };
    let changes = match changes_from(ctx, &mut chat, &files, Some(&form), only_the_test_file).await? {
        Ok(changes) => changes,
        Err(why) => return Ok(Err(why)),
    };
    let touched = touches(ctx, &changes)?;
    apply_step(ctx, &changes, touched, "code_monkey", Some(TASK), format!("wrote case tests in {test_path}")).await?;
    Ok(Ok(test_path))
}

/// The code (not tests) the run's fixes changed, in the order they were first changed.
fn fixed_code(ctx: &RunContext) -> Vec<String> {
    let steps = ctx.store.steps(&ctx.id.0).unwrap_or_default();
    let mut paths: Vec<String> = Vec::new();
    for step in steps.iter().filter(|s| matches!(s.agent.as_str(), "troubleshooter" | "bug_hunter")) {
        for touch in step.touched.iter().filter(|t| t.after.is_some() && !is_test(&t.path)) {
            if !paths.contains(&touch.path) {
                paths.push(touch.path.clone());
            }
        }
    }
    paths
}

/// Whether a file has a comment that may name a case (`//` or `/*`, `#` for scripts).
fn has_comments(code: &str) -> bool {
    code.lines().map(str::trim_start).any(|l| l.starts_with("//") || l.starts_with("/*") || l.starts_with('*'))
}

/// The lines of `code` that are comments, without their markers: what a run without a spec is held to.
pub(crate) fn comment_lines(code: &str) -> Vec<String> {
    code.lines()
        .map(str::trim)
        .filter_map(|l| l.strip_prefix("//").or_else(|| l.strip_prefix("/*")).or_else(|| l.strip_prefix('*')))
        .map(|l| l.trim_matches(|c: char| c == '*' || c == '/' || c.is_whitespace()).to_owned())
        .filter(|l| !l.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_are_read_without_their_markers() {
        let code = "// average(numbers): the mean; 0 for an empty list.\nexport function average(xs) {\n  /* not NaN */\n  return 0; // done\n}\n/**\n * Docs.\n */\n";
        assert!(has_comments(code));
        assert_eq!(comment_lines(code), ["average(numbers): the mean; 0 for an empty list.", "not NaN", "Docs."]);
        assert!(!has_comments("export const a = 1;\nconst url = 'http://x';\n"));
    }
}
