//! A shell that stays attached inside the warm container and runs one job after another, so a command
//! costs a fork inside the container instead of a `docker exec` (tens of milliseconds through runc).
//!
//! Protocol: the host writes one line per job, the job's shell script in base64; the agent decodes it to a
//! file and runs it. The script runs the command (stdin from /dev/null, stderr into stdout) and ends the
//! job with a line holding a nonce and the exit code, which the host looks for in the output. The agent runs
//! as the command user, so killing a command (`kill -9 -1` as that user) kills the agent too; the next job
//! starts a new one.

use std::pin::Pin;
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecResults};
use futures::{Stream, StreamExt};
use tokio::io::{AsyncWrite, AsyncWriteExt};

use crate::docker::call;
use crate::exec::{ExecOutcome, base_env};
use crate::output::CappedOutput;
use crate::{Result, SandboxError, WORKDIR};

/// A sync whose tar is larger than this goes through its own exec, which streams it: the shell reads a
/// job line a byte at a time, so a big job is slow.
pub(crate) const MAX_JOB_BYTES: usize = 32 * 1024;

const LOOP: &str =
    "while IFS= read -r job; do printf '%s' \"$job\" | base64 -d > /tmp/.samokoder-job && sh /tmp/.samokoder-job; done";

type Output = Pin<Box<dyn Stream<Item = std::result::Result<LogOutput, bollard::errors::Error>> + Send>>;

pub(crate) struct Agent {
    output: Output,
    input: Pin<Box<dyn AsyncWrite + Send>>,
}

impl Agent {
    pub async fn start(docker: &Docker, container: &str, user: &str) -> Result<Self> {
        let options = CreateExecOptions {
            attach_stdin: Some(true),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            cmd: Some(vec!["sh".to_owned(), "-c".to_owned(), LOOP.to_owned()]),
            user: Some(user.to_owned()),
            working_dir: Some(WORKDIR.to_owned()),
            env: Some(base_env()),
            ..Default::default()
        };
        let exec = call("exec", docker.create_exec(container, options)).await?;
        match call("exec start", docker.start_exec(&exec.id, None)).await? {
            StartExecResults::Attached { output, input } => Ok(Self { output, input }),
            StartExecResults::Detached => {
                Err(SandboxError::Docker { action: "exec start", message: "the agent did not attach".into() })
            }
        }
    }

