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
