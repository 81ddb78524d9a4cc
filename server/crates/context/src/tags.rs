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

/// The tags of `tree` whose nodes intersect `range`, in document order.
pub(crate) fn extract(lang: Lang, tree: &Tree, text: &str, range: Range<usize>) -> Vec<Tag> {
    let queries = lang.queries();
    let mut cursor = QueryCursor::new();
    cursor.set_byte_range(range);
    let mut out = Vec::new();
    let mut matches = cursor.matches(&queries.tags, tree.root_node(), text.as_bytes());
    while let Some(m) = matches.next() {
        let Some(name) = m.captures.iter().find(|c| c.index == queries.name).map(|c| c.node) else { continue };
        let Some(node) = m.captures.iter().find(|c| c.index != queries.name).map(|c| c.node) else { continue };
        let capture =
            queries.tags.capture_names()[m.captures.iter().find(|c| c.index != queries.name).unwrap().index as usize];
        if let Some(tag) = tag(lang, capture, name, node, text) {
            out.push(tag);
        }
    }
    out.sort_by_key(|t| (t.name_range.start, t.is_definition()));
    out.dedup_by(|a, b| a.name_range == b.name_range && a.kind == b.kind);
    out
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
            // A type name where it is defined is not a use of it.
            if capture == "reference.type" && defines(name) {
                return None;
            }
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

/// Whether `name` is the name being defined by its parent (a class, interface or type alias).
fn defines(name: Node<'_>) -> bool {
    let Some(parent) = name.parent() else { return false };
    matches!(
        parent.kind(),
        "class_declaration" | "abstract_class_declaration" | "interface_declaration" | "type_alias_declaration"
    ) && parent.child_by_field_name("name").is_some_and(|n| n.id() == name.id())
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
