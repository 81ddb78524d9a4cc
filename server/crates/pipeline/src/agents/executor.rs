//! Executor: after a task's steps, the project's install (when package.json's dependencies are not what the
//! sandbox last installed; with network, in a short-lived container) and the project's tests, in the
//! sandbox, on the workspace as the user holds it. Results become diagnostics; the outcome is recorded on the
//! task, and a task whose tests pass is ticked in plan.md.
//!
//! Commits: the task's outcome, an `executor` step, plan.md ticked.

use anyhow::Result;
use samokoder_sandbox::{Location, RunRequest, TestReport, WORKDIR, parse_test_output};
use samokoder_store::StepRecord;

use super::{read_file, run_file, write_run_file};
use crate::plan_md::{PLAN_FILE, tick};
use crate::run::now_ms;
use crate::state::{PlanTask, RunState, TaskOutcome, TaskProgress, save_task};
use crate::{Progress, RunContext};

/// A test run's verdict.
pub(crate) struct Tested {
    pub passed: bool,
    pub summary: String,
    pub report: TestReport,
    pub output: String,
    /// The command found no tests (it may still have succeeded).
    pub no_tests: bool,
}

/// How much of the test output a task's outcome keeps (its end: where the failures are summed up).
const OUTPUT_TAIL: usize = 6000;

/// The last `max` bytes of `text`, from a line start.
pub(crate) fn tail(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut start = text.len() - max;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    let from = text[start..].find('\n').map_or(start, |i| start + i + 1);
    format!("[... {} bytes before ...]\n{}", from, &text[from..])
}

/// The test output as the model reads it: without what changes from one run to the next and says nothing about
/// the failure (timings, the runtime's own stack frames). The same failure then reads the same, and a small
/// model's reply does not swing with a test's duration (measured: a `duration_ms` that differed turned Qwen
/// 1.5B's fix of the same bug from right to wrong).
pub(crate) fn steady(output: &str) -> String {
    let kept: Vec<&str> = output.lines().filter(|line| !noise(line)).map(untimed).collect();
    kept.join("\n")
}

/// A line of timings or of the runtime's internals (`node:internal/...`, `(node:async_hooks:206:9)`).
fn noise(line: &str) -> bool {
    let t = line.trim_start().trim_start_matches('#').trim_start();
    t.starts_with("duration_ms")
        || t.starts_with("Duration ")
        || t.starts_with("Time:")
        || t.starts_with("node:")
        || t.starts_with("at node:")
        || t.contains("(node:")
}

/// A test's result line without its trailing duration (`✓ adds (3 ms)`, `✓ test/a.test.js (2 tests) 5ms`).
fn untimed(line: &str) -> &str {
    const RESULT_MARKS: [&str; 10] = ["✓", "✔", "√", "×", "✗", "✕", "↓", "PASS", "FAIL", "Test"];
    let t = line.trim_end();
    if !RESULT_MARKS.iter().any(|mark| t.trim_start().starts_with(mark)) {
        return line;
    }
    let duration = |s: &str| {
        let n = s.strip_suffix("ms").or_else(|| s.strip_suffix('s'));
        n.is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit() || c == '.'))
    };
    let Some((rest, last)) = t.rsplit_once(' ') else { return line };
    // `5ms`, `(5ms)`
    if duration(last.strip_prefix('(').and_then(|l| l.strip_suffix(')')).unwrap_or(last)) {
        return rest.trim_end();
    }
    // `(5 ms)`
    if let (Some(unit), Some((before, n))) = (last.strip_suffix(')'), rest.rsplit_once(" ("))
        && duration(&format!("{n}{unit}"))
    {
        return before.trim_end();
    }
    line
}

