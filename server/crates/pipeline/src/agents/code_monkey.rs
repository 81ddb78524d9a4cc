//! CodeMonkey: writes the files of one step, one model call per file and all of a step's files at once
//! (`gather`: the provider's limits decide how many talk at a time). Each reply is checked for syntax before
//! anything lands; a file with syntax errors is asked for once more with the errors, and if it is still
//! broken the step fails with them. The step's files are then applied as ONE change, after the jail checked
//! every path. A step without files (a simple request) is written whole in one call.
//!
//! Commits: each file as it is written (`drafts/...`, so a resumed run does not ask for it again), the
//! files' contents before the change (`tasks/<id>.applying`), the step with what it touched, then the task's
//! progress; then the step's commands run in the sandbox.

use std::collections::BTreeMap;

use anyhow::{Result, anyhow, bail};
use samokoder_context::{Lang, syntax_issues};
use samokoder_edits::{ChangeSet, FileChange};
use samokoder_llm::{AgentRole, ChatRequest, FinishReason, gather};
use samokoder_sandbox::RunRequest;
use samokoder_store::{RecordKind, get_typed, put_typed};
use serde_json::{Value, json};

use super::checks::{Checks, introduced, refusal};
use super::{apply_step, in_project, messages, read_file, shared_vars, stream_text, touches};
use crate::output::{ONE_FILE_GBNF, WHOLE_FILES_GBNF, parse_whole_files};
use crate::state::{DevStep, Draft, FileInstruction, PlanTask, RunState, TaskProgress, draft_key, save_task};
use crate::{Level, RunContext};

/// A whole small project in one reply is well under this; one file, under [`FILE_TOKENS`]. A model that
/// goes on past them is looping (on 2 cores, every 1,000 tokens of the embedded model cost about 35 s).
const WHOLE_TASK_TOKENS: u32 = 3072;
const FILE_TOKENS: u32 = 2048;
/// An existing file longer than this is changed by blocks; a shorter one is written whole (a small file's
/// rewrite costs little, and small models rewrite small files more reliably than they quote them).
const EDIT_LINES: usize = 40;
const COMMAND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

pub(crate) async fn run(
    ctx: &RunContext,
    state: &RunState,
    task: &PlanTask,
    mut progress: TaskProgress,
    subdir: Option<&str>,
) -> Result<()> {
    let id = progress.id.clone();
    let index = progress.applied;
    let Some(step) = progress.steps.as_ref().and_then(|s| s.get(index)).cloned() else {
        bail!("task {id} has no step {}", index + 1)
    };
    let files = if step.files.is_empty() && ctx.settings.candidates > 1 {
        let request = whole_task_request(ctx, state, task, subdir)?;
        let command = super::executor::test_command(ctx, state, subdir);
        super::whole_candidates::whole_task(ctx, &request, &command, subdir).await?
    } else if step.files.is_empty() {
        whole_task(ctx, state, task, subdir).await?
    } else {
        each_file(ctx, state, task, &id, index, &step, subdir).await?
    };
    let mut changes = jailed(ctx, files, subdir)?;
    super::repair(ctx, &mut changes, subdir)?;
    ctx.jail.validate(&changes, false).map_err(|e| anyhow!("{e}; nothing was written"))?;

    // What the files held before: committed before the change goes out.
    let touched = match progress.applying.take() {
        Some(committed) => committed,
        None => touches(ctx, &changes)?,
    };
    progress.applying = Some(touched.clone());
    save_task(&*ctx.store, &ctx.id.0, &progress)?;
    let written: Vec<String> = changes.paths().map(|p| p.to_string()).collect();
    let checks = Checks::for_write(ctx, &written, subdir);
    let before = checks.run(ctx).await?;
    let summary = format!("wrote {}", written.join(", "));
    apply_step(ctx, &changes, touched, "code_monkey", Some(&id), summary).await?;
    // Diagnostics follow every write: what Node refuses to load, or tsc to type, goes back to the writer now,
    // not to the tests.
    let broken = introduced(&before, &checks.run(ctx).await?);
    if !broken.is_empty() {
        repair(ctx, state, &id, &broken, subdir).await?;
    }
    progress.applied = index + 1;
    progress.applying = None;
    save_task(&*ctx.store, &ctx.id.0, &progress)?;
    for (key, _) in ctx.store.records(RecordKind::Draft, &ctx.id.0)? {
        if key.starts_with(&format!("{id}/{index:03}/")) {
            ctx.store.delete_record(RecordKind::Draft, &ctx.id.0, &key)?;
        }
    }
    ctx.frontend.log(&ctx.id, "code_monkey", &format!("{id}: wrote {} file(s)\n", changes.changes.len()));
    for command in step.commands.iter().map(|c| c.trim()).filter(|c| !c.is_empty()) {
        run_command(ctx, command, subdir).await?;
    }
    Ok(())
}

