//! The embedded provider: a GGUF model run inside the server by llama.cpp, so Samokoder works with no key
//! and no network. The model is loaded once per file and shared; each provider's engine thread (never the
//! async runtime's) decodes up to `parallel` requests together in one batch ([`engine`]), keeps their KV
//! cache for the next requests that start the same way, streams tokens back as deltas, stops a request
//! between tokens when its caller goes away, and costs nothing. A JSON schema in the request becomes a GBNF grammar that constrains
//! sampling, so structured output parses on the first try even on a small model; a request may also bring
//! its own grammar (the code writer's whole-file format).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::model::params::LlamaModelParams;

mod engine;
mod lookup;
mod sampling;
mod sequence;

use crate::{ChatRequest, Completion, LlmBackend, LlmError, Result, StreamEvent};

/// The sampler's seed unless configured (`llm.local.seed`).
pub const DEFAULT_SEED: u32 = 0x5eed;
/// The prefix cache's memory unless configured (`llm.local.cacheMb`): the 1.5B model's KV cache is 28 KiB
/// a token, so 4 sequences of 8,192 tokens take 896 MiB.
pub const DEFAULT_CACHE_MB: u64 = 1024;
/// The longest guess of prompt lookup unless configured (`llm.local.draftMax`): a rewrite copies runs far
/// longer, but a guess read and not kept costs its tokens' share of a decode.
pub const DEFAULT_DRAFT_MAX: usize = 16;
/// Sequences decoded together unless configured (`llm.local.parallel`): the files of one step.
pub const DEFAULT_PARALLEL: usize = 4;

/// How to run the embedded model.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalConfig {
    /// The provider's name in messages, logs and role chains.
    pub name: String,
    pub model_path: PathBuf,
    /// CPU threads per request (default: every core).
    pub threads: usize,
    /// Each request's context window in tokens (prompt and reply); capped at what the model was trained for.
    pub context_tokens: u32,
    /// Requests decoded together in one batch; more wait their turn. The KV cache holds `context_tokens`
    /// for each (memory).
    pub parallel: usize,
    /// The sampler's seed when the temperature is above 0: the same request and seed give the same reply.
    pub seed: u32,
    /// Memory for keeping the KV cache between requests (MiB): a request that starts like an earlier one
    /// (the same system prompt, rules, spec) reads only what differs. When the cache of `parallel`
    /// sequences is larger, it is freed whenever no request runs. 0 turns reuse off.
    pub cache_mb: u64,
    /// The most tokens prompt lookup guesses at once (0: no guessing; replies are the same either way).
    pub draft_max: usize,
    /// Guess in every step, even where guessing proved slower than decoding one token at a time (the
    /// engine judges it by default): for the tests and benches of guessing itself.
    pub draft_always: bool,
}

