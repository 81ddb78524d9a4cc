//! Cleaning up after the sandbox: short-lived containers removed however their step ends, containers left
//! by a server that is gone (its owner label names a process that no longer exists on this host), and the
//! processes a kill left behind.

use std::collections::HashMap;

use bollard::Docker;
use bollard::query_parameters::{
    ListContainersOptionsBuilder, RemoveContainerOptionsBuilder, RemoveVolumeOptionsBuilder, TopOptionsBuilder,
};

use crate::Result;
use crate::docker::{LABEL, LABEL_HOST, LABEL_OWNER, call};

/// Removes a short-lived container when its step ends, however it ends.
pub(crate) struct RemoveOnDrop {
    pub docker: Docker,
    pub id: String,
}

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let (docker, id) = (self.docker.clone(), std::mem::take(&mut self.id));
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let options = RemoveContainerOptionsBuilder::default().force(true).build();
                let _ = call("remove container", docker.remove_container(&id, Some(options))).await;
            });
        }
    }
}

pub(crate) async fn remove_all(docker: &Docker, container: Option<String>, volume: Option<String>) {
    if let Some(id) = container {
        let options = RemoveContainerOptionsBuilder::default().force(true).build();
        let _ = call("remove container", docker.remove_container(&id, Some(options))).await;
    }
    if let Some(volume) = volume {
        let options = RemoveVolumeOptionsBuilder::default().force(true).build();
        let _ = call("remove volume", docker.remove_volume(&volume, Some(options))).await;
    }
}

pub(crate) async fn remove_leftovers(docker: &Docker) -> Result<usize> {
    let filters = HashMap::from([("label".to_owned(), vec![LABEL.to_owned()])]);
    let options = ListContainersOptionsBuilder::default().all(true).filters(&filters).build();
    let list = call("list containers", docker.list_containers(Some(options))).await?;
    let host = hostname();
    let mut removed = 0;
    for c in list {
        let labels = c.labels.unwrap_or_default();
        if labels.get(LABEL_HOST) != Some(&host) {
            continue; // another machine's server, on a shared engine: not ours to judge
        }
        let owner = labels.get(LABEL_OWNER).cloned().unwrap_or_default();
        let alive = owner
            .split_once(':')
            .and_then(|(pid, _)| pid.parse::<u32>().ok())
            .and_then(process_identity)
            .is_some_and(|identity| identity == owner);
        if !alive {
            let name = c.names.as_ref().and_then(|n| n.first()).map(|n| n.trim_start_matches('/').to_owned());
            // Only warm containers own a volume (`<name>-ws`); network steps share it.
            let volume = name.filter(|n| !n.contains("-net-")).map(|n| format!("{n}-ws"));
            tracing::info!(container = ?c.names, "removing a sandbox container left by a server that is gone");
            remove_all(docker, c.id, volume).await;
            removed += 1;
        }
    }
    Ok(removed)
}

/// Processes of `uid` still running in the container, from `docker top`.
pub(crate) async fn survivors(docker: &Docker, container: &str, uid: u64) -> usize {
    let options = TopOptionsBuilder::default().ps_args("-o uid,pid").build();
    match call("top", docker.top_processes(container, Some(options))).await {
        Ok(top) => top
            .processes
            .unwrap_or_default()
            .iter()
            .filter(|row| row.first().and_then(|u| u.trim().parse::<u64>().ok()) == Some(uid))
            .count(),
        Err(_) => 0,
    }
}

/// `<pid>:<start time in clock ticks since boot>`, which names a process uniquely across pid reuse.
pub(crate) fn process_identity(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses; fields resume after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let start_time = rest.split_whitespace().nth(19)?;
    Some(format!("{pid}:{start_time}"))
}

pub(crate) fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_owned()).unwrap_or_default()
}
