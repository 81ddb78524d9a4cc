//! The configuration's layers as they are written: every key optional, merged lowest first.

use std::collections::BTreeMap;
use std::path::PathBuf;

use samokoder_llm::{ApiKey, Price, ProviderKind};
use serde::Deserialize;

/// One layer of configuration: every key optional. TOML files use snake_case or camelCase keys; editor
/// settings use camelCase.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct ConfigLayer {
    pub llm: LlmLayer,
    pub sandbox: SandboxLayer,
    pub editor: EditorLayer,
    pub run: RunLayer,
    /// The editor's own tracing setting (`samokoder.trace.server` in VS Code); read by the editor, not us.
    #[schemars(skip)]
    pub trace: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct LlmLayer {
    /// The name of the default OpenAI-compatible provider in messages, logs and role chains: "openai",
    /// "ollama", "lmstudio", ...; guessed from the base URL when absent.
    pub provider: Option<String>,
    /// The default provider's endpoint, up to the version segment: `https://api.openai.com/v1`,
    /// `http://localhost:11434/v1` (Ollama), `http://localhost:8080/v1` (llama.cpp), ...
    #[serde(alias = "base_url")]
    pub base_url: Option<String>,
    /// The default provider's API key. Accepted from editor settings and the environment only.
    #[serde(alias = "api_key")]
    #[schemars(with = "Option<String>")]
    pub api_key: Option<ApiKey>,
    /// The model of the primary provider, for every agent without its own.
    pub model: Option<String>,
    /// More providers, by name: `[llm.providers.local] kind = "openai", base_url = "http://..."`. The
    /// built-in names `openai`, `anthropic` and `groq` can be configured here too.
    pub providers: BTreeMap<String, ProviderLayer>,
    /// Role -> chain: `code_monkey = ["groq/llama-3.1-8b-instant", "openai/gpt-4o-mini"]`; the first answers,
    /// the rest take over when it is down. `default` is the chain of roles without their own.
    pub roles: BTreeMap<String, Vec<String>>,
    /// Role -> parameters: `[llm.params.code_monkey] temperature = 0.1`.
    pub params: BTreeMap<String, ParamsLayer>,
    /// Limits per run.
    pub budget: BudgetLayer,
    /// Model -> USD per million tokens: `[llm.prices."my-model"] input = 1.0, output = 2.0`.
    pub prices: BTreeMap<String, Price>,
    /// The embedded model, used when no other provider is configured.
    pub local: LocalLayer,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct LocalLayer {
    /// A GGUF file; else the model `samokoder model fetch` put in the cache (1.5B, then 0.5B).
    #[serde(alias = "model_path")]
    pub model_path: Option<PathBuf>,
    /// CPU threads (default: every core).
    pub threads: Option<usize>,
    /// One request's context window in tokens, prompt and reply (default 8192, capped at the model's).
    #[serde(alias = "context_tokens")]
    pub context_tokens: Option<u32>,
    /// Requests decoded together in one batch (default 4); the KV cache holds a context for each.
    pub parallel: Option<usize>,
    /// The sampler's seed (default 0x5eed): the same request and seed give the same reply.
    pub seed: Option<u32>,
    /// MiB for keeping the model's KV cache between requests (default 1024; 0 turns it off): a request that
    /// starts like an earlier one (system prompt, rules, spec) reads only the rest.
    #[serde(alias = "cache_mb")]
    pub cache_mb: Option<u64>,
    /// The most tokens prompt-lookup decoding guesses at once (default 16; 0 turns it off). A guess is the
    /// tokens that followed the reply's last few tokens where they occur earlier in the prompt or reply; the
    /// model keeps what its own sampler confirms, so replies are the same with it on or off, only faster.
    #[serde(alias = "draft_max")]
    pub draft_max: Option<usize>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct ProviderLayer {
    /// `openai` (any Chat Completions server) or `anthropic`.
    pub kind: Option<ProviderKind>,
    /// Its endpoint, up to the version segment.
    #[serde(alias = "base_url")]
    pub base_url: Option<String>,
    /// Its model, for the roles that name the provider without one.
    pub model: Option<String>,
    /// From editor settings only (never a workspace file).
    #[serde(alias = "api_key")]
    #[schemars(with = "Option<String>")]
    pub api_key: Option<ApiKey>,
    /// The environment variable holding the key.
    #[serde(alias = "api_key_env")]
    pub api_key_env: Option<String>,
    /// Requests in flight at once (default 8).
    #[serde(alias = "max_concurrency")]
    pub max_concurrency: Option<usize>,
    /// Tokens per minute across all of a run's calls to this provider.
    #[serde(alias = "tokens_per_minute")]
    pub tokens_per_minute: Option<u64>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct ParamsLayer {
    /// Sampling temperature.
    pub temperature: Option<f32>,
    /// The longest reply, in tokens.
    #[serde(alias = "max_tokens")]
    pub max_tokens: Option<u32>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct BudgetLayer {
    /// Dollars one run may spend on models.
    #[serde(alias = "max_usd")]
    pub max_usd: Option<f64>,
    /// Tokens one run may use.
    #[serde(alias = "max_tokens")]
    pub max_tokens: Option<u64>,
    /// Fix iterations (the troubleshooter's tries) one run may make, over all its tasks (default 4).
    #[serde(alias = "max_fix_iterations")]
    pub max_fix_iterations: Option<usize>,
}

/// How a run makes sure of its code.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct RunLayer {
    /// Candidates drawn for one function or small module (default 4), decoded together and chosen by
    /// running them against the stated examples and generated tests (docs/agents.md); 1 draws one and
    /// lands it.
    pub candidates: Option<usize>,
    /// The examples the user stated (in the description, the spec, doc comments) run as checks before the
    /// tests, outrank every generated test, and a run whose examples fail has failed (default true).
    pub oracle: Option<bool>,
}

/// How runs meet the user in an editor.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct EditorLayer {
    /// Every change a run makes to the project waits for the user's review (change annotations, or
    /// `.samokoder/pending.diff`) before it lands; the run's own files under `.samokoder/` do not.
    pub review: Option<bool>,
    /// A question asked in the editor (`samokoder/ask`, `window/showMessageRequest`) with no answer after this
    /// many seconds goes to `.samokoder/questions.md` instead.
    #[serde(alias = "ask_timeout_secs")]
    pub ask_timeout_secs: Option<u64>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq, schemars::JsonSchema)]
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
    /// A test run that prints nothing for this many seconds is killed (0 turns this off).
    #[serde(alias = "no_output_secs")]
    pub no_output_secs: Option<u64>,
    /// The warm container is removed after this many idle seconds.
    #[serde(alias = "idle_stop_secs")]
    pub idle_stop_secs: Option<u64>,
    /// The Docker network of steps that need one (installs): `bridge`, `host`, or a network's name.
    pub network: Option<String>,
    /// A PEM bundle given to network steps, for registries behind an intercepting proxy.
    #[serde(alias = "ca_bundle")]
    pub ca_bundle: Option<PathBuf>,
    /// Directories normally left out of the sync (node_modules, dist, build, coverage, .next) to send anyway.
    #[serde(alias = "sync_include")]
    pub sync_include: Option<Vec<String>>,
    /// The Docker engine (`unix:///var/run/docker.sock`, `tcp://host:2375`); `DOCKER_HOST` when unset.
    #[serde(alias = "docker_host")]
    pub docker_host: Option<String>,
}