pub(crate) async fn run(
    ctx: &RunContext,
    state: &RunState,
    task: &PlanTask,
    mut progress: TaskProgress,
    subdir: Option<&str>,
) -> Result<()> {
    let id = progress.id.clone();
    // The examples the user stated run first: they outrank the tests.
    // An example of a function no module exports yet waits while other tasks are still to come.
    let others_to_come = state.planned.iter().any(|t| {
        t.id != task.id
            && t.id
                .as_deref()
                .and_then(|id| state.task(id))
                .is_none_or(|p| !p.skipped && !p.outcome.as_ref().is_some_and(|o| o.passed))
    });
    if ctx.settings.oracle {
        crate::oracle::triage::drop_contradicted(ctx, &id).await?;
    }
    let stated = stated_examples(ctx, others_to_come).await?;
    let mut tested = test(ctx, state, &test_command(ctx, state, subdir), subdir).await?;
    // No tests is no failure where the project has none to begin with (implement, fix), and where the user's
    // own examples were checked and hold: the fix loop has nothing to act on (a 1.5B model asked to "fix" a
    // missing test answered in prose six times over on a generate task).
    let examples_hold = stated.summary.is_some() && stated.failures.is_empty();
    if tested.no_tests && tested.report.failed == 0 && (progress.no_tests_ok || examples_hold) {
        tested.passed = true;
        tested.summary = if progress.no_tests_ok {
            "the project has no tests to run".into()
        } else {
            "no test was written, so the stated examples are all that checked this code".into()
        };
    }
    let mut failures: Vec<String> = stated.failures.clone();
    failures.extend(tested.report.failures.iter().map(|f| match (&f.file, f.line) {
        (Some(file), Some(line)) => format!("{file}:{line}: {}: {}", f.name, f.message),
        _ => format!("{}: {}", f.name, f.message),
    }));
    if let Some(said) = &stated.summary {
        tested.summary = format!("{said}; {}", tested.summary);
    }
    let mut output = steady(&tested.output);
    if !stated.failures.is_empty() {
        output = format!("{output}\n\nThe examples the user stated that fail:\n{}", stated.failures.join("\n"));
    }
    progress.outcome = Some(TaskOutcome {
        passed: tested.passed && stated.failures.is_empty(),
        summary: tested.summary.clone(),
        failed: tested.report.failed + stated.failures.len() as u32,
        failures,
        passed_count: tested.report.passed,
        stated_failed: stated.failures.len() as u32,
        output: tail(&output, OUTPUT_TAIL),
    });
    let tested = Tested { passed: tested.passed && stated.failures.is_empty(), ..tested };
    save_task(&*ctx.store, &ctx.id.0, &progress)?;
    let mut step = StepRecord::new("executor", format!("{id}: {}", tested.summary), now_ms());
    step.task = Some(id.clone());
    ctx.store.append_step(&ctx.id.0, &step)?;
    if tested.passed {
        let path = run_file(subdir, PLAN_FILE);
        if let Some(text) = read_file(ctx, &path) {
            let ticked = tick(&text, &id);
            if ticked != text {
                write_run_file(ctx, "executor", &path, ticked).await?;
            }
        }
    }
    ctx.frontend.log(&ctx.id, "executor", &format!("{id} ({}): {}\n", task.title, tested.summary));
    Ok(())
}

/// What the run's stated examples did on the workspace as it stands.
struct Stated {
    /// `src/a.js:7: the stated example ... failed: got ...`, one per failing example.
    failures: Vec<String>,
    /// `2 of 3 stated examples fail`, `the 3 stated examples hold`; `None` without examples.
    summary: Option<String>,
}

/// Runs the run's stated examples (`oracle::record`), when it has any and the oracle is on.
async fn stated_examples(ctx: &RunContext, pending_ok: bool) -> Result<Stated> {
    let examples = match crate::oracle::record::load(ctx)? {
        Some(record) if ctx.settings.oracle => record.examples,
        _ => Vec::new(),
    };
    if examples.is_empty() {
        return Ok(Stated { failures: Vec::new(), summary: None });
    }
    let verdicts = crate::oracle::record::check(ctx, &examples, pending_ok).await?;
    let checked: Vec<(&crate::oracle::Example, crate::oracle::run::Verdict)> =
        examples.iter().zip(verdicts).filter_map(|(e, v)| Some((e, v?))).collect();
    if checked.is_empty() {
        return Ok(Stated { failures: Vec::new(), summary: None });
    }
    let failures: Vec<String> =
        checked.iter().filter(|(_, v)| !v.ok).map(|(e, v)| crate::oracle::record::failure(e, v)).collect();
    let n = checked.len();
    let summary = match failures.len() {
        0 if n == 1 => "the stated example holds".to_owned(),
        0 => format!("the {n} stated examples hold"),
        f => {
            format!("{f} of {n} stated example{} fail{}", if n == 1 { "" } else { "s" }, if f == 1 { "s" } else { "" })
        }
    };
    Ok(Stated { failures, summary: Some(summary) })
}

