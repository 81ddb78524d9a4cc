//! The workspace jail: every path an agent names is checked here before anything is written.
//!
//! Refused: empty names, absolute paths (`/x`, `C:\x`, `\\server\x`), `..` anywhere, control characters,
//! device names (`CON`, `nul.txt`, ...), over-long names, paths whose existing part leads out of the root
//! through a symlink, and files over the size cap. Files that other tools run outside the sandbox are
//! writable only with the user's explicit confirmation ([`Protection::NeedsConfirmation`]).

use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::path::{Component, Path, PathBuf};

use crate::ChangeSet;

/// The default cap on the size of one file an agent may write.
pub const DEFAULT_MAX_FILE_BYTES: usize = 2 * 1024 * 1024;

const MAX_PATH_BYTES: usize = 1024;
const MAX_COMPONENT_BYTES: usize = 255;

/// A checked, normalised, workspace-relative path with `/` separators (`src/a.ts`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RelPath(String);

impl RelPath {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The file's extension, if any (`ts` for `src/a.ts`).
    pub fn extension(&self) -> Option<&str> {
        let name = self.0.rsplit('/').next()?;
        name.rsplit_once('.').map(|(_, ext)| ext).filter(|ext| !ext.is_empty())
    }
}

impl fmt::Display for RelPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether a path may be written without asking the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protection {
    Free,
    /// Run by other tools outside the sandbox (git hooks, editor tasks, CI workflows, our own config).
    NeedsConfirmation,
}

#[derive(Debug, thiserror::Error)]
pub enum JailError {
    #[error("refused to write a file with an empty path: name a file inside the workspace")]
    Empty,
    #[error("refused to write `{path}`: absolute paths are not allowed; use a path relative to the workspace root")]
    Absolute { path: String },
    #[error("refused to write `{path}`: `..` would leave the workspace root; use a path inside the workspace")]
    ParentDir { path: String },
    #[error("refused to write `{path}`: {reason}")]
    InvalidName { path: String, reason: &'static str },
    #[error("refused to write `{path}`: `{name}` is a device name on Windows; choose another file name")]
    DeviceName { path: String, name: String },
    #[error("refused to write `{path}`: it leads outside the workspace root through the symlink `{link}`")]
    SymlinkEscape { path: String, link: String },
    #[error("refused to write `{path}`: {bytes} bytes is over the {max}-byte limit for one file")]
    TooLarge { path: String, bytes: usize, max: usize },
    #[error(
        "refused to write `{path}`: other tools run this file outside the sandbox, so it changes only when \
         you confirm the edit"
    )]
    Protected { path: String },
    #[error("the workspace root {root} is not usable: {source}")]
    Root { root: PathBuf, source: io::Error },
    #[error("could not write `{path}`: {source}")]
    Io { path: String, source: io::Error },
}

pub type Result<T, E = JailError> = std::result::Result<T, E>;

/// The workspace root and the rules for writing under it.
#[derive(Debug, Clone)]
pub struct Jail {
    root: PathBuf,
    max_file_bytes: usize,
}

impl Jail {
    /// A jail at `root`, which must exist (it is canonicalised, so symlinks in it are resolved once here).
    pub fn new(root: &Path) -> Result<Self> {
        let root = root.canonicalize().map_err(|source| JailError::Root { root: root.to_owned(), source })?;
        Ok(Self { root, max_file_bytes: DEFAULT_MAX_FILE_BYTES })
    }

