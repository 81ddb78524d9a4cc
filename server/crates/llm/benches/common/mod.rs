//! What the embedded-model benches share: the models they measure and the provider settings they
//! measure them with.

use std::path::PathBuf;

use samokoder_llm::LocalConfig;

/// The Qwen models where `scripts/fetch-model.sh` puts them (each measured when fetched), and any GGUF given
/// with `--model PATH`.
pub fn models() -> Vec<(String, PathBuf)> {
    let dir = std::env::var("SAMOKODER_MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(std::env::var("HOME").expect("HOME is set")).join(".cache/samokoder/models"));
    let mut models: Vec<(String, PathBuf)> = vec![
        ("Qwen2.5-Coder-1.5B Q4_K_M".into(), dir.join("qwen2.5-coder-1.5b-instruct-q4_k_m.gguf")),
        ("Qwen2.5-Coder-0.5B".into(), dir.join("qwen2.5-coder-0.5b-instruct.gguf")),
    ];
    let args: Vec<String> = std::env::args().collect();
    if let Some(path) = args.iter().position(|a| a == "--model").and_then(|i| args.get(i + 1)) {
        models.push((path.clone(), PathBuf::from(path)));
    }
    models
}

/// The machine's threads.
pub fn threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// The provider's settings for a bench: every thread, a 4,096-token context per sequence, `parallel`
/// sequences.
pub fn config(path: &std::path::Path, parallel: usize) -> LocalConfig {
    let mut config = LocalConfig::new(path);
    config.threads = threads();
    config.context_tokens = 4096;
    config.parallel = parallel;
    config
}
