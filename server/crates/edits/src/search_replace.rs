//! Applying SEARCH/REPLACE blocks, the edit format models know for changing part of an existing file:
//!
//! ```text
//! <<<<<<< SEARCH
//! export function add(a, b) {
//!   return a - b;
//! =======
//! export function add(a, b) {
//!   return a + b;
//! >>>>>>> REPLACE
//! ```
//!
//! A block's SEARCH lines are found in the file line by line, in three tiers, and the first tier that finds
//! them decides: exactly; then ignoring each line's leading and trailing whitespace (the replacement is
//! re-indented by the difference); then, for a SEARCH of three lines or more, a bounded fuzzy match
//! (similarity of at least [`FUZZY_THRESHOLD`], and clearly better than any other place). A tier that finds two places is an
//! ambiguity, and no tier finding one is a miss: both are errors that say why and show the file's lines
//! nearest to what was searched, for the model to try again. Nothing is ever guessed. Blocks apply in order,
//! each to the result of the one before (a block that repeats an earlier one word for word applies once); an
//! empty SEARCH creates a file that does not exist yet.

use similar::TextDiff;

/// The lowest line similarity (0 to 1) a fuzzy match may have.
pub const FUZZY_THRESHOLD: f32 = 0.85;
/// A fuzzy match must beat the next best place by this much to be the one.
const FUZZY_MARGIN: f32 = 0.05;
/// Files longer than this (in lines) are not searched fuzzily: too slow, and too many near places.
const FUZZY_MAX_LINES: usize = 5000;
/// A SEARCH shorter than this (in lines) is never matched fuzzily: one line that is 90% alike is usually
/// another line (`a - b` and `a + b`), not a typo.
const FUZZY_MIN_LINES: usize = 3;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    pub search: String,
    pub replace: String,
}

/// How a block's SEARCH was found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Found {
    Exact,
    /// Equal once each line's surrounding whitespace is ignored.
    Whitespace,
    /// Similar enough: the similarity.
    Fuzzy(f32),
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BlockError {
    #[error(
        "SEARCH block {block} matches nothing in the file{}; copy the SEARCH lines exactly as the file has them",
        nearest_text(.nearest)
    )]
    NotFound {
        /// 1-based.
        block: usize,
        /// The file's lines most like the SEARCH lines: (first line, 1-based; the text; similarity).
        nearest: Option<(usize, String, f32)>,
    },
    #[error(
        "SEARCH block {block} matches {} places (lines {}); add lines around it so it matches one",
        .lines.len(),
        .lines.iter().map(usize::to_string).collect::<Vec<_>>().join(", ")
    )]
    Ambiguous { block: usize, lines: Vec<usize> },
    #[error("SEARCH block {block} is empty, but the file exists; an empty SEARCH only creates a new file")]
    EmptySearch { block: usize },
}

fn nearest_text(nearest: &Option<(usize, String, f32)>) -> String {
    match nearest {
        Some((line, text, similarity)) => format!(
            "; the nearest lines, from line {line} ({:.0}% alike), are:\n```\n{}```\n",
            similarity * 100.0,
            text
        ),
        None => String::new(),
    }
}

/// Applies `blocks` to `text` (`None`: the file does not exist). Returns the new text and how each block
/// was found.
pub fn apply_blocks(text: Option<&str>, blocks: &[Block]) -> Result<(String, Vec<Found>), BlockError> {
    let mut current = text.map(str::to_owned);
    let mut found = Vec::with_capacity(blocks.len());
    for (i, block) in blocks.iter().enumerate() {
        let number = i + 1;
        if blocks[..i].contains(block) {
            // The same block again (a small model repeating itself, tried: Qwen2.5-Coder-1.5B wrote one block
            // three times): it was applied once, and its SEARCH lines are gone now.
            found.push(Found::Exact);
            continue;
        }
        let next = match current.as_deref() {
            None | Some("") if block.search.trim().is_empty() => {
                found.push(Found::Exact);
                ensure_newline(&block.replace)
            }
            Some(_) if block.search.trim().is_empty() => return Err(BlockError::EmptySearch { block: number }),
            None => return Err(BlockError::NotFound { block: number, nearest: None }),
            Some(text) => {
                let (next, how) = apply_one(text, block, number)?;
                found.push(how);
                next
            }
        };
        current = Some(next);
    }
    Ok((current.unwrap_or_default(), found))
}

