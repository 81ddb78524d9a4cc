//! The context engine through its public API, on small multi-file fixtures.

use expect_test::{Expect, expect};
use samokoder_context::{FileIndex, Lang, MapRequest, RepoIndex, syntax_issues};
use samokoder_test_utils::Fixture;

fn index(fixture: &str) -> (RepoIndex, Fixture) {
    let fixture = Fixture::parse(fixture);
    let mut repo = RepoIndex::new();
    for (path, text) in &fixture.files {
        repo.upsert(path, text.clone());
    }
    (repo, fixture)
}

fn tags(path: &str, text: &str) -> String {
    let file = FileIndex::parse(path, Lang::from_path(path).unwrap(), text.to_owned());
    let mut out = String::new();
    for tag in file.tags() {
        if tag.is_definition() {
            let container = file.container_of(tag).map(|c| format!(" in {}", c.name)).unwrap_or_default();
            let exported = if tag.exported { " exported" } else { "" };
            out.push_str(&format!("def {} {}{exported}{container} | {}\n", tag.kind.as_str(), tag.name, tag.signature));
        } else {
            out.push_str(&format!("ref {}\n", tag.name));
        }
    }
    for import in file.imports() {
        out.push_str(&format!("import {}\n", import.specifier));
    }
    out
}

fn check_tags(path: &str, text: &str, expected: Expect) {
    expected.assert_eq(&tags(path, text));
}

