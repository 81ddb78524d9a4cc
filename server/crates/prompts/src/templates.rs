//! Project templates: `templates/<name>/template.toml` (the image, the install, test, build and dev commands,
//! the options, a summary the agents see) and `templates/<name>/files/`, the project's first files. Text
//! files and their paths are minijinja templates rendered with the project's name, title and description and
//! the chosen options; a file that is not UTF-8 is copied as it is. `[when]` names files that exist only
//! with some options (path -> a condition). The templates of the repository are embedded in the binary.

use std::collections::BTreeMap;
use std::path::{Component, Path};
use std::sync::{Arc, Mutex, OnceLock};

use include_dir::{Dir, include_dir};
use minijinja::{Environment, UndefinedBehavior};
use serde::{Deserialize, Serialize};

use crate::{PromptError, Result};

static EMBEDDED: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/../../../templates");

/// A project template, as its template.toml declares it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Template {
    pub name: String,
    /// One line: what the template is for (the architect chooses by it).
    pub description: String,
    /// What is there and where new code goes (the agents' prompts show it).
    #[serde(default)]
    pub summary: String,
    /// Words in a request that call for this template (`react`, `express`): a simple request that names one
    /// goes to the architect instead of taking the plain template.
    #[serde(default)]
    pub keywords: Vec<String>,
    pub image: String,
    #[serde(default)]
    pub install: String,
    pub test: String,
    #[serde(default)]
    pub build: String,
    #[serde(default)]
    pub dev: String,
    /// The port `dev` serves on (it gets it in `PORT`); none: the first port the app listens on.
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default)]
    pub options: BTreeMap<String, TemplateOption>,
    /// Files that exist only with some options: path under files/ -> a minijinja condition.
    #[serde(default)]
    pub when: BTreeMap<String, String>,
    /// The files under files/: path -> content (shared: a template is cloned wherever a prompt needs it).
    #[serde(skip)]
    files: Arc<[(String, Vec<u8>)]>,
}

/// One choice a template offers (`database = mongoose | none`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateOption {
    pub description: String,
    pub values: Vec<String>,
    pub default: String,
}

/// What a template is rendered with.
#[derive(Debug, Clone, Serialize)]
pub struct ProjectVars {
    /// A package name (`todo-app`): lower case, digits and dashes.
    pub name: String,
    /// For people (`Todo App`).
    pub title: String,
    pub description: String,
}

impl ProjectVars {
    /// The names a project directory and a description give.
    pub fn new(dir_name: &str, description: &str) -> Self {
        let mut name = String::new();
        for c in dir_name.chars() {
            match c {
                'a'..='z' | '0'..='9' => name.push(c),
                'A'..='Z' => name.push(c.to_ascii_lowercase()),
                _ if !name.is_empty() && !name.ends_with('-') => name.push('-'),
                _ => {}
            }
        }
        let name = name.trim_end_matches('-').to_owned();
        let name = if name.is_empty() { "app".to_owned() } else { name };
        let title = name
            .split('-')
            .map(|w| {
                let mut c = w.chars();
                c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
            })
            .collect::<Vec<_>>()
            .join(" ");
        Self { name, title, description: description.trim().to_owned() }
    }
}

/// One file of a rendered template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedFile {
    /// Relative to the project's directory.
    pub path: String,
    pub content: Vec<u8>,
}

impl RenderedFile {
    pub fn text(&self) -> Option<&str> {
        std::str::from_utf8(&self.content).ok()
    }
}

fn malformed(name: &str, message: impl Into<String>) -> PromptError {
    PromptError::Template { name: name.to_owned(), message: message.into() }
}

