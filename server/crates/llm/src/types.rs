//! The provider-neutral request, response and streaming types.

use std::fmt;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::Result;

/// An API key. Its `Debug` and `Display` never show it; only [`ApiKey::expose`] does, at the HTTP call.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn new(key: impl Into<String>) -> Self {
        Self(key.into())
    }

    /// The key itself, for the one place that puts it in a header.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub role: Role,
    pub content: String,
}

impl Message {
    pub fn system(content: impl Into<String>) -> Self {
        Self {
            role: Role::System,
            content: content.into(),
        }
    }

    pub fn user(content: impl Into<String>) -> Self {
        Self {
            role: Role::User,
            content: content.into(),
        }
    }

    pub fn assistant(content: impl Into<String>) -> Self {
        Self {
            role: Role::Assistant,
            content: content.into(),
        }
    }
}

/// One chat request. `model: None` means the backend's configured model.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChatRequest {
    pub messages: Vec<Message>,
    pub model: Option<String>,
    pub temperature: Option<f32>,
    pub max_tokens: Option<u32>,
    pub stop: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum FinishReason {
    Stop,
    Length,
    ContentFilter,
    Other(String),
}

impl FinishReason {
    pub(crate) fn from_openai(reason: &str) -> Self {
        match reason {
            "stop" | "eos" | "end_turn" | "stop_sequence" => Self::Stop,
            "length" | "max_tokens" => Self::Length,
            "content_filter" => Self::ContentFilter,
            other => Self::Other(other.to_owned()),
        }
    }
}

/// Tokens used by one request. `estimated` is set when the provider did not report them and they were
/// counted here (about four characters per token).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub estimated: bool,
}

impl Usage {
    pub fn total(&self) -> u64 {
        self.prompt_tokens + self.completion_tokens
    }

    pub(crate) fn estimate(request: &ChatRequest, text: &str) -> Self {
        let prompt_chars: usize = request
            .messages
            .iter()
            .map(|m| m.content.chars().count() + 4)
            .sum();
        Self {
            prompt_tokens: prompt_chars.div_ceil(4) as u64,
            completion_tokens: text.chars().count().div_ceil(4) as u64,
            estimated: true,
        }
    }
}

/// A finished completion: the whole text, why it stopped, what it cost in tokens, and how many attempts
/// it took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    pub text: String,
    pub finish_reason: FinishReason,
    pub usage: Usage,
    pub provider: String,
    pub model: String,
    pub attempts: u32,
}

/// What a streaming call reports while it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamEvent<'a> {
    /// More text.
    Delta(&'a str),
    /// The stream broke and the request starts again: drop the text shown so far.
    Restart { attempt: u32 },
}

/// A chat model behind some wire format. Cancel a call by dropping its future.
#[async_trait]
pub trait LlmBackend: Send + Sync {
    /// The provider's name as the user configured it ("openai", "groq", "ollama", ...).
    fn provider(&self) -> &str;

    /// The model used when a request names none.
    fn default_model(&self) -> &str;

    /// Streams one completion, calling `on_event` as text arrives, and returns the whole of it.
    async fn stream(
        &self,
        request: &ChatRequest,
        on_event: &(dyn for<'e> Fn(StreamEvent<'e>) + Send + Sync),
    ) -> Result<Completion>;
}

/// The backend when no provider is configured: every call fails with what to configure. Runs that need no
/// model (tests) still work.
pub struct Unconfigured {
    hint: String,
}

impl Unconfigured {
    pub fn new(hint: impl Into<String>) -> Self {
        Self { hint: hint.into() }
    }
}

#[async_trait]
impl LlmBackend for Unconfigured {
    fn provider(&self) -> &str {
        "none"
    }

    fn default_model(&self) -> &str {
        "none"
    }

    async fn stream(
        &self,
        _request: &ChatRequest,
        _on_event: &(dyn for<'e> Fn(StreamEvent<'e>) + Send + Sync),
    ) -> Result<Completion> {
        Err(crate::LlmError::NotConfigured {
            hint: self.hint.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_keys_never_print() {
        let key = ApiKey::new("sk-secret-123");
        assert!(!format!("{key:?} {key}").contains("secret"));
        #[derive(Debug)]
        #[allow(dead_code)]
        struct Holder {
            key: ApiKey,
        }
        assert!(!format!("{:?}", Holder { key }).contains("secret"));
    }
}
