//! Checks that follow every write, whatever the model thinks of them: the runtime's own syntax check of each
//! touched JavaScript file (`node --check`), in the warm sandbox. tree-sitter's grammar accepts code Node
//! refuses (`this.compare = compare || (a, b) => a - b;` parses, and fails at load with "Malformed arrow
//! function parameter list"), so our own parse is not enough. Only errors a write introduced count: the same
//! files are checked before it, and an error that was already there is not its fault.

use std::collections::BTreeMap;

use anyhow::Result;
use samokoder_sandbox::RunRequest;

use crate::RunContext;

const CHECK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);
const MARK: &str = "==samokoder-check== ";

/// The JavaScript files among `paths` (workspace-relative).
pub(crate) fn checkable(paths: &[String]) -> Vec<String> {
    paths.iter().filter(|p| [".js", ".mjs", ".cjs"].iter().any(|ext| p.ends_with(ext))).cloned().collect()
}

/// `node --check` on each file as the user holds it now: file -> its error (files that pass are absent).
pub(crate) async fn node_check(ctx: &RunContext, files: &[String]) -> Result<BTreeMap<String, String>> {
    let files: Vec<String> = files.iter().filter(|f| super::read_file(ctx, f).is_some()).cloned().collect();
    if files.is_empty() {
        return Ok(BTreeMap::new());
    }
    let quoted: Vec<String> = files.iter().map(|f| format!("'{}'", f.replace('\'', "'\\''"))).collect();
    let command = format!(
        "for f in {}; do echo \"{MARK}$f\"; node --check \"$f\" 2>&1 || echo \"{MARK}failed\"; done",
        quoted.join(" ")
    );
    let overlay = ctx.frontend.overlay();
    let mut request = RunRequest::new(ctx.jail.root(), &overlay, &command, CHECK_TIMEOUT);
    request.run_id = Some(&ctx.id.0);
    let result = ctx.sandbox.run(request, &|_| {}).await?;
    Ok(parse(&result.output))
}

/// The check's output, per file: the lines a failing file printed.
fn parse(output: &str) -> BTreeMap<String, String> {
    let mut errors = BTreeMap::new();
    let mut current: Option<(String, Vec<&str>)> = None;
    for line in output.lines() {
        match line.strip_prefix(MARK) {
            Some("failed") => {
                if let Some((file, lines)) = current.take() {
                    let message: Vec<&str> = lines.into_iter().filter(|l| !l.trim().is_empty()).collect();
                    errors.insert(file, message.join("\n"));
                }
            }
            Some(file) => current = Some((file.to_owned(), Vec::new())),
            None => {
                if let Some((_, lines)) = &mut current {
                    lines.push(line);
                }
            }
        }
    }
    errors
}

/// The errors in `after` that `before` did not have, as lines for a prompt.
pub(crate) fn introduced(before: &BTreeMap<String, String>, after: &BTreeMap<String, String>) -> Vec<String> {
    after
        .iter()
        .filter(|(file, error)| before.get(*file) != Some(*error))
        .map(|(file, error)| format!("{file}: {error}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_failing_files_and_only_new_errors_count() {
        let output = format!(
            "{MARK}src/a.js\n{MARK}src/b.js\n/workspace/src/b.js:1\nthis.f = f || (a, b) => a - b;\n          ^^^^^^\n\nSyntaxError: Malformed arrow function parameter list\n{MARK}failed\n"
        );
        let after = parse(&output);
        assert_eq!(after.keys().collect::<Vec<_>>(), ["src/b.js"]);
        assert!(after["src/b.js"].contains("SyntaxError: Malformed arrow function parameter list"), "{after:?}");
        assert_eq!(introduced(&BTreeMap::new(), &after).len(), 1);
        assert!(introduced(&after, &after).is_empty(), "an error that was there before is not the write's");
        assert_eq!(checkable(&["a.js".into(), "b.ts".into(), "c.mjs".into(), "d.json".into()]), ["a.js", "c.mjs"]);
    }
}
