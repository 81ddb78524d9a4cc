//! Routing, fallback, structured output, budgets, limits and the request log, against scripted servers.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use samokoder_llm::{
    AgentRole, ApiKey, Budget, CallContext, ChatRequest, Limits, LimitsConfig, LlmError, LlmRecord, Message,
    PriceTable, ProviderConfig, RequestLog, RetryPolicy, Route, Router, connect, gather,
};
use samokoder_test_utils::{Reply, ScriptedLlm};
use tokio_util::sync::CancellationToken;

#[derive(Default)]
struct Recorded(Mutex<Vec<LlmRecord>>);

impl RequestLog for Recorded {
    fn record(&self, record: LlmRecord) {
        self.0.lock().unwrap().push(record);
    }
}

const SENTINEL: &str = "sk-SENTINEL-0123456789-do-not-leak";

fn provider(server: &ScriptedLlm, name: &str, model: &str) -> ProviderConfig {
    let mut config = ProviderConfig::openai(server.base_url(), model);
    config.name = name.into();
    config.api_key = Some(ApiKey::new(SENTINEL));
    config.idle_timeout = Duration::from_millis(500);
    config.retry = RetryPolicy {
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(10),
        ..Default::default()
    };
    config
}

fn router(log: Arc<Recorded>, providers: &[(&str, ProviderConfig, LimitsConfig)], chain: &[&str]) -> Router {
    let mut router = Router::new(PriceTable::default(), log);
    for (name, config, limits) in providers {
        router.add_provider(name, connect(config.clone()).unwrap(), Arc::new(Limits::new(limits)));
    }
    router.set_chain(None, chain.iter().map(|r| Route::parse(r)).collect());
    router
}

fn ask(text: &str) -> ChatRequest {
    ChatRequest { messages: vec![Message::user(text)], ..Default::default() }
}

#[tokio::test]
async fn a_provider_that_is_down_falls_back_and_the_log_shows_both() {
    let down = ScriptedLlm::repeating(Reply::status(503, "service unavailable"));
    let up = ScriptedLlm::start(vec![Reply::text("from B")]);
    let log = Arc::new(Recorded::default());
    let r = router(
        log.clone(),
        &[
            ("a", provider(&down, "a", "model-a"), LimitsConfig::default()),
            ("b", provider(&up, "b", "model-b"), LimitsConfig::default()),
        ],
        &["a", "b/model-b"],
    );
    let budget = Budget::unlimited();
    let completion = r
        .complete(
            AgentRole::CodeMonkey,
            &ask("hi"),
            CallContext { budget: &budget, run_id: Some("run-1"), tier: 0 },
            &|_| {},
        )
        .await
        .unwrap();
    assert_eq!((completion.text.as_str(), completion.provider.as_str()), ("from B", "b"));
    assert_eq!(completion.fallbacks.len(), 1);
    assert!(
        completion.fallbacks[0].starts_with("a/model-a") && completion.fallbacks[0].contains("503"),
        "{:?}",
        completion.fallbacks
    );
    assert_eq!(down.requests().len(), 3, "A was retried before falling back");
    let log = log.0.lock().unwrap();
    let summary: Vec<(String, String, u32)> =
        log.iter().map(|r| (r.provider.clone(), r.status.clone(), r.attempts)).collect();
    assert_eq!(summary, [("a".into(), "error".into(), 3), ("b".into(), "ok".into(), 1)]);
    assert_eq!(log[1].run_id.as_deref(), Some("run-1"));
    assert_eq!(log[1].role, "code_monkey");
    assert_eq!(r.describe(AgentRole::Architect), "a/model-a, then b/model-b");
}

#[tokio::test]
async fn a_bad_request_does_not_fall_back() {
    let a = ScriptedLlm::repeating(Reply::status(400, "messages: field required"));
    let b = ScriptedLlm::start(vec![Reply::text("unused")]);
    let r = router(
        Arc::new(Recorded::default()),
        &[
            ("a", provider(&a, "a", "m"), LimitsConfig::default()),
            ("b", provider(&b, "b", "m"), LimitsConfig::default()),
        ],
        &["a", "b"],
    );
    let err = r
        .complete(
            AgentRole::Developer,
            &ask("x"),
            CallContext { budget: &Budget::unlimited(), run_id: None, tier: 0 },
            &|_| {},
        )
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400));
    assert!(b.requests().is_empty());
}