/// One more call per file a check refused, with the error; what parses is applied as a correction step. What
/// is still broken after it is left to the tests and the fix loop.
async fn repair(
    ctx: &RunContext,
    state: &RunState,
    task: &str,
    broken: &[(String, String)],
    subdir: Option<&str>,
) -> Result<()> {
    let mut changes = ChangeSet::default();
    for (path, error) in broken {
        let checker = refusal(std::slice::from_ref(&(path.clone(), error.clone())), "it");
        ctx.frontend.log(&ctx.id, "code_monkey", &format!("{path}: {checker}:\n{error}\nasking again\n"));
        let mut vars = shared_vars(ctx, state, subdir, std::slice::from_ref(path))?;
        vars["path"] = json!(path);
        vars["error"] = json!(error);
        vars["checker"] = json!(checker);
        vars["current"] = json!(read_file(ctx, path).unwrap_or_default());
        let request = ChatRequest {
            messages: messages(ctx, &vars, "code_monkey/repair")?,
            temperature: Some(0.2),
            max_tokens: Some(FILE_TOKENS),
            grammar: Some(ONE_FILE_GBNF.to_owned()),
            ..Default::default()
        };
        let completion = stream_text(ctx, AgentRole::CodeMonkey, &request, Some(path)).await?;
        match single_file(&completion.text, path) {
            Some(text) if syntax_problem(path, &text).is_none() => {
                changes.changes.push(FileChange { path: ctx.jail.check(path)?, text });
            }
            _ => ctx.frontend.log(
                &ctx.id,
                "code_monkey",
                &format!("{path}: the repair did not parse; left to the tests\n"),
            ),
        }
    }
    if changes.is_empty() {
        return Ok(());
    }
    let touched = touches(ctx, &changes)?;
    let summary = format!("repaired {}", changes.paths().map(|p| p.as_str()).collect::<Vec<_>>().join(", "));
    apply_step(ctx, &changes, touched, "code_monkey", Some(task), summary).await?;
    Ok(())
}

/// The files as one change, every path checked by the jail first: one path outside refuses them all.
fn jailed(ctx: &RunContext, files: Vec<(String, String)>, subdir: Option<&str>) -> Result<ChangeSet> {
    let mut changes = ChangeSet::default();
    let mut refused = Vec::new();
    for (path, text) in files {
        match ctx.jail.check(&in_project(subdir, &path)) {
            Ok(path) => changes.changes.push(FileChange { path, text }),
            Err(e) => refused.push(e.to_string()),
        }
    }
    if !refused.is_empty() {
        bail!("{}; nothing was written", refused.join("; "));
    }
    Ok(changes)
}

/// `samokoder generate --one-shot`: the description written as whole files in one call, applied as one
/// step; no spec, no plan, no tests, no fix loop (the baseline the team is measured against).
pub(crate) async fn one_shot(ctx: &RunContext, description: &str, subdir: Option<&str>) -> Result<Vec<String>> {
    let task = PlanTask {
        id: Some("t1".into()),
        epic: String::new(),
        title: description.trim().to_owned(),
        description: String::new(),
        test: String::new(),
        done: false,
        line: 0,
    };
    let files = whole_task(ctx, &RunState::default(), &task, subdir).await?;
    let changes = jailed(ctx, files, subdir)?;
    let touched = touches(ctx, &changes)?;
    let written: Vec<String> = changes.paths().map(|p| p.to_string()).collect();
    apply_step(ctx, &changes, touched, "code_monkey", Some("t1"), format!("wrote {}", written.join(", "))).await?;
    Ok(written)
}