    /// Runs one job script to its end marker, streaming its output up to the cap. A timeout leaves the
    /// agent unusable (the caller kills the user's processes and drops it).
    pub async fn run(
        &mut self,
        script: &str,
        nonce: &str,
        timeout: Duration,
        idle_timeout: Option<Duration>,
        cap: usize,
        on_output: &(dyn for<'s> Fn(&'s str) + Send + Sync),
    ) -> Result<ExecOutcome> {
        let started = Instant::now();
        let mut line = base64(script.as_bytes());
        line.push('\n');
        let gone = |e: std::io::Error| SandboxError::Docker {
            action: "agent",
            message: format!("the sandbox shell went away: {e}"),
        };
        self.input.write_all(line.as_bytes()).await.map_err(gone)?;
        self.input.flush().await.map_err(gone)?;

        let marker = format!("\n{nonce} ").into_bytes();
        let hold = marker.len() + 24;
        let mut pending: Vec<u8> = Vec::new();
        let mut captured = CappedOutput::new(cap);
        let mut streamed = 0usize;
        let mut emit = |bytes: &[u8], captured: &mut CappedOutput| {
            captured.push(bytes);
            if streamed < cap && !bytes.is_empty() {
                let take = bytes.len().min(cap - streamed);
                streamed += take;
                on_output(&String::from_utf8_lossy(&bytes[..take]));
                if streamed == cap {
                    on_output("\n[... output capped here; the rest is counted, not shown ...]\n");
                }
            }
        };
        let deadline = crate::later(tokio::time::Instant::now(), timeout);
        let mut last_output = tokio::time::Instant::now();
        loop {
            if let Some(at) = find(&pending, &marker) {
                let rest = &pending[at + marker.len()..];
                if let Some(end) = rest.iter().position(|b| *b == b'\n') {
                    let code = std::str::from_utf8(&rest[..end]).ok().and_then(|c| c.trim().parse().ok());
                    emit(&pending[..at], &mut captured);
                    let (output, dropped) = captured.finish();
                    return Ok(ExecOutcome {
                        exit_code: code,
                        output,
                        dropped,
                        timed_out: false,
                        idle_timed_out: false,
                        duration: started.elapsed(),
                    });
                }
            } else if pending.len() > hold {
                let flush = pending.len() - hold;
                emit(&pending[..flush], &mut captured);
                pending.drain(..flush);
            }
            let idle_deadline = idle_timeout.map(|idle| crate::later(last_output, idle));
            let wake = idle_deadline.map_or(deadline, |i| i.min(deadline));
            match tokio::time::timeout_at(wake, self.output.next()).await {
                Err(_) => {
                    emit(&pending, &mut captured);
                    let (output, dropped) = captured.finish();
                    return Ok(ExecOutcome {
                        exit_code: None,
                        output,
                        dropped,
                        timed_out: true,
                        idle_timed_out: idle_deadline.is_some_and(|i| i <= deadline),
                        duration: started.elapsed(),
                    });
                }
                Ok(None) => {
                    return Err(SandboxError::Docker {
                        action: "agent",
                        message: "the sandbox shell exited midway".into(),
                    });
                }
                Ok(Some(Err(e))) => {
                    return Err(SandboxError::Docker { action: "agent output", message: e.to_string() });
                }
                Ok(Some(Ok(chunk))) => {
                    last_output = tokio::time::Instant::now();
                    pending.extend_from_slice(&chunk.into_bytes());
                }
            }
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Quotes a string for sh: `'...'` with embedded quotes as `'\''`.
pub(crate) fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// A job: optionally apply a sync (tar in base64), then run `command` in `cwd` with `env`; print the end
/// marker with the exit code (97 and a message when the sync failed).
pub(crate) fn job_script(nonce: &str, sync: Option<(&str, &[u8])>, cwd: &str, env: &[String], command: &str) -> String {
    let mut script = String::new();
    if let Some((sync_command, tar)) = sync {
        script.push_str(&format!(
            "if ! ( printf '%s' {} | base64 -d | ( {sync_command} ) ) 2>&1; then echo {}; printf '\\n%s %d\\n' {nonce} {}; exit 0; fi\n",
            quote(&base64(tar)),
            quote(crate::sync::SYNC_FAILED_MESSAGE),
            crate::sync::SYNC_FAILED,
        ));
    }
    let exports: String =
        env.iter().filter_map(|kv| kv.split_once('=')).map(|(k, v)| format!("export {k}={}; ", quote(v))).collect();
    script.push_str(&format!("( cd {} && {exports}exec sh -c {} ) </dev/null 2>&1\n", quote(cwd), quote(command)));
    script.push_str(&format!("printf '\\n%s %d\\n' {nonce} $?\n"));
    script
}

/// A fresh nonce per job, so no output can fake an end marker.
pub(crate) fn nonce() -> String {
    use std::hash::{BuildHasher, Hasher};
    let state = std::collections::hash_map::RandomState::new();
    let mut a = state.build_hasher();
    a.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos());
    let mut b = state.build_hasher();
    b.write_u64(a.finish());
    format!("samokoder-end-{:016x}{:016x}", a.finish(), b.finish())
}

fn base64(bytes: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        out.push(TABLE[(n >> 18) as usize & 63] as char);
        out.push(TABLE[(n >> 12) as usize & 63] as char);
        out.push(if chunk.len() > 1 { TABLE[(n >> 6) as usize & 63] as char } else { '=' });
        out.push(if chunk.len() > 2 { TABLE[n as usize & 63] as char } else { '=' });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_standard_alphabet() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64("héllo 😀".as_bytes()), "aMOpbGxvIPCfmIA=");
    }

    #[test]
    fn quoting_survives_quotes() {
        assert_eq!(quote("it's"), r"'it'\''s'");
        let script = job_script("n0", None, "/workspace/a b", &["K=v'x".into()], "echo 'hi'");
        assert!(
            script.contains("cd '/workspace/a b' && export K='v'\\''x'; exec sh -c 'echo '\\''hi'\\'''"),
            "{script}"
        );
    }
}
