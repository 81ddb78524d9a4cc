//! The embedded model's speed on this machine: prefill (prompt) and decode tokens per second, and time to
//! first token, for Qwen2.5-Coder 0.5B and 1.5B.
//!
//! Run: `scripts/bench-local-llm.sh` (fetches the models if needed, runs this, then the same prompt through
//! llama-cpp-python when it is installed, as the baseline: the crate's vendored llama.cpp ships no tools).

// A bench binary reports on stdout.
#![allow(clippy::print_stdout)]

mod common;

use samokoder_llm::{ChatRequest, Local, Message};

const PROMPT_TOKENS: u32 = 512;
const NEW_TOKENS: u32 = 128;

fn main() {
    // A prompt of code, cut to about PROMPT_TOKENS tokens (about three characters each).
    let prompt: String = include_str!("../src/provider.rs").chars().take(PROMPT_TOKENS as usize * 3).collect();
    let args: Vec<String> = std::env::args().collect();
    if let Some(path) = args.iter().position(|a| a == "--write-prompt").and_then(|i| args.get(i + 1)) {
        // The exact prompt, for the baseline to run the same.
        std::fs::write(path, &prompt).expect("writing the prompt file");
    }
    let threads = common::threads();
    println!("{threads} threads; prompt ~{PROMPT_TOKENS} tokens, {NEW_TOKENS} new tokens, greedy");
    // Where scripts/bench-local-llm.sh (fetch-model.sh) put the models.
    for (label, path) in common::models() {
        if !path.is_file() {
            println!("{label}: not fetched (scripts/fetch-model.sh)");
            continue;
        }
        let config = common::config(&path, 1);
        // A first run loads the model (mmap) and warms the caches.
        // Each run by a fresh provider: nothing comes from the prefix cache (benches/prefix.rs measures it).
        let cold = |text: &str, n| {
            let request = ChatRequest {
                messages: vec![Message::user(text)],
                max_tokens: Some(n),
                temperature: Some(0.0),
                ..Default::default()
            };
            Local::new(config.clone()).unwrap().generate_timed(&request)
        };
        cold("Say hi.", 4).unwrap();
        let runs: Vec<_> = (0..3).map(|_| cold(&prompt, NEW_TOKENS).unwrap().1).collect();
        let best = |f: &dyn Fn(&samokoder_llm::LocalTiming) -> f64| runs.iter().map(f).fold(0.0, f64::max);
        let prefill = best(&|t| t.prompt_tokens as f64 / (t.prefill - t.setup).as_secs_f64());
        let setup = runs.iter().map(|t| t.setup).min().unwrap();
        let decode = best(&|t| {
            (t.completion_tokens.saturating_sub(1)) as f64 / (t.decode - (t.first_token - t.prefill)).as_secs_f64()
        });
        let ttft = runs.iter().map(|t| t.first_token).min().unwrap();
        let prompt_tokens = runs[0].prompt_tokens;
        println!(
            "{label}: prefill {prefill:7.1} tok/s ({prompt_tokens} tokens), decode {decode:6.1} tok/s, first token {:6.0} ms (of which setup {:4.0} ms)",
            ttft.as_secs_f64() * 1e3,
            setup.as_secs_f64() * 1e3
        );
    }
}
