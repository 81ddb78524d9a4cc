//! Incremental sync: what the container holds is remembered as content hashes, so a command after a
//! one-file edit sends one file (and the paths deleted since), not the workspace.

use std::collections::HashMap;
use std::hash::Hasher;

use crate::WORKDIR;
use crate::files::WorkspaceFile;

/// The exit code of a combined exec whose sync failed (the command did not run).
pub(crate) const SYNC_FAILED: i64 = 97;
pub(crate) const SYNC_FAILED_MESSAGE: &str = "samokoder: syncing the workspace into the container failed";

/// Above this many deletions a full sync is cheaper than a long `rm` argument list.
const MAX_DELETIONS: usize = 2000;

/// What one sync sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncPlan {
    /// Replace the whole workspace (the container is new, or its state is unknown).
    pub full: bool,
    /// Indexes into the files of the files to send.
    pub changed: Vec<usize>,
    /// Paths to delete.
    pub deleted: Vec<String>,
    /// What the container holds after this sync.
    pub hashes: HashMap<String, u64>,
}

impl SyncPlan {
    /// The plan that brings a container holding `synced` (`None`: unknown) to `files`.
    pub fn new(files: &[WorkspaceFile], synced: Option<&HashMap<String, u64>>) -> Self {
        let hashes: HashMap<String, u64> = files.iter().map(|f| (f.path.clone(), content_hash(f))).collect();
        let Some(synced) = synced else {
            return Self { full: true, changed: (0..files.len()).collect(), deleted: vec![], hashes };
        };
        let changed: Vec<usize> = files
            .iter()
            .enumerate()
            .filter(|(_, f)| synced.get(&f.path) != hashes.get(&f.path))
            .map(|(i, _)| i)
            .collect();
        let mut deleted: Vec<String> = synced.keys().filter(|p| !hashes.contains_key(*p)).cloned().collect();
        deleted.sort();
        if deleted.len() > MAX_DELETIONS {
            return Self { full: true, changed: (0..files.len()).collect(), deleted: vec![], hashes };
        }
        Self { full: false, changed, deleted, hashes }
    }

    /// Nothing to send.
    pub fn is_empty(&self) -> bool {
        !self.full && self.changed.is_empty() && self.deleted.is_empty()
    }

    /// One exec that applies the plan (reading the tar from stdin) and then runs `command` in `cwd`: a
    /// command after an edit costs one exec, not two. A failed sync exits with [`SYNC_FAILED`] and says so.
    pub(crate) fn argv(&self, cwd: &str, command: &str) -> Vec<String> {
        let sync = if self.full {
            // Dependencies installed inside the container stay.
            format!(
                "find {WORKDIR} -mindepth 1 -maxdepth 1 ! -name node_modules -exec rm -rf {{}} + && tar -x -f - -C {WORKDIR}"
            )
        } else {
            format!("cd {WORKDIR} && {{ [ $# -eq 0 ] || rm -f -- \"$@\"; }} && tar -x -f -")
        };
        let script = format!(
            "cwd=$1; cmd=$2; shift 2; ( {sync} ) || {{ echo '{SYNC_FAILED_MESSAGE}' >&2; exit {SYNC_FAILED}; }}; cd \"$cwd\" && exec sh -c \"$cmd\""
        );
        let mut argv =
            vec!["sh".to_owned(), "-c".to_owned(), script, "sh".to_owned(), cwd.to_owned(), command.to_owned()];
        if !self.full {
            argv.extend(self.deleted.iter().cloned());
        }
        argv
    }

    /// The sync as a shell command reading the tar from stdin, deletions inline (for a job script).
    pub(crate) fn shell(&self) -> String {
        if self.full {
            format!(
                "find {WORKDIR} -mindepth 1 -maxdepth 1 ! -name node_modules -exec rm -rf {{}} + && tar -x -f - -C {WORKDIR}"
            )
        } else if self.deleted.is_empty() {
            format!("cd {WORKDIR} && tar -x -f -")
        } else {
            let paths: Vec<String> = self.deleted.iter().map(|p| crate::agent::quote(p)).collect();
            format!("cd {WORKDIR} && rm -f -- {} && tar -x -f -", paths.join(" "))
        }
    }

    /// The tar stream of the files to send, owned by the container user.
    pub(crate) fn tar(&self, files: &[WorkspaceFile], uid: u64, gid: u64) -> std::io::Result<Vec<u8>> {
        let mut builder = tar::Builder::new(Vec::new());
        builder.mode(tar::HeaderMode::Deterministic);
        for file in self.changed.iter().map(|&i| &files[i]) {
            let mut header = tar::Header::new_gnu();
            header.set_size(file.contents.len() as u64);
            header.set_mode(if file.executable { 0o755 } else { 0o644 });
            header.set_uid(uid);
            header.set_gid(gid);
            header.set_entry_type(tar::EntryType::Regular);
            builder.append_data(&mut header, &file.path, file.contents.as_slice())?;
        }
        builder.into_inner()
    }
}

fn content_hash(file: &WorkspaceFile) -> u64 {
    // SipHash with fixed keys: deterministic within the process, which is all the container state needs.
    #[allow(deprecated)]
    let mut h = std::hash::SipHasher::new();
    h.write(&file.contents);
    h.write_u8(u8::from(file.executable));
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, text: &str) -> WorkspaceFile {
        WorkspaceFile { path: path.into(), contents: text.as_bytes().to_vec(), executable: false }
    }

    #[test]
    fn sends_only_changes_and_deletions() {
        let v1 = vec![file("a.js", "1"), file("b.js", "2"), file("c.js", "3")];
        let first = SyncPlan::new(&v1, None);
        assert!(first.full && first.changed.len() == 3);

        let v2 = vec![file("a.js", "1"), file("b.js", "changed"), file("d.js", "new")];
        let second = SyncPlan::new(&v2, Some(&first.hashes));
        assert!(!second.full);
        assert_eq!(second.changed, [1, 2]);
        assert_eq!(second.deleted, ["c.js"]);
        assert_eq!(&second.argv("/workspace", "npm test")[3..], ["sh", "/workspace", "npm test", "c.js"]);

        let third = SyncPlan::new(&v2, Some(&second.hashes));
        assert!(third.is_empty());
        let exec = WorkspaceFile { executable: true, ..file("a.js", "1") };
        assert_eq!(SyncPlan::new(&[exec], Some(&first.hashes)).changed, [0], "a mode change is a change");
    }

    #[test]
    fn an_empty_change_set_is_still_a_valid_tar() {
        let plan = SyncPlan::new(&[file("a", "x")], None);
        let empty = SyncPlan { changed: vec![], ..plan };
        let bytes = empty.tar(&[], 1000, 1000).unwrap();
        assert_eq!(bytes.len(), 1024, "two zero blocks end an archive");
    }
}
