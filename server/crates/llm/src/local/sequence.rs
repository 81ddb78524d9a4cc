//! One request's generation inside the batch: its prompt tokens, its own sampler and grammar, and what it
//! does with each token it is given (stream it, stop at a stop string, a repetition or the limit).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::model::{LlamaChatMessage, LlamaModel};
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;

use super::sampling::{CLOSING_RESERVE, bounded, closing, closing_tokens, constrained};
use super::{Event, Job, LocalConfig, Timing};
use crate::repetition::RepetitionGuard;
use crate::{ChatRequest, Completion, FinishReason, LlmError, Result, Role, Usage};

/// The error a local generation reports (never retried: the same input fails the same way).
pub(super) fn provider_error(config: &LocalConfig, model_name: &str, message: String) -> LlmError {
    LlmError::Provider { provider: config.name.clone(), model: model_name.to_owned(), message, retryable: false }
}

/// The request as the model reads it: its chat template applied, tokenized.
pub(super) fn prompt_tokens(
    model: &LlamaModel,
    job: &Job,
    fail: &dyn Fn(String) -> LlmError,
) -> Result<Vec<LlamaToken>> {
    let template =
        model.chat_template(None).map_err(|e| fail(format!("the model has no usable chat template: {e}")))?;
    let messages = job
        .request
        .messages
        .iter()
        .map(|m| {
            let role = match m.role {
                Role::System => "system",
                Role::User => "user",
                Role::Assistant => "assistant",
            };
            LlamaChatMessage::new(role.to_owned(), m.content.clone())
        })
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| fail(format!("a message cannot be passed to the model: {e}")))?;
    let prompt = model
        .apply_chat_template(&template, &messages, true)
        .map_err(|e| fail(format!("applying the chat template: {e}")))?;
    Ok(model.vocab().tokenize(prompt.as_bytes(), true, true))
}

/// What a sequence does after a token was sampled for it.
pub(super) enum Next {
    /// Feed this token to the model in the next batch.
    Feed(LlamaToken),
    Finished(FinishReason),
}

pub(super) struct Sequence {
    pub job: Job,
    pub tokens: Vec<LlamaToken>,
    /// Of `tokens`, those whose KV came from a cache (this sequence's or a copied one).
    pub reused: usize,
    max_new: u32,
    sampler: LlamaSampler,
    grammar: Option<LlamaSampler>,
    /// Under a JSON schema, the tokens that only close things (`"`, `]`, `}`), favoured once the value must
    /// end: near the token limit or when the model loops. Shared by every sequence of the model.
    closers: Option<Arc<Vec<bool>>>,
    reserve: u32,
    guard: RepetitionGuard,
    text: String,
    pending: Vec<u8>,
    generated: u32,
    /// When the job reached the engine, and the marks of its phases (for [`Timing`]).
    pub received: Instant,
    pub admitted: Duration,
    pub prefilled: Option<Duration>,
    first_token: Option<Duration>,
}

impl Sequence {
    /// A request that [`samplers`] accepted.
    pub fn new(job: Job, tokens: Vec<LlamaToken>, samplers: Samplers, received: Instant) -> Self {
        let Samplers { max_new, sampler, grammar } = samplers;
        Self {
            job,
            tokens,
            reused: 0,
            max_new,
            sampler,
            grammar,
            closers: None,
            reserve: (max_new / 3).min(CLOSING_RESERVE),
            guard: RepetitionGuard::default(),
            text: String::new(),
            pending: Vec::new(),
            generated: 0,
            received,
            admitted: received.elapsed(),
            prefilled: None,
            first_token: None,
        }
    }

    /// Tokens the reply may still have before its limit (after the one about to be read).
    pub fn tokens_left(&self) -> usize {
        self.max_new.saturating_sub(self.generated + 1) as usize
    }

    pub fn cancelled(&self) -> bool {
        self.job.cancel.load(Ordering::Relaxed)
    }

    /// Samples the token after the logits at batch index `idx`, streams its text, and says whether the
    /// generation goes on. `closers` computes the closing tokens when first needed.
    pub fn sample(
        &mut self,
        ctx: &LlamaContext<'_>,
        idx: i32,
        model: &LlamaModel,
        closers: &mut dyn FnMut() -> Arc<Vec<bool>>,
        fail: &dyn Fn(String) -> LlmError,
    ) -> Result<Next> {
        let vocab = model.vocab();
        let token = match (&mut self.grammar, &self.closers) {
            (None, _) => Some(self.sampler.sample(ctx, idx)),
            (Some(grammar), Some(closers)) => closing(ctx, idx, &mut self.sampler, grammar, closers),
            (Some(grammar), None) => constrained(ctx, idx, &mut self.sampler, grammar),
        }
        .ok_or_else(|| fail("no token fits the output grammar".into()))?;
        self.first_token.get_or_insert_with(|| self.received.elapsed());
        if vocab.is_eog(token) {
            return Ok(Next::Finished(FinishReason::Stop));
        }
        self.generated += 1;
        self.pending.extend(vocab.token_to_piece(token, false, None));
        let valid = match std::str::from_utf8(&self.pending) {
            Ok(_) => self.pending.len(),
            Err(e) if e.error_len().is_none() => e.valid_up_to(), // a character continues in the next token
            Err(_) => self.pending.len(),                         // not UTF-8 at all: replaced below
        };
        let delta = String::from_utf8_lossy(&self.pending[..valid]).into_owned();
        self.pending.drain(..valid);
        let delta_len = delta.len();
        if !delta.is_empty() {
            self.text.push_str(&delta);
            if let Some(at) = self.job.request.stop.iter().filter_map(|s| self.text.find(s.as_str())).min() {
                self.text.truncate(at);
                return Ok(Next::Finished(FinishReason::Stop));
            }
            if self.job.events.send(Event::Delta(delta)).is_err() {
                return Err(LlmError::Cancelled);
            }
        }
        let looped = self.guard.push(token.0, &self.text[self.text.len() - delta_len..]);
        if self.job.request.json_schema.is_some() {
            // A value cut short would not parse: steer it to its end instead.
            if self.closers.is_none() && (looped.is_some() || self.generated + self.reserve >= self.max_new) {
                tracing::info!(tokens = self.generated, looped = looped.is_some(), "closing the JSON value");
                self.closers = Some(closers());
            }
        } else if let Some(repetition) = looped {
            tracing::warn!(%repetition, tokens = self.generated, "the local model is repeating itself; stopping it");
            return Ok(Next::Finished(FinishReason::Other(repetition.to_string())));
        }
        if self.generated >= self.max_new {
            return Ok(Next::Finished(FinishReason::Length));
        }
        Ok(Next::Feed(token))
    }

