//! Jest: `FAIL <file>` headers, a `● <suite> › <test>` block per failure (message, code frame, stack), and
//! the `Tests:` summary line. Paths are relative to the command's directory.

use super::{Location, TestFailure, TestReport};

pub(super) fn parse(output: &str, location: Location<'_>) -> Option<TestReport> {
    let lines: Vec<&str> = output.lines().collect();
    let summary = lines.iter().find(|l| l.starts_with("Tests:"));
    let headed = lines.iter().any(|l| l.starts_with("FAIL ") || l.starts_with("PASS "));
    if summary.is_none() && !headed {
        return None;
    }
    let mut failures = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let Some(name) = lines[i].strip_prefix("  ● ") else {
            i += 1;
            continue;
        };
        let body: Vec<&str> = lines[i + 1..]
            .iter()
            .take_while(|l| {
                !l.starts_with("  ● ")
                    && !l.starts_with("Test Suites:")
                    && !l.starts_with("FAIL ")
                    && !l.starts_with("PASS ")
            })
            .copied()
            .collect();
        i += 1 + body.len();
        // The message runs until the code frame (`  > 5 | ...`, ` 4 | ...`) or the stack.
        let message_lines: Vec<&str> = body
            .iter()
            .map(|l| l.strip_prefix("    ").unwrap_or(l.trim_start()))
            .take_while(|l| !is_code_frame(l) && !l.trim_start().starts_with("at "))
            .collect();
        let message = message_lines.join("\n").trim().to_owned();
        let at = body.iter().filter(|l| l.trim_start().starts_with("at ")).find_map(|l| location.locate(l));
        let (file, line, column) = match at {
            Some((file, line, column)) => (Some(file), Some(line), column),
            None => (None, None, None),
        };
        failures.push(TestFailure { name: name.trim().to_owned(), file, line, column, message });
    }
    Some(TestReport::from_summary(summary.copied(), failures))
}

fn is_code_frame(line: &str) -> bool {
    let t = line.trim_start().trim_start_matches('>').trim_start();
    let digits = t.chars().take_while(|c| c.is_ascii_digit()).count();
    (digits > 0 && t[digits..].trim_start().starts_with('|'))
        || (t.starts_with('|') && t.trim_start_matches('|').trim().chars().all(|c| c == '^'))
}
