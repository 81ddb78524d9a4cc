//! When nothing settles it, the code is not presumed wrong. A generate run's task fails only on tests the
//! run itself wrote, and every stated example holds: either the code or the test is wrong, and the test is
//! no more the truth than the code. Before the fix loop acts, other versions of the module the test imports
//! are written from the spec alone (never shown the test), decoded together, and every version runs the
//! test file and the stated examples in the sandbox:
//!
//! - a test that most versions fail, as the code does, is a hypothesis the spec does not back: it is skipped
//!   (`test.skip`, with a comment that says why) and the run's record says so (the model's own test expected
//!   `fromRoman('MMX')` to throw, and the loop "fixed" a right converter until it looped forever);
//! - among the versions that meet the stated examples, the one that most versions agree with (the same
//!   tests passing) and that passes the most tests lands (CodeT's score), when it is not the code already
//!   there;
//! - what still fails goes to the fix loop as before.
//!
//! Once per task; only for a project whose tests run with `node --test`.

use std::collections::BTreeMap;

use anyhow::Result;
use samokoder_edits::{ChangeSet, FileChange};
use samokoder_llm::{AgentRole, ChatRequest, gather};
use samokoder_sandbox::{Location, RunRequest, WORKDIR, parse_test_output};
use serde_json::json;

use super::code_monkey::{single_file, syntax_problem};
use super::troubleshooter::{created_by_run, is_test};
use super::{apply_step, in_project, messages, read_file, shared_vars, stream_text, touches};
use crate::RunContext;
use crate::output::ONE_FILE_GBNF;
use crate::state::{PlanTask, RunState, TaskOutcome, TaskProgress, save_task};

const FILE_TOKENS: u32 = 2048;
const DRAW_TEMPERATURE: f32 = 0.8;
const TEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Whether `outcome` calls for the arbiter: the oracle is on, candidates are drawn, this task has not had
/// it, and every failure is a test the run wrote (none a stated example, none a test of the user's).
pub(crate) fn wanted(ctx: &RunContext, progress: &TaskProgress, outcome: &TaskOutcome, subdir: Option<&str>) -> bool {
    if !ctx.settings.oracle || ctx.settings.candidates <= 1 || progress.arbitrated || outcome.failures.is_empty() {
        return false;
    }
    let created = created_by_run(ctx);
    outcome.failures.iter().all(|f| {
        let path = f.split(':').next().unwrap_or_default();
        !f.contains("the stated example") && is_test(path) && created.contains(&in_project(subdir, path))
    })
}

