//! The configuration's providers and role chains, as a [`Router`]; and the store as its request log.

use std::sync::Arc;

use samokoder_llm::{AgentRole, Limits, LlmRecord, PriceTable, ProviderConfig, RequestLog, Route, Router, connect};
use samokoder_store::Store;

use crate::config::LlmSettings;

/// What to do when no provider is usable: every way forward.
pub const NO_PROVIDER_HINT: &str = "set OPENAI_API_KEY, ANTHROPIC_API_KEY or GROQ_API_KEY; or OPENAI_BASE_URL for a \
     local server (Ollama http://localhost:11434/v1, llama.cpp http://localhost:8080/v1, vLLM, LM Studio \
     http://localhost:1234/v1); or run `samokoder model fetch` for the embedded model (no key, no network); or \
     samokoder.llm.* in your editor settings (see docs/config.md)";

/// Builds the router; the problems are configuration mistakes worth telling the user.
pub fn build_router(settings: &LlmSettings, log: Arc<dyn RequestLog>) -> (Router, Vec<String>) {
    let prices = PriceTable::default().with_overrides(&settings.prices);
    let mut router = Router::new(prices, log);
    router.set_hint(NO_PROVIDER_HINT);
    let mut problems = Vec::new();
    for p in &settings.providers {
        if let Err(why) = &p.usable {
            router.add_unavailable(&p.name, why.clone());
            continue;
        }
        let mut config = match p.kind {
            samokoder_llm::ProviderKind::OpenAi => ProviderConfig::openai(&p.base_url, &p.model),
            samokoder_llm::ProviderKind::Anthropic => ProviderConfig::anthropic(&p.base_url, &p.model),
            samokoder_llm::ProviderKind::Local => {
                match local_backend(p) {
                    Ok(backend) => {
                        let limits = Arc::new(Limits::new(&p.limits));
                        router.add_provider(&p.name, backend, limits);
                    }
                    Err(e) => {
                        router.add_unavailable(&p.name, e.to_string());
                        problems.push(format!("provider {}: {e}", p.name));
                    }
                }
                continue;
            }
        };
        config.name = p.name.clone();
        config.api_key = p.api_key.clone();
        config.key_source = p.key_source.clone();
        match connect(config) {
            Ok(backend) => router.add_provider(&p.name, backend, Arc::new(Limits::new(&p.limits))),
            Err(e) => {
                router.add_unavailable(&p.name, e.to_string());
                problems.push(format!("provider {}: {e}", p.name));
            }
        }
    }
    for name in settings.roles.keys().chain(settings.params.keys()) {
        if name != "default" && AgentRole::parse(name).is_none() {
            let roles: Vec<&str> = AgentRole::ALL.iter().map(|r| r.as_str()).collect();
            problems.push(format!("unknown role `{name}` in samokoder.llm; roles are default, {}", roles.join(", ")));
        }
    }
    for chain in settings.roles.values() {
        for link in chain {
            let route = Route::parse(link);
            if !settings.providers.iter().any(|p| p.name == route.provider) {
                problems.push(format!(
                    "the role chain names `{}`, which is not a provider; add [llm.providers.{}]",
                    link, route.provider
                ));
            }
        }
    }
    let default_chain = settings.default_chain();
    let routes = |chain: &[String], role: &str| -> Vec<Route> {
        let params = settings.params.get(role).or_else(|| settings.params.get("default"));
        chain
            .iter()
            .map(|link| {
                let mut route = Route::parse(link);
                if let Some(params) = params {
                    route.temperature = params.temperature;
                    route.max_tokens = params.max_tokens;
                }
                route
            })
            .collect()
    };
    router.set_chain(None, routes(&default_chain, "default"));
    for role in AgentRole::ALL {
        let chain = settings.roles.get(role.as_str()).cloned().unwrap_or_else(|| default_chain.clone());
        router.set_chain(Some(role), routes(&chain, role.as_str()));
    }
    (router, problems)
}

#[cfg(feature = "local-llm")]
fn local_backend(p: &crate::config::ProviderSettings) -> samokoder_llm::Result<Arc<dyn samokoder_llm::LlmBackend>> {
    let mut config = samokoder_llm::LocalConfig::new(p.local.model_path.clone().unwrap_or_default());
    config.name = p.name.clone();
    if let Some(threads) = p.local.threads {
        config.threads = threads;
    }
    if let Some(tokens) = p.local.context_tokens {
        config.context_tokens = tokens;
    }
    if let Some(parallel) = p.local.parallel {
        config.parallel = parallel;
    }
    if let Some(seed) = p.local.seed {
        config.seed = seed;
    }
    if let Some(cache_mb) = p.local.cache_mb {
        config.cache_mb = cache_mb;
    }
    if let Some(draft_max) = p.local.draft_max {
        config.draft_max = draft_max;
    }
    Ok(Arc::new(samokoder_llm::Local::new(config)?))
}

#[cfg(not(feature = "local-llm"))]
fn local_backend(_: &crate::config::ProviderSettings) -> samokoder_llm::Result<Arc<dyn samokoder_llm::LlmBackend>> {
    Err(samokoder_llm::LlmError::NotConfigured {
        hint: "this samokoder was built without the local-llm feature".into(),
    })
}

/// The store as the router's request log. A record that cannot be stored is logged, never fatal.
pub struct StoreLog(pub Arc<dyn Store>);

impl RequestLog for StoreLog {
    fn record(&self, record: LlmRecord) {
        let run = record.run_id.clone().unwrap_or_else(|| "-".to_owned());
        match serde_json::to_value(&record) {
            Ok(value) => {
                if let Err(e) = self.0.append_llm_request(&run, &value) {
                    tracing::warn!(error = %e, "could not record an LLM request");
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not serialise an LLM request"),
        }
    }
}
