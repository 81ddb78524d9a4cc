//! The import repairs: a path that reaches no file, a name a module defines but does not export, a
//! default import of a named export and the reverse, `assert` from `node:test`, `node:test` in a source
//! module, `require` in an ES module.

use std::collections::BTreeMap;

use samokoder_context::{FileIndex, Lang};

use super::{Project, Repair, is_js, is_test};

/// One static import statement: its byte range, default name, named imports (`name`, `local`) and specifier.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ImportStatement {
    range: std::ops::Range<usize>,
    default: Option<String>,
    named: Vec<(String, String)>,
    namespace: bool,
    specifier: String,
}

/// The static imports of `text` (`import ... from '...'`, possibly over several lines).
fn imports(text: &str) -> Vec<ImportStatement> {
    let mut out = Vec::new();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        if !line.trim_start().starts_with("import ") && !line.trim_start().starts_with("import{") {
            continue;
        }
        let begin = start + (line.len() - line.trim_start().len());
        let rest = &text[begin..];
        let Some(from) = find_from(rest) else { continue };
        let clause = rest["import".len()..from].trim();
        let after = rest[from + "from".len()..].trim_start();
        let Some(quote) = after.chars().next().filter(|c| *c == '\'' || *c == '"') else { continue };
        let Some(close) = after[1..].find(quote) else { continue };
        let specifier = after[1..1 + close].to_owned();
        let mut end = rest.len() - after.len() + close + 2;
        if rest[end..].starts_with(';') {
            end += 1;
        }
        let Some(parsed) = clause_parts(clause) else { continue };
        out.push(ImportStatement {
            range: begin..begin + end,
            default: parsed.0,
            named: parsed.1,
            namespace: parsed.2,
            specifier,
        });
    }
    out
}

/// Where the `from` of an import statement starting `text` is (within a few lines).
fn find_from(text: &str) -> Option<usize> {
    let limit = text.char_indices().filter(|(_, c)| *c == '\n').nth(20).map_or(text.len(), |(i, _)| i);
    let window = &text[..limit];
    let mut depth = 0;
    for (i, c) in window.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            '\'' | '"' if depth == 0 => return None,
            'f' if depth == 0
                && window[i..].starts_with("from")
                && window[..i].ends_with(|c: char| c.is_whitespace() || c == '}') =>
            {
                return Some(i);
            }
            _ => {}
        }
    }
    None
}

/// What an import clause names: (default, named as (name, local), namespace).
type Clause = (Option<String>, Vec<(String, String)>, bool);

/// `X`, `{ a, b as c }`, `X, { a }`, `* as ns`.
fn clause_parts(clause: &str) -> Option<Clause> {
    let (head, braces) = match clause.find('{') {
        Some(open) => {
            let close = clause.rfind('}')?;
            (clause[..open].trim().trim_end_matches(',').trim(), Some(&clause[open + 1..close]))
        }
        None => (clause, None),
    };
    let mut default = None;
    let mut namespace = false;
    if head.starts_with('*') {
        namespace = true;
    } else if !head.is_empty() {
        let name = head.trim_end_matches(',').trim();
        if !is_identifier(name) {
            return None;
        }
        default = Some(name.to_owned());
    }
    let mut named = Vec::new();
    for item in braces.unwrap_or("").split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (name, local) = match item.split_once(" as ") {
            Some((n, l)) => (n.trim(), l.trim()),
            None => (item, item),
        };
        if !is_identifier(name) || !is_identifier(local) {
            return None;
        }
        named.push((name.to_owned(), local.to_owned()));
    }
    Some((default, named, namespace))
}

fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '$')
}

fn render(statement: &ImportStatement) -> String {
    let mut parts = Vec::new();
    if let Some(d) = &statement.default {
        parts.push(d.clone());
    }
    if !statement.named.is_empty() {
        let names: Vec<String> =
            statement.named.iter().map(|(n, l)| if n == l { n.clone() } else { format!("{n} as {l}") }).collect();
        parts.push(format!("{{ {} }}", names.join(", ")));
    }
    format!("import {} from '{}';", parts.join(", "), statement.specifier)
}

