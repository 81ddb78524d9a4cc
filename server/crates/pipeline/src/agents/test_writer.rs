//! Test writer: `samokoder.generateTests {uri}` / `samokoder generate-tests FILE`. The code writer gets a file the
//! user has (with the repo map and the tests that exist for it) and writes a new test file for it; the
//! tests then run, and the fix loop follows if they fail. The code is the user's and taken to be right: the
//! run writes only its own test file, and a fix changes the user's code only with their confirmation
//! (`troubleshooter::prepare`, `Guard::CodeIsRight`).
//!
//! The new file is `test/<name>.test.<ext>` beside the project's other tests, or
//! `test/<name>.samokoder.test.<ext>` when that one exists (a test the user wrote is never rewritten).
//!
//! Commits: the step, then `tasks/t1` (not yet tested).

use anyhow::{Result, bail};
use samokoder_llm::ChatRequest;
use serde_json::json;

use super::implementer::{EDIT_RETRIES, EditRequest, changes_from};
use super::troubleshooter::is_test;
use super::{apply_step, messages, read_file, shared_vars_showing, touches};
use crate::RunContext;
use crate::state::{RunState, TaskProgress, save_task};

const REPLY_TOKENS: u32 = 2048;

pub(crate) async fn run(ctx: &RunContext, state: &RunState, request: &EditRequest) -> Result<()> {
    if is_test(&request.path) {
        bail!("{} is a test file: run generate tests on the code it tests", request.path);
    }
    let Some(code) = read_file(ctx, &request.path) else {
        bail!("{} does not exist: generate tests works on a file the workspace has", request.path)
    };
    let (test_path, existing) = test_file_for(ctx, &request.path);
    let shown = [request.path.clone()];
    let mut vars = shared_vars_showing(ctx, state, None, &shown, &shown)?;
    vars["path"] = json!(request.path);
    vars["code"] = json!(code);
    vars["test_path"] = json!(test_path);
    vars["import_path"] = json!(relative(&test_path, &request.path));
    vars["existing"] = json!(existing.iter().map(|(p, t)| json!({"path": p, "text": t})).collect::<Vec<_>>());
    let mut chat = ChatRequest {
        messages: messages(ctx, &vars, "test_writer/task")?,
        temperature: Some(0.2),
        max_tokens: Some(REPLY_TOKENS),
        ..Default::default()
    };
    let files = [(request.path.clone(), code)];
    let only_the_test_file = |changes: &samokoder_edits::ChangeSet| match other_file(changes, &test_path) {
        Some(other) => Err(format!(
            "generate tests writes only {test_path}, and {other} is not it: give {test_path} alone, whole, in a \
             fenced code block after its path"
        )),
        None => Ok(()),
    };
    // A reply cut off at its token limit (a small model listing cases without end) has no closing fence, so
    // it gives no file: say so, and what to give.
    let form = format!(
        "the reply gives no file: give {test_path} alone, whole, in a fenced code block after its path, closed \
         with ```; a reply cut off before its end gives nothing, so keep it short: at most 8 tests"
    );
    let changes = match changes_from(ctx, &mut chat, &files, Some(&form), EDIT_RETRIES, only_the_test_file).await? {
        Ok(changes) => changes,
        Err(why) => bail!("the tests could not be written after {} tries: {why}", EDIT_RETRIES + 1),
    };
    let touched = touches(ctx, &changes)?;
    apply_step(ctx, &changes, touched, "code_monkey", Some("t1"), format!("wrote tests in {test_path}")).await?;
    let mut progress = TaskProgress::new("t1");
    progress.basis = request.instruction.clone();
    progress.steps = Some(Vec::new());
    save_task(&*ctx.store, &ctx.id.0, &progress)?;
    Ok(())
}

/// A file the changes write other than `test_path`, the one file a test writer may write.
pub(super) fn other_file(changes: &samokoder_edits::ChangeSet, test_path: &str) -> Option<String> {
    changes.paths().map(|p| p.to_string()).find(|p| p != test_path)
}

/// The new test file for `path` (`src/lib/sum.ts` -> `test/lib/sum.test.ts`, or `test/lib/sum.samokoder.test.ts`
/// when that exists), and the tests that exist for it already (path, text).
pub(super) fn test_file_for(ctx: &RunContext, path: &str) -> (String, Vec<(String, String)>) {
    let (stem, ext) = stem_and_ext(path);
    let plain = test_path(path);
    match read_file(ctx, &plain) {
        Some(text) => (format!("test/{stem}.samokoder.test.{ext}"), vec![(plain, text)]),
        None => (plain, Vec::new()),
    }
}

/// The test file of a module, as every agent names it: `test/` mirrors `src/` (`src/lib/sum.js` ->
/// `test/lib/sum.test.js`; `src/App.jsx` -> `test/App.test.js`), so two modules of one name in two folders
/// get two test files.
pub(super) fn test_path(path: &str) -> String {
    let (stem, ext) = stem_and_ext(path);
    format!("test/{stem}.test.{ext}")
}

fn stem_and_ext(path: &str) -> (&str, &str) {
    let path = path.trim_start_matches("./");
    let under = path.strip_prefix("src/").unwrap_or(path);
    let (stem, ext) = under.rsplit_once('.').unwrap_or((under, "js"));
    let ext = match ext {
        "tsx" | "mts" | "cts" => "ts",
        "jsx" | "mjs" | "cjs" => "js",
        other => other,
    };
    (stem, ext)
}

/// How `from` imports `to`: a relative path with the extension (`test/lib/sum.test.js`, `src/lib/sum.js` ->
/// `../../src/lib/sum.js`).
pub(super) fn relative(from: &str, to: &str) -> String {
    let from_dir: Vec<&str> =
        from.split('/').collect::<Vec<_>>().split_last().map(|(_, d)| d.to_vec()).unwrap_or_default();
    let to_parts: Vec<&str> = to.split('/').collect();
    let common = from_dir.iter().zip(&to_parts).take_while(|(a, b)| a == b).count();
    let ups = from_dir.len() - common;
    let rest = to_parts[common..].join("/");
    match ups {
        0 => format!("./{rest}"),
        n => format!("{}{rest}", "../".repeat(n)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_test_file_imports_its_module_by_a_relative_path() {
        assert_eq!(relative("test/sum.test.js", "src/sum.js"), "../src/sum.js");
        assert_eq!(relative("test/lib/sum.test.ts", "src/lib/sum.ts"), "../../src/lib/sum.ts");
        assert_eq!(relative("test/sum.test.js", "sum.js"), "../sum.js");
        assert_eq!(relative("app/test/a.test.js", "app/a.js"), "../a.js");
    }

    #[test]
    fn test_mirrors_src() {
        assert_eq!(test_path("src/sum.js"), "test/sum.test.js");
        assert_eq!(test_path("./src/lib/queue.mjs"), "test/lib/queue.test.js");
        assert_eq!(test_path("src/App.tsx"), "test/App.test.ts");
    }
}
