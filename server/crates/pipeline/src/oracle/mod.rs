//! The oracle: what the user stated the code must do, as checks that run. The description, the spec and the
//! doc comments are the truth; a test a model wrote is a hypothesis. Every input/output example the user
//! stated becomes a check (`extract.rs`: formal ones, read without a model), the checks run against code in
//! the sandbox (`run.rs`), they run before the project's tests, the fix loop cannot edit them (they are
//! not files), and a run whose checks still fail has failed, with the example named.

pub mod asserts;
pub mod extract;
pub mod literal;
pub mod probes;
pub mod record;
pub mod run;
pub mod select;
pub mod triage;

use samokoder_context::{FileIndex, Lang};
use serde::{Deserialize, Serialize};

/// What an example says a call gives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Expect {
    /// Equal to this JavaScript literal (deeply; numbers to 1e-9, or to the decimals an example was
    /// rounded to when it shows two or more).
    Equal(String),
    /// `null` or `undefined`: a doctest whose output line is blank (Python printed nothing for `None`).
    Nullish,
    /// Throws, an error of this type when one is named.
    Throws(Option<String>),
}

/// One stated example.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Example {
    /// The function called.
    pub callee: String,
    /// The call, as JavaScript with literal arguments: `longest(['a', 'b'])`.
    pub call: String,
    pub expect: Expect,
    /// The user's words the example came from, as written.
    pub quote: String,
    /// Where they are: `src/longest.js:7`, `the description, line 2`.
    pub origin: String,
    /// The module whose exports the call sees (workspace-relative); `None`: the one that exports `callee`.
    #[serde(default)]
    pub module: Option<String>,
}

impl Example {
    /// What the call must give, in words.
    pub fn wants(&self) -> String {
        match &self.expect {
            Expect::Equal(value) => value.clone(),
            Expect::Nullish => "null".into(),
            Expect::Throws(Some(name)) => format!("to throw a {name}"),
            Expect::Throws(None) => "to throw".into(),
        }
    }

    /// `longest(['a', 'b']) should be 'a'`.
    pub fn statement(&self) -> String {
        match &self.expect {
            Expect::Throws(_) => format!("{} should {}", self.call, self.wants().trim_start_matches("to ")),
            _ => format!("{} should be {}", self.call, self.wants()),
        }
    }
}

/// Two stated examples that cannot both hold: the same call, two different results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conflict {
    pub first: Example,
    pub second: Example,
}

/// Splits off the examples that contradict another (the same call, a different result): those go to the
/// user, or are left out and said (the spec's assumptions) when no one can answer.
pub fn conflicts(examples: Vec<Example>) -> (Vec<Example>, Vec<Conflict>) {
    let mut kept: Vec<Example> = Vec::new();
    let mut conflicts: Vec<Conflict> = Vec::new();
    let mut disputed: Vec<String> = Vec::new();
    for example in examples {
        if let Some(first) = kept.iter().find(|k| k.call == example.call && k.expect != example.expect) {
            conflicts.push(Conflict { first: first.clone(), second: example.clone() });
            disputed.push(example.call.clone());
            continue;
        }
        kept.push(example);
    }
    kept.retain(|e| !disputed.contains(&e.call));
    (kept, conflicts)
}

/// The lines of a JavaScript or TypeScript file that state what the code at `line` (1-based) does: the
/// comment block right above the top-level definition that holds the line, and the comments inside it;
/// with no such definition, the comment block right above the line. Each line's text is without its comment
/// markers (a blank comment line is `""`, which ends a doctest's output).
pub fn stated_lines(path: &str, code: &str, line: u32) -> Vec<(u32, String)> {
    let lines: Vec<&str> = code.lines().collect();
    let (mut first, mut last) = (line.max(1), line.max(1));
    if let Some((_, range)) = definition_at(path, code, line) {
        first = code[..range.start.min(code.len())].matches('\n').count() as u32 + 1;
        last = code[..range.end.min(code.len())].matches('\n').count() as u32 + 1;
    }
    // The comment block right above `first`.
    let mut top = first;
    while top > 1 && comment_text(lines[top as usize - 2]).is_some() {
        top -= 1;
    }
    (top..=last.min(lines.len() as u32)).filter_map(|n| comment_text(lines[n as usize - 1]).map(|t| (n, t))).collect()
}

