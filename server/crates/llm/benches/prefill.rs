//! Prefill at the machine's speed: our engine's prompt-reading rate against llama.cpp's own measure of it,
//! llama-bench's pp512, on the same GGUF, the same threads and the same llama.cpp (the one this crate links),
//! in the same run. llama-bench is not part of the llama.cpp the crate vendors, so its `test_prompt` is
//! done here as llama-bench does it: a fresh context (llama-bench's defaults: a 2,048-token batch, 512-token
//! micro-batches, f16 keys and values, flash attention as llama.cpp decides), 512 random tokens read
//! (the first a BOS), one warm-up, then the mean of 5 repetitions, the memory cleared before each; in a
//! child process, as llama.cpp's backend is set up once per process. Ours: a prompt of about 512 tokens
//! through the engine as a request (`Local`, default settings), each repetition a new prompt so that no
//! cache serves it, the reading timed alone (the engine's `prefill` less its `setup`).
//!
//! Run: `cargo bench -p samokoder-llm --features local-llm --bench prefill`. Goal (issue 26): ours at least
//! 0.95 of pp512.

// A bench binary reports on stdout.
#![allow(clippy::print_stdout)]

mod common;

use std::num::NonZeroU32;
use std::time::Instant;

use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::token::LlamaToken;
use samokoder_llm::{ChatRequest, Local, Message};

const PROMPT: usize = 512;
const REPS: usize = 5;

/// llama-bench's pp512 in this process: tokens per second.
fn llama_bench_pp(path: &str, threads: usize) -> f64 {
    let backend = LlamaBackend::init().unwrap();
    let model = LlamaModel::load_from_file(&backend, path, &LlamaModelParams::default()).unwrap();
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(PROMPT as u32))
        .with_n_batch(2048)
        .with_n_ubatch(512)
        .with_n_threads(threads as i32)
        .with_n_threads_batch(threads as i32);
    let mut ctx = model.new_context(&backend, params).unwrap();
    let n_vocab = model.n_vocab();
    let bos = model.vocab().bos();
    let mut seed: u64 = 1;
    let mut next = || {
        // llama-bench uses rand(); any spread of token ids will do.
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        LlamaToken(((seed >> 33) % n_vocab as u64) as i32)
    };
    let mut run = |ctx: &mut llama_cpp_2::context::LlamaContext<'_>| {
        let mut batch = LlamaBatch::new(PROMPT, 1);
        for i in 0..PROMPT {
            let token = if i == 0 { bos } else { next() };
            batch.add(token, i as i32, &[0], i + 1 == PROMPT).unwrap();
        }
        ctx.clear_kv_cache();
        let started = Instant::now();
        ctx.decode(&mut batch).unwrap();
        started.elapsed().as_secs_f64()
    };
    run(&mut ctx);
    let times: Vec<f64> = (0..REPS).map(|_| run(&mut ctx)).collect();
    PROMPT as f64 / (times.iter().sum::<f64>() / REPS as f64)
}

/// Ours: the reading of a ~512-token prompt that no cache holds, through the engine; tokens per second.
fn ours_pp(path: &std::path::Path) -> (f64, u32) {
    // As a run uses it: every thread, four sequences.
    let local = Local::new(common::config(path, samokoder_llm::DEFAULT_PARALLEL)).unwrap();
    let warm = ChatRequest { messages: vec![Message::user("Say hi.")], max_tokens: Some(1), ..Default::default() };
    local.generate_timed(&warm).unwrap();
    let mut rates = Vec::new();
    let mut tokens = 0;
    for rep in 0..REPS {
        // Distinct words per repetition: nothing to reuse. About 512 tokens with the chat template (a word
        // is about 7 tokens; the prompt's length is printed, as attention's cost grows with it).
        let words: Vec<String> = (0..70).map(|i| format!("w{}x{}", rep * 1000 + i, i % 7)).collect();
        let request = ChatRequest {
            messages: vec![Message::user(words.join(" "))],
            max_tokens: Some(1),
            temperature: Some(0.0),
            ..Default::default()
        };
        let (_, timing) = local.generate_timed(&request).unwrap();
        let read = timing.prompt_tokens - timing.reused_tokens;
        tokens = read;
        rates.push(f64::from(read) / (timing.prefill - timing.setup).as_secs_f64());
    }
    (rates.iter().sum::<f64>() / rates.len() as f64, tokens)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--llama-bench-pp") {
        let rate = llama_bench_pp(&args[i + 1], args[i + 2].parse().unwrap());
        println!("{rate}");
        return;
    }
    let threads = common::threads();
    println!(
        "{threads} threads; pp{PROMPT} as llama-bench measures it (child process) against our engine's prompt reading"
    );
    println!("| model | llama-bench pp{PROMPT} | ours | ours / pp{PROMPT} |");
    println!("| --- | --- | --- | --- |");
    for (label, path) in common::models() {
        if !path.is_file() {
            println!("| {label} | not fetched | | |");
            continue;
        }
        let child = std::process::Command::new(&args[0])
            .args(["--llama-bench-pp", path.to_str().unwrap(), &threads.to_string()])
            .output()
            .unwrap();
        let baseline: f64 =
            String::from_utf8_lossy(&child.stdout).trim().lines().last().unwrap_or("0").parse().unwrap_or(0.0);
        let (ours, tokens) = ours_pp(&path);
        println!("| {label} | {baseline:.1} tok/s | {ours:.1} tok/s ({tokens} tokens) | {:.2}x |", ours / baseline);
    }
}
