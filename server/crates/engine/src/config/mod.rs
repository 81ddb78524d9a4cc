//! Configuration, declared once. Layers, lowest first: built-in defaults, `~/.config/samokoder/config.toml`,
//! `<workspace>/.samokoder/config.toml`, the editor's settings (initializationOptions, then
//! `workspace/configuration` section `samokoder`), and the environment. Keys come from the environment or
//! the editor, never from a file in the workspace (anyone who can commit to a repository could otherwise
//! point your key at their server).

mod files;
mod layer;
mod ranges;
mod schema;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::Duration;

pub use files::{load_files, read_layer, user_config_path};
pub use layer::{BudgetLayer, ConfigLayer, LlmLayer, LocalLayer, ParamsLayer, ProviderLayer, RunLayer, SandboxLayer};
use samokoder_llm::{ApiKey, LimitsConfig, Price, ProviderKind};
pub use schema::vscode_settings;

/// The resolved configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub llm: LlmSettings,
    pub sandbox: SandboxSettings,
    pub editor: EditorSettings,
    pub run: RunConfig,
}

/// How a run makes sure of its code (`[run]`).
#[derive(Debug, Clone, PartialEq)]
pub struct RunConfig {
    /// Candidates drawn for one function or small module; 1: no choosing.
    pub candidates: usize,
    /// Stated examples run as checks that outrank generated tests.
    pub oracle: bool,
}

/// The candidates a run draws unless configured: CodeT's gain held from a handful of samples up, and four
/// are decoded together in one batch by the embedded model.
pub const DEFAULT_CANDIDATES: usize = 4;
/// The most candidates a run may draw: each is a model call.
pub const MAX_CANDIDATES: usize = 16;

/// How runs meet the user in an editor (`[editor]`).
#[derive(Debug, Clone, PartialEq)]
pub struct EditorSettings {
    /// Every change to the project waits for the user's review before it lands.
    pub review: bool,
    /// How long a question asked in the editor waits before it goes to `.samokoder/questions.md`.
    pub ask_timeout: Duration,
}

/// The model providers and how roles use them.
#[derive(Debug, Clone, PartialEq)]
pub struct LlmSettings {
    /// Every provider that is named, usable or not, in a stable order (the default chain's order).
    pub providers: Vec<ProviderSettings>,
    /// Role name (or `default`) -> chain of `provider[/model]`.
    pub roles: BTreeMap<String, Vec<String>>,
    pub params: BTreeMap<String, ParamsLayer>,
    pub budget: BudgetLayer,
    pub prices: HashMap<String, Price>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ProviderSettings {
    pub name: String,
    pub kind: ProviderKind,
    pub base_url: String,
    pub api_key: Option<ApiKey>,
    /// Where the key comes from, for messages.
    pub key_source: String,
    pub model: String,
    pub limits: LimitsConfig,
    /// `Err(why)` when the provider cannot be used (no key, no base URL).
    pub usable: Result<(), String>,
    /// The embedded model's settings (for `kind == Local`).
    pub local: LocalLayer,
}

impl LlmSettings {
    /// The chain of roles without their own: `llm.roles.default`, else every usable built-in provider, the
    /// default OpenAI-compatible one first.
    pub fn default_chain(&self) -> Vec<String> {
        if let Some(chain) = self.roles.get("default") {
            return chain.clone();
        }
        let remote: Vec<String> = self
            .providers
            .iter()
            .filter(|p| p.usable.is_ok() && BUILT_IN.contains(&p.builtin_slot()))
            .map(|p| p.name.clone())
            .collect();
        if !remote.is_empty() {
            return remote;
        }
        // Nothing else configured: the embedded model, if there is one.
        self.providers
            .iter()
            .filter(|p| p.kind == ProviderKind::Local && p.usable.is_ok())
            .map(|p| p.name.clone())
            .collect()
    }