impl Template {
    /// A template from its template.toml and its files (path under files/ -> content).
    pub fn parse(name: &str, toml_source: &str, files: Vec<(String, Vec<u8>)>) -> Result<Self> {
        let mut template: Template = toml::from_str(toml_source)
            .map_err(|e| malformed(name, format!("template.toml: {}", e.to_string().trim_end())))?;
        if template.name != name {
            return Err(malformed(name, format!("template.toml: `name` is `{}`, its folder `{name}`", template.name)));
        }
        for (field, value) in [("image", &template.image), ("test", &template.test)] {
            if value.trim().is_empty() {
                return Err(malformed(name, format!("template.toml: `{field}` is empty")));
            }
        }
        for (option, spec) in &template.options {
            if !spec.values.contains(&spec.default) {
                return Err(malformed(
                    name,
                    format!(
                        "template.toml: option `{option}`: the default `{}` is not one of its values ({})",
                        spec.default,
                        spec.values.join(", ")
                    ),
                ));
            }
        }
        for path in template.when.keys() {
            if !files.iter().any(|(p, _)| p == path) {
                return Err(malformed(
                    name,
                    format!("template.toml: `when` names `{path}`, which files/ does not have"),
                ));
            }
        }
        template.files = files.into();
        Ok(template)
    }

    /// A template from a folder of its own (`<dir>/template.toml`, `<dir>/files/`).
    pub fn from_dir(dir: &Path) -> Result<Self> {
        let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let toml_source = std::fs::read_to_string(dir.join("template.toml"))
            .map_err(|e| malformed(&name, format!("{}: {e}", dir.join("template.toml").display())))?;
        let mut files = Vec::new();
        let root = dir.join("files");
        let mut stack = vec![root.clone()];
        while let Some(current) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&current) else { continue };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    let rel = path.strip_prefix(&root).unwrap_or(&path).to_string_lossy().replace('\\', "/");
                    let content = std::fs::read(&path).map_err(|e| malformed(&name, format!("{rel}: {e}")))?;
                    files.push((rel, content));
                }
            }
        }
        files.sort();
        Self::parse(&name, &toml_source, files)
    }

    /// The options as given, checked, with the defaults of those not given.
    pub fn options(&self, given: &BTreeMap<String, String>) -> Result<BTreeMap<String, String>> {
        let mut chosen = BTreeMap::new();
        for (option, value) in given {
            let Some(spec) = self.options.get(option) else {
                let known: Vec<&str> = self.options.keys().map(String::as_str).collect();
                return Err(malformed(
                    &self.name,
                    match known.is_empty() {
                        true => format!("it has no options, and `{option}` was given"),
                        false => format!("it has no option `{option}`; its options: {}", known.join(", ")),
                    },
                ));
            };
            if !spec.values.contains(value) {
                return Err(malformed(
                    &self.name,
                    format!("option `{option}` cannot be `{value}`; choose one of: {}", spec.values.join(", ")),
                ));
            }
            chosen.insert(option.clone(), value.clone());
        }
        for (option, spec) in &self.options {
            chosen.entry(option.clone()).or_insert_with(|| spec.default.clone());
        }
        Ok(chosen)
    }

    /// The project's first files, for `project` with `options` (checked as [`Template::options`] does).
    pub fn render(&self, project: &ProjectVars, options: &BTreeMap<String, String>) -> Result<Vec<RenderedFile>> {
        let options = self.options(options)?;
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_syntax(
            minijinja::syntax::SyntaxConfig::builder()
                .trim_blocks(true)
                .keep_trailing_newline(true)
                .build()
                .expect("a valid syntax config"),
        );
        let context = minijinja::context! {
            name => &project.name,
            title => &project.title,
            description => &project.description,
            options => options,
        };
        let fail = |path: &str, e: minijinja::Error| malformed(&self.name, format!("{path}: {e:#}"));
        let mut out = Vec::new();
        for (path, content) in self.files.iter() {
            if let Some(condition) = self.when.get(path) {
                let expr = env.compile_expression(condition).map_err(|e| fail(path, e))?;
                if !expr.eval(&context).map_err(|e| fail(path, e))?.is_true() {
                    continue;
                }
            }
            let rendered_path = env.render_str(path, &context).map_err(|e| fail(path, e))?;
            if !inside(&rendered_path) {
                return Err(malformed(
                    &self.name,
                    format!("file `{path}` renders to `{rendered_path}`, which is outside the project"),
                ));
            }
            let content = match std::str::from_utf8(content) {
                Ok(text) => env.render_str(text, &context).map_err(|e| fail(path, e))?.into_bytes(),
                Err(_) => content.clone(),
            };
            out.push(RenderedFile { path: rendered_path, content });
        }
        Ok(out)
    }

    /// Whether `text` names one of the template's keywords (whole words, any case).
    pub fn named_in(&self, text: &str) -> bool {
        self.keywords_in(text) > 0
    }

    /// How many of the template's keywords `text` names.
    pub fn keywords_in(&self, text: &str) -> usize {
        let words: Vec<String> = text
            .split(|c: char| !c.is_alphanumeric() && c != '-')
            .map(str::to_lowercase)
            .filter(|w| !w.is_empty())
            .collect();
        self.keywords
            .iter()
            .filter(|k| {
                let k: Vec<String> = k.split_whitespace().map(str::to_lowercase).collect();
                !k.is_empty() && words.windows(k.len()).any(|w| w == k.as_slice())
            })
            .count()
    }

    /// The file paths under files/ (before rendering).
    pub fn file_paths(&self) -> impl Iterator<Item = &str> {
        self.files.iter().map(|(p, _)| p.as_str())
    }
}

