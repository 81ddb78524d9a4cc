//! Batched decoding: four files written at once (four requests of up to 300 new tokens that share a system
//! prompt, as the code writer sends them) against the same four one after another, and against one alone,
//! in the same run. Qwen2.5-Coder 1.5B and 0.5B when fetched; `--model PATH` adds any GGUF.
//!
//! Run: `cargo bench -p samokoder-llm --features local-llm --bench batch`.

// A bench binary reports on stdout.
#![allow(clippy::print_stdout)]

mod common;

use std::time::{Duration, Instant};

use samokoder_llm::{ChatRequest, Local, Message};

const NEW_TOKENS: u32 = 300;

fn main() {
    // About 600 tokens of shared system prompt: rules and code, as a repo map would carry.
    let code: String = include_str!("../src/limits.rs").chars().take(2000).collect();
    let system = format!(
        "You are the code writer of a small JavaScript project. Use ES modules, export what the tests import, \
         keep functions short. The project so far:\n{code}"
    );
    let files = [
        "src/stack.js: a Stack class with push, pop, peek, size and isEmpty, each method with a JSDoc comment.",
        "src/queue.js: a Queue class with enqueue, dequeue, peek, size and isEmpty, each method with a JSDoc comment.",
        "src/format.js: functions formatDate, formatMoney and formatPercent, each with a JSDoc comment.",
        "src/validate.js: functions isEmail, isUrl, isPhone and isPostcode, each with a JSDoc comment.",
    ];
    let requests: Vec<ChatRequest> = files
        .iter()
        .map(|file| ChatRequest {
            messages: vec![Message::system(system.clone()), Message::user(format!("Write {file}"))],
            max_tokens: Some(NEW_TOKENS),
            temperature: Some(0.0),
            ..Default::default()
        })
        .collect();
    let threads = common::threads();
    println!(
        "{threads} threads; {} requests of up to {NEW_TOKENS} new tokens sharing a system prompt, greedy",
        files.len()
    );
    for (label, path) in common::models() {
        if !path.is_file() {
            println!("{label}: not fetched (samokoder model fetch / scripts/fetch-model.sh)");
            continue;
        }
        let config = common::config(&path, files.len());
        // Loads the model (mmap) and warms the caches.
        let warm = ChatRequest { messages: vec![Message::user("Say hi.")], max_tokens: Some(4), ..Default::default() };
        Local::new(config.clone()).unwrap().generate_timed(&warm).unwrap();

        // Each measurement by a fresh provider: only what it read itself is cached.
        let alone = {
            let local = Local::new(config.clone()).unwrap();
            let started = Instant::now();
            let (c, _) = local.generate_timed(&requests[0]).unwrap();
            (started.elapsed(), c.usage.completion_tokens)
        };
        let sequential = {
            let local = Local::new(config.clone()).unwrap();
            let started = Instant::now();
            let tokens: u64 = requests.iter().map(|r| local.generate_timed(r).unwrap().0.usage.completion_tokens).sum();
            (started.elapsed(), tokens, local.reused_tokens())
        };
        let batched = {
            let local = Local::new(config.clone()).unwrap();
            let started = Instant::now();
            let outputs: Vec<_> = std::thread::scope(|scope| {
                let handles: Vec<_> =
                    requests.iter().map(|r| scope.spawn(|| local.generate_timed(r).unwrap().0)).collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            });
            let tokens: u64 = outputs.iter().map(|c| c.usage.completion_tokens).sum();
            (started.elapsed(), tokens, local.reused_tokens(), local.widest_batch())
        };
        let secs = |d: Duration| d.as_secs_f64();
        println!(
            "{label}: one alone {:6.1} s ({} tokens); four one after another {:6.1} s ({} tokens, {} prompt tokens reused); \
             four at once {:6.1} s ({} tokens, {} reused, up to {} in a batch)",
            secs(alone.0),
            alone.1,
            secs(sequential.0),
            sequential.1,
            sequential.2,
            secs(batched.0),
            batched.1,
            batched.2,
            batched.3
        );
        println!(
            "{label}: at once / one after another {:.2}x (goal 0.5x or better); at once / one alone {:.2}x",
            secs(batched.0) / secs(sequential.0),
            secs(batched.0) / secs(alone.0)
        );
    }
}
