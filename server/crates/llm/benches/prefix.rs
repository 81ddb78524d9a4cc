//! The prefix cache: time to first token of a request whose ~1,500-token prefix (a system prompt of rules,
//! a spec and code, as the agents send) was read by the previous request, against the same request cold,
//! in the same run. Qwen2.5-Coder 1.5B and 0.5B when fetched; `--model PATH` adds any GGUF.
//!
//! Run: `cargo bench -p samokoder-llm --features local-llm --bench prefix`.

// A bench binary reports on stdout.
#![allow(clippy::print_stdout)]

use std::path::PathBuf;
use std::time::Duration;

use samokoder_llm::{ChatRequest, Local, LocalConfig, LocalTiming, Message};

fn main() {
    // About 1,500 tokens of shared prefix: code from this crate, as a repo map would carry.
    let shared: String = [include_str!("../src/provider.rs"), include_str!("../src/router.rs")].concat();
    let shared: String = shared.chars().take(5900).collect();
    let system = format!("You are the code writer. Follow the rules. The project:\n{shared}");
    let dir = std::env::var("SAMOKODER_MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(std::env::var("HOME").expect("HOME is set")).join(".cache/samokoder/models"));
    let mut models: Vec<(String, PathBuf)> = vec![
        ("Qwen2.5-Coder-1.5B Q4_K_M".into(), dir.join("qwen2.5-coder-1.5b-instruct-q4_k_m.gguf")),
        ("Qwen2.5-Coder-0.5B".into(), dir.join("qwen2.5-coder-0.5b-instruct.gguf")),
    ];
    let args: Vec<String> = std::env::args().collect();
    if let Some(path) = args.iter().position(|a| a == "--model").and_then(|i| args.get(i + 1)) {
        models.push((path.clone(), PathBuf::from(path)));
    }
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    println!("{threads} threads; first token of a request after another with the same system prompt, greedy");
    for (label, path) in models {
        if !path.is_file() {
            println!("{label}: not fetched (samokoder model fetch / scripts/fetch-model.sh)");
            continue;
        }
        let mut config = LocalConfig::new(&path);
        config.threads = threads;
        config.context_tokens = 4096;
        config.parallel = 1;
        let request = |task: &str| ChatRequest {
            messages: vec![Message::system(system.clone()), Message::user(task)],
            max_tokens: Some(1),
            temperature: Some(0.0),
            ..Default::default()
        };
        let run = |local: &Local, task: &str| -> LocalTiming { local.generate_timed(&request(task)).unwrap().1 };
        let mut cold_times = Vec::new();
        let mut warm_times = Vec::new();
        let mut prefix = 0;
        for round in 0..3 {
            // Cold: a fresh provider, nothing cached.
            let cold = run(&Local::new(config.clone()).unwrap(), &format!("Write src/a{round}.js."));
            // Warm: the same provider read the prefix with another task first.
            let local = Local::new(config.clone()).unwrap();
            run(&local, "Write src/first.js.");
            let warm = run(&local, &format!("Write src/a{round}.js."));
            prefix = warm.reused_tokens;
            cold_times.push(cold.first_token);
            warm_times.push(warm.first_token);
        }
        let median = |v: &mut Vec<Duration>| {
            v.sort();
            v[v.len() / 2]
        };
        let (cold, warm) = (median(&mut cold_times), median(&mut warm_times));
        println!(
            "{label}: cold {:6.0} ms, warm {:6.0} ms ({prefix} of the prompt's tokens reused): {:.3}x",
            cold.as_secs_f64() * 1e3,
            warm.as_secs_f64() * 1e3,
            warm.as_secs_f64() / cold.as_secs_f64()
        );
    }
}
