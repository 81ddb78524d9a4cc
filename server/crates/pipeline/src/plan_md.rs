//! `.samokoder/plan.md`: the plan in a form a person edits. Epics are `## ` headings, tasks are checkbox
//! items with their details indented under them, and each task carries its id in an HTML comment that
//! Markdown viewers hide:
//!
//! ```text
//! ## Todo store
//!
//! - [ ] Add, complete and remove todos <!-- id:t1 -->
//!   A module src/todos.js with add(title), complete(id), remove(id) and list().
//!   Test: node --test test/todos.test.js
//! ```
//!
//! The run reads it before each task: a task the user added (no id yet), removed, reworded, reordered or
//! ticked is honoured. A line that is none of these is an error that names the line; the run then pauses
//! instead of guessing.

use crate::state::PlanTask;

pub const PLAN_FILE: &str = "plan.md";

const INTRO: &str = "<!-- Samokoder reads this plan before each task. Edit it freely: reword, reorder, add (`- [ ] what \
                     to do`) or remove tasks, and tick one (`- [x]`) to skip it. Details go on lines indented under \
                     their task; a line starting with `Test:` says how the task is tested. -->";

/// A line of plan.md that is not a task, an epic or a detail; 1-based.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("plan.md line {line}: {message}")]
pub struct PlanError {
    pub line: usize,
    pub message: String,
}

/// The whole file for these tasks.
pub fn render(tasks: &[PlanTask]) -> String {
    let mut out = format!("# Plan\n\n{INTRO}\n");
    let mut epic: Option<&str> = None;
    for task in tasks {
        if epic != Some(task.epic.as_str()) {
            let after_a_named_one = epic.is_some_and(|e| !e.is_empty());
            epic = Some(&task.epic);
            if !task.epic.is_empty() {
                out.push_str(&format!("\n## {}\n", one_line(&task.epic)));
            } else if after_a_named_one {
                // A heading with no name ends the epic before (else the task would be read as one of it).
                out.push_str("\n##\n");
            }
            out.push('\n');
        }
        let id = task.id.as_deref().map(|id| format!(" <!-- id:{id} -->")).unwrap_or_default();
        out.push_str(&format!("- [{}] {}{id}\n", if task.done { "x" } else { " " }, one_line(&task.title)));
        for line in task.description.lines().map(str::trim).filter(|l| !l.is_empty()) {
            out.push_str(&format!("  {line}\n"));
        }
        if !task.test.trim().is_empty() {
            out.push_str(&format!("  Test: {}\n", one_line(&task.test)));
        }
    }
    out
}