/// The top-level definition that holds `line` (1-based): its name and byte range.
pub fn definition_at(path: &str, code: &str, line: u32) -> Option<(String, std::ops::Range<usize>)> {
    let lang = Lang::from_path(path)?;
    let index = FileIndex::parse(path, lang, code.to_owned());
    let offset: usize = code.lines().take(line.saturating_sub(1) as usize).map(|l| l.len() + 1).sum();
    index
        .definitions()
        .filter(|t| t.container.is_none() && t.node_range.start <= offset && offset <= t.node_range.end)
        .min_by_key(|t| t.node_range.len())
        .map(|t| (t.name.clone(), t.node_range.clone()))
}

/// A comment line's text without its markers; `None` for a line that is not a comment.
pub(crate) fn comment_text(line: &str) -> Option<String> {
    let t = line.trim();
    let inner = if let Some(rest) = t.strip_prefix("//") {
        rest
    } else if let Some(rest) = t.strip_prefix("/*") {
        rest.trim_start_matches('*')
    } else if let Some(rest) = t.strip_prefix('*') {
        // ` */` closes the block and says nothing.
        if rest.starts_with('/') { "" } else { rest }
    } else {
        return None;
    };
    Some(inner.trim().trim_end_matches("*/").trim().to_owned())
}

/// The names a module exports, from its tree-sitter tags (top-level exported definitions).
pub fn exported(path: &str, code: &str) -> Vec<String> {
    let Some(lang) = Lang::from_path(path) else { return Vec::new() };
    let index = FileIndex::parse(path, lang, code.to_owned());
    let mut names: Vec<String> = Vec::new();
    for tag in index.definitions().filter(|t| t.exported && t.container.is_none()) {
        if !names.contains(&tag.name) {
            names.push(tag.name.clone());
        }
    }
    names
}

/// The examples an implement request states: in the comments of the code it is in (formal ones), and in
/// its instruction. Each calls one of the module's exports, which the checks reach.
pub fn for_code(path: &str, code: &str, line: u32, instruction: &str) -> Vec<Example> {
    let names = exported(path, code);
    let mut lines = stated_lines(path, code, line);
    let mut found = extract::examples(&lines, path, Some(&names));
    lines.clear();
    let request: Vec<(u32, String)> =
        instruction.lines().enumerate().map(|(i, l)| (i as u32 + 1, l.to_owned())).collect();
    found.extend(extract::examples(&request, "the request", Some(&names)));
    for example in &mut found {
        example.module = Some(path.to_owned());
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    const LONGEST: &str = "import x from './x.js';\n\n/**\n * Return the longest one.\n * >>> longest([])\n *\n * >>> longest(['a', 'bb'])\n * 'bb'\n */\nexport function longest(strings) {\n  // TODO(samokoder): implement longest\n}\n\n/**\n * >>> other(1)\n * 2\n */\nexport function other(n) {}\n";

    #[test]
    fn an_implement_request_is_held_to_the_comments_of_its_function() {
        let found = for_code("src/longest.js", LONGEST, 11, "implement longest; longest(['x']) returns 'x'");
        let calls: Vec<String> = found.iter().map(Example::statement).collect();
        assert_eq!(
            calls,
            ["longest([]) should be null", "longest(['a', 'bb']) should be 'bb'", "longest(['x']) should be 'x'"]
        );
        assert_eq!(found[1].origin, "src/longest.js:7");
        assert_eq!(found[2].origin, "the request, line 1");
        assert_eq!(found[0].module.as_deref(), Some("src/longest.js"));
    }

    #[test]
    fn examples_that_contradict_each_other_are_set_apart() {
        let text = "slugify('A') returns 'a'\nslugify('A') returns 'A'\nslugify('') returns ''\nslugify('') returns ''";
        let lines: Vec<(u32, String)> = text.lines().enumerate().map(|(i, l)| (i as u32 + 1, l.into())).collect();
        let (kept, conflicts) = conflicts(extract::examples(&lines, "the description", None));
        assert_eq!(kept.iter().map(|e| e.call.as_str()).collect::<Vec<_>>(), ["slugify('')"]);
        assert_eq!(conflicts.len(), 1);
        assert_eq!(conflicts[0].first.wants(), "'a'");
        assert_eq!(conflicts[0].second.wants(), "'A'");
    }
}
