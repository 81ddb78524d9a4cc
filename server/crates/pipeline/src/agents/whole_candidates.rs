//! Sample several for a simple request, keep the one that runs right. A simple request is written whole in
//! one reply (its code and its tests); with `[run] candidates` above one, that reply is drawn `candidates`
//! times (decoded together in one batch by the embedded model), and the draws are chosen among by running
//! them, as an implement run's are (`candidates`): each draw's code runs the run's stated examples and the
//! inputs made from them (`oracle::probes`), and every draw's tests run against every draw's code (CodeT's
//! dual agreement: a test most draws' code passes is likely right, and code that passes the tests of the
//! others is likely right). A draw that fails a stated example is out while another meets it; among the rest
//! the behaviour most draws share, weighted by the tests it passes, lands, with its own tests.
//!
//! Measured before this existed (HumanEval-JS and the g tasks, Qwen2.5-Coder-1.5B): a generate run stood on
//! one draw, and one-shot's single draw was right where the run's was wrong (g6) and the fix loop could not
//! mend it. One draw is what the run does with `candidates = 1`.

use std::collections::BTreeMap;

use anyhow::{Result, anyhow};
use samokoder_llm::{AgentRole, ChatRequest, gather};

use super::candidates::{behaviour, draw, examples_said};
use super::code_monkey::{warn_if_cut, whole_files};
use super::troubleshooter::is_test;
use super::{in_project, stream_text};
use crate::RunContext;
use crate::oracle::run::{Call, Verdict, run};
use crate::oracle::select::{Run, choose};
use crate::oracle::{Example, exported, probes::probes};

/// Draws the whole task `k` times and returns the files of the draw chosen (paths as the reply gave them,
/// relative to the project). `Err` when no draw gave files.
pub(crate) async fn whole_task(
    ctx: &RunContext,
    request: &ChatRequest,
    test_command: &str,
    subdir: Option<&str>,
) -> Result<Vec<(String, String)>> {
    let k = ctx.settings.candidates.max(1);
    let draws = (0..k).map(|i| {
        let request = draw(request, i);
        let label = format!("the task (candidate {} of {k})", i + 1);
        async move { Ok(stream_text(ctx, AgentRole::CodeMonkey, &request, Some(&label)).await) }
    });
    let draws = gather(draws.collect(), &ctx.cancel).await;
    if ctx.cancel.is_cancelled() {
        anyhow::bail!("the run was cancelled");
    }
    let mut candidates: Vec<(usize, Vec<(String, String)>)> = Vec::new();
    let mut first_error: Option<String> = None;
    for (i, draw) in draws.into_iter().enumerate() {
        let files = match draw.map_err(anyhow::Error::from).and_then(|inner| inner) {
            Ok(completion) => {
                warn_if_cut(ctx, &completion.finish_reason, &completion.provider, &completion.model);
                whole_files(ctx, &completion.text)
            }
            Err(e) => Err(format!("no reply: {e:#}")),
        };
        match files {
            Ok(files) => candidates.push((i, files)),
            Err(why) => {
                ctx.frontend.log(&ctx.id, "code_monkey", &format!("candidate {}: not usable: {why}\n", i + 1));
                first_error.get_or_insert(why);
            }
        }
    }
    let all_alike = candidates.windows(2).all(|w| w[0].1 == w[1].1);
    match candidates.len() {
        0 => Err(anyhow!("{}", first_error.unwrap_or_else(|| "no candidate was drawn".into()))),
        _ if all_alike => Ok(candidates.remove(0).1),
        _ => {
            let (chosen, note) = choose_by_running(ctx, &candidates, test_command, subdir).await?;
            ctx.frontend.log(&ctx.id, "code_monkey", &format!("{note}\n"));
            Ok(candidates.swap_remove(chosen).1)
        }
    }
}

