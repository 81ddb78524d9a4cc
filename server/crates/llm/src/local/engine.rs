//! The batch engine: one thread and one llama.cpp context per provider, holding `parallel` sequences,
//! each in its own stream of the KV cache. Each step reads one batch: a chunk of a prompt being read (alone,
//! as with no other request), or else the next token of every sequence that is generating, so concurrent
//! requests decode together instead of waiting in a queue. A sequence's attention sees only its own
//! stream, laid out exactly as when it runs alone, and its prompt is read in the same chunks as alone, so a
//! greedy reply is the same token for token whatever else is in the batch.
//!
//! The KV cache outlives requests: every slot keeps the tokens its stream holds, and a new request starts
//! from the longest prefix any slot holds (its own, or another's copied over, a memory copy). A request
//! whose prefix another one is still reading waits for it rather than reading the same tokens twice, so
//! files written at once pay for their shared prompt once.

use std::collections::VecDeque;
use std::num::NonZeroU32;
use std::sync::atomic::Ordering;
use std::sync::{Arc, mpsc};
use std::time::Instant;

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::token::LlamaToken;

use super::lookup::{Drafter, Payoff};
use super::sequence::{Next, Sequence, closers_of, prompt_tokens, provider_error, samplers};
use super::{Job, LocalConfig, Stats, backend, load};
use crate::{LlmError, Result};

/// Tokens read per step (llama.cpp's batch).
const BATCH: usize = 512;
/// A prefix shorter than this is not worth waiting for or copying.
const WORTH_SHARING: usize = 32;

/// A sequence of the context: the tokens whose KV its cells hold (positions `0..held.len()`), and the
/// request it is serving, if any.
#[derive(Default)]
struct Slot {
    held: Vec<LlamaToken>,
    active: Option<Active>,
}

struct Active {
    seq: Sequence,
    /// The token to read in the next step once the prompt is read (the last one sampled).
    next: Option<LlamaToken>,
    /// Its guesses at what follows (prompt lookup).
    drafter: Drafter,
}

impl Slot {
    fn reading(&self) -> bool {
        self.active.as_ref().is_some_and(|a| a.next.is_none() && self.held.len() < a.seq.tokens.len())
    }
}

/// A job not started yet: when it arrived, and its prompt's tokens once computed.
struct Waiting {
    job: Job,
    received: Instant,
    tokens: Option<Vec<LlamaToken>>,
}

struct Context {
    ctx: LlamaContext<'static>,
    model: &'static LlamaModel,
    /// Every sequence's room (prompt and reply), and all of the context's cells (`room` per sequence).
    room: u32,
    cells: usize,
}

pub(super) struct Engine {
    config: LocalConfig,
    model_name: String,
    stats: Arc<Stats>,
    context: Option<Context>,
    slots: Vec<Slot>,
    waiting: VecDeque<Waiting>,
    closers: Option<Arc<Vec<bool>>>,
    /// Whether guessing pays here (prompt lookup).
    payoff: Payoff,
}