    pub fn with_max_file_bytes(mut self, max: usize) -> Self {
        self.max_file_bytes = max;
        self
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The absolute path of a checked relative path.
    pub fn abs(&self, rel: &RelPath) -> PathBuf {
        self.root.join(rel.as_str())
    }

    /// The relative path of an absolute path inside the root (for paths the editor sends).
    pub fn relativize(&self, abs: &Path) -> Option<RelPath> {
        let rest = abs.strip_prefix(&self.root).ok()?;
        let text = rest.to_str()?;
        check_lexical(text).ok()
    }

    /// Checks a path an agent named: lexically, then against symlinks on disk.
    pub fn check(&self, raw: &str) -> Result<RelPath> {
        let rel = check_lexical(raw)?;
        self.check_symlinks(&rel)?;
        Ok(rel)
    }

    /// Whether writing `rel` needs the user's confirmation.
    pub fn protection(rel: &RelPath) -> Protection {
        let p = rel.as_str();
        let protected = p.starts_with(".git/")
            || p.starts_with(".vscode/")
            || p.starts_with(".github/workflows/")
            || p == ".samokoder/config.toml"
            || p.starts_with(".samokoder/prompts/");
        if protected { Protection::NeedsConfirmation } else { Protection::Free }
    }

    /// Checks every change of the set (path, symlinks, size, protection) without writing anything.
    pub fn validate(&self, changes: &ChangeSet, confirmed: bool) -> Result<()> {
        for change in &changes.changes {
            self.check_symlinks(&change.path)?;
            if change.text.len() > self.max_file_bytes {
                return Err(JailError::TooLarge {
                    path: change.path.to_string(),
                    bytes: change.text.len(),
                    max: self.max_file_bytes,
                });
            }
            if !confirmed && Self::protection(&change.path) == Protection::NeedsConfirmation {
                return Err(JailError::Protected { path: change.path.to_string() });
            }
        }
        for path in &changes.deletes {
            self.check_symlinks(path)?;
            if !confirmed && Self::protection(path) == Protection::NeedsConfirmation {
                return Err(JailError::Protected { path: path.to_string() });
            }
        }
        Ok(())
    }

    /// Writes a change set to disk: all of it is validated first, so a refused path writes nothing; each
    /// file is written to a temporary sibling and renamed into place, so no file is left half-written.
    pub fn write(&self, changes: &ChangeSet, confirmed: bool) -> Result<()> {
        self.validate(changes, confirmed)?;
        for change in &changes.changes {
            let abs = self.abs(&change.path);
            let io_err = |source| JailError::Io { path: change.path.to_string(), source };
            let dir = abs.parent().unwrap_or(&self.root);
            fs::create_dir_all(dir).map_err(io_err)?;
            // The directories just created are inside the root (checked above); check again in case a
            // symlink appeared between the check and now.
            self.check_symlinks(&change.path)?;
            let tmp = dir.join(format!(
                ".{}.samokoder-tmp-{}",
                abs.file_name().and_then(|n| n.to_str()).unwrap_or("file"),
                std::process::id()
            ));
            let result = (|| {
                let mut file = fs::File::create(&tmp)?;
                file.write_all(change.text.as_bytes())?;
                file.sync_data()?;
                fs::rename(&tmp, &abs)
            })();
            if let Err(source) = result {
                let _ = fs::remove_file(&tmp);
                return Err(io_err(source));
            }
        }
        for path in &changes.deletes {
            match fs::remove_file(self.abs(path)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(source) => return Err(JailError::Io { path: path.to_string(), source }),
            }
        }
        Ok(())
    }

    /// Reads a file under the root; `None` when it does not exist.
    pub fn read(&self, rel: &RelPath) -> Result<Option<String>> {
        match fs::read(self.abs(rel)) {
            Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(JailError::Io { path: rel.to_string(), source }),
        }
    }

    /// Every existing prefix of the path must resolve inside the root.
    fn check_symlinks(&self, rel: &RelPath) -> Result<()> {
        let mut current = self.root.clone();
        for part in rel.as_str().split('/') {
            current.push(part);
            match fs::symlink_metadata(&current) {
                Ok(meta) if meta.file_type().is_symlink() => {
                    let escape = || JailError::SymlinkEscape {
                        path: rel.to_string(),
                        link: current.strip_prefix(&self.root).unwrap_or(&current).display().to_string(),
                    };
                    // A dangling link could be created later as anything; refuse it too.
                    let target = current.canonicalize().map_err(|_| escape())?;
                    if !target.starts_with(&self.root) {
                        return Err(escape());
                    }
                }
                Ok(_) => {}
                Err(_) => break, // the rest does not exist yet
            }
        }
        Ok(())
    }
}

/// The rules that need no disk: normalises `./` and `\`, refuses everything listed in the module docs.
fn check_lexical(raw: &str) -> Result<RelPath> {
    let path = raw.trim();
    if path.is_empty() {
        return Err(JailError::Empty);
    }
    let owned = || path.to_owned();
    if path.len() > MAX_PATH_BYTES {
        return Err(JailError::InvalidName { path: owned(), reason: "the path is too long" });
    }
    if path.chars().any(|c| c.is_control()) {
        return Err(JailError::InvalidName { path: owned(), reason: "the path contains control characters" });
    }
    let normalized = path.replace('\\', "/");
    let bytes = normalized.as_bytes();
    let drive = bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':';
    if normalized.starts_with('/') || normalized.starts_with('~') || drive || Path::new(path).is_absolute() {
        return Err(JailError::Absolute { path: owned() });
    }
    let mut parts = Vec::new();
    for component in Path::new(&normalized).components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => return Err(JailError::ParentDir { path: owned() }),
            Component::RootDir | Component::Prefix(_) => {
                return Err(JailError::Absolute { path: owned() });
            }
            Component::Normal(part) => {
                let part = part
                    .to_str()
                    .ok_or(JailError::InvalidName { path: owned(), reason: "the path is not valid UTF-8" })?;
                check_component(path, part)?;
                parts.push(part);
            }
        }
    }
    if parts.is_empty() {
        return Err(JailError::Empty);
    }
    Ok(RelPath(parts.join("/")))
}

