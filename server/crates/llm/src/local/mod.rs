//! The embedded provider: a GGUF model run inside the server by llama.cpp, so Samokoder works with no key
//! and no network. The model is loaded once per file and shared; requests queue for a fixed number of
//! worker threads (never the async runtime's), stream tokens back as deltas, stop between tokens when the
//! caller goes away, and cost nothing. A JSON schema in the request becomes a GBNF grammar that constrains
//! sampling, so structured output parses on the first try even on a small model; a request may also bring
//! its own grammar (the code writer's whole-file format).

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::{LlamaChatMessage, LlamaModel};
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;

mod sampling;

use self::sampling::{CLOSING_RESERVE, bounded, closing, closing_tokens, constrained};
use crate::repetition::RepetitionGuard;
use crate::{ChatRequest, Completion, FinishReason, LlmBackend, LlmError, Result, Role, StreamEvent, Usage};

/// The sampler's seed unless configured (`llm.local.seed`).
pub const DEFAULT_SEED: u32 = 0x5eed;
/// The prefix cache's memory unless configured (`llm.local.cacheMb`): one 8192-token context of the 1.5B
/// model is 224 MiB.
pub const DEFAULT_CACHE_MB: u64 = 1024;

/// How to run the embedded model.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalConfig {
    /// The provider's name in messages, logs and role chains.
    pub name: String,
    pub model_path: PathBuf,
    /// CPU threads per request (default: every core).
    pub threads: usize,
    /// Context window in tokens (prompt and reply); capped at what the model was trained for.
    pub context_tokens: u32,
    /// Requests generated at once; more wait their turn. Each holds its own context (memory).
    pub parallel: usize,
    /// The sampler's seed when the temperature is above 0: the same request and seed give the same reply.
    pub seed: u32,
    /// Memory for keeping KV caches between requests (MiB, over all workers): a request that starts like
    /// the previous one (the same system prompt, rules, spec) reads only what differs. 0 turns it off.
    pub cache_mb: u64,
}

impl LocalConfig {
    pub fn new(model_path: impl Into<PathBuf>) -> Self {
        Self {
            name: "local".into(),
            model_path: model_path.into(),
            threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
            context_tokens: 8192,
            parallel: 1,
            seed: DEFAULT_SEED,
            cache_mb: DEFAULT_CACHE_MB,
        }
    }
}

/// llama.cpp's backend: initialised once per process.
fn backend() -> Result<&'static LlamaBackend> {
    static BACKEND: OnceLock<std::result::Result<LlamaBackend, String>> = OnceLock::new();
    BACKEND
        .get_or_init(|| {
            llama_cpp_2::send_logs_to_tracing(llama_cpp_2::LogOptions::default());
            LlamaBackend::init().map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| LlmError::NotConfigured { hint: format!("llama.cpp did not start: {e}") })
}

/// Models by path, loaded once and shared by every router built in this process. A model stays loaded for
/// the life of the process (as the map kept it before): a worker's context, which borrows the model, can
/// then outlive one request (the prefix cache, [`Slot`]).
fn load(path: &Path) -> Result<&'static LlamaModel> {
    static LOADED: OnceLock<Mutex<HashMap<PathBuf, &'static LlamaModel>>> = OnceLock::new();
    let mut loaded = LOADED.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
    if let Some(model) = loaded.get(path) {
        return Ok(model);
    }
    if !path.is_file() {
        return Err(LlmError::NotConfigured {
            hint: format!(
                "the local model {} does not exist; run `samokoder model fetch`, or point samokoder.llm.local.modelPath \
                 (SAMOKODER_LOCAL_MODEL) at a GGUF file",
                path.display()
            ),
        });
    }
    let started = Instant::now();
    let model = LlamaModel::load_from_file(backend()?, path, &LlamaModelParams::default()).map_err(|e| {
        LlmError::NotConfigured {
            hint: format!("cannot load the local model {}: {e}; is it a GGUF file?", path.display()),
        }
    })?;
    tracing::info!(path = %path.display(), ms = started.elapsed().as_millis() as u64, "local model loaded");
    let model: &'static LlamaModel = Box::leak(Box::new(model));
    loaded.insert(path.to_owned(), model);
    Ok(model)
}

/// A worker's context kept between requests, and the tokens its KV cache holds at positions `0..len`: the
/// next request reuses the longest common prefix and reads only the rest. One per worker thread, for one
/// model file and context size; dropped on any error or cancellation (its cache would be half-written).
#[doc(hidden)]
#[derive(Default)]
pub struct Session {
    slot: Option<Slot>,
}

struct Slot {
    ctx: LlamaContext<'static>,
    tokens: Vec<LlamaToken>,
    model_path: PathBuf,
    n_ctx: u32,
}

