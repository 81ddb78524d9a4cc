//! Code understanding through tree-sitter: parse TypeScript, TSX and JavaScript, report syntax issues,
//! and outline what a file defines, for the prompts' map of the project.
//!
//! This is the only crate that uses tree-sitter. It does no IO: callers hand it text. Broken code is
//! input, not an error: parsing always yields a tree, with the syntax issues listed beside it.

use tree_sitter::{Language, Node, Parser, Tree};

/// Which grammar a file is parsed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    TypeScript,
    /// TSX, also used for JSX and plain JavaScript (TSX's grammar is a superset of JavaScript's).
    Tsx,
}

impl Lang {
    /// The grammar for a path, by extension; `None` for files this crate does not parse.
    pub fn from_path(path: &str) -> Option<Self> {
        let ext = path.rsplit_once('.')?.1;
        match ext {
            "ts" | "mts" | "cts" => Some(Self::TypeScript),
            "tsx" | "js" | "jsx" | "mjs" | "cjs" => Some(Self::Tsx),
            _ => None,
        }
    }

    fn language(self) -> Language {
        match self {
            Self::TypeScript => tree_sitter_typescript::LANGUAGE_TYPESCRIPT.into(),
            Self::Tsx => tree_sitter_typescript::LANGUAGE_TSX.into(),
        }
    }
}

/// A syntax problem: an ERROR node (unexpected text) or a MISSING one (expected text absent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxIssue {
    /// Byte range in the text.
    pub range: std::ops::Range<usize>,
    pub message: String,
}

/// A top-level definition, for outlines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Symbol {
    pub kind: &'static str,
    pub name: String,
    /// The declaration's first line, trimmed (its signature, mostly).
    pub signature: String,
    pub exported: bool,
}

/// A parsed file.
pub struct Parsed {
    tree: Tree,
}

/// Parses `text` with the grammar for `lang`.
pub fn parse(lang: Lang, text: &str) -> Parsed {
    let mut parser = Parser::new();
    parser.set_language(&lang.language()).expect("the bundled grammars match the tree-sitter version");
    let tree = parser.parse(text, None).expect("parsing without a timeout or cancellation always yields a tree");
    Parsed { tree }
}

impl Parsed {
    /// Every ERROR and MISSING node, outermost first, in document order.
    pub fn syntax_issues(&self, text: &str) -> Vec<SyntaxIssue> {
        let mut out = Vec::new();
        collect_issues(self.tree.root_node(), text, &mut out);
        out
    }

    /// The file's top-level definitions (functions, classes, interfaces, types, enums, variables).
    pub fn outline(&self, text: &str) -> Vec<Symbol> {
        let mut out = Vec::new();
        let root = self.tree.root_node();
        let mut cursor = root.walk();
        for child in root.named_children(&mut cursor) {
            if child.kind() == "export_statement" {
                if let Some(decl) = child.child_by_field_name("declaration") {
                    symbols_of(decl, text, true, &mut out);
                }
            } else {
                symbols_of(child, text, false, &mut out);
            }
        }
        out
    }
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

fn symbols_of(node: Node<'_>, text: &str, exported: bool, out: &mut Vec<Symbol>) {
    let kind = match node.kind() {
        "function_declaration" | "generator_function_declaration" => "function",
        "class_declaration" | "abstract_class_declaration" => "class",
        "interface_declaration" => "interface",
        "type_alias_declaration" => "type",
        "enum_declaration" => "enum",
        "lexical_declaration" | "variable_declaration" => {
            let mut cursor = node.walk();
            for declarator in node.named_children(&mut cursor).filter(|c| c.kind() == "variable_declarator") {
                if let Some(name) = declarator.child_by_field_name("name") {
                    out.push(Symbol {
                        kind: "const",
                        name: text[name.byte_range()].to_owned(),
                        signature: first_line(&text[declarator.byte_range()]),
                        exported,
                    });
                }
            }
            return;
        }
        _ => return,
    };
    if let Some(name) = node.child_by_field_name("name") {
        out.push(Symbol {
            kind,
            name: text[name.byte_range()].to_owned(),
            signature: first_line(&text[node.byte_range()]),
            exported,
        });
    }
}

fn first_line(text: &str) -> String {
    let line = text.lines().next().unwrap_or("").trim();
    let line = line.strip_suffix('{').unwrap_or(line).trim_end();
    if line.chars().count() > 120 {
        format!("{}...", line.chars().take(117).collect::<String>())
    } else {
        line.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outlines_exports_and_locals() {
        let text = "export function sum(a: number, b: number): number {\n  return a + b;\n}\nclass Box {}\nexport const PI = 3.14, E = 2.71;\nexport interface P { x: number }\nconst löcal = 'é';\n";
        let outline: Vec<String> = parse(Lang::TypeScript, text)
            .outline(text)
            .into_iter()
            .map(|s| format!("{}{} {} | {}", if s.exported { "export " } else { "" }, s.kind, s.name, s.signature))
            .collect();
        assert_eq!(
            outline,
            [
                "export function sum | function sum(a: number, b: number): number",
                "class Box | class Box {}",
                "export const PI | PI = 3.14",
                "export const E | E = 2.71",
                "export interface P | interface P { x: number }",
                "const löcal | löcal = 'é'",
            ]
        );
    }

    #[test]
    fn broken_code_yields_issues_not_errors() {
        let text = "export function broken( {\n  return 1;\n}\n";
        let issues = parse(Lang::Tsx, text).syntax_issues(text);
        assert!(!issues.is_empty());
        let clean = "export const ok = () => <div>é</div>;\n";
        assert!(parse(Lang::Tsx, clean).syntax_issues(clean).is_empty());
    }

    #[test]
    fn picks_grammars_by_extension() {
        assert_eq!(Lang::from_path("a/b.ts"), Some(Lang::TypeScript));
        assert_eq!(Lang::from_path("a.mjs"), Some(Lang::Tsx));
        assert_eq!(Lang::from_path("README.md"), None);
    }
}