/// `import { test, assert } from 'node:test'`: assert comes from `node:assert/strict` instead.
pub(super) fn assert_from_node_test(text: &str) -> Option<String> {
    let statement = imports(text)
        .into_iter()
        .find(|s| matches!(s.specifier.as_str(), "node:test" | "test") && s.named.iter().any(|(n, _)| n == "assert"))?;
    let local = statement.named.iter().find(|(n, _)| n == "assert").map(|(_, l)| l.clone())?;
    let mut rest = statement.clone();
    rest.named.retain(|(n, _)| n != "assert");
    let assert = format!("import {local} from 'node:assert/strict';");
    let replacement =
        if rest.named.is_empty() && rest.default.is_none() { assert } else { format!("{}\n{assert}", render(&rest)) };
    Some(format!("{}{replacement}{}", &text[..statement.range.start], &text[statement.range.end..]))
}

/// A source module that imports `node:test` and defines no test: the import goes.
pub(super) fn drop_node_test(text: &str) -> Option<String> {
    let statement = imports(text).into_iter().find(|s| s.specifier == "node:test")?;
    let rest = format!("{}{}", &text[..statement.range.start], &text[statement.range.end..]);
    let locals: Vec<&str> =
        statement.named.iter().map(|(_, l)| l.as_str()).chain(statement.default.as_deref()).collect();
    if locals.iter().any(|l| rest.contains(&format!("{l}("))) {
        return None;
    }
    let mut out = rest;
    // The line the statement was on, when it is now empty.
    let line_start = out[..statement.range.start].rfind('\n').map_or(0, |i| i + 1);
    if out[line_start..].starts_with('\n') {
        out.replace_range(line_start..line_start + 1, "");
    }
    Some(out)
}

/// `const x = require('y');`, `const { a, b } = require('y');`, `module.exports = x;`,
/// `module.exports = { a, b };` as ES module imports and exports; `None` when there is none of them.
pub(super) fn requires_to_imports(text: &str) -> Option<String> {
    let mut changed = false;
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let (body, newline) = match line.strip_suffix('\n') {
            Some(b) => (b, "\n"),
            None => (line, ""),
        };
        let indent = &body[..body.len() - body.trim_start().len()];
        let t = body.trim();
        if let Some(converted) = require_line(t) {
            out.push_str(&format!("{indent}{converted}{newline}"));
            changed = true;
        } else if let Some(value) = t.strip_prefix("module.exports =").map(|v| v.trim().trim_end_matches(';').trim()) {
            if value.starts_with('{') && value.ends_with('}') && clause_parts(value).is_some_and(|p| p.0.is_none()) {
                out.push_str(&format!("{indent}export {value};{newline}"));
            } else {
                out.push_str(&format!("{indent}export default {value};{newline}"));
            }
            changed = true;
        } else {
            out.push_str(line);
        }
    }
    changed.then_some(out)
}

fn require_line(t: &str) -> Option<String> {
    let rest = ["const ", "let ", "var "].iter().find_map(|k| t.strip_prefix(k))?;
    let (binding, call) = rest.split_once('=')?;
    let call = call.trim().trim_end_matches(';').trim();
    let inner = call.strip_prefix("require(")?.strip_suffix(')')?.trim();
    let quote = inner.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let specifier = inner.strip_prefix(quote)?.strip_suffix(quote)?;
    let binding = binding.trim();
    if binding.starts_with('{') {
        let (_, named, _) = clause_parts(&binding.replace(':', " as "))?;
        let names: Vec<String> =
            named.iter().map(|(n, l)| if n == l { n.clone() } else { format!("{n} as {l}") }).collect();
        return Some(format!("import {{ {} }} from '{specifier}';", names.join(", ")));
    }
    is_identifier(binding).then(|| format!("import {binding} from '{specifier}';"))
}

