//! The OpenAI Chat Completions wire format. Serves OpenAI and every compatible server through `base_url`:
//! Groq, OpenRouter, Ollama (`http://localhost:11434/v1`), llama.cpp's server, vLLM, LM Studio, LiteLLM.

use async_trait::async_trait;
use serde::{Deserialize, Deserializer};
use serde_json::json;

use crate::provider::{ErrorBody, ErrorWire, EventError, Http, Reply, Step, Wire, complete, excerpt};
use crate::sse::SseEvent;
use crate::{ChatRequest, Completion, FinishReason, LlmBackend, ProviderConfig, Result, StreamEvent};

pub struct OpenAi {
    http: Http,
}

impl OpenAi {
    pub fn new(config: ProviderConfig) -> Result<Self> {
        Ok(Self { http: Http::new(config, "/chat/completions")? })
    }
}

impl Wire for OpenAi {
    fn http(&self) -> &Http {
        &self.http
    }

    fn body(&self, request: &ChatRequest, model: &str, stream: bool) -> serde_json::Value {
        let mut body = json!({ "model": model, "messages": request.messages, "stream": stream });
        if stream {
            body["stream_options"] = json!({ "include_usage": true });
        }
        if let Some(draw) = request.draw {
            body["seed"] = json!(draw);
        }
        if let Some(t) = request.temperature {
            body["temperature"] = json!(t);
        }
        if let Some(n) = request.max_tokens {
            body["max_tokens"] = json!(n);
        }
        if !request.stop.is_empty() {
            body["stop"] = json!(request.stop);
        }
        if let Some(schema) = &request.json_schema {
            body["response_format"] = json!({
                "type": "json_schema",
                "json_schema": { "name": schema.name, "schema": schema.schema, "strict": false },
            });
        }
        body
    }

    fn authorize(&self, builder: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.http.config.api_key {
            Some(key) => builder.bearer_auth(key.expose()),
            None => builder,
        }
    }

    fn event(&self, event: &SseEvent, reply: &mut Reply) -> std::result::Result<Step, EventError> {
        let data = event.data.trim();
        if data == "[DONE]" {
            return Ok(Step::Done);
        }
        if data.is_empty() {
            return Ok(Step::Nothing);
        }
        let chunk: ChunkWire = serde_json::from_str(data)
            .map_err(|e| EventError::Malformed(format!("malformed chunk ({e}): {}", excerpt(data))))?;
        if let Some(err) = chunk.error {
            return Err(EventError::Provider {
                retryable: err.retryable(),
                message: err.message.unwrap_or_else(|| "unknown error".into()),
            });
        }
        let mut delta = String::new();
        for choice in chunk.choices {
            if let Some(content) = choice.delta.and_then(|d| d.content) {
                delta.push_str(&content);
            }
            if let Some(reason) = choice.finish_reason {
                reply.finish = Some(FinishReason::from_openai(&reason));
            }
        }
        if let Some(u) = chunk.usage {
            reply.prompt_tokens = Some(u.prompt_tokens);
            reply.completion_tokens = Some(u.completion_tokens);
            reply.cached_tokens = u.prompt_tokens_details.and_then(|d| d.cached_tokens);
        }
        Ok(if delta.is_empty() { Step::Nothing } else { Step::Delta(delta) })
    }

    fn whole(&self, body: &[u8], reply: &mut Reply) -> std::result::Result<(), String> {
        let whole: WholeWire = serde_json::from_slice(body)
            .map_err(|e| format!("malformed reply ({e}): {}", excerpt(&String::from_utf8_lossy(body))))?;
        let choice = whole.choices.into_iter().next().ok_or("the reply has no choices")?;
        reply.text = choice.message.and_then(|m| m.content).unwrap_or_default();
        reply.finish = Some(FinishReason::from_openai(choice.finish_reason.as_deref().unwrap_or("stop")));
        if let Some(u) = whole.usage {
            reply.prompt_tokens = Some(u.prompt_tokens);
            reply.completion_tokens = Some(u.completion_tokens);
            reply.cached_tokens = u.prompt_tokens_details.and_then(|d| d.cached_tokens);
        }
        Ok(())
    }

    fn error_message(&self, body: &str) -> Option<String> {
        serde_json::from_str::<ErrorBody>(body).ok()?.error?.message
    }
}

#[async_trait]
impl LlmBackend for OpenAi {
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

/// `null` and absent both mean none (vLLM ends with `"choices": null` in its usage chunk).
fn null_as_empty<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> std::result::Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

#[derive(Deserialize)]
struct ChunkWire {
    #[serde(default, deserialize_with = "null_as_empty")]
    choices: Vec<ChoiceWire>,
    usage: Option<UsageWire>,
    error: Option<ErrorWire>,
}

#[derive(Deserialize)]
struct ChoiceWire {
    delta: Option<MessageWire>,
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct WholeWire {
    #[serde(default, deserialize_with = "null_as_empty")]
    choices: Vec<WholeChoiceWire>,
    usage: Option<UsageWire>,
}

#[derive(Deserialize)]
struct WholeChoiceWire {
    message: Option<MessageWire>,
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct MessageWire {
    content: Option<String>,
}

#[derive(Deserialize)]
struct UsageWire {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
    #[serde(default)]
    prompt_tokens_details: Option<PromptDetailsWire>,
}

#[derive(Deserialize)]
struct PromptDetailsWire {
    cached_tokens: Option<u64>,
}