impl ConfigLayer {
    /// `other` wins where it sets a key; maps merge by key.
    pub fn merge(&mut self, other: ConfigLayer) {
        macro_rules! take {
            ($($section:ident . $($key:ident).+),*) => { $( if other.$section.$($key).+.is_some() { self.$section.$($key).+ = other.$section.$($key).+; } )* };
        }
        take!(llm.provider, llm.base_url, llm.api_key, llm.model, llm.budget.max_usd, llm.budget.max_tokens);
        take!(llm.budget.max_fix_iterations);
        take!(llm.local.model_path, llm.local.threads, llm.local.context_tokens, llm.local.parallel, llm.local.seed);
        take!(llm.local.cache_mb, llm.local.draft_max);
        take!(sandbox.image, sandbox.test_command, sandbox.timeout_secs, sandbox.memory_mb, sandbox.cpus, sandbox.pids);
        take!(sandbox.no_output_secs, sandbox.idle_stop_secs, sandbox.network, sandbox.ca_bundle, sandbox.sync_include);
        take!(sandbox.docker_host, editor.review, editor.ask_timeout_secs, run.candidates, run.oracle);
        for (name, p) in other.llm.providers {
            let mine = self.llm.providers.entry(name).or_default();
            macro_rules! field {
                ($($f:ident),*) => { $( if p.$f.is_some() { mine.$f = p.$f; } )* };
            }
            field!(kind, base_url, model, api_key, api_key_env, max_concurrency, tokens_per_minute);
        }
        self.llm.roles.extend(other.llm.roles);
        self.llm.params.extend(other.llm.params);
        self.llm.prices.extend(other.llm.prices);
    }

    /// Parses editor settings: either the `samokoder` section itself or an object holding it. Values out of
    /// their range are dropped, each named in the problems returned beside the layer.
    pub fn from_json(value: &serde_json::Value) -> Result<(Self, Vec<String>), String> {
        let section = value.get("samokoder").unwrap_or(value);
        if section.is_null() {
            return Ok((Self::default(), Vec::new()));
        }
        let mut layer: Self =
            serde_json::from_value(section.clone()).map_err(|e| format!("editor settings (samokoder): {e}"))?;
        let problems = super::ranges::check(&mut layer, "editor settings (samokoder)");
        Ok((layer, problems))
    }

    /// The environment layer, following the providers' SDKs.
    pub fn from_env(var: &dyn Fn(&str) -> Option<String>) -> Self {
        let var = |k: &str| var(k).filter(|v| !v.trim().is_empty());
        let mut layer = Self::default();
        layer.llm.api_key = var("OPENAI_API_KEY").map(ApiKey::new);
        layer.llm.base_url = var("OPENAI_BASE_URL");
        layer.llm.model = var("SAMOKODER_MODEL");
        for (name, key_var, url_var) in
            [("anthropic", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"), ("groq", "GROQ_API_KEY", "GROQ_BASE_URL")]
        {
            let (key, url) = (var(key_var), var(url_var));
            if key.is_some() || url.is_some() {
                let p = layer.llm.providers.entry(name.to_owned()).or_default();
                p.api_key = key.map(ApiKey::new);
                p.base_url = url;
            }
        }
        layer.llm.local.model_path = var("SAMOKODER_LOCAL_MODEL").map(PathBuf::from);
        layer.sandbox.image = var("SAMOKODER_SANDBOX_IMAGE");
        layer
    }
}
