//! editors/helix/languages.toml as Helix reads it. Helix cannot be installed here, so its configuration is
//! mirrored: the user's file is merged into Helix's built-in entries for JS/TS the way helix-loader's
//! `merge_toml_values` does (arrays of tables by `name`, depth 3), then read with structs that mirror
//! helix-core's `syntax::config` (its `LanguageConfiguration` refuses unknown fields, as Helix does; the
//! server table refuses them too, stricter than Helix, so a misspelt key fails here instead of being ignored).

use std::collections::HashMap;
use std::path::PathBuf;

use serde::Deserialize;
use toml::Value;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct Configuration {
    language: Vec<LanguageConfiguration>,
    #[serde(default)]
    language_server: HashMap<String, LanguageServerConfiguration>,
}

/// helix-core/src/syntax/config.rs `LanguageConfiguration`: every field it has, the same required ones.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
#[allow(dead_code)]
struct LanguageConfiguration {
    name: String,
    language_id: Option<String>,
    scope: String,
    file_types: Vec<Value>,
    #[serde(default)]
    shebangs: Vec<String>,
    #[serde(default)]
    roots: Vec<String>,
    #[serde(default, alias = "comment-token")]
    comment_tokens: Option<Value>,
    block_comment_tokens: Option<Value>,
    text_width: Option<usize>,
    soft_wrap: Option<Value>,
    #[serde(default)]
    auto_format: bool,
    code_actions_on_save: Option<Vec<Value>>,
    formatter: Option<Value>,
    path_completion: Option<bool>,
    word_completion: Option<Value>,
    diagnostic_severity: Option<String>,
    grammar: Option<String>,
    injection_regex: Option<String>,
    #[serde(default)]
    language_servers: Vec<LanguageServerFeatures>,
    indent: Option<Value>,
    debugger: Option<Value>,
    auto_pairs: Option<Value>,
    rulers: Option<Vec<u16>>,
    workspace_lsp_roots: Option<Vec<PathBuf>>,
    #[serde(default)]
    persistent_diagnostic_sources: Vec<String>,
    rainbow_brackets: Option<bool>,
}

/// `LanguageServerFeatureConfiguration`: a name, or a name with only/except features.
#[derive(Debug, Deserialize)]
#[serde(untagged, deny_unknown_fields)]
#[allow(dead_code)]
enum LanguageServerFeatures {
    Features {
        #[serde(default, rename = "only-features")]
        only: Vec<String>,
        #[serde(default, rename = "except-features")]
        except: Vec<String>,
        name: String,
    },
    Simple(String),
}

impl LanguageServerFeatures {
    fn name(&self) -> &str {
        match self {
            Self::Features { name, .. } | Self::Simple(name) => name,
        }
    }
}

/// `LanguageServerConfiguration`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
#[allow(dead_code)]
struct LanguageServerConfiguration {
    command: String,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    environment: HashMap<String, String>,
    config: Option<Value>,
    timeout: Option<u64>,
    required_root_patterns: Option<Vec<String>>,
}

/// helix-loader's `merge_toml_values`.
fn merge(left: Value, right: Value, depth: usize) -> Value {
    fn name(v: &Value) -> Option<&str> {
        v.get("name").and_then(Value::as_str)
    }
    match (left, right) {
        (Value::Array(mut left), Value::Array(right)) if depth > 0 => {
            for r in right {
                let l = name(&r).and_then(|n| left.iter().position(|v| name(v) == Some(n))).map(|i| left.remove(i));
                left.push(match l {
                    Some(l) => merge(l, r, depth - 1),
                    None => r,
                });
            }
            Value::Array(left)
        }
        (Value::Table(mut left), Value::Table(right)) if depth > 0 => {
            for (k, r) in right {
                let merged = match left.remove(&k) {
                    Some(l) => merge(l, r, depth - 1),
                    None => r,
                };
                left.insert(k, merged);
            }
            Value::Table(left)
        }
        (_, right) => right,
    }
}

fn read(path: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn helix_languages_toml_adds_samokoder_beside_each_js_and_ts_server() {
    let merged = merge(read("tests/it/editors/helix-languages.toml"), read("editors/helix/languages.toml"), 3);
    let config: Configuration = merged.try_into().expect("Helix reads the merged configuration");
    for name in ["javascript", "jsx", "typescript", "tsx"] {
        let language = config.language.iter().find(|l| l.name == name).unwrap();
        let servers: Vec<&str> = language.language_servers.iter().map(LanguageServerFeatures::name).collect();
        assert_eq!(servers, ["typescript-language-server", "samokoder"], "{name}");
        // The built-in entry's other keys survive the merge.
        assert!(language.scope.starts_with("source."), "{name}");
    }
    let server = &config.language_server["samokoder"];
    assert_eq!((server.command.as_str(), server.args.as_slice()), ("samokoder", &["lsp".to_owned()][..]));
    // `config` becomes initializationOptions: settings the server accepts.
    let options = serde_json::to_value(server.config.clone().unwrap()).unwrap();
    let (_, out_of_range) =
        samokoder_engine::ConfigLayer::from_json(&options).expect("the server reads the config table");
    assert!(out_of_range.is_empty(), "{out_of_range:?}");
}

#[test]
fn a_misspelt_key_is_refused_as_helix_refuses_it() {
    let mut ours = read("editors/helix/languages.toml");
    let languages = ours.get_mut("language").and_then(Value::as_array_mut).unwrap();
    languages[0].as_table_mut().unwrap().insert("language-server".into(), Value::Array(vec![]));
    let merged = merge(read("tests/it/editors/helix-languages.toml"), ours, 3);
    let error = Configuration::deserialize(merged).unwrap_err().to_string();
    assert!(error.contains("unknown field `language-server`"), "{error}");
}
