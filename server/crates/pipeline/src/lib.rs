//! The run: what happens between "build me this" and a tested project. An orchestrator drives agents,
//! each one prompt and one parse; every step is recorded in the store before the next begins.
//!
//! The pipeline talks to the world only through traits: a [`Frontend`] (the editor, or the terminal),
//! a model [`Router`], a [`Sandbox`] and a [`Store`]. It knows no LSP, no HTTP, no Docker, no database, so it
//! runs the same under an editor, headless, and in tests against a scripted model and a fake sandbox.
//! It must never write a file except through [`Frontend::apply`], after the jail has checked every path.

pub mod frontend;
pub mod output;
pub mod run;

pub use frontend::{ApplyOutcome, Frontend, Level, Progress};
pub use output::{ParsedFile, WHOLE_FILES_GBNF, parse_whole_files};
pub use run::{GenerateRequest, RunContext, RunId, RunOutcome, RunSettings, generate, run_tests};

pub use samokoder_llm::Router;
pub use samokoder_sandbox::Sandbox;
pub use samokoder_store::Store;
