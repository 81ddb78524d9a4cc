//! SpecWriter: the description becomes `.samokoder/spec.md`. It rates the request's complexity; for one
//! that is not simple it may ask up to five clarifying questions through `Frontend::ask` (each answer
//! committed as it comes), then writes the spec again with the answers. An editor that cannot ask gets the
//! questions as `.samokoder/questions.md` and the run pauses until "submit answers" (`questions_md`). With no
//! one to answer (a terminal with `--yes`), it asks nothing and writes its decisions as assumptions.
//!
//! Commits: the first reply (`spec/analysis`), each question and answer (`questions/<n>`), then the spec
//! (`spec/spec`) and spec.md as a step.

use anyhow::Result;
use samokoder_llm::AgentRole;
use samokoder_store::{RecordKind, get_typed, put_typed};
use serde_json::json;

use super::{ask_json, messages, read_file, run_file, shared_vars, write_run_file};
use crate::RunContext;
use crate::questions_md::{self, QUESTIONS_FILE};
use crate::state::{Complexity, Question, RunState, Spec, SpecReply};

const MAX_QUESTIONS: usize = 5;
const REPLY_TOKENS: u32 = 1024;

/// Writes the spec; `Some(why)` when the run must wait for answers in questions.md instead.
pub(crate) async fn run(
    ctx: &RunContext,
    state: &RunState,
    description: &str,
    subdir: Option<&str>,
) -> Result<Option<String>> {
    let fe = &ctx.frontend;
    let run = ctx.id.0.as_str();
    let mut vars = shared_vars(ctx, state, subdir, &[])?;
    vars["description"] = json!(description.trim());
    vars["can_ask"] = json!(fe.can_ask() || fe.can_answer_in_file());

    let analysis: SpecReply = match get_typed(&*ctx.store, RecordKind::Spec, run, "analysis")? {
        Some(committed) => committed,
        None => {
            fe.log(&ctx.id, "spec_writer", "reading the request\n");
            let mut reply: SpecReply = ask_json(
                ctx,
                AgentRole::SpecWriter,
                messages(ctx, &vars, "spec_writer/task")?,
                REPLY_TOKENS,
                |_: &SpecReply| Ok(()),
            )
            .await?;
            summarised(&mut reply, description);
            put_typed(&*ctx.store, RecordKind::Spec, run, "analysis", &reply)?;
            reply
        }
    };

    let mut decisions: Vec<(String, String)> = Vec::new();
    let mut unanswered: Vec<String> = Vec::new();
    if analysis.complexity != Complexity::Simple {
        // Answers the user wrote in questions.md count wherever the run resumes (an editor, a terminal).
        let file = run_file(subdir, QUESTIONS_FILE);
        let in_file = read_file(ctx, &file).filter(|text| questions_md::is_for(text, run));
        let count = analysis.questions.len().min(MAX_QUESTIONS);
        let from_file = in_file.as_deref().map(|text| questions_md::answers(text, count)).unwrap_or_default();
        let mut questions = Vec::new();
        // Asked one by one while the editor answers; one left unanswered (dismissed, or no answer in time) sends
        // it and the rest to the file form, where the editor can answer them.
        let mut asking = fe.can_ask();
        for (i, draft) in analysis.questions.iter().take(MAX_QUESTIONS).enumerate() {
            let key = format!("{i:02}");
            let mut question: Question = get_typed(&*ctx.store, RecordKind::Question, run, &key)?.unwrap_or(Question {
                question: draft.question.trim().to_owned(),
                suggestions: draft.suggestions.clone(),
                answer: None,
            });
            if question.answer.is_none()
                && let Some(answer) = from_file.get(i).cloned().flatten()
            {
                question.answer = Some(answer);
                put_typed(&*ctx.store, RecordKind::Question, run, &key, &question)?;
            }
            if question.answer.is_none() && asking {
                put_typed(&*ctx.store, RecordKind::Question, run, &key, &question)?;
                question.answer = fe.ask(&ctx.id, &question.question, &question.suggestions).await?;
                match question.answer {
                    Some(_) => put_typed(&*ctx.store, RecordKind::Question, run, &key, &question)?,
                    None => asking = !fe.can_answer_in_file(),
                }
            }
            questions.push(question);
        }
        let missing: Vec<String> = questions
            .iter()
            .enumerate()
            .filter(|(_, q)| q.answer.is_none())
            .map(|(i, _)| (i + 1).to_string())
            .collect();
        if !missing.is_empty() && fe.can_answer_in_file() {
            if in_file.is_some() {
                ctx.frontend.show_file(&ctx.id, &file);
                return Ok(Some(format!(
                    "question(s) {} in {file} have no answer yet: write one after `Answer:`, then pick \"Samokoder: \
                     submit answers\" again (nothing was guessed)",
                    missing.join(", ")
                )));
            }
            for (i, question) in questions.iter().enumerate() {
                put_typed(&*ctx.store, RecordKind::Question, run, &format!("{i:02}"), question)?;
            }
            write_run_file(ctx, "spec_writer", &file, questions_md::render(run, &questions)).await?;
            return Ok(Some(format!(
                "{} question(s) wait in {file}: answer them there, then pick \"Samokoder: submit answers\" on it",
                questions.len()
            )));
        }
        for question in questions {
            match question.answer {
                Some(answer) if !answer.trim().is_empty() => {
                    decisions.push((question.question, answer.trim().to_owned()))
                }
                _ => unanswered.push(match question.suggestions.first() {
                    Some(first) => format!("{} Assumed: {first}.", question.question),
                    None => format!("{} Left open.", question.question),
                }),
            }
        }
    }

    let mut reply = if decisions.is_empty() {
        analysis.clone()
    } else {
        fe.log(&ctx.id, "spec_writer", "writing the spec with your answers\n");
        vars["draft"] = json!(Spec::from_reply(description, analysis.clone(), vec![]).markdown());
        vars["decisions"] = json!(decisions);
        ask_json(
            ctx,
            AgentRole::SpecWriter,
            messages(ctx, &vars, "spec_writer/revise")?,
            REPLY_TOKENS,
            |_: &SpecReply| Ok(()),
        )
        .await
        .map(|mut r: SpecReply| {
            summarised(&mut r, description);
            r
        })?
    };
    // A revision keeps the complexity the questions were asked for.
    reply.complexity = analysis.complexity;
    reply.assumptions.extend(unanswered);
    let drafts = std::mem::take(&mut reply.examples);
    let mut spec = Spec::from_reply(description, reply, decisions);
    if ctx.settings.oracle {
        // The examples the request states are the run's checks, and the spec lists them.
        let mut drafts = drafts;
        drafts.extend(analysis.examples.iter().cloned());
        let record = crate::oracle::record::from_description(ctx, description, &drafts).await?;
        spec.examples =
            record.examples.iter().map(|e| format!("`{}` ({}: \"{}\")", e.statement(), e.origin, e.quote)).collect();
        spec.assumptions.extend(record.assumptions.iter().cloned());
    }
    put_typed(&*ctx.store, RecordKind::Spec, run, "spec", &spec)?;
    write_run_file(ctx, "spec_writer", &run_file(subdir, "spec.md"), spec.markdown()).await?;
    fe.log(
        &ctx.id,
        "spec_writer",
        &format!("a {} request: {} features\n", spec.complexity.as_str(), spec.features.len()),
    );
    Ok(None)
}

/// A reply with an empty summary (SmolLM2 135M gives one, every time, on the README's request) keeps the
/// user's own words as its summary rather than failing the run: the request is the best summary there is.
fn summarised(reply: &mut SpecReply, description: &str) {
    if reply.summary.trim().is_empty() {
        reply.summary = description.split_whitespace().collect::<Vec<_>>().join(" ");
    }
}
