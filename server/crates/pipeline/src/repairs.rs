//! Repairs that need no model. A small model's code often fails to load for reasons a rule can fix exactly:
//! a test imports a name its module defines but does not export; a default import of a named export, or the
//! reverse; `assert` imported from `node:test`; a source module importing `node:test`; `require` in an ES
//! module; an import path off by its extension or folder when exactly one file fits. Each is found in the
//! files about to be written (and the modules they import) and fixed by code, and the user is told what
//! changed; the model is asked only for what these cannot fix (Qwen2.5-Coder-1.5B wrote an LRU cache class
//! without `export` and a test importing `assert` from `node:test`, and four tries of the model did not
//! repair either).

use std::collections::BTreeMap;

mod definitions;
mod imports;

pub use definitions::whole_definitions;
use imports::{assert_from_node_test, drop_node_test, fix_imports, requires_to_imports};

/// One repair, said to the user: `src/lru.js: exported LRUCache (test/lru.test.js imports it)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repair {
    pub path: String,
    pub what: String,
}

impl std::fmt::Display for Repair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.what)
    }
}

/// What the repairs see of the project.
pub struct Project<'a> {
    /// A workspace file as the user holds it (`None`: there is none).
    pub read: &'a dyn Fn(&str) -> Option<String>,
    /// Every source file's path (workspace-relative), for finding the one an import means.
    pub paths: &'a [String],
    /// `.js` files are ES modules (`"type": "module"` in package.json).
    pub esm: bool,
}

/// Repairs `files` (path -> text, the files about to be written) in place; modules they import may be
/// changed too (added to `files`). Returns what was done.
pub fn repair(files: &mut BTreeMap<String, String>, project: &Project<'_>) -> Vec<Repair> {
    let mut done = Vec::new();
    let written: Vec<String> = files.keys().filter(|p| is_js(p)).cloned().collect();
    for path in &written {
        let module = project.esm || path.ends_with(".mjs");
        if module && let Some(text) = requires_to_imports(&files[path]) {
            files.insert(path.clone(), text);
            done.push(Repair {
                path: path.clone(),
                what: "require() and module.exports made ES module imports and exports".into(),
            });
        }
        if let Some(text) = assert_from_node_test(&files[path]) {
            files.insert(path.clone(), text);
            done.push(Repair {
                path: path.clone(),
                what: "assert imported from node:assert/strict, not node:test".into(),
            });
        }
        if !is_test(path)
            && let Some(text) = drop_node_test(&files[path])
        {
            files.insert(path.clone(), text);
            done.push(Repair {
                path: path.clone(),
                what: "the import of node:test taken out (a module is not a test)".into(),
            });
        }
        done.extend(fix_imports(path, files, project));
    }
    done
}

fn is_js(path: &str) -> bool {
    [".js", ".mjs", ".jsx"].iter().any(|e| path.ends_with(e))
}

fn is_test(path: &str) -> bool {
    crate::agents::troubleshooter::is_test(path)
}

#[cfg(test)]
mod tests;
