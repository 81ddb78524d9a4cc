//! Tags: the definitions and references in a syntax tree, from the query files in `queries/`.

use std::ops::Range;

use tree_sitter::{Node, QueryCursor, StreamingIterator, Tree};

use crate::Lang;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TagKind {
    Function,
    Class,
    Method,
    Interface,
    Type,
    Enum,
    Module,
    Const,
    Let,
    /// A React component: a capitalised function or arrow-function constant in a JSX/TSX file.
    Component,
    /// A use of a name (a call, a `new`, a type, a JSX element).
    Reference,
}

impl TagKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Function => "function",
            Self::Class => "class",
            Self::Method => "method",
            Self::Interface => "interface",
            Self::Type => "type",
            Self::Enum => "enum",
            Self::Module => "namespace",
            Self::Const => "const",
            Self::Let => "let",
            Self::Component => "component",
            Self::Reference => "reference",
        }
    }
}

/// A definition or a reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Tag {
    pub name: String,
    pub kind: TagKind,
    /// The identifier's bytes.
    pub name_range: Range<usize>,
    /// The whole definition (or the reference's expression).
    pub node_range: Range<usize>,
    /// Definitions: exported from the module.
    pub exported: bool,
    /// Definitions: the first line of the definition, trimmed (`export function sum(a: number): number`).
    pub signature: String,
    /// Methods: the class or interface they belong to.
    pub container: Option<String>,
}

impl Tag {
    pub fn is_definition(&self) -> bool {
        self.kind != TagKind::Reference
    }
}

/// A module specifier the file imports (`./util`, `react`), with the statement or call it is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    pub specifier: String,
    pub node_range: Range<usize>,
}

/// How deep a bundle's definitions may start (an IIFE's body, a namespace's members): deeper code is not
/// visited at all.
const BUNDLE_DEPTH: u32 = 8;

/// The tags and imports of `tree` whose nodes intersect `range`, in document order: one pass of the query.
/// In a bundle, only matches starting in the outer levels, and no references.
pub(crate) fn extract(
    lang: Lang,
    tree: &Tree,
    text: &str,
    range: Range<usize>,
    bundle: bool,
) -> (Vec<Tag>, Vec<Import>) {
    let queries = lang.queries();
    let names = queries.query.capture_names();
    let mut cursor = QueryCursor::new();
    cursor.set_byte_range(range);
    if bundle {
        cursor.set_max_start_depth(Some(BUNDLE_DEPTH));
    }
    let (mut tags, mut imports) = (Vec::new(), Vec::new());
    let mut matches = cursor.matches(&queries.query, tree.root_node(), text.as_bytes());
    while let Some(m) = matches.next() {
        if let Some(source) = m.captures.iter().find(|c| c.index == queries.source) {
            if let Some(import) = import(queries, m.captures, source.node, text) {
                imports.push(import);
            }
            continue;
        }
        let Some(name) = m.captures.iter().find(|c| c.index == queries.name).map(|c| c.node) else { continue };
        let Some(node) = m.captures.iter().find(|c| c.index != queries.name) else { continue };
        if let Some(tag) = tag(lang, names[node.index as usize], name, node.node, text)
            && !(bundle && tag.kind == TagKind::Reference)
        {
            tags.push(tag);
        }
    }
    tags.sort_by_key(|t| (t.name_range.start, t.is_definition()));
    tags.dedup_by(|a, b| a.name_range == b.name_range && a.kind == b.kind);
    // A name matched both as a definition and as a use (`class Foo`'s type name) is a definition only; the
    // sort puts the use right before the definition.
    let mut keep = vec![true; tags.len()];
    for i in 1..tags.len() {
        if tags[i].is_definition() && !tags[i - 1].is_definition() && tags[i - 1].name_range == tags[i].name_range {
            keep[i - 1] = false;
        }
    }
    let mut keep = keep.into_iter();
    tags.retain(|_| keep.next().unwrap_or(true));
    imports.sort_by_key(|i| i.node_range.start);
    imports.dedup();
    (tags, imports)
}

