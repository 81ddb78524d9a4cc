//! Fan-out and streaming cost, each against a baseline measured in the same run:
//!
//! - 20 requests through the router (`gather`) to a scripted server that answers each after 300 ms,
//!   against one request through the router and against 20 bare reqwest requests (no SSE parsing, no
//!   retries, no limits);
//! - the client's own CPU time per 1,000 streamed tokens (the client runs on one thread; the scripted
//!   server on another, not counted).
//!
//! Run: `cargo bench -p samokoder-llm --bench fanout`. Results: docs/benchmarks.md.

// A bench binary reports on stdout.
#![allow(clippy::print_stdout)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use samokoder_llm::{
    AgentRole, Budget, CallContext, ChatRequest, Limits, LimitsConfig, Message, NoLog, PriceTable, ProviderConfig,
    Route, Router, connect, gather,
};
use samokoder_test_utils::{Reply, ScriptedLlm, Style};
use tokio_util::sync::CancellationToken;

fn router(server: &ScriptedLlm, concurrency: usize) -> Router {
    let mut router = Router::new(PriceTable::default(), Arc::new(NoLog));
    let config = ProviderConfig::openai(server.base_url(), "bench-model");
    let limits = LimitsConfig { max_concurrency: Some(concurrency), tokens_per_minute: None };
    router.add_provider("p", connect(config).unwrap(), Arc::new(Limits::new(&limits)));
    router.set_chain(None, vec![Route::parse("p")]);
    router
}

fn ask(i: usize) -> ChatRequest {
    ChatRequest { messages: vec![Message::user(format!("request {i}"))], ..Default::default() }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// CPU time of the calling thread (user + system), from /proc/thread-self/stat, in clock ticks of 10 ms.
fn thread_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<u64> = rest.split_whitespace().skip(11).take(2).map(|f| f.parse().unwrap()).collect();
    Duration::from_millis((fields[0] + fields[1]) * 10)
}

async fn fan_out() {
    let server = ScriptedLlm::repeating(Reply::Delayed(Duration::from_millis(300), Box::new(Reply::text("ok, done."))));
    let router = router(&server, 32);
    let budget = Budget::unlimited();
    let ctx = CallContext { budget: &budget, run_id: None, tier: 0 };
    let client = reqwest::Client::new();
    let url = format!("{}/chat/completions", server.base_url());
    let (mut one, mut twenty, mut bare) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..5 {
        let started = Instant::now();
        router.complete(AgentRole::CodeMonkey, &ask(0), ctx, &|_| {}).await.unwrap();
        one.push(started.elapsed());

        let started = Instant::now();
        let requests: Vec<ChatRequest> = (0..20).map(ask).collect();
        let calls = requests.iter().map(|r| router.complete(AgentRole::CodeMonkey, r, ctx, &|_| {})).collect();
        let results = gather(calls, &CancellationToken::new()).await;
        assert!(results.iter().all(|r| r.is_ok()));
        twenty.push(started.elapsed());

        let started = Instant::now();
        let calls = (0..20).map(|i| {
            let client = client.clone();
            let url = url.clone();
            async move {
                let body = serde_json::json!({"model": "m", "stream": true, "messages": [{"role": "user", "content": format!("request {i}")}]});
                client.post(&url).json(&body).send().await.unwrap().bytes().await.unwrap()
            }
        });
        futures::future::join_all(calls).await;
        bare.push(started.elapsed());
    }
    let (one, twenty, bare) = (median(one), median(twenty), median(bare));
    println!("20 requests fanned out (router)   {:>8.1} ms", twenty.as_secs_f64() * 1e3);
    println!(
        "  one request (router)            {:>8.1} ms   ratio {:.3}x",
        one.as_secs_f64() * 1e3,
        twenty.as_secs_f64() / one.as_secs_f64()
    );
    println!(
        "  20 bare reqwest requests        {:>8.1} ms   ratio {:.3}x",
        bare.as_secs_f64() * 1e3,
        twenty.as_secs_f64() / bare.as_secs_f64()
    );
}

async fn cpu_per_thousand_tokens() {
    // 4,000 one-token content chunks per reply ("tok " each).
    let text = "tok ".repeat(4000);
    let server = ScriptedLlm::repeating(Reply::styled(text.clone(), Style { chunk: 4, ..Style::default() }));
    let router = router(&server, 4);
    let budget = Budget::unlimited();
    let ctx = CallContext { budget: &budget, run_id: None, tier: 0 };
    let client = reqwest::Client::new();
    let url = format!("{}/chat/completions", server.base_url());
    let runs = 10;
    let before = thread_cpu();
    for _ in 0..runs {
        let c = router.complete(AgentRole::CodeMonkey, &ask(0), ctx, &|_| {}).await.unwrap();
        assert_eq!(c.text.len(), text.len());
    }
    let ours = thread_cpu() - before;
    let before = thread_cpu();
    for _ in 0..runs {
        let body = serde_json::json!({"model": "m", "stream": true, "messages": [{"role": "user", "content": "x"}]});
        client.post(&url).json(&body).send().await.unwrap().bytes().await.unwrap();
    }
    let bare = thread_cpu() - before;
    let per_k = |d: Duration| d.as_secs_f64() * 1e3 / (runs as f64 * 4.0);
    println!("client CPU per 1,000 streamed tokens (router, SSE parse)  {:>6.2} ms", per_k(ours));
    println!("  the same bytes read by bare reqwest (no parsing)        {:>6.2} ms", per_k(bare));
}

fn main() {
    // One thread: the client's CPU time is this thread's.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        fan_out().await;
        cpu_per_thousand_tokens().await;
    });
}
