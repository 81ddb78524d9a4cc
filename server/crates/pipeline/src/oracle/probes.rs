//! Other inputs, made without a model: each stated example's arguments changed one at a time in the ways
//! that split right code from wrong (an empty list, one element, the list reversed, a repeated element; an
//! empty string, one character, the string reversed or in capitals; 0, 1, a negative, a larger number; the
//! other boolean). Candidates are run on them with no expected value: what they give only groups candidates
//! that behave alike, so that one that copied the examples into a lookup table, or that is right only on
//! the examples, stands apart from the ones that agree.

use super::Example;
use super::literal::{Lit, Reader};

/// At most this many probes: each is a call per candidate, milliseconds each.
pub const MAX_PROBES: usize = 16;

/// Calls of the examples' functions on changed arguments, none of them a call in `examples`.
pub fn probes(examples: &[Example]) -> Vec<String> {
    let per_example: Vec<Vec<String>> = examples
        .iter()
        .map(|example| {
            let Some(args) = arguments(&example.call, &example.callee) else { return Vec::new() };
            let mut calls = Vec::new();
            for (i, arg) in args.iter().enumerate() {
                for changed in variants(arg) {
                    let mut call_args: Vec<String> = args.iter().map(Lit::to_js).collect();
                    call_args[i] = changed.to_js();
                    calls.push(format!("{}({})", example.callee, call_args.join(", ")));
                }
            }
            calls
        })
        .collect();
    // Spread over the examples: the first variants of each come before the later ones of any.
    let mut out: Vec<String> = Vec::new();
    let longest = per_example.iter().map(Vec::len).max().unwrap_or(0);
    for round in 0..longest {
        for call in per_example.iter().filter_map(|calls| calls.get(round)) {
            if out.len() < MAX_PROBES && !examples.iter().any(|e| e.call == *call) && !out.contains(call) {
                out.push(call.clone());
            }
        }
    }
    out
}

/// The literal arguments of `call` (`callee(...)`).
fn arguments(call: &str, callee: &str) -> Option<Vec<Lit>> {
    let rest = call.strip_prefix(callee)?;
    let mut r = Reader::new(rest);
    if !r.eat('(') {
        return None;
    }
    let mut args = Vec::new();
    if r.eat(')') {
        return Some(args);
    }
    loop {
        args.push(r.literal()?);
        if r.eat(')') {
            return Some(args);
        }
        if !r.eat(',') {
            return None;
        }
    }
}

fn variants(arg: &Lit) -> Vec<Lit> {
    match arg {
        Lit::Array(items) => {
            let mut out = vec![Lit::Array(Vec::new())];
            if let Some(first) = items.first() {
                out.push(Lit::Array(vec![first.clone()]));
                let mut repeated = items.clone();
                repeated.push(first.clone());
                out.push(Lit::Array(repeated));
            }
            if items.len() > 1 {
                out.push(Lit::Array(items.iter().rev().cloned().collect()));
            }
            out
        }
        Lit::Str(s) => {
            let mut out = vec![Lit::Str(String::new())];
            if let Some(c) = s.chars().next() {
                out.push(Lit::Str(c.to_string()));
            }
            if s.chars().count() > 1 {
                out.push(Lit::Str(s.chars().rev().collect()));
            }
            let upper = s.to_uppercase();
            if upper != *s {
                out.push(Lit::Str(upper));
            }
            out
        }
        Lit::Number(n) => {
            let Ok(value) = n.parse::<f64>() else { return Vec::new() };
            let integer = !n.contains(['.', 'e', 'E']) && value.abs() < 1e9;
            let mut out: Vec<f64> = vec![0.0, 1.0, value + 1.0, -value.abs() - 1.0, value * 2.0 + 3.0];
            if !integer {
                out.push(value / 2.0);
            }
            out.dedup();
            out.into_iter()
                .filter(|v| *v != value)
                .map(|v| Lit::Number(if integer { format!("{}", v as i64) } else { format!("{v:?}") }))
                .collect()
        }
        Lit::Bool(b) => vec![Lit::Bool(!b)],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oracle::Expect;

    fn example(callee: &str, call: &str) -> Example {
        Example {
            callee: callee.into(),
            call: call.into(),
            expect: Expect::Nullish,
            quote: String::new(),
            origin: String::new(),
            module: None,
        }
    }

    #[test]
    fn each_argument_is_changed_alone_and_no_stated_call_comes_back() {
        let found = probes(&[example("longest", "longest(['a', 'bb'])"), example("longest", "longest([])")]);
        assert_eq!(found, ["longest(['a'])", "longest(['a', 'bb', 'a'])", "longest(['bb', 'a'])"]);
        let found = probes(&[example("slice", "slice('ab', 2)")]);
        assert_eq!(
            found,
            [
                "slice('', 2)",
                "slice('a', 2)",
                "slice('ba', 2)",
                "slice('AB', 2)",
                "slice('ab', 0)",
                "slice('ab', 1)",
                "slice('ab', 3)",
                "slice('ab', -3)",
                "slice('ab', 7)"
            ]
        );
        assert_eq!(
            probes(&[example("half", "half(3.5)")]),
            ["half(0.0)", "half(1.0)", "half(4.5)", "half(-4.5)", "half(10.0)", "half(1.75)"]
        );
        assert!(probes(&[example("f", "f(null)")]).is_empty());
    }
}