/// The KV cache's size for `n_ctx` tokens (f16 keys and values, every layer).
fn kv_bytes(model: &LlamaModel, n_ctx: u32) -> u64 {
    let head = u64::from(model.n_embd().max(1) as u32) / u64::from(model.n_head().max(1));
    u64::from(model.n_layer()) * 2 * u64::from(n_ctx) * head * u64::from(model.n_head_kv()) * 2
}

enum Event {
    Delta(String),
    Done(Result<Completion>),
}

struct Job {
    request: ChatRequest,
    events: tokio::sync::mpsc::UnboundedSender<Event>,
    cancel: Arc<AtomicBool>,
}

/// The embedded provider.
pub struct Local {
    config: LocalConfig,
    model_name: String,
    jobs: Mutex<mpsc::Sender<Job>>,
    cancelled: Arc<std::sync::atomic::AtomicU64>,
    reused: Arc<std::sync::atomic::AtomicU64>,
}

impl Local {
    /// Starts the workers; the model loads with the first request (or now, with [`Local::preload`]).
    pub fn new(config: LocalConfig) -> Result<Self> {
        let model_name = crate::local_model_name(&config.model_path);
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        let cancelled = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let reused = Arc::new(std::sync::atomic::AtomicU64::new(0));
        for i in 0..config.parallel.max(1) {
            let (rx, config, model_name, cancelled, reused) =
                (rx.clone(), config.clone(), model_name.clone(), cancelled.clone(), reused.clone());
            std::thread::Builder::new()
                .name(format!("samokoder-llm-{i}"))
                .spawn(move || {
                    let mut session = Session::default();
                    loop {
                        let job = match rx.lock().unwrap_or_else(|e| e.into_inner()).recv() {
                            Ok(job) => job,
                            Err(_) => return, // the provider was dropped
                        };
                        if job.cancel.load(Ordering::Relaxed) {
                            continue;
                        }
                        let result = generate(&config, &model_name, &job, &mut session).map(|(completion, timing)| {
                            reused.fetch_add(u64::from(timing.reused_tokens), Ordering::Relaxed);
                            completion
                        });
                        if matches!(result, Err(LlmError::Cancelled)) {
                            cancelled.fetch_add(1, Ordering::Relaxed);
                        }
                        let _ = job.events.send(Event::Done(result));
                    }
                })
                .map_err(|e| LlmError::NotConfigured { hint: format!("cannot start the local model's thread: {e}") })?;
        }
        Ok(Self { config, model_name, jobs: Mutex::new(tx), cancelled, reused })
    }

    /// Generations stopped midway because their caller went away.
    pub fn cancelled_jobs(&self) -> u64 {
        self.cancelled.load(Ordering::Relaxed)
    }

    /// Prompt tokens read from a kept KV cache instead of computed, over every request so far.
    pub fn reused_tokens(&self) -> u64 {
        self.reused.load(Ordering::Relaxed)
    }

    /// Loads the model now (it is otherwise loaded by the first request).
    pub fn preload(&self) -> Result<()> {
        load(&self.config.model_path).map(|_| ())
    }
}

/// Sets the job's cancel flag when the caller's future is dropped.
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

#[async_trait]
impl LlmBackend for Local {
    fn provider(&self) -> &str {
        &self.config.name
    }

    fn default_model(&self) -> &str {
        &self.model_name
    }

    async fn stream(
        &self,
        request: &ChatRequest,
        on_event: &(dyn for<'e> Fn(StreamEvent<'e>) + Send + Sync),
    ) -> Result<Completion> {
        let (events, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let cancel = Arc::new(AtomicBool::new(false));
        let _cancel_on_drop = CancelOnDrop(cancel.clone());
        let job = Job { request: request.clone(), events, cancel };
        self.jobs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .send(job)
            .map_err(|_| LlmError::NotConfigured { hint: "the local model's threads have stopped".into() })?;
        while let Some(event) = rx.recv().await {
            match event {
                Event::Delta(text) => on_event(StreamEvent::Delta(&text)),
                Event::Done(result) => return result,
            }
        }
        Err(LlmError::NotConfigured { hint: "the local model's thread stopped midway".into() })
    }
}

/// Where one generation spent its time.
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub prompt_tokens: u32,
    /// Of `prompt_tokens`, those whose KV came from the previous request (the prefix cache).
    pub reused_tokens: u32,
    pub completion_tokens: u32,
    /// Everything before the prompt is read: chat template, tokenizer, a fresh context (KV cache).
    pub setup: Duration,
    /// From the start to the end of reading the prompt (setup included).
    pub prefill: Duration,
    /// From the start to the first generated token.
    pub first_token: Duration,
    /// Generating every token after the prompt.
    pub decode: Duration,
}

