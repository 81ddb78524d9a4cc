//! The run: what happens between "build me this" and a tested project. An orchestrator (a state machine
//! over the committed state) drives the agents, one module each under `agents/`; every agent's result is
//! committed to the store before the next begins, so a run resumes after any crash and undoes step by step.
//!
//! The pipeline talks to the world only through traits: a [`Frontend`] (the editor, or the terminal),
//! a model [`Router`], a [`Sandbox`] and a [`Store`]. It knows no LSP, no HTTP, no Docker, no database, so it
//! runs the same under an editor, headless, and in tests against a scripted model and a fake sandbox.
//! It must never write a file except through [`Frontend::apply`], after the jail has checked every path.

mod agents;
pub mod app;
pub mod edit_format;
mod edit_runs;
mod fix_loop;
pub mod frontend;
pub mod oracle;
pub mod orchestrator;
pub mod output;
pub mod plan_md;
pub mod questions_md;
pub mod repairs;
pub mod run;
pub mod state;
mod udiff;
pub mod undo;

pub use agents::implementer::{EditRequest, instruction_at};
pub use agents::troubleshooter::is_test as is_test_file;
pub use app::{AppPlan, app_plan, prepare_app};
pub use edit_runs::{fix, generate_tests, implement};
pub use frontend::{ApplyOutcome, Frontend, Level, Progress};
pub use orchestrator::{generate, resume};
pub use output::{ParsedFile, WHOLE_FILES_GBNF, parse_whole_files};
pub use run::{GenerateRequest, LiveStatus, RunContext, RunId, RunOutcome, RunSettings, StatusSnapshot, run_tests};
pub use undo::{UndoPlan, UndoRequest, plan_undo, undo};

pub use samokoder_llm::Router;
pub use samokoder_sandbox::Sandbox;
pub use samokoder_store::Store;
