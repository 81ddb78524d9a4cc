//! The one integration-test binary: it spawns the real `samokoder`, speaks LSP over its stdio, serves a
//! scripted OpenAI-compatible model over real HTTP on 127.0.0.1, and runs tests in the real Docker daemon.

mod support;

mod app;
mod architecture;
mod editors;

mod headless;
mod helix;
mod implement_fix;
mod lifecycle;
mod model;
mod pipeline;
mod review;
mod run;
mod surface;
mod symbols;
mod sync;
mod templates;
mod vscode;