/// What a module offers an importer: its named exports, whether it has a default export (and the name of
/// the function or class it is, when it has one), and its top-level definitions that are not exported.
struct Offer {
    named: Vec<String>,
    default: Option<Option<String>>,
    unexported: Vec<(String, usize)>,
}

fn offer(path: &str, text: &str) -> Option<Offer> {
    let lang = Lang::from_path(path)?;
    let index = FileIndex::parse(path, lang, text.to_owned());
    let mut named = Vec::new();
    let mut unexported = Vec::new();
    for tag in index.definitions().filter(|t| t.container.is_none()) {
        let start = tag.node_range.start;
        let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
        let default = text[line_start..start].contains("export default") || text[start..].starts_with("export default");
        if tag.exported && !default {
            named.push(tag.name.clone());
        } else if !tag.exported {
            unexported.push((tag.name.clone(), start));
        }
    }
    // `export { a, b }` lists.
    for line in text.lines().map(str::trim) {
        if let Some(list) = line.strip_prefix("export {").and_then(|l| l.split_once('}')).map(|(l, _)| l) {
            for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                let exported = item.split_once(" as ").map_or(item, |(_, e)| e.trim());
                named.push(exported.to_owned());
                unexported.retain(|(n, _)| n != item.split_once(" as ").map_or(item, |(n, _)| n.trim()));
            }
        }
    }
    let default = text.lines().find_map(|line| {
        let rest = line.trim_start().strip_prefix("export default")?;
        let rest = rest.trim_start();
        let rest = rest.strip_prefix("async ").unwrap_or(rest);
        let name = ["function* ", "function ", "class "]
            .iter()
            .find_map(|k| rest.strip_prefix(k))
            .map(|r| {
                r.trim_start().split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$')).next().unwrap_or("")
            })
            .or_else(|| Some(rest.trim_end_matches(';').trim()).filter(|r| is_identifier(r)))
            .filter(|n| !n.is_empty())
            .map(str::to_owned);
        Some(name)
    });
    Some(Offer { named, default, unexported })
}

