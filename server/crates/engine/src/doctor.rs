//! `samokoder doctor`: what this machine has and lacks, each missing piece with the line that fixes it.
//! Run prerequisites (a provider or the embedded model, Docker, the sandbox image) fail the check; build
//! prerequisites (cmake and libclang, needed only to rebuild with the embedded model) are warnings.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::Result;
use samokoder_llm::{AgentRole, ChatRequest, Message, ProviderKind};
use samokoder_sandbox::Sandbox;

use crate::Engine;
use crate::config::ProviderSettings;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Ok,
    Warn,
    Fail,
}

struct Report<W: Write> {
    out: W,
    failed: usize,
}

impl<W: Write> Report<W> {
    fn line(&mut self, verdict: Verdict, what: &str, detail: &str) -> std::io::Result<()> {
        let tag = match verdict {
            Verdict::Ok => "ok  ",
            Verdict::Warn => "warn",
            Verdict::Fail => {
                self.failed += 1;
                "FAIL"
            }
        };
        writeln!(self.out, "{tag} {what}: {detail}")
    }

    fn check(&mut self, ok: bool, what: &str, detail: &str) -> std::io::Result<()> {
        self.line(if ok { Verdict::Ok } else { Verdict::Fail }, what, detail)
    }
}

/// `samokoder doctor`: configuration, providers (one real minimal request each), the embedded model,
/// Docker and the image, the run store, and the build prerequisites.
pub async fn doctor_command(dir: &Path) -> Result<i32> {
    let engine = Engine::new(dir)?;
    let config = engine.config();
    let mut r = Report { out: std::io::stdout().lock(), failed: 0 };

    let problems = &engine.config_problems;
    r.check(
        problems.is_empty(),
        "config",
        &if problems.is_empty() { "no problems in the config files".to_owned() } else { problems.join("; ") },
    )?;
    let router = engine.router();
    let llm_problems = engine.llm_problems.read().clone();
    r.check(
        llm_problems.is_empty(),
        "llm config",
        &if llm_problems.is_empty() { "no problems".to_owned() } else { llm_problems.join("; ") },
    )?;
    for p in &config.llm.providers {
        r.line(Verdict::Ok, "provider settings", &describe_provider(p))?;
    }
    for role in AgentRole::ALL {
        r.line(Verdict::Ok, &format!("role {role}"), &router.describe(role))?;
    }
    // One real minimal request to each provider that is first in some role's chain.
    let mut pinged: Vec<String> = Vec::new();
    for role in AgentRole::ALL {
        let Some((name, backend)) = router.primary(role) else { continue };
        if pinged.iter().any(|p| p == name) {
            continue;
        }
        pinged.push(name.to_owned());
        let started = Instant::now();
        let request = ChatRequest {
            messages: vec![Message::user("Reply with the word OK.")],
            max_tokens: Some(5),
            ..Default::default()
        };
        match backend.stream(&request, &|_| {}).await {
            Ok(c) => r.line(
                Verdict::Ok,
                "provider",
                &format!(
                    "{name}: {} answered in {} ms ({} tokens)",
                    c.model,
                    started.elapsed().as_millis(),
                    c.usage.total()
                ),
            )?,
            Err(e) => r.line(Verdict::Fail, "provider", &format!("{name}: {e}"))?,
        }
    }
    if pinged.is_empty() {
        r.line(Verdict::Fail, "provider", &format!("no usable provider: {}", crate::llm::NO_PROVIDER_HINT))?;
    }

    let sandbox = engine.sandbox(&config);
    match sandbox.health().await {
        Ok(h) => {
            r.line(
                Verdict::Ok,
                "docker",
                &format!("{} (engine {}, API {})", h.endpoint, h.server_version, h.api_version),
            )?;
            let detail = if h.image_present {
                format!("{} is available", h.image)
            } else {
                format!(
                    "{} is not available locally: `docker pull {}`, or set SAMOKODER_SANDBOX_IMAGE \
                     (samokoder.sandbox.image); without a registry, `cargo xtask setup run` builds a local one",
                    h.image, h.image
                )
            };
            r.check(h.image_present, "image", &detail)?;
            if let (Some(bundle), Some(var)) = (&config.sandbox.ca_bundle, &config.sandbox.ca_bundle_from) {
                let detail = format!(
                    "{} (from {var}, as the host's own tools use it), given to installs; set sandbox.ca_bundle to \
                     choose another",
                    bundle.display()
                );
                r.line(Verdict::Ok, "ca bundle", &detail)?;
            }
        }
        Err(e) => {
            let fix = if runs("dockerd", &["--version"]) {
                "dockerd is installed but does not answer: `sudo systemctl start docker`, or \
                 `sudo dockerd --iptables=false --bridge=none &`"
            } else {
                "Docker is not installed: `sudo apt-get install -y docker.io`, then start it"
            };
            r.line(Verdict::Fail, "docker", &format!("{e}; {fix}"))?;
        }
    }
    r.check(engine.store_problem.is_none(), "run store", engine.store_problem.as_deref().unwrap_or("durable"))?;

    if !runs("cmake", &["--version"]) {
        r.line(
            Verdict::Warn,
            "build",
            "cmake is missing (to rebuild with --features local-llm): `sudo apt-get install -y cmake`",
        )?;
    }
    if find_libclang().is_none() {
        r.line(
            Verdict::Warn,
            "build",
            "libclang.so is missing (bindgen needs it to rebuild with --features local-llm): \
             `sudo apt-get install -y libclang-dev`",
        )?;
    }
    let failed = r.failed;
    writeln!(
        r.out,
        "{}",
        if failed == 0 { "all checks passed".to_owned() } else { format!("{failed} check(s) failed") }
    )?;
    Ok(if failed == 0 { 0 } else { 1 })
}

/// One provider's settings in a line: where it is, which model, and why it cannot be used.
fn describe_provider(p: &ProviderSettings) -> String {
    let Err(why) = &p.usable else {
        return match p.kind {
            ProviderKind::Local => {
                let path = p.local.model_path.clone().unwrap_or_default();
                let size = std::fs::metadata(&path).map(|m| m.len() / (1024 * 1024)).unwrap_or(0);
                format!("{}: the embedded model {} ({size} MB) at {}", p.name, p.model, path.display())
            }
            _ => format!(
                "{} at {}, model {}, {}",
                p.name,
                p.base_url,
                p.model,
                if p.api_key.is_some() { "an API key is set" } else { "no API key" }
            ),
        };
    };
    format!("{}: not usable ({why})", p.name)
}

fn runs(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The `libclang.so` bindgen loads (not a look-alike such as `libclang-cpp.so.14`).
fn find_libclang() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("LIBCLANG_PATH").map(PathBuf::from).into_iter().collect();
    for parent in ["/usr/lib", "/usr/local/lib", "/usr/lib64"] {
        dirs.push(parent.into());
        let children = std::fs::read_dir(parent).into_iter().flatten().flatten().map(|e| e.path());
        dirs.extend(children.flat_map(|d| [d.join("lib"), d]));
    }
    dirs.into_iter().map(|d| d.join("libclang.so")).find(|p| p.exists())
}
