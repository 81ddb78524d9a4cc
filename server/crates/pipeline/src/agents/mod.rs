//! The agents. Each is one module with one `run` that reads the committed state, does its one job (a model
//! call or two, or a sandbox run), commits what it produced, and returns; none calls another. What they
//! share is here: the prompt context, structured and streamed model calls with their accounting, reading
//! the workspace as the user holds it, and applying a step's files as one change with an undo record.

pub(crate) mod arbiter;
pub(crate) mod architect;
pub(crate) mod candidates;
pub(crate) mod case_tests;
pub(crate) mod checks;
pub(crate) mod code_monkey;
pub(crate) mod developer;
pub(crate) mod executor;
pub(crate) mod implementer;
pub(crate) mod prepare;
pub(crate) mod spec_writer;
pub(crate) mod tech_lead;
pub(crate) mod test_writer;
pub(crate) mod troubleshooter;
pub(crate) mod whole_candidates;

use anyhow::{Context, Result, anyhow, bail};
use samokoder_context::MapRequest;
use samokoder_edits::ChangeSet;
use samokoder_llm::{AgentRole, CallContext, ChatRequest, Completion, Message, StreamEvent};
use samokoder_store::{FileTouch, StepRecord};
use serde_json::{Value, json};

use crate::run::now_ms;
use crate::state::RunState;
use crate::{ApplyOutcome, Level, RunContext};

/// A project path as a workspace path: under `subdir` when the run builds in one.
pub(crate) fn in_project(subdir: Option<&str>, path: &str) -> String {
    match subdir {
        Some(dir) => format!("{dir}/{path}"),
        None => path.to_owned(),
    }
}

/// Where a run keeps its files for the user: `.samokoder/` in the project's directory.
pub(crate) fn run_file(subdir: Option<&str>, name: &str) -> String {
    in_project(subdir, &format!(".samokoder/{name}"))
}

/// A workspace file as the user holds it: the editor's buffer, else the disk. `None` when there is none.
pub(crate) fn read_file(ctx: &RunContext, rel: &str) -> Option<String> {
    if let Some(text) = ctx.frontend.overlay().get(rel) {
        return Some(text.clone());
    }
    let rel = ctx.jail.check(rel).ok()?;
    ctx.jail.read(&rel).ok().flatten()
}

/// The prompt variables every agent shares, in the order prompts use them: what agents share comes first
/// (the system prompt, the project's rules, the spec, the architecture, the repo map), the task last.
pub(crate) fn shared_vars(ctx: &RunContext, state: &RunState, subdir: Option<&str>, focus: &[String]) -> Result<Value> {
    shared_vars_showing(ctx, state, subdir, focus, &[])
}

/// [`shared_vars`] for a prompt that shows `shown` in full: the map leaves them out (the same file twice,
/// whole and as a map entry, only spends a small model's attention), and a map left empty by that is not
/// "no source files". (Measured on Qwen 1.5B's seeded bugs: no clear effect either way; docs/benchmarks.md.)
pub(crate) fn shared_vars_showing(
    ctx: &RunContext,
    state: &RunState,
    subdir: Option<&str>,
    focus: &[String],
    shown: &[String],
) -> Result<Value> {
    let template = state.architecture.as_ref().map(|a| a.template.as_str());
    let mut vars = json!({
        "node_major": ctx.settings.node_major,
        "test_command": executor::test_command(ctx, state, subdir),
        "rules": read_file(ctx, &run_file(subdir, "rules.md")).unwrap_or_default().trim(),
        "spec": state.spec.as_ref().map(|s| s.markdown()).unwrap_or_default(),
        "architecture": state
            .architecture
            .as_ref()
            .map(|a| {
                let template = samokoder_prompts::template(template.unwrap_or_default()).ok();
                let (description, summary) = template.map(|t| (t.description, t.summary)).unwrap_or_default();
                a.markdown(&description, &summary)
            })
            .unwrap_or_default(),
        "files": repo_map(ctx, subdir, focus, shown),
        "files_shown": !shown.is_empty(),
    });
    let context = ctx.prompts.render("common/context", &vars)?;
    vars["context"] = Value::String(context.trim().to_owned());
    Ok(vars)
}