    /// The finished generation and where its time went, with the job to report it to.
    pub fn complete(
        self,
        finish_reason: FinishReason,
        config: &LocalConfig,
        model_name: &str,
    ) -> (Job, (Completion, Timing)) {
        let total = self.received.elapsed();
        let prefill = self.prefilled.unwrap_or(total);
        tracing::info!(
            prompt_tokens = self.tokens.len(),
            reused_tokens = self.reused,
            completion_tokens = self.generated,
            prefill_ms = prefill.as_millis() as u64,
            decode_ms = (total - prefill).as_millis() as u64,
            "local completion"
        );
        let timing = Timing {
            prompt_tokens: self.tokens.len() as u32,
            reused_tokens: self.reused as u32,
            completion_tokens: self.generated,
            setup: self.admitted,
            prefill,
            first_token: self.first_token.unwrap_or(prefill),
            decode: total - prefill,
        };
        let completion = Completion {
            text: self.text,
            finish_reason,
            usage: Usage {
                prompt_tokens: self.tokens.len() as u64,
                completion_tokens: u64::from(self.generated),
                estimated: false,
                cached_tokens: self.reused as u64,
            },
            provider: config.name.clone(),
            model: model_name.to_owned(),
            attempts: 1,
            cost_usd: Some(0.0),
            fallbacks: Vec::new(),
            latency: total,
        };
        (self.job, (completion, timing))
    }
}

/// A request's token limit within the room its prompt leaves, its sampler chain and its grammar.
pub(super) struct Samplers {
    max_new: u32,
    sampler: LlamaSampler,
    grammar: Option<LlamaSampler>,
}

/// Checks the request against one sequence's `room` (the most tokens, prompt and reply, it may hold) and
/// builds its samplers.
pub(super) fn samplers(
    config: &LocalConfig,
    model: &'static LlamaModel,
    request: &ChatRequest,
    prompt_len: usize,
    room: u32,
    fail: &dyn Fn(String) -> LlmError,
) -> Result<Samplers> {
    if prompt_len as u32 + 16 > room {
        return Err(fail(format!(
            "the prompt is {prompt_len} tokens and the local model's context is {room}; raise samokoder.llm.local.contextTokens or shorten it"
        )));
    }
    let left = room - prompt_len as u32;
    let max_new = request.max_tokens.map_or(left, |m| m.min(left));
    let gbnf = match (&request.json_schema, &request.grammar) {
        (Some(schema), _) => Some(
            llama_cpp_2::json_schema_to_grammar(&bounded(schema.schema.clone()).to_string())
                .map_err(|e| fail(format!("the JSON schema cannot be turned into a grammar: {e}")))?,
        ),
        (None, grammar) => grammar.clone(),
    };
    let grammar = gbnf
        .map(|gbnf| {
            LlamaSampler::grammar(model, &gbnf, "root").map_err(|e| fail(format!("the grammar was refused: {e:?}")))
        })
        .transpose()?;
    let temperature = request.temperature.unwrap_or(0.2);
    let chain = if temperature <= 0.0 {
        vec![LlamaSampler::greedy()]
    } else {
        vec![
            LlamaSampler::top_k(40),
            LlamaSampler::top_p(0.95, 1),
            LlamaSampler::min_p(0.05, 1),
            LlamaSampler::temp(temperature),
            LlamaSampler::dist(draw_seed(config.seed, request.draw)),
        ]
    };
    Ok(Samplers { max_new, sampler: LlamaSampler::chain_simple(chain), grammar })
}

/// The sampler's seed for one draw: the configured seed, or for a numbered draw the seed mixed with its
/// number (a multiplicative hash, so that draw 1 of seed 1 is not draw 0 of seed 2).
pub(super) fn draw_seed(seed: u32, draw: Option<u32>) -> u32 {
    match draw {
        None | Some(0) => seed,
        Some(n) => seed ^ n.wrapping_mul(0x9e37_79b9).rotate_left(16),
    }
}

/// The closing tokens of a model's vocabulary (see [`Sequence::sample`]).
pub(super) fn closers_of(model: &LlamaModel) -> Arc<Vec<bool>> {
    Arc::new(closing_tokens(&model.vocab()))
}
