//! Provider configuration and the HTTP attempt/retry machinery both wire formats share.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde::Deserialize;

use crate::retry::parse_retry_after;
use crate::sse::{SseEvent, SseParser};
use crate::{
    Anthropic, ApiKey, ChatRequest, Completion, FinishReason, LlmBackend, LlmError, OpenAi, Result, RetryPolicy,
    StreamEvent, Usage,
};

/// Which wire format a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// OpenAI Chat Completions: OpenAI, Groq, OpenRouter, Ollama, llama.cpp, vLLM, LM Studio, LiteLLM.
    #[serde(alias = "openai-compatible")]
    OpenAi,
    /// Anthropic Messages.
    Anthropic,
    /// The embedded model (llama.cpp in-process; the `local-llm` feature).
    Local,
}

/// The model name the embedded provider reports for a GGUF file: its file name without the extension.
pub fn local_model_name(path: &std::path::Path) -> String {
    path.file_stem().and_then(|s| s.to_str()).unwrap_or("local").to_owned()
}

/// How to reach one provider.
#[derive(Debug, Clone)]
pub struct ProviderConfig {
    pub kind: ProviderKind,
    /// The provider's name in messages and logs ("openai", "groq", "ollama", "anthropic").
    pub name: String,
    /// As the providers' SDKs take it: `https://api.openai.com/v1` (with the version segment),
    /// `https://api.anthropic.com` (without; `/v1/messages` is appended).
    pub base_url: String,
    pub api_key: Option<ApiKey>,
    /// Where the key comes from, for error messages ("OPENAI_API_KEY").
    pub key_source: String,
    /// The model used when a request names none.
    pub model: String,
    pub connect_timeout: Duration,
    /// No bytes for this long (before the headers or between chunks) is a timeout, and retried.
    pub idle_timeout: Duration,
    pub retry: RetryPolicy,
    /// Stream the reply (server-sent events); `false` asks for one JSON body.
    pub stream: bool,
    /// A reply larger than this is dropped with an error.
    pub max_response_bytes: usize,
}

impl ProviderConfig {
    pub fn openai(base_url: impl Into<String>, model: impl Into<String>) -> Self {
        Self::new(ProviderKind::OpenAi, "openai", base_url, "OPENAI_API_KEY", model)
    }

    pub fn anthropic(base_url: impl Into<String>, model: impl Into<String>) -> Self {
        Self::new(ProviderKind::Anthropic, "anthropic", base_url, "ANTHROPIC_API_KEY", model)
    }

    fn new(
        kind: ProviderKind,
        name: &str,
        base_url: impl Into<String>,
        key_source: &str,
        model: impl Into<String>,
    ) -> Self {
        Self {
            kind,
            name: name.into(),
            base_url: base_url.into(),
            api_key: None,
            key_source: key_source.into(),
            model: model.into(),
            connect_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            retry: RetryPolicy::default(),
            stream: true,
            max_response_bytes: 16 * 1024 * 1024,
        }
    }
}

/// The backend for a provider's configuration.
pub fn connect(config: ProviderConfig) -> Result<Arc<dyn LlmBackend>> {
    Ok(match config.kind {
        ProviderKind::OpenAi => Arc::new(OpenAi::new(config)?),
        ProviderKind::Anthropic => Arc::new(Anthropic::new(config)?),
        ProviderKind::Local => {
            return Err(LlmError::NotConfigured {
                hint: "the local provider is built with `Local::new` (the local-llm feature)".into(),
            });
        }
    })
}

/// The client and endpoint of one provider.
pub(crate) struct Http {
    pub config: ProviderConfig,
    pub client: reqwest::Client,
    pub url: String,
}

