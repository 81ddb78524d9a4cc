//! Configuration, declared once. Layers, lowest first: built-in defaults, `~/.config/samokoder/config.toml`,
//! `<workspace>/.samokoder/config.toml`, the editor's settings (initializationOptions, then
//! `workspace/configuration` section `samokoder`), and the environment. Keys come from the environment or
//! the editor, never from a file in the workspace (anyone who can commit to a repository could otherwise
//! point your key at their server).

use std::path::{Path, PathBuf};
use std::time::Duration;

use samokoder_llm::ApiKey;
use serde::Deserialize;

/// One layer of configuration: every key optional. TOML files use snake_case or camelCase keys; editor
/// settings use camelCase.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct ConfigLayer {
    pub llm: LlmLayer,
    pub sandbox: SandboxLayer,
    /// The editor's own tracing setting (`samokoder.trace.server` in VS Code); read by the editor, not us.
    pub trace: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct LlmLayer {
    /// A name for the provider in messages and logs: "openai", "groq", "ollama", ...
    pub provider: Option<String>,
    /// The OpenAI-compatible endpoint, up to the version segment: `https://api.openai.com/v1`,
    /// `http://localhost:11434/v1` (Ollama), `http://localhost:8080/v1` (llama.cpp), ...
    #[serde(alias = "base_url")]
    pub base_url: Option<String>,
    /// The API key. Accepted from editor settings (secret storage) and the environment only.
    #[serde(alias = "api_key")]
    pub api_key: Option<ApiKey>,
    /// The model every agent uses.
    pub model: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct SandboxLayer {
    /// The image project commands run in.
    pub image: Option<String>,
    /// The command that runs the project's tests, in the workspace directory, with `sh -c`.
    #[serde(alias = "test_command")]
    pub test_command: Option<String>,
    /// Wall-clock limit for one test run, in seconds.
    #[serde(alias = "timeout_secs")]
    pub timeout_secs: Option<u64>,
    /// Memory limit of the container, in MiB.
    #[serde(alias = "memory_mb")]
    pub memory_mb: Option<u64>,
    /// CPUs for the container (fractions allowed).
    pub cpus: Option<f64>,
    /// Process limit of the container.
    pub pids: Option<i64>,
}

impl ConfigLayer {
    /// `other` wins where it sets a key.
    pub fn merge(&mut self, other: ConfigLayer) {
        macro_rules! take {
            ($($section:ident . $key:ident),*) => { $( if other.$section.$key.is_some() { self.$section.$key = other.$section.$key; } )* };
        }
        take!(llm.provider, llm.base_url, llm.api_key, llm.model);
        take!(
            sandbox.image,
            sandbox.test_command,
            sandbox.timeout_secs,
            sandbox.memory_mb,
            sandbox.cpus,
            sandbox.pids
        );
    }

    /// Parses editor settings: either the `samokoder` section itself or an object holding it.
    pub fn from_json(value: &serde_json::Value) -> Result<Self, String> {
        let section = value.get("samokoder").unwrap_or(value);
        if section.is_null() {
            return Ok(Self::default());
        }
        serde_json::from_value(section.clone())
            .map_err(|e| format!("editor settings (samokoder): {e}"))
    }

    /// The environment layer, following the providers' SDKs.
    pub fn from_env(var: &dyn Fn(&str) -> Option<String>) -> Self {
        let var = |k: &str| var(k).filter(|v| !v.trim().is_empty());
        let mut layer = Self::default();
        if let Some(key) = var("GROQ_API_KEY") {
            if var("OPENAI_API_KEY").is_none() && var("OPENAI_BASE_URL").is_none() {
                layer.llm.provider = Some("groq".into());
                layer.llm.base_url = Some("https://api.groq.com/openai/v1".into());
                layer.llm.api_key = Some(ApiKey::new(key));
            }
        }
        if let Some(key) = var("OPENAI_API_KEY") {
            layer.llm.api_key = Some(ApiKey::new(key));
        }
        if let Some(url) = var("OPENAI_BASE_URL") {
            layer.llm.base_url = Some(url);
        }
        layer.llm.model = var("SAMOKODER_MODEL");
        layer.sandbox.image = var("SAMOKODER_SANDBOX_IMAGE");
        layer
    }
}

/// The resolved configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub llm: LlmSettings,
    pub sandbox: SandboxSettings,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LlmSettings {
    pub provider: String,
    pub base_url: String,
    pub api_key: Option<ApiKey>,
    pub model: String,
    /// Whether the base URL was configured (a local server needs no key).
    pub base_url_set: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SandboxSettings {
    pub image: String,
    pub test_command: String,
    pub timeout: Duration,
    pub memory_mb: u64,
    pub cpus: f64,
    pub pids: i64,
}

pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";
pub const DEFAULT_MODEL: &str = "gpt-4o-mini";

impl Config {
    pub fn resolve(layer: &ConfigLayer) -> Self {
        let l = &layer.llm;
        let s = &layer.sandbox;
        let base_url = l
            .base_url
            .clone()
            .unwrap_or_else(|| DEFAULT_BASE_URL.to_owned());
        let provider = l
            .provider
            .clone()
            .unwrap_or_else(|| guess_provider(&base_url).to_owned());
        Config {
            llm: LlmSettings {
                provider,
                base_url,
                api_key: l.api_key.clone(),
                model: l.model.clone().unwrap_or_else(|| DEFAULT_MODEL.to_owned()),
                base_url_set: l.base_url.is_some(),
            },
            sandbox: SandboxSettings {
                image: s
                    .image
                    .clone()
                    .unwrap_or_else(|| samokoder_sandbox::DEFAULT_IMAGE.to_owned()),
                test_command: s
                    .test_command
                    .clone()
                    .unwrap_or_else(|| samokoder_sandbox::DEFAULT_TEST_COMMAND.to_owned()),
                timeout: Duration::from_secs(s.timeout_secs.unwrap_or(120).max(1)),
                memory_mb: s.memory_mb.unwrap_or(1024).max(64),
                cpus: s.cpus.unwrap_or(1.0).clamp(0.1, 64.0),
                pids: s.pids.unwrap_or(256).max(16),
            },
        }
    }
}

fn guess_provider(base_url: &str) -> &'static str {
    match base_url {
        u if u.contains("api.openai.com") => "openai",
        u if u.contains("groq.com") => "groq",
        u if u.contains("openrouter.ai") => "openrouter",
        u if u.contains(":11434") => "ollama",
        u if u.contains(":1234") => "lmstudio",
        _ => "openai-compatible",
    }
}

/// The user's config file: `$XDG_CONFIG_HOME/samokoder/config.toml` or `~/.config/samokoder/config.toml`.
pub fn user_config_path(var: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let base = var("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| var("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("samokoder").join("config.toml"))
}

/// Reads a TOML layer; a missing file is an empty layer. `workspace`: keys are refused from it.
pub fn read_layer(path: &Path, workspace: bool) -> Result<(ConfigLayer, Vec<String>), String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok((ConfigLayer::default(), vec![]));
        }
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let mut layer: ConfigLayer =
        toml::from_str(&text).map_err(|e| format!("{}: {}", path.display(), e.message()))?;
    let mut warnings = Vec::new();
    if workspace && layer.llm.api_key.take().is_some() {
        warnings.push(format!(
            "{}: llm.api_key ignored: keys never come from a file in the workspace; set OPENAI_API_KEY or the editor setting",
            path.display()
        ));
    }
    Ok((layer, warnings))
}

