//! Sample several, keep the one that runs right. For a unit the size of a function, the code writer's
//! prompt is drawn `candidates` times (decoded together in one batch by the embedded model) beside one call
//! for generated tests (assertions, each a hypothesis); every candidate runs every stated example and every
//! generated assertion in the warm sandbox (`oracle::run`), and `oracle::select` chooses: a candidate that
//! fails a stated example is out, and among the rest the behaviour most candidates share, weighted by the
//! generated tests it passes, lands. Generated assertions on a call a stated example already settles are
//! left out (and said, when they contradict it). When the two best groups tie and answer some call
//! differently, the user is asked which answer is right (an editor), or the choice is written down as an
//! assumption (headless).

use std::collections::BTreeMap;

use anyhow::Result;
use samokoder_edits::ChangeSet;
use samokoder_llm::{AgentRole, ChatRequest, gather};
use serde_json::Value;

use super::stream_text;
use super::troubleshooter::{Guard, prepare};
use crate::RunContext;
use crate::oracle::record::OracleRecord;
use crate::oracle::run::{Call, Verdict, run};
use crate::oracle::select::{Choice, Run, choose};
use crate::oracle::{Example, Expect, asserts};

/// The first draw samples as a single call does; the others hotter, so that they differ (CodeT sampled at
/// 0.8).
const FIRST_TEMPERATURE: f32 = 0.2;
const DRAW_TEMPERATURE: f32 = 0.8;
/// Generated assertions asked for, and the reply's cap (a line each).
const ASSERTIONS: usize = 5;
/// Stated examples enough to choose by without generated tests.
const ENOUGH_EXAMPLES: usize = 2;
const TESTS_TOKENS: u32 = 256;

/// The candidate chosen, and what the run says about it.
pub(crate) struct Chosen {
    pub changes: ChangeSet,
    /// `candidate 2 of 4 (3 agree): the 2 stated examples hold, 5 of 6 generated tests pass`.
    pub note: String,
    /// The best candidates disagreed and no one settled it.
    pub disputed: bool,
}

