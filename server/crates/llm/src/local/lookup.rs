//! Prompt-lookup drafting (speculative decoding with the prompt as the draft model). A coding agent's reply
//! copies much of its prompt: a SEARCH block quotes the file, a rewrite repeats it, a fix keeps most lines.
//! When the last few tokens of a sequence also occur earlier in its prompt or reply, the tokens that followed
//! them there are a guess at what comes next. The engine reads the guess with the token it feeds anyway, in
//! the same decode (a few tokens cost little more than one: on two cores a prompt is read at ~90 tokens/s
//! where a reply is written at ~28), and keeps the longest prefix of the guess that the model's own
//! sampler picks, position by position, exactly as it would have one token at a time: the same sampler, the
//! same grammar, the same random draws in the same order, so what comes out is what plain decoding gives
//! (greedy: the same tokens; sampled: the same distribution) and only the speed differs.
//!
//! The guess's length adapts to how much of it is kept: doubled after a guess kept whole, cut to what was
//! kept plus one after a partial one, and after three guesses kept not at all, no guessing for a while, so
//! text the prompt does not hold (a fresh module) costs nothing extra.
//!
//! Whether guessing pays at all depends on the machine: a guess of k tokens is read in one decode, which
//! costs little more than one token where the weights' reading dominates (a GPU, a wide CPU), and almost k
//! tokens' worth where the arithmetic does (2 cores: 17 tokens took 585 ms where one took 45). The
//! engine's [`Payoff`] times the steps that read a guess against those that do not, per token they produce,
//! and turns guessing off for a while when it is the slower.

/// The shortest run of tokens that must repeat for a guess: one or two tokens repeat everywhere in code.
const MIN_NGRAM: usize = 3;
/// The longest run looked for: longer matches are rarer and no better a guess.
const MAX_NGRAM: usize = 5;
/// Tokens looked back over for a match (the prompt's end and the reply: where what is copied lives).
const WINDOW: usize = 16_384;
/// After this many guesses in a row that kept nothing, guessing pauses for [`PAUSE`] tokens.
const MISSES_TO_PAUSE: u32 = 3;
const PAUSE: u32 = 16;

#[derive(Debug, Clone)]
pub(super) struct Drafter {
    max: usize,
    len: usize,
    misses: u32,
    paused: u32,
}

impl Drafter {
    /// Guesses of at most `max` tokens (0: none).
    pub fn new(max: usize) -> Self {
        Self { max, len: max.min(4), misses: 0, paused: 0 }
    }

    /// The guess of what follows `history` (the sequence's prompt and reply so far, with the token about to
    /// be read last), at most `room` tokens.
    pub fn draft(&mut self, history: &[i32], room: usize) -> Vec<i32> {
        let want = self.len.min(room).min(self.max);
        if want == 0 {
            return Vec::new();
        }
        if self.paused > 0 {
            self.paused -= 1;
            return Vec::new();
        }
        continuation(history, want)
    }

    /// What verifying a guess of `drafted` tokens kept (`accepted` of them).
    pub fn kept(&mut self, drafted: usize, accepted: usize) {
        if drafted == 0 {
            return;
        }
        if accepted == drafted {
            self.len = (self.len * 2).min(self.max).max(1);
            self.misses = 0;
        } else if accepted > 0 {
            self.len = (accepted + 1).min(self.max);
            self.misses = 0;
        } else {
            self.len = (self.len / 2).max(1);
            self.misses += 1;
            if self.misses >= MISSES_TO_PAUSE {
                self.misses = 0;
                self.paused = PAUSE;
            }
        }
    }
}

/// Guess steps timed before guessing is judged.
const PROBE_STEPS: u32 = 8;
/// Steps without guessing once it did not pay; then it is tried again (the load may have changed).
const OFF_STEPS: u32 = 512;

/// Milliseconds spent and tokens produced by a kind of step.
#[derive(Debug, Clone, Copy, Default)]
struct Spent {
    ms: f64,
    tokens: u64,
    steps: u32,
}

impl Spent {
    fn add(&mut self, ms: f64, tokens: usize) {
        self.ms += ms;
        self.tokens += tokens as u64;
        self.steps += 1;
    }

    fn per_token(&self) -> f64 {
        self.ms / self.tokens.max(1) as f64
    }
}

/// Whether reading guesses pays on this machine, from the engine's own steps: the time per token produced
/// of the steps that read a guess against that of the steps that read one token per sequence.
#[derive(Debug, Default)]
pub(super) struct Payoff {
    plain: Spent,
    guessing: Spent,
    off_for: u32,
}

impl Payoff {
    /// Whether sequences may guess in the next step.
    pub fn guessing(&self) -> bool {
        self.off_for == 0
    }

