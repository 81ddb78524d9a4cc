//! TypeScript's compiler: `file(line,col): error TSnnnn: message`, or with `--pretty`,
//! `file:line:col - error TSnnnn: message`.

use super::{Location, TestFailure, TestReport};

pub(super) fn parse(output: &str, location: Location<'_>) -> Option<TestReport> {
    let failures: Vec<TestFailure> = output.lines().filter_map(|l| error_line(l, location)).collect();
    if failures.is_empty() {
        return None;
    }
    Some(TestReport { passed: 0, failed: failures.len() as u32, failures, ..Default::default() })
}

fn error_line(line: &str, location: Location<'_>) -> Option<TestFailure> {
    let (place, rest) = line.split_once(": error TS").or_else(|| line.split_once(" - error TS"))?;
    let (code, message) = rest.split_once(": ")?;
    if !code.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    // `file(line,col)` or `file:line:col`.
    let (path, line_no, column) = if let Some(open) = place.rfind('(') {
        let (l, c) = place[open + 1..].trim_end_matches(')').split_once(',')?;
        (&place[..open], l.parse().ok()?, c.parse().ok()?)
    } else {
        let mut parts = place.rsplitn(3, ':');
        let c = parts.next()?.parse().ok()?;
        let l = parts.next()?.parse().ok()?;
        (parts.next()?, l, c)
    };
    let name = format!("TS{code}");
    Some(match location.relative(path) {
        Some(file) => TestFailure {
            name,
            file: Some(file),
            line: Some(line_no),
            column: Some(column),
            message: message.to_owned(),
        },
        None => TestFailure { name, file: None, line: None, column: None, message: format!("{place}: {message}") },
    })
}