/// The repo map for a prompt, ranked toward `focus` and the files the editor holds, with paths relative
/// to `subdir`.
pub(crate) fn repo_map(ctx: &RunContext, subdir: Option<&str>, focus: &[String], shown: &[String]) -> String {
    let prefix = subdir.map(|d| format!("{d}/")).unwrap_or_default();
    let overlay = ctx.frontend.overlay();
    let mut wanted: Vec<String> = overlay.keys().filter(|p| p.starts_with(&prefix)).cloned().collect();
    wanted.extend(focus.iter().map(|f| format!("{prefix}{f}")));
    let request = MapRequest {
        tokens: ctx.settings.map_tokens,
        focus: wanted,
        exclude: shown.iter().map(|f| format!("{prefix}{f}")).collect(),
        within: subdir.map(str::to_owned),
        ..Default::default()
    };
    let map = ctx.index.read().map(&request);
    if prefix.is_empty() {
        map
    } else {
        map.lines().map(|l| l.strip_prefix(&prefix).unwrap_or(l)).collect::<Vec<_>>().join("\n")
    }
}

/// The messages of an agent's call: the shared system prompt, then the agent's task prompt.
pub(crate) fn messages(ctx: &RunContext, vars: &Value, task_prompt: &str) -> Result<Vec<Message>> {
    Ok(vec![
        Message::system(ctx.prompts.render("common/system", vars)?.trim().to_owned()),
        Message::user(ctx.prompts.render(task_prompt, vars)?.trim().to_owned()),
    ])
}

/// Adds a call's tokens and cost to the run's, and tells the user of a fallback.
pub(crate) fn account(ctx: &RunContext, completion: &Completion) {
    let snapshot = ctx.status.add_usage(&completion.usage, ctx.budget.spent().0);
    ctx.frontend.usage(&ctx.id, snapshot.prompt_tokens + snapshot.completion_tokens, snapshot.cost_usd);
    if !completion.fallbacks.is_empty() {
        ctx.frontend.message(
            Level::Warning,
            &format!(
                "Samokoder: {}/{} answered after {} failed: {}",
                completion.provider,
                completion.model,
                completion.fallbacks.len(),
                completion.fallbacks.join("; ")
            ),
        );
    }
}

/// The hottest a re-ask samples at.
const REASK_TEMPERATURE: f32 = 0.8;

/// Sends a refused reply back: the reply and `why` join the conversation, and the temperature rises by 0.3
/// (to [`REASK_TEMPERATURE`] at most), because a small model at a low one gives the refused reply again
/// word for word (Qwen 1.5B did, three times in a row, on two of the seeded bugs).
pub(crate) fn reask(request: &mut ChatRequest, refused: String, why: String) {
    request.messages.push(Message::assistant(refused));
    request.messages.push(Message::user(why));
    let now = request.temperature.unwrap_or(0.2);
    request.temperature = Some(now.max((now + 0.3).min(REASK_TEMPERATURE)));
}

/// How many times a reply that parses but cannot be used (an unknown template, a path outside the
/// workspace) is sent back with the reason before the agent gives up.
const VALIDATION_RETRIES: u32 = 2;
/// How many times a reply that does not parse against its schema is sent back with the exact error.
const JSON_REPAIRS: u32 = 2;

/// A typed reply from `role`'s model, parsed against `T`'s schema (repaired and re-asked with the exact
/// error), then checked by `validate` (re-asked with its reason). A reply that stays unusable is an error
/// that names the agent.
pub(crate) async fn ask_json<T>(
    ctx: &RunContext,
    role: AgentRole,
    mut messages: Vec<Message>,
    max_tokens: u32,
    validate: impl Fn(&T) -> Result<(), String>,
) -> Result<T>
where
    T: serde::de::DeserializeOwned + schemars::JsonSchema,
{
    let agent = role.as_str();
    let call = CallContext { budget: &ctx.budget, run_id: Some(&ctx.id.0), tier: 0 };
    for attempt in 0..=VALIDATION_RETRIES {
        let request = ChatRequest {
            messages: messages.clone(),
            temperature: Some(0.2),
            max_tokens: Some(max_tokens),
            ..Default::default()
        };
        let (value, completion): (T, Completion) = ctx
            .llm
            .complete_json(role, &request, call, JSON_REPAIRS)
            .await
            .map_err(|e| anyhow!("the {} could not give a usable reply: {e}", agent.replace('_', " ")))?;
        account(ctx, &completion);
        match validate(&value) {
            Ok(()) => return Ok(value),
            Err(why) if attempt == VALIDATION_RETRIES => {
                bail!("the {}'s reply was refused {} times; the last time: {why}", agent.replace('_', " "), attempt + 1)
            }
            Err(why) => {
                ctx.frontend.log(&ctx.id, agent, &format!("reply refused ({why}); asking again\n"));
                messages.push(Message::assistant(completion.text));
                messages.push(Message::user(format!(
                    "That reply cannot be used: {why}. Reply again with the corrected JSON value, and nothing else."
                )));
            }
        }
    }
    unreachable!("the loop returns or fails on its last attempt")
}

