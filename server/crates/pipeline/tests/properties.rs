//! Properties of the parsers of model replies and of the files a person edits, over generated cases
//! (proptest): no panic on any text; plan.md reads back what it was written from.

use proptest::prelude::*;
use samokoder_pipeline::edit_format::parse_edits;
use samokoder_pipeline::oracle::extract;
use samokoder_pipeline::plan_md::{parse, render};
use samokoder_pipeline::questions_md::answers;
use samokoder_pipeline::state::PlanTask;
use samokoder_pipeline::{is_test_file, parse_whole_files};

/// Reply-like text: paths, fences, SEARCH/REPLACE markers, diff headers, prose, in any order.
fn reply_like() -> impl Strategy<Value = String> {
    let line = prop_oneof![
        Just("src/a.js".to_owned()),
        Just("```js".to_owned()),
        Just("```".to_owned()),
        Just("````".to_owned()),
        Just("<<<<<<< SEARCH".to_owned()),
        Just("=======".to_owned()),
        Just(">>>>>>> REPLACE".to_owned()),
        Just("--- a/src/a.js".to_owned()),
        Just("+++ b/src/a.js".to_owned()),
        Just("@@ -1,2 +1,2 @@".to_owned()),
        Just("Change:".to_owned()),
        Just("To:".to_owned()),
        Just(">>> f([1, 2])".to_owned()),
        Just("f('a') returns 'b'".to_owned()),
        "[ \t\u{a0}\u{3000}]{0,2}[a-z(){};'\"é+\\-]{0,10}",
    ];
    prop::collection::vec(line, 0..16).prop_map(|lines| lines.join("\n"))
}

/// A title or detail as plan.md keeps it: one line, trimmed, no comment or checkbox syntax.
fn words() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9é][a-zA-Z0-9é ,.()]{0,20}[a-zA-Z0-9é.)]".prop_map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
}

fn task() -> impl Strategy<Value = PlanTask> {
    (
        prop::option::of(1u32..50),
        0usize..3,
        words(),
        prop::collection::vec(words(), 0..3),
        prop::option::of(words()),
        any::<bool>(),
    )
        .prop_map(|(id, epic, title, details, test, done)| PlanTask {
            id: id.map(|n| format!("t{n}")),
            epic: ["", "Store", "Web page"][epic].to_owned(),
            title,
            description: details
                .iter()
                .filter(|d| !d.starts_with("Test:") && !d.starts_with("test:"))
                .cloned()
                .collect::<Vec<_>>()
                .join("\n"),
            test: test.unwrap_or_default(),
            done,
            line: 0,
        })
}

proptest! {
    #[test]
    fn reply_parsers_never_panic(reply in prop_oneof![reply_like(), any::<String>()]) {
        let _ = parse_whole_files(&reply);
        let _ = parse_edits(&reply);
        let _ = answers(&reply, 3);
        let lines: Vec<(u32, String)> = reply.lines().enumerate().map(|(i, l)| (i as u32 + 1, l.to_owned())).collect();
        let _ = extract::examples(&lines, "the description", None);
        let _ = is_test_file(&reply);
        let _ = parse(&reply);
    }

    #[test]
    fn plan_md_reads_back_what_it_was_written_from(mut tasks in prop::collection::vec(task(), 1..6)) {
        // Ids are unique in a plan the run writes (a copied id is a new task, by design).
        let mut seen = std::collections::HashSet::new();
        for t in &mut tasks {
            if let Some(id) = &t.id && !seen.insert(id.clone()) {
                t.id = None;
            }
        }
        let text = render(&tasks);
        let read = parse(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        let strip = |t: &PlanTask| (t.id.clone(), t.epic.clone(), t.title.clone(), t.description.clone(), t.test.clone(), t.done);
        prop_assert_eq!(read.iter().map(strip).collect::<Vec<_>>(), tasks.iter().map(strip).collect::<Vec<_>>(), "{}", text);
    }
}
