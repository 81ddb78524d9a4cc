//! The OpenAI Chat Completions wire format, streamed. Serves OpenAI and every compatible server through
//! `base_url`: Groq, OpenRouter, Ollama (`http://localhost:11434/v1`), llama.cpp's server, vLLM, LM Studio,
//! LiteLLM.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::StreamExt;
use serde::Deserialize;
use serde_json::json;

use crate::retry::parse_retry_after;
use crate::sse::SseParser;
use crate::{
    ApiKey, ChatRequest, Completion, FinishReason, LlmBackend, LlmError, Result, RetryPolicy,
    StreamEvent, Usage,
};

/// How to reach one OpenAI-compatible server.
#[derive(Debug, Clone)]
pub struct OpenAiConfig {
    /// The provider's name in messages and logs ("openai", "groq", "ollama").
    pub name: String,
    /// Up to and including the version segment, as the SDKs take it: `https://api.openai.com/v1`.
    pub base_url: String,
    pub api_key: Option<ApiKey>,
    /// Where the key comes from, for error messages ("OPENAI_API_KEY").
    pub key_source: String,
    pub model: String,
    pub connect_timeout: Duration,
    /// A stream that sends no bytes for this long is broken (and retried).
    pub idle_timeout: Duration,
    pub retry: RetryPolicy,
}

impl OpenAiConfig {
    pub fn new(base_url: impl Into<String>, model: impl Into<String>) -> Self {
        Self {
            name: "openai".into(),
            base_url: base_url.into(),
            api_key: None,
            key_source: "OPENAI_API_KEY".into(),
            model: model.into(),
            connect_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            retry: RetryPolicy::default(),
        }
    }
}

pub struct OpenAi {
    config: OpenAiConfig,
    client: reqwest::Client,
    url: String,
}

impl OpenAi {
    pub fn new(config: OpenAiConfig) -> Result<Self> {
        let client = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .user_agent(concat!("samokoder/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| LlmError::NotConfigured {
                hint: format!("cannot build the HTTP client: {e}"),
            })?;
        let url = format!("{}/chat/completions", config.base_url.trim_end_matches('/'));
        Ok(Self {
            config,
            client,
            url,
        })
    }

    fn model<'a>(&'a self, request: &'a ChatRequest) -> &'a str {
        request.model.as_deref().unwrap_or(&self.config.model)
    }

    async fn attempt(
        &self,
        request: &ChatRequest,
        on_event: &(dyn for<'e> Fn(StreamEvent<'e>) + Send + Sync),
        emitted: &mut bool,
    ) -> Result<Completion> {
        let model = self.model(request);
        let provider = &self.config.name;
        let mut body = json!({
            "model": model,
            "messages": request.messages,
            "stream": true,
            "stream_options": { "include_usage": true },
        });
        if let Some(t) = request.temperature {
            body["temperature"] = json!(t);
        }
        if let Some(n) = request.max_tokens {
            body["max_tokens"] = json!(n);
        }
        if !request.stop.is_empty() {
            body["stop"] = json!(request.stop);
        }
        let mut builder = self.client.post(&self.url).json(&body);
        if let Some(key) = &self.config.api_key {
            builder = builder.bearer_auth(key.expose());
        }
        let idle = self.config.idle_timeout;
        let timeout = |what: &str| LlmError::Timeout {
            provider: provider.clone(),
            model: model.to_owned(),
            what: format!("{what} within {} s", idle.as_secs()),
        };
        let response = tokio::time::timeout(idle, builder.send())
            .await
            .map_err(|_| timeout("no response headers"))?
            .map_err(|e| self.transport_error(model, e))?;

        let status = response.status();
        if !status.is_success() {
            let retry_after = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(parse_retry_after);
            let text = tokio::time::timeout(idle, response.text())
                .await
                .ok()
                .and_then(|r| r.ok())
                .unwrap_or_default();
            return Err(self.status_error(model, status.as_u16(), &text, retry_after));
        }

        let mut stream = response.bytes_stream();
        let mut parser = SseParser::new();
        let mut text = String::new();
        let mut finish: Option<FinishReason> = None;
        let mut usage: Option<Usage> = None;
        let mut done = false;
        let broken = |message: String| LlmError::Stream {
            provider: provider.clone(),
            model: model.to_owned(),
            message,
        };
        'read: loop {
            let chunk = match tokio::time::timeout(idle, stream.next()).await {
                Err(_) => return Err(timeout("no bytes from the stream")),
                Ok(None) => break,
                Ok(Some(Err(e))) => return Err(broken(format!("reading the body failed: {e}"))),
                Ok(Some(Ok(chunk))) => chunk,
            };
            for event in parser.push(&chunk) {
                if event.data.trim() == "[DONE]" {
                    done = true;
                    break 'read;
                }
                let chunk: ChunkWire = serde_json::from_str(&event.data).map_err(|e| {
                    broken(format!("malformed chunk ({e}): {}", excerpt(&event.data)))
                })?;
                if let Some(err) = chunk.error {
                    let message = err.message.unwrap_or_else(|| "unknown error".into());
                    let kind = err.kind.unwrap_or_default();
                    let retryable = kind.contains("server")
                        || kind.contains("overloaded")
                        || kind.contains("rate");
                    return Err(LlmError::Provider {
                        provider: provider.clone(),
                        model: model.to_owned(),
                        message,
                        retryable,
                    });
                }
                for choice in chunk.choices {
                    if let Some(delta) = choice
                        .delta
                        .and_then(|d| d.content)
                        .filter(|c| !c.is_empty())
                    {
                        text.push_str(&delta);
                        *emitted = true;
                        on_event(StreamEvent::Delta(&delta));
                    }
                    if let Some(reason) = choice.finish_reason {
                        finish = Some(FinishReason::from_openai(&reason));
                    }
                }
                if let Some(u) = chunk.usage {
                    usage = Some(Usage {
                        prompt_tokens: u.prompt_tokens,
                        completion_tokens: u.completion_tokens,
                        estimated: false,
                    });
                }
            }
        }
        let _ = parser.finish();
        let Some(finish_reason) = finish else {
            let why = if done {
                "it ended without a finish reason"
            } else {
                "the connection closed before the model finished"
            };
            return Err(broken(why.to_owned()));
        };
        let usage = usage.unwrap_or_else(|| Usage::estimate(request, &text));
        Ok(Completion {
            text,
            finish_reason,
            usage,
            provider: provider.clone(),
            model: model.to_owned(),
            attempts: 1,
        })
    }

    fn transport_error(&self, model: &str, e: reqwest::Error) -> LlmError {
        if e.is_timeout() {
            LlmError::Timeout {
                provider: self.config.name.clone(),
                model: model.to_owned(),
                what: "connecting".into(),
            }
        } else {
            // reqwest's message names the URL; ours does too, without the query.
            let mut message = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                message = format!("{message}: {s}");
                source = s.source();
            }
            LlmError::Connect {
                provider: self.config.name.clone(),
                url: self.url.clone(),
                message,
            }
        }
    }

    fn status_error(
        &self,
        model: &str,
        status: u16,
        body: &str,
        retry_after: Option<Duration>,
    ) -> LlmError {
        let message = serde_json::from_str::<ErrorBody>(body)
            .ok()
            .and_then(|b| b.error)
            .and_then(|e| e.message)
            .unwrap_or_else(|| excerpt(body));
        let hint = match status {
            401 | 403 => format!(
                "; check {} (or samokoder.llm.apiKey in your editor settings)",
                self.config.key_source
            ),
            404 => format!(
                "; check the model name `{model}` (SAMOKODER_MODEL or samokoder.llm.model) and the base URL {}",
                self.config.base_url
            ),
            400 => "; the provider refused the request as sent".to_owned(),
            429 => "; rate limited, retrying later may help".to_owned(),
            _ => String::new(),
        };
        LlmError::Status {
            provider: self.config.name.clone(),
            model: model.to_owned(),
            status,
            message,
            hint,
            retry_after,
        }
    }
}