fn ensure_newline(text: &str) -> String {
    if text.is_empty() || text.ends_with('\n') { text.to_owned() } else { format!("{text}\n") }
}

/// Lines with their endings, so the text rebuilds exactly.
fn lines(text: &str) -> Vec<&str> {
    text.split_inclusive('\n').collect()
}

fn bare(line: &str) -> &str {
    line.trim_end_matches(['\n', '\r'])
}

fn apply_one(text: &str, block: &Block, number: usize) -> Result<(String, Found), BlockError> {
    let file = lines(text);
    let search: Vec<&str> = lines(&block.search).into_iter().map(bare).collect();
    let search = trim_blank_edges(&search);
    let n = search.len();
    let replace: Vec<&str> = lines(&block.replace).into_iter().map(bare).collect();
    // Every place the SEARCH lines could start (none when it has more lines than the file).
    let starts = if n <= file.len() { file.len() - n + 1 } else { 0 };
    let windows = || 0..starts;

    // Exact.
    let exact: Vec<usize> = windows().filter(|&at| (0..n).all(|k| bare(file[at + k]) == search[k])).collect();
    if let Some(at) = one(&exact, number)? {
        return Ok((splice(&file, at, n, &replace, ""), Found::Exact));
    }
    // Ignoring surrounding whitespace.
    let loose: Vec<usize> =
        windows().filter(|&at| (0..n).all(|k| bare(file[at + k]).trim() == search[k].trim())).collect();
    if let Some(at) = one(&loose, number)? {
        let shift = indent_shift(&file[at..at + n], &search);
        return Ok((splice(&file, at, n, &replace, &shift), Found::Whitespace));
    }
    // Fuzzy, bounded. Short searches are scored too, to show the nearest lines, but never matched.
    let fuzzy_allowed = search.iter().filter(|l| !l.trim().is_empty()).count() >= FUZZY_MIN_LINES;
    let mut scored: Vec<(f32, usize)> = Vec::new();
    if file.len() <= FUZZY_MAX_LINES {
        let wanted = search.iter().map(|l| l.trim()).collect::<Vec<_>>().join("\n");
        for at in windows() {
            let there = file[at..at + n].iter().map(|l| bare(l).trim()).collect::<Vec<_>>().join("\n");
            scored.push((TextDiff::from_chars(wanted.as_str(), there.as_str()).ratio(), at));
        }
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    }
    let nearest = scored.first().map(|&(similarity, at)| {
        let shown: String = file[at..(at + n).min(file.len())].concat();
        (at + 1, ensure_newline(&shown), similarity)
    });
    match scored.as_slice() {
        [(best, at), rest @ ..] if fuzzy_allowed && *best >= FUZZY_THRESHOLD => {
            let close: Vec<usize> = rest
                .iter()
                .filter(|(s, other)| *s > best - FUZZY_MARGIN && other.abs_diff(*at) >= n.max(1))
                .map(|(_, other)| other + 1)
                .collect();
            if !close.is_empty() {
                let mut lines = vec![at + 1];
                lines.extend(close);
                return Err(BlockError::Ambiguous { block: number, lines });
            }
            let shift = indent_shift(&file[*at..*at + n], &search);
            Ok((splice(&file, *at, n, &replace, &shift), Found::Fuzzy(*best)))
        }
        _ => Err(BlockError::NotFound { block: number, nearest }),
    }
}

/// The single match, if there is exactly one; an error if there are several.
fn one(matches: &[usize], number: usize) -> Result<Option<usize>, BlockError> {
    match matches {
        [] => Ok(None),
        [at] => Ok(Some(*at)),
        many => Err(BlockError::Ambiguous { block: number, lines: many.iter().map(|at| at + 1).collect() }),
    }
}

/// SEARCH lines without blank lines at either end (models add them freely).
fn trim_blank_edges<'a>(lines: &[&'a str]) -> Vec<&'a str> {
    let start = lines.iter().position(|l| !l.trim().is_empty()).unwrap_or(lines.len());
    let end = lines.iter().rposition(|l| !l.trim().is_empty()).map_or(start, |e| e + 1);
    lines[start..end].to_vec()
}