/// Draws and chooses among candidates for `path` (a JavaScript module) with `chat` as the code writer's
/// request. `None` when no draw gave a change that applies (the caller asks again the usual way, starting
/// from `first`'s reply and reason).
pub(crate) async fn implement(
    ctx: &RunContext,
    vars: &Value,
    chat: &ChatRequest,
    files: &[(String, String)],
    function: &str,
    record: &mut OracleRecord,
) -> Result<Result<Chosen, (String, String)>> {
    let (path, current) = (&files[0].0, &files[0].1);
    let k = ctx.settings.candidates.max(1);
    let draws = (0..k).map(|i| {
        let request = draw(chat, i);
        let label = format!("{path} (candidate {} of {k})", i + 1);
        // gather's own error is cancellation; the call's own is inside.
        async move { Ok(stream_text(ctx, AgentRole::CodeMonkey, &request, Some(&label)).await) }
    });
    let mut vars = vars.clone();
    vars["name"] = Value::String(function.to_owned());
    vars["count"] = Value::from(ASSERTIONS);
    let tests_request = ChatRequest {
        messages: super::messages(ctx, &vars, "test_writer/asserts")?,
        temperature: Some(FIRST_TEMPERATURE),
        max_tokens: Some(TESTS_TOKENS),
        ..Default::default()
    };
    // Generated tests where the user stated too little to choose by: with two examples or more, they are the
    // tests (on HumanEval-JS's development half the generated ones mostly repeated the examples, and never
    // changed a choice the examples had made), and the call would only lengthen the batch.
    let stated = record.examples.iter().filter(|e| e.module.as_deref() == Some(path.as_str())).count();
    let want_tests = stated < ENOUGH_EXAMPLES;
    let tests = async {
        if !want_tests {
            return String::new();
        }
        // The tests are a help, not a need: a failed call leaves the examples and agreement to choose.
        match stream_text(ctx, AgentRole::CodeMonkey, &tests_request, Some("generated tests")).await {
            Ok(completion) => completion.text,
            Err(e) => {
                ctx.frontend.log(&ctx.id, "code_monkey", &format!("no generated tests: {e:#}\n"));
                String::new()
            }
        }
    };
    let (draws, tests) = tokio::join!(gather(draws.collect(), &ctx.cancel), tests);
    if ctx.cancel.is_cancelled() {
        anyhow::bail!("the run was cancelled");
    }
    let mut candidates: Vec<(usize, ChangeSet)> = Vec::new();
    let mut first_refusal: Option<(String, String)> = None;
    let mut failed: Option<anyhow::Error> = None;
    for (i, draw) in draws.into_iter().enumerate() {
        // A draw whose call failed is one candidate fewer; the run fails only when every draw did.
        let completion = match draw.map_err(anyhow::Error::from).and_then(|inner| inner) {
            Ok(completion) => completion,
            Err(e) => {
                ctx.frontend.log(&ctx.id, "code_monkey", &format!("candidate {}: no reply: {e:#}\n", i + 1));
                failed.get_or_insert(e);
                continue;
            }
        };
        match prepare(ctx, &completion.text, None, Guard::Spec(""), files) {
            Ok(changes) => candidates.push((i, changes)),
            Err(why) => {
                ctx.frontend.log(&ctx.id, "code_monkey", &format!("candidate {}: not usable: {why}\n", i + 1));
                first_refusal.get_or_insert((completion.text, why));
            }
        }
    }
    if candidates.is_empty() {
        return match (first_refusal, failed) {
            (Some(refusal), _) => Ok(Err(refusal)),
            (None, Some(e)) => Err(e.context("the code writer's model call failed")),
            (None, None) => anyhow::bail!("no candidate was drawn"),
        };
    }
    let names = crate::oracle::exported(path, current);
    let examples: Vec<Example> =
        record.examples.iter().filter(|e| e.module.as_deref() == Some(path.as_str())).cloned().collect();
    let hypotheses = triage(asserts::hypotheses(&tests, &names, "the generated tests"), &examples, record);
    // Other inputs, made from the stated and generated ones: what candidates give there groups them.
    let stated_and_generated: Vec<Example> = examples.iter().chain(&hypotheses).cloned().collect();
    let probes = crate::oracle::probes::probes(&stated_and_generated);
    let calls: Vec<Call<'_>> = stated_and_generated
        .iter()
        .map(|e| Call { module: path, call: &e.call, expect: Some(&e.expect) })
        .chain(probes.iter().map(|p| Call { module: path, call: p, expect: None }))
        .collect();
    let mut verdicts: Vec<Vec<Verdict>> = Vec::new();
    let mut by_text: BTreeMap<String, Vec<Verdict>> = BTreeMap::new();
    for (_, changes) in &candidates {
        let files: BTreeMap<String, String> =
            changes.changes.iter().map(|c| (c.path.to_string(), c.text.clone())).collect();
        let key = files.values().cloned().collect::<Vec<_>>().join("\u{0}");
        let ran = match by_text.get(&key) {
            Some(ran) => ran.clone(),
            None => {
                let ran = run(ctx, &files, &calls).await?;
                by_text.insert(key, ran.clone());
                ran
            }
        };
        verdicts.push(ran);
    }
    // A probe where some candidate throws or never returns may be an input the function is not meant for:
    // it groups nothing.
    let (n, m) = (examples.len(), stated_and_generated.len());
    let telling: Vec<bool> = (0..calls.len())
        .map(|c| c < m || verdicts.iter().all(|v| !v[c].got.starts_with("throws ") && v[c].error.is_none()))
        .collect();
    let runs: Vec<Run> = verdicts
        .iter()
        .map(|v| Run {
            examples: v[..n].iter().map(|v| v.ok).collect(),
            tests: v[n..m].iter().map(|v| v.ok).collect(),
            outputs: v.iter().zip(&telling).filter(|(_, t)| **t).map(|(v, _)| behaviour(&v.got)).collect(),
        })
        .collect();
    for ((i, _), run) in candidates.iter().zip(&runs) {
        let held = run.examples.iter().filter(|ok| **ok).count();
        let passed = run.tests.iter().filter(|ok| **ok).count();
        ctx.frontend.log(
            &ctx.id,
            "code_monkey",
            &format!(
                "candidate {}: {held} of {n} stated examples hold, {passed} of {} generated tests pass\n",
                i + 1,
                hypotheses.len()
            ),
        );
    }
    let choice = choose(&runs).expect("at least one candidate");
    // The dispute's call indexes the outputs kept for grouping.
    let calls_text: Vec<String> =
        calls.iter().zip(&telling).filter(|(_, t)| **t).map(|(c, _)| c.call.to_owned()).collect();
    let (choice, disputed) = settle_dispute(ctx, choice, &calls_text, path, record).await?;
    let (index, changes) = candidates.swap_remove(choice.index);
    let note = format!(
        "candidate {} of {k} ({} agree): {}, {} of {} generated tests pass",
        index + 1,
        choice.agreeing.len(),
        examples_said(examples.len(), choice.meets_examples),
        choice.tests_passed,
        hypotheses.len()
    );
    Ok(Ok(Chosen { changes, note, disputed }))
}

