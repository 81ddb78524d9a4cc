//! The embedded model's speed on this machine, against llama.cpp's own `llama-bench` in the same run:
//! prefill (prompt) and decode tokens per second, and time to first token, for Qwen2.5-Coder 0.5B and 1.5B.
//!
//! Run: `scripts/bench-local-llm.sh` (fetches the models if needed, runs this, then the same prompt through
//! llama-cpp-python when it is installed, as the baseline: the crate's vendored llama.cpp ships no tools).

// A bench binary reports on stdout.
#![allow(clippy::print_stdout)]

use std::path::{Path, PathBuf};
use std::process::Command;

use samokoder_llm::{LocalConfig, measure_local};

const PROMPT_TOKENS: u32 = 512;
const NEW_TOKENS: u32 = 128;

/// llama-bench's prefill and decode tokens per second (`-p`, `-n`), best of 3 repetitions.
fn llama_bench(bin: &Path, model: &Path, threads: usize) -> Option<(f64, f64)> {
    let out = Command::new(bin)
        .args(["-m", model.to_str()?, "-p", &PROMPT_TOKENS.to_string(), "-n", &NEW_TOKENS.to_string()])
        .args(["-t", &threads.to_string(), "-r", "3", "-o", "json"])
        .output()
        .ok()?;
    let runs: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    let rate = |prompt: bool| {
        runs.as_array()?.iter().find(|r| (r["n_prompt"].as_u64()? > 0) == prompt).and_then(|r| r["avg_ts"].as_f64())
    };
    Some((rate(true)?, rate(false)?))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let bench_bin = args.iter().position(|a| a == "--llama-bench").and_then(|i| args.get(i + 1)).map(PathBuf::from);
    if let Some(i) = args.iter().position(|a| a == "--write-prompt") {
        // The exact prompt, for a baseline to run the same.
        let code = include_str!("../src/provider.rs");
        std::fs::write(&args[i + 1], code.chars().take(PROMPT_TOKENS as usize * 3).collect::<String>()).unwrap();
    }
    let dir = PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/samokoder/models");
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    // A prompt of code, cut to about PROMPT_TOKENS tokens (about four characters each).
    let code = include_str!("../src/provider.rs");
    let prompt: String = code.chars().take(PROMPT_TOKENS as usize * 3).collect();
    println!("{threads} threads; prompt ~{PROMPT_TOKENS} tokens, {NEW_TOKENS} new tokens, greedy");
    for (label, file) in [
        ("Qwen2.5-Coder-0.5B", "qwen2.5-coder-0.5b-instruct.gguf"),
        ("Qwen2.5-Coder-1.5B Q4_K_M", "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"),
    ] {
        let path = dir.join(file);
        if !path.is_file() {
            println!("{label}: not fetched (scripts/fetch-model.sh)");
            continue;
        }
        let mut config = LocalConfig::new(&path);
        config.threads = threads;
        config.context_tokens = 4096;
        // A first run loads the model (mmap) and warms the caches.
        measure_local(&config, "Say hi.", 4).unwrap();
        let runs: Vec<_> = (0..3).map(|_| measure_local(&config, &prompt, NEW_TOKENS).unwrap()).collect();
        let best = |f: &dyn Fn(&samokoder_llm::LocalTiming) -> f64| runs.iter().map(f).fold(0.0, f64::max);
        let prefill = best(&|t| t.prompt_tokens as f64 / t.prefill.as_secs_f64());
        let decode = best(&|t| {
            (t.completion_tokens.saturating_sub(1)) as f64 / (t.decode - (t.first_token - t.prefill)).as_secs_f64()
        });
        let ttft = runs.iter().map(|t| t.first_token).min().unwrap();
        let prompt_tokens = runs[0].prompt_tokens;
        print!(
            "{label}: prefill {prefill:7.1} tok/s ({prompt_tokens} tokens), decode {decode:6.1} tok/s, first token {:6.0} ms",
            ttft.as_secs_f64() * 1e3
        );
        match bench_bin.as_deref().and_then(|b| llama_bench(b, &path, threads)) {
            Some((pp, tg)) => println!(
                "; llama-bench: prefill {pp:7.1} tok/s, decode {tg:6.1} tok/s; ratio {:.2}x / {:.2}x",
                pp / prefill,
                tg / decode
            ),
            None => println!("; llama-bench: not run"),
        }
    }
}