/// What to put before each replacement line so it sits where the matched lines sit: the indentation the
/// file has beyond the SEARCH's, at the first non-blank line.
fn indent_shift(matched: &[&str], search: &[&str]) -> String {
    let Some(k) = search.iter().position(|l| !l.trim().is_empty()) else { return String::new() };
    // Counted in characters: indentation may be any Unicode whitespace (U+00A0, U+3000 are several bytes).
    let indent = |l: &str| l.chars().take_while(|c| c.is_whitespace()).count();
    let (there, here) = (bare(matched[k]), search[k]);
    let extra = indent(there).saturating_sub(indent(here));
    there.chars().take(extra).collect()
}

/// The file with `count` lines at `at` replaced by `replace` (each line prefixed by `shift`).
fn splice(file: &[&str], at: usize, count: usize, replace: &[&str], shift: &str) -> String {
    let ending = file.iter().find(|l| l.ends_with("\r\n")).map_or("\n", |_| "\r\n");
    let mut out = String::new();
    for line in &file[..at] {
        out.push_str(line);
    }
    for line in replace {
        if !line.is_empty() {
            out.push_str(shift);
        }
        out.push_str(line);
        out.push_str(ending);
    }
    for line in &file[at + count..] {
        out.push_str(line);
    }
    // A file that ended without a newline keeps doing so when its last line was replaced.
    if at + count == file.len() && !file.last().is_some_and(|l| l.ends_with('\n')) && !replace.is_empty() {
        out.truncate(out.len() - ending.len());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(search: &str, replace: &str) -> Block {
        Block { search: search.into(), replace: replace.into() }
    }

    /// Applies the blocks and returns the new text, or the error's message.
    fn check(file: Option<&str>, blocks: &[Block]) -> Result<String, String> {
        apply_blocks(file, blocks).map(|(text, _)| text).map_err(|e| e.to_string())
    }

    const SUM: &str =
        "export function sum(a, b) {\n  return a - b;\n}\n\nexport function twice(x) {\n  return sum(x, x);\n}\n";

    #[test]
    fn exact_blocks_replace_their_lines() {
        let cases: &[(&[Block], &str)] = &[
            (
                &[b("  return a - b;\n", "  return a + b;\n")],
                "export function sum(a, b) {\n  return a + b;\n}\n\nexport function twice(x) {\n  return sum(x, x);\n}\n",
            ),
            // Two blocks, the second applied to the first's result.
            (
                &[b("  return a - b;", "  return a + b;"), b("export function twice(x) {\n  return sum(x, x);\n}", "")],
                "export function sum(a, b) {\n  return a + b;\n}\n\n",
            ),
            // Blank lines around the SEARCH lines do not count; more lines in REPLACE than in SEARCH.
            (
                &[b("\n}\n\nexport function twice(x) {\n", "}\n\n// Twice x.\nexport function twice(x) {\n")],
                "export function sum(a, b) {\n  return a - b;\n}\n\n// Twice x.\nexport function twice(x) {\n  return sum(x, x);\n}\n",
            ),
        ];
        for (blocks, expected) in cases {
            assert_eq!(check(Some(SUM), blocks).as_deref(), Ok(*expected), "{blocks:?}");
            assert_eq!(apply_blocks(Some(SUM), blocks).unwrap().1[0], Found::Exact);
        }
    }

    #[test]
    fn whitespace_differences_match_and_keep_the_files_indentation() {
        // The model dropped the indentation of the body.
        let (text, found) = apply_blocks(Some(SUM), &[b("return a - b;\n", "return a + b;\n")]).unwrap();
        assert_eq!(found, [Found::Whitespace]);
        assert!(text.contains("\n  return a + b;\n"), "{text}");
        // Tabs in the file, spaces in the block.
        let tabs = "function f() {\n\tif (x) {\n\t\treturn 1;\n\t}\n}\n";
        let (text, _) =
            apply_blocks(Some(tabs), &[b("if (x) {\n    return 1;\n}", "if (x) {\n    return 2;\n}")]).unwrap();
        assert_eq!(text, "function f() {\n\tif (x) {\n\t    return 2;\n\t}\n}\n");
    }

    #[test]
    fn indentation_in_multibyte_whitespace_is_shifted_by_characters_not_bytes() {
        // An ideographic space (3 bytes) and a no-break space (2 bytes) indent the file; the block is indented
        // with one ASCII space. Counted in bytes, the shift cut a character in half and panicked.
        let file = "function f() {\n\u{3000}\u{3000}return 1;\n}\n";
        let (text, found) = apply_blocks(Some(file), &[b(" return 1;\n", " return 2;\n")]).unwrap();
        assert_eq!(found, [Found::Whitespace]);
        assert_eq!(text, "function f() {\n\u{3000} return 2;\n}\n");
        let nbsp = "if (x) {\n\u{a0}\u{a0}\u{a0}go();\n}\n";
        let (text, _) = apply_blocks(Some(nbsp), &[b("go();\n", "stop();\n")]).unwrap();
        assert_eq!(text, "if (x) {\n\u{a0}\u{a0}\u{a0}stop();\n}\n");
    }

    #[test]
    fn near_matches_are_fuzzy_and_only_when_clearly_the_one() {
        // A typo in the SEARCH (`retrun`): similar enough, and nowhere else.
        let (text, found) = apply_blocks(
            Some(SUM),
            &[b("export function sum(a, b) {\n  retrun a - b;\n}", "export function sum(a, b) {\n  return a + b;\n}")],
        )
        .unwrap();
        assert!(matches!(found[0], Found::Fuzzy(s) if s >= FUZZY_THRESHOLD), "{found:?}");
        assert!(text.starts_with("export function sum(a, b) {\n  return a + b;\n}\n"), "{text}");
        // Too different: a miss that shows the nearest lines.
        let err = check(Some(SUM), &[b("export function product(a, b) {\n  return a * b * 42;\n}", "x")]).unwrap_err();
        assert!(err.contains("SEARCH block 1 matches nothing") && err.contains("from line 1"), "{err}");
        assert!(err.contains("```\nexport function sum(a, b) {\n  return a - b;\n}\n```"), "{err}");
    }

    #[test]
    fn two_places_are_an_ambiguity_that_names_them() {
        let twice = "let a = 1;\nlog(a);\nlet b = 2;\nlog(a);\n";
        let err = check(Some(twice), &[b("log(a);", "log(b);")]).unwrap_err();
        assert_eq!(err, "SEARCH block 1 matches 2 places (lines 2, 4); add lines around it so it matches one");
        // With a line of context it is one place.
        assert_eq!(
            check(Some(twice), &[b("let b = 2;\nlog(a);", "let b = 2;\nlog(b);")]).unwrap(),
            "let a = 1;\nlog(a);\nlet b = 2;\nlog(b);\n"
        );
        // Fuzzy ties are ambiguous too.
        let near = "function one(x) {\n  const y = x * 2;\n  return compute(y, 2);\n}\nfunction two(x) {\n  const y = x * 2;\n  return compute(y, 3);\n}\n";
        let err =
            check(Some(near), &[b("function on(x) {\n  const y = x * 2;\n  return compute(y, 4);", "x")]).unwrap_err();
        assert!(err.contains("matches 2 places (lines 1, 5)"), "{err}");
        // One line is never fuzzy: `a + b` is not a typo of `a - b`.
        let err = check(Some(SUM), &[b("  return a + b;", "x")]).unwrap_err();
        assert!(err.contains("matches nothing"), "{err}");
    }

    #[test]
    fn new_files_empty_searches_and_line_endings() {
        assert_eq!(check(None, &[b("", "export const a = 1;")]).unwrap(), "export const a = 1;\n");
        assert_eq!(check(Some(""), &[b("\n", "x\n")]).unwrap(), "x\n");
        let err = check(Some(SUM), &[b("", "x")]).unwrap_err();
        assert!(err.contains("only creates a new file"), "{err}");
        assert!(check(None, &[b("something", "x")]).unwrap_err().contains("matches nothing"));
        // CRLF files stay CRLF; a file without a final newline keeps none.
        assert_eq!(check(Some("a\r\nb\r\n"), &[b("b", "c")]).unwrap(), "a\r\nc\r\n");
        assert_eq!(check(Some("a\nb"), &[b("b", "c")]).unwrap(), "a\nc");
        // A later block sees the earlier block's result; a block for text the first removed misses.
        let err = check(Some(SUM), &[b("  return a - b;", "  return a + b;"), b("  return a - b;", "x")]).unwrap_err();
        assert!(err.starts_with("SEARCH block 2 matches nothing"), "{err}");
        // The same block twice over applies once.
        let fix = b("  return a - b;", "  return a + b;");
        assert_eq!(check(Some(SUM), &[fix.clone(), fix.clone(), fix]).unwrap(), SUM.replace("a - b", "a + b"));
    }
}