/// Every layer but the editor's, merged, with the problems found (malformed files are skipped and named).
pub fn load_files(
    workspace: &Path,
    var: &dyn Fn(&str) -> Option<String>,
) -> (ConfigLayer, Vec<String>) {
    let mut layer = ConfigLayer::default();
    let mut problems = Vec::new();
    let files = [
        (user_config_path(var), false),
        (Some(workspace.join(".samokoder").join("config.toml")), true),
    ];
    for (path, is_workspace) in files {
        let Some(path) = path else { continue };
        match read_layer(&path, is_workspace) {
            Ok((l, warnings)) => {
                layer.merge(l);
                problems.extend(warnings);
            }
            Err(e) => problems.push(format!("config file ignored: {e}")),
        }
    }
    (layer, problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    }

    #[test]
    fn layers_apply_in_order_and_env_wins() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        std::fs::create_dir_all(home.join(".config/samokoder")).unwrap();
        std::fs::write(
            home.join(".config/samokoder/config.toml"),
            "[llm]\nmodel = \"user-model\"\nbase_url = \"http://user/v1\"\n",
        )
        .unwrap();
        let ws = dir.path().join("ws");
        std::fs::create_dir_all(ws.join(".samokoder")).unwrap();
        std::fs::write(ws.join(".samokoder/config.toml"), "[llm]\nmodel = \"ws-model\"\napi_key = \"sk-from-repo\"\n[sandbox]\ntestCommand = \"npm test\"\n").unwrap();
        let var = env(&[
            ("HOME", home.to_str().unwrap()),
            ("SAMOKODER_MODEL", "env-model"),
        ]);

        let (mut layer, problems) = load_files(&ws, &var);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("never come from a file in the workspace"));
        assert_eq!(layer.llm.model.as_deref(), Some("ws-model"));
        layer.merge(ConfigLayer::from_json(&serde_json::json!({"samokoder": {"llm": {"model": "editor-model", "apiKey": "sk-editor"}}})).unwrap());
        assert_eq!(layer.llm.model.as_deref(), Some("editor-model"));
        layer.merge(ConfigLayer::from_env(&var));
        let config = Config::resolve(&layer);
        assert_eq!(config.llm.model, "env-model");
        assert_eq!(config.llm.base_url, "http://user/v1");
        assert_eq!(config.llm.api_key, Some(ApiKey::new("sk-editor")));
        assert_eq!(config.sandbox.test_command, "npm test");
        assert_eq!(config.sandbox.image, samokoder_sandbox::DEFAULT_IMAGE);
    }

    #[test]
    fn malformed_and_misspelled_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(".samokoder")).unwrap();
        std::fs::write(
            dir.path().join(".samokoder/config.toml"),
            "[llm]\nmodle = \"x\"\n",
        )
        .unwrap();
        let (_, problems) = load_files(dir.path(), &env(&[]));
        assert!(
            problems[0].contains("config.toml") && problems[0].contains("modle"),
            "{problems:?}"
        );
    }

    #[test]
    fn groq_key_alone_selects_groq() {
        let config = Config::resolve(&ConfigLayer::from_env(&env(&[("GROQ_API_KEY", "gsk")])));
        assert_eq!(
            (config.llm.provider.as_str(), config.llm.base_url.as_str()),
            ("groq", "https://api.groq.com/openai/v1")
        );
    }
}
