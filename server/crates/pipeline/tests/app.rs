//! What `samokoder run` starts: the template's dev command and port, else the project's own script, after
//! the install; a project with nothing to run gets an error that says what to add.

mod support;

use samokoder_pipeline::{AppPlan, app_plan, prepare_app};
use samokoder_test_utils::ScriptedLlm;
use support::*;

fn bench(files: &[(&str, &str)]) -> Bench {
    let frontend = RecordingFrontend::default();
    frontend.files.lock().unwrap().extend(files.iter().map(|(p, t)| (p.to_string(), t.to_string())));
    Bench::new(&ScriptedLlm::start(vec![]), frontend, FakeSandbox::new("", 0))
}

#[tokio::test]
async fn a_template_project_runs_its_dev_command_on_its_port_after_the_install() {
    let b = bench(&[
        (".samokoder/architecture.md", "# Architecture\n\nTemplate: **vite-react** (a React page)\n"),
        ("package.json", r#"{"type": "module", "dependencies": {"react": "^19.0.0"}}"#),
    ]);
    let plan = prepare_app(&b.ctx).await.unwrap();
    assert_eq!(plan, AppPlan { command: "npx vite --host 0.0.0.0".into(), port: Some(5173) });
    assert_eq!(b.sandbox.commands().len(), 1, "{:?}", b.sandbox.commands());
    assert!(b.sandbox.commands()[0].starts_with("npm install"), "{:?}", b.sandbox.commands());
}

#[test]
fn without_a_template_the_projects_dev_or_start_script_runs_and_the_port_is_found() {
    let b = bench(&[("package.json", r#"{"scripts": {"start": "node server.js", "test": "node --test"}}"#)]);
    assert_eq!(app_plan(&b.ctx).unwrap(), AppPlan { command: "npm start".into(), port: None });
    let b = bench(&[("package.json", r#"{"scripts": {"start": "node server.js", "dev": "node --watch server.js"}}"#)]);
    assert_eq!(app_plan(&b.ctx).unwrap().command, "npm run dev");
}

#[test]
fn a_project_with_nothing_to_run_is_told_what_to_add() {
    let b = bench(&[("package.json", r#"{"scripts": {"test": "node --test"}}"#)]);
    let message = app_plan(&b.ctx).unwrap_err().to_string();
    assert!(message.contains("no `dev` or `start` script") && message.contains("\"start\":"), "{message}");
    let b = bench(&[]);
    assert!(app_plan(&b.ctx).is_err());
}
