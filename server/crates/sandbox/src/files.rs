//! What the container gets: the workspace's files (respecting .gitignore; dependency and build output
//! skipped), overlaid with what the editor holds but has not saved.

use std::collections::BTreeMap;
use std::path::Path;

use crate::{Result, SandboxError};

/// Directories never sent: dependencies are installed inside the container, build output is rebuilt there,
/// and our own state is not the project's.
const SKIPPED_DIRS: &[&str] = &["node_modules", ".git", "dist", "build", "coverage", ".next", ".samokoder"];
/// Files larger than this are not sent (a stray video should not stall every test run).
const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkspaceFile {
    /// Workspace-relative, `/`-separated.
    pub path: String,
    pub contents: Vec<u8>,
    pub executable: bool,
}

/// A file of the workspace as the walk found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalkedFile {
    /// Workspace-relative, `/`-separated.
    pub path: String,
    pub abs: std::path::PathBuf,
    pub size: u64,
    pub executable: bool,
}

/// The workspace's files as a project tool sees them: `.gitignore` respected, dependency and build
/// directories skipped (unless named in `include`), symlinks not followed. Sorted by path.
pub fn walk_workspace(root: &Path, include: &[String]) -> Result<Vec<WalkedFile>> {
    let include: Vec<String> = include.to_vec();
    let walker = ignore::WalkBuilder::new(root)
        .hidden(false)
        .git_ignore(true)
        .git_global(false)
        .git_exclude(true)
        .require_git(false)
        .filter_entry(move |e| {
            !(e.depth() > 0 && e.file_type().is_some_and(|t| t.is_dir()) && {
                let name = e.file_name().to_str().unwrap_or("");
                SKIPPED_DIRS.contains(&name) && !include.iter().any(|i| i == name)
            })
        })
        .build();
    let mut out = Vec::new();
    for entry in walker {
        let entry =
            entry.map_err(|e| SandboxError::Workspace { path: root.display().to_string(), message: e.to_string() })?;
        if !entry.file_type().is_some_and(|t| t.is_file()) {
            continue; // directories are implied; symlinks are not followed out of the workspace
        }
        let Ok(rel) = entry.path().strip_prefix(root) else { continue };
        let Some(rel) = rel.to_str().map(|s| s.replace('\\', "/")) else { continue };
        let meta =
            entry.metadata().map_err(|e| SandboxError::Workspace { path: rel.clone(), message: e.to_string() })?;
        #[cfg(unix)]
        let executable = std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o111 != 0;
        #[cfg(not(unix))]
        let executable = false;
        out.push(WalkedFile { path: rel, abs: entry.path().to_owned(), size: meta.len(), executable });
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

/// The workspace's files, with `overlay` replacing or adding content, sorted by path. Directories in
/// `include` are sent although they are normally skipped.
pub fn collect_files(
    root: &Path,
    overlay: &BTreeMap<String, String>,
    include: &[String],
) -> Result<Vec<WorkspaceFile>> {
    let mut files: BTreeMap<String, WorkspaceFile> = BTreeMap::new();
    for walked in walk_workspace(root, include)? {
        if walked.size > MAX_FILE_BYTES {
            tracing::warn!(path = %walked.path, bytes = walked.size, "not syncing an oversized file");
            continue;
        }
        let contents = std::fs::read(&walked.abs)
            .map_err(|e| SandboxError::Workspace { path: walked.path.clone(), message: e.to_string() })?;
        files.insert(walked.path.clone(), WorkspaceFile { path: walked.path, contents, executable: walked.executable });
    }
    for (path, text) in overlay {
        let executable = files.get(path).is_some_and(|f| f.executable);
        files
            .insert(path.clone(), WorkspaceFile { path: path.clone(), contents: text.as_bytes().to_vec(), executable });
    }
    Ok(files.into_values().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn respects_gitignore_skips_dependencies_and_overlays_buffers() {
        let dir = tempfile::tempdir().unwrap();
        samokoder_test_utils::write_fixture(
            dir.path(),
            "//- /.gitignore\nsecret.env\n//- /secret.env\nKEY=1\n//- /src/a.js\nold\n//- /node_modules/x/index.js\nx\n//- /.samokoder/state\ns\n//- /test/a.test.js\nt\n",
        );
        let overlay =
            BTreeMap::from([("src/a.js".to_owned(), "unsaved".to_owned()), ("src/new.js".to_owned(), "n".to_owned())]);
        let files = collect_files(dir.path(), &overlay, &[]).unwrap();
        let listed: Vec<(&str, &[u8])> = files.iter().map(|f| (f.path.as_str(), f.contents.as_slice())).collect();
        assert_eq!(
            listed,
            vec![
                (".gitignore", &b"secret.env\n"[..]),
                ("src/a.js", b"unsaved"),
                ("src/new.js", b"n"),
                ("test/a.test.js", b"t\n")
            ]
        );
    }
}
