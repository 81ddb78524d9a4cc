//! Test and compiler output into structured failures: file, line and message, ready to become diagnostics.
//!
//! One parser per format our templates produce: Node's test runner in TAP form (its output when stdout is
//! not a terminal) and spec form (its default on a terminal, and in Node 23+), Jest, Vitest, and `tsc`.
//! A command may print several (`tsc && vitest run`): every parser reads the whole output and the reports
//! are merged. Paths come out workspace-relative, whatever form the tool printed (absolute, `file://`,
//! relative to the command's directory); a path outside the workspace keeps its failure but loses its
//! location.

mod jest;
mod spec;
mod tap;
mod tsc;
mod vitest;

/// One failure, located where it failed: the deepest stack frame in a workspace file (the assertion),
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
    /// Whether the output was in a format these parsers know; if not, only the exit code tells.
    pub recognized: bool,
    /// The formats found: "tap", "spec", "jest", "vitest", "tsc".
    pub formats: Vec<&'static str>,
}

/// Where the command ran, to turn the paths it prints into workspace-relative ones.
#[derive(Debug, Clone, Copy)]
pub struct Location<'a> {
    /// The workspace's path in the container (`/workspace`).
    pub root: &'a str,
    /// The command's directory, workspace-relative (`""` for the root).
    pub cwd: &'a str,
}

impl Location<'_> {
    /// The workspace-relative form of a path as a tool printed it; `None` outside the workspace.
    pub fn relative(&self, printed: &str) -> Option<String> {
        let path = printed.strip_prefix("file://").unwrap_or(printed);
        let root = self.root.trim_end_matches('/');
        let joined = match path.strip_prefix(root) {
            Some(rest) if rest.starts_with('/') => rest.trim_start_matches('/').to_owned(),
            Some(_) | None if path.starts_with('/') => return None,
            _ if self.cwd.is_empty() => path.to_owned(),
            _ => format!("{}/{path}", self.cwd.trim_end_matches('/')),
        };
        let mut parts: Vec<&str> = Vec::new();
        for part in joined.split('/') {
            match part {
                "" | "." => {}
                ".." => {
                    parts.pop()?;
                }
                p => parts.push(p),
            }
        }
        (!parts.is_empty()).then(|| parts.join("/"))
    }

    /// `(file, line, column)` from the first `path:line[:col]` in `text` that is in the workspace and not a
    /// dependency; paths end at whitespace, parentheses or quotes.
    pub(crate) fn locate(&self, text: &str) -> Option<(String, u32, Option<u32>)> {
        let candidates = text.split(|c: char| c.is_whitespace() || matches!(c, '(' | ')' | '\'' | '"' | '[' | ']'));
        for token in candidates {
            let token = token.trim_end_matches([',', ';']);
            let mut parts = token.rsplitn(3, ':');
            let (Some(last), Some(middle)) = (parts.next(), parts.next()) else { continue };
            let (path, line, column) = match (parts.next(), middle.parse::<u32>(), last.parse::<u32>()) {
                (Some(path), Ok(line), Ok(column)) => (path, line, Some(column)),
                (_, _, Ok(line)) => (token.rsplit_once(':').map(|(p, _)| p).unwrap_or(""), line, None),
                _ => continue,
            };
            if path.is_empty() || path.starts_with("node:") || path.contains("node_modules/") || !path.contains('.') {
                continue;
            }
            if let Some(file) = self.relative(path) {
                return Some((file, line, column));
            }
        }
        None
    }
}