pub(crate) async fn run(
    ctx: &RunContext,
    state: &RunState,
    task: &PlanTask,
    mut progress: TaskProgress,
    subdir: Option<&str>,
) -> Result<()> {
    progress.arbitrated = true;
    save_task(&*ctx.store, &ctx.id.0, &progress)?;
    let Some(outcome) = progress.outcome.clone() else { return Ok(()) };
    let test_path = outcome.failures[0].split(':').next().unwrap_or_default().to_owned();
    let Some(test_text) = read_file(ctx, &in_project(subdir, &test_path)) else { return Ok(()) };
    let Some(module) = module_under_test(ctx, &test_path, &test_text, subdir) else { return Ok(()) };
    if !super::executor::test_command(ctx, state, subdir).contains("node --test") {
        return Ok(());
    }
    let full = in_project(subdir, &module);
    let Some(current) = read_file(ctx, &full) else { return Ok(()) };
    let fe = &ctx.frontend;
    fe.log(
        &ctx.id,
        "code_monkey",
        &format!("only tests the run wrote fail: other versions of {module} are written from the spec to weigh them\n"),
    );
    // The versions: the code as it is, then the draws.
    let mut versions = vec![current.clone()];
    versions.extend(draw(ctx, state, task, &module, &current, subdir).await?);
    let examples: Vec<crate::oracle::Example> = crate::oracle::record::load(ctx)?
        .map(|r| r.examples.into_iter().filter(|e| e.module.is_none() || e.module.as_deref() == Some(&full)).collect())
        .unwrap_or_default();
    let mut results: Vec<(bool, BTreeMap<String, bool>)> = Vec::new();
    for version in &versions {
        let files = BTreeMap::from([(full.clone(), version.clone())]);
        let meets = examples_hold(ctx, &files, &full, &examples).await?;
        let tests = run_tests(ctx, &files, &test_path, subdir).await?;
        results.push((meets, tests));
    }
    let names: Vec<String> = results[0].1.keys().cloned().collect();
    let eligible: Vec<usize> = (0..versions.len()).filter(|&i| results[i].0 && !results[i].1.is_empty()).collect();
    if eligible.len() < 2 {
        fe.log(
            &ctx.id,
            "code_monkey",
            "too few versions meet the stated examples to weigh the tests; the fix loop goes on\n",
        );
        return Ok(());
    }
    // Tests most versions fail, as the code does: nothing stated backs them.
    let unbacked: Vec<String> = names
        .iter()
        .filter(|t| !results[0].1.get(*t).copied().unwrap_or(true))
        .filter(|t| {
            let passing = eligible.iter().filter(|&&i| results[i].1.get(*t).copied().unwrap_or(false)).count();
            passing * 2 < eligible.len()
        })
        .cloned()
        .collect();
    let n = eligible.len();
    if !unbacked.is_empty() {
        let skipped = skip_tests(&test_text, &unbacked, n);
        let changes =
            ChangeSet::new(vec![FileChange { path: ctx.jail.check(&in_project(subdir, &test_path))?, text: skipped }]);
        let touched = touches(ctx, &changes)?;
        let summary = format!("skipped {} generated test(s) most versions written from the spec fail", unbacked.len());
        apply_step(ctx, &changes, touched, "code_monkey", Some(&progress.id), summary).await?;
        let mut record = crate::oracle::record::load(ctx)?.unwrap_or_default();
        for name in &unbacked {
            let why = format!(
                "{test_path}: the generated test '{name}' was skipped: most of {n} versions of {module} written from the \
                 spec fail it, and nothing the user stated settles it"
            );
            fe.log(&ctx.id, "code_monkey", &format!("{why}\n"));
            record.assumptions.push(why);
        }
        crate::oracle::record::save(ctx, &record)?;
    }
    // The code most versions agree with, passing the most of the remaining tests.
    let remaining: Vec<&String> = names.iter().filter(|t| !unbacked.contains(t)).collect();
    let signature =
        |i: usize| remaining.iter().map(|t| results[i].1.get(*t).copied().unwrap_or(false)).collect::<Vec<_>>();
    let passed = |i: usize| signature(i).iter().filter(|ok| **ok).count();
    let agree = |i: usize| eligible.iter().filter(|&&j| signature(j) == signature(i)).count();
    let best = eligible.iter().copied().max_by_key(|&i| (agree(i) * passed(i), agree(i), std::cmp::Reverse(i)));
    if let Some(best) = best.filter(|&b| b != 0 && passed(b) > passed(0)) {
        let changes = ChangeSet::new(vec![FileChange { path: ctx.jail.check(&full)?, text: versions[best].clone() }]);
        let touched = touches(ctx, &changes)?;
        let summary = format!(
            "rewrote {module}: the version {} of {n} agree with, passing {} of {} tests",
            agree(best),
            passed(best),
            remaining.len()
        );
        fe.log(&ctx.id, "code_monkey", &format!("{summary}\n"));
        apply_step(ctx, &changes, touched, "code_monkey", Some(&progress.id), summary).await?;
    }
    // Tested again by the executor.
    progress.outcome = None;
    save_task(&*ctx.store, &ctx.id.0, &progress)
}

/// The source module a test file imports by a relative path (the first the run wrote, else the first).
fn module_under_test(ctx: &RunContext, test_path: &str, test_text: &str, subdir: Option<&str>) -> Option<String> {
    let imported = super::troubleshooter::relative_imports(test_path, test_text);
    let mine: Vec<String> = created_by_run(ctx);
    let sources: Vec<&String> = imported.iter().filter(|p| !is_test(p)).collect();
    sources.iter().find(|p| mine.contains(&in_project(subdir, p))).or(sources.first()).map(|p| (*p).clone())
}

/// Other versions of `module`, from the spec alone, decoded together; the ones that parse.
async fn draw(
    ctx: &RunContext,
    state: &RunState,
    task: &PlanTask,
    module: &str,
    current: &str,
    subdir: Option<&str>,
) -> Result<Vec<String>> {
    let mut vars = shared_vars(ctx, state, subdir, &[module.to_owned()])?;
    vars["path"] = json!(module);
    vars["task"] = json!(task.title);
    vars["exports"] = json!(crate::oracle::exported(module, current).join(", "));
    let request = ChatRequest {
        messages: messages(ctx, &vars, "code_monkey/again")?,
        temperature: Some(DRAW_TEMPERATURE),
        max_tokens: Some(FILE_TOKENS),
        grammar: Some(ONE_FILE_GBNF.to_owned()),
        ..Default::default()
    };
    let k = ctx.settings.candidates.saturating_sub(1).max(1);
    let futures: Vec<_> = (0..k)
        .map(|i| {
            let mut request = request.clone();
            request.draw = Some(i as u32 + 1);
            let label = format!("{module} (version {} of {k})", i + 1);
            async move {
                Ok::<_, samokoder_llm::LlmError>(stream_text(ctx, AgentRole::CodeMonkey, &request, Some(&label)).await)
            }
        })
        .collect();
    let mut out = Vec::new();
    for drawn in gather(futures, &ctx.cancel).await.into_iter().flatten().flatten() {
        match single_file(&drawn.text, module) {
            Some(text) if syntax_problem(module, &text).is_none() => out.push(text),
            _ => ctx.frontend.log(&ctx.id, "code_monkey", &format!("a version of {module} did not parse; left out\n")),
        }
    }
    Ok(out)
}

