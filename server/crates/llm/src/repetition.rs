//! Telling a model that loops from one that writes: small models fall into writing the same thing again
//! and again until the context is full (minutes of decoding on a laptop). Two shapes are caught:
//!
//! - an exact loop: the last tokens are one span repeated back to back, at least three times and over at
//!   least [`LOOP_TOKENS`] tokens;
//! - a near repeat: a block written again with small changes (a renamed variable, a changed constant). Over
//!   a sliding window of [`WINDOW`] tokens, most of the window's [`NGRAM`]-token sequences already occurred
//!   at one and the same distance back (give or take [`BAND`] tokens for the small insertions), and that
//!   stays so for [`SUSTAIN`] tokens in a row;
//! - lines of one shape: the same line again and again with only its numbers changed (`"flush_event_7",`,
//!   `"flush_event_8",`, ...): the last [`SHAPE_LINES`] lines that say something have at most
//!   [`SHAPES`] shapes (a line's shape is its text with every run of digits replaced by `0`).
//!
//! The near-repeat thresholds were set on 580 real JavaScript files (npm's own dependencies): real code has
//! windows copied from an earlier block (sync and async twins, generated tables), but none of them stays a
//! copy for [`SUSTAIN`] tokens; the longest run was 352 tokens, in generated protobuf code. The line-shape
//! thresholds were set on 1,537 files of the same tree (code, JSON, Markdown): none has 64 such lines in a
//! row with fewer than 3 shapes (a table of numbers has exactly 3).

use std::collections::{HashMap, VecDeque};

const LOOP_TOKENS: usize = 256;
const NGRAM: usize = 6;
const WINDOW: usize = 192;
const BAND: usize = 16;
/// A sequence seen less than this many tokens back is the same line going on, not a block written again.
const MIN_DISTANCE: usize = 32;
const SHARE: f32 = 0.7;
const SUSTAIN: usize = 384;
/// How often (in tokens) the window is scored.
const STRIDE: usize = 8;
const SHAPE_LINES: usize = 64;
const SHAPES: usize = 2;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Repetition {
    /// One span of this many tokens, repeated back to back.
    Exact { period: usize },
    /// A block written again with small changes, about this many tokens after the first.
    Near { distance: usize },
    /// Line after line of the same shape.
    Lines { shape: String },
}

impl std::fmt::Display for Repetition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Repetition::Exact { period } => write!(f, "the model repeated the same {period} tokens over and over"),
            Repetition::Near { distance } => write!(
                f,
                "the model was writing the same block again with small changes (a copy of what it wrote {distance} \
                 tokens earlier)"
            ),
            Repetition::Lines { shape } => write!(
                f,
                "the model wrote {SHAPE_LINES} lines in a row of the same shape, `{}`",
                shape.chars().take(60).collect::<String>()
            ),
        }
    }
}

#[derive(Default)]
pub(crate) struct RepetitionGuard {
    tokens: Vec<i32>,
    /// Where each n-gram was last seen (its first token's index).
    last_seen: HashMap<[i32; NGRAM], usize>,
    /// For the last [`WINDOW`] n-grams: how far back the same n-gram was, if it was (and far enough).
    distances: VecDeque<Option<usize>>,
    /// Since when (token count) every scored window has been a near repeat.
    near_since: Option<usize>,
    /// The line being written, and the shapes of the last lines that say something.
    line: String,
    shapes: VecDeque<String>,
}

impl RepetitionGuard {
    /// Adds a generated token and its text; says whether the generation has become a loop.
    pub fn push(&mut self, token: i32, text: &str) -> Option<Repetition> {
        if let Some(lines) = self.push_text(text) {
            return Some(lines);
        }
        self.tokens.push(token);
        if let Some(period) = exact_loop(&self.tokens) {
            return Some(Repetition::Exact { period });
        }
        let n = self.tokens.len();
        if n < NGRAM {
            return None;
        }
        let start = n - NGRAM;
        let gram: [i32; NGRAM] = self.tokens[start..].try_into().expect("NGRAM tokens");
        let distance = self.last_seen.insert(gram, start).map(|prev| start - prev).filter(|&d| d >= MIN_DISTANCE);
        self.distances.push_back(distance);
        if self.distances.len() > WINDOW {
            self.distances.pop_front();
        }
        if self.distances.len() < WINDOW || !n.is_multiple_of(STRIDE) {
            return None;
        }
        match self.window_distance() {
            Some(distance) => {
                let since = *self.near_since.get_or_insert(n);
                (n - since >= SUSTAIN).then_some(Repetition::Near { distance })
            }
            None => {
                self.near_since = None;
                None
            }
        }
    }

