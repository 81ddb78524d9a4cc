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
//! of the files the model was shown; it is then applied like any block (checked, never guessed).

use samokoder_edits::Block;

use crate::output::{parse_whole_files, path_line};

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
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if !marker(line, '<', "SEARCH") {
            if let Some(path) = path_line(line).filter(|_| !line.trim_start().starts_with("```")) {
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
        let join = |range: &[&str]| {
            let mut text = range.join("\n");
            if !range.is_empty() {
                text.push('\n');
            }
            text
        };
        blocks.push((path, Block { search: join(&lines[i + 1..divider]), replace: join(&lines[divider + 1..end]) }));
        i = end + 1;
    }
    let mut edits: Vec<(String, FileEdit)> = Vec::new();
    for (path, block) in blocks {
        match edits.iter_mut().find(|(p, _)| *p == path) {
            Some((_, FileEdit::Blocks(list))) => list.push(block),
            _ => edits.push((path, FileEdit::Blocks(vec![block]))),
        }
    }
    let whole = parse_whole_files(&rest.join("\n"));
    if edits.is_empty() && whole.is_empty() {
        return Ok(labelled_pairs(&lines, files));
    }
    for file in whole {
        let has_blocks = edits.iter().any(|(p, _)| *p == file.path);
        match (has_blocks, file.content.trim().is_empty()) {
            // What is left of a fence that held only blocks.
            (true, true) => {}
            (true, false) => {
                return Err(format!(
                    "the reply gives {} both as a whole file and as SEARCH/REPLACE blocks: give one or the other",
                    file.path
                ));
            }
            (false, _) => edits.push((file.path, FileEdit::Whole(file.content))),
        }
    }
    Ok(edits)
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
