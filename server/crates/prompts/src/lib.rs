//! Prompts and project templates. The defaults are embedded in the binary at build time from the
//! repository's `prompts/` and `templates/` folders; a workspace can override any prompt with a file of the
//! same name under `.samokoder/prompts/`. Rendering is minijinja with strict undefined variables, so a
//! prompt that names a missing variable fails loudly instead of sending a hole to the model.
//!
//! This crate must never call a model or touch the network; it only turns data into text.

use std::path::{Path, PathBuf};

use minijinja::{Environment, UndefinedBehavior, Value};
use serde::Serialize;

/// The embedded prompts: `<agent>/<name>` -> source.
const PROMPTS: &[(&str, &str)] = &[
    ("common/system", include_str!("../../../../prompts/common/system.j2")),
    ("common/context", include_str!("../../../../prompts/common/context.j2")),
    ("spec_writer/task", include_str!("../../../../prompts/spec_writer/task.j2")),
    ("spec_writer/revise", include_str!("../../../../prompts/spec_writer/revise.j2")),
    ("architect/task", include_str!("../../../../prompts/architect/task.j2")),
    ("tech_lead/task", include_str!("../../../../prompts/tech_lead/task.j2")),
    ("developer/task", include_str!("../../../../prompts/developer/task.j2")),
    ("code_monkey/task", include_str!("../../../../prompts/code_monkey/task.j2")),
    ("code_monkey/file", include_str!("../../../../prompts/code_monkey/file.j2")),
    ("code_monkey/repair", include_str!("../../../../prompts/code_monkey/repair.j2")),
    ("code_monkey/again", include_str!("../../../../prompts/code_monkey/again.j2")),
    ("code_monkey/edit", include_str!("../../../../prompts/code_monkey/edit.j2")),
    ("troubleshooter/task", include_str!("../../../../prompts/troubleshooter/task.j2")),
    ("implementer/task", include_str!("../../../../prompts/implementer/task.j2")),
    ("bug_hunter/task", include_str!("../../../../prompts/bug_hunter/task.j2")),
    ("test_writer/task", include_str!("../../../../prompts/test_writer/task.j2")),
    ("test_writer/cases", include_str!("../../../../prompts/test_writer/cases.j2")),
    ("test_writer/asserts", include_str!("../../../../prompts/test_writer/asserts.j2")),
];

/// The names of the embedded prompts.
pub fn prompt_names() -> impl Iterator<Item = &'static str> {
    PROMPTS.iter().map(|(n, _)| *n)
}

mod templates;

pub use templates::{ProjectVars, RenderedFile, Template, TemplateOption, template, template_names};

#[derive(Debug, thiserror::Error)]
pub enum PromptError {
    #[error("no prompt named `{0}`")]
    Unknown(String),
    #[error("the prompt override {path} cannot be read: {message}")]
    Override { path: PathBuf, message: String },
    #[error(
        "prompt `{name}` failed to render: {message}; if you override it in .samokoder/prompts, check its variables"
    )]
    Render { name: String, message: String },
    #[error("template `{name}` is malformed: {message}")]
    Template { name: String, message: String },
}

pub type Result<T, E = PromptError> = std::result::Result<T, E>;

/// Renders prompts, preferring a workspace's overrides.
#[derive(Debug, Clone, Default)]
pub struct Prompts {
    override_dir: Option<PathBuf>,
}

impl Prompts {
    /// `workspace`: overrides are read from `<workspace>/.samokoder/prompts/<agent>/<name>.j2`.
    pub fn new(workspace: Option<&Path>) -> Self {
        Self { override_dir: workspace.map(|w| w.join(".samokoder").join("prompts")) }
    }

    /// The prompt's source: the workspace's override if there is one, else the embedded default.
    pub fn source(&self, name: &str) -> Result<String> {
        if let Some(dir) = &self.override_dir {
            let path = dir.join(format!("{name}.j2"));
            match std::fs::read_to_string(&path) {
                Ok(text) => return Ok(text),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(PromptError::Override { path, message: e.to_string() });
                }
            }
        }
        PROMPTS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, s)| (*s).to_owned())
            .ok_or_else(|| PromptError::Unknown(name.to_owned()))
    }

    pub fn render(&self, name: &str, context: &impl Serialize) -> Result<String> {
        let source = self.source(name)?;
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_syntax(
            minijinja::syntax::SyntaxConfig::builder().trim_blocks(true).build().expect("a valid syntax config"),
        );
        let render_err = |e: minijinja::Error| PromptError::Render { name: name.to_owned(), message: format!("{e:#}") };
        env.add_template_owned(name.to_owned(), source).map_err(render_err)?;
        let template = env.get_template(name).map_err(render_err)?;
        template.render(Value::from(minijinja::value::Serde(context))).map_err(render_err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_embedded_prompts_and_refuses_missing_variables() {
        let prompts = Prompts::new(None);
        let text = prompts
            .render(
                "code_monkey/task",
                &json!({"context": "CONTEXT", "task": {"title": "a sum function", "description": ""}, "has_package_json": false, "test_command": "node --test"}),
            )
            .unwrap();
        assert!(
            text.starts_with("CONTEXT") && text.contains("a sum function") && text.contains("package.json"),
            "{text}"
        );
        let err = prompts.render("code_monkey/task", &json!({})).unwrap_err().to_string();
        assert!(err.contains("code_monkey/task") && err.contains("undefined"), "{err}");
    }

    #[test]
    fn a_workspace_override_wins() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".samokoder/prompts/common");
        std::fs::create_dir_all(&path).unwrap();
        std::fs::write(path.join("system.j2"), "custom {{ test_command }}").unwrap();
        let text = Prompts::new(Some(dir.path()))
            .render("common/system", &json!({"test_command": "t", "node_major": 20}))
            .unwrap();
        assert_eq!(text, "custom t");
    }
}
