//! Vitest: a ` FAIL  <file> > <suite> > <test>` header per failure, the error on the next line, the
//! location on a `❯ <file:line:col>` line, and the `Tests  N failed | M passed` summary.

use super::{Location, TestFailure, TestReport};

pub(super) fn parse(output: &str, location: Location<'_>) -> Option<TestReport> {
    let lines: Vec<&str> = output.lines().collect();
    let summary = lines.iter().map(|l| l.trim_start()).find(|l| l.starts_with("Tests ") && l.contains('('));
    let started = lines.iter().any(|l| l.trim_start().starts_with("RUN  v"));
    if summary.is_none() && !started {
        return None;
    }
    let mut failures = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(head) = line.trim_start().strip_prefix("FAIL  ") else { continue };
        let (file, name) = head.split_once(" > ").unwrap_or((head, ""));
        let name = if name.is_empty() { file.split(" [").next().unwrap_or(file) } else { name };
        let body: Vec<&str> = lines[i + 1..]
            .iter()
            .take_while(|l| !l.trim_start().starts_with("FAIL  ") && !l.contains("⎯⎯⎯"))
            .copied()
            .collect();
        let message = body.iter().map(|l| l.trim()).find(|l| !l.is_empty()).unwrap_or("test failed").to_owned();
        let at = body.iter().filter_map(|l| l.trim_start().strip_prefix("❯ ")).find_map(|l| location.locate(l));
        let (file, line, column) = match at {
            Some((file, line, column)) => (Some(file), Some(line), column),
            None => (location.relative(file.trim()), None, None),
        };
        failures.push(TestFailure { name: name.trim().to_owned(), file, line, column, message });
    }
    Some(TestReport::from_summary(summary, failures))
}
