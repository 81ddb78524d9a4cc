//! What a network step (an install) gets beyond the warm container's hardening: the extra CA bundle, for
//! registries behind an intercepting proxy, and npm's cache in a named volume shared by every workspace, so
//! a second install of the same lockfile is fast (npm checks every cached package's integrity on read, so
//! one project's install cannot hand another a changed package).

use std::time::Duration;

use bollard::Docker;
use bollard::models::{Mount, MountType};

use crate::exec::{ExecSpec, run_exec};
use crate::{Result, SandboxConfig, SandboxError};

/// Where a network step finds the extra CA bundle.
const CA_PATH: &str = "/tmp/samokoder-ca.pem";
/// npm's cache: a named volume, mounted in network steps only.
pub const NPM_CACHE_VOLUME: &str = "samokoder-npm-cache";
const NPM_CACHE_PATH: &str = "/samokoder-npm-cache";

pub(crate) fn cache_mount() -> Mount {
    Mount {
        target: Some(NPM_CACHE_PATH.into()),
        source: Some(NPM_CACHE_VOLUME.into()),
        typ: Some(MountType::VOLUME),
        ..Default::default()
    }
}

/// Readies a network step's container `id` for `spec`: the cache writable by the command's user, the CA
/// bundle in place, and the environment that points npm (and the rest) at them.
pub(crate) async fn prepare(docker: &Docker, id: &str, config: &SandboxConfig, spec: &mut ExecSpec) -> Result<()> {
    // A new volume's root belongs to root; root may change the mode of its own directory without any
    // capability, so the command's user can write the cache.
    let open = ExecSpec::new(
        vec!["chmod".into(), "1777".into(), NPM_CACHE_PATH.into()],
        "0:0",
        Duration::from_secs(30),
        16 * 1024,
    );
    run_exec(docker, id, open, &|_| {}, None).await?;
    spec.env.push(format!("npm_config_cache={NPM_CACHE_PATH}"));
    spec.env.push("npm_config_update_notifier=false".into());
    let Some(ca) = &config.ca_bundle else { return Ok(()) };
    let pem = std::fs::read(ca).map_err(|e| SandboxError::Workspace {
        path: ca.display().to_string(),
        message: format!("cannot read the CA bundle: {e}; fix samokoder.sandbox.caBundle"),
    })?;
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(pem.len() as u64);
    header.set_mode(0o644);
    builder
        .append_data(&mut header, CA_PATH.trim_start_matches("/tmp/"), pem.as_slice())
        .map_err(|e| SandboxError::Sync { message: e.to_string() })?;
    let archive = builder.into_inner().map_err(|e| SandboxError::Sync { message: e.to_string() })?;
    let mut put = ExecSpec::new(
        vec!["tar".into(), "-x".into(), "-f".into(), "-".into(), "-C".into(), "/tmp".into()],
        &config.user,
        Duration::from_secs(60),
        64 * 1024,
    );
    put.stdin = Some(archive);
    run_exec(docker, id, put, &|_| {}, None).await?;
    for var in [
        "NODE_EXTRA_CA_CERTS",
        "SSL_CERT_FILE",
        "REQUESTS_CA_BUNDLE",
        "PIP_CERT",
        "GIT_SSL_CAINFO",
        "npm_config_cafile",
    ] {
        spec.env.push(format!("{var}={CA_PATH}"));
    }
    Ok(())
}