    /// The primary provider and model of roles without their own chain, for status lines.
    pub fn primary(&self) -> Option<(String, String)> {
        let first = self.default_chain().into_iter().next()?;
        let route = samokoder_llm::Route::parse(&first);
        let provider = self.providers.iter().find(|p| p.name == route.provider)?;
        Some((provider.name.clone(), route.model.unwrap_or_else(|| provider.model.clone())))
    }
}

impl ProviderSettings {
    fn builtin_slot(&self) -> &str {
        if self.kind == ProviderKind::OpenAi && self.key_source == "OPENAI_API_KEY" { "openai" } else { &self.name }
    }
}

/// The providers that join the default chain by themselves when usable.
const BUILT_IN: &[&str] = &["openai", "anthropic", "groq"];

#[derive(Debug, Clone, PartialEq)]
pub struct SandboxSettings {
    pub image: String,
    /// The user (or the environment) chose the image; otherwise the local one `cargo xtask setup` builds
    /// stands in when the default cannot be had.
    pub image_configured: bool,
    pub test_command: String,
    /// The user set the test command (otherwise a project's template decides it).
    pub test_command_configured: bool,
    pub timeout: Duration,
    pub no_output: Option<Duration>,
    pub memory_mb: u64,
    pub cpus: f64,
    pub pids: i64,
    pub idle_stop: Duration,
    pub network: String,
    pub ca_bundle: Option<PathBuf>,
    /// With no `ca_bundle` configured: the environment variable the bundle came from (the one the host's own
    /// tools are told to use, `NODE_EXTRA_CA_CERTS` or `SSL_CERT_FILE`), so that an install behind an
    /// intercepting proxy works as the host's npm does.
    pub ca_bundle_from: Option<String>,
    pub sync_include: Vec<String>,
    pub docker_host: Option<String>,
}

pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";
pub const DEFAULT_MODEL: &str = "gpt-4o-mini";
pub const ANTHROPIC_BASE_URL: &str = "https://api.anthropic.com";
pub const ANTHROPIC_MODEL: &str = "claude-sonnet-4-20250514";
pub const GROQ_BASE_URL: &str = "https://api.groq.com/openai/v1";
pub const GROQ_MODEL: &str = "llama-3.3-70b-versatile";

impl Config {
    pub fn resolve(layer: &ConfigLayer, env: &dyn Fn(&str) -> Option<String>) -> Self {
        let l = &layer.llm;
        let s = &layer.sandbox;
        let mut providers = Vec::new();

        // The default OpenAI-compatible provider: usable with a key, or with a base URL (local servers).
        let base_url = l.base_url.clone().unwrap_or_else(|| DEFAULT_BASE_URL.to_owned());
        let name = l.provider.clone().unwrap_or_else(|| guess_provider(&base_url).to_owned());
        let usable = if l.api_key.is_some() || l.base_url.is_some() {
            Ok(())
        } else {
            Err("no OPENAI_API_KEY and no OPENAI_BASE_URL".to_owned())
        };
        let openai_limits = l.providers.get(&name).map(limits_of).unwrap_or_default();
        providers.push(ProviderSettings {
            name: name.clone(),
            kind: ProviderKind::OpenAi,
            base_url,
            api_key: l.api_key.clone(),
            key_source: "OPENAI_API_KEY".into(),
            model: DEFAULT_MODEL.to_owned(),
            limits: openai_limits,
            usable,
            local: LocalLayer::default(),
        });
        let builtins = [
            ("anthropic", ProviderKind::Anthropic, ANTHROPIC_BASE_URL, ANTHROPIC_MODEL, "ANTHROPIC_API_KEY"),
            ("groq", ProviderKind::OpenAi, GROQ_BASE_URL, GROQ_MODEL, "GROQ_API_KEY"),
        ];
        for (builtin, kind, url, model, key_var) in builtins {
            if builtin == name {
                continue;
            }
            let p = l.providers.get(builtin).cloned().unwrap_or_default();
            let key = p.api_key.clone().or_else(|| p.api_key_env.as_deref().and_then(env).map(ApiKey::new));
            providers.push(ProviderSettings {
                name: builtin.to_owned(),
                kind: p.kind.unwrap_or(kind),
                base_url: p.base_url.clone().unwrap_or_else(|| url.to_owned()),
                usable: if key.is_some() { Ok(()) } else { Err(format!("no {key_var}")) },
                api_key: key,
                key_source: p.api_key_env.clone().unwrap_or_else(|| key_var.to_owned()),
                model: p.model.clone().unwrap_or_else(|| model.to_owned()),
                limits: limits_of(&p),
                local: LocalLayer::default(),
            });
        }
        for (pname, p) in &l.providers {
            if providers.iter().any(|existing| &existing.name == pname) {
                continue;
            }
            let key = p.api_key.clone().or_else(|| p.api_key_env.as_deref().and_then(env).map(ApiKey::new));
            let kind = p.kind.unwrap_or(ProviderKind::OpenAi);
            let usable = match (&p.base_url, &p.model) {
                (None, _) => Err(format!("llm.providers.{pname} has no base_url")),
                (_, None) => Err(format!("llm.providers.{pname} has no model")),
                _ => Ok(()),
            };
            providers.push(ProviderSettings {
                name: pname.clone(),
                kind,
                base_url: p.base_url.clone().unwrap_or_default(),
                api_key: key,
                key_source: p.api_key_env.clone().unwrap_or_else(|| format!("samokoder.llm.providers.{pname}.apiKey")),
                model: p.model.clone().unwrap_or_default(),
                limits: limits_of(p),
                usable,
                local: LocalLayer::default(),
            });
        }
        // The embedded model: a configured GGUF, else one fetched into the cache.
        let model_path = l.local.model_path.clone().or_else(|| default_local_model(env));
        let usable = match &model_path {
            Some(path) if !path.is_file() => Err(format!("{} does not exist", path.display())),
            Some(_) if !cfg!(feature = "local-llm") => {
                Err("this samokoder was built without the local-llm feature".to_owned())
            }
            Some(_) => Ok(()),
            None => Err("no model: run `samokoder model fetch`".to_owned()),
        };
        let model_path = model_path.unwrap_or_default();
        providers.push(ProviderSettings {
            name: "local".to_owned(),
            kind: ProviderKind::Local,
            base_url: String::new(),
            api_key: None,
            key_source: String::new(),
            model: samokoder_llm::local_model_name(&model_path),
            limits: LimitsConfig { max_concurrency: l.local.parallel, tokens_per_minute: None },
            usable,
            local: LocalLayer { model_path: Some(model_path), ..l.local.clone() },
        });
        // SAMOKODER_MODEL / llm.model: the primary provider's model.
        let mut llm = LlmSettings {
            providers,
            roles: l.roles.clone(),
            params: l.params.clone(),
            budget: l.budget.clone(),
            prices: l.prices.clone().into_iter().collect(),
        };
        if let Some(model) = &l.model {
            let primary = llm.default_chain().into_iter().next().map(|r| samokoder_llm::Route::parse(&r).provider);
            let target = primary.unwrap_or(name);
            if let Some(p) = llm.providers.iter_mut().find(|p| p.name == target) {
                p.model = model.clone();
            }
        }
        let host_ca = ["NODE_EXTRA_CA_CERTS", "SSL_CERT_FILE"]
            .into_iter()
            .find_map(|var| env(var).map(PathBuf::from).filter(|p| p.is_file()).map(|p| (var, p)));
        Config {
            llm,
            sandbox: SandboxSettings {
                image: s.image.clone().unwrap_or_else(|| samokoder_sandbox::DEFAULT_IMAGE.to_owned()),
                image_configured: s.image.is_some(),
                test_command: s
                    .test_command
                    .clone()
                    .unwrap_or_else(|| samokoder_sandbox::DEFAULT_TEST_COMMAND.to_owned()),
                test_command_configured: s.test_command.is_some(),
                timeout: Duration::from_secs(s.timeout_secs.unwrap_or(120).max(1)),
                memory_mb: s.memory_mb.unwrap_or(1024).max(64),
                cpus: s.cpus.unwrap_or(1.0).clamp(0.1, 64.0),
                pids: s.pids.unwrap_or(256).max(16),
                no_output: match s.no_output_secs.unwrap_or(60) {
                    0 => None,
                    secs => Some(Duration::from_secs(secs)),
                },
                idle_stop: Duration::from_secs(s.idle_stop_secs.unwrap_or(15 * 60).max(1)),
                network: s.network.clone().unwrap_or_else(|| "bridge".to_owned()),
                ca_bundle: s.ca_bundle.clone().or_else(|| host_ca.as_ref().map(|(_, path)| path.clone())),
                ca_bundle_from: host_ca.filter(|_| s.ca_bundle.is_none()).map(|(var, _)| var.to_owned()),
                sync_include: s.sync_include.clone().unwrap_or_default(),
                docker_host: s.docker_host.clone(),
            },
            editor: EditorSettings {
                review: layer.editor.review.unwrap_or(false),
                ask_timeout: Duration::from_secs(layer.editor.ask_timeout_secs.unwrap_or(300).max(1)),
            },
            run: RunConfig {
                candidates: layer.run.candidates.unwrap_or(DEFAULT_CANDIDATES).clamp(1, MAX_CANDIDATES),
                oracle: layer.run.oracle.unwrap_or(true),
            },
        }
    }
}

/// Where `samokoder model fetch` puts models.
pub fn model_dir(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    env("SAMOKODER_MODEL_DIR")
        .map(PathBuf::from)
        .or_else(|| env("XDG_CACHE_HOME").map(|c| PathBuf::from(c).join("samokoder").join("models")))
        .or_else(|| env("HOME").map(|h| PathBuf::from(h).join(".cache").join("samokoder").join("models")))
}

/// The fetched model to use when none is configured: the 1.5B, else the 0.5B.
fn default_local_model(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let dir = model_dir(env)?;
    ["qwen2.5-coder-1.5b-instruct-q4_k_m.gguf", "qwen2.5-coder-0.5b-instruct.gguf"]
        .iter()
        .map(|f| dir.join(f))
        .find(|p| p.is_file())
}

fn limits_of(p: &ProviderLayer) -> LimitsConfig {
    LimitsConfig { max_concurrency: p.max_concurrency, tokens_per_minute: p.tokens_per_minute }
}

fn guess_provider(base_url: &str) -> &'static str {
    match base_url {
        u if u.contains("api.openai.com") => "openai",
        u if u.contains("openrouter.ai") => "openrouter",
        u if u.contains(":11434") => "ollama",
        u if u.contains(":1234") => "lmstudio",
        u if u.contains(":8080") => "llamacpp",
        _ => "openai-compatible",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let pairs: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    }

