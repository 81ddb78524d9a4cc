//! Node's test runner in TAP form: each `not ok` with its YAML block, nested subtests, and a file that
//! fails to load (the loader's error, which Node prints as TAP comments before the failure).

use super::{Location, TestFailure, TestReport, loader_error};

pub(super) fn parse(output: &str, location: Location<'_>) -> Option<TestReport> {
    let lines: Vec<&str> = output.lines().collect();
    let mut report = TestReport::default();
    let mut recognized = false;
    let (mut summary_pass, mut summary_fail) = (None, None);
    let mut load_error: Option<TestFailure> = None;
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        if trimmed.starts_with("TAP version ") {
            recognized = true;
        } else if indent == 0
            && let Some(n) = trimmed.strip_prefix("# pass ")
        {
            summary_pass = n.trim().parse().ok();
        } else if indent == 0
            && let Some(n) = trimmed.strip_prefix("# fail ")
        {
            summary_fail = n.trim().parse().ok();
        } else if trimmed.starts_with("# ")
            && let Some(found) = loader_error(&lines, i, location)
        {
            load_error = Some(found);
        } else if let Some(rest) = trimmed.strip_prefix("not ok ") {
            recognized = true;
            let name = rest.split_once(" - ").map(|(_, n)| n).unwrap_or(rest).trim();
            let name = name.split(" # ").next().unwrap_or(name).to_owned();
            let (block, next) = yaml_block(&lines, i + 1, indent);
            i = next;
            let failure_type = field(&block, "failureType").unwrap_or_default();
            let suite = field(&block, "type").as_deref() == Some("suite");
            if failure_type == "subtestsFailed" || (suite && failure_type != "testCodeFailure") {
                continue; // the subtests that failed are reported themselves
            }
            report.failures.push(failure(name, &block, location, load_error.take()));
            continue;
        } else if trimmed.starts_with("ok ") && trimmed[3..].starts_with(|c: char| c.is_ascii_digit()) {
            recognized = true;
        }
        i += 1;
    }
    if !recognized {
        return None;
    }
    report.failed = summary_fail.unwrap_or(report.failures.len() as u32);
    report.passed = summary_pass.unwrap_or(0);
    Some(report)
}

fn failure(
    name: String,
    block: &[(String, String)],
    location: Location<'_>,
    load_error: Option<TestFailure>,
) -> TestFailure {
    let error = field(block, "error").unwrap_or_default();
    let stack = field(block, "stack").unwrap_or_default();
    if let Some(mut loaded) = load_error.filter(|_| stack.is_empty()) {
        // A file that failed to load: the loader said where.
        loaded.name = name;
        return loaded;
    }
    let at = stack
        .lines()
        .filter_map(|l| location.locate(l))
        .next()
        .or_else(|| field(block, "location").and_then(|l| location.locate(&l)));
    let mut message = error.trim().to_owned();
    if let (Some(expected), Some(actual)) = (field(block, "expected"), field(block, "actual"))
        && (!message.contains(&expected) || !message.contains(&actual))
    {
        message.push_str(&format!("\nexpected: {expected}\nactual: {actual}"));
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

/// The YAML block after a test line (`---` ... `...`), as flat `key: value` pairs with block scalars
/// joined. Returns the pairs and the index after the block.
fn yaml_block(lines: &[&str], start: usize, test_indent: usize) -> (Vec<(String, String)>, usize) {
    let mut fields = Vec::new();
    let Some(open) = lines.get(start) else { return (fields, start) };
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
