//! A simple request's code is drawn several times and the draw that runs right lands: every draw's tests run
//! against every draw's code (on the host's node, as the sandbox would), the stated examples outrank what
//! most draws agree on, and identical draws run nothing.

mod support;

use samokoder_pipeline::generate;
use samokoder_store::RunStatus;
use samokoder_test_utils::{Reply, ScriptedLlm};
use support::*;

/// fromRoman reads nothing: 'MMX' gives 0.
fn wrong() -> String {
    ROMAN.replace("while (s.startsWith(r, i))", "while (false)")
}

/// Tests without the wrong case.
fn right_test() -> String {
    ROMAN_TEST[..ROMAN_TEST.find("\ntest('MMX is not").unwrap()].to_owned()
}

fn bench(draws: [String; 4]) -> (ScriptedLlm, Bench) {
    let mut routes = vec![("you are the spec writer", Reply::text(ROMAN_SPEC))];
    for (seed, draw) in
        ["body:\"seed\":0", "body:\"seed\":1", "body:\"seed\":2", "body:\"seed\":3"].into_iter().zip(draws)
    {
        routes.push((seed, Reply::text(draw)));
    }
    let server = ScriptedLlm::routed(routes);
    let mut b = Bench::new(&server, RecordingFrontend::default(), FakeSandbox::new(PASSING_TAP, 0));
    b.ctx.settings.candidates = 4;
    (server, b)
}

fn log(b: &Bench) -> String {
    b.frontend.log.lock().unwrap().clone()
}

#[tokio::test]
async fn the_draw_whose_code_passes_the_tests_most_draws_wrote_lands_not_the_first() {
    let right = roman_reply(ROMAN, &right_test());
    let (server, b) = bench([roman_reply(&wrong(), &right_test()), right.clone(), right.clone(), right]);
    let outcome = generate(&b.ctx, &req("functions toRoman(n) and fromRoman(s), with tests")).await.unwrap();
    assert_eq!(outcome.status, RunStatus::Succeeded, "{}", outcome.summary);
    assert_eq!(b.frontend.file("src/roman.js").unwrap().trim_end(), ROMAN);
    let log = log(&b);
    // The wrong code passes 'writes 1994' of each of the four test files and fails 'reads MMX' of each.
    assert!(log.contains("candidate 1: 0 of 0 stated examples hold, 4 of 8 tests (all candidates') pass"), "{log}");
    assert!(log.contains("candidate 2: 0 of 0 stated examples hold, 8 of 8 tests (all candidates') pass"), "{log}");
    assert!(log.contains("chose candidate 2 of 4 (3 agree): no stated example, 8 of 8 tests pass"), "{log}");
    assert_eq!(server.requests().iter().filter(|r| r.last_user_message().contains("Build this")).count(), 4);
}

#[tokio::test]
async fn a_stated_example_outranks_what_most_draws_agree_on() {
    // Three draws share the wrong code and tests that agree with it; one is right. The request states MMX.
    let wrong_test =
        right_test().replace("assert.equal(fromRoman('MMX'), 2010);", "assert.equal(fromRoman('MMX'), 0);");
    let wrong = roman_reply(&wrong(), &wrong_test);
    let (_server, b) = bench([wrong.clone(), wrong.clone(), roman_reply(ROMAN, &right_test()), wrong]);
    let description =
        "functions toRoman(n) and fromRoman(s) in src/roman.js, with tests: fromRoman('MMX') returns 2010";
    let outcome = generate(&b.ctx, &req(description)).await.unwrap();
    assert_eq!(outcome.status, RunStatus::Succeeded, "{}", outcome.summary);
    assert_eq!(b.frontend.file("src/roman.js").unwrap().trim_end(), ROMAN);
    let log = log(&b);
    assert!(log.contains("candidate 1: 0 of 1 stated examples hold"), "{log}");
    assert!(log.contains("chose candidate 3 of 4 (1 agree): the stated example holds"), "{log}");
}

#[tokio::test]
async fn draws_that_are_all_alike_run_nothing() {
    let same = roman_reply(ROMAN, &right_test());
    let (_server, b) = bench([same.clone(), same.clone(), same.clone(), same]);
    let outcome = generate(&b.ctx, &req("functions toRoman(n) and fromRoman(s), with tests")).await.unwrap();
    assert_eq!(outcome.status, RunStatus::Succeeded, "{}", outcome.summary);
    assert!(!log(&b).contains("chose candidate"), "{}", log(&b));
    let sandbox_runs = b.sandbox.commands();
    assert!(!sandbox_runs.iter().any(|c| c.starts_with("node --test '")), "{sandbox_runs:?}");
}

#[tokio::test]
async fn a_draw_that_names_no_file_is_one_candidate_fewer() {
    let right = roman_reply(ROMAN, &right_test());
    let (_server, b) =
        bench(["I cannot help with that.".to_owned(), roman_reply(&wrong(), &right_test()), right.clone(), right]);
    let outcome = generate(&b.ctx, &req("functions toRoman(n) and fromRoman(s), with tests")).await.unwrap();
    assert_eq!(outcome.status, RunStatus::Succeeded, "{}", outcome.summary);
    assert_eq!(b.frontend.file("src/roman.js").unwrap().trim_end(), ROMAN);
    let log = log(&b);
    assert!(log.contains("candidate 1: not usable: the model's reply named no files"), "{log}");
    assert!(log.contains("chose candidate 3 of 4 (2 agree)"), "{log}");
}
