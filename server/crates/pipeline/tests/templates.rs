//! Templates in a run: the architect's choice goes through the template's options, the template's files land
//! as one step before the plan, and the template decides the install and test commands.

mod support;

use samokoder_pipeline::{GenerateRequest, generate};
use samokoder_store::RunStatus;
use samokoder_test_utils::{Reply, ScriptedLlm};
use support::*;

#[tokio::test]
async fn the_architects_template_and_options_land_as_one_step_before_the_plan() {
    let wrong = r#"{"template": "react-express", "why": "a web app", "options": [{"option": "db", "value": "mongo"}], "packages": [], "system_needs": []}"#;
    let right = r#"{"template": "react-express", "why": "a web app with data", "options": [{"option": "database", "value": "mongoose"}], "packages": [], "system_needs": ["MongoDB (optional)"]}"#;
    let mut routes = moderate_routes();
    routes.retain(|(k, _)| *k != "you are the architect");
    routes.push(("you are the architect", Reply::text(wrong)));
    routes.push(("That reply cannot be used", Reply::text(right)));
    let server = ScriptedLlm::routed(routes);
    let b = Bench::new(&server, answered(), FakeSandbox::new(PASSING_TAP, 0));
    let outcome = generate(&b.ctx, &req("a todo list")).await.unwrap();
    assert_eq!(outcome.status, RunStatus::Succeeded, "{}", outcome.summary);

    let asked = Bench::asked(&server);
    let first = asked.iter().find(|a| a.contains("you are the architect")).unwrap();
    assert!(first.contains(r#""options": []"#), "the example names no option a model could copy: {first}");
    assert!(first.contains("option database (where the server keeps its data): none or mongoose"), "{first}");
    assert!(
        asked.iter().any(|a| a.contains("has no option `db`; its options: auth, database")),
        "the re-ask names the options: {asked:#?}"
    );
    let architecture = b.frontend.file(".samokoder/architecture.md").unwrap();
    assert!(architecture.contains("- database: mongoose") && architecture.contains("- auth: no"), "{architecture}");
    assert!(architecture.contains("## The template"), "the agents see what the template holds: {architecture}");

    // The template's files, as one step, before the tech lead.
    for path in ["server/app.js", "server/repository/mongoose.js", "src/App.tsx", "package.json"] {
        assert!(b.frontend.file(path).is_some(), "{path} was not written");
    }
    assert!(b.frontend.file("server/auth.js").is_none(), "auth is `no`");
    assert!(b.frontend.file("package.json").unwrap().contains("\"mongoose\""));
    let steps = b.store.steps(&b.ctx.id.0).unwrap();
    let agents: Vec<&str> = steps.iter().map(|s| s.agent.as_str()).collect();
    let scaffold = agents.iter().position(|a| *a == "scaffold").expect("a scaffold step");
    assert_eq!(agents.iter().filter(|a| **a == "scaffold").count(), 1, "{agents:?}");
    assert!(scaffold < agents.iter().position(|a| *a == "tech_lead").unwrap(), "{agents:?}");
    assert!(steps[scaffold].touched.iter().any(|t| t.path == "server/app.js"), "the step can be undone");

    // The template's commands: its install (the dependencies changed), then its tests.
    let commands = b.sandbox.commands();
    assert!(
        commands.iter().any(|c| c.starts_with("npm install --no-audit --no-fund --prefer-offline && ")),
        "{commands:?}"
    );
    assert!(commands.iter().any(|c| c == "npx vitest run"), "{commands:?}");
    assert!(b.frontend.file(".samokoder/config.toml").is_none(), "config is the user's to write");
}

#[tokio::test]
async fn a_named_template_needs_no_architect_and_keeps_the_projects_own_files() {
    let server = ScriptedLlm::routed(vec![
        ("you are the spec writer", Reply::text(SPEC_SIMPLE)),
        ("you are the code writer", Reply::text(WHOLE_SUM)),
    ]);
    let frontend = RecordingFrontend::default();
    frontend.files.lock().unwrap().insert("src/App.tsx".into(), "// mine\n".into());
    let b = Bench::new(&server, frontend, FakeSandbox::new(PASSING_TAP, 0));
    let request = GenerateRequest { template: Some("vite-react".into()), ..req("a counter page") };
    let outcome = generate(&b.ctx, &request).await.unwrap();
    assert_eq!(outcome.status, RunStatus::Succeeded, "{}", outcome.summary);
    assert!(!Bench::asked(&server).iter().any(|a| a.contains("you are the architect")));
    assert_eq!(b.frontend.file("src/App.tsx").unwrap(), "// mine\n", "never overwritten");
    assert!(b.frontend.file("src/App.test.tsx").is_some());
    assert!(b.frontend.file(".samokoder/architecture.md").unwrap().contains("Template: **vite-react**"));
}

#[tokio::test]
async fn a_wrong_template_or_option_fails_before_anything_runs() {
    let server = ScriptedLlm::routed(vec![]);
    let b = Bench::new(&server, RecordingFrontend::default(), FakeSandbox::new(PASSING_TAP, 0));
    let request = GenerateRequest {
        template: Some("react-express".into()),
        options: [("database".to_owned(), "postgres".to_owned())].into(),
        ..req("a todo app")
    };
    let err = format!("{:#}", generate(&b.ctx, &request).await.unwrap_err());
    assert!(err.contains("template `react-express`") && err.contains("choose one of: none, mongoose"), "{err}");
    let request = GenerateRequest { template: Some("rails".into()), ..req("a todo app") };
    let err = format!("{:#}", generate(&b.ctx, &request).await.unwrap_err());
    assert!(err.contains("`rails`") && err.contains("vite-react"), "{err}");
    assert!(server.requests().is_empty() && b.frontend.files.lock().unwrap().is_empty());
}

#[tokio::test]
async fn options_listed_for_a_template_without_options_are_dropped_not_refused() {
    // What Qwen 1.5B answered: the prompt's example option, for the plain template.
    let node = r#"{"template": "node", "why": "modules", "options": [{"option": "name", "value": "one of its values"}], "packages": [], "system_needs": []}"#;
    let mut routes = moderate_routes();
    routes.retain(|(k, _)| *k != "you are the architect");
    routes.push(("you are the architect", Reply::text(node)));
    let server = ScriptedLlm::routed(routes);
    let b = Bench::new(&server, answered(), FakeSandbox::new(PASSING_TAP, 0));
    let outcome = generate(&b.ctx, &req("a todo list")).await.unwrap();
    assert_eq!(outcome.status, RunStatus::Succeeded, "{}", outcome.summary);
    assert_eq!(Bench::asked(&server).iter().filter(|a| a.contains("you are the architect")).count(), 1);
    assert!(!b.frontend.file(".samokoder/architecture.md").unwrap().contains("## Options"));
}

#[tokio::test]
async fn a_simple_request_that_names_what_a_template_is_for_asks_the_architect() {
    // Qwen rated "a React counter page" simple; the plain template would have been taken without a word.
    let vite =
        r#"{"template": "vite-react", "why": "a React page", "options": [], "packages": [], "system_needs": []}"#;
    let server = ScriptedLlm::routed(vec![
        ("you are the spec writer", Reply::text(SPEC_SIMPLE)),
        ("you are the architect", Reply::text(vite)),
        ("you are the code writer", Reply::text(WHOLE_SUM)),
    ]);
    let b = Bench::new(&server, RecordingFrontend::default(), FakeSandbox::new(PASSING_TAP, 0));
    let outcome = generate(&b.ctx, &req("a React page with a counter")).await.unwrap();
    assert_eq!(outcome.status, RunStatus::Succeeded, "{}", outcome.summary);
    assert!(b.frontend.file(".samokoder/architecture.md").unwrap().contains("Template: **vite-react**"));
    assert!(b.frontend.file("src/App.test.tsx").is_some());
    let architect = Bench::asked(&server).into_iter().find(|a| a.contains("you are the architect")).unwrap();
    assert!(architect.contains("The request's words point to: vite-react, react-express."), "{architect}");
    assert!(architect.contains(r#"{"template": "vite-react","#), "the example names what the words point to");

    // Without such a word, no architect call.
    let server = ScriptedLlm::routed(vec![
        ("you are the spec writer", Reply::text(SPEC_SIMPLE)),
        ("you are the code writer", Reply::text(WHOLE_SUM)),
    ]);
    let b = Bench::new(&server, RecordingFrontend::default(), FakeSandbox::new(PASSING_TAP, 0));
    let outcome = generate(&b.ctx, &req("a function that sums two numbers")).await.unwrap();
    assert_eq!(outcome.status, RunStatus::Succeeded, "{}", outcome.summary);
    assert_eq!(server.requests().len(), 2);
}
