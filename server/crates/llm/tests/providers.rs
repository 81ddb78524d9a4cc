//! Both wire formats against scripted servers speaking them over real HTTP: framing, retries, timeouts,
//! broken streams, caps, and errors that say what to fix.

use std::sync::Mutex;
use std::time::Duration;

use samokoder_llm::{
    ApiKey, ChatRequest, Completion, FinishReason, LlmBackend, LlmError, Message, ProviderConfig, RetryPolicy,
    StreamEvent, connect,
};
use samokoder_test_utils::{Reply, ScriptedLlm, Style};

fn fast_retries() -> RetryPolicy {
    RetryPolicy { base_delay: Duration::from_millis(10), max_delay: Duration::from_millis(40), ..Default::default() }
}

fn openai(server: &ScriptedLlm, stream: bool) -> std::sync::Arc<dyn LlmBackend> {
    let mut config = ProviderConfig::openai(server.base_url(), "gpt-test");
    config.api_key = Some(ApiKey::new("sk-test-secret"));
    config.idle_timeout = Duration::from_millis(800);
    config.retry = fast_retries();
    config.stream = stream;
    connect(config).unwrap()
}

fn anthropic(server: &ScriptedLlm, stream: bool) -> std::sync::Arc<dyn LlmBackend> {
    let mut config = ProviderConfig::anthropic(server.anthropic_base_url(), "claude-test");
    config.api_key = Some(ApiKey::new("sk-ant-secret"));
    config.idle_timeout = Duration::from_millis(800);
    config.retry = fast_retries();
    config.stream = stream;
    connect(config).unwrap()
}

fn request() -> ChatRequest {
    ChatRequest {
        messages: vec![Message::system("be brief"), Message::user("write a sum function")],
        ..Default::default()
    }
}

/// Runs a request, collecting what the caller was shown (a restart clears it, as a UI would).
async fn run(llm: &dyn LlmBackend) -> (Result<Completion, LlmError>, String) {
    let shown = Mutex::new(String::new());
    let result = llm
        .stream(&request(), &|event| match event {
            StreamEvent::Delta(d) => shown.lock().unwrap().push_str(d),
            StreamEvent::Restart { .. } => shown.lock().unwrap().clear(),
        })
        .await;
    (result, shown.into_inner().unwrap())
}

const TEXT: &str = "héllo 😀 world, with \"quotes\" and a\nnewline";

#[tokio::test]
async fn every_framing_of_both_formats_gives_exactly_the_text() {
    let styles = [
        Style::default(),
        Style { crlf: true, comments: true, ..Style::default() },
        Style { role_with_content: true, chunk: 1, ..Style::default() },
        Style { chunk: 1000, pings: false, ..Style::default() },
        Style { cached_tokens: 30, ..Style::default() },
    ];
    for style in styles {
        for stream in [true, false] {
            for format in ["openai", "anthropic"] {
                let server = ScriptedLlm::start(vec![Reply::styled(TEXT, style.clone())]);
                let llm = if format == "openai" { openai(&server, stream) } else { anthropic(&server, stream) };
                let (result, shown) = run(&*llm).await;
                let completion = result.unwrap_or_else(|e| panic!("{format} stream={stream} {style:?}: {e}"));
                assert_eq!(completion.text, TEXT, "{format} stream={stream} {style:?}");
                assert_eq!(shown, TEXT);
                assert_eq!(completion.finish_reason, FinishReason::Stop);
                assert_eq!(completion.attempts, 1);
                assert_eq!(completion.usage.prompt_tokens, 42, "{format} stream={stream}");
                assert_eq!(completion.usage.cached_tokens, style.cached_tokens, "{format} stream={stream}");
                assert!(!completion.usage.estimated);
                assert_eq!(completion.usage.completion_tokens, TEXT.chars().count().div_ceil(4) as u64);
            }
        }
    }
}