/// One completion on the calling (worker) thread.
fn generate(config: &LocalConfig, model_name: &str, job: &Job, session: &mut Session) -> Result<(Completion, Timing)> {
    let started = Instant::now();
    let fail = |message: String| LlmError::Provider {
        provider: config.name.clone(),
        model: model_name.to_owned(),
        message,
        retryable: false,
    };
    let model = load(&config.model_path)?;
    let request = &job.request;

    let template =
        model.chat_template(None).map_err(|e| fail(format!("the model has no usable chat template: {e}")))?;
    let messages = request
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
    let vocab = model.vocab();
    let tokens = vocab.tokenize(prompt.as_bytes(), true, true);

    let n_ctx = config.context_tokens.min(model.n_ctx_train()).max(256);
    if tokens.len() as u32 + 16 > n_ctx {
        return Err(fail(format!(
            "the prompt is {} tokens and the local model's context is {n_ctx}; raise samokoder.llm.local.contextTokens or shorten it",
            tokens.len()
        )));
    }
    let room = n_ctx - tokens.len() as u32;
    let max_new = request.max_tokens.map_or(room, |m| m.min(room));
    let threads = config.threads.max(1) as i32;
    let batch_size = 512u32;
    // The previous request's context when it is for this model and size: its KV cache up to the longest
    // common prefix stays (at least the last prompt token is read again, for its logits).
    let kept = session.slot.take().filter(|s| s.model_path == config.model_path && s.n_ctx == n_ctx);
    let (mut ctx, reused) = match kept {
        Some(mut slot) => {
            let common = slot.tokens.iter().zip(&tokens).take_while(|(a, b)| a == b).count();
            let common = common.min(tokens.len().saturating_sub(1));
            let cleared = slot.ctx.clear_kv_cache_seq(Some(0), Some(common as u32), None).unwrap_or(false);
            if cleared {
                (slot.ctx, common)
            } else {
                slot.ctx.clear_kv_cache();
                (slot.ctx, 0)
            }
        }
        None => {
            let params = LlamaContextParams::default()
                .with_n_ctx(NonZeroU32::new(n_ctx))
                .with_n_batch(batch_size)
                .with_n_threads(threads)
                .with_n_threads_batch(threads);
            let ctx =
                model.new_context(backend()?, params).map_err(|e| fail(format!("cannot create a context: {e}")))?;
            (ctx, 0)
        }
    };
    let mut held: Vec<LlamaToken> = tokens.clone();
    let setup = started.elapsed();

    // Prefill what the cache does not hold, in batches; logits only for the last prompt token.
    let mut batch = LlamaBatch::new(batch_size as usize, 1);
    for (chunk_start, chunk) in
        tokens[reused..].chunks(batch_size as usize).enumerate().map(|(i, c)| (reused + i * batch_size as usize, c))
    {
        batch.clear();
        for (i, token) in chunk.iter().enumerate() {
            let pos = chunk_start + i;
            batch.add(*token, pos as i32, &[0], pos + 1 == tokens.len()).map_err(|e| fail(e.to_string()))?;
        }
        ctx.decode(&mut batch).map_err(|e| fail(format!("prefill failed: {e}")))?;
        if job.cancel.load(Ordering::Relaxed) {
            return Err(LlmError::Cancelled);
        }
    }
    let prefill = started.elapsed();

    let gbnf = match (&request.json_schema, &request.grammar) {
        (Some(schema), _) => Some(
            llama_cpp_2::json_schema_to_grammar(&bounded(schema.schema.clone()).to_string())
                .map_err(|e| fail(format!("the JSON schema cannot be turned into a grammar: {e}")))?,
        ),
        (None, grammar) => grammar.clone(),
    };
    let mut grammar = gbnf
        .map(|gbnf| {
            LlamaSampler::grammar(model, &gbnf, "root").map_err(|e| fail(format!("the grammar was refused: {e:?}")))
        })
        .transpose()?;
    let mut chain = Vec::new();
    let temperature = request.temperature.unwrap_or(0.2);
    if temperature <= 0.0 {
        chain.push(LlamaSampler::greedy());
    } else {
        chain.push(LlamaSampler::top_k(40));
        chain.push(LlamaSampler::top_p(0.95, 1));
        chain.push(LlamaSampler::min_p(0.05, 1));
        chain.push(LlamaSampler::temp(temperature));
        chain.push(LlamaSampler::dist(config.seed));
    }
    let mut sampler = LlamaSampler::chain_simple(chain);

    let mut first_token = None;
    let mut text = String::new();
    let mut pending: Vec<u8> = Vec::new();
    let mut generated = 0u32;
    let mut guard = RepetitionGuard::default();
    // Under a JSON schema, the tokens that only close things (`"`, `]`, `}`), favoured once the value must
    // end: near the token limit or when the model loops. Computed when first needed.
    let mut closers: Option<Vec<bool>> = None;
    let reserve = (max_new / 3).min(CLOSING_RESERVE);
    let mut position = tokens.len() as i32;
    let finish_reason = loop {
        if job.cancel.load(Ordering::Relaxed) {
            return Err(LlmError::Cancelled);
        }
        let idx = batch.n_tokens() - 1;
        let token = match (&mut grammar, &closers) {
            (None, _) => Some(sampler.sample(&ctx, idx)),
            (Some(grammar), Some(closers)) => closing(&ctx, idx, &mut sampler, grammar, closers),
            (Some(grammar), None) => constrained(&ctx, idx, &mut sampler, grammar),
        }
        .ok_or_else(|| fail("no token fits the output grammar".into()))?;
        first_token.get_or_insert_with(|| started.elapsed());
        if vocab.is_eog(token) {
            break FinishReason::Stop;
        }
        generated += 1;
        pending.extend(vocab.token_to_piece(token, false, None));
        let valid = match std::str::from_utf8(&pending) {
            Ok(_) => pending.len(),
            Err(e) if e.error_len().is_none() => e.valid_up_to(), // a character continues in the next token
            Err(_) => pending.len(),                              // not UTF-8 at all: replaced below
        };
        let delta = String::from_utf8_lossy(&pending[..valid]).into_owned();
        pending.drain(..valid);
        let delta_len = delta.len();
        if !delta.is_empty() {
            text.push_str(&delta);
            if let Some(at) = request.stop.iter().filter_map(|s| text.find(s.as_str())).min() {
                text.truncate(at);
                break FinishReason::Stop;
            }
            if job.events.send(Event::Delta(delta)).is_err() {
                return Err(LlmError::Cancelled);
            }
        }
        let looped = guard.push(token.0, &text[text.len() - delta_len..]);
        if request.json_schema.is_some() {
            // A value cut short would not parse: steer it to its end instead.
            if closers.is_none() && (looped.is_some() || generated + reserve >= max_new) {
                tracing::info!(tokens = generated, looped = looped.is_some(), "closing the JSON value");
                closers = Some(closing_tokens(&vocab));
            }
        } else if let Some(repetition) = looped {
            tracing::warn!(%repetition, tokens = generated, "the local model is repeating itself; stopping it");
            break FinishReason::Other(repetition.to_string());
        }
        if generated >= max_new {
            break FinishReason::Length;
        }
        batch.clear();
        batch.add(token, position, &[0], true).map_err(|e| fail(e.to_string()))?;
        position += 1;
        ctx.decode(&mut batch).map_err(|e| fail(format!("decoding failed: {e}")))?;
        held.push(token);
    };
    // Kept for the next request when the memory budget allows this context.
    if kv_bytes(model, n_ctx) <= config.cache_mb * 1024 * 1024 / config.parallel.max(1) as u64 {
        session.slot = Some(Slot { ctx, tokens: held, model_path: config.model_path.clone(), n_ctx });
    }
    tracing::info!(
        prompt_tokens = tokens.len(),
        reused_tokens = reused,
        completion_tokens = generated,
        prefill_ms = prefill.as_millis() as u64,
        decode_ms = (started.elapsed() - prefill).as_millis() as u64,
        "local completion"
    );
    let timing = Timing {
        prompt_tokens: tokens.len() as u32,
        reused_tokens: reused as u32,
        completion_tokens: generated,
        setup,
        prefill,
        first_token: first_token.unwrap_or(prefill),
        decode: started.elapsed() - prefill,
    };
    let completion = Completion {
        text,
        finish_reason,
        usage: Usage { prompt_tokens: tokens.len() as u64, completion_tokens: u64::from(generated), estimated: false },
        provider: config.name.clone(),
        model: model_name.to_owned(),
        attempts: 1,
        cost_usd: Some(0.0),
        fallbacks: Vec::new(),
        latency: started.elapsed(),
    };
    Ok((completion, timing))
}

/// One greedy generation of `new_tokens` after `messages`, timed, in `session` (a fresh one reuses
/// nothing): for benchmarks and the prefix cache's tests. Returns the text too.
#[doc(hidden)]
pub fn measure(
    config: &LocalConfig,
    session: &mut Session,
    messages: Vec<crate::Message>,
    new_tokens: u32,
) -> Result<(String, Timing)> {
    let model_name = crate::local_model_name(&config.model_path);
    let (events, _rx) = tokio::sync::mpsc::unbounded_channel();
    let job = Job {
        request: ChatRequest { messages, max_tokens: Some(new_tokens), temperature: Some(0.0), ..Default::default() },
        events,
        cancel: Arc::new(AtomicBool::new(false)),
    };
    generate(config, &model_name, &job, session).map(|(completion, timing)| (completion.text, timing))
}
