//! Per-provider limits shared by every caller: how many requests run at once, and how many tokens per
//! minute are spent (a token bucket refilled continuously).

use std::time::Duration;

use tokio::time::Instant;

use parking_lot::Mutex;
use serde::Deserialize;
use tokio::sync::{Semaphore, SemaphorePermit};

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LimitsConfig {
    /// Requests in flight at once (default 8).
    #[serde(alias = "max_concurrency")]
    pub max_concurrency: Option<usize>,
    /// Tokens (prompt + completion) per minute; unlimited when absent.
    #[serde(alias = "tokens_per_minute")]
    pub tokens_per_minute: Option<u64>,
}

pub struct Limits {
    slots: Semaphore,
    bucket: Option<Mutex<Bucket>>,
}

struct Bucket {
    capacity: f64,
    available: f64,
    per_second: f64,
    refilled: Instant,
}

impl Bucket {
    fn refill(&mut self) {
        let now = Instant::now();
        self.available =
            (self.available + now.duration_since(self.refilled).as_secs_f64() * self.per_second).min(self.capacity);
        self.refilled = now;
    }
}

/// A call's place under the limits; dropping it frees the slot.
pub struct Permit<'a> {
    _slot: SemaphorePermit<'a>,
    limits: &'a Limits,
    tokens: u64,
}

impl Permit<'_> {
    /// Corrects the bucket with the tokens the call really used.
    pub fn settle(self, actual_tokens: u64) {
        if let Some(bucket) = &self.limits.bucket {
            let mut b = bucket.lock();
            b.available = (b.available + self.tokens as f64 - actual_tokens as f64).min(b.capacity);
        }
    }
}

impl Limits {
    pub fn new(config: &LimitsConfig) -> Self {
        let bucket = config.tokens_per_minute.filter(|t| *t > 0).map(|tpm| {
            let capacity = tpm as f64;
            Mutex::new(Bucket { capacity, available: capacity, per_second: capacity / 60.0, refilled: Instant::now() })
        });
        Self { slots: Semaphore::new(config.max_concurrency.unwrap_or(8).max(1)), bucket }
    }

    /// Waits for a slot and for `tokens` (capped at a minute's worth) in the bucket.
    pub async fn acquire(&self, tokens: u64) -> Permit<'_> {
        let slot = self.slots.acquire().await.expect("the semaphore is never closed");
        let Some(bucket) = &self.bucket else { return Permit { _slot: slot, limits: self, tokens: 0 } };
        loop {
            let wait = {
                let mut b = bucket.lock();
                b.refill();
                let need = (tokens as f64).min(b.capacity);
                if b.available >= need {
                    b.available -= need;
                    return Permit { _slot: slot, limits: self, tokens: need as u64 };
                }
                Duration::from_secs_f64((need - b.available) / b.per_second)
            };
            tokio::time::sleep(wait.max(Duration::from_millis(5))).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn concurrency_is_capped() {
        let limits = Limits::new(&LimitsConfig { max_concurrency: Some(2), tokens_per_minute: None });
        let a = limits.acquire(1).await;
        let _b = limits.acquire(1).await;
        assert!(tokio::time::timeout(Duration::from_millis(50), limits.acquire(1)).await.is_err());
        drop(a);
        assert!(tokio::time::timeout(Duration::from_millis(50), limits.acquire(1)).await.is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn tokens_per_minute_make_callers_wait() {
        let limits = Limits::new(&LimitsConfig { max_concurrency: None, tokens_per_minute: Some(600) });
        limits.acquire(600).await.settle(600);
        let started = tokio::time::Instant::now();
        // 600 per minute is 10 per second: 100 more tokens take about 10 s.
        limits.acquire(100).await;
        let waited = started.elapsed();
        assert!(waited >= Duration::from_secs(9) && waited <= Duration::from_secs(12), "{waited:?}");
    }
}
