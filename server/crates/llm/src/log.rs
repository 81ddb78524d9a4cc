//! The record of every request, for the store (and so for `samokoder/runs`, resume and cost reports).

use serde::Serialize;

use crate::Message;

/// One provider call: what was asked, what came back, what it cost. Never holds a key or a header.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LlmRecord {
    pub run_id: Option<String>,
    pub role: String,
    pub provider: String,
    pub model: String,
    pub messages: Vec<Message>,
    pub response: String,
    pub prompt_tokens: u64,
    /// Of `prompt_tokens`, those served from a cache (the embedded model's KV cache, a provider's prompt
    /// cache).
    pub cached_tokens: u64,
    pub completion_tokens: u64,
    pub usage_estimated: bool,
    pub cost_usd: Option<f64>,
    pub latency_ms: u64,
    pub attempts: u32,
    /// "ok" or "error".
    pub status: String,
    pub error: Option<String>,
    pub at_ms: u64,
}

/// Where request records go. Implementations must not block for long: they are called on every request.
pub trait RequestLog: Send + Sync {
    fn record(&self, record: LlmRecord);
}

/// Records nothing.
pub struct NoLog;

impl RequestLog for NoLog {
    fn record(&self, _record: LlmRecord) {}
}