/// Draw `i` of `chat`: its own sampler seed; the first at the single call's temperature, the others hotter.
pub(crate) fn draw(chat: &ChatRequest, i: usize) -> ChatRequest {
    let mut request = chat.clone();
    request.draw = Some(i as u32);
    request.temperature = Some(if i == 0 { FIRST_TEMPERATURE } else { DRAW_TEMPERATURE });
    request
}

/// What the chosen candidate did on `n` stated examples, in words.
pub(crate) fn examples_said(n: usize, meets: bool) -> String {
    match (n, meets) {
        (0, _) => "no stated example".to_owned(),
        (1, true) => "the stated example holds".to_owned(),
        (n, true) => format!("the {n} stated examples hold"),
        (n, false) => format!("no candidate meets all {n} stated examples"),
    }
}

/// What a call's result says about behaviour: a thrown error by its type alone (messages differ in
/// wording, not in what the code does).
pub(crate) fn behaviour(got: &str) -> String {
    match got.strip_prefix("throws ") {
        Some(rest) => format!("throws {}", rest.split(':').next().unwrap_or(rest)),
        None => got.to_owned(),
    }
}

/// Generated assertions on a call a stated example settles are left out: one that agrees adds nothing, and
/// one that contradicts it is wrong (and recorded as dropped).
fn triage(hypotheses: Vec<Example>, examples: &[Example], record: &mut OracleRecord) -> Vec<Example> {
    hypotheses
        .into_iter()
        .filter(|h| {
            let Some(stated) = examples.iter().find(|e| e.call == h.call) else { return true };
            if stated.expect != h.expect
                && !matches!((&stated.expect, &h.expect), (Expect::Throws(_), Expect::Throws(_)))
            {
                record.dropped.push(format!(
                    "the generated test `{}` contradicts the stated example `{}` ({}): dropped",
                    h.quote,
                    stated.statement(),
                    stated.origin
                ));
            }
            false
        })
        .collect()
}

/// The best groups tie and answer some call differently: the user says which answer is right, and that
/// answer joins the examples; with no one to ask, the first group stands and the choice is an assumption.
async fn settle_dispute(
    ctx: &RunContext,
    choice: Choice,
    calls: &[String],
    path: &str,
    record: &mut OracleRecord,
) -> Result<(Choice, bool)> {
    let Some(dispute) = choice.dispute.clone() else { return Ok((choice, false)) };
    let call = &calls[dispute.call];
    let answers: Vec<String> = dispute.answers.iter().map(|(a, _)| a.clone()).collect();
    if ctx.frontend.can_ask() {
        let question = format!(
            "The candidates for {path} disagree on `{call}`, and nothing you stated settles it. What should it give?"
        );
        if let Some(answer) = ctx.frontend.ask(&ctx.id, &question, &answers).await? {
            let answer = answer.trim().to_owned();
            if let Some((_, group)) = dispute.answers.iter().find(|(a, _)| *a == answer) {
                let chosen = Choice { index: group[0], agreeing: group.clone(), dispute: None, ..choice };
                let expect = match crate::oracle::literal::parse_whole(&answer) {
                    Some(lit) => Some(Expect::Equal(lit.to_js())),
                    None => answer.starts_with("throws ").then(|| {
                        Expect::Throws(answer.split_whitespace().nth(1).map(|n| n.trim_end_matches(':').to_owned()))
                    }),
                };
                if let Some(expect) = expect {
                    record.examples.push(Example {
                        callee: call.split('(').next().unwrap_or_default().to_owned(),
                        call: call.clone(),
                        expect,
                        quote: format!("{call} -> {answer}"),
                        origin: "your answer".into(),
                        module: Some(path.to_owned()),
                    });
                }
                return Ok((chosen, false));
            }
        }
    }
    record.assumptions.push(format!(
        "`{call}` gives {} (the candidates also gave {}; nothing stated settles it)",
        answers[0],
        answers[1..].join(", ")
    ));
    Ok((Choice { dispute: None, ..choice }, true))
}
