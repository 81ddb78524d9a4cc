//! Routing: each agent role maps to a chain of provider + model + parameters. The first link answers; when
//! its retries are exhausted or it is down, the next one takes the request, and the switch is logged and
//! reported in the completion. Every call is priced against the run's budget, queued under its provider's
//! limits, and recorded in the request log.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use crate::json::parse_reply;
use crate::{
    Budget, ChatRequest, Completion, JsonSchema, Limits, LlmBackend, LlmError, LlmRecord, Message, PriceTable,
    RequestLog, Result, StreamEvent, estimate_prompt_tokens,
};

/// The agents of a run, each of which can have its own model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentRole {
    SpecWriter,
    Architect,
    TechLead,
    Developer,
    CodeMonkey,
    BugHunter,
    Troubleshooter,
}

impl AgentRole {
    pub const ALL: [AgentRole; 7] = [
        Self::SpecWriter,
        Self::Architect,
        Self::TechLead,
        Self::Developer,
        Self::CodeMonkey,
        Self::BugHunter,
        Self::Troubleshooter,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::SpecWriter => "spec_writer",
            Self::Architect => "architect",
            Self::TechLead => "tech_lead",
            Self::Developer => "developer",
            Self::CodeMonkey => "code_monkey",
            Self::BugHunter => "bug_hunter",
            Self::Troubleshooter => "troubleshooter",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == name)
    }
}

impl fmt::Display for AgentRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One link of a role's chain.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Route {
    pub provider: String,
    /// `None`: the provider's default model.
    pub model: Option<String>,
    pub temperature: Option<f32>,
    pub max_tokens: Option<u32>,
}

impl Route {
    /// `provider` or `provider/model` (the model may hold slashes: `openrouter/openai/gpt-4o`).
    pub fn parse(text: &str) -> Self {
        match text.split_once('/') {
            Some((provider, model)) if !model.is_empty() => {
                Self { provider: provider.trim().to_owned(), model: Some(model.trim().to_owned()), ..Self::default() }
            }
            _ => Self { provider: text.trim().trim_end_matches('/').to_owned(), ..Self::default() },
        }
    }
}

struct Provider {
    backend: Arc<dyn LlmBackend>,
    limits: Arc<Limits>,
}

/// Roles to providers, with limits, prices, budget checks and the request log.
pub struct Router {
    providers: HashMap<String, Provider>,
    /// Providers named in routes that could not be set up, and why (no key, ...).
    unavailable: HashMap<String, String>,
    routes: HashMap<AgentRole, Vec<Route>>,
    default_chain: Vec<Route>,
    prices: PriceTable,
    log: Arc<dyn RequestLog>,
    /// What to tell the user when no provider can take a request.
    hint: String,
    /// Output tokens assumed for budgeting a call that sets no `max_tokens`.
    pub assumed_output_tokens: u32,
}

/// What a call is part of.
#[derive(Clone, Copy)]
pub struct CallContext<'a> {
    pub budget: &'a Budget,
    pub run_id: Option<&'a str>,
    /// Links of the role's chain to pass over: 0 starts at the first; a fix loop escalates to a stronger
    /// model by starting further down the chain.
    pub tier: usize,
}

impl Router {
    pub fn new(prices: PriceTable, log: Arc<dyn RequestLog>) -> Self {
        Self {
            providers: HashMap::new(),
            unavailable: HashMap::new(),
            routes: HashMap::new(),
            default_chain: Vec::new(),
            prices,
            log,
            hint: "configure a provider (see docs/config.md)".to_owned(),
            assumed_output_tokens: 2048,
        }
    }

    /// What the error says when no provider can take a request (which settings to set).
    pub fn set_hint(&mut self, hint: impl Into<String>) {
        self.hint = hint.into();
    }

    pub fn add_provider(&mut self, name: &str, backend: Arc<dyn LlmBackend>, limits: Arc<Limits>) {
        self.unavailable.remove(name);
        self.providers.insert(name.to_owned(), Provider { backend, limits });
    }

    /// Records a provider that is named somewhere but cannot be used, and why.
    pub fn add_unavailable(&mut self, name: &str, why: impl Into<String>) {
        self.unavailable.insert(name.to_owned(), why.into());
    }

    /// The chain for `role`; `None` sets the default chain used by roles without their own.
    pub fn set_chain(&mut self, role: Option<AgentRole>, chain: Vec<Route>) {
        match role {
            Some(role) => {
                self.routes.insert(role, chain);
            }
            None => self.default_chain = chain,
        }
    }

    pub fn chain(&self, role: AgentRole) -> &[Route] {
        self.routes.get(&role).filter(|c| !c.is_empty()).unwrap_or(&self.default_chain)
    }