impl LocalConfig {
    pub fn new(model_path: impl Into<PathBuf>) -> Self {
        Self {
            name: "local".into(),
            model_path: model_path.into(),
            threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
            context_tokens: 8192,
            parallel: DEFAULT_PARALLEL,
            seed: DEFAULT_SEED,
            cache_mb: DEFAULT_CACHE_MB,
            draft_max: DEFAULT_DRAFT_MAX,
            draft_always: false,
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
/// the life of the process (as the map kept it before): an engine's context, which borrows the model, can
/// then outlive one request (the prefix cache).
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

/// The KV cache's size for `n_ctx` tokens (f16 keys and values, every layer).
fn kv_bytes(model: &LlamaModel, n_ctx: u32) -> u64 {
    let head = u64::from(model.n_embd().max(1) as u32) / u64::from(model.n_head().max(1));
    u64::from(model.n_layer()) * 2 * u64::from(n_ctx) * head * u64::from(model.n_head_kv()) * 2
}

enum Event {
    Delta(String),
    Done(Box<Result<(Completion, Timing)>>),
}

struct Job {
    request: ChatRequest,
    events: tokio::sync::mpsc::UnboundedSender<Event>,
    cancel: Arc<AtomicBool>,
}

impl Job {
    /// Reports the job's end (the caller may be gone: then nobody needs it).
    fn finish(&self, result: Result<(Completion, Timing)>) {
        let _ = self.events.send(Event::Done(Box::new(result)));
    }
}

/// What the engine counts, for tests and benchmarks.
#[derive(Default)]
struct Stats {
    cancelled: AtomicU64,
    reused: AtomicU64,
    /// The most sequences one batch has held.
    widest: AtomicU64,
    /// Tokens guessed by prompt lookup, and of them the ones the model's sampler confirmed.
    guessed: AtomicU64,
    kept: AtomicU64,
}

/// The embedded provider.
pub struct Local {
    config: LocalConfig,
    model_name: String,
    jobs: Mutex<mpsc::Sender<Job>>,
    stats: Arc<Stats>,
}

impl Local {
    /// Starts the engine; the model loads with the first request (or now, with [`Local::preload`]).
    pub fn new(config: LocalConfig) -> Result<Self> {
        let model_name = crate::local_model_name(&config.model_path);
        let (tx, rx) = mpsc::channel::<Job>();
        let stats = Arc::new(Stats::default());
        let engine = engine::Engine::new(config.clone(), model_name.clone(), stats.clone());
        std::thread::Builder::new()
            .name("samokoder-llm".into())
            .spawn(move || engine.run(rx))
            .map_err(|e| LlmError::NotConfigured { hint: format!("cannot start the local model's thread: {e}") })?;
        Ok(Self { config, model_name, jobs: Mutex::new(tx), stats })
    }

    /// Generations stopped midway because their caller went away.
    pub fn cancelled_jobs(&self) -> u64 {
        self.stats.cancelled.load(Ordering::Relaxed)
    }

    /// Prompt tokens read from a kept KV cache instead of computed, over every request so far.
    pub fn reused_tokens(&self) -> u64 {
        self.stats.reused.load(Ordering::Relaxed)
    }

    /// The most requests one batch has held so far (they decoded together).
    pub fn widest_batch(&self) -> u64 {
        self.stats.widest.load(Ordering::Relaxed)
    }

    /// Tokens prompt lookup guessed so far, and of them the ones the model confirmed.
    pub fn guessed_tokens(&self) -> (u64, u64) {
        (self.stats.guessed.load(Ordering::Relaxed), self.stats.kept.load(Ordering::Relaxed))
    }

    /// Loads the model now (it is otherwise loaded by the first request).
    pub fn preload(&self) -> Result<()> {
        load(&self.config.model_path).map(|_| ())
    }

    fn submit(
        &self,
        request: &ChatRequest,
        cancel: Arc<AtomicBool>,
    ) -> Result<tokio::sync::mpsc::UnboundedReceiver<Event>> {
        let (events, rx) = tokio::sync::mpsc::unbounded_channel();
        let job = Job { request: request.clone(), events, cancel };
        self.jobs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .send(job)
            .map_err(|_| LlmError::NotConfigured { hint: "the local model's thread has stopped".into() })?;
        Ok(rx)
    }

    /// One request on the calling thread (not in an async runtime), with where its time went: for
    /// benchmarks and tests.
    #[doc(hidden)]
    pub fn generate_timed(&self, request: &ChatRequest) -> Result<(Completion, Timing)> {
        let mut rx = self.submit(request, Arc::new(AtomicBool::new(false)))?;
        while let Some(event) = rx.blocking_recv() {
            if let Event::Done(result) = event {
                return *result;
            }
        }
        Err(LlmError::NotConfigured { hint: "the local model's thread stopped midway".into() })
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
        let cancel = Arc::new(AtomicBool::new(false));
        let _cancel_on_drop = CancelOnDrop(cancel.clone());
        let mut rx = self.submit(request, cancel)?;
        while let Some(event) = rx.recv().await {
            match event {
                Event::Delta(text) => on_event(StreamEvent::Delta(&text)),
                Event::Done(result) => return result.map(|(completion, _)| completion),
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
    /// Everything before the prompt is read: waiting for a free sequence, chat template, tokenizer, and
    /// a context (KV cache) when none was kept.
    pub setup: Duration,
    /// From the start to the end of reading the prompt (setup included).
    pub prefill: Duration,
    /// From the start to the first generated token.
    pub first_token: Duration,
    /// Generating every token after the prompt.
    pub decode: Duration,
}
