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

/// The examples a generate run is held to: the formal ones of the description (read without a model), and
/// the ones the spec writer read from it (`drafts`) whose quote is in the description word for word and
/// whose call and result are literals; the rest are dropped and said. Committed; returns the record.
pub async fn from_description(
    ctx: &RunContext,
    description: &str,
    drafts: &[crate::state::ExampleDraft],
) -> Result<OracleRecord> {
    let lines: Vec<(u32, String)> =
        description.lines().enumerate().map(|(i, l)| (i as u32 + 1, l.to_owned())).collect();
    let mut found = super::extract::examples(&lines, "the description", None);
    let normal = |t: &str| t.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase();
    let said = normal(description);
    for draft in drafts {
        match super::extract::drafted(&draft.call, &draft.result) {
            Some((callee, call, expect)) if !draft.quote.trim().is_empty() && said.contains(&normal(&draft.quote)) => {
                let example = Example {
                    callee,
                    call,
                    expect,
                    quote: draft.quote.trim().to_owned(),
                    origin: "the description".into(),
                    module: None,
                };
                if !found.iter().any(|e| e.call == example.call && e.expect == example.expect) {
                    found.push(example);
                }
            }
            _ => ctx.frontend.log(
                &ctx.id,
                "spec_writer",
                &format!(
                    "not an example the request states (its quote is not in the request, or it is not a call with \
                     literals): `{}` -> {} (\"{}\")\n",
                    draft.call, draft.result, draft.quote
                ),
            ),
        }
    }
    let mut record = load(ctx)?.unwrap_or_default();
    record.examples = settle(ctx, found, &mut record).await?;
    save(ctx, &record)?;
    Ok(record)
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
/// the module that exports its function; with none yet, it fails with that said, or, while other tasks are
/// still to come (`pending_ok`), it is not run (`None`).
pub async fn check(ctx: &RunContext, examples: &[Example], pending_ok: bool) -> Result<Vec<Option<Verdict>>> {
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
            Some(_) => Some(ran.next().unwrap_or(Verdict { ok: false, got: "no answer".into(), error: None })),
            None if pending_ok => None,
            None => Some(Verdict { ok: false, got: format!("no module exports {}", example.callee), error: None }),
        })
        .collect())
}

/// The workspace module that exports `name`: among the files the run wrote (read as they are now), else
/// from the index (which may lag a write by a moment).
fn exporter(ctx: &RunContext, name: &str) -> Option<String> {
    let is_test = crate::agents::troubleshooter::is_test;
    let steps = ctx.store.steps(&ctx.id.0).unwrap_or_default();
    let mut written: Vec<&String> = steps.iter().flat_map(|s| &s.files).filter(|p| !is_test(p)).collect();
    written.dedup();
    for path in written {
        if let Some(text) = crate::agents::read_file(ctx, path)
            && super::exported(path, &text).iter().any(|n| n == name)
        {
            return Some(path.clone());
        }
    }
    let index = ctx.index.read();
    let found = index.paths().filter(|p| !is_test(p)).find(|p| {
        index.file(p).is_some_and(|f| f.definitions().any(|t| t.exported && t.container.is_none() && t.name == name))
    });
    found.map(str::to_owned)
}

/// A failing example as a failure line: where it is stated, what it wants and what came.
pub fn failure(example: &Example, verdict: &Verdict) -> String {
    format!("{}: the stated example `{}` failed: got {}", example.origin, example.statement(), verdict.got)
}
