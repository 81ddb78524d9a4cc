//! Edits in a model's reply: SEARCH/REPLACE blocks for files that exist, whole files for new (or small)
//! ones. A block follows its file's path, alone on a line (the block may sit in a fenced code block, as
//! models often write it):
//!
//! ```text
//! src/sum.js
//! <<<<<<< SEARCH
//!   return a - b;
//! =======
//!   return a + b;
//! >>>>>>> REPLACE
//! ```
//!
//! Whole files are the documented format (`output.rs`). A reply that gives one path both a whole file and
//! blocks is refused: which one is meant cannot be known.
//!
//! A reply with neither is read once more for the form small models fall into when they do not follow the
//! format: labelled pairs (`Search: \`const out = [];\`` then `Replace: \`...\``, or `Original code:` and
//! `New code:` each before a fenced block). Such a pair counts only when its search lines are in exactly one
//! of the files the model was shown; it is then applied like any block (checked, never guessed). Failing
//! that, a fenced block with no path is a whole new version of the one shown file it plainly is: it starts
//! with that file's first line, or holds half of its lines (`Here's the updated code:` then the file).
//!
//! Unified diffs (`--- a/path`, `+++ b/path`, `@@` hunks) are read as blocks when the reply has neither
//! blocks nor whole files (`udiff.rs`).
//!
//! A block that only repeats the prompts' own format example (`a - b` to `a + b`) where no shown file has
//! that line is not an edit: small models echo it beside their real answer.

use samokoder_edits::Block;

use crate::output::{parse_whole_files, path_line};
use crate::udiff::diff_at;

/// What a reply does to one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileEdit {
    Whole(String),
    Blocks(Vec<Block>),
}

fn marker(line: &str, c: char, word: &str) -> bool {
    let t = line.trim();
    let n = t.chars().take_while(|x| *x == c).count();
    (5..=9).contains(&n) && t[n..].trim() == word
}

/// `text` holds these lines in a row (compared trimmed, blank lines left out); nothing holds no lines.
fn holds(text: &str, search: &[&str]) -> bool {
    let text: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    !search.is_empty() && text.windows(search.len()).any(|w| w == search)
}

/// The one of `files` (path, text) that holds every block's SEARCH lines, when exactly one does: where the
/// blocks belong when the path a reply named is not a file (small models copy the prompt's example path).
pub fn holder_of<'a>(files: &'a [(String, String)], blocks: &[Block]) -> Option<&'a str> {
    let searches: Vec<Vec<&str>> =
        blocks.iter().map(|b| b.search.lines().map(str::trim).filter(|l| !l.is_empty()).collect()).collect();
    let holders: Vec<&String> = files
        .iter()
        .filter(|(_, text)| searches.iter().all(|search| holds(text, search)))
        .map(|(path, _)| path)
        .collect();
    match holders.as_slice() {
        [one] => Some(one.as_str()),
        _ => None,
    }
}

/// The edits of a reply, per path in the order they first appear.
pub fn parse_edits(reply: &str) -> Result<Vec<(String, FileEdit)>, String> {
    parse_edits_among(reply, &[])
}

