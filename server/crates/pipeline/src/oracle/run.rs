//! Running examples against code, in the warm sandbox: the harness (`harness.mjs`) and the checks ride in the
//! command's overlay (never written to the workspace), with any file of a candidate in place of the
//! workspace's, and one worker thread evaluates the calls so that one that never returns costs its time limit
//! and no more. Milliseconds per candidate: this is what lets a run choose among candidates by running them.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Result, bail};
use samokoder_sandbox::RunRequest;
use serde::Deserialize;
use serde_json::json;

use super::Expect;
use crate::RunContext;

const HARNESS: &str = include_str!("harness.mjs");
const HARNESS_PATH: &str = ".samokoder/oracle/harness.mjs";
const CHECKS_PATH: &str = ".samokoder/oracle/checks.json";
const MARK: &str = "==samokoder-oracle== ";
/// Each call has 2 s in the harness; the whole command has this.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);

/// One call to make: `expect` says what it must give; `None` only records what it gives (a probe).
#[derive(Debug, Clone)]
pub struct Call<'a> {
    /// Workspace-relative path of the module whose exports the call sees.
    pub module: &'a str,
    pub call: &'a str,
    pub expect: Option<&'a Expect>,
}

/// What one call gave.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Verdict {
    pub ok: bool,
    /// The value as util.inspect prints it (or `throws TypeError: ...`).
    pub got: String,
    #[serde(default)]
    pub error: Option<String>,
}

/// Runs `calls` against the workspace as the user holds it with `files` in place (path -> text), in order;
/// one verdict per call.
pub async fn run(ctx: &RunContext, files: &BTreeMap<String, String>, calls: &[Call<'_>]) -> Result<Vec<Verdict>> {
    if calls.is_empty() {
        return Ok(Vec::new());
    }
    let checks: Vec<serde_json::Value> = calls
        .iter()
        .enumerate()
        .map(|(id, c)| {
            let expect = match c.expect {
                None => json!({"kind": "probe"}),
                Some(Expect::Equal(value)) => json!({"kind": "equal", "value": value}),
                Some(Expect::Nullish) => json!({"kind": "nullish"}),
                Some(Expect::Throws(name)) => json!({"kind": "throws", "name": name}),
            };
            json!({"id": id, "module": c.module, "call": c.call, "expect": expect})
        })
        .collect();
    let mut overlay = ctx.frontend.overlay();
    overlay.extend(files.iter().map(|(p, t)| (p.clone(), t.clone())));
    overlay.insert(HARNESS_PATH.to_owned(), HARNESS.to_owned());
    overlay.insert(CHECKS_PATH.to_owned(), json!({ "checks": checks }).to_string());
    let command = format!("node --no-warnings {HARNESS_PATH} '{MARK}' {CHECKS_PATH}");
    let mut request = RunRequest::new(ctx.jail.root(), &overlay, &command, COMMAND_TIMEOUT);
    request.run_id = Some(&ctx.id.0);
    let result = ctx.sandbox.run(request, &|_| {}).await?;
    let mut verdicts: Vec<Option<Verdict>> = vec![None; calls.len()];
    for line in result.output.lines() {
        let Some(rest) = line.strip_prefix(MARK) else { continue };
        #[derive(Deserialize)]
        struct Line {
            id: usize,
            #[serde(flatten)]
            verdict: Verdict,
        }
        if let Ok(parsed) = serde_json::from_str::<Line>(rest)
            && let Some(slot) = verdicts.get_mut(parsed.id)
        {
            *slot = Some(parsed.verdict);
        }
    }
    if verdicts.iter().all(Option::is_none) {
        let tail: Vec<&str> = result.output.lines().rev().take(6).collect();
        bail!(
            "the examples could not be run in the sandbox ({:?}): {}",
            result.exit_code,
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
    }
    // A call the harness never reported on (the command was cut off) did not give what it must.
    Ok(verdicts
        .into_iter()
        .map(|v| {
            v.unwrap_or(Verdict { ok: false, got: "no answer: the run was cut off".into(), error: Some("cut".into()) })
        })
        .collect())
}
