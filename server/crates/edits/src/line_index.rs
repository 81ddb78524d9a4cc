//! Conversions between byte offsets and protocol positions (line + character in an encoding).
//!
//! Lines end at `\n`, `\r\n` or `\r`, as the LSP specification says; nothing else breaks a line (the rope is
//! built without ropey's Unicode line breaks for this reason).

use ropey::{Rope, RopeSlice};

/// How the `character` of a [`Position`] counts: bytes, UTF-16 code units, or Unicode scalar values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PositionEncoding {
    Utf8,
    /// The protocol's default, and what Neovim 0.7, eglot and VS Code speak.
    #[default]
    Utf16,
    Utf32,
}

/// A zero-based line and a character offset within it, counted in some [`PositionEncoding`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Position {
    pub line: u32,
    pub character: u32,
}

impl Position {
    pub const fn new(line: u32, character: u32) -> Self {
        Self { line, character }
    }
}

/// A half-open range of positions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Range {
    pub start: Position,
    pub end: Position,
}

impl Range {
    pub const fn new(start: Position, end: Position) -> Self {
        Self { start, end }
    }
}

/// Position conversions over a rope. Borrowing, cheap to make; see [`crate::Document::line_index`].
#[derive(Clone, Copy)]
pub struct LineIndex<'a> {
    rope: RopeSlice<'a>,
}

impl<'a> LineIndex<'a> {
    pub fn new(rope: &'a Rope) -> Self {
        Self { rope: rope.slice(..) }
    }

    /// The byte offset of `pos`. A line past the end maps to the end of the text, a character past the end
    /// of its line to the end of that line (the protocol's rule), and a character inside a multi-unit
    /// character to the start of that character, so the result is always a char boundary.
    pub fn offset(&self, pos: Position, enc: PositionEncoding) -> usize {
        let line = pos.line as usize;
        if line >= self.rope.len_lines() {
            return self.rope.len_bytes();
        }
        let line_start = self.rope.line_to_byte(line);
        let content = line_content(self.rope.line(line));
        let mut units = pos.character as usize;
        let mut bytes = 0usize;
        for ch in content.chars() {
            let width = unit_len(ch, enc);
            if units < width {
                break;
            }
            units -= width;
            bytes += ch.len_utf8();
            if units == 0 {
                break;
            }
        }
        line_start + bytes
    }

    /// The position of byte `offset` (clamped to the text; rounded down to a char boundary).
    pub fn position(&self, offset: usize, enc: PositionEncoding) -> Position {
        let offset = offset.min(self.rope.len_bytes());
        let line = self.rope.byte_to_line(offset);
        let line_start = self.rope.line_to_byte(line);
        let slice = self.rope.byte_slice(line_start..floor_char_boundary(self.rope, offset));
        let character: usize = match enc {
            PositionEncoding::Utf8 => slice.len_bytes(),
            PositionEncoding::Utf16 => slice.len_utf16_cu(),
            PositionEncoding::Utf32 => slice.len_chars(),
        };
        Position::new(line as u32, character as u32)
    }

    /// Byte range of a protocol range; the end is never before the start.
    pub fn byte_range(&self, range: Range, enc: PositionEncoding) -> std::ops::Range<usize> {
        let start = self.offset(range.start, enc);
        let end = self.offset(range.end, enc).max(start);
        start..end
    }

    /// Protocol range of a byte range.
    pub fn range(&self, bytes: std::ops::Range<usize>, enc: PositionEncoding) -> Range {
        Range::new(self.position(bytes.start, enc), self.position(bytes.end, enc))
    }

    /// Number of lines, as the protocol counts them (a trailing newline starts an empty last line).
    pub fn len_lines(&self) -> usize {
        self.rope.len_lines()
    }
}

fn unit_len(ch: char, enc: PositionEncoding) -> usize {
    match enc {
        PositionEncoding::Utf8 => ch.len_utf8(),
        PositionEncoding::Utf16 => ch.len_utf16(),
        PositionEncoding::Utf32 => 1,
    }
}

/// A line without its line ending.
fn line_content(line: RopeSlice<'_>) -> RopeSlice<'_> {
    let mut end = line.len_chars();
    if end > 0 && line.char(end - 1) == '\n' {
        end -= 1;
    }
    if end > 0 && line.char(end - 1) == '\r' {
        end -= 1;
    }
    line.slice(..end)
}

fn floor_char_boundary(rope: RopeSlice<'_>, offset: usize) -> usize {
    // byte_to_char rounds down to the char containing the byte.
    rope.char_to_byte(rope.byte_to_char(offset))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_roundtrip(text: &str, enc: PositionEncoding) {
        let rope = Rope::from_str(text);
        let index = LineIndex::new(&rope);
        for (offset, _) in text.char_indices().chain([(text.len(), ' ')]) {
            if offset > 0 && text[..offset].ends_with('\r') && text[offset..].starts_with('\n') {
                continue; // inside a CRLF: no position names it
            }
            let pos = index.position(offset, enc);
            assert_eq!(index.offset(pos, enc), offset, "{text:?} at {offset} ({pos:?}, {enc:?})");
        }
    }

    #[test]
    fn roundtrips_in_every_encoding() {
        for text in ["", "abc", "é\nñ", "日本語\r\nテキスト", "a😀b\n\n😀", "x\ry\r\nz\n", "mixed é 日 😀 end\n"]
        {
            for enc in [PositionEncoding::Utf8, PositionEncoding::Utf16, PositionEncoding::Utf32] {
                check_roundtrip(text, enc);
            }
        }
    }

    #[test]
    fn counts_units_per_encoding() {
        let rope = Rope::from_str("a😀é日x");
        let index = LineIndex::new(&rope);
        let x = "a😀é日".len();
        assert_eq!(index.position(x, PositionEncoding::Utf8), Position::new(0, 10));
        assert_eq!(index.position(x, PositionEncoding::Utf16), Position::new(0, 5));
        assert_eq!(index.position(x, PositionEncoding::Utf32), Position::new(0, 4));
    }

    #[test]
    fn clamps_past_line_end_and_inside_characters() {
        let rope = Rope::from_str("ab\n😀c\n");
        let index = LineIndex::new(&rope);
        // Past the end of line 0: end of line 0, not into line 1.
        assert_eq!(index.offset(Position::new(0, 99), PositionEncoding::Utf16), 2);
        // Half a surrogate pair rounds down to the emoji's start.
        assert_eq!(index.offset(Position::new(1, 1), PositionEncoding::Utf16), 3);
        // Inside the emoji's UTF-8 bytes rounds down too.
        assert_eq!(index.offset(Position::new(1, 2), PositionEncoding::Utf8), 3);
        // A line past the end is the end of the text.
        assert_eq!(index.offset(Position::new(9, 0), PositionEncoding::Utf16), rope.len_bytes());
    }

    #[test]
    fn only_protocol_line_endings_break_lines() {
        let rope = Rope::from_str("a\u{2028}b\u{85}c\rd\r\ne\nf");
        let index = LineIndex::new(&rope);
        assert_eq!(index.len_lines(), 4);
        assert_eq!(index.position(rope.len_bytes(), PositionEncoding::Utf32), Position::new(3, 1));
    }
}
