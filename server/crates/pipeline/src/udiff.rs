//! Unified diffs in a model's reply, read as SEARCH/REPLACE blocks: what models write when they do not
//! follow the block format (Qwen2.5-Coder-1.5B answered in diffs three times over in the evaluation). Each
//! hunk becomes one block: its context and removed lines are what to find, its context and added lines
//! what to put there. Line numbers in `@@` headers are ignored (models get them wrong); the block is then
//! found like any other (exactly, then ignoring whitespace, then fuzzily, never guessed).

use samokoder_edits::Block;

/// A diff in `lines` starting at `at` (its `--- a/path` line, then `+++ b/path`): where it ends
/// (exclusive), the file it changes and its hunks as blocks. `fenced`: the diff sits in a fenced block, so
/// it runs to the fence's end and a line with no prefix (a model's slip: `}` for ` }`) is context.
pub(crate) fn diff_at(lines: &[&str], at: usize, fenced: bool) -> Option<(usize, String, Vec<Block>)> {
    let old = header(lines.get(at)?, "--- ")?;
    let new = header(lines.get(at + 1)?, "+++ ")?;
    let path = if new == "/dev/null" { old } else { new };
    let mut blocks = Vec::new();
    let mut hunk: Option<(String, String, bool)> = None;
    let mut i = at + 2;
    let close = |hunk: Option<(String, String, bool)>, blocks: &mut Vec<Block>| {
        if let Some((search, replace, changed)) = hunk
            && changed
        {
            blocks.push(Block { search, replace });
        }
    };
    while i < lines.len() {
        let line = lines[i];
        if line.trim_start().starts_with("```")
            || (header(line, "--- ").is_some() && lines.get(i + 1).is_some_and(|n| header(n, "+++ ").is_some()))
        {
            break;
        }
        if line.starts_with("@@") {
            close(hunk.take(), &mut blocks);
            hunk = Some((String::new(), String::new(), false));
            i += 1;
            continue;
        }
        let Some((search, replace, changed)) = hunk.as_mut() else { break };
        match line.chars().next() {
            Some('-') => {
                search.push_str(&format!("{}\n", &line[1..]));
                *changed = true;
            }
            Some('+') => {
                replace.push_str(&format!("{}\n", &line[1..]));
                *changed = true;
            }
            Some('\\') => {} // "\ No newline at end of file"
            Some(' ') => {
                search.push_str(&format!("{}\n", &line[1..]));
                replace.push_str(&format!("{}\n", &line[1..]));
            }
            None if fenced || lines.get(i + 1).is_some_and(|n| n.starts_with([' ', '-', '+', '@'])) => {
                search.push('\n');
                replace.push('\n');
            }
            Some(_) if fenced => {
                search.push_str(&format!("{line}\n"));
                replace.push_str(&format!("{line}\n"));
            }
            _ => break,
        }
        i += 1;
    }
    close(hunk, &mut blocks);
    (!blocks.is_empty() && path != "/dev/null").then_some((i, path, blocks))
}

/// The path of a `--- a/path` or `+++ b/path` line (a timestamp after a tab left out).
fn header(line: &str, prefix: &str) -> Option<String> {
    let rest = line.trim_end().strip_prefix(prefix)?;
    let path = rest.split('\t').next()?.trim();
    let path = path.strip_prefix("a/").or_else(|| path.strip_prefix("b/")).unwrap_or(path);
    (!path.is_empty() && !path.contains(' ')).then(|| path.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(search: &str, replace: &str) -> Block {
        Block { search: search.to_owned(), replace: replace.to_owned() }
    }

    #[test]
    fn each_hunk_is_a_block_of_its_context_and_changed_lines() {
        let reply = "--- a/src/max.js\n+++ b/src/max.js\n@@ -3,3 +3,3 @@\n   for (const x of list) {\n-    if (x < best) best = x;\n+    if (x > best) best = x;\n   }\n@@ -9 +9,2 @@\n-export { max };\n+export { max };\n+export default max;\n\nThat fixes it.";
        let lines: Vec<&str> = reply.lines().collect();
        let (end, path, blocks) = diff_at(&lines, 0, false).unwrap();
        assert_eq!(path, "src/max.js");
        assert_eq!(end, 11, "the diff ends at the blank line before the prose");
        assert_eq!(
            blocks,
            [
                block(
                    "  for (const x of list) {\n    if (x < best) best = x;\n  }\n",
                    "  for (const x of list) {\n    if (x > best) best = x;\n  }\n"
                ),
                block("export { max };\n", "export { max };\nexport default max;\n"),
            ]
        );
    }

    /// Qwen 1.5B's diff in the evaluation (f3): in a fence, a closing brace with no prefix, timestamps.
    #[test]
    fn a_fenced_diff_reads_a_line_with_no_prefix_as_context() {
        let reply = "```diff\n--- a/src/capitalize.js\t2024-01-01\n+++ b/src/capitalize.js\t2024-01-02\n@@ -1,4 +1,5 @@\n export function capitalize(word) {\n-  return word.charAt(0).toUpperCase();\n+  return word.charAt(0).toUpperCase() + word.slice(1);\n}\n```\n";
        let lines: Vec<&str> = reply.lines().collect();
        let (end, path, blocks) = diff_at(&lines, 1, true).unwrap();
        assert_eq!((end, path.as_str()), (8, "src/capitalize.js"));
        assert_eq!(
            blocks,
            [block(
                "export function capitalize(word) {\n  return word.charAt(0).toUpperCase();\n}\n",
                "export function capitalize(word) {\n  return word.charAt(0).toUpperCase() + word.slice(1);\n}\n"
            )]
        );
    }

    #[test]
    fn not_a_diff_or_nothing_changed_is_none() {
        let lines = ["--- a/x.js", "no plus line"];
        assert!(diff_at(&lines, 0, false).is_none());
        let lines = ["--- a/x.js", "+++ b/x.js", "@@ -1 +1 @@", " same"];
        assert!(diff_at(&lines, 0, false).is_none(), "a hunk of context only changes nothing");
        let lines = ["--- a/x.js", "+++ /dev/null", "@@ -1 +0,0 @@", "-gone"];
        assert!(diff_at(&lines, 0, false).unwrap().1 == "x.js", "a deletion names the old file");
        assert!(header("--- a sentence with spaces", "--- ").is_none());
    }
}