    fn push_text(&mut self, text: &str) -> Option<Repetition> {
        for c in text.chars() {
            if c != '\n' {
                self.line.push(c);
                continue;
            }
            let shape = shape(&std::mem::take(&mut self.line));
            if shape.chars().filter(|c| !c.is_whitespace()).count() < 3 {
                continue; // blank lines and lone braces say nothing
            }
            self.shapes.push_back(shape);
            if self.shapes.len() > SHAPE_LINES {
                self.shapes.pop_front();
            }
            if self.shapes.len() == SHAPE_LINES {
                let mut distinct: Vec<&String> = self.shapes.iter().collect();
                distinct.sort();
                distinct.dedup();
                if distinct.len() <= SHAPES {
                    return Some(Repetition::Lines { shape: self.shapes.back().cloned().unwrap_or_default() });
                }
            }
        }
        None
    }

    /// The distance at which most of the window repeats earlier text, if it does.
    fn window_distance(&self) -> Option<usize> {
        let mut bands: HashMap<usize, usize> = HashMap::new();
        for d in self.distances.iter().flatten() {
            *bands.entry(d / BAND).or_default() += 1;
        }
        let (band, count) = bands
            .iter()
            .map(|(&b, &c)| (b, c + bands.get(&(b + 1)).copied().unwrap_or(0)))
            .max_by_key(|&(b, c)| (c, std::cmp::Reverse(b)))?;
        (count as f32 >= SHARE * WINDOW as f32).then_some(band * BAND + BAND / 2)
    }
}

/// A line's shape: trimmed, every run of digits replaced by `0`.
fn shape(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut in_number = false;
    for c in line.trim().chars() {
        if !c.is_ascii_digit() {
            out.push(c);
        } else if !in_number {
            out.push('0');
        }
        in_number = c.is_ascii_digit();
    }
    out
}

