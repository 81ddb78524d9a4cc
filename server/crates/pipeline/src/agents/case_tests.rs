//! Case tests: after an implement or fix run's tests pass, the cases that the code's comments (or the
//! implement instruction) state get tests of their own, written by the code writer, and the tests run
//! again; the fix loop then fixes the code for any case it gets wrong. A project's tests rarely check every
//! case a comment states ("0 for an empty list"), and a small model's fix passes the failing test and
//! leaves such a case wrong (Qwen2.5-Coder-1.5B did, on every seed, in the evaluation). This is what the
//! comments say, not the visible test.
//!
//! The cases are ours to name, not the model's: each clause of those lines (split at `;` and parentheses,
//! after a `name(args):` signature) becomes a test named with its words, and the model is given the file
//! with those tests empty, to fill in. Asked for edge cases instead, Qwen 1.5B invented them (`range(0)`
//! for a comment that names no such case, and the loop then undid a right fix), and told to name its tests
//! with the comments' words, it did not. A reply whose tests are not the given ones is sent back.
//!
//! One re-ask at most, a reply of 512 tokens at most. Only when the loop can still act (a fix iteration is left under the run's cap), only once per run, and
//! only for a JavaScript module of a project whose tests run with `node --test` (the tests written are
//! Node's own; a Vitest project is left as it is).
//! A reply that gives no usable test file ends this step without tests: the run is no worse than before.
//! The new file is the run's own: a fix may correct an expectation in it only with the line of the comment
//! or instruction that proves it wrong quoted (`troubleshooter::Guard::Spec`).
//!
//! Commits: the step (`wrote case tests in ...`), then `tasks/t1` (not yet tested again).

use anyhow::Result;
use samokoder_context::{FileIndex, Lang};
use samokoder_llm::ChatRequest;
use serde_json::json;

use super::implementer::{EditRequest, changes_from};
use super::test_writer::{other_file, relative, test_file_for};
use super::troubleshooter::is_test;
use super::{apply_step, messages, read_file, shared_vars_showing, touches};
use crate::RunContext;
use crate::state::{RunState, save_task};

const TASK: &str = "t1";
/// Four short tests fit in a few hundred tokens; a reply that runs on (Qwen 1.5B listed assertions to its
/// cap, three times, 292 s) is cut there.
const REPLY_TOKENS: u32 = 512;
/// One re-ask: the step is optional, and Qwen 1.5B gave the same reply again when asked a second time.
const RETRIES: usize = 1;
const MAX_TESTS: usize = 4;

