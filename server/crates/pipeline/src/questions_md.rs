//! `.samokoder/questions.md`: the spec writer's questions as a file, for editors that cannot ask (Helix shows
//! no `window/showMessageRequest`; no client but ours answers `samokoder/ask`). The run writes the questions
//! with an answer slot under each, shows the file and pauses (the pause is durable: the run is `paused` in the
//! store, so it survives a restart); "Samokoder: submit answers" on the file resumes it, and the spec writer
//! reads the slots. Slots left empty are reported and the run waits again: an answer is never guessed.

use crate::state::Question;

pub const QUESTIONS_FILE: &str = "questions.md";
const ANSWER: &str = "Answer:";

/// The file for `questions` of run `run_id`.
pub fn render(run_id: &str, questions: &[Question]) -> String {
    let mut text = format!(
        "# Questions from Samokoder\n\nRun {run_id} waits for your answers. Write each one after `{ANSWER}` (more lines are \
         fine), save, then pick the code action \"Samokoder: submit answers\" on this file (in a terminal: \
         `samokoder resume`). Do not change the numbered headings.\n"
    );
    for (i, q) in questions.iter().enumerate() {
        text.push_str(&format!("\n## {}. {}\n\n", i + 1, q.question.trim()));
        if !q.suggestions.is_empty() {
            text.push_str(&format!("Suggestions: {}\n\n", q.suggestions.join("; ")));
        }
        text.push_str(&format!("{ANSWER} {}\n", q.answer.as_deref().unwrap_or("").trim()));
    }
    text
}

/// The run a questions file belongs to (its line `Run <id> waits for your answers`).
pub fn run_of(text: &str) -> Option<&str> {
    text.lines().take(4).find_map(|l| l.strip_prefix("Run ")?.split_whitespace().next())
}

/// Whether `text` is the questions file of run `run_id`.
pub fn is_for(text: &str, run_id: &str) -> bool {
    run_of(text) == Some(run_id)
}

/// The answers in the file, by question number (1-based): `None` for an empty slot or a missing question.
pub fn answers(text: &str, count: usize) -> Vec<Option<String>> {
    let mut found: Vec<Option<String>> = vec![None; count];
    let mut current: Option<usize> = None;
    let mut answer: Option<String> = None;
    let mut flush = |current: Option<usize>, answer: &mut Option<String>| {
        if let (Some(n), Some(a)) = (current, answer.take()) {
            let a = a.trim().to_owned();
            if n >= 1 && n <= count && !a.is_empty() {
                found[n - 1] = Some(a);
            }
        }
    };
    for line in text.lines() {
        if let Some(heading) = line.strip_prefix("## ") {
            flush(current, &mut answer);
            current = heading.split_once('.').and_then(|(n, _)| n.trim().parse().ok());
        } else if let Some(rest) = line.strip_prefix(ANSWER) {
            answer = Some(rest.to_owned());
        } else if let Some(a) = answer.as_mut() {
            a.push('\n');
            a.push_str(line);
        }
    }
    flush(current, &mut answer);
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(question: &str, suggestions: &[&str]) -> Question {
        Question {
            question: question.into(),
            suggestions: suggestions.iter().map(|s| s.to_string()).collect(),
            answer: None,
        }
    }

    #[test]
    fn slots_round_trip_and_empty_ones_stay_unanswered() {
        let questions =
            [q("Which database?", &["SQLite", "PostgreSQL"]), q("Who signs in?", &[]), q("Dark mode?", &[])];
        let text = render("r1", &questions);
        assert!(is_for(&text, "r1") && !is_for(&text, "r2"), "{text}");
        assert!(text.contains("## 1. Which database?\n\nSuggestions: SQLite; PostgreSQL\n\nAnswer: \n"), "{text}");
        assert_eq!(answers(&text, 3), vec![None, None, None]);

        let filled = text
            .replace("Answer: \n\n## 2.", "Answer: PostgreSQL\n\n## 2.")
            .replace("## 3. Dark mode?\n\nAnswer: ", "## 3. Dark mode?\n\nAnswer: yes,\nwith a toggle");
        assert_eq!(answers(&filled, 3), vec![Some("PostgreSQL".into()), None, Some("yes,\nwith a toggle".into())]);
        // A heading the user broke, or a number out of range, answers nothing.
        assert_eq!(answers("## x. What?\nAnswer: a\n## 9. Why?\nAnswer: b\n", 3), vec![None, None, None]);
    }
}