/// What installs a project's dependencies when its template names nothing else.
const DEFAULT_INSTALL: &str = "npm install --no-audit --no-fund --prefer-offline";
/// Where the sandbox keeps the dependency fingerprint of its last install, beside what it installed.
const INSTALLED_MARK: &str = "node_modules/.samokoder-installed";

/// Installs the project's dependencies in the sandbox (with network, in a short-lived container) when its
/// package.json lists any and they are not what the sandbox last installed: before every test run, so that
/// runTests, fix and implement on a user's own project with dependencies work as a generated one does. The
/// mark lives in the sandbox's node_modules, so a new sandbox (a restart, another machine) installs again.
pub(crate) async fn ensure_installed(ctx: &RunContext, state: &RunState, subdir: Option<&str>) -> Result<()> {
    let package = super::in_project(subdir, "package.json");
    let Some(manifest) = read_file(ctx, &package) else { return Ok(()) };
    let Some(fingerprint) = dependencies_fingerprint(&manifest) else { return Ok(()) };
    let overlay = ctx.frontend.overlay();
    let look = format!("cat {INSTALLED_MARK} 2>/dev/null || true");
    let mut request = RunRequest::new(ctx.jail.root(), &overlay, &look, ctx.settings.test_timeout);
    request.cwd = subdir;
    request.run_id = Some(&ctx.id.0);
    let seen = ctx.sandbox.run(request, &|_| {}).await?;
    if seen.success() && seen.output.trim() == fingerprint {
        return Ok(());
    }
    let install = match project_template(ctx, state, subdir).as_ref().map(|t| t.install.trim()) {
        Some(install) if !install.is_empty() => install.to_owned(),
        _ => DEFAULT_INSTALL.to_owned(),
    };
    ctx.frontend.progress(
        &ctx.id,
        Progress::Report { message: format!("installing: `{install}` (with network)"), percentage: None },
    );
    let command = format!("{install} && printf %s {fingerprint} > {INSTALLED_MARK}");
    let mut request = RunRequest::new(ctx.jail.root(), &overlay, &command, ctx.settings.install_timeout);
    request.cwd = subdir;
    request.network = true;
    request.run_id = Some(&ctx.id.0);
    let result = super::run_logged(ctx, request).await?;
    if !result.success() {
        let tail: Vec<&str> = result.output.lines().rev().take(8).collect();
        anyhow::bail!(
            "installing the project's dependencies failed: `{install}` ({:?}): {}\nfix package.json (or the \
             registry access: samokoder.sandbox.network), then run again",
            result.exit_code,
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
    }
    Ok(())
}

/// What decides whether an install is due: the manifest's dependency sections; `None` when it lists none.
fn dependencies_fingerprint(manifest: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(manifest).unwrap_or_default();
    let sections = ["dependencies", "devDependencies", "optionalDependencies", "peerDependencies"];
    let listed = sections.iter().any(|s| value[s].as_object().is_some_and(|deps| !deps.is_empty()));
    let wanted: Vec<String> = sections.iter().map(|s| value[s].to_string()).collect();
    listed.then(|| samokoder_store::blob_hash(&wanted.join("\n")))
}

/// The test command: the user's when they set one, else the project template's: the run's choice, or for a
/// run that made no choice (runTests, fix, implement), the one `.samokoder/architecture.md` names.
pub(crate) fn test_command(ctx: &RunContext, state: &RunState, subdir: Option<&str>) -> String {
    if ctx.settings.test_command_configured {
        return ctx.settings.test_command.clone();
    }
    match project_template(ctx, state, subdir) {
        Some(template) => template.test,
        None => ctx.settings.test_command.clone(),
    }
}

/// The project's template: the run's choice, or for a run that made none (runTests, fix, implement) the one
/// `.samokoder/architecture.md` names.
pub(crate) fn project_template(
    ctx: &RunContext,
    state: &RunState,
    subdir: Option<&str>,
) -> Option<samokoder_prompts::Template> {
    let name = match &state.architecture {
        Some(architecture) => Some(architecture.template.clone()),
        None => read_file(ctx, &run_file(subdir, "architecture.md")).and_then(|text| template_named(&text)),
    };
    name.and_then(|n| samokoder_prompts::template(&n).ok())
}

/// The template an architecture.md names (`Template: **vite-react** (...)`).
fn template_named(architecture: &str) -> Option<String> {
    let rest = architecture.lines().find_map(|l| l.strip_prefix("Template: **"))?;
    Some(rest.split_once("**")?.0.to_owned())
}

/// The project's tests in the sandbox on the workspace as the user holds it; results to the frontend.
pub(crate) async fn test(ctx: &RunContext, state: &RunState, command: &str, subdir: Option<&str>) -> Result<Tested> {
    ensure_installed(ctx, state, subdir).await?;
    let fe = &ctx.frontend;
    fe.progress(&ctx.id, Progress::Report { message: format!("running `{command}` in the sandbox"), percentage: None });
    let overlay = fe.overlay();
    let mut request = RunRequest::new(ctx.jail.root(), &overlay, command, ctx.settings.test_timeout);
    request.cwd = subdir;
    request.idle_timeout = ctx.settings.test_idle_timeout;
    request.run_id = Some(&ctx.id.0);
    let result = super::run_logged(ctx, request).await?;
    let report = parse_test_output(&result.output, Location { root: WORKDIR, cwd: subdir.unwrap_or("") });
    fe.test_results(&ctx.id, &report);
    let (passed, summary) = if let Some(why) = result.abnormal_end() {
        (false, format!("`{command}` was {why}"))
    } else if result.success() && report.recognized && report.passed + report.failed == 0 {
        // Exit code 0 with nothing run proves nothing: a generated project must come with its tests.
        (false, format!("no tests ran: `{command}` found no tests in the project"))
    } else if result.success() {
        (true, format!("tests pass ({} passed)", report.passed))
    } else if report.failed > 0 {
        let s = if report.failed == 1 { "" } else { "s" };
        (false, format!("{} test{s} failed, {} passed", report.failed, report.passed))
    } else {
        let tail: Vec<&str> = result.output.lines().rev().take(5).collect();
        let tail = tail.into_iter().rev().collect::<Vec<_>>().join("\n");
        (false, format!("`{command}` exited with {:?}: {tail}", result.exit_code))
    };
    let no_tests = report.recognized && report.passed + report.failed == 0 && result.abnormal_end().is_none();
    Ok(Tested { passed, summary, report, output: result.output, no_tests })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_model_reads_test_output_without_timings_or_the_runtimes_stack() {
        let node = "not ok 1 - largest\n  ---\n  duration_ms: 2.476647\n  error: |-\n    2 !== 9\n  stack: |-\n    \
                    TestContext.<anonymous> (file:///workspace/test/max.test.js:5:10)\n    Test.runInAsyncScope \
                    (node:async_hooks:206:9)\n    node:internal/test_runner/harness:255:12\n  ...\n# fail 1\n\
                    # duration_ms 71.881444";
        assert_eq!(
            steady(node),
            "not ok 1 - largest\n  ---\n  error: |-\n    2 !== 9\n  stack: |-\n    TestContext.<anonymous> \
             (file:///workspace/test/max.test.js:5:10)\n  ...\n# fail 1"
        );
        let vitest = " ✓ test/a.test.js (2 tests) 5ms\n × adds (3 ms)\n ✓ subtracts (12ms)\n   Duration  1.20s\n\
                      expected 5s to be 6s";
        assert_eq!(steady(vitest), " ✓ test/a.test.js (2 tests)\n × adds\n ✓ subtracts\nexpected 5s to be 6s");
    }

    #[test]
    fn the_template_an_architecture_names() {
        let text = "# Architecture\n\nTemplate: **vite-react** (A React app).\n\nWhy.\n";
        assert_eq!(template_named(text).as_deref(), Some("vite-react"));
        assert_eq!(template_named("# Architecture\n"), None);
    }

    #[test]
    fn only_dependency_changes_call_for_an_install() {
        let a = dependencies_fingerprint(r#"{"name": "a", "dependencies": {"express": "^4"}}"#);
        let renamed =
            dependencies_fingerprint(r#"{"name": "b", "scripts": {"test": "x"}, "dependencies": {"express": "^4"}}"#);
        let more = dependencies_fingerprint(r#"{"name": "a", "dependencies": {"express": "^4", "zod": "^3"}}"#);
        assert_eq!(a, renamed);
        assert_ne!(a, more);
        assert!(a.is_some());
        assert_eq!(dependencies_fingerprint(r#"{"name": "a", "dependencies": {}}"#), None);
        assert_eq!(dependencies_fingerprint("not json"), None);
    }
}
