//! The OpenAI-compatible client against a scripted server speaking the real wire format over HTTP.

use std::sync::Mutex;
use std::time::Duration;

use samokoder_llm::{
    ApiKey, ChatRequest, FinishReason, LlmBackend, LlmError, Message, OpenAi, OpenAiConfig,
    RetryPolicy, StreamEvent,
};
use samokoder_test_utils::{Reply, ScriptedLlm};

fn client(server: &ScriptedLlm) -> OpenAi {
    let mut config = OpenAiConfig::new(server.base_url(), "gpt-test");
    config.api_key = Some(ApiKey::new("sk-test-secret"));
    config.idle_timeout = Duration::from_millis(800);
    config.retry = RetryPolicy {
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(40),
        ..Default::default()
    };
    OpenAi::new(config).unwrap()
}

fn request() -> ChatRequest {
    ChatRequest {
        messages: vec![Message::user("write a sum function")],
        ..Default::default()
    }
}

/// Runs a request, collecting what the caller was shown.
async fn run(llm: &OpenAi) -> (Result<samokoder_llm::Completion, LlmError>, String) {
    let shown = Mutex::new(String::new());
    let result = llm
        .stream(&request(), &|event| match event {
            StreamEvent::Delta(d) => shown.lock().unwrap().push_str(d),
            StreamEvent::Restart { .. } => shown.lock().unwrap().clear(),
        })
        .await;
    (result, shown.into_inner().unwrap())
}

#[tokio::test]
async fn streams_text_usage_and_sends_the_right_request() {
    let server = ScriptedLlm::start(vec![Reply::text("héllo 😀 world")]);
    let (result, shown) = run(&client(&server)).await;
    let completion = result.unwrap();
    assert_eq!(completion.text, "héllo 😀 world");
    assert_eq!(shown, completion.text);
    assert_eq!(completion.finish_reason, FinishReason::Stop);
    assert_eq!(
        (completion.usage.prompt_tokens, completion.usage.estimated),
        (42, false)
    );

    let req = &server.requests()[0];
    assert_eq!(req.path, "/v1/chat/completions");
    assert_eq!(req.header("authorization"), Some("Bearer sk-test-secret"));
    assert_eq!(req.body["stream"], true);
    assert_eq!(req.body["stream_options"]["include_usage"], true);
    assert_eq!(req.body["model"], "gpt-test");
}

#[tokio::test]
async fn retries_429_honouring_retry_after_then_succeeds() {
    let server = ScriptedLlm::start(vec![
        Reply::Status {
            code: 429,
            body: "{}".into(),
            headers: vec![("retry-after".into(), "0.2".into())],
        },
        Reply::status(503, "overloaded"),
        Reply::text("ok"),
    ]);
    let started = std::time::Instant::now();
    let (result, _) = run(&client(&server)).await;
    let completion = result.unwrap();
    assert_eq!((completion.text.as_str(), completion.attempts), ("ok", 3));
    assert!(
        started.elapsed() >= Duration::from_millis(200),
        "Retry-After was not honoured"
    );
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test]
async fn a_broken_stream_is_retried_from_the_start_without_duplicates() {
    let server = ScriptedLlm::start(vec![
        Reply::BrokenStream {
            text: "partial ans".into(),
        },
        Reply::text("full answer"),
    ]);
    let (result, shown) = run(&client(&server)).await;
    assert_eq!(result.unwrap().text, "full answer");
    assert_eq!(
        shown, "full answer",
        "the caller was shown a duplicated or truncated text"
    );
}

#[tokio::test]
async fn auth_errors_are_not_retried_and_say_what_to_fix() {
    let server = ScriptedLlm::repeating(Reply::status(401, "Incorrect API key provided"));
    let (result, _) = run(&client(&server)).await;
    let err = result.unwrap_err().to_string();
    assert!(
        err.contains("401") && err.contains("OPENAI_API_KEY") && err.contains("Incorrect API key"),
        "{err}"
    );
    assert!(!err.contains("sk-test-secret"));
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn unknown_model_names_the_setting() {
    let server = ScriptedLlm::repeating(Reply::status(404, "model not found"));
    let err = run(&client(&server)).await.0.unwrap_err().to_string();
    assert!(
        err.contains("gpt-test") && err.contains("SAMOKODER_MODEL"),
        "{err}"
    );
}

#[tokio::test]
async fn a_silent_server_times_out_and_gives_up_after_bounded_attempts() {
    let server = ScriptedLlm::repeating(Reply::Hang);
    let err = run(&client(&server)).await.0.unwrap_err();
    assert!(
        matches!(err, LlmError::Exhausted { attempts: 3, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("timed out"), "{err}");
}

#[tokio::test]
async fn a_dead_provider_says_how_to_fix_it() {
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut config = OpenAiConfig::new(format!("http://127.0.0.1:{port}/v1"), "m");
    config.retry = RetryPolicy {
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(5),
        ..Default::default()
    };
    let err = run(&OpenAi::new(config).unwrap())
        .await
        .0
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("cannot reach") && err.contains("base URL"),
        "{err}"
    );
}