/// The tasks of plan.md, in order.
pub fn parse(text: &str) -> Result<Vec<PlanTask>, PlanError> {
    let mut tasks: Vec<PlanTask> = Vec::new();
    let mut epic = String::new();
    let mut in_comment = false;
    let mut seen_structure = false;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let trimmed = raw.trim();
        if in_comment {
            in_comment = !trimmed.contains("-->");
            continue;
        }
        if trimmed.starts_with("<!--") {
            in_comment = !trimmed.contains("-->");
            continue;
        }
        if trimmed.is_empty() {
            continue;
        }
        if let Some(heading) = trimmed.strip_prefix("## ").or((trimmed == "##").then_some("")) {
            epic = heading.trim().to_owned();
            seen_structure = true;
            continue;
        }
        if trimmed.starts_with("# ") {
            continue;
        }
        let indented = raw.starts_with("  ") || raw.starts_with('\t');
        if let Some(rest) = trimmed.strip_prefix("- [").or_else(|| trimmed.strip_prefix("* [")).filter(|_| !indented) {
            let Some((mark, title)) = rest.split_once(']') else {
                return Err(PlanError { line, message: format!("`{trimmed}` opens a checkbox it does not close") });
            };
            let done = match mark {
                " " | "" => false,
                "x" | "X" => true,
                other => {
                    return Err(PlanError {
                        line,
                        message: format!("`[{other}]` is not a checkbox: write `[ ]` (to do) or `[x]` (done)"),
                    });
                }
            };
            let (title, id) = split_id(title);
            if title.is_empty() {
                return Err(PlanError { line, message: "a task with no text: say what to do, or remove it".into() });
            }
            seen_structure = true;
            tasks.push(PlanTask {
                id,
                epic: epic.clone(),
                title,
                description: String::new(),
                test: String::new(),
                done,
                line,
            });
            continue;
        }
        match tasks.last_mut() {
            Some(task) if indented => {
                if let Some(test) = trimmed.strip_prefix("Test:").or_else(|| trimmed.strip_prefix("test:")) {
                    task.test = test.trim().to_owned();
                } else {
                    if !task.description.is_empty() {
                        task.description.push('\n');
                    }
                    task.description.push_str(trimmed);
                }
            }
            // Free text before the first epic or task (a note under the title) is allowed.
            _ if !seen_structure => {}
            _ => {
                return Err(PlanError {
                    line,
                    message: format!(
                        "`{}` is not a task (`- [ ] what to do`), an epic (`## name`), or a detail indented under a \
                         task",
                        trimmed.chars().take(60).collect::<String>()
                    ),
                });
            }
        }
    }
    if tasks.is_empty() {
        return Err(PlanError {
            line: text.lines().count().max(1),
            message: "the plan has no tasks: add one (`- [ ] what to do`)".into(),
        });
    }
    // A copied line carries its id twice: the second copy is a new task.
    let mut seen = std::collections::HashSet::new();
    for task in &mut tasks {
        if let Some(id) = &task.id
            && !seen.insert(id.clone())
        {
            task.id = None;
        }
    }
    Ok(tasks)
}

/// Gives every task without an id one (`t<n>`, after the highest in use), in the text and in `tasks`.
pub fn assign_ids(text: &str, tasks: &mut [PlanTask]) -> String {
    let mut next =
        tasks.iter().filter_map(|t| t.id.as_deref()?.strip_prefix('t')?.parse::<u32>().ok()).max().unwrap_or(0);
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    for task in tasks.iter_mut().filter(|t| t.id.is_none()) {
        next += 1;
        let id = format!("t{next}");
        if let Some(line) = lines.get_mut(task.line - 1)
            && let Some(open) = line.find('[')
            && let Some(close) = line[open..].find(']').map(|c| open + c)
        {
            // A duplicated id is replaced; a missing one appended.
            let (title, _) = split_id(&line[close + 1..]);
            *line = format!("{} {title} <!-- id:{id} -->", &line[..=close]);
        }
        task.id = Some(id);
    }
    join_lines(text, lines)
}

/// The text with the task `id` ticked.
pub fn tick(text: &str, id: &str) -> String {
    let marker = format!("<!-- id:{id} -->");
    let lines: Vec<String> = text
        .lines()
        .map(|line| {
            if line.contains(&marker)
                && (line.trim_start().starts_with("- [ ]") || line.trim_start().starts_with("* [ ]"))
            {
                line.replacen("[ ]", "[x]", 1)
            } else {
                line.to_owned()
            }
        })
        .collect();
    join_lines(text, lines)
}

fn join_lines(original: &str, lines: Vec<String>) -> String {
    let mut out = lines.join("\n");
    if original.ends_with('\n') {
        out.push('\n');
    }
    out
}

