//! Where configuration comes from on disk: the user's file and the workspace's, read into layers.

use std::path::{Path, PathBuf};

use super::ConfigLayer;

/// The user's config file: `$XDG_CONFIG_HOME/samokoder/config.toml` or `~/.config/samokoder/config.toml`.
pub fn user_config_path(var: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let base =
        var("XDG_CONFIG_HOME").map(PathBuf::from).or_else(|| var("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("samokoder").join("config.toml"))
}

/// Reads a TOML layer; a missing file is an empty layer. `workspace`: keys are refused from it.
pub fn read_layer(path: &Path, workspace: bool) -> Result<(ConfigLayer, Vec<String>), String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok((ConfigLayer::default(), vec![]));
        }
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let mut layer: ConfigLayer = toml::from_str(&text).map_err(|e| format!("{}: {}", path.display(), e.message()))?;
    let mut warnings = super::ranges::check(&mut layer, &path.display().to_string());
    if workspace {
        let provider_keys = layer.llm.providers.values_mut().filter_map(|p| p.api_key.take()).count();
        if layer.llm.api_key.take().is_some() || provider_keys > 0 {
            warnings.push(format!(
                "{}: api keys ignored: keys never come from a file in the workspace; set OPENAI_API_KEY \
                 (ANTHROPIC_API_KEY, GROQ_API_KEY) or the editor setting",
                path.display()
            ));
        }
    }
    Ok((layer, warnings))
}

/// Every layer but the editor's, merged, with the problems found (malformed files are skipped and named).
pub fn load_files(workspace: &Path, var: &dyn Fn(&str) -> Option<String>) -> (ConfigLayer, Vec<String>) {
    let mut layer = ConfigLayer::default();
    let mut problems = Vec::new();
    let files = [(user_config_path(var), false), (Some(workspace.join(".samokoder").join("config.toml")), true)];
    for (path, is_workspace) in files {
        let Some(path) = path else { continue };
        match read_layer(&path, is_workspace) {
            Ok((l, warnings)) => {
                layer.merge(l);
                problems.extend(warnings);
            }
            Err(e) => problems.push(format!("config file ignored: {e}")),
        }
    }
    (layer, problems)
}
