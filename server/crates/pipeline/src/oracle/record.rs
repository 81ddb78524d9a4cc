//! The run's oracle, committed (record `specs/oracle`): the examples the run is held to, what was assumed
//! where nothing settled a question, and the generated tests dropped because a stated example contradicts
//! them. The executor runs the examples before the tests; the fix loop cannot change them.

use anyhow::Result;
use samokoder_store::{RecordKind, get_typed, put_typed};
use serde::{Deserialize, Serialize};

use super::run::{Call, Verdict, run};
use super::{Conflict, Example};
use crate::RunContext;

const KEY: &str = "oracle";

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OracleRecord {
    pub examples: Vec<Example>,
    /// What was decided without the user (headless): each a sentence.
    #[serde(default)]
    pub assumptions: Vec<String>,
    /// Generated tests left out, each with why.
    #[serde(default)]
    pub dropped: Vec<String>,
}

pub fn load(ctx: &RunContext) -> Result<Option<OracleRecord>> {
    Ok(get_typed(&*ctx.store, RecordKind::Spec, &ctx.id.0, KEY)?)
}

pub fn save(ctx: &RunContext, record: &OracleRecord) -> Result<()> {
    put_typed(&*ctx.store, RecordKind::Spec, &ctx.id.0, KEY, record)?;
    Ok(())
}

/// Examples that contradict each other go to the user, who says which holds; with no one to ask, neither
/// is used and the record says so. Returns the examples the run is held to.
pub async fn settle(ctx: &RunContext, examples: Vec<Example>, record: &mut OracleRecord) -> Result<Vec<Example>> {
    let (mut kept, conflicts) = super::conflicts(examples);
    for Conflict { first, second } in conflicts {
        let question = format!(
            "Two of your examples disagree: `{}` gives {} ({}) and {} ({}). Which is right?",
            first.call,
            first.wants(),
            first.origin,
            second.wants(),
            second.origin
        );
        let neither = "neither".to_owned();
        let choices = vec![first.wants(), second.wants(), neither];
        let answer = if ctx.frontend.can_ask() { ctx.frontend.ask(&ctx.id, &question, &choices).await? } else { None };
        match answer.as_deref().map(str::trim) {
            Some(a) if a == first.wants() => kept.push(first),
            Some(a) if a == second.wants() => kept.push(second),
            Some(_) => {}
            None => record.assumptions.push(format!(
                "`{}` is stated as {} ({}) and as {} ({}); neither was used as a check",
                first.call,
                first.wants(),
                first.origin,
                second.wants(),
                second.origin
            )),
        }
    }
    Ok(kept)
}

/// A change that alters a line stating an example the run is held to: the example outranks the code, so the
/// code must change, not the example. `Err` names the example.
pub fn guard(record: &OracleRecord, path: &str, before: Option<&str>, after: &str) -> Result<(), String> {
    let Some(before) = before else { return Ok(()) };
    for example in record.examples.iter().filter(|e| e.origin.rsplit_once(':').is_some_and(|(p, _)| p == path)) {
        // Each line of the quote, as the file's lines say it (comment markers aside), as often as before.
        let count = |text: &str, wanted: &str| {
            text.lines().filter(|l| super::comment_text(l).unwrap_or_else(|| l.trim().to_owned()) == wanted).count()
        };
        let kept = example
            .quote
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .all(|line| count(after, line) >= count(before, line));
        if !kept {
            return Err(format!(
                "the change to {path} edits the example `{}` ({}), which the user stated: the code must meet it; \
                 change the code, not the example",
                example.statement(),
                example.origin
            ));
        }
    }
    Ok(())
}

/// The examples' verdicts on the workspace as the user holds it. An example with no module is run against
/// the module that exports its function; with none yet, it fails with that said.
pub async fn check(ctx: &RunContext, examples: &[Example]) -> Result<Vec<Verdict>> {
    let modules: Vec<Option<String>> =
        examples.iter().map(|e| e.module.clone().or_else(|| exporter(ctx, &e.callee))).collect();
    let calls: Vec<Call<'_>> = examples
        .iter()
        .zip(&modules)
        .filter_map(|(e, m)| Some(Call { module: m.as_deref()?, call: &e.call, expect: Some(&e.expect) }))
        .collect();
    let mut ran = run(ctx, &Default::default(), &calls).await?.into_iter();
    Ok(modules
        .iter()
        .zip(examples)
        .map(|(module, example)| match module {
            Some(_) => ran.next().unwrap_or(Verdict { ok: false, got: "no answer".into(), error: None }),
            None => Verdict { ok: false, got: format!("no module exports {}", example.callee), error: None },
        })
        .collect())
}

/// The workspace module that exports `name`, from the index.
fn exporter(ctx: &RunContext, name: &str) -> Option<String> {
    let index = ctx.index.read();
    let found = index.paths().filter(|p| !crate::agents::troubleshooter::is_test(p)).find(|p| {
        index.file(p).is_some_and(|f| f.definitions().any(|t| t.exported && t.container.is_none() && t.name == name))
    });
    found.map(str::to_owned)
}

/// A failing example as a failure line: where it is stated, what it wants and what came.
pub fn failure(example: &Example, verdict: &Verdict) -> String {
    format!("{}: the stated example `{}` failed: got {}", example.origin, example.statement(), verdict.got)
}
