//! Parsing what models write. Whole files come as a path alone on a line, directly followed by a fenced
//! block (DESIGN.md). Models vary the decoration, so a path may be wrapped in backticks or bold, prefixed by
//! `File:` or a heading, and fences may be three or more backticks or tildes; prose between files is ignored.
//! A fence inside a file (a Markdown file holding code) is handled by matching the opening fence's length.

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
        let path = (i > 0).then(|| path_line(lines[i - 1])).flatten();
        // Find the closing fence: same char, at least as long, nothing else on the line.
        let close = (i + 1..lines.len()).find(|&j| {
            let t = lines[j].trim();
            t.len() >= fence_len && t.chars().all(|c| c == fence_char)
        });
        let Some(close) = close else { break };
        if let Some(path) = path {
            let mut content = lines[i + 1..close].join("\n");
            content.push('\n');
            files.retain(|f| f.path != path);
            files.push(ParsedFile { path, content });
        }
        i = close + 1;
    }
    files
}

/// `(char, length)` of an opening fence (```js, ~~~~, ...).
fn fence_open(line: &str) -> Option<(char, usize)> {
    let t = line.trim_start();
    let c = t.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let len = t.chars().take_while(|x| *x == c).count();
    (len >= 3 && !t[len..].contains(c)).then_some((c, len))
}

/// The path a line names, if the line is only a path (with common decoration removed).
fn path_line(line: &str) -> Option<String> {
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
    fn hostile_paths_are_passed_on_for_the_jail_to_refuse() {
        check(
            "../outside.ts\n```ts\nx\n```\n/etc/passwd\n```\nroot\n```\n",
            &[("../outside.ts", "x\n"), ("/etc/passwd", "root\n")],
        );
    }

    #[test]
    fn a_path_named_twice_keeps_the_last_content() {
        check("a.js\n```\n1\n```\na.js\n```\n2\n```\n", &[("a.js", "2\n")]);
    }
}
