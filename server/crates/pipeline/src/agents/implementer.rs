//! Implementer: `samokoder.implement` on a `TODO(samokoder): ...` / `samokoder: ...` comment or a selection.
//! The code writer gets the file, the lines to replace and the instruction, with the repo map, and answers
//! with SEARCH/REPLACE blocks; they are applied like a troubleshooter's (checked, re-asked with the reason,
//! never guessed) as one change of minimal edits, so the user's cursor and unsaved work elsewhere survive.
//! Then the project's tests run, and the fix loop follows if they fail.
//!
//! Commits: the step, then `tasks/t1` (nothing left to apply, not yet tested).

use anyhow::{Result, bail};
use samokoder_edits::ChangeSet;
use samokoder_llm::{AgentRole, ChatRequest};
use serde_json::json;

use super::troubleshooter::{Guard, prepare};
use super::{apply_step, messages, read_file, shared_vars_showing, stream_text, touches};
use crate::RunContext;
use crate::oracle::record::OracleRecord;
use crate::state::{RunState, TaskProgress, save_task};

pub(crate) const EDIT_RETRIES: usize = 2;
/// How [`prepare`]'s reason for a reply that changes no file begins.
const NOTHING: &str = "the reply changes no file";
const REPLY_TOKENS: u32 = 2048;

/// What `implement` and `fix` were asked (record `specs/request`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EditRequest {
    /// Workspace-relative.
    pub path: String,
    /// 1-based, inclusive.
    pub start_line: u32,
    pub end_line: u32,
    /// What to do: the comment's text, the user's words, or the diagnostic's message.
    pub instruction: String,
}

pub(crate) async fn run(ctx: &RunContext, state: &RunState, request: &EditRequest) -> Result<()> {
    let Some(current) = read_file(ctx, &request.path) else {
        bail!("{} does not exist: implement works on a file the workspace has", request.path)
    };
    let lines: Vec<&str> = current.lines().collect();
    let (start, end) = (request.start_line as usize, request.end_line as usize);
    if start == 0 || start > end || end > lines.len() {
        bail!("{} has {} lines; there is no line {start} to implement at", request.path, lines.len());
    }
    let target = lines[start - 1..end].join("\n");
    let shown = std::slice::from_ref(&request.path);
    let mut vars = shared_vars_showing(ctx, state, None, shown, shown)?;
    vars["path"] = json!(request.path);
    vars["line"] = json!(start);
    vars["instruction"] = json!(request.instruction);
    vars["current"] = json!(current);
    vars["target"] = json!(target);
    let mut chat = ChatRequest {
        messages: messages(ctx, &vars, "implementer/task")?,
        temperature: Some(0.2),
        max_tokens: Some(REPLY_TOKENS),
        ..Default::default()
    };
    let files = [(request.path.clone(), current.clone())];
    // What the user stated the code must do: the examples in its comments and the request, as checks.
    let mut record = OracleRecord::default();
    if ctx.settings.oracle {
        let stated = crate::oracle::for_code(&request.path, &current, start as u32, &request.instruction);
        record.examples = crate::oracle::record::settle(ctx, stated, &mut record).await?;
        if !record.examples.is_empty() {
            let n = record.examples.len();
            ctx.frontend.log(&ctx.id, "code_monkey", &format!("{n} stated example(s) will be checked\n"));
        }
        crate::oracle::record::save(ctx, &record)?;
    }
    let function = crate::oracle::definition_at(&request.path, &current, start as u32).map(|(name, _)| name);
    let javascript = [".js", ".mjs", ".cjs"].iter().any(|ext| request.path.ends_with(ext));
    let mut disputed = false;
    let (changes, note) = match function {
        Some(function) if ctx.settings.candidates > 1 && javascript => {
            match super::candidates::implement(ctx, &vars, &chat, &files, &function, &mut record).await? {
                Ok(chosen) => {
                    disputed = chosen.disputed;
                    (chosen.changes, Some(chosen.note))
                }
                // No draw applied: asked again from the first draw's reply, with its reason.
                Err((reply, why)) => {
                    super::reask(
                        &mut chat,
                        reply,
                        format!("That change cannot be applied: {why}\n\nReply again with the corrected changes."),
                    );
                    (asked_until_applied(ctx, &mut chat, &files, EDIT_RETRIES - 1).await?, None)
                }
            }
        }
        _ => (asked_until_applied(ctx, &mut chat, &files, EDIT_RETRIES).await?, None),
    };
    if ctx.settings.oracle {
        crate::oracle::record::save(ctx, &record)?;
    }
    let touched = touches(ctx, &changes)?;
    let paths: Vec<String> = changes.paths().map(|p| p.to_string()).collect();
    let summary = match &note {
        Some(note) => format!("implemented in {}: {note}", paths.join(", ")),
        None => format!("implemented in {}", paths.join(", ")),
    };
    if let Some(note) = &note {
        ctx.frontend.log(&ctx.id, "code_monkey", &format!("chose {note}\n"));
    }
    apply_step(ctx, &changes, touched, "code_monkey", Some("t1"), summary).await?;
    let mut progress = TaskProgress::new("t1");
    progress.disputed = disputed;
    progress.basis = request.instruction.clone();
    progress.steps = Some(Vec::new());
    progress.no_tests_ok = true;
    save_task(&*ctx.store, &ctx.id.0, &progress)?;
    Ok(())
}

