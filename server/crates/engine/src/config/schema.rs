//! The settings an editor declares, generated from [`ConfigLayer`] (the one place settings are declared):
//! the VS Code extension's `contributes.configuration` is this, and a test fails when they drift.

use serde_json::{Map, Value, json};

use super::ConfigLayer;

/// VS Code's `contributes.configuration.properties` for the `samokoder` section: one entry per setting
/// (`samokoder.sandbox.image`), nested sections flattened, maps as objects. API keys are left out: an
/// extension keeps them in the editor's secret storage and hands them over itself, never in settings.json.
pub fn vscode_settings() -> Value {
    let root = serde_json::to_value(schemars::schema_for!(ConfigLayer)).expect("a schema is JSON");
    let defs = root.get("$defs").cloned().unwrap_or_default();
    let mut out = Map::new();
    flatten(&root, &defs, "samokoder", &mut out);
    Value::Object(out)
}

/// Each property of `schema` (an object of settings) under `prefix`: sections recurse, the rest are leaves.
fn flatten(schema: &Value, defs: &Value, prefix: &str, out: &mut Map<String, Value>) {
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else { return };
    for (key, property) in properties {
        if key == "apiKey" {
            continue;
        }
        let name = format!("{prefix}.{key}");
        let resolved = inline(property, defs);
        if resolved.get("properties").is_some() {
            flatten(&resolved, defs, &name, out);
        } else {
            out.insert(name, leaf(resolved));
        }
    }
}

/// `schema` with every `$ref` replaced by its definition, `null` taken out of its types (a setting left
/// unset is absent, not null) and API keys dropped from nested objects.
fn inline(schema: &Value, defs: &Value) -> Value {
    match schema {
        Value::Object(map) => {
            if let Some(target) = map.get("$ref").and_then(Value::as_str) {
                let def = target.rsplit('/').next().and_then(|name| defs.get(name)).cloned().unwrap_or_default();
                let mut merged = inline(&def, defs);
                // Keep what sits beside the $ref (a field's own description wins over the type's).
                if let (Some(merged), Value::Object(rest)) = (merged.as_object_mut(), inline_map(map, defs)) {
                    for (k, v) in rest {
                        merged.insert(k, v);
                    }
                }
                return merged;
            }
            inline_map(map, defs)
        }
        Value::Array(items) => Value::Array(items.iter().map(|i| inline(i, defs)).collect()),
        other => other.clone(),
    }
}

fn inline_map(map: &Map<String, Value>, defs: &Value) -> Value {
    let mut out = Map::new();
    for (k, v) in map {
        match k.as_str() {
            // Rust's integer widths (`uint64`) mean nothing to an editor; an unset default is no default.
            "$ref" | "$schema" | "$defs" | "title" | "format" => {}
            "default" if v.is_null() => {}
            "type" => {
                if let Some(t) = non_null(v) {
                    out.insert(k.clone(), t);
                }
            }
            "properties" => {
                let props = v.as_object().into_iter().flatten().filter(|(name, _)| *name != "apiKey");
                out.insert(k.clone(), Value::Object(props.map(|(n, p)| (n.clone(), inline(p, defs))).collect()));
            }
            _ => {
                out.insert(k.clone(), inline(v, defs));
            }
        }
    }
    // `Option<T>` of a referenced type comes as anyOf [T, null]: keep T.
    if let Some(Value::Array(options)) = out.get("anyOf").cloned() {
        let null = |o: &Value| o.get("type") == Some(&json!("null")) || o.as_object().is_some_and(Map::is_empty);
        let real: Vec<Value> = options.into_iter().filter(|o| !null(o)).collect();
        if let [only] = real.as_slice() {
            out.remove("anyOf");
            for (k, v) in only.as_object().into_iter().flatten() {
                out.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
    }
    Value::Object(out)
}

fn non_null(types: &Value) -> Option<Value> {
    match types {
        Value::Array(list) => {
            let rest: Vec<Value> = list.iter().filter(|t| *t != "null").cloned().collect();
            match rest.len() {
                0 => None,
                1 => Some(rest[0].clone()),
                _ => Some(Value::Array(rest)),
            }
        }
        Value::String(t) if t == "null" => None,
        other => Some(other.clone()),
    }
}

/// A setting's entry: its schema, its doc comment as the description VS Code renders as Markdown.
fn leaf(mut schema: Value) -> Value {
    if let Some(map) = schema.as_object_mut() {
        map.remove("default");
        if let Some(description) = map.remove("description") {
            map.insert("markdownDescription".into(), description);
        }
    }
    schema
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_setting_is_flat_and_typed_and_no_key_is_among_them() {
        let settings = vscode_settings();
        let settings = settings.as_object().unwrap();
        assert_eq!(settings["samokoder.sandbox.image"]["type"], "string");
        assert_eq!(settings["samokoder.editor.review"]["type"], "boolean");
        assert_eq!(settings["samokoder.llm.budget.maxFixIterations"]["type"], "integer");
        assert!(settings["samokoder.sandbox.timeoutSecs"]["markdownDescription"].as_str().unwrap().contains("seconds"));
        // Maps are objects whose values are described too.
        assert_eq!(settings["samokoder.llm.providers"]["type"], "object");
        let provider = &settings["samokoder.llm.providers"]["additionalProperties"];
        assert!(provider["properties"]["baseUrl"].is_object(), "{provider}");
        let text = serde_json::to_string(&settings).unwrap();
        assert!(!text.contains("\"apiKey\"") && !text.contains("$ref") && !text.contains("null"), "{text}");
        assert_eq!(provider["properties"]["kind"]["oneOf"][1]["const"], "anthropic", "{provider}");
    }
}