/// [`parse_edits`], where a block with no path before it belongs to the one of `files` (path, text) whose
/// text holds its SEARCH lines, when exactly one does (small models often leave the path out).
pub fn parse_edits_among(reply: &str, files: &[(String, String)]) -> Result<Vec<(String, FileEdit)>, String> {
    let lines: Vec<&str> = reply.lines().collect();
    let mut blocks: Vec<(String, Block)> = Vec::new();
    let mut rest: Vec<&str> = Vec::new();
    let mut last_path: Option<String> = None;
    let mut diffs: Vec<(String, Block)> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let fenced = i > 0 && lines[i - 1].trim_start().starts_with("```");
        if let Some((end, path, hunks)) = diff_at(&lines, i, fenced) {
            diffs.extend(hunks.into_iter().map(|b| (path.clone(), b)));
            i = end;
            continue;
        }
        if !marker(line, '<', "SEARCH") {
            let fence = line.trim_start().starts_with("```");
            if let Some(path) = path_line(line).or_else(|| named_file(line, files)).filter(|_| !fence) {
                last_path = Some(path);
            }
            rest.push(line);
            i += 1;
            continue;
        }
        let divider = (i + 1..lines.len()).find(|&j| marker(lines[j], '=', ""));
        let end = divider.and_then(|d| (d + 1..lines.len()).find(|&j| marker(lines[j], '>', "REPLACE")));
        let (Some(divider), Some(end)) = (divider, end) else {
            return Err(format!(
                "the SEARCH block at line {} is not closed: it needs a `=======` line and a `>>>>>>> REPLACE` line",
                i + 1
            ));
        };
        let search = lines[i + 1..divider].iter().map(|l| l.trim()).filter(|l| !l.is_empty()).collect::<Vec<_>>();
        let join = |range: &[&str]| {
            let mut text = range.join("\n");
            if !range.is_empty() {
                text.push('\n');
            }
            text
        };
        let block = Block { search: join(&lines[i + 1..divider]), replace: join(&lines[divider + 1..end]) };
        if !files.is_empty() && echoes_format_example(&block, files) {
            i = end + 1;
            continue;
        }
        let path = match last_path.clone() {
            Some(path) => path,
            None => {
                let holders: Vec<&String> =
                    files.iter().filter(|(_, text)| holds(text, &search)).map(|(path, _)| path).collect();
                match holders.as_slice() {
                    [one] => (*one).clone(),
                    _ => {
                        return Err(format!(
                            "a SEARCH block at line {} has no file path before it: put the path alone on the line above",
                            i + 1
                        ));
                    }
                }
            }
        };
        blocks.push((path, block));
        i = end + 1;
    }
    let mut edits = by_path(blocks);
    for file in parse_whole_files(&rest.join("\n")) {
        let has_blocks = edits.iter().any(|(p, _)| *p == file.path);
        match (has_blocks, file.content.trim().is_empty()) {
            // What is left of a fence that held only blocks (or only an echo of the example).
            (_, true) => {}
            (true, false) => {
                return Err(format!(
                    "the reply gives {} both as a whole file and as SEARCH/REPLACE blocks: give one or the other",
                    file.path
                ));
            }
            (false, false) => edits.push((file.path, FileEdit::Whole(file.content))),
        }
    }
    if edits.is_empty() {
        edits = by_path(diffs);
    }
    if edits.is_empty() {
        edits = labelled_pairs(&lines, files);
    }
    if edits.is_empty() {
        edits = bare_whole_files(&lines, files);
    }
    Ok(edits)
}

/// Blocks grouped per path, in the order each path first appears.
fn by_path(blocks: Vec<(String, Block)>) -> Vec<(String, FileEdit)> {
    let mut edits: Vec<(String, FileEdit)> = Vec::new();
    for (path, block) in blocks {
        match edits.iter_mut().find(|(p, _)| *p == path) {
            Some((_, FileEdit::Blocks(list))) => list.push(block),
            _ => edits.push((path, FileEdit::Blocks(vec![block]))),
        }
    }
    edits
}

/// The examples of the edit format in the prompts that ask for blocks: prompt, SEARCH line, REPLACE lines
/// (each trimmed).
pub const FORMAT_EXAMPLES: [(&str, &str, &str); 3] = [
    ("troubleshooter/task", "return a - b;", "return a + b;"),
    (
        "implementer/task",
        "// TODO(samokoder): return the total of the prices, 0 for none",
        "let total = 0;\nfor (const price of prices) {\ntotal += price;\n}\nreturn total;",
    ),
    ("bug_hunter/task", "module.exports = { sum };", "export { sum };"),
];