impl Http {
    pub fn new(config: ProviderConfig, path: &str) -> Result<Self> {
        let client = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .user_agent(concat!("samokoder/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| LlmError::NotConfigured { hint: format!("cannot build the HTTP client: {e}") })?;
        let url = format!("{}{path}", config.base_url.trim_end_matches('/'));
        Ok(Self { config, client, url })
    }
}

/// What one SSE event (or a whole JSON body) meant.
pub(crate) enum Step {
    Nothing,
    Delta(String),
    /// The stream is complete.
    Done,
}

/// What a reply has said so far.
#[derive(Default)]
pub(crate) struct Reply {
    pub text: String,
    pub finish: Option<FinishReason>,
    pub prompt_tokens: Option<u64>,
    pub completion_tokens: Option<u64>,
    pub cached_tokens: Option<u64>,
}

/// A wire format: how to ask, and how to read the answer.
pub(crate) trait Wire: Send + Sync {
    fn http(&self) -> &Http;
    fn body(&self, request: &ChatRequest, model: &str, stream: bool) -> serde_json::Value;
    fn authorize(&self, builder: reqwest::RequestBuilder) -> reqwest::RequestBuilder;
    /// One server-sent event; `Err` is a message about a malformed or failed stream.
    fn event(&self, event: &SseEvent, reply: &mut Reply) -> std::result::Result<Step, EventError>;
    /// A whole non-streamed JSON body.
    fn whole(&self, body: &[u8], reply: &mut Reply) -> std::result::Result<(), String>;
    /// The message in an error body, if it has the provider's error shape.
    fn error_message(&self, body: &str) -> Option<String>;
}

pub(crate) enum EventError {
    Malformed(String),
    Provider { message: String, retryable: bool },
}

/// The provider's `{"error": {"message": ..., "type": ...}}` (both formats use it).
#[derive(Deserialize)]
pub(crate) struct ErrorBody {
    pub error: Option<ErrorWire>,
}

#[derive(Deserialize)]
pub(crate) struct ErrorWire {
    pub message: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

impl ErrorWire {
    pub fn retryable(&self) -> bool {
        let kind = self.kind.as_deref().unwrap_or("");
        ["server", "overloaded", "rate", "timeout", "api_error"].iter().any(|k| kind.contains(k))
    }
}

/// Streams one completion with retries: a broken or failed attempt starts over (the caller is told to drop
/// what it showed), within the policy's attempts and deadline.
pub(crate) async fn complete<W: Wire>(
    wire: &W,
    request: &ChatRequest,
    on_event: &(dyn for<'e> Fn(StreamEvent<'e>) + Send + Sync),
) -> Result<Completion> {
    let config = &wire.http().config;
    let model = request.model.as_deref().unwrap_or(&config.model);
    let policy = &config.retry;
    let started = Instant::now();
    let mut attempt = 1;
    loop {
        let mut emitted = false;
        let t0 = Instant::now();
        match attempt_once(wire, request, model, on_event, &mut emitted).await {
            Ok(mut completion) => {
                completion.attempts = attempt;
                completion.latency = started.elapsed();
                tracing::info!(
                    provider = %config.name,
                    model,
                    attempt,
                    prompt_tokens = completion.usage.prompt_tokens,
                    completion_tokens = completion.usage.completion_tokens,
                    latency_ms = t0.elapsed().as_millis() as u64,
                    "completion"
                );
                return Ok(completion);
            }
            Err(err) => {
                let delay = policy.delay(attempt, err.retry_after());
                let in_time = started.elapsed() + delay < policy.deadline;
                let wait_ok = err.retry_after().is_none_or(|w| w <= policy.max_retry_after);
                if !(err.is_retryable() && attempt < policy.max_attempts && in_time && wait_ok) {
                    tracing::warn!(provider = %config.name, model, attempt, error = %err, "request failed");
                    if attempt == 1 || !err.is_retryable() {
                        return Err(err);
                    }
                    return Err(LlmError::Exhausted {
                        provider: config.name.clone(),
                        model: model.to_owned(),
                        attempts: attempt,
                        last: Box::new(err),
                    });
                }
                tracing::warn!(provider = %config.name, model, attempt, delay_ms = delay.as_millis() as u64, error = %err, "retrying");
                tokio::time::sleep(delay).await;
                attempt += 1;
                if emitted {
                    on_event(StreamEvent::Restart { attempt });
                }
            }
        }
    }
}

async fn attempt_once<W: Wire>(
    wire: &W,
    request: &ChatRequest,
    model: &str,
    on_event: &(dyn for<'e> Fn(StreamEvent<'e>) + Send + Sync),
    emitted: &mut bool,
) -> Result<Completion> {
    let http = wire.http();
    let config = &http.config;
    let provider = &config.name;
    let idle = config.idle_timeout;
    let timeout = |what: &str| LlmError::Timeout {
        provider: provider.clone(),
        model: model.to_owned(),
        what: format!("{what} within {:.1} s", idle.as_secs_f64()),
    };
    let broken = |message: String| LlmError::Stream { provider: provider.clone(), model: model.to_owned(), message };
    let too_large =
        || LlmError::TooLarge { provider: provider.clone(), model: model.to_owned(), limit: config.max_response_bytes };

    let builder = wire.authorize(http.client.post(&http.url).json(&wire.body(request, model, config.stream)));
    let response = tokio::time::timeout(idle, builder.send())
        .await
        .map_err(|_| timeout("no response headers"))?
        .map_err(|e| transport_error(http, model, e))?;

    let status = response.status();
    if !status.is_success() {
        let retry_after =
            response.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(parse_retry_after);
        let body = read_capped(response, config.max_response_bytes.min(64 * 1024), idle).await.unwrap_or_default();
        let text = String::from_utf8_lossy(&body);
        let message = wire.error_message(&text).unwrap_or_else(|| excerpt(&text));
        return Err(LlmError::Status {
            provider: provider.clone(),
            model: model.to_owned(),
            status: status.as_u16(),
            message,
            hint: hint(config, model, status.as_u16()),
            retry_after,
        });
    }

    let mut reply = Reply::default();
    if !config.stream {
        let body = match read_capped(response, config.max_response_bytes, idle).await {
            Ok(body) => body,
            Err(ReadError::TooLarge) => return Err(too_large()),
            Err(ReadError::Timeout) => return Err(timeout("no bytes from the body")),
            Err(ReadError::Broken(e)) => return Err(broken(e)),
        };
        wire.whole(&body, &mut reply).map_err(broken)?;
        if !reply.text.is_empty() {
            *emitted = true;
            on_event(StreamEvent::Delta(&reply.text));
        }
    } else {
        let mut stream = response.bytes_stream();
        let mut parser = SseParser::new();
        let mut received = 0usize;
        let mut done = false;
        'read: loop {
            let chunk = match tokio::time::timeout(idle, stream.next()).await {
                Err(_) => return Err(timeout("no bytes from the stream")),
                Ok(None) => break,
                Ok(Some(Err(e))) => return Err(broken(format!("reading the body failed: {}", error_chain(&e)))),
                Ok(Some(Ok(chunk))) => chunk,
            };
            received += chunk.len();
            if received > config.max_response_bytes {
                return Err(too_large());
            }
            for event in parser.push(&chunk) {
                match wire.event(&event, &mut reply) {
                    Ok(Step::Nothing) => {}
                    Ok(Step::Delta(delta)) => {
                        if !delta.is_empty() {
                            reply.text.push_str(&delta);
                            *emitted = true;
                            on_event(StreamEvent::Delta(&delta));
                        }
                    }
                    Ok(Step::Done) => {
                        done = true;
                        break 'read;
                    }
                    Err(EventError::Malformed(message)) => return Err(broken(message)),
                    Err(EventError::Provider { message, retryable }) => {
                        return Err(LlmError::Provider {
                            provider: provider.clone(),
                            model: model.to_owned(),
                            message,
                            retryable,
                        });
                    }
                }
            }
        }
        if !done && reply.finish.is_none() {
            return Err(broken("the connection closed before the model finished".to_owned()));
        }
    }
    let Some(finish_reason) = reply.finish.take() else {
        return Err(broken("the reply ended without a finish reason".to_owned()));
    };
    let usage = match (reply.prompt_tokens, reply.completion_tokens) {
        (Some(p), Some(c)) => Usage {
            prompt_tokens: p,
            completion_tokens: c,
            estimated: false,
            cached_tokens: reply.cached_tokens.unwrap_or(0),
        },
        _ => Usage::estimate(request, &reply.text),
    };
    Ok(Completion {
        text: reply.text,
        finish_reason,
        usage,
        provider: provider.clone(),
        model: model.to_owned(),
        attempts: 1,
        cost_usd: None,
        fallbacks: Vec::new(),
        latency: Duration::ZERO,
    })
}

