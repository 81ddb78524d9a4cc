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
const MAX_TESTS: usize = 4;

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
    let contract: Vec<String> =
        (!instruction.is_empty()).then(|| instruction.to_owned()).into_iter().chain(comment_lines(code)).collect();
    let stated = normal(&contract.join("\n"));
    let shown = [path.to_owned()];
    let mut vars = shared_vars_showing(ctx, state, None, &shown, &shown)?;
    vars["path"] = json!(path);
    vars["code"] = json!(code);
    vars["instruction"] = json!(instruction);
    vars["test_path"] = json!(test_path);
    vars["import_path"] = json!(relative(&test_path, path));
    vars["existing"] = json!(existing.iter().map(|(p, t)| json!({"path": p, "text": t})).collect::<Vec<_>>());
    vars["contract"] = json!(contract);
    let mut chat = ChatRequest {
        messages: messages(ctx, &vars, "test_writer/cases")?,
        temperature: Some(0.2),
        max_tokens: Some(REPLY_TOKENS),
        ..Default::default()
    };
    let files = [(path.to_owned(), code.to_owned())];
    let form = format!("the reply gives no file: give {test_path} alone, whole, in a fenced code block after its path");
    // Each test names the words that state its case: a small model asked for edge cases invents some (Qwen
    // 1.5B tested `range(0)` for a comment that names no such case, and the loop then undid a right fix).
    let stated_cases = |changes: &samokoder_edits::ChangeSet| {
        if let Some(other) = changes.paths().map(|p| p.to_string()).find(|p| *p != test_path) {
            return Err(format!("write only {test_path}, not {other}: give {test_path} alone, whole"));
        }
        let text = changes.changes.iter().map(|c| c.text.as_str()).collect::<String>();
        unstated(&text, &stated)
    };
    let changes = match changes_from(ctx, &mut chat, &files, Some(&form), stated_cases).await? {
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

/// Why the tests of `text` are not each a case that `stated` (normalised by [`normal`]) states, if they are not.
fn unstated(text: &str, stated: &str) -> Result<(), String> {
    let names = test_names(text);
    if names.is_empty() {
        return Err("the file has no test: write `test('<the words that state the case>', () => { ... })`".into());
    }
    if names.len() > MAX_TESTS {
        return Err(format!("the file has {} tests: at most {MAX_TESTS}, one per case the lines state", names.len()));
    }
    let invented: Vec<String> = names
        .iter()
        .filter(|name| {
            let name = normal(name);
            name.split(' ').count() < 2 || !stated.contains(&name)
        })
        .map(|name| format!("'{name}'"))
        .collect();
    if invented.is_empty() {
        return Ok(());
    }
    Err(format!(
        "the test {} is not named with words copied from the comments or the request: name each test with the \
         words of the line that state its case, and leave out a case no line states",
        invented.join(", ")
    ))
}

/// The names of a test file's tests: the first argument of `test(...)` and `it(...)` when it is a string.
fn test_names(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    for call in ["test(", "it("] {
        for (at, _) in text.match_indices(call) {
            if text[..at].chars().next_back().is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.') {
                continue;
            }
            let rest = text[at + call.len()..].trim_start();
            let Some(quote) = rest.chars().next().filter(|c| matches!(c, '\'' | '"' | '`')) else { continue };
            if let Some((name, _)) = rest[1..].split_once(quote) {
                names.push(name.to_owned());
            }
        }
    }
    names
}

/// Lower case, letters and digits, one space between words.
fn normal(text: &str) -> String {
    let kept: String = text.chars().map(|c| if c.is_alphanumeric() { c.to_ascii_lowercase() } else { ' ' }).collect();
    kept.split_whitespace().collect::<Vec<_>>().join(" ")
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

    #[test]
    fn a_test_must_be_named_with_the_words_that_state_its_case() {
        let stated = normal("average(numbers): the mean of the numbers; 0 for an empty list.");
        let file = |names: &[&str]| {
            names.iter().map(|n| format!("test('{n}', () => {{\n  assert.equal(1, 1);\n}});\n")).collect::<String>()
        };
        assert_eq!(unstated(&file(&["0 for an empty list", "The mean of the numbers"]), &stated), Ok(()));
        let err = unstated(&file(&["0 for an empty list", "zero", "blank text"]), &stated).unwrap_err();
        assert!(err.contains("'zero', 'blank text' is not named with words copied"), "{err}");
        assert!(unstated("import x from 'y';\n", &stated).unwrap_err().contains("no test"));
        assert!(unstated(&file(&["the mean"; 5]), &stated).unwrap_err().contains("at most 4"));
        let names =
            test_names("it(\"a b\", f);\ntest( `c d`, f);\nlatest('no', f);\nt.test('no', f);\ntest(name, f);\n");
        assert_eq!(names, ["c d", "a b"]);
    }
}
