//! LLM providers over HTTP, and the layer that makes calling them boring. [`OpenAi`] speaks the Chat
//! Completions wire format (OpenAI, Groq, OpenRouter, Ollama, llama.cpp's server, vLLM, LM Studio, LiteLLM
//! through its base URL); [`Anthropic`] speaks Messages. Both stream server-sent events, retry connection
//! errors, timeouts, 408/409/429/5xx/529 with backoff that honours `Retry-After`, and never hand the caller a
//! duplicated or truncated text: a stream that breaks starts over and the caller is told to drop what it
//! showed.
//!
//! Above the providers, the [`Router`] maps agent roles to provider + model + parameters with a fallback
//! chain, enforces per-provider concurrency and tokens-per-minute limits shared by all callers, prices every
//! call and refuses the one that would break the run's [`Budget`], records every request through a
//! [`RequestLog`], and offers [`Router::complete_json`] for typed structured output.
//!
//! This is the only crate that uses reqwest. It must never log, record or return an API key: [`ApiKey`]
//! redacts itself, no error message carries a header, and the request log holds messages, not headers.

mod anthropic;
mod cost;
mod error;
mod json;
mod limits;
#[cfg(feature = "local-llm")]
mod local;
mod log;
mod openai;
mod provider;
#[cfg(feature = "local-llm")]
mod repetition;
mod retry;
mod router;
mod sse;
mod types;

pub use anthropic::{ANTHROPIC_VERSION, Anthropic};
pub use cost::{Budget, Price, PriceTable};
pub use error::{LlmError, Result};
pub use json::{extract_json, repair_json};
pub use limits::{Limits, LimitsConfig};
#[cfg(feature = "local-llm")]
pub use local::{DEFAULT_CACHE_MB, DEFAULT_DRAFT_MAX, DEFAULT_PARALLEL, Local, LocalConfig, Timing as LocalTiming};
pub use log::{LlmRecord, NoLog, RequestLog};
pub use openai::OpenAi;
pub use provider::{ProviderConfig, ProviderKind, connect, local_model_name};
pub use retry::RetryPolicy;
pub use router::{AgentRole, CallContext, Route, Router, gather};
pub use sse::{SseEvent, SseParser};
pub use types::{
    ApiKey, ChatRequest, Completion, FinishReason, JsonSchema, LlmBackend, Message, Role, StreamEvent, Usage,
    estimate_prompt_tokens, estimate_tokens,
};
