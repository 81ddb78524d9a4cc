//! Code understanding through tree-sitter: TypeScript, TSX and JavaScript parsed and kept current by
//! incremental edits; tags (definitions and references) from the query files in `queries/`; imports
//! resolved between files; a repo map ranked by PageRank toward what the user is looking at, rendered to a
//! token budget; cursor context for "implement this" and "fix this".
//!
//! This is the only crate that uses tree-sitter. It does no IO: callers hand it text. Broken code is input,
//! not an error: parsing always yields a tree, with the syntax issues listed beside it.

mod file;
mod lang;
mod rank;
mod repo;
mod resolve;
mod tags;

use std::ops::Range;

use tree_sitter::Node;

pub use file::{BUNDLE_BYTES, FileIndex};
pub use lang::Lang;
pub use repo::{CursorContext, MapRequest, RepoIndex, SymbolMatch};
pub use resolve::resolve_import;
pub use tags::{Import, Tag, TagKind};

/// A syntax problem: an ERROR node (unexpected text) or a MISSING one (expected text absent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxIssue {
    /// Byte range in the text.
    pub range: Range<usize>,
    pub message: String,
}

/// The syntax issues of a file's text: what the pipeline checks generated code with before writing it.
pub fn syntax_issues(lang: Lang, text: &str) -> Vec<SyntaxIssue> {
    FileIndex::parse("", lang, text.to_owned()).syntax_issues()
}

pub(crate) fn syntax_issues_of(root: Node<'_>, text: &str) -> Vec<SyntaxIssue> {
    let mut out = Vec::new();
    collect_issues(root, text, &mut out);
    out
}

fn collect_issues(node: Node<'_>, text: &str, out: &mut Vec<SyntaxIssue>) {
    if !node.has_error() {
        return;
    }
    if node.is_error() {
        let snippet: String = text[node.byte_range()].chars().take(40).collect();
        out.push(SyntaxIssue { range: node.byte_range(), message: format!("unexpected `{}`", snippet.trim()) });
        return;
    }
    if node.is_missing() {
        out.push(SyntaxIssue { range: node.byte_range(), message: format!("missing `{}`", node.kind()) });
        return;
    }
    let mut cursor = node.walk();
    for child in node.children(&mut cursor) {
        collect_issues(child, text, out);
    }
}