/// The SEARCH line of a prompt's example that the reply gives as a block, if it gives one.
pub fn echoed_example(reply: &str) -> Option<&'static str> {
    let lines: Vec<&str> = reply.lines().map(str::trim).collect();
    FORMAT_EXAMPLES.iter().find_map(|(_, search, replace)| {
        lines
            .windows(4)
            .any(|w| {
                marker(w[0], '<', "SEARCH")
                    && w[1] == *search
                    && marker(w[2], '=', "")
                    && replace.lines().next() == Some(w[3])
            })
            .then_some(*search)
    })
}

/// The block is a prompt's example, and no file shown to the model holds its SEARCH line.
fn echoes_format_example(block: &Block, files: &[(String, String)]) -> bool {
    FORMAT_EXAMPLES.iter().any(|(_, search, replace)| {
        block.search.trim() == *search
            && block.replace.lines().map(str::trim).filter(|l| !l.is_empty()).eq(replace.lines())
            && !files.iter().any(|(_, text)| holds(text, &[search]))
    })
}

/// A sentence that introduces one shown file (`Changes in src/capitalize.js:`): it ends with a colon and
/// names exactly one of `files` by its path.
fn named_file(line: &str, files: &[(String, String)]) -> Option<String> {
    let t = line.trim();
    if !t.ends_with(':') {
        return None;
    }
    let words: Vec<&str> = t.split(|c: char| c.is_whitespace() || matches!(c, '`' | '*' | ':' | ',')).collect();
    let named: Vec<&String> = files.iter().map(|(p, _)| p).filter(|p| words.contains(&p.as_str())).collect();
    match named.as_slice() {
        [one] => Some((*one).clone()),
        _ => None,
    }
}

/// The trimmed lines of a text that are not blank.
fn content_lines(text: &str) -> Vec<&str> {
    text.lines().map(str::trim).filter(|l| !l.is_empty()).collect()
}

/// Fenced blocks with no path (and no SEARCH markers), each a whole new version of the one of `files` it
/// plainly is: it shares at least two lines with the file and either starts with the file's first line or
/// holds half of the file's lines, and no other file is such. A path given two different blocks gets neither;
/// the same block given twice is one (Qwen 1.5B gave the fixed file, then "the new file is as follows" and
/// the same file again).
fn bare_whole_files(lines: &[&str], files: &[(String, String)]) -> Vec<(String, FileEdit)> {
    let mut found: Vec<(String, String)> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if !lines[i].trim_start().starts_with("```") {
            i += 1;
            continue;
        }
        let Some(close) = (i + 1..lines.len()).find(|&j| lines[j].trim() == "```") else { break };
        let body = &lines[i + 1..close];
        let open = lines[i];
        i = close + 1;
        if body.iter().any(|l| marker(l, '<', "SEARCH") || marker(l, '=', "")) {
            continue;
        }
        let text = crate::output::fence_body(open, body);
        let ours = content_lines(&text);
        let like: Vec<&String> = files
            .iter()
            .filter(|(_, file)| {
                let theirs = content_lines(file);
                let shared = theirs.iter().filter(|l| ours.contains(l)).count();
                shared >= 2 && (ours.first() == theirs.first() || 2 * shared >= theirs.len())
            })
            .map(|(path, _)| path)
            .collect();
        if let [path] = like.as_slice() {
            let block = ((*path).clone(), format!("{text}\n"));
            if !found.contains(&block) {
                found.push(block);
            }
        }
    }
    let mut edits: Vec<(String, FileEdit)> = Vec::new();
    for (path, text) in &found {
        if found.iter().filter(|(p, _)| p == path).count() == 1 {
            edits.push((path.clone(), FileEdit::Whole(text.clone())));
        }
    }
    edits
}

/// The words that start the two halves of a labelled pair, lower case.
const SEARCH_LABELS: [&str; 9] =
    ["search", "original", "original code", "old", "old code", "before", "find", "current code", "change"];
const REPLACE_LABELS: [&str; 9] =
    ["replace", "replace with", "replacement", "new", "new code", "after", "fixed code", "updated code", "to"];