/// A simple request's one step: the whole task in one reply of whole files.
async fn whole_task(
    ctx: &RunContext,
    state: &RunState,
    task: &PlanTask,
    subdir: Option<&str>,
) -> Result<Vec<(String, String)>> {
    let request = whole_task_request(ctx, state, task, subdir)?;
    let completion = stream_text(ctx, AgentRole::CodeMonkey, &request, None).await?;
    warn_if_cut(ctx, &completion.finish_reason, &completion.provider, &completion.model);
    whole_files(ctx, &completion.text).map_err(|e| anyhow!("{e}"))
}

/// The code writer's request for a whole task in one reply.
pub(crate) fn whole_task_request(
    ctx: &RunContext,
    state: &RunState,
    task: &PlanTask,
    subdir: Option<&str>,
) -> Result<ChatRequest> {
    let mut vars = shared_vars(ctx, state, subdir, &[])?;
    let package = in_project(subdir, "package.json");
    vars["task"] = json!({"title": task.title, "description": task.description});
    vars["has_package_json"] = json!(read_file(ctx, &package).is_some());
    Ok(ChatRequest {
        messages: messages(ctx, &vars, "code_monkey/task")?,
        temperature: Some(0.2),
        max_tokens: Some(WHOLE_TASK_TOKENS),
        grammar: Some(WHOLE_FILES_GBNF.to_owned()),
        ..Default::default()
    })
}

/// The files of a whole-task reply (syntax problems logged, left to the checks after the write); `Err` says
/// why there are none.
pub(crate) fn whole_files(ctx: &RunContext, reply: &str) -> Result<Vec<(String, String)>, String> {
    let parsed = parse_whole_files(reply);
    if parsed.is_empty() {
        let start: String = reply.chars().take(200).collect();
        return Err(format!(
            "the model's reply named no files in the expected format (a path alone on a line, then a fenced \
             block); nothing was written. Its reply began: {start:?}"
        ));
    }
    let mut files = Vec::new();
    for file in parsed {
        if let Some(issue) = syntax_problem(&file.path, &file.content) {
            ctx.frontend.log(&ctx.id, "code_monkey", &format!("warning: {}: {issue}\n", file.path));
        }
        files.push((file.path, file.content));
    }
    Ok(files)
}

/// Every file of a step, written at the same time; drafts committed as they come.
async fn each_file(
    ctx: &RunContext,
    state: &RunState,
    task: &PlanTask,
    id: &str,
    index: usize,
    step: &DevStep,
    subdir: Option<&str>,
) -> Result<Vec<(String, String)>> {
    let focus: Vec<String> = step.files.iter().map(|f| f.path.clone()).collect();
    let base = shared_vars(ctx, state, subdir, &focus)?;
    let futures: Vec<_> = step
        .files
        .iter()
        .map(|file| {
            let base = &base;
            async move {
                let key = draft_key(id, index, &file.path);
                let written = async {
                    if let Some(draft) = get_typed::<Draft>(&*ctx.store, RecordKind::Draft, &ctx.id.0, &key)? {
                        ctx.frontend.file_progress(&ctx.id, &file.path, 0, true);
                        return Ok(draft);
                    }
                    let content = write_one(ctx, base, task, step, file, subdir).await?;
                    let draft = Draft { path: file.path.clone(), content };
                    put_typed(&*ctx.store, RecordKind::Draft, &ctx.id.0, &key, &draft)?;
                    anyhow::Ok(draft)
                };
                // gather's own error is cancellation; the file's are inside.
                Ok::<_, samokoder_llm::LlmError>(written.await)
            }
        })
        .collect();
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for (file, result) in step.files.iter().zip(gather(futures, &ctx.cancel).await) {
        match result {
            Ok(Ok(draft)) => files.push((draft.path, draft.content)),
            Ok(Err(e)) => errors.push(format!("{}: {e:#}", file.path)),
            Err(e) => errors.push(format!("{}: {e}", file.path)),
        }
    }
    if !errors.is_empty() {
        bail!("the step's files could not all be written, so none was: {}", errors.join("; "));
    }
    Ok(files)
}

