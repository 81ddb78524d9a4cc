//! Logging: tracing to stderr, or to `SAMOKODER_LOG_FILE`; filter `SAMOKODER_LOG` (default `warn`).
//! Never stdout, which belongs to JSON-RPC.

use tracing_subscriber::EnvFilter;

pub fn init() {
    let mut directives = std::env::var("SAMOKODER_LOG").unwrap_or_else(|_| "warn".to_owned());
    if !directives.contains("sled") {
        // sled's debug output is about its own pages, not our work.
        directives.push_str(",sled=warn");
    }
    let filter = EnvFilter::try_new(&directives).unwrap_or_else(|_| EnvFilter::new("warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false).with_ansi(false);
    match std::env::var_os("SAMOKODER_LOG_FILE") {
        Some(path) => match std::fs::OpenOptions::new().create(true).append(true).open(&path) {
            Ok(file) => builder.with_writer(std::sync::Mutex::new(file)).init(),
            Err(e) => {
                builder.with_writer(std::io::stderr).init();
                tracing::error!(path = ?path, error = %e, "cannot open SAMOKODER_LOG_FILE; logging to stderr");
            }
        },
        None => builder.with_writer(std::io::stderr).init(),
    }
}