enum ReadError {
    TooLarge,
    Timeout,
    Broken(String),
}

async fn read_capped(
    response: reqwest::Response,
    cap: usize,
    idle: Duration,
) -> std::result::Result<Vec<u8>, ReadError> {
    let mut body = Vec::new();
    let mut stream = response.bytes_stream();
    loop {
        match tokio::time::timeout(idle, stream.next()).await {
            Err(_) => return Err(ReadError::Timeout),
            Ok(None) => return Ok(body),
            Ok(Some(Err(e))) => return Err(ReadError::Broken(error_chain(&e))),
            Ok(Some(Ok(chunk))) => {
                if body.len() + chunk.len() > cap {
                    return Err(ReadError::TooLarge);
                }
                body.extend_from_slice(&chunk);
            }
        }
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        message = format!("{message}: {s}");
        source = s.source();
    }
    message
}

fn transport_error(http: &Http, model: &str, e: reqwest::Error) -> LlmError {
    let provider = http.config.name.clone();
    if e.is_timeout() {
        LlmError::Timeout { provider, model: model.to_owned(), what: "connecting".into() }
    } else {
        LlmError::Connect { provider, url: http.url.clone(), message: error_chain(&e) }
    }
}

/// What to fix for an HTTP status, naming the setting.
fn hint(config: &ProviderConfig, model: &str, status: u16) -> String {
    match status {
        401 | 403 => format!("; check {} (or samokoder.llm.apiKey in your editor settings)", config.key_source),
        404 => format!(
            "; check the model name `{model}` (SAMOKODER_MODEL or samokoder.llm.model) and the base URL {}",
            config.base_url
        ),
        400 | 422 => "; the provider refused the request as sent".to_owned(),
        429 => "; rate limited, retrying later may help".to_owned(),
        529 => "; the provider is overloaded".to_owned(),
        _ => String::new(),
    }
}

pub(crate) fn excerpt(text: &str) -> String {
    let t = text.trim();
    match t.char_indices().nth(300) {
        Some((i, _)) => format!("{}...", &t[..i]),
        None if t.is_empty() => "(empty body)".to_owned(),
        None => t.to_owned(),
    }
}
