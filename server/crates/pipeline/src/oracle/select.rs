//! Choosing among candidates by running them (CodeT's dual execution agreement, Chen et al. 2022): every
//! candidate runs every check. A candidate that fails a stated example is out. The rest are grouped by what
//! they do (the same output on every call made), and a group scores its number of candidates times the
//! generated tests it passes: code that many samples agree on and that passes the tests most of them pass.
//! Tests that only one candidate passes weigh little, and a candidate that copied the stated examples into
//! a lookup table stands alone on every other input. When the two best groups score the same and give
//! different results for some call, nothing settles it: that is a question for the user.

use std::collections::BTreeMap;

/// What one candidate did on the calls made (the same calls, in the same order, for every candidate).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    /// Per stated example: it held.
    pub examples: Vec<bool>,
    /// Per generated test: it passed.
    pub tests: Vec<bool>,
    /// Per call (examples, then tests): what came back, as printed.
    pub outputs: Vec<String>,
}

/// The candidate to land, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub index: usize,
    /// It meets every stated example.
    pub meets_examples: bool,
    /// The candidates that behave as it does (itself included).
    pub agreeing: Vec<usize>,
    pub tests_passed: usize,
    /// Two best groups that tie and differ: the first call they differ on, and each group's answer.
    pub dispute: Option<Dispute>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dispute {
    /// Index into the calls.
    pub call: usize,
    /// The answers, the chosen group's first, each with the candidates that gave it.
    pub answers: Vec<(String, Vec<usize>)>,
}

/// Chooses among `runs` (one per candidate, in the order drawn: ties go to the earlier, the least random
/// draw). `None` when there is no candidate.
pub fn choose(runs: &[Run]) -> Option<Choice> {
    let best_examples = runs.iter().map(|r| r.examples.iter().filter(|ok| **ok).count()).max()?;
    let meets = |r: &Run| r.examples.iter().filter(|ok| **ok).count() == best_examples;
    let meets_examples = runs.iter().any(|r| r.examples.iter().all(|ok| *ok));
    // Group the eligible by behaviour, in the order their first member was drawn.
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut by_outputs: BTreeMap<&[String], usize> = BTreeMap::new();
    for (i, run) in runs.iter().enumerate().filter(|(_, r)| meets(r)) {
        match by_outputs.get(run.outputs.as_slice()) {
            Some(&g) => groups[g].push(i),
            None => {
                by_outputs.insert(&run.outputs, groups.len());
                groups.push(vec![i]);
            }
        }
    }
    let passed = |g: &[usize]| runs[g[0]].tests.iter().filter(|ok| **ok).count();
    // CodeT's score, then the group's size (when no test passes anywhere), then the earliest draw.
    let score = |g: &[usize]| (g.len() * passed(g), g.len());
    let mut order: Vec<usize> = (0..groups.len()).collect();
    order.sort_by(|a, b| score(&groups[*b]).cmp(&score(&groups[*a])).then(groups[*a][0].cmp(&groups[*b][0])));
    let best = &groups[order[0]];
    let dispute = order.get(1).map(|&o| &groups[o]).filter(|second| score(second) == score(best)).and_then(|second| {
        let call =
            (0..runs[best[0]].outputs.len()).find(|&c| runs[best[0]].outputs[c] != runs[second[0]].outputs[c])?;
        let answers = order
            .iter()
            .map(|&o| &groups[o])
            .filter(|g| score(g) == score(best))
            .map(|g| (runs[g[0]].outputs[call].clone(), g.clone()))
            .collect();
        Some(Dispute { call, answers })
    });
    Some(Choice { index: best[0], meets_examples, agreeing: best.clone(), tests_passed: passed(best), dispute })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(examples: &[bool], tests: &[bool], outputs: &[&str]) -> Run {
        Run {
            examples: examples.to_vec(),
            tests: tests.to_vec(),
            outputs: outputs.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn the_group_that_agrees_and_passes_most_wins_over_the_first_draw() {
        let runs = [
            run(&[true], &[true, false, false], &["'a'", "1", "2", "3"]),
            run(&[true], &[true, true, false], &["'a'", "1", "5", "3"]),
            run(&[true], &[true, true, false], &["'a'", "1", "5", "3"]),
            run(&[false], &[true, true, true], &["'b'", "1", "5", "4"]),
        ];
        let choice = choose(&runs).unwrap();
        assert_eq!((choice.index, choice.agreeing.clone(), choice.tests_passed), (1, vec![1, 2], 2));
        assert!(choice.meets_examples);
        assert_eq!(choice.dispute, None);
    }

    #[test]
    fn a_lookup_table_of_the_examples_stands_alone() {
        // Candidate 0 returns the stated examples and nonsense elsewhere; the others agree on the other inputs.
        let runs = [
            run(&[true, true], &[false, false], &["1", "2", "0", "0"]),
            run(&[true, true], &[true, false], &["1", "2", "3", "9"]),
            run(&[true, true], &[true, false], &["1", "2", "3", "9"]),
        ];
        assert_eq!(choose(&runs).unwrap().agreeing, [1, 2]);
    }

    #[test]
    fn with_no_candidate_meeting_the_examples_the_closest_goes_on_to_the_fix_loop() {
        let runs = [run(&[false, false], &[], &["0", "0"]), run(&[true, false], &[], &["1", "0"])];
        let choice = choose(&runs).unwrap();
        assert_eq!(choice.index, 1);
        assert!(!choice.meets_examples);
        assert_eq!(choose(&[]), None);
    }

    #[test]
    fn a_tie_between_groups_that_differ_is_a_dispute_with_each_answer() {
        let runs = [
            run(&[], &[true], &["'a-b'", "'x'"]),
            run(&[], &[true], &["'ab'", "'x'"]),
            run(&[], &[false], &["'ab'", "'y'"]),
        ];
        let choice = choose(&runs).unwrap();
        assert_eq!(choice.index, 0);
        let dispute = choice.dispute.unwrap();
        assert_eq!(dispute.call, 0);
        assert_eq!(dispute.answers, [("'a-b'".to_owned(), vec![0]), ("'ab'".to_owned(), vec![1])]);
        // With no tests at all, agreement alone decides: two against one.
        let runs = [run(&[], &[], &["1"]), run(&[], &[], &["2"]), run(&[], &[], &["2"])];
        let choice = choose(&runs).unwrap();
        assert_eq!((choice.index, choice.dispute), (1, None));
    }
}