/// The implementation, asked until it applies (`retries` re-asks with the reason); an error when it never does.
async fn asked_until_applied(
    ctx: &RunContext,
    chat: &mut ChatRequest,
    files: &[(String, String)],
    retries: usize,
) -> Result<ChangeSet> {
    match changes_from(ctx, chat, files, None, retries, |_| Ok(())).await? {
        Ok(changes) => Ok(changes),
        Err(why) => bail!("the implementation could not be applied after {} tries: {why}", retries + 1),
    }
}

/// The code writer's changes: asked until they can be applied (prepared as a troubleshooter's, then `check`),
/// each failure sent back with its exact reason, `retries` times; then the last reason. `form`: what to ask
/// for when a reply gives no change at all (by default, SEARCH/REPLACE blocks).
pub(crate) async fn changes_from(
    ctx: &RunContext,
    chat: &mut ChatRequest,
    files: &[(String, String)],
    form: Option<&str>,
    retries: usize,
    check: impl Fn(&ChangeSet) -> std::result::Result<(), String>,
) -> Result<std::result::Result<ChangeSet, String>> {
    let mut attempt = 0;
    loop {
        let completion = stream_text(ctx, AgentRole::CodeMonkey, chat, None).await?;
        let why = match prepare(ctx, &completion.text, None, Guard::Spec(""), files) {
            Ok(changes) => match check(&changes) {
                Ok(()) => return Ok(Ok(changes)),
                Err(why) => why,
            },
            Err(why) => match form {
                Some(form) if why.starts_with(NOTHING) => form.to_owned(),
                _ => why,
            },
        };
        if attempt == retries {
            return Ok(Err(why));
        }
        attempt += 1;
        ctx.frontend.log(&ctx.id, "code_monkey", &format!("\n[not applied: {why}; asking again]\n"));
        let why = format!("That change cannot be applied: {why}\n\nReply again with the corrected changes.");
        super::reask(chat, completion.text, why);
    }
}

/// The instruction a line holds: the text after `TODO(samokoder):` or `samokoder:` in a comment.
pub fn instruction_at(line: &str) -> Option<String> {
    let text = line.trim();
    let comment = ["//", "#", "/*", "*", "<!--", "--"].iter().find_map(|p| text.strip_prefix(p))?;
    let comment = comment.trim().trim_end_matches("*/").trim_end_matches("-->").trim();
    let rest = comment
        .strip_prefix("TODO(samokoder):")
        .or_else(|| comment.strip_prefix("todo(samokoder):"))
        .or_else(|| comment.strip_prefix("samokoder:"))?;
    let rest = rest.trim();
    (!rest.is_empty()).then(|| rest.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instructions_come_from_marked_comments_only() {
        assert_eq!(instruction_at("  // TODO(samokoder): return the sum").as_deref(), Some("return the sum"));
        assert_eq!(instruction_at("# samokoder: parse the flags").as_deref(), Some("parse the flags"));
        assert_eq!(instruction_at("/* samokoder: a cache */").as_deref(), Some("a cache"));
        assert_eq!(instruction_at("// TODO: not ours"), None);
        assert_eq!(instruction_at("let samokoder = 1; // samokoder: inline"), None);
        assert_eq!(instruction_at("// samokoder:   "), None);
    }
}