#[derive(Debug, serde::Deserialize, schemars::JsonSchema, PartialEq)]
struct Task {
    title: String,
    kind: Kind,
    steps: Vec<Step>,
}

#[derive(Debug, serde::Deserialize, schemars::JsonSchema, PartialEq)]
#[serde(rename_all = "snake_case")]
enum Kind {
    Feature,
    Bugfix,
}

#[derive(Debug, serde::Deserialize, schemars::JsonSchema, PartialEq)]
struct Step {
    file: String,
    done: bool,
}

#[tokio::test]
async fn structured_output_is_extracted_repaired_and_reprompted_within_the_bound() {
    // Prose around a fence, trailing commas, and a missing field (`done`): the first reply cannot be
    // repaired syntactically, so the model is shown the exact error and answers again.
    let first = "Here you go:\n```json\n{\"title\": \"sum\", \"kind\": \"feature\", \"steps\": [{\"file\": \"a.js\",},],}\n```\nDone!";
    let second = "{\"title\": \"sum\", \"kind\": \"feature\", \"steps\": [{\"file\": \"a.js\", \"done\": false}]}";
    let server = ScriptedLlm::start(vec![Reply::text(first), Reply::text(second)]);
    let r =
        router(Arc::new(Recorded::default()), &[("p", provider(&server, "p", "m"), LimitsConfig::default())], &["p"]);
    let budget = Budget::unlimited();
    let (task, _): (Task, _) = r
        .complete_json(AgentRole::TechLead, &ask("plan it"), CallContext { budget: &budget, run_id: None, tier: 0 }, 2)
        .await
        .unwrap();
    assert_eq!(
        task,
        Task { title: "sum".into(), kind: Kind::Feature, steps: vec![Step { file: "a.js".into(), done: false }] }
    );
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].body["response_format"]["type"], "json_schema", "the provider's schema mode is used");
    let retry_prompt = requests[1].prompt();
    assert!(retry_prompt.contains("missing field `done`"), "the exact error goes back: {retry_prompt}");

    // Still broken after the bound: a typed error with the last reply.
    let server = ScriptedLlm::repeating(Reply::text("{\"title\": \"x\", \"kind\": \"refactor\", \"steps\": []}"));
    let r =
        router(Arc::new(Recorded::default()), &[("p", provider(&server, "p", "m"), LimitsConfig::default())], &["p"]);
    let err = r
        .complete_json::<Task>(
            AgentRole::TechLead,
            &ask("plan"),
            CallContext { budget: &budget, run_id: None, tier: 0 },
            2,
        )
        .await
        .unwrap_err();
    match err {
        LlmError::InvalidJson { attempts, message, .. } => {
            assert_eq!(attempts, 3);
            assert!(message.contains("unknown variant `refactor`"), "{message}");
        }
        other => panic!("expected InvalidJson, got {other}"),
    }
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test]
async fn a_run_capped_at_one_cent_stops_before_the_call_that_would_pass_it() {
    let server = ScriptedLlm::repeating(Reply::text("x".repeat(4000)));
    let r = router(
        Arc::new(Recorded::default()),
        &[("openai", provider(&server, "openai", "gpt-4o"), LimitsConfig::default())],
        &["openai"],
    );
    let budget = Budget::new(Some(0.01), None);
    let ctx = CallContext { budget: &budget, run_id: None, tier: 0 };
    // gpt-4o: $2.50 / $10 per million. Each call: ~40 prompt tokens, 1000 completion tokens = ~$0.0101?
    // max_tokens 500 bounds the estimate at about $0.005; the reply really uses 1000 tokens ($0.01).
    let request = ChatRequest { max_tokens: Some(500), ..ask("write") };
    let first = r.complete(AgentRole::CodeMonkey, &request, ctx, &|_| {}).await.unwrap();
    assert!(first.cost_usd.unwrap() > 0.009, "{:?}", first.cost_usd);
    let err = r.complete(AgentRole::CodeMonkey, &request, ctx, &|_| {}).await.unwrap_err();
    assert!(matches!(err, LlmError::Budget { .. }), "{err}");
    assert!(err.to_string().contains("max_usd"), "{err}");
    assert_eq!(server.requests().len(), 1, "the refused call never reached the provider");
}