fn import(
    queries: &crate::lang::Queries,
    captures: &[tree_sitter::QueryCapture<'_>],
    source: Node<'_>,
    text: &str,
) -> Option<Import> {
    if let Some(req) = captures.iter().find(|c| c.index == queries.require)
        && text.get(req.node.byte_range()) != Some("require")
    {
        return None;
    }
    // The statement or call holding the specifier: the string's parent's parent (past `arguments`).
    let holder = source
        .parent()
        .and_then(|s| s.parent())
        .map(|n| if n.kind() == "arguments" { n.parent().unwrap_or(n) } else { n });
    Some(Import {
        specifier: text.get(source.byte_range())?.to_owned(),
        node_range: holder.map_or(source.byte_range(), |n| n.byte_range()),
    })
}

fn tag(lang: Lang, capture: &str, name: Node<'_>, node: Node<'_>, text: &str) -> Option<Tag> {
    // Error recovery can invent a missing name: nothing to tag.
    if name.is_missing() || name.byte_range().is_empty() {
        return None;
    }
    let ident = text.get(name.byte_range())?.to_owned();
    let kind = match capture {
        "definition.function" => TagKind::Function,
        "definition.class" => TagKind::Class,
        "definition.method" => TagKind::Method,
        "definition.interface" => TagKind::Interface,
        "definition.type" => TagKind::Type,
        "definition.enum" => TagKind::Enum,
        "definition.module" => TagKind::Module,
        "definition.variable" => variable_kind(node)?,
        _ => {
            // (A type name where it is defined is also matched as a use; `extract` drops that one, which is
            // cheaper than asking every type name for its parent: tree-sitter finds a parent from the root.)
            return Some(Tag {
                name: ident,
                kind: TagKind::Reference,
                name_range: name.byte_range(),
                node_range: node.byte_range(),
                exported: false,
                signature: String::new(),
                container: None,
            });
        }
    };
    let component = lang == Lang::Tsx
        && ident.starts_with(|c: char| c.is_ascii_uppercase())
        && matches!(kind, TagKind::Function | TagKind::Const)
        && (kind == TagKind::Function || is_function_value(node));
    let kind = if component { TagKind::Component } else { kind };
    // The node a signature is taken from: the declaration, or the statement around a variable.
    let declaration = if matches!(capture, "definition.variable") { node.parent().unwrap_or(node) } else { node };
    let export = declaration.parent().filter(|p| p.kind() == "export_statement");
    let shown = export.unwrap_or(declaration);
    let mut signature = signature(text.get(shown.byte_range()).unwrap_or(""));
    if matches!(capture, "definition.variable") && declaration.named_child_count() > 1 {
        // `const a = 1, b = 2;`: show this declarator.
        let keyword = if kind == TagKind::Let { "let" } else { "const" };
        let prefix = if export.is_some() { "export " } else { "" };
        signature = format!("{prefix}{keyword} {}", self::signature(text.get(node.byte_range()).unwrap_or("")));
    }
    Some(Tag {
        name: ident,
        kind,
        name_range: name.byte_range(),
        node_range: node.byte_range(),
        exported: export.is_some(),
        signature,
        container: if kind == TagKind::Method { container(node, text) } else { None },
    })
}

/// Variables count at module level (or exported): `const` and `let`/`var`.
fn variable_kind(declarator: Node<'_>) -> Option<TagKind> {
    let declaration = declarator.parent()?;
    let at_module_level = matches!(declaration.parent()?.kind(), "program" | "export_statement");
    if !at_module_level {
        return None;
    }
    let keyword = declaration.child(0).map(|k| k.kind()).unwrap_or("");
    Some(if declaration.kind() == "lexical_declaration" && keyword == "const" { TagKind::Const } else { TagKind::Let })
}

fn is_function_value(declarator: Node<'_>) -> bool {
    declarator
        .child_by_field_name("value")
        .is_some_and(|v| matches!(v.kind(), "arrow_function" | "function_expression" | "function"))
}

fn container(node: Node<'_>, text: &str) -> Option<String> {
    let mut current = node.parent();
    while let Some(n) = current {
        if matches!(n.kind(), "class_declaration" | "abstract_class_declaration" | "interface_declaration" | "class") {
            return n.child_by_field_name("name").and_then(|name| text.get(name.byte_range())).map(str::to_owned);
        }
        current = n.parent();
    }
    None
}

fn signature(text: &str) -> String {
    let line = text.lines().next().unwrap_or("").trim();
    let line = line.strip_suffix('{').unwrap_or(line).trim_end();
    if line.chars().count() > 160 {
        format!("{}...", line.chars().take(157).collect::<String>())
    } else {
        line.to_owned()
    }
}