/// A relative path that stays inside the project.
fn inside(path: &str) -> bool {
    let path = Path::new(path);
    !path.as_os_str().is_empty() && path.components().all(|c| matches!(c, Component::Normal(_)))
}

/// The embedded template named `name`, parsed once per process (every agent's prompt asks for it).
pub fn template(name: &str) -> Result<Template> {
    static PARSED: OnceLock<Mutex<BTreeMap<String, Template>>> = OnceLock::new();
    let parsed = PARSED.get_or_init(Mutex::default);
    if let Some(template) = parsed.lock().unwrap_or_else(|e| e.into_inner()).get(name) {
        return Ok(template.clone());
    }
    let template = parse_embedded(name)?;
    parsed.lock().unwrap_or_else(|e| e.into_inner()).insert(name.to_owned(), template.clone());
    Ok(template)
}

fn parse_embedded(name: &str) -> Result<Template> {
    let Some(dir) = EMBEDDED.get_dir(name) else {
        return Err(PromptError::Unknown(format!(
            "template `{name}`; the templates: {}",
            template_names().collect::<Vec<_>>().join(", ")
        )));
    };
    let toml_source = dir
        .get_file(dir.path().join("template.toml"))
        .and_then(|f| f.contents_utf8())
        .ok_or_else(|| malformed(name, "template.toml is missing or not UTF-8"))?;
    let mut files = Vec::new();
    if let Some(root) = dir.get_dir(dir.path().join("files")) {
        collect(root, root.path(), &mut files);
    }
    files.sort();
    Template::parse(name, toml_source, files)
}

fn collect(dir: &Dir<'_>, root: &Path, out: &mut Vec<(String, Vec<u8>)>) {
    for file in dir.files() {
        let rel = file.path().strip_prefix(root).unwrap_or(file.path()).to_string_lossy().replace('\\', "/");
        out.push((rel, file.contents().to_vec()));
    }
    for sub in dir.dirs() {
        collect(sub, root, out);
    }
}

/// The names of the embedded templates, sorted.
pub fn template_names() -> impl Iterator<Item = &'static str> {
    let mut names: Vec<&'static str> = EMBEDDED
        .dirs()
        .filter(|d| d.get_file(d.path().join("template.toml")).is_some())
        .filter_map(|d| d.path().to_str())
        .collect();
    names.sort_unstable();
    names.into_iter()
}
