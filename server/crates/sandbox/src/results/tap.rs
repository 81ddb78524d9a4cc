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
            if value.is_empty() {
                // A value written as a nested map (Node writes `expected: [1, 2, 3]` as `0: 1`, `1: 2`, ...
                // on lines of their own), read back as a JavaScript literal.
                let (literal, next) = nested(lines, i + 1, key_indent);
                if next > i + 1 {
                    fields.push((key.to_owned(), literal));
                    i = next;
                    continue;
                }
            }
            fields.push((key.to_owned(), unquote(value)));
        }
        i += 1;
    }
    (fields, i)
}

/// The entries indented deeper than `parent` from `start` (`key: value` or `- value`, nested in turn), as
/// a JavaScript literal: an array when the keys are 0, 1, 2... or the entries are `- ` items, an object
/// otherwise. Returns the literal and the index after the entries.
fn nested(lines: &[&str], start: usize, parent: usize) -> (String, usize) {
    let indent_of = |l: &str| l.len() - l.trim_start().len();
    let Some(first) = lines.get(start).filter(|l| !l.trim().is_empty() && indent_of(l) > parent) else {
        return (String::new(), start);
    };
    let indent = indent_of(first);
    let mut entries: Vec<(Option<String>, String)> = Vec::new();
    let mut i = start;
    while let Some(line) = lines.get(i) {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || indent_of(line) != indent || trimmed == "..." {
            break;
        }
        let (key, value) = match trimmed.strip_prefix("- ").or_else(|| (trimmed == "-").then_some("")) {
            Some(item) => (None, item.trim()),
            None => match trimmed.split_once(':') {
                Some((key, value)) => (Some(key.trim().to_owned()), value.trim()),
                None => break,
            },
        };
        i += 1;
        let value = if value.is_empty() {
            let (literal, next) = nested(lines, i, indent);
            i = next;
            literal
        } else {
            value.to_owned()
        };
        entries.push((key, value));
    }
    let is_array = entries.iter().enumerate().all(|(n, (key, _))| key.as_ref().is_none_or(|k| *k == n.to_string()));
    let literal = if is_array {
        let items: Vec<&str> = entries.iter().map(|(_, v)| v.as_str()).collect();
        format!("[{}]", items.join(", "))
    } else {
        let items: Vec<String> =
            entries.iter().map(|(k, v)| format!("{}: {v}", k.as_deref().unwrap_or_default())).collect();
        format!("{{ {} }}", items.join(", "))
    };
    (literal, i)
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
    use super::super::tests::{AT_ROOT, render};
    use super::*;

    fn failure_of(yaml: &str) -> String {
        let output = format!("TAP version 13\nnot ok 1 - t\n  ---\n{yaml}  ...\n1..1\n# pass 0\n# fail 1\n");
        render(&parse(&output, AT_ROOT).unwrap())
    }

    #[test]
    fn a_deep_equal_failure_says_what_was_expected_and_what_came() {
        // Node 20's block for `assert.deepEqual(range(1, 3), [1, 2, 3])` when range gives [1, 2].
        let yaml = "  error: |-\n    Expected values to be strictly deep-equal:\n    + actual - expected\n\n      [\n        1,\n        2,\n    -   3\n      ]\n  code: 'ERR_ASSERTION'\n  expected:\n    0: 1\n    1: 2\n    2: 3\n  actual:\n    0: 1\n    1: 2\n  operator: 'deepStrictEqual'\n";
        let rendered = failure_of(yaml);
        assert!(rendered.ends_with("\\nexpected: [1, 2, 3]\\nactual: [1, 2]\n"), "{rendered}");
    }

    #[test]
    fn nested_objects_and_lists_read_back_as_literals() {
        let yaml = "  error: 'Expected values to be strictly deep-equal'\n  expected:\n    name: 'a'\n    tags:\n      - 'x'\n      - 'y'\n    empty: []\n  actual:\n    name: 'a'\n  operator: 'deepStrictEqual'\n";
        let rendered = failure_of(yaml);
        assert!(
            rendered.ends_with("\\nexpected: { name: 'a', tags: ['x', 'y'], empty: [] }\\nactual: { name: 'a' }\n"),
            "{rendered}"
        );
    }

    #[test]
    fn a_key_with_nothing_under_it_stays_empty() {
        let yaml = "  error: 'boom'\n  expected:\n  actual: 2\n";
        assert!(failure_of(yaml).ends_with("| boom\\nexpected: \\nactual: 2\n"), "{}", failure_of(yaml));
    }
}
