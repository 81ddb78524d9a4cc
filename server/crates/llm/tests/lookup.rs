//! Prompt-lookup decoding on the smallest honest model (SmolLM2-135M-Instruct): replies are token for token
//! what plain decoding gives, greedy or sampled, under a grammar, in a batch, at the edge of the context
//! window and the reply's limit, and the KV cache holds only what was kept (a later request reusing it
//! gives what a fresh provider gives).
#![cfg(feature = "local-llm")]

use std::sync::Arc;

use samokoder_llm::{ChatRequest, JsonSchema, LlmBackend, Local, LocalConfig, Message};

const CODE: &str = "export function range(start, end) {\n  const out = [];\n  for (let i = start; i < end; i++) {\n    out.push(i);\n  }\n  return out;\n}\n\nexport function sum(list) {\n  let total = 0;\n  for (const x of list) {\n    total += x;\n  }\n  return total;\n}\n";

fn provider(path: &std::path::Path, draft_max: usize) -> Local {
    let mut config = LocalConfig::new(path);
    config.context_tokens = 1024;
    config.draft_max = draft_max;
    // Every guess is read, whatever this machine's payoff: these tests are of reading them.
    config.draft_always = true;
    Local::new(config).unwrap()
}

fn ask(user: String, max_tokens: u32, temperature: f32) -> ChatRequest {
    ChatRequest {
        messages: vec![Message::system("You copy code exactly when asked."), Message::user(user)],
        max_tokens: Some(max_tokens),
        temperature: Some(temperature),
        ..Default::default()
    }
}

/// A reply that copies its prompt, one that mostly does not, and one sampled hot.
fn requests() -> Vec<ChatRequest> {
    vec![
        ask(format!("Repeat this file exactly, then stop:\n\n{CODE}"), 160, 0.0),
        ask("Name three colours and say why you like each.".into(), 48, 0.0),
        ask(format!("Repeat this file exactly, then stop:\n\n{CODE}"), 120, 0.8),
    ]
}

async fn texts(llm: &Local, requests: &[ChatRequest]) -> Vec<String> {
    let mut out = Vec::new();
    for request in requests {
        out.push(llm.stream(request, &|_| {}).await.unwrap().text);
    }
    out
}

#[tokio::test]
async fn replies_are_the_same_with_prompt_lookup_greedy_or_sampled_and_the_guesses_are_kept_where_they_copy() {
    let Some(path) = samokoder_test_utils::smollm2() else { return };
    let requests = requests();
    let no_guessing = provider(&path, 0);
    let plain = texts(&no_guessing, &requests).await;
    let guessing = provider(&path, 16);
    let with = texts(&guessing, &requests).await;
    assert_eq!(with, plain, "replies differ with prompt lookup");
    // SmolLM2 copies only some of the file, but what it copies is guessed and kept.
    let (guessed, kept) = guessing.guessed_tokens();
    assert!(kept > 0 && guessed > kept, "guesses kept: {kept} of {guessed}");
    // The same requests again on the same provider reuse its KV cache: what it holds is only what was kept,
    // so it answers as the provider that never guessed answers them again. (Not as a fresh one: a reused
    // prompt's last token is read alone, and llama.cpp's kernels for one token give its logits other last
    // bits than for the same token read with the rest of the prompt, which can flip a greedy pick.)
    let plain_again = texts(&no_guessing, &requests).await;
    let again = texts(&guessing, &requests).await;
    assert_eq!(again, plain_again, "a request reusing cells a guess had touched differs");
}

#[tokio::test]
async fn a_grammar_holds_and_a_guess_that_breaks_it_is_rejected_at_that_token() {
    let Some(path) = samokoder_test_utils::smollm2() else { return };
    let schema = serde_json::json!({
        "type": "object",
        "properties": {"file": {"type": "string"}, "lines": {"type": "integer"}},
        "required": ["file", "lines"],
        "additionalProperties": false
    });
    let request = ChatRequest {
        json_schema: Some(JsonSchema { name: "count".into(), schema }),
        ..ask(format!("Give the file below as \"file\" and its number of lines.\n\n{CODE}"), 200, 0.0)
    };
    let plain = provider(&path, 0).stream(&request, &|_| {}).await.unwrap().text;
    let with = provider(&path, 16).stream(&request, &|_| {}).await.unwrap().text;
    assert_eq!(with, plain);
    let value: serde_json::Value = serde_json::from_str(&with).unwrap_or_else(|e| panic!("{e}: {with}"));
    assert!(value["lines"].is_number(), "{with}");
}

#[tokio::test]
async fn guesses_never_pass_the_context_window_or_the_replys_limit_and_batch_with_others() {
    let Some(path) = samokoder_test_utils::smollm2() else { return };
    // A prompt that fills most of a small window, copied: guesses would run past the room without a bound.
    let mut config = LocalConfig::new(&path);
    config.context_tokens = 512;
    config.parallel = 3;
    let tight = |draft_max| {
        let mut c = config.clone();
        c.draft_max = draft_max;
        Arc::new(Local::new(c).unwrap())
    };
    let long = ask(format!("Repeat this file exactly:\n\n{CODE}{CODE}{CODE}"), 4000, 0.0);
    let short = ask(format!("Repeat this file exactly:\n\n{CODE}"), 17, 0.0);
    let fresh = ask("Count from one to ten in words.".into(), 40, 0.0);
    let all = [long, short, fresh];
    // Each alone: the same reply with and without guessing, within the window and the limit.
    for request in &all {
        let plain = tight(0).stream(request, &|_| {}).await.unwrap();
        let with = tight(16).stream(request, &|_| {}).await.unwrap();
        assert_eq!(with.text, plain.text);
        let used = with.usage.prompt_tokens + with.usage.completion_tokens;
        assert!(used <= 512, "past the window: {used}");
        assert!(with.usage.completion_tokens <= u64::from(request.max_tokens.unwrap()), "past the reply's limit");
    }
    // Together in one batch, each sequence guessing on its own: what the same batch gives without guessing.
    let batch = |llm: Arc<Local>| {
        let all = all.clone();
        async move {
            let done = futures::future::join_all(all.iter().map(|r| llm.stream(r, &|_| {}))).await;
            (done.into_iter().map(|c| c.unwrap().text).collect::<Vec<_>>(), llm.widest_batch())
        }
    };
    let (plain, _) = batch(tight(0)).await;
    let (with, widest) = batch(tight(16)).await;
    assert_eq!(with, plain, "a batch's replies differ with guessing");
    assert!(widest >= 2, "the requests never shared a batch");
}