    /// "openai/gpt-4o-mini, then groq/llama-3.1-8b-instant" for `samokoder doctor`.
    pub fn describe(&self, role: AgentRole) -> String {
        let links: Vec<String> = self
            .chain(role)
            .iter()
            .map(|route| {
                let model = route
                    .model
                    .clone()
                    .or_else(|| self.providers.get(&route.provider).map(|p| p.backend.default_model().to_owned()))
                    .unwrap_or_else(|| "?".into());
                match self.unavailable.get(&route.provider) {
                    Some(why) => format!("{}/{model} (unavailable: {why})", route.provider),
                    None if !self.providers.contains_key(&route.provider) => {
                        format!("{}/{model} (not configured)", route.provider)
                    }
                    None => format!("{}/{model}", route.provider),
                }
            })
            .collect();
        if links.is_empty() { "no provider".to_owned() } else { links.join(", then ") }
    }

    /// The first provider of `role`'s chain that is set up, for a plain request.
    pub fn primary(&self, role: AgentRole) -> Option<(&str, Arc<dyn LlmBackend>)> {
        self.chain(role)
            .iter()
            .find_map(|r| self.providers.get(&r.provider).map(|p| (r.provider.as_str(), p.backend.clone())))
    }

    /// Streams one completion for `role` down its chain.
    pub async fn complete(
        &self,
        role: AgentRole,
        request: &ChatRequest,
        ctx: CallContext<'_>,
        on_event: &(dyn for<'e> Fn(StreamEvent<'e>) + Send + Sync),
    ) -> Result<Completion> {
        let full = self.chain(role);
        if ctx.tier > 0 && ctx.tier >= full.len() {
            return Err(LlmError::NotConfigured {
                hint: format!("{role} has no model past link {} of its chain to escalate to", full.len()),
            });
        }
        let chain = &full[ctx.tier.min(full.len())..];
        if chain.is_empty() || chain.iter().all(|r| !self.providers.contains_key(&r.provider)) {
            let named: Vec<String> = chain
                .iter()
                .map(|r| {
                    format!(
                        "{} ({})",
                        r.provider,
                        self.unavailable.get(&r.provider).map_or("not configured", String::as_str)
                    )
                })
                .collect();
            let why = if named.is_empty() { String::new() } else { format!(" ({role} uses {})", named.join(", ")) };
            return Err(LlmError::NotConfigured { hint: format!("{}{why}", self.hint) });
        }
        let mut failures: Vec<String> = Vec::new();
        let emitted = AtomicBool::new(false);
        let relay = |event: StreamEvent<'_>| {
            if matches!(event, StreamEvent::Delta(_)) {
                emitted.store(true, Ordering::Relaxed);
            }
            on_event(event);
        };
        for (i, route) in chain.iter().enumerate() {
            let Some(provider) = self.providers.get(&route.provider) else {
                let why = self.unavailable.get(&route.provider).cloned().unwrap_or_else(|| "not configured".into());
                failures.push(format!("{}: {why}", route.provider));
                continue;
            };
            let mut req = request.clone();
            req.model = req.model.or_else(|| route.model.clone());
            req.temperature = route.temperature.or(req.temperature);
            // The user's settings for the role win over the caller's defaults and estimate of the reply's size.
            req.max_tokens = route.max_tokens.or(req.max_tokens);
            let model = req.model.clone().unwrap_or_else(|| provider.backend.default_model().to_owned());
            if !failures.is_empty() {
                tracing::warn!(%role, to = %format!("{}/{model}", route.provider), after = %failures.join("; "), "falling back");
                if emitted.swap(false, Ordering::Relaxed) {
                    on_event(StreamEvent::Restart { attempt: i as u32 + 1 });
                }
            }
            let price = self.prices.price(&route.provider, &model);
            let prompt_estimate = estimate_prompt_tokens(&req);
            let output_estimate = u64::from(req.max_tokens.unwrap_or(self.assumed_output_tokens));
            let usd_estimate = price.map_or(0.0, |p| p.cost(prompt_estimate, output_estimate));
            let reservation = ctx.budget.reserve(usd_estimate, prompt_estimate + output_estimate)?;
            let permit = provider.limits.acquire(prompt_estimate + output_estimate).await;
            let started = Instant::now();
            let result = provider.backend.stream(&req, &relay).await;
            let mut record = LlmRecord {
                run_id: ctx.run_id.map(str::to_owned),
                role: role.as_str().to_owned(),
                provider: route.provider.clone(),
                model: model.clone(),
                messages: req.messages.clone(),
                response: String::new(),
                prompt_tokens: 0,
                cached_tokens: 0,
                completion_tokens: 0,
                usage_estimated: false,
                cost_usd: None,
                latency_ms: started.elapsed().as_millis() as u64,
                attempts: 1,
                status: "ok".into(),
                error: None,
                at_ms: SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0),
            };
            match result {
                Ok(mut completion) => {
                    completion.cost_usd =
                        price.map(|p| p.cost(completion.usage.prompt_tokens, completion.usage.completion_tokens));
                    completion.fallbacks = failures;
                    reservation.settle(completion.cost_usd.unwrap_or(0.0), completion.usage.total());
                    permit.settle(completion.usage.total());
                    record.response = completion.text.clone();
                    record.prompt_tokens = completion.usage.prompt_tokens;
                    record.cached_tokens = completion.usage.cached_tokens;
                    record.completion_tokens = completion.usage.completion_tokens;
                    record.usage_estimated = completion.usage.estimated;
                    record.cost_usd = completion.cost_usd;
                    record.attempts = completion.attempts;
                    self.log.record(record);
                    return Ok(completion);
                }
                Err(err) => {
                    drop(reservation);
                    permit.settle(prompt_estimate);
                    record.status = "error".into();
                    record.error = Some(err.to_string());
                    record.attempts = match &err {
                        LlmError::Exhausted { attempts, .. } => *attempts,
                        _ => 1,
                    };
                    self.log.record(record);
                    let last = i + 1 == chain.len();
                    if !err.is_provider_failure() || (last && failures.is_empty()) {
                        return Err(err);
                    }
                    failures.push(format!("{}/{model}: {err}", route.provider));
                }
            }
        }
        Err(LlmError::AllFailed { role: role.as_str().to_owned(), errors: failures })
    }

    /// A typed value from `role`'s model. The schema goes to the provider's structured-output mode where it
    /// has one; the reply is extracted from prose or fences, repaired (trailing commas, comments), and
    /// parsed into `T`; on failure the model is shown its reply and the exact error and asked again, at most
    /// `max_repairs` times. Returns the value and the last completion.
    pub async fn complete_json<T>(
        &self,
        role: AgentRole,
        request: &ChatRequest,
        ctx: CallContext<'_>,
        max_repairs: u32,
    ) -> Result<(T, Completion)>
    where
        T: serde::de::DeserializeOwned + schemars::JsonSchema,
    {
        let schema = schemars::schema_for!(T);
        let schema_value = serde_json::to_value(&schema).unwrap_or_default();
        let name = T::schema_name().chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').collect::<String>();
        let mut req = request.clone();
        req.json_schema = Some(JsonSchema {
            name: if name.is_empty() { "reply".into() } else { name },
            schema: schema_value.clone(),
        });
        if let Some(last_user) = req.messages.iter_mut().rev().find(|m| m.role == crate::Role::User) {
            last_user.content.push_str(&format!(
                "\n\nReply with one JSON value that matches this JSON schema, and nothing else:\n{schema_value}"
            ));
        }
        let mut attempts = 0;
        loop {
            attempts += 1;
            let completion = self.complete(role, &req, ctx, &|_| {}).await?;
            match parse_reply::<T>(&completion.text) {
                Ok(value) => return Ok((value, completion)),
                Err(message) if attempts > max_repairs => {
                    return Err(LlmError::InvalidJson {
                        provider: completion.provider,
                        model: completion.model,
                        attempts,
                        message,
                        last_reply: completion.text,
                    });
                }
                Err(message) => {
                    tracing::info!(%role, attempt = attempts, error = %message, "asking the model to repair its JSON");
                    req.messages.push(Message::assistant(completion.text));
                    req.messages.push(Message::user(format!(
                        "That reply is not valid: {message}. Reply again with only the corrected JSON value, matching the schema."
                    )));
                }
            }
        }
    }
}