/// Resolves a relative specifier from `importer` to a workspace path; `None` for a package or a miss.
fn resolve(importer: &str, specifier: &str) -> Option<String> {
    if !specifier.starts_with("./") && !specifier.starts_with("../") {
        return None;
    }
    let mut parts: Vec<&str> = importer.split('/').collect();
    parts.pop();
    for piece in specifier.split('/') {
        match piece {
            "." | "" => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(parts.join("/"))
}

/// The relative specifier from `importer` to `target`.
fn relative(importer: &str, target: &str) -> String {
    let from: Vec<&str> = importer.split('/').collect();
    let to: Vec<&str> = target.split('/').collect();
    let dir = &from[..from.len() - 1];
    let common = dir.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let ups = dir.len() - common;
    let mut out = if ups == 0 { "./".to_owned() } else { "../".repeat(ups) };
    out.push_str(&to[common..].join("/"));
    out
}

/// Each relative import of `path`: a path that reaches no file is pointed at the one file it plainly means;
/// a name the module defines without exporting it gets exported; a default import of a module with only a
/// named export of that name, or a named import of what is its default export, is turned around.
pub(super) fn fix_imports(path: &str, files: &mut BTreeMap<String, String>, project: &Project<'_>) -> Vec<Repair> {
    let mut done = Vec::new();
    let read = |files: &BTreeMap<String, String>, p: &str| files.get(p).cloned().or_else(|| (project.read)(p));
    let statements = imports(&files[path]);
    // From the last, so that earlier ranges stay valid.
    for mut statement in statements.into_iter().rev() {
        let Some(target) = resolve(path, &statement.specifier) else { continue };
        let target = if read(files, &target).is_some() {
            target
        } else {
            let Some(found) = the_file_meant(&target, files, project) else { continue };
            let specifier = relative(path, &found);
            done.push(Repair {
                path: path.to_owned(),
                what: format!(
                    "the import of '{}' points at {found} ('{specifier}'), the one file it can mean",
                    statement.specifier
                ),
            });
            statement.specifier = specifier;
            let text = files[path].clone();
            files.insert(
                path.to_owned(),
                format!("{}{}{}", &text[..statement.range.start], render(&statement), &text[statement.range.end..]),
            );
            found
        };
        let Some(module_text) = read(files, &target) else { continue };
        let Some(offer) = offer(&target, &module_text) else { continue };
        let mut statement = statement;
        let mut changed = false;
        // A default import of a module with no default export but a named export of that name.
        if let Some(local) = statement.default.clone()
            && offer.default.is_none()
        {
            let name = if offer.named.contains(&local) {
                Some(local.clone())
            } else if offer.named.len() == 1 && statement.named.is_empty() {
                offer.named.first().cloned()
            } else {
                None
            };
            if let Some(name) = name {
                statement.default = None;
                statement.named.insert(0, (name.clone(), local.clone()));
                changed = true;
                done.push(Repair {
                    path: path.to_owned(),
                    what: format!("imports {name} from {target} by name (it has no default export)"),
                });
            }
        }
        let mut exports_added: Vec<(String, usize)> = Vec::new();
        for (name, local) in statement.named.clone() {
            if offer.named.contains(&name) {
                continue;
            }
            if let Some(Some(default_name)) = &offer.default
                && *default_name == name
                && statement.default.is_none()
            {
                statement.named.retain(|(n, _)| *n != name);
                statement.default = Some(local.clone());
                changed = true;
                done.push(Repair {
                    path: path.to_owned(),
                    what: format!("imports {name}, the default export of {target}, as the default"),
                });
                continue;
            }
            if let Some((_, at)) = offer.unexported.iter().find(|(n, _)| *n == name) {
                exports_added.push((name.clone(), *at));
            }
        }
        if changed {
            let text = files[path].clone();
            files.insert(
                path.to_owned(),
                format!("{}{}{}", &text[..statement.range.start], render(&statement), &text[statement.range.end..]),
            );
        }
        if !exports_added.is_empty() {
            let mut text = module_text.clone();
            exports_added.sort_by_key(|(_, at)| std::cmp::Reverse(*at));
            for (name, at) in &exports_added {
                if text[*at..].starts_with("export ") {
                    continue;
                }
                text.insert_str(*at, "export ");
                done.push(Repair { path: target.clone(), what: format!("exported {name} ({path} imports it)") });
            }
            files.insert(target.clone(), text);
        }
    }
    done
}

/// The one project file a specifier that reaches nothing plainly means: the same path with `.js` (or its
/// own extension swapped for `.js`), else the one file with its name anywhere in the project.
fn the_file_meant(target: &str, files: &BTreeMap<String, String>, project: &Project<'_>) -> Option<String> {
    let exists = |p: &str| files.contains_key(p) || (project.read)(p).is_some();
    let stem =
        target.rsplit_once('.').filter(|(s, e)| !s.ends_with('/') && !e.contains('/')).map_or(target, |(s, _)| s);
    for candidate in [format!("{target}.js"), format!("{stem}.js"), format!("{target}/index.js")] {
        if candidate != target && exists(&candidate) {
            return Some(candidate);
        }
    }
    let name = stem.rsplit('/').next()?;
    let mut matches: Vec<&String> = project
        .paths
        .iter()
        .chain(files.keys())
        .filter(|p| is_js(p) && !is_test(p) && p.rsplit('/').next().and_then(|f| f.split('.').next()) == Some(name))
        .collect();
    matches.sort();
    matches.dedup();
    (matches.len() == 1).then(|| matches[0].clone())
}