/// Text that arrives in pieces (a command's output as the sandbox streams it) goes to the output panel in
/// whole lines, as docs/protocol.md promises for `samokoder/log`: a chunk boundary inside a line would
/// otherwise split it in two entries.
struct LineLog<'a> {
    ctx: &'a RunContext,
    agent: &'a str,
    pending: parking_lot::Mutex<String>,
}

impl<'a> LineLog<'a> {
    fn new(ctx: &'a RunContext, agent: &'a str) -> Self {
        Self { ctx, agent, pending: parking_lot::Mutex::new(String::new()) }
    }

    fn push(&self, chunk: &str) {
        let mut pending = self.pending.lock();
        pending.push_str(chunk);
        if let Some(i) = pending.rfind('\n') {
            let lines: String = pending.drain(..=i).collect();
            drop(pending);
            self.ctx.frontend.log(&self.ctx.id, self.agent, &lines);
        }
    }
}

/// Runs `request` in the sandbox, its output going to the output panel as the executor's, in whole lines.
pub(crate) async fn run_logged(
    ctx: &RunContext,
    request: samokoder_sandbox::RunRequest<'_>,
) -> Result<samokoder_sandbox::ExecResult> {
    let log = LineLog::new(ctx, "executor");
    Ok(ctx.sandbox.run(request, &|out| log.push(out)).await?)
}

impl Drop for LineLog<'_> {
    /// The last line, when the output did not end with a newline.
    fn drop(&mut self) {
        let rest = std::mem::take(&mut *self.pending.lock());
        if !rest.is_empty() {
            self.ctx.frontend.log(&self.ctx.id, self.agent, &format!("{rest}\n"));
        }
    }
}

/// A streamed reply from `role`'s model: whole lines go to the output panel as they come; when `file` is
/// given (one of several written at once), its progress (tokens so far) goes to the progress display and
/// its text to the output panel whole, at its end.
pub(crate) async fn stream_text(
    ctx: &RunContext,
    role: AgentRole,
    request: &ChatRequest,
    file: Option<&str>,
) -> Result<Completion> {
    stream_text_at(ctx, role, 0, request, file).await
}

/// [`stream_text`] from link `tier` of the role's chain on (a fix loop escalating to a stronger model).
pub(crate) async fn stream_text_at(
    ctx: &RunContext,
    role: AgentRole,
    tier: usize,
    request: &ChatRequest,
    file: Option<&str>,
) -> Result<Completion> {
    let agent = role.as_str();
    let pending = parking_lot::Mutex::new(String::new());
    let deltas = std::sync::atomic::AtomicU64::new(0);
    let fe = &ctx.frontend;
    let flush = |text: &str| fe.log(&ctx.id, agent, text);
    let call = CallContext { budget: &ctx.budget, run_id: Some(&ctx.id.0), tier };
    let completion = ctx
        .llm
        .complete(role, request, call, &|event| match event {
            StreamEvent::Delta(delta) => {
                let n = deltas.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                if let Some(path) = file {
                    fe.file_progress(&ctx.id, path, n, false);
                }
                let mut p = pending.lock();
                p.push_str(delta);
                // Whole lines to the output panel, not a notification per token. A file written beside
                // others goes out whole at its end, so parallel replies do not interleave.
                if file.is_none()
                    && let Some(i) = p.rfind('\n')
                {
                    let line: String = p.drain(..=i).collect();
                    drop(p);
                    flush(&line);
                }
            }
            StreamEvent::Restart { attempt } => {
                pending.lock().clear();
                flush(&format!(
                    "\n[the reply starts over (attempt {attempt}): the stream broke or another provider took over]\n"
                ));
            }
        })
        .await
        .map_err(|e| anyhow!("the {}'s model call failed: {e}", agent.replace('_', " ")))?;
    let rest = std::mem::take(&mut *pending.lock());
    match file {
        Some(path) => flush(&format!("--- {path}\n{}\n", rest.trim_end())),
        None if !rest.is_empty() => flush(&rest),
        None => {}
    }
    if let Some(path) = file {
        fe.file_progress(&ctx.id, path, completion.usage.completion_tokens, true);
    }
    account(ctx, &completion);
    Ok(completion)
}

