//! The Anthropic Messages wire format: `POST {base}/v1/messages` with `x-api-key` and
//! `anthropic-version`, streamed as message_start, content_block_start, ping, content_block_delta
//! (text_delta), content_block_stop, message_delta (stop_reason, usage), message_stop, and `error` events.

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::json;

use crate::provider::{ErrorBody, ErrorWire, EventError, Http, Reply, Step, Wire, complete, excerpt};
use crate::sse::SseEvent;
use crate::{ChatRequest, Completion, FinishReason, LlmBackend, ProviderConfig, Result, Role, StreamEvent};

/// The API version this client speaks.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";
/// Anthropic requires `max_tokens`; this is used when a request sets none.
const DEFAULT_MAX_TOKENS: u32 = 8192;

pub struct Anthropic {
    http: Http,
}

impl Anthropic {
    pub fn new(config: ProviderConfig) -> Result<Self> {
        Ok(Self { http: Http::new(config, "/v1/messages")? })
    }
}

impl Wire for Anthropic {
    fn http(&self) -> &Http {
        &self.http
    }

    fn body(&self, request: &ChatRequest, model: &str, stream: bool) -> serde_json::Value {
        // System messages go to `system`; the rest alternate user/assistant.
        let system: Vec<&str> =
            request.messages.iter().filter(|m| m.role == Role::System).map(|m| m.content.as_str()).collect();
        let messages: Vec<serde_json::Value> = request
            .messages
            .iter()
            .filter(|m| m.role != Role::System)
            .map(|m| json!({ "role": m.role, "content": m.content }))
            .collect();
        let mut body = json!({
            "model": model,
            "messages": messages,
            "max_tokens": request.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS),
            "stream": stream,
        });
        let mut system = system.join("\n\n");
        if let Some(schema) = &request.json_schema {
            // No JSON mode here: the schema goes into the instructions, and the reply is checked.
            system.push_str(&format!(
                "\n\nReply with only a JSON value matching this JSON schema, no prose:\n{}",
                schema.schema
            ));
        }
        if !system.trim().is_empty() {
            body["system"] = json!(system.trim());
        }
        if let Some(t) = request.temperature {
            body["temperature"] = json!(t);
        }
        if !request.stop.is_empty() {
            body["stop_sequences"] = json!(request.stop);
        }
        body
    }

    fn authorize(&self, builder: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        let builder = builder.header("anthropic-version", ANTHROPIC_VERSION);
        match &self.http.config.api_key {
            Some(key) => builder.header("x-api-key", key.expose()),
            None => builder,
        }
    }

    fn event(&self, event: &SseEvent, reply: &mut Reply) -> std::result::Result<Step, EventError> {
        if event.data.trim().is_empty() {
            return Ok(Step::Nothing);
        }
        let wire: EventWire = serde_json::from_str(&event.data)
            .map_err(|e| EventError::Malformed(format!("malformed event ({e}): {}", excerpt(&event.data))))?;
        // The `type` in the data is authoritative; the SSE event name repeats it.
        match wire.kind.as_str() {
            "message_start" => {
                if let Some(usage) = wire.message.and_then(|m| m.usage) {
                    (reply.prompt_tokens, reply.cached_tokens) = usage.prompt();
                    reply.completion_tokens = usage.output_tokens;
                }
                Ok(Step::Nothing)
            }
            "content_block_delta" => Ok(match wire.delta {
                Some(DeltaWire { kind: Some(kind), text: Some(text), .. }) if kind == "text_delta" => Step::Delta(text),
                _ => Step::Nothing,
            }),
            "message_delta" => {
                if let Some(reason) = wire.delta.and_then(|d| d.stop_reason) {
                    reply.finish = Some(FinishReason::from_openai(&reason));
                }
                if let Some(output) = wire.usage.and_then(|u| u.output_tokens) {
                    reply.completion_tokens = Some(output);
                }
                Ok(Step::Nothing)
            }
            "message_stop" => Ok(Step::Done),
            "error" => {
                let err = wire.error.unwrap_or(ErrorWire { message: None, kind: None });
                Err(EventError::Provider {
                    retryable: err.retryable(),
                    message: format!(
                        "{}: {}",
                        err.kind.as_deref().unwrap_or("error"),
                        err.message.as_deref().unwrap_or("unknown error")
                    ),
                })
            }
            // ping, content_block_start, content_block_stop, and event types added later.
            _ => Ok(Step::Nothing),
        }
    }

    fn whole(&self, body: &[u8], reply: &mut Reply) -> std::result::Result<(), String> {
        let whole: WholeWire = serde_json::from_slice(body)
            .map_err(|e| format!("malformed reply ({e}): {}", excerpt(&String::from_utf8_lossy(body))))?;
        reply.text = whole.content.into_iter().filter(|b| b.kind == "text").filter_map(|b| b.text).collect();
        reply.finish = Some(FinishReason::from_openai(whole.stop_reason.as_deref().unwrap_or("end_turn")));
        if let Some(u) = whole.usage {
            (reply.prompt_tokens, reply.cached_tokens) = u.prompt();
            reply.completion_tokens = u.output_tokens;
        }
        Ok(())
    }

    fn error_message(&self, body: &str) -> Option<String> {
        let err = serde_json::from_str::<ErrorBody>(body).ok()?.error?;
        Some(match (err.kind, err.message) {
            (Some(kind), Some(message)) => format!("{kind}: {message}"),
            (_, message) => message?,
        })
    }
}

#[async_trait]
impl LlmBackend for Anthropic {
    fn provider(&self) -> &str {
        &self.http.config.name
    }

    fn default_model(&self) -> &str {
        &self.http.config.model
    }

    async fn stream(
        &self,
        request: &ChatRequest,
        on_event: &(dyn for<'e> Fn(StreamEvent<'e>) + Send + Sync),
    ) -> Result<Completion> {
        complete(self, request, on_event).await
    }
}

#[derive(Deserialize)]
struct EventWire {
    #[serde(rename = "type")]
    kind: String,
    message: Option<MessageWire>,
    delta: Option<DeltaWire>,
    usage: Option<UsageWire>,
    error: Option<ErrorWire>,
}

#[derive(Deserialize)]
struct MessageWire {
    usage: Option<UsageWire>,
}

#[derive(Deserialize)]
struct DeltaWire {
    #[serde(rename = "type")]
    kind: Option<String>,
    text: Option<String>,
    stop_reason: Option<String>,
}

#[derive(Deserialize)]
struct UsageWire {
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    /// Prompt tokens read from Anthropic's prompt cache (not in `input_tokens`).
    cache_read_input_tokens: Option<u64>,
}

impl UsageWire {
    /// Every prompt token, the cached ones too, and of them the cached ones.
    fn prompt(&self) -> (Option<u64>, Option<u64>) {
        let cached = self.cache_read_input_tokens;
        (self.input_tokens.map(|i| i + cached.unwrap_or(0)), cached)
    }
}

#[derive(Deserialize)]
struct WholeWire {
    #[serde(default)]
    content: Vec<BlockWire>,
    stop_reason: Option<String>,
    usage: Option<UsageWire>,
}

#[derive(Deserialize)]
struct BlockWire {
    #[serde(rename = "type")]
    kind: String,
    text: Option<String>,
}