fn common(a: &[LlamaToken], b: &[LlamaToken]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// Makes sequence `to` hold what `from` holds. Each sequence has its own stream of the KV cache, and
/// llama.cpp copies whole streams (a memory copy at the next decode, far cheaper than reading a prompt).
fn copy_sequence(ctx: &mut LlamaContext<'static>, from: usize, to: usize) {
    let _ = ctx.clear_kv_cache_seq(Some(to as u32), None, None);
    let _ = ctx.copy_kv_cache_seq(from as i32, to as i32, None, None);
}

impl Engine {
    pub fn new(config: LocalConfig, model_name: String, stats: Arc<Stats>) -> Self {
        let slots = (0..config.parallel.max(1)).map(|_| Slot::default()).collect();
        Self {
            config,
            model_name,
            stats,
            context: None,
            slots,
            waiting: VecDeque::new(),
            closers: None,
            payoff: Payoff::default(),
        }
    }

    fn fail(&self, message: String) -> LlmError {
        provider_error(&self.config, &self.model_name, message)
    }

    /// Serves jobs until the provider is dropped and every job is done.
    pub fn run(mut self, jobs: mpsc::Receiver<Job>) {
        let mut open = true;
        loop {
            let busy = self.slots.iter().any(|s| s.active.is_some()) || !self.waiting.is_empty();
            if !busy {
                if !open {
                    return;
                }
                self.idle();
                match jobs.recv() {
                    Ok(job) => self.waiting.push_back(Waiting { job, received: Instant::now(), tokens: None }),
                    Err(_) => return,
                }
            }
            loop {
                match jobs.try_recv() {
                    Ok(job) => self.waiting.push_back(Waiting { job, received: Instant::now(), tokens: None }),
                    Err(mpsc::TryRecvError::Empty) => break,
                    Err(mpsc::TryRecvError::Disconnected) => {
                        open = false;
                        break;
                    }
                }
            }
            self.drop_cancelled();
            self.compact();
            self.admit();
            if self.slots.iter().any(|s| s.active.is_some()) {
                self.step();
            }
        }
    }

    /// Nothing to do: the context is kept for the next request only when the budget allows its KV cache.
    fn idle(&mut self) {
        let Some(context) = &self.context else { return };
        let bytes = super::kv_bytes(context.model, context.cells as u32);
        if bytes > self.config.cache_mb * 1024 * 1024 {
            self.reset();
        }
    }

    /// Drops the context and everything its cells held.
    fn reset(&mut self) {
        self.context = None;
        for slot in &mut self.slots {
            slot.held.clear();
        }
    }

    fn drop_cancelled(&mut self) {
        self.waiting.retain(|w| !w.job.cancel.load(Ordering::Relaxed));
        for slot in &mut self.slots {
            if slot.active.as_ref().is_some_and(|a| a.seq.cancelled()) {
                let active = slot.active.take().expect("checked above");
                self.stats.cancelled.fetch_add(1, Ordering::Relaxed);
                active.seq.job.finish(Err(LlmError::Cancelled));
            }
        }
    }

    /// The context for the configured model, created on first use.
    fn context(&mut self) -> Result<&mut Context> {
        if self.context.is_none() {
            let model = load(&self.config.model_path)?;
            let room = self.config.context_tokens.min(model.n_ctx_train()).max(256).next_multiple_of(256);
            let cells = room as usize * self.slots.len();
            let threads = self.config.threads.max(1) as i32;
            let params = LlamaContextParams::default()
                .with_n_ctx(NonZeroU32::new(cells as u32))
                .with_n_batch(BATCH as u32)
                .with_n_seq_max(self.slots.len() as u32)
                .with_kv_unified(false)
                .with_n_threads(threads)
                .with_n_threads_batch(threads);
            let ctx = model
                .new_context(backend()?, params)
                .map_err(|e| self.fail(format!("cannot create a context: {e}")))?;
            for slot in &mut self.slots {
                slot.held.clear();
            }
            self.context = Some(Context { ctx, model, room, cells });
        }
        Ok(self.context.as_mut().expect("created above"))
    }

    /// Starts waiting jobs in free slots, in order; a job whose prefix another sequence is still reading
    /// waits for it.
    fn admit(&mut self) {
        let mut i = 0;
        while i < self.waiting.len() && self.slots.iter().any(|s| s.active.is_none()) {
            match self.ready(i) {
                Ok(true) => {
                    let w = self.waiting.remove(i).expect("in range");
                    self.start(w.job, w.received, w.tokens.expect("ready tokenized it"));
                }
                Ok(false) => i += 1,
                Err(e) => self.waiting.remove(i).expect("in range").job.finish(Err(e)),
            }
        }
    }

    /// Whether waiting job `i` should start now (its prompt is tokenized on the way): not while a sequence
    /// still reading its prompt will soon hold a longer prefix of it than any slot holds now.
    fn ready(&mut self, i: usize) -> Result<bool> {
        let model = self.context()?.model;
        if self.waiting[i].tokens.is_none() {
            let fail = |m: String| provider_error(&self.config, &self.model_name, m);
            self.waiting[i].tokens = Some(prompt_tokens(model, &self.waiting[i].job, &fail)?);
        }
        let tokens = self.waiting[i].tokens.as_deref().expect("tokenized above");
        if self.config.cache_mb > 0 {
            let held = self.slots.iter().map(|s| common(&s.held, tokens)).max().unwrap_or(0);
            let coming = self
                .slots
                .iter()
                .filter(|s| s.reading())
                .filter_map(|s| s.active.as_ref().map(|a| common(&a.seq.tokens, tokens)))
                .max()
                .unwrap_or(0);
            if coming >= held + WORTH_SHARING {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Starts a job in the first free slot (the active ones stay contiguous, see [`Engine::compact`]).
    /// Its cells keep the longest prefix of the prompt any slot holds: its own, or a copy of another's.
    fn start(&mut self, job: Job, received: Instant, tokens: Vec<LlamaToken>) {
        let fail = |m: String| provider_error(&self.config, &self.model_name, m);
        let target = self.slots.iter().position(|s| s.active.is_none()).expect("admit checked for a free slot");
        let context = self.context.as_mut().expect("ready created the context");
        let (model, room) = (context.model, context.room);
        let mut seq = match samplers(&self.config, model, &job.request, tokens.len(), room, &fail) {
            Ok(samplers) => Sequence::new(job, tokens, samplers, received),
            Err(e) => return job.finish(Err(e)),
        };
        let ctx = &mut context.ctx;
        // At least the prompt's last token is read again, for its logits.
        let most = seq.tokens.len() - 1;
        let own = common(&self.slots[target].held, &seq.tokens).min(most);
        let (source, shared) = (0..self.slots.len())
            .map(|s| (s, common(&self.slots[s].held, &seq.tokens).min(most)))
            .max_by_key(|&(s, n)| (n, s == target))
            .unwrap_or((target, 0));
        let reuse = if self.config.cache_mb == 0 {
            0
        } else if source != target && shared >= own + WORTH_SHARING {
            copy_sequence(ctx, source, target);
            self.slots[target].held = self.slots[source].held.clone();
            shared
        } else {
            own
        };
        if !ctx.clear_kv_cache_seq(Some(target as u32), Some(reuse as u32), None).unwrap_or(false) {
            let _ = ctx.clear_kv_cache_seq(Some(target as u32), None, None);
            self.slots[target].held.clear();
        }
        self.slots[target].held.truncate(reuse);
        seq.reused = self.slots[target].held.len();
        self.stats.reused.fetch_add(seq.reused as u64, Ordering::Relaxed);
        let drafter = Drafter::new(self.config.draft_max);
        self.slots[target].active = Some(Active { seq, next: None, drafter });
    }

    /// Moves active sequences down into free slots below them. llama.cpp batches only sequences with
    /// consecutive ids (each has its own stream of the KV cache), so a gap left by a finished request would
    /// split every later step in two.
    fn compact(&mut self) {
        let Some(context) = self.context.as_mut() else { return };
        loop {
            let Some(free) = self.slots.iter().position(|s| s.active.is_none()) else { return };
            let Some(last) = self.slots.iter().rposition(|s| s.active.is_some()) else { return };
            if last < free {
                return;
            }
            copy_sequence(&mut context.ctx, last, free);
            let _ = context.ctx.clear_kv_cache_seq(Some(last as u32), None, None);
            let moved = std::mem::take(&mut self.slots[last]);
            self.slots[free] = moved;
        }
    }

    /// One batch: the next chunk of one prompt being read, alone, as it would be read with no other
    /// request; or, when no prompt is being read, every generating sequence's next token. Prompts are not
    /// read in a batch with other sequences: llama.cpp splits such a batch into equal parts per sequence,
    /// so a prompt would be read a few tokens at a time, and its numbers (with llama.cpp's kernels for few
    /// tokens against many) would differ in the last bits from reading it alone: greedy replies then
    /// differed from the same requests alone (seen on an AVX-512 machine).
    fn step(&mut self) {
        let mut batch = LlamaBatch::new(BATCH, 1);
        // (slot, tokens added, the batch indexes of their logits, how many of them are a guess)
        let mut planned: Vec<(usize, Vec<LlamaToken>, Vec<i32>, usize)> = Vec::new();
        let reading = self.slots.iter().position(|s| s.active.as_ref().is_some_and(|a| a.next.is_none()));
        let room = self.context.as_ref().map_or(0, |c| c.room as usize);
        let mut space = BATCH;
        // Each generating sequence's guess (prompt lookup), within its room, its reply's limit and the batch.
        let generating = self.slots.iter().filter(|s| s.active.as_ref().is_some_and(|a| a.next.is_some())).count();
        let mut guesses: Vec<Vec<i32>> = vec![Vec::new(); self.slots.len()];
        if reading.is_none() && (self.config.draft_always || self.payoff.guessing()) {
            for (s, slot) in self.slots.iter_mut().enumerate() {
                let Some(active) = &mut slot.active else { continue };
                let Some(token) = active.next else { continue };
                let per_sequence = (BATCH / generating.max(1)).saturating_sub(1);
                let left = room.saturating_sub(slot.held.len() + 1).min(active.seq.tokens_left()).min(per_sequence);
                let mut history: Vec<i32> = slot.held.iter().map(|t| t.0).collect();
                history.push(token.0);
                guesses[s] = active.drafter.draft(&history, left);
            }
            // Sequences decoded together read the same number of tokens, the shortest guess's: llama.cpp then
            // reads them in one even split, and each sequence's numbers are the ones it gets alone (guesses of
            // different lengths were read in uneven splits, and a greedy reply changed).
            let shortest = guesses
                .iter()
                .zip(&self.slots)
                .filter(|(_, s)| s.active.as_ref().is_some_and(|a| a.next.is_some()))
                .map(|(g, _)| g.len())
                .min()
                .unwrap_or(0);
            for guess in &mut guesses {
                guess.truncate(shortest);
            }
        }
        let mut result = Ok(());
        for (s, slot) in self.slots.iter_mut().enumerate() {
            let Some(active) = &mut slot.active else { continue };
            if reading.is_some_and(|r| r != s) {
                continue;
            }
            let start = slot.held.len();
            let (chunk, guessed) = match active.next {
                Some(token) => {
                    // The token sampled last, and the guess at what follows it.
                    let guess = &guesses[s];
                    let mut chunk = vec![token];
                    chunk.extend(guess.iter().map(|t| LlamaToken(*t)));
                    (chunk, guess.len())
                }
                None => {
                    let take = space.min(active.seq.tokens.len() - start);
                    (active.seq.tokens[start..start + take].to_vec(), 0)
                }
            };
            if chunk.is_empty() {
                continue;
            }
            space -= chunk.len().min(space);
            let generating = active.next.is_some();
            let ends = generating || start + chunk.len() == active.seq.tokens.len();
            let mut logits = Vec::new();
            for (k, token) in chunk.iter().enumerate() {
                // A generating sequence needs the logits after every token it reads: each verifies the next
                // token of the guess.
                let wanted = (generating || k + 1 == chunk.len()) && ends;
                if let Err(e) = batch.add(*token, (start + k) as i32, &[s as i32], wanted) {
                    result = Err(e.to_string());
                    break;
                }
                if wanted {
                    logits.push(batch.n_tokens() - 1);
                }
            }
            planned.push((s, chunk, logits, guessed));
        }
        self.stats.widest.fetch_max(planned.len() as u64, Ordering::Relaxed);
        let context = self.context.as_mut().expect("a sequence is active, so the context exists");
        let started = Instant::now();
        let result = result.and_then(|()| context.ctx.decode(&mut batch).map_err(|e| format!("decoding failed: {e}")));
        tracing::trace!(
            sequences = planned.len(),
            tokens = batch.n_tokens(),
            ms = started.elapsed().as_millis() as u64,
            "batch"
        );
        if let Err(message) = result {
            // The cells' contents are unknown now: every request in the batch fails and the context goes.
            tracing::warn!(%message, "the local model's batch failed");
            for slot in &mut self.slots {
                if let Some(active) = slot.active.take() {
                    let error = provider_error(&self.config, &self.model_name, message.clone());
                    active.seq.job.finish(Err(error));
                }
            }
            self.reset();
            return;
        }
        let model = context.model;
        // What the step produced, for the payoff of guessing.
        let (mut produced, mut any_guess) = (0, false);
        for (s, chunk, logits, guessed) in planned {
            let slot = &mut self.slots[s];
            let start = slot.held.len();
            let active = slot.active.as_mut().expect("planned slots are active");
            if logits.is_empty() {
                // A part of a prompt, read.
                slot.held.extend(&chunk);
                continue;
            }
            active.seq.prefilled.get_or_insert_with(|| active.seq.received.elapsed());
            let closers = &mut self.closers;
            let mut closers = || closers.get_or_insert_with(|| closers_of(model)).clone();
            let fail = |m: String| provider_error(&self.config, &self.model_name, m);
            // Position by position, the sequence's own sampler picks the next token from the logits after
            // each token read; the guess holds as long as it picked what the guess says.
            let guess = &chunk[chunk.len() - guessed..];
            let mut kept = 0;
            let mut outcome = None;
            for (k, idx) in logits.iter().enumerate() {
                match active.seq.sample(&context.ctx, *idx, model, &mut closers, &fail) {
                    Ok(Next::Feed(token)) if k < guessed && token == guess[k] => kept += 1,
                    other => {
                        outcome = Some(other);
                        break;
                    }
                }
            }
            if guessed > 0 {
                active.drafter.kept(guessed, kept);
                self.stats.guessed.fetch_add(guessed as u64, Ordering::Relaxed);
                self.stats.kept.fetch_add(kept as u64, Ordering::Relaxed);
            }
            // The cells hold what was read; only the token fed and the guessed tokens kept are the sequence's.
            let real = if logits.len() == 1 && guessed == 0 { chunk.len() } else { 1 + kept };
            slot.held.extend(&chunk[..real]);
            produced += real;
            any_guess |= guessed > 0;
            if real < chunk.len() {
                let _ = context.ctx.clear_kv_cache_seq(Some(s as u32), Some((start + real) as u32), None);
            }
            match outcome.expect("the last logits always end the loop") {
                Ok(Next::Feed(token)) => active.next = Some(token),
                Ok(Next::Finished(reason)) => {
                    let active = slot.active.take().expect("active");
                    let (job, done) = active.seq.complete(reason, &self.config, &self.model_name);
                    job.finish(Ok(done));
                }
                Err(e) => {
                    let active = slot.active.take().expect("active");
                    if matches!(e, LlmError::Cancelled) {
                        self.stats.cancelled.fetch_add(1, Ordering::Relaxed);
                    }
                    active.seq.job.finish(Err(e));
                }
            }
        }
        if reading.is_none() && produced > 0 {
            self.payoff.step(any_guess, started.elapsed().as_secs_f64() * 1000.0, produced);
        }
    }
}