#[tokio::test]
async fn requests_follow_each_api() {
    let server = ScriptedLlm::start(vec![Reply::text("a"), Reply::text("b")]);
    run(&*openai(&server, true)).await.0.unwrap();
    run(&*anthropic(&server, true)).await.0.unwrap();
    let [o, a] = &server.requests()[..] else { panic!() };
    assert_eq!(o.path, "/v1/chat/completions");
    assert_eq!(o.header("authorization"), Some("Bearer sk-test-secret"));
    assert_eq!(o.body["stream"], true);
    assert_eq!(o.body["stream_options"]["include_usage"], true);
    assert_eq!(o.body["messages"][0]["role"], "system");
    assert_eq!(a.path, "/v1/messages");
    assert_eq!(a.header("x-api-key"), Some("sk-ant-secret"));
    assert_eq!(a.header("anthropic-version"), Some("2023-06-01"));
    assert!(a.header("authorization").is_none());
    assert_eq!(a.body["system"], "be brief");
    assert_eq!(a.body["messages"][0]["role"], "user");
    assert!(a.body["max_tokens"].as_u64().unwrap() > 0, "Anthropic requires max_tokens");
}

#[tokio::test]
async fn retries_429_with_retry_after_in_seconds_and_as_a_date() {
    let date = httpdate_in(Duration::from_secs(1));
    let server = ScriptedLlm::start(vec![
        Reply::Status { code: 429, body: "{}".into(), headers: vec![("retry-after".into(), "0.2".into())] },
        Reply::Status { code: 429, body: "{}".into(), headers: vec![("retry-after".into(), date)] },
        Reply::text("ok"),
    ]);
    let started = std::time::Instant::now();
    let completion = run(&*openai(&server, true)).await.0.unwrap();
    assert_eq!((completion.text.as_str(), completion.attempts), ("ok", 3));
    assert!(started.elapsed() >= Duration::from_millis(200), "Retry-After was not honoured");
    assert_eq!(server.requests().len(), 3);
}

fn httpdate_in(d: Duration) -> String {
    // An HTTP date has one-second resolution: round up so the wait is never negative.
    let when = std::time::SystemTime::now() + d + Duration::from_millis(999);
    let secs = when.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let days = secs / 86400;
    let (h, m, s) = (secs % 86400 / 3600, secs % 3600 / 60, secs % 60);
    // Civil date from days since the epoch (Howard Hinnant's algorithm).
    let z = days as i64 + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][(days % 7) as usize];
    let month_name =
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"][(month - 1) as usize];
    format!("{weekday}, {day:02} {month_name} {year} {h:02}:{m:02}:{s:02} GMT")
}

#[tokio::test]
async fn server_errors_then_success_and_529_overloaded() {
    let server = ScriptedLlm::start(vec![Reply::status(500, "boom"), Reply::text("fine")]);
    assert_eq!(run(&*openai(&server, true)).await.0.unwrap().attempts, 2);
    let server = ScriptedLlm::start(vec![Reply::status(529, "Overloaded"), Reply::text("fine")]);
    assert_eq!(run(&*anthropic(&server, true)).await.0.unwrap().attempts, 2);
}

#[tokio::test]
async fn a_mid_stream_overloaded_error_event_is_retried() {
    let overloaded = "event: message_start\ndata: {\"type\": \"message_start\", \"message\": {\"usage\": {\"input_tokens\": 5, \"output_tokens\": 1}}}\n\nevent: content_block_delta\ndata: {\"type\": \"content_block_delta\", \"index\": 0, \"delta\": {\"type\": \"text_delta\", \"text\": \"par\"}}\n\nevent: error\ndata: {\"type\": \"error\", \"error\": {\"type\": \"overloaded_error\", \"message\": \"Overloaded\"}}\n\n";
    let server = ScriptedLlm::start(vec![Reply::RawSse(overloaded.into()), Reply::text("whole")]);
    let (result, shown) = run(&*anthropic(&server, true)).await;
    assert_eq!(result.unwrap().text, "whole");
    assert_eq!(shown, "whole", "the caller must not see the broken attempt's text");
}

