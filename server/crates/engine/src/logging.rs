//! Logging: tracing to stderr, or to `SAMOKODER_LOG_FILE`; filter `SAMOKODER_LOG` (default `warn`).
//! Never stdout, which belongs to JSON-RPC.

use tracing_subscriber::EnvFilter;

pub fn init() {
    let directives = std::env::var("SAMOKODER_LOG").unwrap_or_else(|_| "warn".to_owned());
    init_to(&directives, std::env::var_os("SAMOKODER_LOG_FILE").map(std::path::PathBuf::from).as_deref());
}

/// Logging with these filter directives, to this file (else stderr); installs the panic hook.
pub fn init_to(directives: &str, file: Option<&std::path::Path>) {
    let mut directives = directives.to_owned();
    if !directives.contains("sled") {
        // sled's debug output is about its own pages, not our work.
        directives.push_str(",sled=warn");
    }
    let quiet_llama = !directives.contains("llama")
        && EnvFilter::try_new(&directives)
            .ok()
            .and_then(|f| f.max_level_hint())
            .is_none_or(|max| max < tracing::level_filters::LevelFilter::DEBUG);
    if quiet_llama {
        // llama.cpp's own log (loader lines, vocabulary warnings such as "control-looking token") is for
        // debugging it, not for users: shown from `debug` on, errors excepted.
        directives.push_str(",llama-cpp-2=error");
    }
    let filter = EnvFilter::try_new(&directives).unwrap_or_else(|_| EnvFilter::new("warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false).with_ansi(false);
    match file {
        Some(path) => match std::fs::OpenOptions::new().create(true).append(true).open(path) {
            Ok(file) => builder.with_writer(std::sync::Mutex::new(file)).init(),
            Err(e) => {
                builder.with_writer(std::io::stderr).init();
                tracing::error!(path = ?path, error = %e, "cannot open SAMOKODER_LOG_FILE; logging to stderr");
            }
        },
        None => builder.with_writer(std::io::stderr).init(),
    }
    install_panic_hook();
}

/// A panic is logged through tracing too, so it lands in `SAMOKODER_LOG_FILE` (an editor often drops the
/// server's stderr); the default hook still prints it to stderr.
fn install_panic_hook() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let location = info.location().map(|l| format!("{}:{}", l.file(), l.line())).unwrap_or_default();
        let payload = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".to_owned());
        let thread = std::thread::current().name().unwrap_or("unnamed").to_owned();
        tracing::error!(%location, %thread, "panic: {payload}");
        default(info);
    }));
}
