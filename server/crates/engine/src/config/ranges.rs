//! Every numeric setting has a range, checked when a layer is read: a value outside it is dropped (the
//! next layer's, else the default, applies) and named with its source, key and range. A cloned repository
//! can ship `.samokoder/config.toml`, so a workspace file must never weaken the sandbox past sane bounds
//! (tried: `memory_mb = 17592186044416` overflowed to a container with `Memory=0`, which Docker reads as no
//! limit), nor make a deadline overflow.

use std::fmt::Display;
use std::ops::RangeInclusive;

use super::ConfigLayer;

/// Drops each value of `layer` outside its range; one line per value dropped, naming `source`.
pub fn check(layer: &mut ConfigLayer, source: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let mut keep = |key: &str, value: &mut dyn Checked| {
        if let Some(why) = value.out_of_range() {
            problems.push(format!("{source}: {key} {why}; it is ignored"));
            value.clear();
        }
    };
    const DAY: u64 = 24 * 60 * 60;
    let l = &mut layer.llm.local;
    keep("llm.local.threads", &mut (&mut l.threads, 1..=1024));
    keep("llm.local.context_tokens", &mut (&mut l.context_tokens, 256..=1 << 20));
    keep("llm.local.parallel", &mut (&mut l.parallel, 1..=64));
    keep("llm.local.cache_mb", &mut (&mut l.cache_mb, 0..=1 << 20));
    keep("llm.local.draft_max", &mut (&mut l.draft_max, 0..=256));
    for (name, p) in &mut layer.llm.providers {
        keep(&format!("llm.providers.{name}.max_concurrency"), &mut (&mut p.max_concurrency, 1..=1024));
        keep(&format!("llm.providers.{name}.tokens_per_minute"), &mut (&mut p.tokens_per_minute, 1..=1 << 40));
    }
    for (role, p) in &mut layer.llm.params {
        keep(&format!("llm.params.{role}.temperature"), &mut (&mut p.temperature, 0.0..=2.0));
        keep(&format!("llm.params.{role}.max_tokens"), &mut (&mut p.max_tokens, 1..=1 << 20));
    }
    let b = &mut layer.llm.budget;
    keep("llm.budget.max_usd", &mut (&mut b.max_usd, 0.0..=1e6));
    keep("llm.budget.max_tokens", &mut (&mut b.max_tokens, 1..=1 << 40));
    keep("llm.budget.max_fix_iterations", &mut (&mut b.max_fix_iterations, 0..=1000));
    let s = &mut layer.sandbox;
    keep("sandbox.timeout_secs", &mut (&mut s.timeout_secs, 1..=DAY));
    keep("sandbox.memory_mb", &mut (&mut s.memory_mb, 64..=1 << 20));
    keep("sandbox.cpus", &mut (&mut s.cpus, 0.1..=1024.0));
    keep("sandbox.pids", &mut (&mut s.pids, 16..=1 << 20));
    keep("sandbox.no_output_secs", &mut (&mut s.no_output_secs, 0..=DAY));
    keep("sandbox.idle_stop_secs", &mut (&mut s.idle_stop_secs, 1..=7 * DAY));
    keep("editor.ask_timeout_secs", &mut (&mut layer.editor.ask_timeout_secs, 1..=DAY));
    keep("run.candidates", &mut (&mut layer.run.candidates, 1..=super::MAX_CANDIDATES));
    problems
}

/// A setting and its range.
trait Checked {
    /// `= 5 is outside 64..=1048576`, when set and outside.
    fn out_of_range(&self) -> Option<String>;
    fn clear(&mut self);
}

impl<T: PartialOrd + Display> Checked for (&mut Option<T>, RangeInclusive<T>) {
    fn out_of_range(&self) -> Option<String> {
        let value = self.0.as_ref()?;
        // `contains` is false for NaN, as it must be.
        (!self.1.contains(value)).then(|| format!("= {value} is outside {}..={}", self.1.start(), self.1.end()))
    }

    fn clear(&mut self) {
        *self.0 = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(toml_text: &str) -> ConfigLayer {
        toml::from_str(toml_text).unwrap()
    }

    #[test]
    fn a_memory_limit_that_would_overflow_is_dropped_and_named_with_its_file_and_range() {
        let mut l = layer("[sandbox]\nmemory_mb = 17592186044416\ntimeout_secs = 30\n");
        let problems = check(&mut l, "/w/.samokoder/config.toml");
        assert_eq!(
            problems,
            ["/w/.samokoder/config.toml: sandbox.memory_mb = 17592186044416 is outside 64..=1048576; it is ignored"]
        );
        assert_eq!(l.sandbox.memory_mb, None);
        assert_eq!(l.sandbox.timeout_secs, Some(30), "what is in range stays");
    }

    #[test]
    fn every_kind_of_value_out_of_range_is_caught_and_the_edges_are_in() {
        let mut l = layer(
            "[sandbox]\ntimeout_secs = 18446744073709551615\ncpus = 0.0\npids = -1\nno_output_secs = 0\n\
             [run]\ncandidates = 0\n[llm.budget]\nmax_usd = nan\n[llm.params.code_monkey]\ntemperature = 2.0\n\
             [llm.providers.x]\nmax_concurrency = 0\n",
        );
        let problems = check(&mut l, "f");
        let keys: Vec<&str> = problems.iter().map(|p| p.split(' ').nth(1).unwrap()).collect();
        assert_eq!(
            keys,
            [
                "llm.providers.x.max_concurrency",
                "llm.budget.max_usd",
                "sandbox.timeout_secs",
                "sandbox.cpus",
                "sandbox.pids",
                "run.candidates"
            ]
        );
        assert_eq!(l.sandbox.no_output_secs, Some(0), "0 turns the idle limit off: in range");
        assert_eq!(l.llm.params["code_monkey"].temperature, Some(2.0));
    }
}
