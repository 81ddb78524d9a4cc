//! Test output into structured failures: file, line and message, ready to become diagnostics.
//!
//! Understands Node's test runner in TAP form (its output when stdout is not a terminal): each `not ok`
//! with its YAML block, nested subtests, and a file that fails to load (the loader's `file:line`, source
//! line, caret and error, which Node prints as TAP comments before the failure).

/// One failing test, located where it failed: the deepest stack frame in a workspace file (the assertion),
/// else the test's declaration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestFailure {
    pub name: String,
    /// Workspace-relative path, when the failure is in the workspace.
    pub file: Option<String>,
    /// 1-based.
    pub line: Option<u32>,
    /// 1-based.
    pub column: Option<u32>,
    pub message: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TestReport {
    pub passed: u32,
    pub failed: u32,
    pub failures: Vec<TestFailure>,
    /// Whether the output was in a format this parser knows; if not, only the exit code tells.
    pub recognized: bool,
}

/// Parses a test command's output. `workdir` is the workspace's path where the command ran.
pub fn parse_test_output(output: &str, workdir: &str) -> TestReport {
    let lines: Vec<&str> = output.lines().collect();
    let mut report = TestReport::default();
    let mut summary_pass = None;
    let mut summary_fail = None;
    let mut load_error: Option<TestFailure> = None;
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        if trimmed == "TAP version 13" || trimmed == "TAP version 14" {
            report.recognized = true;
        } else if indent == 0
            && let Some(n) = trimmed.strip_prefix("# pass ")
        {
            summary_pass = n.trim().parse().ok();
        } else if indent == 0
            && let Some(n) = trimmed.strip_prefix("# fail ")
        {
            summary_fail = n.trim().parse().ok();
        } else if let Some(found) = loader_error(&lines, i, workdir) {
            load_error = Some(found);
        } else if let Some(rest) = trimmed.strip_prefix("not ok ") {
            report.recognized = true;
            let name = rest.split_once(" - ").map(|(_, n)| n).unwrap_or(rest).trim();
            let name = name.split(" # ").next().unwrap_or(name).to_owned();
            let (block, next) = yaml_block(&lines, i + 1, indent);
            i = next;
            let failure_type = field(&block, "failureType").unwrap_or_default();
            if failure_type == "subtestsFailed"
                || field(&block, "type").as_deref() == Some("suite") && failure_type != "testCodeFailure"
            {
                continue; // the subtests that failed are reported themselves
            }
            report.failures.push(failure(name, &block, workdir, load_error.take()));
            continue;
        } else if trimmed.starts_with("ok ") {
            report.recognized = true;
        }
        i += 1;
    }
    report.failed = summary_fail.unwrap_or(report.failures.len() as u32);
    report.passed = summary_pass.unwrap_or(0);
    report
}

fn failure(name: String, block: &[(String, String)], workdir: &str, load_error: Option<TestFailure>) -> TestFailure {
    let error = field(block, "error").unwrap_or_default();
    let stack = field(block, "stack").unwrap_or_default();
    if let Some(mut loaded) = load_error.filter(|_| stack.is_empty()) {
        // A file that failed to load: the loader said where.
        loaded.name = name;
        return loaded;
    }
    let at = stack
        .lines()
        .filter_map(|l| locate(l, workdir))
        .find(|(file, ..)| !file.contains("node_modules/"))
        .or_else(|| field(block, "location").and_then(|l| locate(&l, workdir)));
    let mut message = error.trim().to_owned();
    if let (Some(expected), Some(actual)) = (field(block, "expected"), field(block, "actual")) {
        if !message.contains(&expected) || !message.contains(&actual) {
            message.push_str(&format!("\nexpected: {expected}\nactual: {actual}"));
        }
    }
    if message.is_empty() {
        message = "test failed".to_owned();
    }
    let (file, line, column) = match at {
        Some((file, line, column)) => (Some(file), Some(line), column),
        None => (None, None, None),
    };
    TestFailure { name, file, line, column, message }
}

/// A loader error Node prints as comments: `# file:///workspace/src/a.js:2`, the source line, a caret,
/// then the error (`# SyntaxError: ...`).
fn loader_error(lines: &[&str], i: usize, workdir: &str) -> Option<TestFailure> {
    let first = lines[i].trim_start().strip_prefix("# ")?;
    let (file, line, _) = locate(first, workdir).filter(|_| !first.contains(' '))?;
    let mut column = None;
    let mut message = None;
    for next in lines.iter().skip(i + 1).take(6) {
        let Some(text) = next.trim_start().strip_prefix('#') else {
            break;
        };
        let body = text.strip_prefix(' ').unwrap_or(text);
        if column.is_none() && body.trim() == "^"
            || body.trim_end().ends_with('^') && body.trim().chars().all(|c| c == '^')
        {
            column = Some(body.find('^').unwrap_or(0) as u32 + 1);
        } else if is_error_line(body) {
            message = Some(body.trim().to_owned());
            break;
        }
    }
    Some(TestFailure { name: String::new(), file: Some(file), line: Some(line), column, message: message? })
}