#[test]
fn typescript_definitions_references_and_imports() {
    check_tags(
        "src/shapes.ts",
        r#"import { log } from "./log";
import type { Point } from './point.js';
export interface Shape { area(): number }
export type Id = string | number;
export enum Color { Red, Green }
export abstract class Base implements Shape {
  abstract area(): number;
  describe(): string { return `area ${this.area()}`; }
}
export class Circle extends Base {
  constructor(private r: number) { super(); }
  area(): number { return Math.PI * this.r ** 2; }
}
export function makeCircle(r: number): Circle {
  log("made");
  return new Circle(r);
}
export const UNIT = 1, ORIGIN: Point = { x: 0, y: 0 };
let counter = 0;
function helper() { const inner = 1; return inner + counter; }
namespace Geometry { export function dist(): number { return 0; } }
const lazy = () => import("./heavy");
"#,
        expect![[r#"
            def interface Shape exported | export interface Shape { area(): number }
            def method area in Shape | area(): number
            def type Id exported | export type Id = string | number;
            def enum Color exported | export enum Color { Red, Green }
            def class Base exported | export abstract class Base implements Shape
            ref Shape
            def method area in Base | abstract area(): number
            def method describe in Base | describe(): string { return `area ${this.area()}`; }
            ref area
            def class Circle exported | export class Circle extends Base
            ref Base
            def method constructor in Circle | constructor(private r: number) { super(); }
            def method area in Circle | area(): number { return Math.PI * this.r ** 2; }
            def function makeCircle exported | export function makeCircle(r: number): Circle
            ref Circle
            ref log
            ref Circle
            def const UNIT exported | export const UNIT = 1
            def const ORIGIN exported | export const ORIGIN: Point = { x: 0, y: 0 }
            ref Point
            def let counter | let counter = 0;
            def function helper | function helper() { const inner = 1; return inner + counter; }
            def namespace Geometry | namespace Geometry { export function dist(): number { return 0; } }
            def function dist exported | export function dist(): number { return 0; }
            def const lazy | const lazy = () => import("./heavy");
            import ./log
            import ./point.js
            import ./heavy
        "#]],
    );
}

#[test]
fn javascript_react_components_requires_and_unicode() {
    check_tags(
        "src/App.jsx",
        r#"const React = require('react');
const { helper } = require("./helper");
export function App() { return <Layout><Búsqueda /></Layout>; }
export const Búsqueda = () => <input placeholder="búsqueda 😀" />;
const Layout = function ({ children }) { return <main>{children}</main>; };
export default App;
const título = "日本";
"#,
        expect![[r#"
            def const React | const React = require('react');
            ref require
            ref require
            def component App exported | export function App() { return <Layout><Búsqueda /></Layout>; }
            ref Layout
            ref Búsqueda
            def component Búsqueda exported | export const Búsqueda = () => <input placeholder="búsqueda 😀" />;
            def component Layout | const Layout = function ({ children }) { return <main>{children}</main>; };
            def const título | const título = "日本";
            import react
            import ./helper
        "#]],
    );
}

#[test]
fn broken_code_is_input_not_an_error() {
    let broken = "export function broken() { return 1 +; }\nexport const ok = 2;\n";
    let issues = syntax_issues(Lang::TypeScript, broken);
    assert!(!issues.is_empty());
    assert!(
        issues[0].range.start >= broken.find("+").unwrap() && issues[0].range.end <= broken.find(";").unwrap() + 1,
        "{issues:?}"
    );
    // The rest of the file is still understood.
    let file = FileIndex::parse("a.ts", Lang::TypeScript, broken.into());
    assert!(file.definitions().any(|t| t.name == "ok"), "{:?}", file.tags());
    assert!(syntax_issues(Lang::Tsx, "export const ok = () => <div>é</div>;\n").is_empty());
    let missing = syntax_issues(Lang::TypeScript, "const x = (1 + 2;\n");
    assert!(!missing.is_empty());
}

const PROJECT: &str = r#"
//- /src/math.ts
export function add(a: number, b: number): number { return a + b; }
export function mul(a: number, b: number): number { return a * b; }
export function unused(): void {}
//- /src/geometry.ts
import { add, mul } from "./math";
export class Rect {
  constructor(public w: number, public h: number) {}
  area(): number { return mul(this.w, this.h); }
  perimeter(): number { return mul(2, add(this.w, this.h)); }
}
//- /src/app.ts
import { Rect } from "./geometry";
import { add } from "./math";
export function main(): void {
  const r = new Rect(2, 3);
  console.log(r.area(), add(1, 2));
}
//- /src/standalone.ts
export function lonely(): number { return 42; }
"#;

#[test]
fn the_map_ranks_what_is_used_and_fits_the_budget() {
    let (repo, _) = index(PROJECT);
    let full = repo.map(&MapRequest { tokens: 10_000, ..Default::default() });
    expect![[r#"
        src/math.ts:
          export function add(a: number, b: number): number { return a + b; }
          export function mul(a: number, b: number): number { return a * b; }
          export function unused(): void {}
        src/geometry.ts:
          export class Rect
            constructor(public w: number, public h: number) {}
            area(): number { return mul(this.w, this.h); }
            perimeter(): number { return mul(2, add(this.w, this.h)); }
        src/app.ts:
          export function main(): void
        src/standalone.ts:
          export function lonely(): number { return 42; }
    "#]]
    .assert_eq(&full);
    for budget in [5, 20, 40, 80] {
        let map = repo.map(&MapRequest { tokens: budget, ..Default::default() });
        assert!(map.chars().count().div_ceil(4) <= budget, "{budget}: {map}");
    }
    let small = repo.map(&MapRequest { tokens: 30, ..Default::default() });
    assert!(small.contains("export function add") && !small.contains("lonely"), "{small}");
    assert_eq!(repo.map(&MapRequest { tokens: 30, ..Default::default() }), small, "deterministic");
}

#[test]
fn focus_and_mentions_pull_the_map_toward_them() {
    let (repo, _) = index(PROJECT);
    let focused = repo.map(&MapRequest { tokens: 25, focus: vec!["src/standalone.ts".into()], ..Default::default() });
    assert!(focused.starts_with("src/standalone.ts:"), "{focused}");
    let mentioned = repo.map(&MapRequest { tokens: 25, mentioned: vec!["unused".into()], ..Default::default() });
    assert!(mentioned.contains("unused"), "{mentioned}");
    let excluded = repo.map(&MapRequest { tokens: 1000, exclude: vec!["src/math.ts".into()], ..Default::default() });
    assert!(!excluded.contains("src/math.ts"), "{excluded}");
}

#[test]
fn cursor_context_names_the_enclosing_definition_and_what_it_uses() {
    let (repo, fixture) = index(&PROJECT.replace("return mul(2, add(", "return mul(2, $0add("));
    let (path, offset) = fixture.cursor.unwrap();
    let context = repo.cursor_context(&path, offset).unwrap();
    let enclosing = context.enclosing.unwrap();
    assert_eq!(
        (enclosing.name.as_str(), enclosing.signature.as_str()),
        ("perimeter", "perimeter(): number { return mul(2, add(this.w, this.h)); }")
    );
    let rendered: Vec<String> =
        context.references.iter().map(|(name, sites)| format!("{name} -> {}", sites[0].0)).collect();
    assert_eq!(rendered, ["mul -> src/math.ts", "add -> src/math.ts"]);

    // At module level there is no enclosing definition; the module's references are listed.
    let at_top = repo.cursor_context("src/app.ts", 0).unwrap();
    assert!(at_top.enclosing.is_none());
    assert!(at_top.references.iter().any(|(n, _)| n == "Rect"));
}

#[test]
fn workspace_symbols_rank_exact_then_prefix_then_substring() {
    let (repo, _) = index(PROJECT);
    let found: Vec<String> = repo.symbols("a", 10).iter().map(|m| format!("{}:{}", m.path, m.tag.name)).collect();
    assert_eq!(found, ["src/math.ts:add", "src/geometry.ts:area", "src/app.ts:main"]);
    assert_eq!(repo.symbols("AREA", 10)[0].container.as_deref(), Some("Rect"));
}

/// A small deterministic generator (xorshift), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Edits applied one by one, or several before one reparse (how a bundle is kept), or to a file whose tree
/// was dropped, give the tags a fresh extraction and a fresh parse give.
#[test]
fn random_incremental_edits_give_the_same_tags_as_a_fresh_parse() {
    let seed_text = Fixture::parse(PROJECT).files.iter().map(|(_, t)| t.clone()).collect::<Vec<_>>().join("\n");
    let snippets = [
        "export ",
        "const ",
        "let ",
        "function f(x: number) { return g(x); }\n",
        "class K { m() { return new Rect(1, 2); } }\n",
        "{",
        "}",
        "(",
        ")",
        ";\n",
        "é",
        "日本",
        "😀",
        " ",
        "\n",
        "interface I { a(): void }\n",
        "import { z } from './zed';\n",
        "async ",
        "type T = Rect;\n",
        "<div>",
        "Búsqueda",
        "//",
        "/*",
        "*/",
        "\"",
        "'",
    ];
    let names = ["alpha", "Beta", "gamma2", "délta", "日本", "Rect", "add"];
    let mut clean = 0;
    for (lang, path) in [(Lang::TypeScript, "a.ts"), (Lang::Tsx, "a.tsx")] {
        let mut rng = Rng(0x9e3779b97f4a7c15 ^ path.len() as u64);
        for round in 0..40 {
            let mut file = FileIndex::parse(path, lang, seed_text.clone());
            if round % 4 == 1 {
                // As for a file no editor had open: the first edit parses from scratch, the rest reparse.
                file.forget_tree();
                assert!(!file.has_tree());
                assert_eq!(file.syntax_issues(), FileIndex::parse(path, lang, seed_text.clone()).syntax_issues());
            }
            let mut text = seed_text.clone();
            for step in 0..25 {
                let (start, end, insert) = if round % 2 == 0 {
                    // A random edit on char boundaries: delete a span, insert a snippet, or both.
                    let boundaries: Vec<usize> = text.char_indices().map(|(i, _)| i).chain([text.len()]).collect();
                    let a = boundaries[rng.below(boundaries.len())];
                    let b = boundaries[rng.below(boundaries.len())];
                    let (start, end) = (a.min(b), a.max(b).min(a.min(b) + 40));
                    let end = *boundaries.iter().find(|&&x| x >= end).unwrap();
                    let insert = if rng.below(3) == 0 { "" } else { snippets[rng.below(snippets.len())] };
                    (start, end, insert)
                } else {
                    // A rename: one identifier (not a keyword) replaced by another; the code stays valid.
                    let words = identifiers(&text);
                    let (start, end) = words[rng.below(words.len())];
                    (start, end, names[rng.below(names.len())])
                };
                text.replace_range(start..end, insert);
                if round % 4 >= 2 {
                    // Deferred, as in a bundle: three edits, then one reparse for them all.
                    file.edit_deferred(start..end, insert);
                    assert_eq!(file.text(), text);
                    if step % 3 != 2 {
                        continue;
                    }
                    assert!(file.needs_reparse());
                    file.reparse();
                } else {
                    file.edit(start..end, insert);
                }
                assert!(!file.needs_reparse());
                assert_eq!(file.text(), text);
                // The incremental update equals a full extraction from the same tree...
                let scratch = file.tags_from_scratch();
                if file.tags() != scratch.as_slice() {
                    let only_incremental: Vec<_> = file.tags().iter().filter(|t| !scratch.contains(t)).collect();
                    let only_scratch: Vec<_> = scratch.iter().filter(|t| !file.tags().contains(t)).collect();
                    panic!(
                        "{path} round {round} step {step}: tags differ after editing {start}..{end} to {insert:?}\nonly incremental: {only_incremental:#?}\nonly from scratch: {only_scratch:#?}\n{text}"
                    );
                }
                // ...and a fresh parse of the same text. Where the text has syntax errors, tree-sitter's
                // error recovery may build a different tree incrementally than from scratch; that is the
                // parser's business, so the comparison is for text without errors.
                let fresh = FileIndex::parse(path, lang, text.clone());
                if fresh.syntax_issues().is_empty() && file.syntax_issues().is_empty() {
                    assert_eq!(
                        file.tags(),
                        fresh.tags(),
                        "{path} round {round} step {step}: differs from a fresh parse\n{text}"
                    );
                    assert_eq!(file.imports(), fresh.imports(), "{path} round {round} step {step}: imports differ");
                    clean += 1;
                }
            }
        }
    }
    assert!(
        clean >= 100,
        "only {clean} edits left error-free text: the comparison with a fresh parse did not run enough"
    );
}

#[test]
fn the_index_follows_edits_and_removals() {
    let (mut repo, _) = index(PROJECT);
    let math = repo.file("src/math.ts").unwrap().text().to_owned();
    let at = math.find("unused").unwrap();
    repo.edit("src/math.ts", &[(at..at + "unused".len(), "renamed".to_owned())]);
    assert_eq!(repo.symbols("renamed", 5).len(), 1);
    assert!(repo.symbols("unused", 5).is_empty());
    repo.remove("src/geometry.ts");
    let map = repo.map(&MapRequest { tokens: 1000, ..Default::default() });
    assert!(!map.contains("Rect") && map.contains("renamed"), "{map}");
}

/// Byte spans of the identifiers in `text` that are not keywords.
fn identifiers(text: &str) -> Vec<(usize, usize)> {
    const KEYWORDS: &[&str] = &[
        "export",
        "function",
        "return",
        "const",
        "let",
        "class",
        "new",
        "import",
        "from",
        "number",
        "void",
        "public",
        "constructor",
        "this",
        "interface",
        "type",
        "async",
        "string",
    ];
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices().chain([(text.len(), ' ')]) {
        let word = c.is_alphanumeric() || c == '_';
        match (start, word) {
            (None, true) => start = Some(i),
            (Some(s), false) => {
                let w = &text[s..i];
                if !KEYWORDS.contains(&w) && !w.starts_with(|c: char| c.is_ascii_digit()) {
                    out.push((s, i));
                }
                start = None;
            }
            _ => {}
        }
    }
    out
}

/// A bundle's edits are applied at once (positions shift) and reparsed when the index's owner says it is
/// idle; then it is what a fresh parse gives.
#[test]
fn a_bundle_is_reparsed_when_the_index_is_idle() {
    let mut text = String::from("var ns;\n(function (ns) {\n");
    let mut i = 0;
    while text.len() <= samokoder_context::BUNDLE_BYTES {
        text.push_str(&format!(
            "    function helper{i}(a, b) {{ return a + b * {i}; }}\n    ns.helper{i} = helper{i};\n"
        ));
        i += 1;
    }
    text.push_str("})(ns || (ns = {}));\nexport function entry() { return 1; }\n");
    let mut repo = RepoIndex::new();
    repo.upsert("lib/bundle.js", text.clone());
    assert!(repo.file("lib/bundle.js").unwrap().is_bundle());
    assert!(!repo.has_pending());

    let at = text.find("function helper10(").unwrap() + "function ".len();
    let edits = [(at..at + "helper10".len(), "renamed10".to_owned()), (0..0, "// header\n".to_owned())];
    repo.edit("lib/bundle.js", &edits);
    text.replace_range(at..at + "helper10".len(), "renamed10");
    text.insert_str(0, "// header\n");
    assert!(repo.has_pending(), "the reparse waits");
    let file = repo.file("lib/bundle.js").unwrap();
    assert_eq!(file.text(), text);
    let entry = file.definitions().find(|t| t.name == "entry").unwrap();
    assert_eq!(&text[entry.name_range.clone()], "entry", "positions after the edits are shifted already");

    assert!(repo.reparse_pending());
    assert!(!repo.has_pending());
    let fresh = FileIndex::parse("lib/bundle.js", Lang::Tsx, text.clone());
    assert_eq!(repo.file("lib/bundle.js").unwrap().tags(), fresh.tags());
    assert_eq!(repo.symbols("renamed10", 5).len(), 1);
    assert!(!repo.reparse_pending(), "nothing left to do");
}