/// Every stated example holds on `files`.
async fn examples_hold(
    ctx: &RunContext,
    files: &BTreeMap<String, String>,
    module: &str,
    examples: &[crate::oracle::Example],
) -> Result<bool> {
    let calls: Vec<crate::oracle::run::Call<'_>> =
        examples.iter().map(|e| crate::oracle::run::Call { module, call: &e.call, expect: Some(&e.expect) }).collect();
    Ok(crate::oracle::run::run(ctx, files, &calls).await?.iter().all(|v| v.ok))
}

/// Each test of the file by name: passed or not, with `files` in place.
pub(crate) async fn run_tests(
    ctx: &RunContext,
    files: &BTreeMap<String, String>,
    test_path: &str,
    subdir: Option<&str>,
) -> Result<BTreeMap<String, bool>> {
    let mut overlay = ctx.frontend.overlay();
    overlay.extend(files.iter().map(|(p, t)| (p.clone(), t.clone())));
    let command = format!("node --test '{}'", test_path.replace('\'', ""));
    let mut request = RunRequest::new(ctx.jail.root(), &overlay, &command, TEST_TIMEOUT);
    request.cwd = subdir;
    request.run_id = Some(&ctx.id.0);
    let result = ctx.sandbox.run(request, &|_| {}).await?;
    let report = parse_test_output(&result.output, Location { root: WORKDIR, cwd: subdir.unwrap_or("") });
    let mut tests: BTreeMap<String, bool> = passing(&result.output).into_iter().map(|n| (n, true)).collect();
    tests.extend(report.failures.iter().map(|f| (f.name.clone(), false)));
    Ok(tests)
}

/// The names of the tests TAP reports passing (`ok 3 - name`, not skipped).
fn passing(tap: &str) -> Vec<String> {
    tap.lines()
        .filter_map(|l| {
            let rest = l.trim_start().strip_prefix("ok ")?;
            let (_, name) = rest.split_once(" - ")?;
            (!name.contains("# SKIP")).then(|| name.trim().to_owned())
        })
        .collect()
}

/// The test file with the named tests skipped (`test.skip(`, `it.skip(`), each under a comment saying why.
pub(crate) fn skip_tests(text: &str, names: &[String], versions: usize) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        let indent = &line[..line.len() - trimmed.len()];
        let hit = ["test(", "it("].iter().find_map(|call| {
            let rest = trimmed.strip_prefix(call)?.trim_start();
            let quote = rest.chars().next().filter(|c| matches!(c, '\'' | '"' | '`'))?;
            let name = rest[1..].split(quote).next()?;
            names.iter().any(|n| n == name).then_some(*call)
        });
        match hit {
            Some(call) => {
                out.push_str(&format!(
                    "{indent}// samokoder: skipped: most of {versions} versions written from the spec fail this test, and nothing the user stated settles it\n"
                ));
                out.push_str(indent);
                out.push_str(&trimmed.replacen(call, &format!("{}.skip(", call.trim_end_matches('(')), 1));
            }
            None => out.push_str(line),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn skipped_tests_say_why_and_the_rest_stay() {
        let text = "import { test } from 'node:test';\n\ntest('throws on MMX', () => {\n  assert.throws(() => fromRoman('MMX'));\n});\n  it(\"reads IV\", () => {});\n";
        let skipped = super::skip_tests(text, &["throws on MMX".to_owned()], 3);
        assert_eq!(
            skipped,
            "import { test } from 'node:test';\n\n// samokoder: skipped: most of 3 versions written from the spec fail this test, and nothing the user stated settles it\ntest.skip('throws on MMX', () => {\n  assert.throws(() => fromRoman('MMX'));\n});\n  it(\"reads IV\", () => {});\n"
        );
    }
}