fn check_component(path: &str, part: &str) -> Result<()> {
    if part.len() > MAX_COMPONENT_BYTES {
        return Err(JailError::InvalidName { path: path.to_owned(), reason: "a name in the path is too long" });
    }
    if part.contains(':') || part.ends_with('.') || part.ends_with(' ') {
        return Err(JailError::InvalidName {
            path: path.to_owned(),
            reason: "a name contains `:` or ends with `.` or a space, which Windows cannot store",
        });
    }
    let stem = part.split('.').next().unwrap_or(part).to_ascii_uppercase();
    let device = matches!(stem.as_str(), "CON" | "PRN" | "AUX" | "NUL" | "CONIN$" | "CONOUT$")
        || ((stem.starts_with("COM") || stem.starts_with("LPT"))
            && stem.len() == 4
            && stem.as_bytes()[3].is_ascii_digit());
    if device {
        return Err(JailError::DeviceName { path: path.to_owned(), name: part.to_owned() });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FileChange;

    fn lexical(raw: &str) -> String {
        match check_lexical(raw) {
            Ok(rel) => rel.0,
            Err(e) => format!("error: {e}"),
        }
    }

    #[test]
    fn normalises_good_paths() {
        assert_eq!(lexical("src/a.ts"), "src/a.ts");
        assert_eq!(lexical("./src//b.ts"), "src/b.ts");
        assert_eq!(lexical("src\\win.ts"), "src/win.ts");
        assert_eq!(lexical("  test/日本.test.js "), "test/日本.test.js");
    }

    #[test]
    fn refuses_escapes_and_bad_names() {
        for bad in [
            "",
            "/etc/passwd",
            "../outside.ts",
            "src/../../x",
            "a/..",
            "C:\\x.ts",
            "c:x",
            "\\\\server\\share",
            "~/x",
            "a\0b",
            "a\nb",
            "nul",
            "src/COM1.js",
            "lpt9.txt",
            "con.ts",
            "a:b",
            "dir./x",
            ".",
        ] {
            assert!(lexical(bad).starts_with("error:"), "{bad:?} was accepted as {}", lexical(bad));
        }
        assert!(lexical(&"a/".repeat(600)).contains("too long"));
        assert!(lexical("../outside.ts").contains("leave the workspace root"));
    }

    #[test]
    fn refuses_symlink_escapes() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), root.path().join("link")).unwrap();
        std::os::unix::fs::symlink("inside", root.path().join("ok")).unwrap();
        std::fs::create_dir(root.path().join("inside")).unwrap();
        let jail = Jail::new(root.path()).unwrap();
        let err = jail.check("link/evil.ts").unwrap_err();
        assert!(matches!(err, JailError::SymlinkEscape { .. }), "{err}");
        assert!(jail.check("ok/fine.ts").is_ok());
    }

    #[test]
    fn writes_all_or_nothing() {
        let root = tempfile::tempdir().unwrap();
        let jail = Jail::new(root.path()).unwrap().with_max_file_bytes(10);
        let good = FileChange { path: jail.check("src/a.js").unwrap(), text: "ok".into() };
        let big = FileChange { path: jail.check("src/b.js").unwrap(), text: "x".repeat(11) };
        let err = jail.write(&ChangeSet::new(vec![good.clone(), big]), false).unwrap_err();
        assert!(matches!(err, JailError::TooLarge { .. }), "{err}");
        assert!(!root.path().join("src").exists(), "nothing may be written when one change is refused");

        jail.write(&ChangeSet::new(vec![good]), false).unwrap();
        assert_eq!(std::fs::read_to_string(root.path().join("src/a.js")).unwrap(), "ok");
        let leftovers: Vec<_> = std::fs::read_dir(root.path().join("src")).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary file is left behind");
    }

    #[test]
    fn protected_files_need_confirmation() {
        let root = tempfile::tempdir().unwrap();
        let jail = Jail::new(root.path()).unwrap();
        let hook = FileChange { path: jail.check(".git/hooks/pre-commit").unwrap(), text: "rm -rf ~".into() };
        let set = ChangeSet::new(vec![hook]);
        assert!(matches!(jail.write(&set, false), Err(JailError::Protected { .. })));
        assert!(!root.path().join(".git").exists());
        jail.write(&set, true).unwrap();
        assert!(root.path().join(".git/hooks/pre-commit").exists());
    }

    #[test]
    fn deletes_are_checked_like_writes() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join(".git/hooks")).unwrap();
        std::fs::write(root.path().join("made.js"), "x").unwrap();
        std::fs::write(root.path().join(".git/hooks/pre-commit"), "x").unwrap();
        let jail = Jail::new(root.path()).unwrap();
        let delete = |p: &str| ChangeSet { deletes: vec![jail.check(p).unwrap()], ..ChangeSet::default() };
        jail.write(&delete("made.js"), false).unwrap();
        assert!(!root.path().join("made.js").exists());
        jail.write(&delete("made.js"), false).unwrap(); // already gone: fine
        assert!(matches!(jail.write(&delete(".git/hooks/pre-commit"), false), Err(JailError::Protected { .. })));
        assert!(root.path().join(".git/hooks/pre-commit").exists());
    }
}