/// A line `Label: value` (the label maybe bold or a list item) whose label is one of `labels`: the value,
/// empty when the text follows in a fenced block.
fn labelled<'a>(line: &'a str, labels: &[&str]) -> Option<&'a str> {
    let t = line.trim().trim_start_matches(['-', '*', ' ']);
    let (label, value) = t.split_once(':')?;
    let label = label.trim_end_matches('*').trim().to_lowercase();
    labels.contains(&label.as_str()).then(|| value.trim_start_matches('*').trim())
}

/// The text of a labelled half: its inline value without backticks, else the fenced block that follows.
fn half(lines: &[&str], at: usize, value: &str) -> Option<(String, usize)> {
    let inline = value.trim_matches('`').trim();
    if !inline.is_empty() && !value.starts_with("```") {
        return Some((format!("{inline}\n"), at + 1));
    }
    let open = if value.starts_with("```") {
        at
    } else {
        (at + 1..lines.len().min(at + 3)).find(|&j| lines[j].trim().starts_with("```"))?
    };
    let close = (open + 1..lines.len()).find(|&j| lines[j].trim().starts_with("```"))?;
    let body = &lines[open + 1..close];
    (!body.is_empty()).then(|| (format!("{}\n", body.join("\n")), close + 1))
}

/// Labelled search/replace pairs whose search lines exactly one of `files` holds, as blocks of that file.
fn labelled_pairs(lines: &[&str], files: &[(String, String)]) -> Vec<(String, FileEdit)> {
    let mut edits: Vec<(String, FileEdit)> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let Some((search, after)) = labelled(lines[i], &SEARCH_LABELS).and_then(|v| half(lines, i, v)) else {
            i += 1;
            continue;
        };
        let next = (after..lines.len()).find(|&j| !lines[j].trim().is_empty());
        let Some((replace, end)) =
            next.and_then(|j| labelled(lines[j], &REPLACE_LABELS).map(|v| (j, v))).and_then(|(j, v)| half(lines, j, v))
        else {
            i = after;
            continue;
        };
        i = end;
        let wanted: Vec<&str> = search.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
        let holders: Vec<&String> = files.iter().filter(|(_, text)| holds(text, &wanted)).map(|(p, _)| p).collect();
        let ([path], false) = (holders.as_slice(), search == replace) else { continue };
        let block = Block { search, replace };
        match edits.iter_mut().find(|(p, _)| p == *path) {
            Some((_, FileEdit::Blocks(list))) => list.push(block),
            _ => edits.push(((*path).clone(), FileEdit::Blocks(vec![block]))),
        }
    }
    edits
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blocks(pairs: &[(&str, &str)]) -> FileEdit {
        FileEdit::Blocks(pairs.iter().map(|(s, r)| Block { search: s.to_string(), replace: r.to_string() }).collect())
    }

    #[test]
    fn blocks_bare_or_fenced_and_whole_files_together() {
        let reply = "I fix the sign and add a test.\n\nsrc/sum.js\n```js\n<<<<<<< SEARCH\n  return a - b;\n=======\n  return a + b;\n>>>>>>> REPLACE\n```\n\nsrc/sum.js\n<<<<<<< SEARCH\nexport function sum(a, b) {\n=======\n/** Adds. */\nexport function sum(a, b) {\n>>>>>>> REPLACE\n\ntest/more.test.js\n```js\nimport 'x';\n```\n";
        let edits = parse_edits(reply).unwrap();
        assert_eq!(
            edits,
            [
                (
                    "src/sum.js".to_owned(),
                    blocks(&[
                        ("  return a - b;\n", "  return a + b;\n"),
                        ("export function sum(a, b) {\n", "/** Adds. */\nexport function sum(a, b) {\n")
                    ])
                ),
                ("test/more.test.js".to_owned(), FileEdit::Whole("import 'x';\n".into())),
            ]
        );
    }

    #[test]
    fn an_empty_replace_deletes_and_longer_markers_are_read() {
        let reply = "a.js\n<<<<<<<< SEARCH\nconsole.log(1);\n========\n>>>>>>>> REPLACE\n";
        assert_eq!(parse_edits(reply).unwrap(), [("a.js".to_owned(), blocks(&[("console.log(1);\n", "")]))]);
    }

    #[test]
    fn a_block_without_a_path_belongs_to_the_one_file_that_holds_its_lines() {
        let files = [
            ("src/a.js".to_owned(), "let a = 1;\nlet b = 2;\n".to_owned()),
            ("src/c.js".to_owned(), "let c = 3;\n".to_owned()),
        ];
        let reply = "<<<<<<< SEARCH\n  let b = 2;\n=======\nlet b = 3;\n>>>>>>> REPLACE\n";
        assert_eq!(
            parse_edits_among(reply, &files).unwrap(),
            [("src/a.js".to_owned(), blocks(&[("  let b = 2;\n", "let b = 3;\n")]))]
        );
        let nowhere = "<<<<<<< SEARCH\nlet z = 0;\n=======\nx\n>>>>>>> REPLACE\n";
        assert!(parse_edits_among(nowhere, &files).unwrap_err().contains("has no file path before it"));
    }

    #[test]
    fn labelled_pairs_count_when_one_shown_file_holds_their_search_lines() {
        // Qwen 1.5B, asked for blocks, wrote these.
        let files = [
            (
                "src/range.js".to_owned(),
                "export function range(start, end) {\n  const out = [];\n  return out;\n}\n".to_owned(),
            ),
            ("test/range.test.js".to_owned(), "import { range } from '../src/range.js';\n".to_owned()),
        ];
        let inline = "Search: `const out = [];`\nReplace: `const out = [start];`\n\nThe array started empty.";
        assert_eq!(
            parse_edits_among(inline, &files).unwrap(),
            [("src/range.js".to_owned(), blocks(&[("const out = [];\n", "const out = [start];\n")]))]
        );
        let fenced = "**Original code:**\n```javascript\n  const out = [];\n  return out;\n```\n\n**New code:**\n```javascript\n  const out = [];\n  return out.concat(end);\n```\n";
        assert_eq!(
            parse_edits_among(fenced, &files).unwrap(),
            [(
                "src/range.js".to_owned(),
                blocks(&[("  const out = [];\n  return out;\n", "  const out = [];\n  return out.concat(end);\n")])
            )]
        );
        // Qwen's `Change:` / `To:`, each before a fenced block (f1 of the evaluation).
        let change_to = "Change:\n```\n  const out = [];\n  return out;\n```\n\nTo:\n```\n  const out = [start];\n  return out;\n```\n";
        assert_eq!(
            parse_edits_among(change_to, &files).unwrap(),
            [(
                "src/range.js".to_owned(),
                blocks(&[("  const out = [];\n  return out;\n", "  const out = [start];\n  return out;\n")])
            )]
        );
        // Lines no file holds, the same text on both sides, a search with no replace: no edit.
        for reply in [
            "Search: `let x = 1;`\nReplace: `let x = 2;`",
            "Original code:\n```js\nconst out = [];\n```\nNew code:\n```js\nconst out = [];\n```",
            "Search: `const out = [];`\n\nThat is all.",
        ] {
            assert_eq!(parse_edits_among(reply, &files).unwrap(), [], "{reply}");
        }
    }

    /// Qwen2.5-Coder-1.5B's replies in the evaluation (f1, f2, f3): the fixed file in a fence with no path,
    /// after a sentence that names it (or only its function), beside an echo of the prompt's example.
    #[test]
    fn a_bare_fence_is_the_one_shown_file_it_plainly_is() {
        let max = "// max(list): the largest number of a non-empty list.\nexport function max(list) {\n  let best = list[0];\n  for (const x of list) {\n    if (x < best) best = x;\n  }\n  return best;\n}\n";
        let test =
            "import { test } from 'node:test';\nimport { max } from '../src/max.js';\ntest('largest', () => {});\n";
        let files = [("src/max.js".to_owned(), max.to_owned()), ("test/max.test.js".to_owned(), test.to_owned())];
        let fixed = max.replace("x < best", "x > best");
        let reply = format!(
            "The loop keeps the smallest.\n\nHere's the updated code for `src/max.js`:\n\n```\n{fixed}```\n\nThe changes are in `max`."
        );
        assert_eq!(
            parse_edits_among(&reply, &files).unwrap(),
            [("src/max.js".to_owned(), FileEdit::Whole(fixed.clone()))]
        );
        // In a list item (i2, seed 3): the fence's own indentation is not the file's.
        let indented: String = fixed.lines().map(|l| format!("  {l}\n")).collect();
        let reply = format!("Changes:\n- Modify `src/max.js` to:\n  ```javascript\n{indented}  ```\n");
        assert_eq!(
            parse_edits_among(&reply, &files).unwrap(),
            [("src/max.js".to_owned(), FileEdit::Whole(fixed.clone()))]
        );

        let range = "// range(start, end): the integers from start up to and including end.\nexport function range(start, end) {\n  const out = [];\n  for (let i = start; i < end; i++) {\n    out.push(i);\n  }\n  return out;\n}\n";
        let files = [("src/range.js".to_owned(), range.to_owned())];
        // A rewrite that keeps only the first line, the signature and a brace, then the prompt's example echoed.
        let rewrite = "// range(start, end): the integers from start up to and including end.\nexport function range(start, end) {\n  return Array.from({ length: end - start + 1 }, (_, i) => start + i);\n}\n";
        let reply = format!(
            "Here's the change to the `range` function:\n\n```\n{rewrite}```\n\nThe changes are as follows:\n\n- `src/range.js`\n```\n<<<<<<< SEARCH\n  return a - b;\n=======\n  return a + b;\n>>>>>>> REPLACE\n```\n"
        );
        assert_eq!(
            parse_edits_among(&reply, &files).unwrap(),
            [("src/range.js".to_owned(), FileEdit::Whole(rewrite.to_owned()))]
        );
        // The example alone is no edit; where a shown file has its line, it is one.
        let echo = "src/example.js\n<<<<<<< SEARCH\n  return a - b;\n=======\n  return a + b;\n>>>>>>> REPLACE\n";
        assert_eq!(parse_edits_among(echo, &files).unwrap(), []);
        assert_eq!(echoed_example(echo), Some("return a - b;"), "and the re-ask can say so");
        // With no path at all, under a sentence that names the file (f3, seed 1): still no edit, and no error.
        let unnamed = format!("```js\n{}```\n", &echo["src/example.js\n".len()..]);
        assert_eq!(parse_edits_among(&unnamed, &files).unwrap(), []);
        let named = format!("Changes in src/range.js:\n{unnamed}");
        assert_eq!(parse_edits_among(&named, &files).unwrap(), []);
        let real = "Changes in `src/range.js`:\n<<<<<<< SEARCH\n  return out;\n=======\n  return out.concat(end);\n>>>>>>> REPLACE\n";
        assert_eq!(echoed_example(real), None);
        assert_eq!(
            parse_edits_among(real, &files).unwrap(),
            [("src/range.js".to_owned(), blocks(&[("  return out;\n", "  return out.concat(end);\n")]))]
        );
        let minus = [("src/sub.js".to_owned(), "export function f(a, b) {\n  return a - b;\n}\n".to_owned())];
        assert_eq!(parse_edits_among(echo, &minus).unwrap().len(), 1);

        // Not plainly one file: a fragment, a fence like two files, two fences for one file.
        let fragment = "```js\n    if (x > best) best = x;\n  }\n```\n";
        let twins = [
            ("a.js".to_owned(), "let a = 1;\nlet b = 2;\n".to_owned()),
            ("b.js".to_owned(), "let a = 1;\nlet b = 2;\nlet c;\n".to_owned()),
        ];
        let both = "```\nlet a = 1;\nlet b = 3;\n```\n";
        let twice = format!("```\n{fixed}```\nor\n```\n{max}```\n");
        let files = [("src/max.js".to_owned(), max.to_owned())];
        assert_eq!(parse_edits_among(fragment, &files).unwrap(), []);
        assert_eq!(parse_edits_among(both, &twins).unwrap(), []);
        assert_eq!(parse_edits_among(&twice, &files).unwrap(), []);
        // The same fence twice is one version (f4, seed 2: the file, then a sentence whose code spans name no
        // one path, and the same file again).
        let again = format!(
            "```javascript\n{fixed}```\nThe changes are made in `src/max.js` to replace `x < best` with `x > best`. \
             The new file `src/max.js` is as follows:\n```javascript\n{fixed}```\n"
        );
        assert_eq!(parse_edits_among(&again, &files).unwrap(), [("src/max.js".to_owned(), FileEdit::Whole(fixed))]);
    }

    /// A reply in unified diffs (Qwen 1.5B, shown a change as a diff, answered in diffs): each hunk is a
    /// block for the file its `+++` line names; beside real blocks, a diff is not read.
    #[test]
    fn a_unified_diff_is_read_as_blocks_when_the_reply_has_nothing_else() {
        let cap = "// capitalize(word): the word with its first letter in upper case.\nexport function capitalize(word) {\n  return word.charAt(0).toUpperCase();\n}\n";
        let files = [("src/capitalize.js".to_owned(), cap.to_owned())];
        let reply = "Here's the updated code:\n\n```diff\n--- a/src/capitalize.js\n+++ b/src/capitalize.js\n@@ -2,3 +2,3 @@\n export function capitalize(word) {\n-  return word.charAt(0).toUpperCase();\n+  return word.charAt(0).toUpperCase() + word.slice(1);\n}\n```\n\nThis keeps the rest.";
        let edits = parse_edits_among(reply, &files).unwrap();
        let [(path, FileEdit::Blocks(found))] = edits.as_slice() else { panic!("{edits:?}") };
        assert_eq!(path, "src/capitalize.js");
        let fixed = samokoder_edits::apply_blocks(Some(cap), found).unwrap().0;
        assert!(fixed.contains("toUpperCase() + word.slice(1);\n}\n"), "{fixed}");
        let both = format!(
            "{reply}\n\nsrc/capitalize.js\n<<<<<<< SEARCH\n  return word.charAt(0).toUpperCase();\n=======\n  return word;\n>>>>>>> REPLACE\n"
        );
        assert_eq!(
            parse_edits_among(&both, &files).unwrap(),
            [(
                "src/capitalize.js".to_owned(),
                blocks(&[("  return word.charAt(0).toUpperCase();\n", "  return word;\n")])
            )]
        );
    }

    /// The prompts show the examples [`echoes_format_example`] looks for.
    #[test]
    fn the_prompts_show_the_format_examples() {
        for (prompt, search, replace) in FORMAT_EXAMPLES {
            let text = samokoder_prompts::Prompts::new(None).source(prompt).unwrap();
            let block: Vec<&str> = ["<<<<<<< SEARCH", search, "======="]
                .into_iter()
                .chain(replace.lines())
                .chain([">>>>>>> REPLACE"])
                .collect();
            assert!(holds(&text, &block), "{prompt} no longer shows {block:?}");
        }
    }

    #[test]
    fn bad_replies_say_what_is_wrong() {
        let cases = [
            ("<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n", "has no file path before it"),
            ("a.js\n<<<<<<< SEARCH\nx\n=======\ny\n", "is not closed"),
            ("a.js\n<<<<<<< SEARCH\nx\n>>>>>>> REPLACE\n", "is not closed"),
            (
                "a.js\n```js\nconst a = 2;\n```\na.js\n<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n",
                "both as a whole file and as SEARCH/REPLACE blocks",
            ),
        ];
        for (reply, says) in cases {
            let err = parse_edits(reply).unwrap_err();
            assert!(err.contains(says), "{reply:?}: {err}");
        }
    }
}