type Parser = fn(&str, Location<'_>) -> Option<TestReport>;

/// Parses a command's output with every known format and merges what they found.
pub fn parse_test_output(output: &str, location: Location<'_>) -> TestReport {
    let mut report = TestReport::default();
    let parsers: [(&'static str, Parser); 5] = [
        ("tap", tap::parse),
        ("spec", spec::parse),
        ("jest", jest::parse),
        ("vitest", vitest::parse),
        ("tsc", tsc::parse),
    ];
    for (name, parse) in parsers {
        if let Some(found) = parse(output, location) {
            report.recognized = true;
            report.formats.push(name);
            report.passed += found.passed;
            report.failed += found.failed;
            report.failures.extend(found.failures);
        }
    }
    report
}

/// A loader error as Node prints it, with or without TAP's `# ` prefix: `file:///workspace/src/a.js:2`,
/// the source line, a caret, then the error (`SyntaxError: ...`).
pub(crate) fn loader_error(lines: &[&str], i: usize, location: Location<'_>) -> Option<TestFailure> {
    let strip = |l: &str| -> Option<String> {
        let l = l.strip_prefix("# ").or_else(|| l.strip_prefix('#')).unwrap_or(l);
        Some(l.to_owned())
    };
    let first = strip(lines[i].trim_start())?;
    if first.contains(' ') || !(first.starts_with("file://") || first.starts_with(location.root)) {
        return None;
    }
    let (file, line, _) = location.locate(&first)?;
    let mut column = None;
    let mut message = None;
    for next in lines.iter().skip(i + 1).take(6) {
        let body = strip(next)?;
        let trimmed = body.trim();
        if column.is_none() && !trimmed.is_empty() && trimmed.chars().all(|c| c == '^') {
            column = Some(body.find('^').unwrap_or(0) as u32 + 1);
        } else if trimmed.split_once(':').is_some_and(|(kind, _)| kind.ends_with("Error") && !kind.contains(' ')) {
            message = Some(trimmed.to_owned());
            break;
        }
    }
    Some(TestFailure { name: String::new(), file: Some(file), line: Some(line), column, message: message? })
}

impl TestReport {
    /// A report from a runner's summary line (`Tests: 1 failed, 2 passed`); without one, the failures found
    /// are all it knows.
    fn from_summary(summary: Option<&str>, failures: Vec<TestFailure>) -> Self {
        let found = failures.len() as u32;
        let (passed, failed) = match summary {
            Some(line) => (count_before(line, " passed").unwrap_or(0), count_before(line, " failed").unwrap_or(found)),
            None => (0, found),
        };
        TestReport { passed, failed, failures, ..Default::default() }
    }
}

/// A number after `label` in a summary line (`Tests:       2 failed, 1 passed` -> `failed` -> 2).
fn count_before(line: &str, label: &str) -> Option<u32> {
    let at = line.find(label)?;
    line[..at].split(|c: char| !c.is_ascii_digit()).rfind(|s| !s.is_empty())?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::{Expect, expect};

    pub(crate) const AT_ROOT: Location<'static> = Location { root: "/workspace", cwd: "" };

    pub(crate) fn render(report: &TestReport) -> String {
        let mut out = format!("formats={:?} passed={} failed={}\n", report.formats, report.passed, report.failed);
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

    fn check(output: &str, location: Location<'_>, expected: Expect) {
        expected.assert_eq(&render(&parse_test_output(output, location)));
    }

    #[test]
    fn node20_tap() {
        check(
            include_str!("../../tests/data/node20-tap.txt"),
            AT_ROOT,
            expect![[r#"
                formats=["tap"] passed=1 failed=3
                /workspace/test/broken.test.js @ src/broken.js:2:10 | SyntaxError: Unexpected number
                adds @ test/sum.test.js:6:10 | Expected values to be strictly equal:\n\n-1 !== 3
                nested fails @ test/sum.test.js:15:11 | boom é
            "#]],
        );
    }

    #[test]
    fn node20_spec() {
        check(
            include_str!("../../tests/data/node20-spec.txt"),
            AT_ROOT,
            expect![[r#"
                formats=["spec"] passed=1 failed=3
                /workspace/test/broken.test.js @ src/broken.js:2:10 | SyntaxError: Unexpected number
                adds @ test/sum.test.js:6:10 | AssertionError [ERR_ASSERTION]: Expected values to be strictly equal:\n\n-1 !== 3
                nested fails @ test/sum.test.js:15:11 | Error: boom é
            "#]],
        );
    }

    #[test]
    fn jest29_in_a_subdirectory() {
        check(
            include_str!("../../tests/data/jest29.txt"),
            Location { root: "/workspace", cwd: "app" },
            expect![[r#"
                formats=["jest"] passed=1 failed=2
                sum › adds numbers @ app/__tests__/sum.test.js:5:23 | expect(received).toBe(expected) // Object.is equality\n\nExpected: 3\nReceived: -1
                throws @ app/__tests__/sum.test.js:14:9 | boom é
            "#]],
        );
    }

    #[test]
    fn vitest3() {
        check(
            include_str!("../../tests/data/vitest3.txt"),
            AT_ROOT,
            expect![[r#"
                formats=["vitest"] passed=1 failed=2
                sum > adds numbers @ test/sum.test.js:6:23 | AssertionError: expected -1 to be 3 // Object.is equality
                throws @ test/sum.test.js:15:9 | Error: boom é
            "#]],
        );
    }

    #[test]
    fn tsc5_errors_outside_the_workspace_lose_their_location() {
        check(
            include_str!("../../tests/data/tsc5.txt"),
            AT_ROOT,
            expect![[r#"
                formats=["tsc"] passed=0 failed=4
                TS2792 @ ?:?:? | ../node_modules/@types/babel__core/index.d.ts(2,31): Cannot find module '@babel/parser'. Did you mean to set the 'moduleResolution' option to 'nodenext', or to add aliases to the 'paths' option?
                TS2792 @ ?:?:? | ../node_modules/@types/babel__core/index.d.ts(5,20): Cannot find module '@babel/types'. Did you mean to set the 'moduleResolution' option to 'nodenext', or to add aliases to the 'paths' option?
                TS2322 @ src/a.ts:4:7 | Type 'string' is not assignable to type 'number'.
                TS2345 @ src/a.ts:5:8 | Argument of type 'string' is not assignable to parameter of type 'number'.
            "#]],
        );
    }

    #[test]
    fn several_formats_in_one_output_merge() {
        let output =
            format!("{}\n{}", include_str!("../../tests/data/tsc5.txt"), include_str!("../../tests/data/vitest3.txt"));
        let report = parse_test_output(&output, AT_ROOT);
        assert_eq!(report.formats, ["vitest", "tsc"]);
        assert_eq!(report.failures.len(), 6);
    }

    #[test]
    fn unknown_output_is_not_recognized() {
        let report = parse_test_output("Error: Cannot find module 'jest'\n", AT_ROOT);
        assert!(!report.recognized && report.failures.is_empty());
    }

    #[test]
    fn paths_become_workspace_relative() {
        let at = Location { root: "/workspace", cwd: "app" };
        assert_eq!(at.relative("file:///workspace/app/a.js").as_deref(), Some("app/a.js"));
        assert_eq!(at.relative("test/a.js").as_deref(), Some("app/test/a.js"));
        assert_eq!(at.relative("../lib/b.js").as_deref(), Some("lib/b.js"));
        assert_eq!(at.relative("../../etc/passwd"), None);
        assert_eq!(at.relative("/usr/lib/x.js"), None);
        assert_eq!(at.relative("/workspacefoo/x.js"), None);
    }
}