/// One file: asked for, parsed, checked for syntax (asked once more with the errors).
async fn write_one(
    ctx: &RunContext,
    base: &Value,
    task: &PlanTask,
    step: &DevStep,
    file: &FileInstruction,
    subdir: Option<&str>,
) -> Result<String> {
    let full = in_project(subdir, &file.path);
    let siblings: Vec<&FileInstruction> = step.files.iter().filter(|f| f.path != file.path).collect();
    let mut vars = base.clone();
    vars["path"] = json!(file.path);
    vars["instruction"] = json!(file.instruction);
    vars["task"] = json!({"title": task.title});
    vars["step"] = json!(step.description);
    vars["siblings"] = json!(siblings);
    let current = read_file(ctx, &full);
    vars["current"] = json!(current.clone().unwrap_or_default());
    // An existing file of some length is changed by SEARCH/REPLACE blocks, not written again whole: the reply
    // is the change, not the file (a whole 150-line file for a 3-line change is most of the decoding).
    if let Some(current) =
        current.filter(|c| c.lines().count() > EDIT_LINES && !super::troubleshooter::is_test(&file.path))
    {
        match edit_one(ctx, &vars, &file.path, &current, subdir).await? {
            Ok(text) => return Ok(text),
            Err(why) => ctx.frontend.log(
                &ctx.id,
                "code_monkey",
                &format!("{}: the blocks could not be applied ({why}); writing it whole instead\n", file.path),
            ),
        }
    }
    let mut request = ChatRequest {
        messages: messages(ctx, &vars, "code_monkey/file")?,
        temperature: Some(0.2),
        max_tokens: Some(FILE_TOKENS),
        grammar: Some(ONE_FILE_GBNF.to_owned()),
        ..Default::default()
    };
    for attempt in 0..2 {
        let completion = stream_text(ctx, AgentRole::CodeMonkey, &request, Some(&file.path)).await?;
        warn_if_cut(ctx, &completion.finish_reason, &completion.provider, &completion.model);
        let Some(content) = single_file(&completion.text, &file.path).filter(|c| !c.trim().is_empty()) else {
            if attempt == 1 {
                bail!("the reply held no file content (one fenced code block was expected)");
            }
            let why = format!(
                "That reply holds no content for {}. Output its complete content as one fenced code block.",
                file.path
            );
            super::reask(&mut request, completion.text, why);
            continue;
        };
        match syntax_problem(&file.path, &content) {
            None => return Ok(content),
            Some(issue) if attempt == 1 => bail!("it still has a syntax error after a second try: {issue}"),
            Some(issue) => {
                ctx.frontend.log(&ctx.id, "code_monkey", &format!("{}: {issue}; asking again\n", file.path));
                let why =
                    format!("{} has a syntax error: {issue}. Output the corrected whole file the same way.", file.path);
                super::reask(&mut request, completion.text, why);
            }
        }
    }
    unreachable!("the loop returns or fails on its second attempt")
}

/// An existing file changed by SEARCH/REPLACE blocks (checked and applied as any reply's, asked once more
/// with the reason): its new content, or why the blocks could not be applied.
async fn edit_one(
    ctx: &RunContext,
    vars: &Value,
    path: &str,
    current: &str,
    subdir: Option<&str>,
) -> Result<std::result::Result<String, String>> {
    let mut request = ChatRequest {
        messages: messages(ctx, vars, "code_monkey/edit")?,
        temperature: Some(0.2),
        max_tokens: Some(FILE_TOKENS),
        ..Default::default()
    };
    let shown = [(path.to_owned(), current.to_owned())];
    let full = in_project(subdir, path);
    let mut why = String::new();
    for attempt in 0..2 {
        let completion = stream_text(ctx, AgentRole::CodeMonkey, &request, Some(path)).await?;
        why = match super::prepare::prepare(ctx, &completion.text, subdir, super::prepare::Guard::Spec(""), &shown) {
            // The file's new text (a repair of another file rides along with the step's own repairs).
            Ok(changes) => match changes.changes.iter().find(|c| c.path.as_str() == full) {
                Some(change) => return Ok(Ok(change.text.clone())),
                None => format!("the blocks change other files, not {path}"),
            },
            Err(why) => why,
        };
        if attempt == 0 {
            super::reask(
                &mut request,
                completion.text,
                format!("Those blocks cannot be applied: {why}\n\nReply again with the corrected blocks."),
            );
        }
    }
    Ok(Err(why))
}

