//! An open document: its text as a rope and its version, with the protocol's ordering rules.
//!
//! Clients number versions in increasing order but need not count by one (Neovim sends its buffer's
//! `changedtick`, which skips), and a server that handles messages concurrently can see them out of order.
//! So a change that is exactly the next version is applied at once; a change that leaves a gap is held,
//! and applied when the gap fills or when the owner releases it (on the next message that is not a
//! change, or after a short grace); a change whose version is not newer than the text is refused. A change
//! is never applied to text it was not written against, as long as the client's own order is respected.

use std::collections::BTreeMap;

use ropey::Rope;

use crate::{LineIndex, PositionEncoding, Range};

/// An applied edit: the byte range of the text before it, and what replaced that range.
pub type ByteEdit = (std::ops::Range<usize>, String);

/// One entry of a didChange: a replaced range (or the whole text when `range` is `None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentChange {
    pub range: Option<Range>,
    pub text: String,
}

/// What [`Document::change`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeOutcome {
    /// The change (and any held changes it made contiguous) is applied; the document is at this version.
    Applied { version: i32 },
    /// The change leaves a gap after the current version; it waits for the gap or a release.
    Held,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    #[error("change to {path}, which is not open: the editor must send didOpen first")]
    NotOpen { path: String },
    #[error(
        "change to version {version} refused: the document is already at version {current}; \
         close and reopen the file to resynchronise"
    )]
    Stale { version: i32, current: i32 },
}

#[derive(Debug, Clone)]
pub struct Document {
    rope: Rope,
    version: i32,
    held: BTreeMap<i32, (Vec<ContentChange>, PositionEncoding)>,
    /// The edits applied since the last [`Document::take_edits`], as byte ranges of the text before each
    /// one, in order: what keeps an index of the text in step without reparsing it whole.
    applied: Vec<ByteEdit>,
}

impl Document {
    pub fn new(text: &str, version: i32) -> Self {
        Self { rope: Rope::from_str(text), version, held: BTreeMap::new(), applied: Vec::new() }
    }

    pub fn version(&self) -> i32 {
        self.version
    }

    pub fn rope(&self) -> &Rope {
        &self.rope
    }

    pub fn text(&self) -> String {
        self.rope.to_string()
    }