#[tokio::test]
async fn fan_out_respects_the_concurrency_limit_and_keeps_order() {
    let server = ScriptedLlm::repeating(Reply::Delayed(Duration::from_millis(200), Box::new(Reply::text("ok"))));
    let r = router(
        Arc::new(Recorded::default()),
        &[("p", provider(&server, "p", "m"), LimitsConfig { max_concurrency: Some(2), tokens_per_minute: None })],
        &["p"],
    );
    let budget = Budget::unlimited();
    let started = std::time::Instant::now();
    let requests: Vec<ChatRequest> = (0..4).map(|i| ask(&format!("request {i}"))).collect();
    let calls: Vec<_> = requests
        .iter()
        .map(|req| {
            r.complete(AgentRole::CodeMonkey, req, CallContext { budget: &budget, run_id: None, tier: 0 }, &|_| {})
        })
        .collect();
    let results = gather(calls, &CancellationToken::new()).await;
    let elapsed = started.elapsed();
    assert!(results.iter().all(|r| r.is_ok()));
    // Two at a time, 200 ms each: two waves.
    assert!(elapsed >= Duration::from_millis(400), "{elapsed:?}");
    let prompts: Vec<String> = server.requests().iter().map(|r| r.prompt()).collect();
    assert_eq!(prompts.len(), 4);
}

#[tokio::test]
async fn the_key_never_reaches_logs_or_the_request_log() {
    use std::io::Write;
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);
    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let sink = Sink::default();
    let writer = sink.clone();
    let subscriber =
        tracing_subscriber::fmt().with_max_level(tracing::Level::TRACE).with_writer(move || writer.clone()).finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = ScriptedLlm::start(vec![Reply::status(401, "bad key"), Reply::status(503, "down"), Reply::text("ok")]);
    let log = Arc::new(Recorded::default());
    let r = router(log.clone(), &[("p", provider(&server, "p", "m"), LimitsConfig::default())], &["p"]);
    let budget = Budget::unlimited();
    let ctx = CallContext { budget: &budget, run_id: None, tier: 0 };
    let err = r.complete(AgentRole::CodeMonkey, &ask("one"), ctx, &|_| {}).await.unwrap_err();
    assert!(!format!("{err} {err:?}").contains(SENTINEL));
    r.complete(AgentRole::CodeMonkey, &ask("two"), ctx, &|_| {}).await.unwrap();
    assert_eq!(
        server.requests()[0].header("authorization"),
        Some(format!("Bearer {SENTINEL}").as_str()),
        "the key was sent"
    );

    let captured = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
    assert!(captured.contains("retrying"), "tracing was captured: {captured}");
    assert!(!captured.contains(SENTINEL), "the key leaked into logs");
    let records = {
        let records = log.0.lock().unwrap();
        format!("{records:?} {}", serde_json::to_string(&*records).unwrap())
    };
    assert!(!records.contains(SENTINEL), "the key leaked into the request log");
}

/// The user's `llm.params.<role>` win over the caller's defaults: a request's own temperature and token
/// estimate apply only where the user set none.
#[tokio::test]
async fn a_roles_params_win_over_the_requests_defaults() {
    let server = ScriptedLlm::repeating(Reply::text("ok"));
    let mut r =
        router(Arc::new(Recorded::default()), &[("a", provider(&server, "a", "m"), LimitsConfig::default())], &["a"]);
    let mut tuned = Route::parse("a");
    tuned.temperature = Some(0.7);
    tuned.max_tokens = Some(9000);
    r.set_chain(Some(AgentRole::CodeMonkey), vec![tuned]);
    let request = ChatRequest { temperature: Some(0.2), max_tokens: Some(3072), ..ask("write") };
    let budget = Budget::unlimited();
    for role in [AgentRole::CodeMonkey, AgentRole::Architect] {
        r.complete(role, &request, CallContext { budget: &budget, run_id: None, tier: 0 }, &|_| {}).await.unwrap();
    }
    let bodies: Vec<(f64, u64)> = server
        .requests()
        .iter()
        .map(|q| (q.body["temperature"].as_f64().unwrap(), q.body["max_tokens"].as_u64().unwrap()))
        .collect();
    assert_eq!(bodies, [(0.7f32 as f64, 9000), (0.2f32 as f64, 3072)]);
}
