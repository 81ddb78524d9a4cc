//! editors/vscode/package.json declares the server's settings as `samokoder_engine::config::vscode_settings`
//! generates them from the configuration's own declaration: this fails when they drift. To bring the
//! extension up to date: `UPDATE_EXPECT=1 cargo test -p samokoder-engine --test vscode_settings`.

use std::path::PathBuf;

use serde_json::{Map, Value};

/// The extension's own settings, not the server's.
const OWN: [&str; 2] = ["samokoder.server.path", "samokoder.trace.server"];

fn package_json() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../editors/vscode/package.json")
}

/// The byte range of `"properties": {...}` under `contributes.configuration`, so the rest of the file
/// keeps its order and layout when it is rewritten.
fn properties_span(text: &str) -> (usize, usize) {
    let configuration = text.find("\"configuration\"").expect("contributes.configuration");
    let key = configuration + text[configuration..].find("\"properties\":").expect("configuration.properties");
    let start = key + "\"properties\":".len();
    let start = start + text[start..].len() - text[start..].trim_start().len();
    let mut values = serde_json::Deserializer::from_str(&text[start..]).into_iter::<Value>();
    values.next().expect("a JSON value").expect("valid JSON");
    (start, start + values.byte_offset())
}

#[test]
fn the_vs_code_extension_declares_exactly_the_servers_settings() {
    let path = package_json();
    let text = std::fs::read_to_string(&path).unwrap();
    let package: Value = serde_json::from_str(&text).unwrap();
    let declared = package["contributes"]["configuration"]["properties"].as_object().cloned().unwrap_or_default();
    let generated = samokoder_engine::config::vscode_settings();
    let mut servers: Map<String, Value> = declared.clone();
    servers.retain(|k, _| !OWN.contains(&k.as_str()));
    if Value::Object(servers.clone()) == generated {
        for own in OWN {
            assert!(declared.contains_key(own), "package.json lost the extension's own setting {own}");
        }
        return;
    }
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        let mut wanted: Map<String, Value> = declared.into_iter().filter(|(k, _)| OWN.contains(&k.as_str())).collect();
        wanted.extend(generated.as_object().unwrap().clone());
        let block = serde_json::to_string_pretty(&Value::Object(wanted)).unwrap();
        let block = block.replace('\n', "\n      ");
        let (start, end) = properties_span(&text);
        std::fs::write(&path, format!("{}{block}{}", &text[..start], &text[end..])).unwrap();
        eprintln!("updated {}", path.display());
        return;
    }
    let stale: Vec<&String> = servers.keys().filter(|k| generated.get(k.as_str()) != servers.get(k.as_str())).collect();
    let missing: Vec<&String> = generated.as_object().unwrap().keys().filter(|k| !servers.contains_key(*k)).collect();
    panic!(
        "editors/vscode/package.json's settings differ from the server's (engine/src/config/layer.rs): \
         stale or unknown {stale:?}, missing {missing:?}; run `UPDATE_EXPECT=1 cargo test -p samokoder-engine --test vscode_settings`"
    );
}