/// The period of the loop if the last tokens are one span repeated back to back, at least three times and
/// over at least [`LOOP_TOKENS`] tokens: far more than code repeats verbatim.
fn exact_loop(tokens: &[i32]) -> Option<usize> {
    let n = tokens.len();
    (1..=n / 3).find(|&period| {
        let span = (3 * period).max(LOOP_TOKENS);
        span <= n && (n - span..n - period).all(|i| tokens[i] == tokens[i + period])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first_repetition(tokens: &[i32]) -> Option<(usize, Repetition)> {
        let mut guard = RepetitionGuard::default();
        tokens.iter().enumerate().find_map(|(i, &t)| guard.push(t, " ").map(|r| (i + 1, r)))
    }

    /// A pseudo-random "file" of `len` distinct-looking tokens.
    fn block(seed: i32, len: usize) -> Vec<i32> {
        (0..len as i32).map(|i| (i.wrapping_mul(7919) ^ seed.wrapping_mul(104729)) % 50_000).collect()
    }

    #[test]
    fn a_loop_is_a_span_repeated_back_to_back_over_many_tokens() {
        let block: Vec<i32> = (0..40).collect();
        let mut tokens: Vec<i32> = (1000..1100).collect();
        for _ in 0..6 {
            tokens.extend(&block);
        }
        assert_eq!(exact_loop(&tokens), None, "240 repeated tokens are not yet a loop");
        tokens.extend(&block);
        assert_eq!(exact_loop(&tokens), Some(40));
        assert_eq!(exact_loop(&[7; 255]), None);
        assert_eq!(exact_loop(&[7; 256]), Some(1));
        // Code that repeats short runs (a table of zeros, similar lines) is not a loop.
        let mut code: Vec<i32> = Vec::new();
        for i in 0..60 {
            code.extend([1, 2, 3, 100 + i, 4]);
        }
        assert_eq!(exact_loop(&code), None);
        // A long block written three times is.
        let big: Vec<i32> = (0..120).collect();
        let thrice: Vec<i32> = big.iter().chain(&big).chain(&big).copied().collect();
        assert_eq!(exact_loop(&thrice), Some(120));
        assert_eq!(exact_loop(&thrice[1..]), None);
    }

    #[test]
    fn a_block_rewritten_with_small_changes_is_a_near_repeat() {
        // A 300-token file, then the same file again and again, each copy with a few tokens changed and one
        // inserted: no exact loop, but a near repeat.
        let file = block(1, 300);
        let mut tokens = block(2, 100);
        for copy in 0..5 {
            let mut changed = file.clone();
            for i in (copy * 7..changed.len()).step_by(61) {
                changed[i] = 60_000 + i as i32;
            }
            changed.insert(150, 70_000 + copy as i32);
            tokens.extend(changed);
        }
        let (at, found) = first_repetition(&tokens).expect("a near repeat");
        assert!(matches!(found, Repetition::Near { distance } if (280..=330).contains(&distance)), "{found:?}");
        assert!(at < 100 + 4 * 301, "caught before the fifth copy, at token {at}");
        assert!(found.to_string().contains("same block again with small changes"));
    }

    #[test]
    fn one_copy_of_a_block_and_repetitive_code_are_not_loops() {
        // A block written twice (sync and async twins) is real code.
        let twin = block(3, 350);
        let mut tokens = block(4, 200);
        tokens.extend(&twin);
        tokens.extend(block(5, 50));
        tokens.extend(&twin);
        tokens.extend(block(6, 400));
        assert_eq!(first_repetition(&tokens), None);
        // Test cases of one shape with different values: `test('n', () => { assert.equal(f(a, b), c); });`.
        let mut tests = Vec::new();
        for i in 0..120 {
            tests.extend([10, 11, 1000 + i, 12, 13, 14, 15, 16, 17, 18, 2000 + i, 19, 3000 + i, 20, 4000 + i, 21]);
        }
        assert_eq!(first_repetition(&tests), None);
    }

    fn first_repetition_in_lines(lines: &[String]) -> Option<(usize, Repetition)> {
        let mut guard = RepetitionGuard::default();
        // One token per line: the text decides.
        lines.iter().enumerate().find_map(|(i, l)| guard.push(i as i32, &format!("{l}\n")).map(|r| (i + 1, r)))
    }

    #[test]
    fn lines_of_one_shape_are_a_loop() {
        // What SmolLM2 wrote for "a debounce(fn, ms) with flush()" at temperature 0.9, for 1,500 tokens.
        let mut lines: Vec<String> =
            ["describe(\"Debounce Function\", {", "    \"flush_event\","].map(String::from).to_vec();
        lines.extend((1..200).map(|i| format!("    \"flush_event_{i}\",")));
        let (at, found) = first_repetition_in_lines(&lines).expect("a loop");
        assert_eq!(found, Repetition::Lines { shape: "\"flush_event_0\",".into() });
        assert!(at <= 2 + 64, "at line {at}");
        assert!(found.to_string().contains("64 lines in a row of the same shape"), "{found}");
    }

    #[test]
    fn tables_and_varied_lines_are_not_loops() {
        // Three shapes (a table of numbers) pass.
        let table: Vec<String> = (0..200).map(|i| format!("[{i}, {}], // {}", i * 2, ["a", "b", "c"][i % 3])).collect();
        assert_eq!(first_repetition_in_lines(&table), None);
        // Test cases of one shape, each with its own name, between blank lines and braces.
        let tests: Vec<String> = (0..100)
            .flat_map(|i| {
                [
                    format!("test('adds case {}', () => {{", ["one", "two", "three", "four"][i % 4]),
                    format!("  assert.equal(sum({i}, 1), {});", i + 1),
                    "});".into(),
                    String::new(),
                ]
            })
            .collect();
        assert_eq!(first_repetition_in_lines(&tests), None);
        assert_eq!(shape("  x1 = 123 + y22;  "), "x0 = 0 + y0;");
    }

    #[test]
    fn an_enumeration_with_braces_between_is_a_loop() {
        let code: Vec<String> =
            (0..200).map(|i| if i % 2 == 0 { "}".to_owned() } else { format!("case {i}: return f{i}(x);") }).collect();
        let found = first_repetition_in_lines(&code).map(|(_, r)| r);
        assert_eq!(found, Some(Repetition::Lines { shape: "case 0: return f0(x);".into() }));
    }
}