/// Runs the futures concurrently (their provider limits decide how many talk at once), keeping input
/// order; when `cancel` fires, the unfinished ones stop and report `Cancelled`.
pub async fn gather<T, F>(futures: Vec<F>, cancel: &CancellationToken) -> Vec<Result<T>>
where
    F: Future<Output = Result<T>>,
{
    let mut results: Vec<Option<Result<T>>> = (0..futures.len()).map(|_| None).collect();
    let mut pending: FuturesUnordered<_> =
        futures.into_iter().enumerate().map(|(i, f)| async move { (i, f.await) }).collect();
    loop {
        tokio::select! {
            biased;
            _ = cancel.cancelled() => break,
            next = pending.next() => match next {
                Some((i, result)) => results[i] = Some(result),
                None => break,
            },
        }
    }
    results.into_iter().map(|r| r.unwrap_or(Err(LlmError::Cancelled))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_parse_with_slashes_in_model_names() {
        assert_eq!(Route::parse("groq"), Route { provider: "groq".into(), ..Default::default() });
        assert_eq!(Route::parse("openai/gpt-4o").model.as_deref(), Some("gpt-4o"));
        let r = Route::parse("openrouter/openai/gpt-4o");
        assert_eq!((r.provider.as_str(), r.model.as_deref()), ("openrouter", Some("openai/gpt-4o")));
    }

    #[tokio::test]
    async fn gather_keeps_order_and_stops_on_cancel() {
        let cancel = CancellationToken::new();
        let futures: Vec<_> = [30u64, 10, 20]
            .into_iter()
            .map(|ms| async move {
                tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
                Ok(ms)
            })
            .collect();
        let results: Vec<u64> = gather(futures, &cancel).await.into_iter().map(|r| r.unwrap()).collect();
        assert_eq!(results, [30, 10, 20]);

        let slow: Vec<_> = [5u64, 10_000]
            .into_iter()
            .map(|ms| async move {
                tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
                Ok(ms)
            })
            .collect();
        let canceller = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            canceller.cancel();
        });
        let results = gather(slow, &cancel).await;
        assert_eq!(results[0].as_ref().ok(), Some(&5));
        assert!(matches!(results[1], Err(LlmError::Cancelled)));
    }
}
