//! Sampling under a grammar: the JSON schema's grammar, and steering a JSON value to its end.

use llama_cpp_2::sampling::LlamaSampler;

/// Tokens kept for closing a JSON value: enough for a few required fields after the open strings,
/// arrays and objects are closed.
pub(super) const CLOSING_RESERVE: u32 = 128;

/// For every token: whether its text is only closing quotes and brackets (whitespace aside), or an end of
/// generation.
pub(super) fn closing_tokens(vocab: &llama_cpp_2::vocab::LlamaVocab<'_>) -> Vec<bool> {
    (0..vocab.n_tokens())
        .map(|id| {
            let token = llama_cpp_2::token::LlamaToken(id);
            let piece = vocab.token_to_piece(token, false, None);
            let text = String::from_utf8_lossy(&piece);
            let t = text.trim();
            vocab.is_eog(token) || (!t.is_empty() && t.chars().all(|c| matches!(c, '"' | ']' | '}')))
        })
        .collect()
}

/// The next token while a JSON value is being closed: under the grammar, greedily, with the closing tokens
/// strongly favoured. Where the grammar allows no closer (a required field is missing, a number is half
/// written), the model's own best valid token.
pub(super) fn closing(
    ctx: &llama_cpp_2::context::LlamaContext<'_>,
    idx: i32,
    sampler: &mut LlamaSampler,
    grammar: &mut LlamaSampler,
    closers: &[bool],
) -> Option<llama_cpp_2::token::LlamaToken> {
    let mut candidates = ctx.token_data_array_ith(idx);
    grammar.apply(&mut candidates);
    for d in candidates.data.iter_mut() {
        if d.logit() > f32::NEG_INFINITY && closers.get(d.id().0 as usize).copied().unwrap_or(false) {
            d.set_logit(d.logit() + 100.0);
        }
    }
    candidates.apply_sampler(&mut LlamaSampler::greedy());
    let token = candidates.selected_token()?;
    candidates.data.iter().find(|d| d.id() == token).filter(|d| d.logit() > f32::NEG_INFINITY)?;
    grammar.accept(token);
    sampler.accept(token);
    Some(token)
}

/// Samples the next token under a grammar the way llama.cpp's own tools do: the unconstrained choice when the
/// grammar allows it (checking one token is cheap), else a second pass with the grammar over the whole
/// vocabulary (150k tokens on Qwen: several times the cost of the forward pass, so only when needed).
pub(super) fn constrained(
    ctx: &llama_cpp_2::context::LlamaContext<'_>,
    idx: i32,
    sampler: &mut LlamaSampler,
    grammar: &mut LlamaSampler,
) -> Option<llama_cpp_2::token::LlamaToken> {
    use llama_cpp_2::token::data::LlamaTokenData;
    use llama_cpp_2::token::data_array::LlamaTokenDataArray;

    let mut candidates = ctx.token_data_array_ith(idx);
    sampler.apply(&mut candidates);
    let preferred = candidates.selected_token()?;
    let mut single = LlamaTokenDataArray::new(vec![LlamaTokenData::new(preferred, 1.0, 0.0)], false);
    grammar.apply(&mut single);
    let token = if single.data[0].logit() > f32::NEG_INFINITY {
        preferred
    } else {
        let mut candidates = ctx.token_data_array_ith(idx);
        grammar.apply(&mut candidates);
        sampler.apply(&mut candidates);
        candidates
            .selected_token()
            .filter(|t| candidates.data.iter().find(|d| d.id() == *t).is_some_and(|d| d.logit() > f32::NEG_INFINITY))?
    };
    grammar.accept(token);
    sampler.accept(token);
    Some(token)
}

/// The schema with bounds on what a grammar cannot otherwise end: strings, arrays and integers without a
/// maximum get one, so a small model that loops inside a string still produces a complete value.
pub(super) fn bounded(mut schema: serde_json::Value) -> serde_json::Value {
    fn walk(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(map) => {
                let kind = map.get("type").cloned();
                let is = |t: &str| {
                    kind.as_ref().is_some_and(|k| k == t || k.as_array().is_some_and(|a| a.iter().any(|x| x == t)))
                };
                if is("string") && !map.contains_key("enum") && !map.contains_key("maxLength") {
                    map.insert("maxLength".into(), 400.into());
                }
                if is("array") && !map.contains_key("maxItems") {
                    map.insert("maxItems".into(), 32.into());
                }
                // An integer the grammar leaves unbounded can be any run of digits: SmolLM2 wrote 16 of them
                // for a `u32`, which then did not parse. Nine digits fit every integer type we read.
                if is("integer") {
                    map.entry("maximum").or_insert(999_999_999.into());
                    map.entry("minimum").or_insert((-999_999_999).into());
                }
                map.values_mut().for_each(walk);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut schema);
    schema
}
