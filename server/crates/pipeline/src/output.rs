//! Parsing what models write. Whole files come as a path alone on a line, directly followed by a fenced
//! block (DESIGN.md). Models vary the decoration, so a path may be wrapped in backticks or bold, prefixed by
//! `File:` or a heading, and fences may be three or more backticks or tildes; prose between files is ignored.
//! A fence inside a file (a Markdown file holding code) is handled by matching the opening fence's length.
//! Two looser habits of small models are accepted when the block has no path line of its own: a sentence
//! naming exactly one file in backticks just before it ("Here is the `sum.js` file:"), or a first line that
//! is only a comment naming the file (`// src/sum.js`), which is then dropped from the content.
//!
//! [`WHOLE_FILES_GBNF`] is the format as a grammar, for providers that constrain sampling to one.

/// The whole-file format as a GBNF grammar, for a provider that samples under one (the local model checks
/// each token the model prefers against it and steers only when it strays). It allows what small models
/// naturally write and this parser reads (sentences, blank lines, shell blocks to run) but every other code
/// block must say which file it is: a path line right before it (bare, or as a heading, bold or in
/// backticks) or a first line that is a comment naming the file. At least one file, paths of bounded
/// length with an extension, and fences of three backticks.
pub const WHOLE_FILES_GBNF: &str = r##"root ::= pre* (run "\n" pre*)* file ("\n" pre* (file | run))* ("\n" pre*)?
pre ::= "\n" | prose
prose ::= ([^\n`] | "`" [^\n`]) [^\n]* "\n"
file ::= pathline "\n```" tag "\n" body "```" | "```" tag "\n" label body "```"
run ::= "```" shell "\n" body "```"
pathline ::= ("#"{1,4} " ")? ("**" | "`")? path ("**" | "`")? ":"?
label ::= ("//" | "#" | "--") " "? path "\n" | "<!--" " "? path " "? "-->\n" | "/*" " "? path " "? "*/\n"
tag ::= [A-Za-z0-9_+-]{0,16}
shell ::= "sh" | "bash" | "shell" | "console" | "text"
body ::= line*
line ::= ([^`\n] [^\n]* | "`" [^`\n] [^\n]* | "``" [^`\n] [^\n]*)? "\n"
path ::= (segment "/"){0,8} name
segment ::= [A-Za-z0-9_-] [A-Za-z0-9_.-]{0,39}
name ::= [A-Za-z0-9_-]{0,40} ("." [A-Za-z0-9_-]{1,12}){1,3}
"##;

/// One file's content as one fenced block, for a call that asks for a single file it names itself.
pub const ONE_FILE_GBNF: &str = r##"root ::= "```" tag "\n" body "```" "\n"?
tag ::= [A-Za-z0-9_+-]{0,16}
body ::= line*
line ::= ([^`\n] [^\n]* | "`" [^`\n] [^\n]* | "``" [^`\n] [^\n]*)? "\n"
"##;

/// One file the model wrote: the path exactly as named (not yet checked) and its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedFile {
    pub path: String,
    pub content: String,
}

/// The files in a model's reply, in order. A path named twice keeps its last content. An unterminated
/// final fence is dropped (the reply was cut off, and half a file must not be written).
pub fn parse_whole_files(reply: &str) -> Vec<ParsedFile> {
    let lines: Vec<&str> = reply.lines().collect();
    let mut files: Vec<ParsedFile> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let Some((fence_char, fence_len)) = fence_open(lines[i]) else {
            i += 1;
            continue;
        };
        // Find the closing fence: same char, at least as long, nothing else on the line.
        let close = (i + 1..lines.len()).find(|&j| {
            let t = lines[j].trim();
            t.len() >= fence_len && t.chars().all(|c| c == fence_char)
        });
        let Some(close) = close else { break };
        let mut body = &lines[i + 1..close];
        // The path alone on the line above, or above one blank line (Qwen 1.5B writes "`test/a.test.js`", a
        // blank line, then the fence).
        let path = lines[..i]
            .iter()
            .rev()
            .take(2)
            .find(|l| !l.trim().is_empty())
            .and_then(|above| path_line(above))
            .or_else(|| {
                // The comment is a label for us, not code (and no comment is valid in JSON): drop it.
                let named = body.first().and_then(|first| comment_path(first))?;
                body = &body[1..];
                Some(named)
            })
            .or_else(|| {
                let tag = lines[i].trim_start().trim_start_matches(fence_char).trim();
                let previous = lines[..i].iter().rev().find(|l| !l.trim().is_empty())?;
                (!is_shell(tag)).then(|| sentence_path(previous)).flatten()
            });
        if let Some(path) = path {
            let mut content = fence_body(lines[i], body);
            content.push('\n');
            files.retain(|f| f.path != path);
            files.push(ParsedFile { path, content });
        }
        i = close + 1;
    }
    files
}

/// A fence's content lines joined, less the opening fence's own indentation (a fence in a list item is
/// indented; CommonMark takes up to that many spaces off each line, and so do we: Qwen 1.5B put a whole
/// file under "- Modify `src/words.js` to:", and it landed indented by two).
pub(crate) fn fence_body(open: &str, body: &[&str]) -> String {
    let indent = open.len() - open.trim_start_matches(' ').len();
    let unindent = |line: &str| {
        let spaces = line.len() - line.trim_start_matches(' ').len();
        line[spaces.min(indent)..].to_owned()
    };
    body.iter().map(|l| unindent(l)).collect::<Vec<_>>().join("\n")
}

/// `(char, length)` of an opening fence (```js, ~~~~, ...).
fn fence_open(line: &str) -> Option<(char, usize)> {
    let t = line.trim_start();
    let c = t.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let len = t.chars().take_while(|x| *x == c).count();
    (len >= 3 && !t[len..].contains(c)).then_some((c, len))
}

/// The path a line names, if the line is only a path (with common decoration removed).
pub(crate) fn path_line(line: &str) -> Option<String> {
    let mut t = line.trim();
    for prefix in ["###", "##", "#", "File:", "file:", "Path:", "path:", "**File:**", "- "] {
        t = t.strip_prefix(prefix).unwrap_or(t).trim();
    }
    let t = t.trim_matches(|c| c == '*' || c == '`' || c == '"' || c == '\'').trim();
    let t = t.strip_suffix(':').unwrap_or(t).trim_matches(|c| c == '*' || c == '`').trim();
    let looks_like_path = !t.is_empty()
        && !t.contains(char::is_whitespace)
        && (t.contains('.') || t.contains('/'))
        && !t.ends_with('.')
        && t.chars().any(|c| c.is_alphanumeric());
    looks_like_path.then(|| t.to_owned())
}

/// The path a first line names when it is only a comment holding a path: `// src/a.js`, `# a.py`,
/// `<!-- index.html -->`, `/* a.css */`.
fn comment_path(line: &str) -> Option<String> {
    let t = line.trim();
    let inner = ["//", "#", "--"]
        .iter()
        .find_map(|p| t.strip_prefix(p))
        .or_else(|| t.strip_prefix("<!--").and_then(|r| r.strip_suffix("-->")))
        .or_else(|| t.strip_prefix("/*").and_then(|r| r.strip_suffix("*/")))?;
    let inner = inner.trim();
    let inner = inner.strip_prefix("File:").or_else(|| inner.strip_prefix("file:")).unwrap_or(inner);
    // A comment that is a path, not a sentence or a shebang.
    path_line(inner).filter(|p| !p.starts_with('!') && p.contains('.'))
}

/// The path a sentence introduces, when it ends with a colon, says "file", and its only backticked span is
/// a path with an extension: "Here is the `src/sum.js` file:". (Not "Example usage from `README.md`:": a
/// snippet must not replace a file.)
fn sentence_path(line: &str) -> Option<String> {
    let t = line.trim();
    let outside: String = t.split('`').step_by(2).collect::<Vec<_>>().join(" ");
    if !t.ends_with(':') || !outside.to_ascii_lowercase().split(|c: char| !c.is_alphabetic()).any(|w| w == "file") {
        return None;
    }
    let mut spans = t.split('`').skip(1).step_by(2);
    let only = spans.next().filter(|_| spans.next().is_none())?;
    path_line(only).filter(|p| p.rsplit('/').next().is_some_and(|name| name.contains('.')))
}

/// A fence tag for commands to run rather than a file.
fn is_shell(tag: &str) -> bool {
    matches!(tag, "sh" | "bash" | "shell" | "console" | "zsh" | "powershell" | "cmd" | "text" | "txt")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(reply: &str, expected: &[(&str, &str)]) {
        let got: Vec<(String, String)> = parse_whole_files(reply).into_iter().map(|f| (f.path, f.content)).collect();
        let expected: Vec<(String, String)> = expected.iter().map(|(p, c)| (p.to_string(), c.to_string())).collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn the_documented_format() {
        check(
            "Here is the code.\n\nsrc/sum.js\n```js\nexport function sum(a, b) { return a + b; }\n```\n\ntest/sum.test.js\n```javascript\nimport 'x';\n```\n",
            &[("src/sum.js", "export function sum(a, b) { return a + b; }\n"), ("test/sum.test.js", "import 'x';\n")],
        );
    }

    #[test]
    fn decorated_paths_and_long_fences() {
        check(
            "**src/a.ts**\n````ts\nconst s = `x`;\n```inner```\n````\n### `b.md`\n~~~\n```js\ncode\n```\n~~~\nFile: c.json\n```\n{}\n```\n",
            &[("src/a.ts", "const s = `x`;\n```inner```\n"), ("b.md", "```js\ncode\n```\n"), ("c.json", "{}\n")],
        );
    }

    #[test]
    fn blocks_without_a_path_and_cut_off_files_are_ignored() {
        check("Run it:\n```sh\nnpm test\n```\nsrc/a.js\n```js\nconst a = 1;\n", &[]);
        check("src/a.js\n```js\nok\n```\nsrc/b.js\n```js\nhalf", &[("src/a.js", "ok\n")]);
    }

    #[test]
    fn a_fence_in_a_list_item_loses_its_own_indentation_only() {
        let reply = "- Change:\n  src/a.js\n  ```js\n  export function a() {\n    return 1;\n  }\n // less\n  ```\n";
        let files = parse_whole_files(reply);
        assert_eq!(files.len(), 1, "{files:?}");
        assert_eq!(files[0].content, "export function a() {\n  return 1;\n}\n// less\n");
    }

    #[test]
    fn a_path_above_one_blank_line_names_the_fence_and_above_two_does_not() {
        check("`test/a.test.js`\n\n```js\nok\n```\n", &[("test/a.test.js", "ok\n")]);
        check("`test/a.test.js`\n\n\n```js\nok\n```\n", &[]);
    }

    #[test]
    fn hostile_paths_are_passed_on_for_the_jail_to_refuse() {
        check(
            "../outside.ts\n```ts\nx\n```\n/etc/passwd\n```\nroot\n```\n",
            &[("../outside.ts", "x\n"), ("/etc/passwd", "root\n")],
        );
    }

    #[test]
    fn a_path_in_a_first_line_comment_or_an_introducing_sentence() {
        check(
            "This is a small project.\n\nHere is the `sum.js` file:\n\n```js\n// sum.js\nexport const a = 1;\n```\n\n\
             ```json\n// package.json\n{}\n```\n```html\n<!-- web/index.html -->\n<p>\n```\n\
             To run the tests, use `node --test` with `package.json`:\n```sh\nnode --test\n```\n\
             Then run `server.js`:\n```sh\nnode server.js\n```\n",
            &[("sum.js", "export const a = 1;\n"), ("package.json", "{}\n"), ("web/index.html", "<p>\n")],
        );
        // Not a path: a shebang, a sentence, two files named, no colon.
        check("```js\n#!/usr/bin/env node\n```\n```js\n// add two numbers\n```\n", &[]);
        check("Both `a.js` and `b.js`:\n```js\nx\n```\nSee `a.js`.\n```js\nx\n```\n", &[]);
        check(
            "Example usage from `README.md`:\n```js\nsum(1, 2)\n```\nThe `src/files.js` module:\n```js\nx\n```\n",
            &[],
        );
        check("The updated file `src/app.js`:\n```js\nx\n```\n", &[("src/app.js", "x\n")]);
    }

    #[test]
    fn a_path_named_twice_keeps_the_last_content() {
        check("a.js\n```\n1\n```\na.js\n```\n2\n```\n", &[("a.js", "2\n")]);
    }
}