/// The repairs that need no model (`repairs.rs`), on a change about to land: its files fixed in place, and a
/// module they import changed too when it must export what they import. Each repair is said to the user.
pub(crate) fn repair(ctx: &RunContext, changes: &mut ChangeSet, subdir: Option<&str>) -> Result<()> {
    let mut files: std::collections::BTreeMap<String, String> =
        changes.changes.iter().map(|c| (c.path.to_string(), c.text.clone())).collect();
    let paths: Vec<String> = ctx.index.read().paths().map(str::to_owned).collect();
    let esm = read_file(ctx, &in_project(subdir, "package.json"))
        .and_then(|text| serde_json::from_str::<Value>(&text).ok())
        .is_some_and(|package| package["type"] == "module");
    let read = |p: &str| read_file(ctx, p);
    let done = crate::repairs::repair(&mut files, &crate::repairs::Project { read: &read, paths: &paths, esm });
    if done.is_empty() {
        return Ok(());
    }
    for (path, text) in files {
        match changes.changes.iter_mut().find(|c| c.path.as_str() == path) {
            Some(change) => change.text = text,
            None => changes.changes.push(samokoder_edits::FileChange { path: ctx.jail.check(&path)?, text }),
        }
    }
    let said: Vec<String> = done.iter().map(ToString::to_string).collect();
    ctx.frontend.log(&ctx.id, "code_monkey", &format!("repaired without a model: {}\n", said.join("; ")));
    Ok(())
}

/// Each changed file's content before (as the user holds it now) and after, kept as blobs.
pub(crate) fn touches(ctx: &RunContext, changes: &ChangeSet) -> Result<Vec<FileTouch>> {
    changes
        .changes
        .iter()
        .map(|c| {
            let before = read_file(ctx, c.path.as_str()).map(|text| ctx.store.put_blob(&text)).transpose()?;
            let after = Some(ctx.store.put_blob(&c.text)?);
            Ok(FileTouch { path: c.path.to_string(), before, after })
        })
        .collect::<Result<_, samokoder_store::StoreError>>()
        .context("keeping the files' contents for undo")
}

/// Applies a step's files as one change (all or nothing), then commits the step with what it touched.
/// `touched`: from [`touches`], taken before the change went out. Returns the step's index.
pub(crate) async fn apply_step(
    ctx: &RunContext,
    changes: &ChangeSet,
    touched: Vec<FileTouch>,
    agent: &str,
    task: Option<&str>,
    summary: String,
) -> Result<u32> {
    ctx.jail.validate(changes, false).map_err(|e| anyhow!("{e}; nothing was written"))?;
    match ctx.frontend.apply(&ctx.id, changes).await? {
        ApplyOutcome::Applied => {}
        ApplyOutcome::Refused { reason } => {
            bail!("the editor did not apply the changes ({reason}); nothing was written")
        }
    }
    let mut step = StepRecord::new(agent, summary, now_ms());
    step.files = changes.paths().map(|p| p.to_string()).collect();
    step.task = task.map(str::to_owned);
    step.touched = touched;
    ctx.store.append_step(&ctx.id.0, &step).context("committing the step")
}

/// Writes one of the run's own files (spec.md, plan.md) as a step, and shows it.
pub(crate) async fn write_run_file(ctx: &RunContext, agent: &str, path: &str, text: String) -> Result<()> {
    let rel = ctx.jail.check(path)?;
    let changes = ChangeSet::new(vec![samokoder_edits::FileChange { path: rel, text }]);
    let touched = touches(ctx, &changes)?;
    apply_step(ctx, &changes, touched, agent, None, format!("wrote {path}")).await?;
    ctx.frontend.show_file(&ctx.id, path);
    Ok(())
}

#[cfg(test)]
mod tests {
    use samokoder_llm::{ChatRequest, Message};

    #[test]
    fn each_reask_carries_the_refused_reply_and_samples_hotter_up_to_a_cap() {
        let mut request =
            ChatRequest { messages: vec![Message::user("fix it")], temperature: Some(0.2), ..Default::default() };
        let mut temperatures = vec![];
        for n in 0..3 {
            super::reask(&mut request, format!("reply {n}"), format!("refused {n}"));
            temperatures.push(request.temperature.unwrap());
        }
        assert_eq!(request.messages.len(), 7);
        assert_eq!(request.messages[5].content, "reply 2");
        assert_eq!(request.messages[6].content, "refused 2");
        assert!((temperatures[0] - 0.5).abs() < 1e-6 && (temperatures[1] - 0.8).abs() < 1e-6, "{temperatures:?}");
        assert!((temperatures[2] - 0.8).abs() < 1e-6, "{temperatures:?}");
        // A request already hotter than the cap (none is today) is not cooled.
        let mut hot = ChatRequest { temperature: Some(0.9), ..Default::default() };
        super::reask(&mut hot, String::new(), String::new());
        assert_eq!(hot.temperature, Some(0.9));
    }
}
