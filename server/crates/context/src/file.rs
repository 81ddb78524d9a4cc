//! One parsed file, kept current by incremental edits: `tree.edit` plus a reparse, then tags and imports
//! re-extracted only where the syntax changed (tree-sitter's changed ranges and the edited spans, each
//! widened to its innermost enclosing declaration), the rest shifted. A bundle's reparse may wait for an
//! idle moment, several edits coalescing into one.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ops::Range;

use tree_sitter::{InputEdit, Parser, Point, Tree};

use crate::tags::{Import, Tag, TagKind, extract};
use crate::{Lang, SyntaxIssue};

/// A parsed file and what it defines, references and imports.
pub struct FileIndex {
    pub path: String,
    pub lang: Lang,
    text: String,
    /// The syntax tree, kept while edits may come (the editor has the file open) so they reparse
    /// incrementally; `None` once forgotten (most files: it is most of the index's memory).
    tree: Option<Tree>,
    /// Byte offset of each line's start, for tree-sitter's points.
    line_starts: Vec<usize>,
    tags: Vec<Tag>,
    imports: Vec<Import>,
    /// A bundle (see [`BUNDLE_BYTES`]): indexed shallowly, reparsed when the index is idle.
    bundle: bool,
    /// Spans edited since the last parse (current offsets): they and what the reparse finds changed are
    /// re-extracted.
    pending: Vec<Range<usize>>,
}

/// Files larger than this are bundles (a compiler concatenated into one file, say): only the definitions in
/// their outer levels are indexed, and no references. Their hundreds of thousands of names would swamp the
/// map and cost more than every other file together, for no insight a prompt can use.
pub const BUNDLE_BYTES: usize = 1024 * 1024;

thread_local! {
    static PARSERS: RefCell<HashMap<Lang, Parser>> = RefCell::new(HashMap::new());
}

fn parse_text(lang: Lang, text: &str, old: Option<&Tree>) -> Tree {
    PARSERS.with(|parsers| {
        let mut parsers = parsers.borrow_mut();
        let parser = parsers.entry(lang).or_insert_with(|| {
            let mut p = Parser::new();
            p.set_language(&lang.language()).expect("the bundled grammars match the tree-sitter version");
            p
        });
        parser.parse(text, old).expect("parsing without a timeout or cancellation always yields a tree")
    })
}

/// Node kinds whose tags depend on more than the changed tokens (a keyword, a name, an `export`), so a
/// change inside one re-extracts all of it.
const DECLARATIONS: &[&str] = &[
    "export_statement",
    "function_declaration",
    "generator_function_declaration",
    "function_signature",
    "class_declaration",
    "abstract_class_declaration",
    "interface_declaration",
    "type_alias_declaration",
    "enum_declaration",
    "internal_module",
    "lexical_declaration",
    "variable_declaration",
    "method_definition",
    "method_signature",
    "abstract_method_signature",
    "import_statement",
];