/// The content of `path` in a reply: the reply's only fenced block (what the call asks for), else the block
/// the reply names `path`.
pub(crate) fn single_file(reply: &str, path: &str) -> Option<String> {
    let mut blocks = reply.split("```").skip(1).step_by(2);
    if let Some(block) = blocks.next()
        && blocks.next().is_none()
    {
        let body = block.split_once('\n').map(|(_, b)| b).unwrap_or("");
        return (!body.trim().is_empty()).then(|| body.to_owned());
    }
    let wanted = path.trim_start_matches("./");
    parse_whole_files(reply).into_iter().find(|f| f.path.trim_start_matches("./") == wanted).map(|f| f.content)
}

/// The first syntax error in a file, as `line N: message`.
pub(crate) fn syntax_problem(path: &str, text: &str) -> Option<String> {
    if path.ends_with(".json") {
        return serde_json::from_str::<Value>(text).err().map(|e| format!("line {}: {e}", e.line()));
    }
    let lang = Lang::from_path(path)?;
    let issue = syntax_issues(lang, text).into_iter().next()?;
    let line = text[..issue.range.start.min(text.len())].matches('\n').count() + 1;
    Some(format!("line {line}: {}", issue.message))
}

pub(crate) fn warn_if_cut(ctx: &RunContext, finish: &FinishReason, provider: &str, model: &str) {
    let why = match finish {
        FinishReason::Stop => return,
        FinishReason::Length => "it reached the token limit".to_owned(),
        FinishReason::ContentFilter => "the provider's content filter stopped it".to_owned(),
        FinishReason::Other(why) => why.clone(),
    };
    ctx.frontend.log(&ctx.id, "code_monkey", &format!("\n[stopped: {why}]\n"));
    ctx.frontend.message(
        Level::Warning,
        &format!("Samokoder: the reply of {provider}/{model} did not end by itself ({why}); a file it had not finished is left out"),
    );
}

/// A command of the step, in the warm sandbox without network; its output goes to the log.
async fn run_command(ctx: &RunContext, command: &str, subdir: Option<&str>) -> Result<()> {
    let overlay: BTreeMap<String, String> = ctx.frontend.overlay();
    let mut request = RunRequest::new(ctx.jail.root(), &overlay, command, COMMAND_TIMEOUT);
    request.cwd = subdir;
    request.run_id = Some(&ctx.id.0);
    ctx.frontend.log(&ctx.id, "code_monkey", &format!("$ {command}\n"));
    let result = super::run_logged(ctx, request).await?;
    if !result.success() {
        ctx.frontend.log(&ctx.id, "code_monkey", &format!("`{command}` exited with {:?}\n", result.exit_code));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_files_content_is_found_in_the_forms_models_use() {
        let bare = "```js\nexport const b = 2;\n```\n";
        assert_eq!(single_file(bare, "src/b.js").as_deref(), Some("export const b = 2;\n"));
        let named = "src/a.js\n```js\nexport const a = 1;\n```\n";
        assert_eq!(single_file(named, "./src/a.js").as_deref(), Some("export const a = 1;\n"));
        let two = "src/a.js\n```js\na\n```\nsrc/b.js\n```js\nb\n```\n";
        assert_eq!(single_file(two, "src/b.js").as_deref(), Some("b\n"), "the named one of several");
        let anonymous = "```js\nx\n```\n```js\ny\n```\n";
        assert_eq!(single_file(anonymous, "src/c.js"), None, "two anonymous blocks: which one?");
        assert_eq!(single_file("```js\n\n```\n", "src/c.js"), None, "an empty block is no file");
        assert_eq!(single_file("no code at all", "src/c.js"), None);
    }

    #[test]
    fn syntax_errors_are_located() {
        assert_eq!(syntax_problem("src/a.js", "export const a = 1;\n"), None);
        let broken = syntax_problem("src/a.js", "export function f() {\n  return (1;\n}\n").unwrap();
        assert!(broken.starts_with("line 2:"), "{broken}");
        assert!(syntax_problem("package.json", "{\"a\": 1,}").unwrap().starts_with("line 1:"));
        assert_eq!(syntax_problem("README.md", "# anything ("), None);
    }
}
