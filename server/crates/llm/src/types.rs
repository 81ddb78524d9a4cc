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
        Self { role: Role::System, content: content.into() }
    }

    pub fn user(content: impl Into<String>) -> Self {
        Self { role: Role::User, content: content.into() }
    }

    pub fn assistant(content: impl Into<String>) -> Self {
        Self { role: Role::Assistant, content: content.into() }
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
    /// Ask for JSON matching this schema, through the provider's structured-output mode where it has one.
    pub json_schema: Option<JsonSchema>,
    /// A GBNF grammar (llama.cpp's notation, start symbol `root`) the reply must follow. Providers that own
    /// their sampler (the local model) constrain every token to it; remote providers cannot, so the prompt
    /// must ask for the same shape. Ignored when `json_schema` is set.
    pub grammar: Option<String>,
    /// Which draw this is, when several are asked for the same prompt (candidates chosen by running them):
    /// mixed into the sampler's seed, so that draws at the same temperature differ and the same draw is the
    /// same reply again. Sent as OpenAI's `seed`; providers without one ignore it.
    pub draw: Option<u32>,
}

/// A named JSON schema for structured output.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonSchema {
    pub name: String,
    pub schema: serde_json::Value,
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
    /// Of `prompt_tokens`, those served from a cache instead of read again: the embedded model's kept KV
    /// cache, OpenAI's `cached_tokens`, Anthropic's `cache_read_input_tokens`.
    #[serde(default)]
    pub cached_tokens: u64,
}

impl Usage {
    pub fn total(&self) -> u64 {
        self.prompt_tokens + self.completion_tokens
    }

    pub(crate) fn estimate(request: &ChatRequest, text: &str) -> Self {
        Self {
            prompt_tokens: estimate_prompt_tokens(request),
            completion_tokens: estimate_tokens(text),
            estimated: true,
            cached_tokens: 0,
        }
    }
}

/// About four characters per token: the usual rule for English and code, used where a provider reports
/// nothing and for budgeting before a call.
pub fn estimate_tokens(text: &str) -> u64 {
    text.chars().count().div_ceil(4) as u64
}

pub fn estimate_prompt_tokens(request: &ChatRequest) -> u64 {
    request.messages.iter().map(|m| estimate_tokens(&m.content) + 4).sum()
}

/// A finished completion: the whole text, why it stopped, what it cost, and how it was obtained.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    pub text: String,
    pub finish_reason: FinishReason,
    pub usage: Usage,
    pub provider: String,
    pub model: String,
    /// HTTP attempts the provider needed (retries included).
    pub attempts: u32,
    /// USD, when the model's price is known (0 for local models).
    pub cost_usd: Option<f64>,
    /// Providers that failed before this one answered ("openai/gpt-4o: 503 ..."), in order.
    pub fallbacks: Vec<String>,
    pub latency: std::time::Duration,
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