impl FileIndex {
    pub fn parse(path: &str, lang: Lang, text: String) -> Self {
        let tree = parse_text(lang, &text, None);
        let line_starts = line_starts(&text);
        let bundle = text.len() > BUNDLE_BYTES;
        let (tags, imports) = extract(lang, &tree, &text, 0..text.len(), bundle);
        Self {
            path: path.to_owned(),
            lang,
            text,
            tree: Some(tree),
            line_starts,
            tags,
            imports,
            bundle,
            pending: Vec::new(),
        }
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether the file is indexed as a bundle (definitions in its outer levels only, no references).
    pub fn is_bundle(&self) -> bool {
        self.bundle
    }

    /// Every definition and reference, in document order.
    pub fn tags(&self) -> &[Tag] {
        &self.tags
    }

    pub fn definitions(&self) -> impl Iterator<Item = &Tag> {
        self.tags.iter().filter(|t| t.is_definition())
    }

    pub fn imports(&self) -> &[Import] {
        &self.imports
    }

    /// The tags extracted afresh from the current tree: what the incremental update must equal (for tests
    /// and debugging; the index itself never needs it).
    #[doc(hidden)]
    pub fn tags_from_scratch(&self) -> Vec<Tag> {
        self.with_tree(|tree| extract(self.lang, tree, &self.text, 0..self.text.len(), self.bundle).0)
    }

    /// Drops the syntax tree (after any deferred reparse): for a file no editor has open, whose next change
    /// comes as a whole new text. An edit still works without it, by a full parse.
    pub fn forget_tree(&mut self) {
        self.reparse();
        self.tree = None;
    }

    /// Whether the syntax tree is kept (see [`FileIndex::forget_tree`]).
    pub fn has_tree(&self) -> bool {
        self.tree.is_some()
    }

    /// Runs `f` on the tree, parsing a throwaway one if it was forgotten.
    fn with_tree<T>(&self, f: impl FnOnce(&Tree) -> T) -> T {
        match &self.tree {
            Some(tree) => f(tree),
            None => f(&parse_text(self.lang, &self.text, None)),
        }
    }

    /// The 0-based line of `offset` and the text of that line before it (to count it in any encoding).
    pub fn line_prefix(&self, offset: usize) -> (u32, &str) {
        let offset = offset.min(self.text.len());
        let row = self.line_starts.partition_point(|&s| s <= offset).saturating_sub(1);
        let start = self.line_starts[row];
        (row as u32, self.text.get(start..offset).unwrap_or(""))
    }

    /// Every ERROR and MISSING node, outermost first, in document order.
    pub fn syntax_issues(&self) -> Vec<SyntaxIssue> {
        self.with_tree(|tree| crate::syntax_issues_of(tree.root_node(), &self.text))
    }

    /// The class or interface a method is defined in.
    pub fn container_of(&self, tag: &Tag) -> Option<&Tag> {
        self.definitions()
            .filter(|t| matches!(t.kind, TagKind::Class | TagKind::Interface))
            .filter(|t| {
                t.node_range.start <= tag.node_range.start && tag.node_range.end <= t.node_range.end && *t != tag
            })
            .min_by_key(|t| t.node_range.len())
    }

    /// Replaces `range` (bytes of the current text) with `new_text`, reparsing incrementally; in a bundle
    /// the reparse waits for [`FileIndex::reparse`] (see [`FileIndex::edit_deferred`]).
    pub fn edit(&mut self, range: Range<usize>, new_text: &str) {
        self.edit_deferred(range, new_text);
        if !self.bundle {
            self.reparse();
        }
    }

    /// Applies an edit to the text and the tree and shifts the tags and imports after it, without
    /// reparsing: until [`FileIndex::reparse`], the tags the edit touched are as before it. Edits coalesce:
    /// one reparse serves any number of them. A bundle's reparse is tree-sitter's own cost on megabytes of
    /// text (15 ms for a 9 MB file), too much for every keystroke; the index does it when it is idle.
    pub fn edit_deferred(&mut self, range: Range<usize>, new_text: &str) {
        let len = self.text.len();
        let range = range.start.min(len)..range.end.min(len).max(range.start.min(len));
        let (start, old_end, new_end) = (range.start, range.end, range.start + new_text.len());
        let start_position = self.point(start);
        let old_end_position = self.point(old_end);
        self.text.replace_range(range.clone(), new_text);
        self.update_line_starts(start, old_end, new_text);
        let new_end_position = self.point(new_end);
        if let Some(tree) = &mut self.tree {
            tree.edit(&InputEdit {
                start_byte: start,
                old_end_byte: old_end,
                new_end_byte: new_end,
                start_position,
                old_end_position,
                new_end_position,
            });
        }

        // Old positions into new ones. Whatever touches the edited span is re-extracted at the reparse,
        // whatever this says about it.
        let delta = new_text.len() as isize - (old_end - start) as isize;
        let map = |p: usize, end: bool| {
            if p <= start {
                p
            } else if p >= old_end {
                (p as isize + delta) as usize
            } else if end {
                new_end
            } else {
                start
            }
        };
        let shift = |r: &Range<usize>| map(r.start, false)..map(r.end, true).max(map(r.start, false));
        for t in &mut self.tags {
            t.node_range = shift(&t.node_range);
            t.name_range = shift(&t.name_range);
        }
        for i in &mut self.imports {
            i.node_range = shift(&i.node_range);
        }
        for p in &mut self.pending {
            *p = shift(p);
        }
        self.pending.push(start..new_end);
    }

    /// Whether edits wait for [`FileIndex::reparse`].
    pub fn needs_reparse(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Reparses after the edits so far and re-extracts tags and imports where the syntax changed: what the
    /// parser says changed and the edited spans, each widened to its innermost enclosing declaration.
    pub fn reparse(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let len = self.text.len();
        let Some(old) = self.tree.take() else {
            // No tree to reparse from (see `forget_tree`): parse and extract afresh, and keep the tree now
            // that the file is being edited.
            let tree = parse_text(self.lang, &self.text, None);
            (self.tags, self.imports) = extract(self.lang, &tree, &self.text, 0..len, self.bundle);
            self.tree = Some(tree);
            self.pending.clear();
            return;
        };
        let tree = parse_text(self.lang, &self.text, Some(&old));
        let mut regions: Vec<Range<usize>> = old.changed_ranges(&tree).map(|r| r.start_byte..r.end_byte).collect();
        regions.append(&mut self.pending);
        self.tree = Some(tree);
        let regions = merge(
            regions
                .into_iter()
                .map(|r| {
                    let widened = r.start.saturating_sub(1)..(r.end + 1).min(len);
                    let declaration = self.enclosing_declaration(widened.clone());
                    widened.start.min(declaration.start)..widened.end.max(declaration.end)
                })
                .collect(),
        );

        // Touching an edit made it empty: it is gone. Otherwise stale where a region overlaps or touches it
        // (a tag right next to an edit can change with it: `export ` typed before a function).
        let stale = |r: &Range<usize>| r.is_empty() || regions.iter().any(|g| r.start <= g.end && g.start <= r.end);
        let mut tags = std::mem::take(&mut self.tags);
        tags.retain(|t| !stale(&t.node_range) && !stale(&t.name_range));
        let mut found = std::mem::take(&mut self.imports);
        found.retain(|i| !stale(&i.node_range));
        let (mut fresh_tags, mut fresh_imports) = (Vec::new(), Vec::new());
        for region in &regions {
            // One byte wider than what was dropped: the query cursor keeps only nodes that overlap its range.
            let query = region.start.saturating_sub(1)..(region.end + 1).min(len);
            let tree = self.tree.as_ref().expect("set above");
            let (t, i) = extract(self.lang, tree, &self.text, query, self.bundle);
            fresh_tags.extend(t.into_iter().filter(|t| stale(&t.node_range) || stale(&t.name_range)));
            fresh_imports.extend(i.into_iter().filter(|i| stale(&i.node_range)));
        }
        // The kept ones are still in order (shifting is monotonic): merge, no full sort of a big file.
        let key = |t: &Tag| (t.name_range.start, t.is_definition());
        fresh_tags.sort_by_key(key);
        let mut tags = merge_sorted(tags, fresh_tags, key);
        tags.dedup_by(|a, b| a.name_range == b.name_range && a.kind == b.kind);
        fresh_imports.sort_by_key(|i| i.node_range.start);
        let mut found = merge_sorted(found, fresh_imports, |i| i.node_range.start);
        found.dedup();
        self.tags = tags;
        self.imports = found;
    }

    /// The smallest declaration-like node covering `range` (the range itself when there is none).
    fn enclosing_declaration(&self, range: Range<usize>) -> Range<usize> {
        let Some(tree) = &self.tree else { return range };
        let Some(mut node) = tree.root_node().descendant_for_byte_range(range.start, range.end) else {
            return range;
        };
        loop {
            if DECLARATIONS.contains(&node.kind()) {
                // `export const x` and `export function f`: the export is part of the declaration.
                if let Some(parent) = node.parent().filter(|p| p.kind() == "export_statement") {
                    return parent.byte_range();
                }
                return node.byte_range();
            }
            match node.parent() {
                Some(parent) => node = parent,
                None => return range,
            }
        }
    }

    fn point(&self, offset: usize) -> Point {
        let row = self.line_starts.partition_point(|&s| s <= offset).saturating_sub(1);
        Point { row, column: offset - self.line_starts[row] }
    }

    fn update_line_starts(&mut self, start: usize, old_end: usize, new_text: &str) {
        let delta = new_text.len() as isize - (old_end - start) as isize;
        let first_removed = self.line_starts.partition_point(|&s| s <= start);
        let first_kept = self.line_starts.partition_point(|&s| s <= old_end);
        let inserted: Vec<usize> = new_text.match_indices('\n').map(|(i, _)| start + i + 1).collect();
        for s in &mut self.line_starts[first_kept..] {
            *s = (*s as isize + delta) as usize;
        }
        self.line_starts.splice(first_removed..first_kept, inserted);
    }
}

fn merge_sorted<T, K: Ord>(a: Vec<T>, b: Vec<T>, key: impl Fn(&T) -> K) -> Vec<T> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut a, mut b) = (a.into_iter().peekable(), b.into_iter().peekable());
    loop {
        let take_a = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) => key(x) <= key(y),
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => return out,
        };
        out.extend(if take_a { a.next() } else { b.next() });
    }
}

fn line_starts(text: &str) -> Vec<usize> {
    std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect()
}

fn merge(mut ranges: Vec<Range<usize>>) -> Vec<Range<usize>> {
    ranges.sort_by_key(|r| r.start);
    let mut out: Vec<Range<usize>> = Vec::new();
    for r in ranges {
        match out.last_mut() {
            Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
            _ => out.push(r),
        }
    }
    out
}
