//! A model's reply as the change it makes: its edits parsed and applied to the files as the user holds
//! them, each path jailed, every file checked for syntax, and the reply held to the tests' guard (a test
//! the user wrote, the spec's word for a generated one), the stated examples (no change edits one) and
//! the repairs that need no model. What cannot be applied comes back as the reason, for a re-ask.

use samokoder_edits::{ChangeSet, FileChange, Jail, Protection, apply_blocks};

use super::troubleshooter::{created_by_run, is_test};
use super::{in_project, read_file};
use crate::edit_format::{FileEdit, echoed_example, holder_of, parse_edits_among};
use crate::{Level, RunContext};

/// What a reply that gives every file back as it is is told.
pub(crate) const UNCHANGED: &str = "the changes leave every file as it is";

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
        return Err(refused.into_iter().next().unwrap_or_else(|| UNCHANGED.into()));
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
    fn tests_and_assertions_are_counted() {
        let text = "test('a', () => { assert.equal(1, 1); assert.ok(true); });\nit('b', () => expect(1).toBe(1));\nfunction retest() {}\n";
        assert_eq!(test_weight(text), (2, 3));
        assert!(is_test("test/sum.test.js") && is_test("src/__tests__/a.js") && is_test("src/a.spec.ts"));
        assert!(!is_test("src/contest.js") && !is_test("src/testing.js"));
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