fn is_error_line(s: &str) -> bool {
    let s = s.trim();
    s.split_once(':').is_some_and(|(kind, _)| kind.ends_with("Error") && !kind.contains(' '))
}

/// `(workspace-relative file, line, column)` from text holding `[file://]<workdir>/path:line[:col]`.
fn locate(text: &str, workdir: &str) -> Option<(String, u32, Option<u32>)> {
    let prefix = format!("{}/", workdir.trim_end_matches('/'));
    let start = text.find(&prefix)?;
    let rest = &text[start + prefix.len()..];
    let end = rest.find([')', '\'', '"', ' ']).unwrap_or(rest.len());
    let mut parts = rest[..end].rsplitn(3, ':');
    let last: u32 = parts.next()?.parse().ok()?;
    let middle = parts.next()?;
    match (middle.parse::<u32>(), parts.next()) {
        (Ok(line), Some(file)) => Some((file.to_owned(), line, Some(last))),
        _ => {
            // `path:line` only.
            let file = rest[..end].rsplit_once(':')?.0;
            Some((file.to_owned(), last, None))
        }
    }
}

/// The YAML block after a test line (`---` ... `...`), as flat `key: value` pairs with block scalars
/// joined. Returns the pairs and the index after the block.
fn yaml_block(lines: &[&str], start: usize, test_indent: usize) -> (Vec<(String, String)>, usize) {
    let mut fields = Vec::new();
    let Some(open) = lines.get(start) else {
        return (fields, start);
    };
    if open.trim() != "---" {
        return (fields, start);
    }
    let key_indent = test_indent + 2;
    let mut i = start + 1;
    while i < lines.len() {
        let line = lines[i];
        if line.trim() == "..." {
            return (fields, i + 1);
        }
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        if indent == key_indent
            && let Some((key, value)) = trimmed.split_once(':')
        {
            let value = value.trim();
            if value == "|-" || value == "|" || value == ">-" {
                let mut body = Vec::new();
                i += 1;
                while i < lines.len() {
                    let l = lines[i];
                    let ind = l.len() - l.trim_start().len();
                    if !l.trim().is_empty() && ind <= key_indent {
                        break;
                    }
                    body.push(l.get(key_indent + 2..).unwrap_or("").trim_end());
                    i += 1;
                }
                fields.push((key.to_owned(), body.join("\n")));
                continue;
            }
            fields.push((key.to_owned(), unquote(value)));
        }
        i += 1;
    }
    (fields, i)
}

fn field(block: &[(String, String)], key: &str) -> Option<String> {
    block.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
}

fn unquote(value: &str) -> String {
    let v = value.trim();
    if v.len() >= 2 && v.starts_with('\'') && v.ends_with('\'') {
        v[1..v.len() - 1].replace("''", "'")
    } else if v.len() >= 2 && v.starts_with('"') && v.ends_with('"') {
        v[1..v.len() - 1].replace("\\\"", "\"").replace("\\n", "\n")
    } else {
        v.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::expect;

    fn render(report: &TestReport) -> String {
        let mut out = format!("recognized={} passed={} failed={}\n", report.recognized, report.passed, report.failed);
        for f in &report.failures {
            out.push_str(&format!(
                "{} @ {}:{}:{} | {}\n",
                f.name,
                f.file.as_deref().unwrap_or("?"),
                f.line.map_or("?".into(), |l| l.to_string()),
                f.column.map_or("?".into(), |c| c.to_string()),
                f.message.replace('\n', "\\n")
            ));
        }
        out
    }

    #[test]
    fn node20_tap_with_assertion_nested_and_load_failures() {
        let output = include_str!("../tests/data/node20-tap.txt");
        expect![[r#"
            recognized=true passed=1 failed=3
            /workspace/test/broken.test.js @ src/broken.js:2:10 | SyntaxError: Unexpected number
            adds @ test/sum.test.js:6:10 | Expected values to be strictly equal:\n\n-1 !== 3
            nested fails @ test/sum.test.js:15:11 | boom é
        "#]]
        .assert_eq(&render(&parse_test_output(output, "/workspace")));
    }

    #[test]
    fn passing_run() {
        let output = "TAP version 13\n# Subtest: a\nok 1 - a\n  ---\n  duration_ms: 1\n  ...\n1..1\n# tests 1\n# pass 1\n# fail 0\n";
        expect![[r#"
            recognized=true passed=1 failed=0
        "#]]
        .assert_eq(&render(&parse_test_output(output, "/workspace")));
    }

    #[test]
    fn unknown_output_is_not_recognized() {
        let report = parse_test_output("Error: Cannot find module 'jest'\n", "/workspace");
        assert!(!report.recognized);
        assert!(report.failures.is_empty());
    }
}
