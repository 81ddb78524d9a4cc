//! What `samokoder run` starts: the template's `dev` command and port (the template the architecture names),
//! else the project's own `dev` or `start` script; its dependencies installed first, as before the tests.

use anyhow::Result;

use crate::RunContext;
use crate::agents::executor::{ensure_installed, project_template};
use crate::agents::read_file;
use crate::state::RunState;

/// The app's command line and the port it serves on (none: the first it listens on).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppPlan {
    pub command: String,
    pub port: Option<u16>,
}

/// What runs the project's app, from its template or its package.json; an error that says what to add when
/// nothing does.
pub fn app_plan(ctx: &RunContext) -> Result<AppPlan> {
    if let Some(template) = project_template(ctx, &RunState::default(), None)
        && !template.dev.trim().is_empty()
    {
        return Ok(AppPlan { command: template.dev.trim().to_owned(), port: template.port });
    }
    let manifest = read_file(ctx, "package.json").unwrap_or_default();
    let scripts = serde_json::from_str::<serde_json::Value>(&manifest).ok().and_then(|v| v.get("scripts").cloned());
    for (script, command) in [("dev", "npm run dev"), ("start", "npm start")] {
        if scripts.as_ref().and_then(|s| s.get(script)).and_then(|s| s.as_str()).is_some_and(|s| !s.trim().is_empty()) {
            return Ok(AppPlan { command: command.to_owned(), port: None });
        }
    }
    anyhow::bail!(
        "nothing to run in {}: the project has no template with a dev command (.samokoder/architecture.md) and \
         package.json has no `dev` or `start` script; add one, e.g. \"start\": \"node src/server.js\"",
        ctx.jail.root().display()
    )
}

/// The app's plan, with its dependencies installed in the sandbox when they are not what it last installed.
pub async fn prepare_app(ctx: &RunContext) -> Result<AppPlan> {
    let plan = app_plan(ctx)?;
    ensure_installed(ctx, &RunState::default(), None).await?;
    Ok(plan)
}
