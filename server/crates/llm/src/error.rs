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
    #[error(
        "cannot reach {provider} at {url}: {message}; check the base URL and that the server is running"
    )]
    Connect {
        provider: String,
        url: String,
        message: String,
    },
    #[error("{provider} ({model}) timed out: {what}")]
    Timeout {
        provider: String,
        model: String,
        what: String,
    },
    #[error("{provider} ({model}) stream broke: {message}")]
    Stream {
        provider: String,
        model: String,
        message: String,
    },
    #[error("{provider} ({model}) reported an error mid-stream: {message}")]
    Provider {
        provider: String,
        model: String,
        message: String,
        retryable: bool,
    },
    #[error("{provider} ({model}) failed after {attempts} attempts; last error: {last}")]
    Exhausted {
        provider: String,
        model: String,
        attempts: u32,
        last: Box<LlmError>,
    },
}

impl LlmError {
    /// Whether trying again may help (the SDKs' rule: connection errors, timeouts, 408, 409, 429, 5xx).
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Connect { .. } | Self::Timeout { .. } | Self::Stream { .. } => true,
            Self::Status { status, .. } => matches!(status, 408 | 409 | 429 | 500..=599),
            Self::Provider { retryable, .. } => *retryable,
            Self::NotConfigured { .. } | Self::Exhausted { .. } => false,
        }
    }

    pub(crate) fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

pub type Result<T, E = LlmError> = std::result::Result<T, E>;