#[async_trait]
impl LlmBackend for OpenAi {
    fn provider(&self) -> &str {
        &self.config.name
    }

    fn default_model(&self) -> &str {
        &self.config.model
    }

    #[tracing::instrument(skip_all, fields(provider = %self.config.name, model = %self.model(request)))]
    async fn stream(
        &self,
        request: &ChatRequest,
        on_event: &(dyn for<'e> Fn(StreamEvent<'e>) + Send + Sync),
    ) -> Result<Completion> {
        let policy = &self.config.retry;
        let started = Instant::now();
        let mut attempt = 1;
        loop {
            let mut emitted = false;
            let t0 = Instant::now();
            match self.attempt(request, on_event, &mut emitted).await {
                Ok(mut completion) => {
                    completion.attempts = attempt;
                    tracing::info!(
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
                    let wait_ok = err
                        .retry_after()
                        .is_none_or(|w| w <= policy.max_retry_after);
                    if !(err.is_retryable() && attempt < policy.max_attempts && in_time && wait_ok)
                    {
                        tracing::warn!(attempt, error = %err, "request failed");
                        if attempt == 1 || !err.is_retryable() {
                            return Err(err);
                        }
                        return Err(LlmError::Exhausted {
                            provider: self.config.name.clone(),
                            model: self.model(request).to_owned(),
                            attempts: attempt,
                            last: Box::new(err),
                        });
                    }
                    tracing::warn!(attempt, delay_ms = delay.as_millis() as u64, error = %err, "retrying");
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                    if emitted {
                        on_event(StreamEvent::Restart { attempt });
                    }
                }
            }
        }
    }
}

fn excerpt(text: &str) -> String {
    let t = text.trim();
    match t.char_indices().nth(300) {
        Some((i, _)) => format!("{}...", &t[..i]),
        None if t.is_empty() => "(empty body)".to_owned(),
        None => t.to_owned(),
    }
}

#[derive(Deserialize)]
struct ChunkWire {
    #[serde(default)]
    choices: Vec<ChoiceWire>,
    usage: Option<UsageWire>,
    error: Option<ErrorWire>,
}

#[derive(Deserialize)]
struct ChoiceWire {
    delta: Option<DeltaWire>,
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct DeltaWire {
    content: Option<String>,
}

#[derive(Deserialize)]
struct UsageWire {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: Option<ErrorWire>,
}

#[derive(Deserialize)]
struct ErrorWire {
    message: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
}
