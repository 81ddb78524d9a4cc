//! Protocol types into the engine's.

use std::path::PathBuf;

use samokoder_edits::{ContentChange, Position, PositionEncoding, Range};
use tower_lsp::lsp_types as lsp;

pub(crate) fn path(uri: &lsp::Url) -> Option<PathBuf> {
    if uri.scheme() != "file" {
        return None;
    }
    uri.to_file_path().ok()
}

pub(crate) fn position(p: lsp::Position) -> Position {
    Position::new(p.line, p.character)
}

pub(crate) fn range(r: lsp::Range) -> Range {
    Range::new(position(r.start), position(r.end))
}

pub(crate) fn content_change(c: lsp::TextDocumentContentChangeEvent) -> ContentChange {
    ContentChange { range: c.range.map(range), text: c.text }
}

/// The encoding to use: UTF-8 when the client offers it (no conversion at all), else UTF-16, the
/// protocol's default.
pub(crate) fn negotiate_encoding(params: &lsp::InitializeParams) -> PositionEncoding {
    let offered = params.capabilities.general.as_ref().and_then(|g| g.position_encodings.as_ref());
    match offered {
        Some(list) if list.contains(&lsp::PositionEncodingKind::UTF8) => PositionEncoding::Utf8,
        _ => PositionEncoding::Utf16,
    }
}