    pub fn line_index(&self) -> LineIndex<'_> {
        LineIndex::new(&self.rope)
    }

    /// Whether changes are waiting for a gap in the version sequence.
    pub fn has_held(&self) -> bool {
        !self.held.is_empty()
    }

    /// Applies (or holds) the changes that bring the document to `version`.
    pub fn change(
        &mut self,
        version: i32,
        changes: Vec<ContentChange>,
        enc: PositionEncoding,
    ) -> Result<ChangeOutcome, DocumentError> {
        if !self.held.is_empty() && version != self.version.wrapping_add(1) {
            // This change does not fill the gap, so the gap was real (the client skipped versions):
            // what was held goes first, in version order.
            self.release_held();
        }
        if version <= self.version || self.held.contains_key(&version) {
            return Err(DocumentError::Stale { version, current: self.version });
        }
        if version == self.version + 1 {
            self.apply(version, &changes, enc);
            self.release_held();
            Ok(ChangeOutcome::Applied { version: self.version })
        } else {
            self.held.insert(version, (changes, enc));
            Ok(ChangeOutcome::Held)
        }
    }

    /// Applies every held change in version order. Returns whether anything was applied.
    pub fn release_held(&mut self) -> bool {
        let held = std::mem::take(&mut self.held);
        let any = !held.is_empty();
        for (version, (changes, enc)) in held {
            self.apply(version, &changes, enc);
        }
        any
    }

    /// Replaces the whole text (e.g. after the file changed on disk and the editor reloaded it).
    pub fn replace(&mut self, text: &str, version: i32) {
        self.applied.push((0..self.rope.len_bytes(), text.to_owned()));
        self.rope = Rope::from_str(text);
        self.version = version;
        self.held.clear();
    }

    /// The edits applied since the last call (byte range of the text before each, and its new text).
    pub fn take_edits(&mut self) -> Vec<ByteEdit> {
        std::mem::take(&mut self.applied)
    }

    fn apply(&mut self, version: i32, changes: &[ContentChange], enc: PositionEncoding) {
        for change in changes {
            match change.range {
                None => {
                    self.applied.push((0..self.rope.len_bytes(), change.text.clone()));
                    self.rope = Rope::from_str(&change.text);
                }
                Some(range) => {
                    let bytes = self.line_index().byte_range(range, enc);
                    let start = self.rope.byte_to_char(bytes.start);
                    let end = self.rope.byte_to_char(bytes.end);
                    self.rope.remove(start..end);
                    self.rope.insert(start, &change.text);
                    self.applied.push((bytes, change.text.clone()));
                }
            }
        }
        self.version = version;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Position;

    fn edit(l1: u32, c1: u32, l2: u32, c2: u32, text: &str) -> ContentChange {
        ContentChange { range: Some(Range::new(Position::new(l1, c1), Position::new(l2, c2))), text: text.to_owned() }
    }

    #[test]
    fn applies_multibyte_edits_in_both_encodings() {
        // "é" is 2 bytes / 1 UTF-16 unit, "日" 3 / 1, "😀" 4 / 2.
        let mut utf16 = Document::new("é日😀x\n", 1);
        utf16.change(2, vec![edit(0, 4, 0, 5, "y")], PositionEncoding::Utf16).unwrap();
        assert_eq!(utf16.text(), "é日😀y\n");

        let mut utf8 = Document::new("é日😀x\n", 1);
        utf8.change(2, vec![edit(0, 9, 0, 10, "y")], PositionEncoding::Utf8).unwrap();
        assert_eq!(utf8.text(), "é日😀y\n");
    }

    #[test]
    fn holds_a_change_until_the_gap_fills() {
        let mut doc = Document::new("abc", 1);
        // Version 3 was written against version 2's text ("Xabc").
        assert_eq!(doc.change(3, vec![edit(0, 1, 0, 2, "Y")], PositionEncoding::Utf16), Ok(ChangeOutcome::Held));
        assert_eq!(doc.text(), "abc");
        assert_eq!(
            doc.change(2, vec![edit(0, 0, 0, 0, "X")], PositionEncoding::Utf16),
            Ok(ChangeOutcome::Applied { version: 3 })
        );
        assert_eq!(doc.text(), "XYbc");
    }

    #[test]
    fn a_real_gap_is_released_by_the_next_change() {
        // Neovim's versions are its changedtick and may skip.
        let mut doc = Document::new("abc", 1);
        assert_eq!(doc.change(4, vec![edit(0, 3, 0, 3, "d")], PositionEncoding::Utf16), Ok(ChangeOutcome::Held));
        assert_eq!(
            doc.change(5, vec![edit(0, 4, 0, 4, "e")], PositionEncoding::Utf16),
            Ok(ChangeOutcome::Applied { version: 5 })
        );
        assert_eq!(doc.text(), "abcde");
    }

    #[test]
    fn applied_edits_replay_to_the_same_text() {
        let original = "é日😀x\nline two\n";
        let mut doc = Document::new(original, 1);
        doc.change(2, vec![edit(0, 4, 0, 5, "Y"), edit(1, 0, 1, 4, "LINE")], PositionEncoding::Utf16).unwrap();
        doc.change(3, vec![ContentChange { range: None, text: "whole\n".into() }], PositionEncoding::Utf16).unwrap();
        doc.change(4, vec![edit(0, 5, 0, 5, "!")], PositionEncoding::Utf16).unwrap();
        let mut replayed = original.to_owned();
        for (range, text) in doc.take_edits() {
            replayed.replace_range(range, &text);
        }
        assert_eq!(replayed, doc.text());
        assert!(doc.take_edits().is_empty());
    }

    #[test]
    fn a_stale_change_is_refused_and_changes_nothing() {
        let mut doc = Document::new("abc", 5);
        let err = doc.change(5, vec![edit(0, 0, 0, 0, "X")], PositionEncoding::Utf16).unwrap_err();
        assert_eq!(err, DocumentError::Stale { version: 5, current: 5 });
        assert!(err.to_string().contains("close and reopen"));
        assert_eq!(doc.text(), "abc");
    }

    #[test]
    fn full_replacement_and_release() {
        let mut doc = Document::new("abc", 1);
        doc.change(3, vec![ContentChange { range: None, text: "new".into() }], PositionEncoding::Utf16).unwrap();
        assert!(doc.has_held());
        assert!(doc.release_held());
        assert_eq!((doc.text().as_str(), doc.version()), ("new", 3));
    }
}
