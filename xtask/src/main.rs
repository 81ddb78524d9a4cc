//! `cargo xtask`: the project's own driver, so that the README's two commands work on a fresh machine.
//!
//! - `cargo xtask run [ARGS...]`: prepares what the run needs (cmake and libclang to build llama.cpp, a
//!   Docker daemon and a sandbox image to run the tests in), then `cargo run --release --features
//!   local-llm -- ARGS...`.
//! - `cargo xtask test [CARGO TEST ARGS...]`: prepares what the test suite needs (the above, busybox-static
//!   and the host's node and npm for the local test image, pip for the small model), then `cargo test --features
//!   local-llm`, then checks that the suite left no sandbox container behind.
//! - `cargo xtask lint`: `cargo fmt --check` and `cargo clippy -D warnings` with and without the embedded
//!   model.
//! - `cargo xtask setup [run|test]`: only the preparation.
//!
//! Each step checks for exactly the thing it needs (the `libclang.so` bindgen loads, the `dockerd` binary, a
//! daemon that answers), installs what is missing when it can (root and apt), and otherwise stops with the
//! one line to run. Everything is idempotent: a second call finds it all in place in about a second.

mod setup;
mod vscode;

use std::process::{Command, ExitCode};

use setup::{Need, Setup, fail};

const USAGE: &str = "usage: cargo xtask <command>

  run [ARGS...]       set up, then `cargo run --release --features local-llm -- ARGS...`
  test [ARGS...]      set up, then `cargo test --features local-llm ARGS...`
  lint                cargo fmt --check, cargo clippy -D warnings (with and without local-llm)
  setup [run|test]    only the set-up (default: test)";

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let command = args.next().unwrap_or_default();
    let rest: Vec<String> = args.collect();
    let result = match command.as_str() {
        "run" => run(&rest),
        "test" => test(&rest),
        "lint" => lint(),
        "setup" => match rest.first().map(String::as_str) {
            None | Some("test") => Setup::new().prepare(Need::Test).map(|_| ()),
            Some("run") => Setup::new().prepare(Need::Run).map(|_| ()),
            Some(other) => Err(format!("unknown set-up `{other}`: say `run` or `test`\n{USAGE}")),
        },
        "" | "help" | "-h" | "--help" => {
            eprintln!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        other => Err(format!("unknown command `{other}`\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> Result<(), String> {
    let prepared = Setup::new().prepare(Need::Run)?;
    // The user's directory stays the binary's (`--dir sum-app` is relative to it).
    let mut cargo = Command::new(cargo_bin());
    cargo.arg("run").arg("--manifest-path").arg(setup::workspace_root().join("Cargo.toml"));
    cargo.args(["--release", "--features", "local-llm", "--"]).args(args);
    for (key, value) in &prepared.env {
        cargo.env(key, value);
    }
    setup::exec(cargo, "cargo run")
}

fn test(args: &[String]) -> Result<(), String> {
    let setup = Setup::new();
    let prepared = setup.prepare(Need::Test)?;
    let before = setup::sandbox_containers()?;
    let mut cargo = cargo();
    cargo.args(["test", "--features", "local-llm"]);
    for (key, value) in &prepared.env {
        cargo.env(key, value);
    }
    if setup::in_ci() {
        cargo.arg("--locked");
    }
    cargo.args(args);
    setup::status(cargo, "cargo test")?;
    let left: Vec<String> = setup::sandbox_containers()?.into_iter().filter(|c| !before.contains(c)).collect();
    if !left.is_empty() {
        return fail(format!(
            "the test suite left sandbox containers behind: {} (docker ps -a --filter label=dev.samokoder)",
            left.join(", ")
        ));
    }
    eprintln!("xtask: tests passed and no sandbox container was left behind");
    Ok(())
}

fn lint() -> Result<(), String> {
    // clippy with local-llm compiles llama.cpp: it needs cmake and libclang like a run does.
    Setup::new().prepare(Need::Build)?;
    setup::status(
        {
            let mut c = cargo();
            c.args(["fmt", "--all", "--", "--check"]);
            c
        },
        "cargo fmt --check",
    )?;
    for features in [&[][..], &["--features", "local-llm"][..]] {
        let mut c = cargo();
        c.args(["clippy", "--all-targets"]).args(features);
        if setup::in_ci() {
            c.arg("--locked");
        }
        c.args(["--", "-D", "warnings"]);
        setup::status(c, "cargo clippy")?;
    }
    Ok(())
}

/// The cargo that runs us, at the workspace root.
fn cargo() -> Command {
    let mut c = Command::new(cargo_bin());
    c.current_dir(setup::workspace_root());
    c
}

fn cargo_bin() -> std::ffi::OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}