pub(crate) async fn run(ctx: &RunContext, state: &RunState, request: Option<&EditRequest>) -> Result<()> {
    let Some(mut progress) = state.task(TASK).cloned() else { return Ok(()) };
    progress.cases_checked = true;
    let instruction = request.map(|r| r.instruction.clone()).unwrap_or_default();
    let target = match request {
        Some(request) => Some(request.path.clone()),
        None => fixed_code(ctx).into_iter().next(),
    };
    // The tests written are Node's own (`node:test`): for a JavaScript module of a project that runs them.
    let node_tests = super::executor::test_command(ctx, state, None).contains("node --test");
    let javascript = target.as_ref().is_some_and(|p| p.ends_with(".js") || p.ends_with(".mjs"));
    let code = target.as_ref().and_then(|path| Some((path.clone(), read_file(ctx, path)?)));
    if let Some((path, code)) = code
        && node_tests
        && javascript
        && (!comment_lines(&code).is_empty() || !instruction.is_empty())
    {
        // The tests pass already: whatever goes wrong here (a dead provider, a spent budget, a reply with no
        // file) is said and leaves the run as it was.
        match write(ctx, state, &path, &code, &instruction).await.unwrap_or_else(|e| Err(format!("{e:#}"))) {
            Ok((test_path, step)) => {
                ctx.frontend.log(&ctx.id, "code_monkey", &format!("wrote case tests in {test_path}\n"));
                let fixes = progress.fixes.len();
                progress.cases_written = progress.outcome.take().map(|passed| (step, passed, fixes));
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
) -> Result<std::result::Result<(String, u32), String>> {
    let (test_path, existing) = test_file_for(ctx, path);
    let lines: Vec<String> =
        (!instruction.is_empty()).then(|| instruction.to_owned()).into_iter().chain(comment_lines(code)).collect();
    let cases: Vec<String> = lines.iter().flat_map(|l| clauses(l)).take(MAX_TESTS).collect();
    let names = exports(path, code);
    if cases.is_empty() || names.is_empty() {
        return Ok(Err(format!("{path} states no case to test, or exports nothing")));
    }
    let skeleton = skeleton(&cases, &names, &relative(&test_path, path));
    let shown = [path.to_owned()];
    let mut vars = shared_vars_showing(ctx, state, None, &shown, &shown)?;
    vars["path"] = json!(path);
    vars["code"] = json!(code);
    vars["test_path"] = json!(test_path);
    vars["existing"] = json!(existing.iter().map(|(p, t)| json!({"path": p, "text": t})).collect::<Vec<_>>());
    vars["instruction"] = json!(instruction);
    vars["lines"] = json!(lines);
    vars["skeleton"] = json!(skeleton);
    let mut chat = ChatRequest {
        messages: messages(ctx, &vars, "test_writer/cases")?,
        temperature: Some(0.2),
        max_tokens: Some(REPLY_TOKENS),
        ..Default::default()
    };
    let files = [(path.to_owned(), code.to_owned())];
    let form = format!("the reply gives no file: give {test_path} alone, whole, in a fenced code block after its path");
    let given = |changes: &samokoder_edits::ChangeSet| {
        if let Some(other) = other_file(changes, &test_path) {
            return Err(format!("write only {test_path}, not {other}: give {test_path} alone, whole"));
        }
        let text = changes.changes.iter().map(|c| c.text.as_str()).collect::<String>();
        not_as_given(&text, &cases)
    };
    let changes = match changes_from(ctx, &mut chat, &files, Some(&form), RETRIES, given).await? {
        Ok(changes) => changes,
        Err(why) => return Ok(Err(why)),
    };
    let touched = touches(ctx, &changes)?;
    let step =
        apply_step(ctx, &changes, touched, "code_monkey", Some(TASK), format!("wrote case tests in {test_path}"))
            .await?;
    Ok(Ok((test_path, step)))
}

/// The loop stopped with the case tests failing: the case tests and the fixes made for them are undone, so
/// the run ends as it was when its tests passed, and says which case failed. A case test can be wrong (Qwen
/// 1.5B expected `clamp(25, 0, 20)` to be 15, and the loop then rewrote a right `clamp` to match it).
pub(crate) async fn undo(ctx: &RunContext, state: &RunState, why: &str) -> Result<()> {
    let Some(mut progress) = state.task(TASK).cloned() else { return Ok(()) };
    let Some((step, passed, fixes)) = progress.cases_written.clone() else { return Ok(()) };
    let failed = progress.outcome.as_ref().map(|o| o.failures.join("; ")).unwrap_or_default();
    ctx.frontend.log(&ctx.id, "troubleshooter", &format!("{why}: undoing the case tests and the fixes for them\n"));
    crate::undo::undo(ctx, &crate::undo::UndoRequest { step: Some(step), force: true }).await?;
    for fix in progress.fixes.iter_mut().skip(fixes) {
        fix.undone = true;
    }
    ctx.frontend.message(
        crate::Level::Warning,
        &format!(
            "Samokoder: a case the comments state failed and could not be fixed, so its test was undone: {failed}"
        ),
    );
    progress.cases_undone = Some(failed);
    progress.outcome = Some(passed);
    save_task(&*ctx.store, &ctx.id.0, &progress)
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

/// The placeholder in each empty test of the skeleton.
const TO_FILL: &str = "// assert what the name states";

/// The test file with one empty test per case, for the model to fill in.
fn skeleton(cases: &[String], names: &[String], import: &str) -> String {
    let mut out = format!(
        "import {{ test }} from 'node:test';\nimport assert from 'node:assert/strict';\nimport {{ {} }} from '{import}';\n",
        names.join(", ")
    );
    for case in cases {
        out.push_str(&format!(
            "\ntest({}, () => {{\n  {TO_FILL}\n}});\n",
            serde_json::to_string(case).unwrap_or_default()
        ));
    }
    out
}

/// Why `text` is not the skeleton's tests filled in, if it is not.
fn not_as_given(text: &str, cases: &[String]) -> Result<(), String> {
    let names = test_names(text);
    if names.is_empty() {
        return Err("the file has no test: fill in the tests given, under their names".into());
    }
    let given: Vec<String> = cases.iter().map(|c| normal(c)).collect();
    let other: Vec<String> = names.iter().filter(|n| !given.contains(&normal(n))).map(|n| format!("'{n}'")).collect();
    if !other.is_empty() {
        return Err(format!(
            "the test {} is not one of the tests given: fill in the tests given, under their names, and add none",
            other.join(", ")
        ));
    }
    if text.contains(TO_FILL) || !text.contains("assert.") {
        return Err("a test is still empty: replace each `// assert what the name states` with its assertions".into());
    }
    Ok(())
}

/// The clauses of a line that states what code does: after a `name(args):` signature, split at `;` and
/// parentheses, each of at least two words, without the closing full stop.
fn clauses(line: &str) -> Vec<String> {
    let is_name = |name: &str| !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '.');
    let line = match line.split_once("):") {
        Some((signature, rest)) if signature.split('(').next().is_some_and(is_name) => rest,
        _ => line,
    };
    line.split([';', '(', ')'])
        .map(|c| c.trim().trim_end_matches('.').trim())
        .filter(|c| c.split_whitespace().count() >= 2)
        .map(str::to_owned)
        .collect()
}

/// The names a JavaScript module exports by name, from its tree-sitter tags (top-level exported definitions).
fn exports(path: &str, code: &str) -> Vec<String> {
    let Some(lang) = Lang::from_path(path) else { return Vec::new() };
    let index = FileIndex::parse(path, lang, code.to_owned());
    let mut names: Vec<String> = Vec::new();
    for tag in index.definitions().filter(|t| t.exported && t.container.is_none()) {
        if !names.contains(&tag.name) {
            names.push(tag.name.clone());
        }
    }
    names
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
        assert_eq!(comment_lines(code), ["average(numbers): the mean; 0 for an empty list.", "not NaN", "Docs."]);
        assert!(comment_lines("export const a = 1;\nconst url = 'http://x';\n").is_empty());
    }

    #[test]
    fn the_cases_are_the_clauses_of_the_lines_that_state_them() {
        assert_eq!(
            clauses("average(numbers): the mean of the numbers; 0 for an empty list."),
            ["the mean of the numbers", "0 for an empty list"]
        );
        assert_eq!(
            clauses("return how many words text has (words are separated by whitespace; an empty or blank text has 0)"),
            ["return how many words text has", "words are separated by whitespace", "an empty or blank text has 0"]
        );
        assert_eq!(
            clauses("range(start, end): the integers from start up to and including end."),
            ["the integers from start up to and including end"]
        );
        assert!(clauses("Docs.").is_empty());
        assert_eq!(
            exports(
                "src/a.js",
                "export function average(xs) {}\nexport const MAX = 1;\nexport async function load() {}\nfunction hidden() {}\n"
            ),
            ["average", "MAX", "load"]
        );
    }

    #[test]
    fn the_reply_fills_in_the_tests_given_and_adds_none() {
        let cases = vec!["0 for an empty list".to_owned(), "the mean of the numbers".to_owned()];
        let skeleton = skeleton(&cases, &["average".into()], "../src/average.js");
        assert!(skeleton.contains("import { average } from '../src/average.js';"), "{skeleton}");
        assert!(skeleton.contains("test(\"0 for an empty list\", () => {\n  // assert what the name states\n});"));
        assert!(not_as_given(&skeleton, &cases).unwrap_err().contains("still empty"));
        let filled = skeleton.replace(TO_FILL, "assert.equal(average([]), 0);");
        assert_eq!(not_as_given(&filled, &cases), Ok(()));
        let invented = format!("{filled}\ntest('zero', () => {{\n  assert.equal(average([0]), 0);\n}});\n");
        assert!(not_as_given(&invented, &cases).unwrap_err().contains("'zero' is not one of the tests given"));
        assert!(not_as_given("import x from 'y';\n", &cases).unwrap_err().contains("no test"));
        let names =
            test_names("it(\"a b\", f);\ntest( `c d`, f);\nlatest('no', f);\nt.test('no', f);\ntest(name, f);\n");
        assert_eq!(names, ["c d", "a b"]);
    }
}
