//! Node's test runner in spec form: `✔`/`✖` lines, `ℹ pass N` / `ℹ fail N`, and the `✖ failing tests:`
//! section that repeats each failure after `test at <file:line:col>` with its message and stack.

use super::{Location, TestFailure, TestReport, loader_error};

pub(super) fn parse(output: &str, location: Location<'_>) -> Option<TestReport> {
    let lines: Vec<&str> = output.lines().collect();
    let summary = |label: &str| {
        lines.iter().find_map(|l| l.trim_start().strip_prefix(label)).and_then(|n| n.trim().parse::<u32>().ok())
    };
    let (pass, fail) = (summary("ℹ pass "), summary("ℹ fail "));
    if pass.is_none() && fail.is_none() && !lines.iter().any(|l| l.trim_start().starts_with("✖ ")) {
        return None;
    }
    let mut loader_errors: Vec<TestFailure> = (0..lines.len())
        .filter(|&i| !lines[i].starts_with(' '))
        .filter_map(|i| loader_error(&lines, i, location))
        .collect();
    loader_errors.reverse();

    let mut failures = Vec::new();
    let section = lines.iter().position(|l| l.trim() == "✖ failing tests:");
    let start = section.map_or(0, |s| s + 1);
    let mut i = start;
    while i < lines.len() {
        let line = lines[i];
        let declared = line.strip_prefix("test at ").and_then(|at| location.locate(at));
        let head = if declared.is_some() { lines.get(i + 1).copied() } else { Some(line) };
        let Some(name) = head.and_then(|h| h.trim_start().strip_prefix("✖ ")) else {
            i += 1;
            continue;
        };
        let body_start = i + if declared.is_some() { 2 } else { 1 };
        let body: Vec<&str> = lines[body_start..]
            .iter()
            .take_while(|l| l.starts_with("  ") || l.trim().is_empty())
            .take_while(|l| !l.starts_with("test at "))
            .copied()
            .collect();
        i = body_start + body.len().max(1);
        if section.is_none() && body.iter().all(|l| l.trim().is_empty()) {
            continue; // a suite's summary line in the main listing
        }
        let name = name.rsplit_once(" (").map_or(name, |(n, _)| n).to_owned();
        let message_lines: Vec<&str> = body
            .iter()
            .map(|l| l.trim())
            .take_while(|l| !l.starts_with("at ") && *l != "{" && !l.ends_with('{'))
            .collect();
        let message = message_lines.join("\n").trim().trim_matches('\'').to_owned();
        let frame = body.iter().filter(|l| l.trim_start().starts_with("at ")).find_map(|l| location.locate(l));
        if frame.is_none()
            && message == "test failed"
            && let Some(mut loaded) = loader_errors.pop()
        {
            loaded.name = name;
            failures.push(loaded);
            continue;
        }
        let (file, line, column) = match frame.or(declared) {
            Some((file, line, column)) => (Some(file), Some(line), column),
            None => (None, None, None),
        };
        failures.push(TestFailure { name, file, line, column, message });
    }
    Some(TestReport {
        passed: pass.unwrap_or(0),
        failed: fail.unwrap_or(failures.len() as u32),
        failures,
        ..Default::default()
    })
}
