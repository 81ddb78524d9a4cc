//! The prefix cache: time to first token of a request whose ~1,500-token prefix (a system prompt of rules,
//! a spec and code, as the agents send) was read by the previous request, against the same request cold,
//! in the same run. Qwen2.5-Coder 1.5B and 0.5B when fetched; `--model PATH` adds any GGUF.
//!
//! Run: `cargo bench -p samokoder-llm --features local-llm --bench prefix`.

// A bench binary reports on stdout.
#![allow(clippy::print_stdout)]

mod common;

use std::time::Duration;

use samokoder_llm::{ChatRequest, Local, LocalTiming, Message};

fn main() {
    // About 1,500 tokens of shared prefix: code from this crate, as a repo map would carry.
    let shared: String = [include_str!("../src/provider.rs"), include_str!("../src/router.rs")].concat();
    let shared: String = shared.chars().take(5900).collect();
    let system = format!("You are the code writer. Follow the rules. The project:\n{shared}");
    let threads = common::threads();
    println!("{threads} threads; first token of a request after another with the same system prompt, greedy");
    for (label, path) in common::models() {
        if !path.is_file() {
            println!("{label}: not fetched (samokoder model fetch / scripts/fetch-model.sh)");
            continue;
        }
        let config = common::config(&path, 1);
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