    fn resolve(layer: &ConfigLayer, var: &dyn Fn(&str) -> Option<String>) -> Config {
        let mut layer = layer.clone();
        layer.merge(ConfigLayer::from_env(var));
        Config::resolve(&layer, var)
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
        std::fs::write(
            ws.join(".samokoder/config.toml"),
            "[llm]\nmodel = \"ws-model\"\napi_key = \"sk-from-repo\"\n[llm.providers.anthropic]\napi_key = \"sk-ant-repo\"\n[sandbox]\ntestCommand = \"npm test\"\n",
        )
        .unwrap();
        let var = env(&[("HOME", home.to_str().unwrap()), ("SAMOKODER_MODEL", "env-model")]);

        let (mut layer, problems) = load_files(&ws, &var);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("never come from a file in the workspace"));
        assert!(layer.llm.providers["anthropic"].api_key.is_none(), "a workspace file's key is dropped");
        assert_eq!(layer.llm.model.as_deref(), Some("ws-model"));
        layer.merge(
            ConfigLayer::from_json(
                &serde_json::json!({"samokoder": {"llm": {"model": "editor-model", "apiKey": "sk-editor"}}}),
            )
            .unwrap()
            .0,
        );
        assert_eq!(layer.llm.model.as_deref(), Some("editor-model"));
        let config = resolve(&layer, &var);
        let primary = &config.llm.providers[0];
        assert_eq!((primary.model.as_str(), primary.base_url.as_str()), ("env-model", "http://user/v1"));
        assert_eq!(primary.api_key, Some(ApiKey::new("sk-editor")));
        assert_eq!(config.sandbox.test_command, "npm test");
        assert_eq!(config.sandbox.image, samokoder_sandbox::DEFAULT_IMAGE);
    }

    #[test]
    fn malformed_and_misspelled_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(".samokoder")).unwrap();
        std::fs::write(dir.path().join(".samokoder/config.toml"), "[llm]\nmodle = \"x\"\n").unwrap();
        let (_, problems) = load_files(dir.path(), &env(&[]));
        assert!(problems[0].contains("config.toml") && problems[0].contains("modle"), "{problems:?}");
    }

    #[test]
    fn with_no_ca_bundle_configured_the_one_the_hosts_tools_use_is_taken_and_named() {
        let dir = tempfile::tempdir().unwrap();
        let pem = dir.path().join("proxy.pem");
        std::fs::write(&pem, "-----BEGIN CERTIFICATE-----\n").unwrap();
        let pem_text = pem.to_str().unwrap();
        let taken = resolve(&ConfigLayer::default(), &env(&[("NODE_EXTRA_CA_CERTS", pem_text)]));
        assert_eq!(taken.sandbox.ca_bundle.as_deref(), Some(pem.as_path()));
        assert_eq!(taken.sandbox.ca_bundle_from.as_deref(), Some("NODE_EXTRA_CA_CERTS"));
        // A variable naming no file is passed over; a configured bundle wins and nothing is taken.
        let missing = resolve(&ConfigLayer::default(), &env(&[("NODE_EXTRA_CA_CERTS", "/nowhere.pem")]));
        assert_eq!((missing.sandbox.ca_bundle, missing.sandbox.ca_bundle_from), (None, None));
        let mut layer = ConfigLayer::default();
        layer.sandbox.ca_bundle = Some("/etc/mine.pem".into());
        let chosen = resolve(&layer, &env(&[("SSL_CERT_FILE", pem_text)]));
        assert_eq!(chosen.sandbox.ca_bundle.as_deref(), Some(std::path::Path::new("/etc/mine.pem")));
        assert_eq!(chosen.sandbox.ca_bundle_from, None);
    }

    #[test]
    fn the_default_chain_is_every_usable_builtin_with_the_primary_first() {
        let none = resolve(&ConfigLayer::default(), &env(&[]));
        assert!(none.llm.default_chain().is_empty());
        assert!(none.llm.primary().is_none());

        let var = env(&[("GROQ_API_KEY", "gsk"), ("ANTHROPIC_API_KEY", "ant"), ("SAMOKODER_MODEL", "claude-x")]);
        let config = resolve(&ConfigLayer::default(), &var);
        assert_eq!(config.llm.default_chain(), ["anthropic", "groq"]);
        assert_eq!(
            config.llm.primary(),
            Some(("anthropic".into(), "claude-x".into())),
            "SAMOKODER_MODEL is the primary's model"
        );
        let groq = config.llm.providers.iter().find(|p| p.name == "groq").unwrap();
        assert_eq!((groq.base_url.as_str(), groq.model.as_str()), (GROQ_BASE_URL, GROQ_MODEL));

        let local = resolve(&ConfigLayer::default(), &env(&[("OPENAI_BASE_URL", "http://localhost:11434/v1")]));
        assert_eq!(local.llm.default_chain(), ["ollama"], "a base URL alone is a usable local server");
    }

    #[test]
    fn roles_params_budget_and_named_providers_come_from_toml() {
        let toml = r#"
            [llm.providers.local]
            kind = "openai"
            base_url = "http://127.0.0.1:9/v1"
            model = "qwen"
            max_concurrency = 2
            [llm.roles]
            code_monkey = ["local", "openai/gpt-4o-mini"]
            [llm.params.code_monkey]
            temperature = 0.1
            [llm.budget]
            max_usd = 0.5
            [llm.prices."qwen"]
            input = 0.0
            output = 0.0
        "#;
        let layer: ConfigLayer = toml::from_str(toml).unwrap();
        let config = resolve(&layer, &env(&[("OPENAI_API_KEY", "sk")]));
        let local = config.llm.providers.iter().find(|p| p.name == "local").unwrap();
        assert_eq!((local.model.as_str(), local.limits.max_concurrency, local.usable.is_ok()), ("qwen", Some(2), true));
        assert_eq!(config.llm.roles["code_monkey"], ["local", "openai/gpt-4o-mini"]);
        assert_eq!(config.llm.params["code_monkey"].temperature, Some(0.1));
        assert_eq!(config.llm.budget.max_usd, Some(0.5));
        assert_eq!(config.llm.default_chain(), ["openai"], "named providers join chains only where routed");
    }
}