    /// A decode of generating sequences took `ms` and produced `tokens` (one per sequence, plus the guessed
    /// tokens kept); `guessed`: whether it read a guess.
    pub fn step(&mut self, guessed: bool, ms: f64, tokens: usize) {
        if self.off_for > 0 {
            self.off_for -= 1;
        }
        if !guessed {
            // The latest plain steps are the measure (the load and the context's length change).
            if self.plain.steps >= 64 {
                self.plain = Spent::default();
            }
            self.plain.add(ms, tokens);
            return;
        }
        self.guessing.add(ms, tokens);
        if self.guessing.steps >= PROBE_STEPS && self.plain.steps >= 4 {
            if self.guessing.per_token() > self.plain.per_token() {
                self.off_for = OFF_STEPS;
            }
            self.guessing = Spent::default();
        }
    }
}

/// The tokens that followed the most recent earlier occurrence of the longest run (of `MIN_NGRAM` to
/// `MAX_NGRAM` tokens) that ends `history`; at most `want`, none when the run occurs nowhere before.
pub(super) fn continuation(history: &[i32], want: usize) -> Vec<i32> {
    let start = history.len().saturating_sub(WINDOW);
    let window = &history[start..];
    for n in (MIN_NGRAM..=MAX_NGRAM).rev() {
        if window.len() <= n {
            continue;
        }
        let tail = &window[window.len() - n..];
        // The most recent earlier place the run occurs, with at least one token after it.
        let found = (0..window.len() - n).rev().find(|&i| &window[i..i + n] == tail);
        if let Some(i) = found {
            let from = i + n;
            let to = (from + want).min(window.len());
            if from < to {
                return window[from..to].to_vec();
            }
        }
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_guess_is_what_followed_the_last_run_of_tokens_before() {
        // "a b c d e ... a b c" -> "d e"
        let history = [1, 2, 3, 4, 5, 9, 9, 1, 2, 3];
        assert_eq!(continuation(&history, 2), [4, 5]);
        assert_eq!(continuation(&history, 10), [4, 5, 9, 9, 1, 2, 3]);
        // No run of three repeats: no guess.
        assert!(continuation(&[1, 2, 3, 4, 5, 6, 2, 3], 4).is_empty());
        // The most recent occurrence wins, and the longest run does.
        assert_eq!(continuation(&[7, 1, 2, 3, 8, 5, 1, 2, 3, 6, 5, 1, 2, 3], 1), [6]);
        assert!(continuation(&[], 4).is_empty());
        assert!(continuation(&[1, 2, 3], 4).is_empty());
    }

    #[test]
    fn guessing_stops_for_a_while_when_its_steps_cost_more_per_token_than_plain_ones() {
        let mut pays = Payoff::default();
        for _ in 0..4 {
            pays.step(false, 45.0, 1);
        }
        // A guess of 16 read in 585 ms that keeps 5: 6 tokens, 97.5 ms each, against 45.
        for _ in 0..PROBE_STEPS {
            assert!(pays.guessing());
            pays.step(true, 585.0, 6);
        }
        assert!(!pays.guessing(), "slower per token: off");
        for _ in 0..OFF_STEPS {
            pays.step(false, 45.0, 1);
        }
        assert!(pays.guessing(), "tried again after a while");
        // Where a guess costs little more than one token, guessing goes on.
        for _ in 0..PROBE_STEPS * 4 {
            pays.step(true, 60.0, 6);
        }
        assert!(pays.guessing());
        // Not judged before plain steps give a measure.
        let mut fresh = Payoff::default();
        for _ in 0..PROBE_STEPS * 2 {
            fresh.step(true, 585.0, 1);
        }
        assert!(fresh.guessing());
    }

    #[test]
    fn the_guess_grows_when_kept_shrinks_when_not_and_pauses_after_misses() {
        let history: Vec<i32> = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 1, 2, 3].to_vec();
        let mut d = Drafter::new(16);
        assert_eq!(d.draft(&history, 100).len(), 4);
        d.kept(4, 4);
        assert_eq!(d.draft(&history, 100).len(), 8);
        d.kept(8, 8);
        assert_eq!(d.draft(&history, 100).len(), 16);
        assert_eq!(d.draft(&history, 5).len(), 5, "never past the room left");
        d.kept(16, 3);
        assert_eq!(d.draft(&history, 100).len(), 4);
        for _ in 0..3 {
            d.kept(4, 0);
        }
        assert!(d.draft(&history, 100).is_empty(), "paused after three misses");
        for _ in 0..PAUSE {
            d.draft(&history, 100);
        }
        assert!(!d.draft(&history, 100).is_empty(), "guessing again after the pause");
        assert!(Drafter::new(0).draft(&history, 100).is_empty(), "off");
    }
}