#[tokio::test]
async fn broken_streams_are_retried_from_the_start_without_duplicates() {
    for reset in [false, true] {
        for format in ["openai", "anthropic"] {
            let server = ScriptedLlm::start(vec![
                Reply::Broken { text: "partial ans".into(), reset },
                Reply::text("full answer"),
            ]);
            let llm = if format == "openai" { openai(&server, true) } else { anthropic(&server, true) };
            let (result, shown) = run(&*llm).await;
            let completion = result.unwrap_or_else(|e| panic!("{format} reset={reset}: {e}"));
            assert_eq!((completion.text.as_str(), completion.attempts), ("full answer", 2));
            assert_eq!(shown, "full answer", "{format} reset={reset}: duplicated or truncated");
        }
    }
}

#[tokio::test]
async fn a_malformed_chunk_breaks_the_attempt_and_is_retried() {
    let bad = "data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\ndata: {not json\n\n";
    let server = ScriptedLlm::start(vec![Reply::RawSse(bad.into()), Reply::text("good")]);
    let (result, shown) = run(&*openai(&server, true)).await;
    assert_eq!(result.unwrap().text, "good");
    assert_eq!(shown, "good");
}

#[tokio::test]
async fn a_stream_cut_before_done_is_never_returned_as_complete() {
    let server = ScriptedLlm::repeating(Reply::Broken { text: "cut".into(), reset: false });
    let err = run(&*openai(&server, true)).await.0.unwrap_err();
    assert!(matches!(err, LlmError::Exhausted { attempts: 3, .. }), "{err}");
    assert!(err.to_string().contains("closed before the model finished"), "{err}");
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test]
async fn a_first_byte_slower_than_the_timeout_is_a_retried_timeout() {
    let slow = Reply::Delayed(Duration::from_millis(1500), Box::new(Reply::text("late")));
    let server = ScriptedLlm::start(vec![slow, Reply::text("on time")]);
    let completion = run(&*openai(&server, true)).await.0.unwrap();
    assert_eq!((completion.text.as_str(), completion.attempts), ("on time", 2));

    let server = ScriptedLlm::repeating(Reply::Hang);
    let err = run(&*anthropic(&server, true)).await.0.unwrap_err();
    assert!(matches!(err, LlmError::Exhausted { attempts: 3, .. }) && err.to_string().contains("timed out"), "{err}");
}

#[tokio::test]
async fn auth_errors_are_not_retried_and_say_what_to_fix() {
    let server = ScriptedLlm::repeating(Reply::status(401, "Incorrect API key provided"));
    let err = run(&*openai(&server, true)).await.0.unwrap_err().to_string();
    assert!(err.contains("401") && err.contains("OPENAI_API_KEY") && err.contains("Incorrect API key"), "{err}");
    assert!(!err.contains("sk-test-secret"));
    assert_eq!(server.requests().len(), 1);

    let server = ScriptedLlm::repeating(Reply::Status {
        code: 401,
        body: r#"{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}"#.into(),
        headers: vec![],
    });
    let err = run(&*anthropic(&server, true)).await.0.unwrap_err().to_string();
    assert!(err.contains("authentication_error: invalid x-api-key") && err.contains("ANTHROPIC_API_KEY"), "{err}");
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn unknown_model_names_the_setting() {
    let server = ScriptedLlm::repeating(Reply::status(404, "model not found"));
    let err = run(&*openai(&server, true)).await.0.unwrap_err().to_string();
    assert!(err.contains("gpt-test") && err.contains("SAMOKODER_MODEL"), "{err}");
}

#[tokio::test]
async fn a_huge_body_is_capped_with_a_clear_error() {
    let server = ScriptedLlm::repeating(Reply::Huge { bytes: 50 * 1024 * 1024 });
    let err = run(&*openai(&server, false)).await.0.unwrap_err();
    assert!(matches!(err, LlmError::TooLarge { .. }), "{err}");
    assert!(err.to_string().contains("base URL"), "{err}");
    assert_eq!(server.requests().len(), 1, "a too-large reply is not retried");
}

#[tokio::test]
async fn a_dead_provider_says_how_to_fix_it() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut config = ProviderConfig::openai(format!("http://127.0.0.1:{port}/v1"), "m");
    config.retry = fast_retries();
    let err = run(&*connect(config).unwrap()).await.0.unwrap_err().to_string();
    assert!(err.contains("cannot reach") && err.contains("base URL"), "{err}");
}
