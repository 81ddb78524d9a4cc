//! Test support shared by the crates' tests and `tests/it`: multi-file fixtures, a scripted LLM that speaks
//! the real wire formats over real HTTP on 127.0.0.1, and an LSP client that drives the real binary over
//! stdio. Never a dependency of the product: only `[dev-dependencies]` name this crate.

mod fixture;
mod llm_server;
mod lsp_client;

pub use fixture::{Fixture, write_fixture};
pub use llm_server::{Reply, ScriptedLlm, RecordedRequest};
pub use lsp_client::{ApplyMode, ClientOptions, LspClient};

/// Whether tests run in CI (`CI=true`), where a missing dependency (Docker) is a failure, never a skip.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}
