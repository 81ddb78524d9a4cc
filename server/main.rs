//! `samokoder`: the language server (the default), and the same engine headless from a terminal.

use std::io::Write;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(version, about = "Turns a plain-language description into a working, tested application")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the Language Server Protocol over stdio (the default).
    Lsp,
    /// Build a project from a description in DIR: spec, architecture, plan, code, tests.
    Generate {
        description: String,
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        /// Show the model's text and the tests' output as they stream.
        #[arg(long, short)]
        verbose: bool,
        /// Ask no questions: the spec writer writes its assumptions instead.
        #[arg(long, short)]
        yes: bool,
        /// One model call writes the files; no spec, no plan, no tests (a baseline).
        #[arg(long)]
        one_shot: bool,
        /// Build on this template instead of the architect's choice (`samokoder templates` lists them).
        #[arg(long, short)]
        template: Option<String>,
        /// A template option, NAME=VALUE (repeatable), e.g. `--option database=mongoose`.
        #[arg(long = "option", short = 'o', value_name = "NAME=VALUE", requires = "template")]
        options: Vec<String>,
    },
    /// Write only the spec (.samokoder/spec.md) for a description.
    Spec {
        description: String,
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        #[arg(long, short)]
        verbose: bool,
        #[arg(long, short)]
        yes: bool,
    },
    /// Continue a run that stopped (killed, cancelled, paused) from its last committed step.
    Resume {
        /// The run's id (`samokoder runs`); the newest unfinished run when omitted.
        run: Option<String>,
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        #[arg(long, short)]
        verbose: bool,
        #[arg(long, short)]
        yes: bool,
    },
    /// Implement a `TODO(samokoder): ...` comment (or the given instruction) at FILE:LINE, then test and fix.
    Implement {
        /// FILE:LINE or FILE:LINE-LINE.
        at: String,
        #[arg(long)]
        instruction: Option<String>,
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        #[arg(long, short)]
        verbose: bool,
    },
    /// Fix the failing tests, or the problem at FILE:LINE (described by --message), until the tests pass.
    Fix {
        /// FILE:LINE of a diagnostic; the failing tests when omitted.
        at: Option<String>,
        #[arg(long)]
        message: Option<String>,
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        #[arg(long, short)]
        verbose: bool,
    },
    /// Write tests for FILE in a new test file, run them, and correct them until they pass (FILE is not changed).
    GenerateTests {
        file: String,
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        #[arg(long, short)]
        verbose: bool,
    },
    /// Put the workspace back to how it was before a run (or before one of its steps).
    Undo {
        run: String,
        /// Undo this step and every later one (`samokoder runs` shows a run; steps count from 0).
        #[arg(long)]
        step: Option<u32>,
        /// Overwrite files changed since the run wrote them.
        #[arg(long)]
        force: bool,
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
    /// The runs of DIR, newest first, with status, tokens and cost; with a run's id, its steps and model calls.
    Runs {
        run: Option<String>,
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
    /// Start the project's app in the sandbox (its template's dev command, or its dev/start script) and
    /// serve it on a URL on 127.0.0.1, in step with the files on disk, until Ctrl-C.
    Run {
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
    /// Run the project's tests in the sandbox and print the failures.
    Test {
        #[arg(default_value = ".")]
        dir: PathBuf,
        #[arg(long, short)]
        verbose: bool,
    },
    /// Print the repo map of DIR: the files and signatures the agents see, ranked, within a token budget.
    Map {
        #[arg(default_value = ".")]
        dir: PathBuf,
        #[arg(long, default_value_t = 2048)]
        tokens: usize,
        /// A workspace-relative file the map is ranked toward (repeatable).
        #[arg(long)]
        focus: Vec<String>,
    },
    /// List the project templates: what each is for, its options and its commands.
    Templates,
    /// Manage the embedded model.
    #[command(subcommand)]
    Model(ModelCommand),
    /// Check the configuration, the LLM provider, Docker and the sandbox image.
    Doctor {
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
}

#[derive(Subcommand)]
enum ModelCommand {
    /// Download a model for the embedded provider into the cache, verify it, and print its path.
    Fetch {
        /// 1.5b (Qwen2.5-Coder-1.5B-Instruct, the default), 0.5b (faster, weaker), or smollm2 (tests).
        #[arg(long, default_value = "1.5b")]
        size: String,
    },
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    samokoder_engine::logging::init();
    let code = match cli.command.unwrap_or(Command::Lsp) {
        Command::Lsp => match samokoder_lsp::serve_stdio().await {
            samokoder_lsp::Ending::Clean => 0,
            samokoder_lsp::Ending::Abrupt => 1,
        },
        Command::Generate { description, dir, verbose, yes, one_shot, template, options } => {
            let how = samokoder_engine::GenerateHow { verbose, yes, one_shot, template, options };
            report(samokoder_engine::generate_command(&description, &dir, how).await)
        }
        Command::Spec { description, dir, verbose, yes } => {
            report(samokoder_engine::spec_command(&description, &dir, verbose, yes).await)
        }
        Command::Resume { run, dir, verbose, yes } => {
            report(samokoder_engine::resume_command(&dir, run.as_deref(), verbose, yes).await)
        }
        Command::Undo { run, step, force, dir } => {
            report(samokoder_engine::undo_command(&dir, &run, step, force).await)
        }
        Command::Implement { at, instruction, dir, verbose } => {
            report(samokoder_engine::implement_command(&dir, &at, instruction.as_deref(), verbose).await)
        }
        Command::Fix { at, message, dir, verbose } => {
            report(samokoder_engine::fix_command(&dir, at.as_deref(), message.as_deref(), verbose).await)
        }
        Command::GenerateTests { file, dir, verbose } => {
            report(samokoder_engine::generate_tests_command(&dir, &file, verbose).await)
        }
        Command::Runs { run, dir } => report(samokoder_engine::runs_command(&dir, run.as_deref()).await),
        Command::Run { dir } => report(samokoder_engine::run_app_command(&dir).await),
        Command::Test { dir, verbose } => report(samokoder_engine::test_command(&dir, verbose).await),
        Command::Map { dir, tokens, focus } => report(samokoder_engine::map_command(&dir, tokens, &focus).await),
        Command::Model(ModelCommand::Fetch { size }) => report(samokoder_engine::model_fetch_command(&size).await),
        Command::Doctor { dir } => report(samokoder_engine::doctor_command(&dir).await),
        Command::Templates => report(samokoder_engine::templates_command()),
    };
    // Exit now: the runtime would otherwise wait for the thread blocked reading stdin.
    std::process::exit(code);
}

fn report(result: anyhow::Result<i32>) -> i32 {
    result.unwrap_or_else(|e| {
        // The reader went away (`samokoder map | head`): nothing to say, and no one to say it to.
        let broken_pipe = e
            .chain()
            .any(|c| c.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe));
        if broken_pipe {
            return 0;
        }
        // Never `eprintln!`: it panics when stderr is closed.
        let _ = writeln!(std::io::stderr(), "error: {e:#}");
        2
    })
}