/// The title without its id comment, and the id.
fn split_id(title: &str) -> (String, Option<String>) {
    let title = title.trim();
    if let Some(start) = title.rfind("<!-- id:")
        && let Some(end) = title[start..].find("-->")
    {
        let id = title[start + "<!-- id:".len()..start + end].trim().to_owned();
        let rest = format!("{}{}", &title[..start], &title[start + end + 3..]);
        return (rest.trim().to_owned(), (!id.is_empty()).then_some(id));
    }
    (title.to_owned(), None)
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_with_no_epic_after_one_with_an_epic_stays_without() {
        // Found by the property test (tests/properties.rs): it was read back as part of the epic before.
        let tasks = [task("t1", "Store", "Add"), task("t2", "", "Loose end")];
        let text = render(&tasks);
        assert!(text.contains("\n##\n"), "{text}");
        let read = parse(&text).unwrap();
        assert_eq!((read[0].epic.as_str(), read[1].epic.as_str()), ("Store", ""));
    }

    fn task(id: &str, epic: &str, title: &str) -> PlanTask {
        PlanTask {
            id: Some(id.into()),
            epic: epic.into(),
            title: title.into(),
            description: "Details.\nMore details.".into(),
            test: "node --test".into(),
            done: false,
            line: 0,
        }
    }

    #[test]
    fn render_then_parse_gives_the_tasks_back() {
        let tasks =
            vec![task("t1", "Store", "Add todos"), task("t2", "Store", "Remove todos"), task("t3", "CLI", "A CLI")];
        let text = render(&tasks);
        assert!(
            text.contains(
                "## Store\n\n- [ ] Add todos <!-- id:t1 -->\n  Details.\n  More details.\n  Test: node --test\n"
            ),
            "{text}"
        );
        let parsed = parse(&text).unwrap();
        let strip = |t: &PlanTask| PlanTask { line: 0, ..t.clone() };
        assert_eq!(parsed.iter().map(strip).collect::<Vec<_>>(), tasks);
        assert_eq!(text.lines().nth(parsed[0].line - 1).unwrap(), "- [ ] Add todos <!-- id:t1 -->");
    }

    #[test]
    fn a_persons_edits_are_read() {
        let text = "# Plan\n\nSome notes of mine.\n\n## Store\n\n- [x] Add todos <!-- id:t1 -->\n* [ ] Remove todos, reworded <!-- id:t2 -->\n  Test: the remove test\n- [ ] A task I added\n    with a detail\n";
        let tasks = parse(text).unwrap();
        let summary: Vec<(Option<&str>, &str, bool, &str)> =
            tasks.iter().map(|t| (t.id.as_deref(), t.title.as_str(), t.done, t.test.as_str())).collect();
        assert_eq!(
            summary,
            [
                (Some("t1"), "Add todos", true, ""),
                (Some("t2"), "Remove todos, reworded", false, "the remove test"),
                (None, "A task I added", false, ""),
            ]
        );
        assert_eq!(tasks[2].description, "with a detail");
    }

    #[test]
    fn a_broken_line_is_named() {
        let cases = [
            ("## E\n- [ ] fine <!-- id:t1 -->\nwhat is this\n", 3, "is not a task"),
            ("## E\n- [?] maybe\n", 2, "is not a checkbox"),
            ("## E\n- [ ]   \n", 2, "a task with no text"),
            ("## E\n- [ unclosed\n", 2, "does not close"),
            ("# Plan\n\n## E\n", 3, "no tasks"),
        ];
        for (text, line, says) in cases {
            let err = parse(text).unwrap_err();
            assert_eq!(err.line, line, "{text:?}: {err}");
            assert!(
                err.to_string().contains(says) && err.to_string().starts_with(&format!("plan.md line {line}:")),
                "{err}"
            );
        }
    }

    #[test]
    fn new_and_copied_tasks_get_ids_and_ticking_marks_one() {
        let text = "## E\n- [ ] one <!-- id:t2 -->\n- [ ] copy <!-- id:t2 -->\n- [x] new\n";
        let mut tasks = parse(text).unwrap();
        let text = assign_ids(text, &mut tasks);
        assert_eq!(text, "## E\n- [ ] one <!-- id:t2 -->\n- [ ] copy <!-- id:t3 -->\n- [x] new <!-- id:t4 -->\n");
        let ids: Vec<&str> = tasks.iter().map(|t| t.id.as_deref().unwrap()).collect();
        assert_eq!(ids, ["t2", "t3", "t4"]);
        assert_eq!(tick(&text, "t3"), text.replace("- [ ] copy", "- [x] copy"));
        assert_eq!(tick(&text, "t9"), text);
    }
}
