//! What calls cost, and the per-run budget that refuses the call that would break it.

use std::collections::HashMap;

use parking_lot::Mutex;
use serde::Deserialize;

use crate::{LlmError, Result};

/// USD per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, schemars::JsonSchema)]
pub struct Price {
    /// USD per million prompt tokens.
    pub input: f64,
    /// USD per million completion tokens.
    pub output: f64,
}

impl Price {
    pub const FREE: Price = Price { input: 0.0, output: 0.0 };

    pub fn cost(&self, prompt_tokens: u64, completion_tokens: u64) -> f64 {
        (prompt_tokens as f64 * self.input + completion_tokens as f64 * self.output) / 1_000_000.0
    }
}

/// Prices by model name: an exact name wins, else the longest prefix (`gpt-4o-mini-2024-07-18` is priced
/// as `gpt-4o-mini`). Providers that run on the user's machine cost nothing.
#[derive(Debug, Clone)]
pub struct PriceTable {
    entries: Vec<(String, Price)>,
}

/// Built-in prices, USD per million input / output tokens, from the providers' published price lists.
const DEFAULTS: &[(&str, f64, f64)] = &[
    ("gpt-4o-mini", 0.15, 0.60),
    ("gpt-4o", 2.50, 10.00),
    ("gpt-4.1-nano", 0.10, 0.40),
    ("gpt-4.1-mini", 0.40, 1.60),
    ("gpt-4.1", 2.00, 8.00),
    ("o4-mini", 1.10, 4.40),
    ("o3-mini", 1.10, 4.40),
    ("o3", 2.00, 8.00),
    ("claude-3-5-haiku", 0.80, 4.00),
    ("claude-3-haiku", 0.25, 1.25),
    ("claude-3-5-sonnet", 3.00, 15.00),
    ("claude-3-7-sonnet", 3.00, 15.00),
    ("claude-sonnet-4", 3.00, 15.00),
    ("claude-opus-4", 15.00, 75.00),
    ("claude-haiku-4", 1.00, 5.00),
    ("llama-3.3-70b-versatile", 0.59, 0.79),
    ("llama-3.1-8b-instant", 0.05, 0.08),
    ("qwen/qwen3-32b", 0.29, 0.59),
];

/// Providers whose calls cost nothing (they run locally).
const LOCAL_PROVIDERS: &[&str] = &["ollama", "lmstudio", "llamacpp", "llama.cpp", "vllm", "local"];

impl Default for PriceTable {
    fn default() -> Self {
        Self { entries: DEFAULTS.iter().map(|(m, i, o)| (m.to_string(), Price { input: *i, output: *o })).collect() }
    }
}

impl PriceTable {
    /// The defaults with the user's prices on top.
    pub fn with_overrides(mut self, overrides: &HashMap<String, Price>) -> Self {
        for (model, price) in overrides {
            self.entries.retain(|(m, _)| m != model);
            self.entries.push((model.clone(), *price));
        }
        self
    }

    /// The price of `model` at `provider`; `None` when unknown (its cost is then not counted, and said so).
    pub fn price(&self, provider: &str, model: &str) -> Option<Price> {
        if LOCAL_PROVIDERS.contains(&provider) {
            return Some(Price::FREE);
        }
        if let Some((_, p)) = self.entries.iter().find(|(m, _)| m == model) {
            return Some(*p);
        }
        self.entries.iter().filter(|(m, _)| model.starts_with(m.as_str())).max_by_key(|(m, _)| m.len()).map(|(_, p)| *p)
    }
}

/// A run's limits on money and tokens. Calls reserve their estimated cost before they start and settle the
/// real cost after, so parallel calls cannot jointly overshoot.
#[derive(Debug, Default)]
pub struct Budget {
    max_usd: Option<f64>,
    max_tokens: Option<u64>,
    state: Mutex<Spent>,
}

#[derive(Debug, Default, Clone, Copy)]
struct Spent {
    usd: f64,
    tokens: u64,
    reserved_usd: f64,
    reserved_tokens: u64,
}

impl Budget {
    pub fn unlimited() -> Self {
        Self::default()
    }

    pub fn new(max_usd: Option<f64>, max_tokens: Option<u64>) -> Self {
        Self { max_usd, max_tokens, state: Mutex::default() }
    }

    /// USD and tokens spent so far.
    pub fn spent(&self) -> (f64, u64) {
        let s = self.state.lock();
        (s.usd, s.tokens)
    }

    /// Reserves a call's estimate, or refuses the call that would pass a limit.
    pub fn reserve(&self, usd: f64, tokens: u64) -> Result<Reservation<'_>> {
        let mut s = self.state.lock();
        if let Some(max) = self.max_usd {
            let total = s.usd + s.reserved_usd + usd;
            if total > max {
                return Err(LlmError::Budget {
                    what: format!(
                        "${:.4} spent or reserved, this call may cost ${usd:.4}, the limit is ${max:.4}",
                        s.usd + s.reserved_usd
                    ),
                });
            }
        }
        if let Some(max) = self.max_tokens {
            let total = s.tokens + s.reserved_tokens + tokens;
            if total > max {
                return Err(LlmError::Budget {
                    what: format!(
                        "{} tokens used or reserved, this call may use {tokens}, the limit is {max}",
                        s.tokens + s.reserved_tokens
                    ),
                });
            }
        }
        s.reserved_usd += usd;
        s.reserved_tokens += tokens;
        Ok(Reservation { budget: self, usd, tokens, open: true })
    }
}

/// A call's reserved share of the budget; settle it with the real cost, or drop it to release it.
pub struct Reservation<'a> {
    budget: &'a Budget,
    usd: f64,
    tokens: u64,
    open: bool,
}

impl Reservation<'_> {
    pub fn settle(mut self, usd: f64, tokens: u64) {
        let mut s = self.budget.state.lock();
        s.reserved_usd -= self.usd;
        s.reserved_tokens -= self.tokens;
        s.usd += usd;
        s.tokens += tokens;
        self.open = false;
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if self.open {
            let mut s = self.budget.state.lock();
            s.reserved_usd -= self.usd;
            s.reserved_tokens -= self.tokens;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_match_exactly_then_by_longest_prefix() {
        let table = PriceTable::default();
        assert_eq!(table.price("openai", "gpt-4o-mini-2024-07-18"), Some(Price { input: 0.15, output: 0.60 }));
        assert_eq!(table.price("openai", "gpt-4o-2024-08-06"), Some(Price { input: 2.50, output: 10.00 }));
        assert_eq!(table.price("ollama", "gpt-4o"), Some(Price::FREE));
        assert_eq!(table.price("openai", "mystery-model"), None);
        let custom =
            table.with_overrides(&HashMap::from([("mystery-model".to_owned(), Price { input: 1.0, output: 2.0 })]));
        assert!((custom.price("x", "mystery-model").unwrap().cost(1_000_000, 500_000) - 2.0).abs() < 1e-9);
    }

    #[test]
    fn the_budget_refuses_the_call_that_would_pass_it() {
        let budget = Budget::new(Some(0.01), None);
        let first = budget.reserve(0.006, 100).unwrap();
        // Reserved but not settled: a second call of the same size would pass the limit.
        let err = budget.reserve(0.006, 100).err().unwrap().to_string();
        assert!(err.contains("$0.01") && err.contains("budget"), "{err}");
        first.settle(0.002, 80);
        assert!(budget.reserve(0.006, 100).is_ok(), "settled at a lower real cost, room is left");
        assert_eq!(budget.spent(), (0.002, 80));
        let tokens = Budget::new(None, Some(100));
        assert!(tokens.reserve(0.0, 101).is_err());
    }
}
