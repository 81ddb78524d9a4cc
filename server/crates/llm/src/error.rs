use std::time::Duration;

/// Why a call failed, with what the user needs to fix it. Never carries a key or a header.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    #[error("no LLM provider configured: {hint}")]
    NotConfigured { hint: String },
    #[error("{provider} ({model}) answered {status}: {message}{hint}")]
    Status {
        provider: String,
        model: String,
        status: u16,
        message: String,
        hint: String,
        retry_after: Option<Duration>,
    },
    #[error("cannot reach {provider} at {url}: {message}; check the base URL and that the server is running")]
    Connect { provider: String, url: String, message: String },
    #[error("{provider} ({model}) timed out: {what}")]
    Timeout { provider: String, model: String, what: String },
    #[error("{provider} ({model}) stream broke: {message}")]
    Stream { provider: String, model: String, message: String },
    #[error("{provider} ({model}) reported an error mid-stream: {message}")]
    Provider { provider: String, model: String, message: String, retryable: bool },
    #[error(
        "{provider} ({model}) sent more than {limit} bytes; the reply was dropped (is the base URL an LLM endpoint?)"
    )]
    TooLarge { provider: String, model: String, limit: usize },
    #[error("{provider} ({model}) failed after {attempts} attempts; last error: {last}")]
    Exhausted { provider: String, model: String, attempts: u32, last: Box<LlmError> },
    #[error(
        "the run's budget would be exceeded: {what}; raise samokoder.llm.budget (max_usd / max_tokens) or start a new run"
    )]
    Budget { what: String },
    #[error("{provider} ({model}) did not return valid JSON after {attempts} attempts: {message}")]
    InvalidJson { provider: String, model: String, attempts: u32, message: String, last_reply: String },
    #[error("every provider for {role} failed: {}", .errors.join("; "))]
    AllFailed { role: String, errors: Vec<String> },
    #[error("cancelled")]
    Cancelled,
}

impl LlmError {
    /// Whether trying again may help (the SDKs' rule: connection errors, timeouts, 408, 409, 429, 5xx).
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Connect { .. } | Self::Timeout { .. } | Self::Stream { .. } => true,
            Self::Status { status, .. } => matches!(status, 408 | 409 | 429 | 500..=599),
            Self::Provider { retryable, .. } => *retryable,
            _ => false,
        }
    }

    /// Whether another provider may succeed where this one failed: it is down, overloaded, unreachable, or
    /// not usable with its configuration. A request the provider understood and refused (400), a budget,
    /// a cancellation or an invalid JSON reply would fail the same way elsewhere, or must not be retried.
    pub fn is_provider_failure(&self) -> bool {
        match self {
            Self::Status { status, .. } => *status != 400 && *status != 422,
            Self::Exhausted { .. } | Self::Connect { .. } | Self::Timeout { .. } | Self::Stream { .. } => true,
            Self::Provider { .. } | Self::TooLarge { .. } | Self::NotConfigured { .. } => true,
            Self::Budget { .. } | Self::InvalidJson { .. } | Self::AllFailed { .. } | Self::Cancelled => false,
        }
    }

    pub(crate) fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The HTTP status, if the provider answered with one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Status { status, .. } => Some(*status),
            Self::Exhausted { last, .. } => last.status(),
            _ => None,
        }
    }
}

pub type Result<T, E = LlmError> = std::result::Result<T, E>;
