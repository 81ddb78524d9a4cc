//! What an agent wants the workspace to become, and the smallest edits that get it there.

use similar::{DiffTag, TextDiff};

use crate::RelPath;

/// One file's new content. Whether it is a creation or an edit depends on what the workspace holds when
/// the change is applied, so that is decided then, not here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChange {
    pub path: RelPath,
    pub text: String,
}

/// The files one step of a run writes (and, for an undo, deletes), applied together or not at all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangeSet {
    pub changes: Vec<FileChange>,
    /// Files to delete (an undo removing what a run created).
    pub deletes: Vec<RelPath>,
    /// Paths whose change the user must confirm before it lands (a file changed since a run wrote it).
    pub confirm: Vec<RelPath>,
}

impl ChangeSet {
    pub fn new(changes: Vec<FileChange>) -> Self {
        Self { changes, ..Self::default() }
    }

    pub fn is_empty(&self) -> bool {
        self.changes.is_empty() && self.deletes.is_empty()
    }

    /// The paths written (not the deleted ones).
    pub fn paths(&self) -> impl Iterator<Item = &RelPath> {
        self.changes.iter().map(|c| &c.path)
    }
}

/// Replace `range` (bytes of the old text) with `new_text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextEdit {
    pub range: std::ops::Range<usize>,
    pub new_text: String,
}

/// Line-granular edits that turn `old` into `new`, in order, non-overlapping. Unchanged lines are not
/// touched, so the editor keeps cursors, marks and undo history on them.
pub fn minimal_edits(old: &str, new: &str) -> Vec<TextEdit> {
    let diff = TextDiff::from_lines(old, new);
    let old_lines: Vec<&str> = diff.old_slices().to_vec();
    let new_lines: Vec<&str> = diff.new_slices().to_vec();
    let mut old_offsets = Vec::with_capacity(old_lines.len() + 1);
    let mut acc = 0;
    for line in &old_lines {
        old_offsets.push(acc);
        acc += line.len();
    }
    old_offsets.push(acc);

    let mut edits: Vec<TextEdit> = Vec::new();
    for op in diff.ops() {
        let (tag, old_range, new_range) = op.as_tag_tuple();
        if tag == DiffTag::Equal {
            continue;
        }
        let range = old_offsets[old_range.start]..old_offsets[old_range.end];
        let new_text: String = new_lines[new_range].concat();
        match edits.last_mut() {
            Some(last) if last.range.end == range.start => {
                last.range.end = range.end;
                last.new_text.push_str(&new_text);
            }
            _ => edits.push(TextEdit { range, new_text }),
        }
    }
    edits
}

/// The user's and the run's changes to the same text, together: `theirs` (what the user holds now) with
/// `ours` (the run's new text, made from `base`) folded in. `None` when they change the same lines: the
/// caller must not choose between them.
pub fn merge3(base: &str, ours: &str, theirs: &str) -> Option<String> {
    diffy::merge(base, ours, theirs).ok()
}

/// A unified diff of one file (`--- a/path`, `+++ b/path`, three lines of context), for a person to read
/// before a change lands; empty when nothing changed. A new file is diffed against nothing, a deleted one
/// against nothing after.
pub fn unified_diff(path: &str, old: &str, new: &str) -> String {
    if old == new {
        return String::new();
    }
    let diff = TextDiff::from_lines(old, new);
    let mut out = diff.unified_diff().context_radius(3).header(&format!("a/{path}"), &format!("b/{path}")).to_string();
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_three_way_merge_keeps_both_sides_or_refuses_to_choose() {
        let base = "a\nb\nc\nd\ne\n";
        let ours = "a\nB\nc\nd\ne\n";
        let theirs = "a\nb\nc\nd\nE\n";
        assert_eq!(merge3(base, ours, theirs).as_deref(), Some("a\nB\nc\nd\nE\n"));
        assert_eq!(merge3(base, ours, "a\nb2\nc\nd\ne\n"), None, "the same line changed on both sides");
        assert_eq!(merge3(base, ours, base).as_deref(), Some(ours));
    }

    fn apply(old: &str, edits: &[TextEdit]) -> String {
        let mut out = old.to_owned();
        for edit in edits.iter().rev() {
            out.replace_range(edit.range.clone(), &edit.new_text);
        }
        out
    }

    #[test]
    fn edits_reproduce_the_new_text() {
        let cases = [
            ("", "a\nb\n"),
            ("a\nb\n", ""),
            ("a\nb\nc\n", "a\nB\nc\n"),
            ("a\nb\nc", "a\nb\nc\nd"),
            ("é\n日本\n😀\n", "é\n日本語\n😀\nnew\n"),
            ("x\r\ny\r\n", "x\r\nz\r\n"),
        ];
        for (old, new) in cases {
            assert_eq!(apply(old, &minimal_edits(old, new)), new, "{old:?} -> {new:?}");
        }
    }

    #[test]
    fn unchanged_lines_are_not_touched() {
        let old = "one\ntwo\nthree\nfour\n";
        let edits = minimal_edits(old, "one\n2\nthree\nfour\n");
        assert_eq!(edits, vec![TextEdit { range: 4..8, new_text: "2\n".into() }]);
        assert!(minimal_edits(old, old).is_empty());
    }

    #[test]
    fn unified_diffs_name_the_file_and_show_the_changed_lines() {
        let diff = unified_diff("src/a.js", "a\nb\nc\n", "a\nB\nc\n");
        assert_eq!(diff, "--- a/src/a.js\n+++ b/src/a.js\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n");
        assert_eq!(unified_diff("x", "same\n", "same\n"), "");
        assert!(
            unified_diff("new.js", "", "n\n").contains("@@ -0,0 +1 @@\n+n\n"),
            "{}",
            unified_diff("new.js", "", "n\n")
        );
    }
}