/// Runs every candidate on the stated examples, the probes and every candidate's tests; the index into
/// `candidates` of the one to land, and a line saying why. Identical draws run once.
async fn choose_by_running(
    ctx: &RunContext,
    candidates: &[(usize, Vec<(String, String)>)],
    test_command: &str,
    subdir: Option<&str>,
) -> Result<(usize, String)> {
    let examples: Vec<Example> = match crate::oracle::record::load(ctx)? {
        Some(record) if ctx.settings.oracle => record.examples,
        _ => Vec::new(),
    };
    let probes = probes(&examples);
    // The code in workspace paths (the reply's are relative to the project); the tests as the reply names
    // them, each with its text.
    let code: Vec<BTreeMap<String, String>> = candidates
        .iter()
        .map(|(_, files)| {
            files.iter().filter(|(p, _)| !is_test(p)).map(|(p, t)| (in_project(subdir, p), t.clone())).collect()
        })
        .collect();
    // Tests cross-run only where one file runs alone and fast (`node --test FILE`), as the arbiter's do.
    let tests: Vec<(String, String)> = if test_command.contains("node --test") {
        candidates.iter().flat_map(|(_, files)| files.iter().filter(|(p, _)| is_test(p)).cloned()).collect()
    } else {
        Vec::new()
    };
    let mut ran_tests: BTreeMap<(String, String, String), (usize, usize)> = BTreeMap::new();
    let mut ran_examples: BTreeMap<String, (Vec<bool>, Vec<Option<Verdict>>)> = BTreeMap::new();
    let mut runs = Vec::new();
    for files in &code {
        let key: String = files.iter().map(|(p, t)| format!("{p}\u{0}{t}\u{0}")).collect();
        let mut passed_failed = Vec::new();
        for (path, text) in &tests {
            let test_key = (key.clone(), path.clone(), text.clone());
            let result = match ran_tests.get(&test_key) {
                Some(result) => *result,
                None => {
                    let result = test_on(ctx, files, path, text, subdir).await?;
                    ran_tests.insert(test_key, result);
                    result
                }
            };
            passed_failed.push(result);
        }
        let tests: Vec<bool> = passed_failed
            .iter()
            .flat_map(|(passed, failed)| std::iter::repeat_n(true, *passed).chain(std::iter::repeat_n(false, *failed)))
            .collect();
        let (held, got) = match ran_examples.get(&key) {
            Some(ran) => ran.clone(),
            None => {
                let ran = examples_on(ctx, files, &examples, &probes).await?;
                ran_examples.insert(key, ran.clone());
                ran
            }
        };
        // Which tests a draw passes is behaviour too (CodeT's consensus sets): with no example to call, it is
        // all that groups the draws.
        let verdicts: Vec<String> = passed_failed.iter().map(|(p, f)| format!("{p} passed, {f} failed")).collect();
        runs.push((Run { examples: held, tests, outputs: verdicts }, got));
    }
    // A probe where some candidate throws, never returns or has no such function may be an input the
    // function is not meant for: it groups nothing.
    let telling: Vec<bool> = (0..examples.len() + probes.len())
        .map(|c| {
            c < examples.len()
                || runs
                    .iter()
                    .all(|(_, got)| got[c].as_ref().is_some_and(|v| !v.got.starts_with("throws ") && v.error.is_none()))
        })
        .collect();
    let runs: Vec<Run> = runs
        .into_iter()
        .map(|(run, got)| {
            let mut outputs: Vec<String> = got
                .iter()
                .zip(&telling)
                .filter(|(_, t)| **t)
                .map(|(v, _)| v.as_ref().map_or_else(|| "no module exports it".to_owned(), |v| behaviour(&v.got)))
                .collect();
            outputs.extend(run.outputs.iter().cloned());
            Run { outputs, ..run }
        })
        .collect();
    for ((i, _), run) in candidates.iter().zip(&runs) {
        let held = run.examples.iter().filter(|ok| **ok).count();
        let passed = run.tests.iter().filter(|ok| **ok).count();
        let line = format!(
            "candidate {}: {held} of {} stated examples hold, {passed} of {} tests (all candidates') pass\n",
            i + 1,
            examples.len(),
            run.tests.len()
        );
        ctx.frontend.log(&ctx.id, "code_monkey", &line);
    }
    let choice = choose(&runs).expect("at least one candidate");
    let note = format!(
        "chose candidate {} of {} ({} agree): {}, {} of {} tests pass",
        candidates[choice.index].0 + 1,
        ctx.settings.candidates.max(1),
        choice.agreeing.len(),
        examples_said(examples.len(), choice.meets_examples),
        choice.tests_passed,
        runs[choice.index].tests.len()
    );
    Ok((choice.index, note))
}

/// One test file (`path`, relative to the project) run with `node --test` on the workspace with `code` in
/// place: its tests passed and failed (a file that ran nothing recognisable counts as none).
async fn test_on(
    ctx: &RunContext,
    code: &BTreeMap<String, String>,
    path: &str,
    text: &str,
    subdir: Option<&str>,
) -> Result<(usize, usize)> {
    let mut files = code.clone();
    files.insert(in_project(subdir, path), text.to_owned());
    let tests = super::arbiter::run_tests(ctx, &files, path, subdir).await?;
    let passed = tests.values().filter(|ok| **ok).count();
    Ok((passed, tests.len() - passed))
}

/// The stated examples (each held or not) and what every example and probe gives, on `code` (`None`: no
/// module exports its function): each call goes to the module of `code` that exports its function; a
/// function no module exports fails its example.
async fn examples_on(
    ctx: &RunContext,
    code: &BTreeMap<String, String>,
    examples: &[Example],
    probes: &[String],
) -> Result<(Vec<bool>, Vec<Option<Verdict>>)> {
    let exporter =
        |name: &str| code.iter().find(|(p, t)| exported(p, t).iter().any(|n| n == name)).map(|(p, _)| p.as_str());
    let callee = |call: &str| call.split('(').next().unwrap_or(call).trim().to_owned();
    let mut calls: Vec<Call<'_>> = Vec::new();
    let mut slots: Vec<Option<usize>> = Vec::new();
    for (call, expect, name) in examples
        .iter()
        .map(|e| (e.call.as_str(), Some(&e.expect), e.callee.clone()))
        .chain(probes.iter().map(|p| (p.as_str(), None, callee(p))))
    {
        match exporter(&name) {
            Some(module) => {
                slots.push(Some(calls.len()));
                calls.push(Call { module, call, expect });
            }
            None => slots.push(None),
        }
    }
    let verdicts = if calls.is_empty() { Vec::new() } else { run(ctx, code, &calls).await? };
    let got: Vec<Option<Verdict>> = slots.iter().map(|s| s.and_then(|i| verdicts.get(i)).cloned()).collect();
    let held = got[..examples.len()].iter().map(|v| v.as_ref().is_some_and(|v| v.ok)).collect();
    Ok((held, got))
}
