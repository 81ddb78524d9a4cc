//! LLM providers over HTTP. [`LlmBackend`] is what the pipeline calls; [`OpenAi`] speaks the Chat
//! Completions wire format, which serves OpenAI itself and every compatible server (Groq, OpenRouter,
//! Ollama, llama.cpp's server, vLLM, LM Studio, LiteLLM) through its base URL.
//!
//! Every call streams (server-sent events), is retried on connection errors, timeouts, 408/409/429/5xx/529
//! with backoff that honours `Retry-After`, and never returns a duplicated or truncated text: a stream that
//! breaks is retried from the start and the caller is told to drop what it showed.
//!
//! This is the only crate that uses reqwest. It must never log or return an API key: [`ApiKey`] redacts
//! itself, and no error message carries a header.

mod error;
mod openai;
mod retry;
mod sse;
mod types;

pub use error::{LlmError, Result};
pub use openai::{OpenAi, OpenAiConfig};
pub use retry::RetryPolicy;
pub use sse::{SseEvent, SseParser};
pub use types::{
    ApiKey, ChatRequest, Completion, FinishReason, LlmBackend, Message, Role, StreamEvent,
    Unconfigured, Usage,
};
