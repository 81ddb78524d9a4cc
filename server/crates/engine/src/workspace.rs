//! The workspace as the editor holds it: open documents, and the edits the client accepted for files it
//! has not opened (an editor applies a workspace edit to a buffer and may never save it, so the disk alone
//! would show the sandbox an older project).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use samokoder_edits::{
    ByteEdit, ChangeOutcome, ChangeSet, ContentChange, Document, DocumentError, Jail, PositionEncoding, TextEdit,
    minimal_edits,
};

/// One file's part of a workspace edit, in byte offsets of `base`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlannedEdit {
    Create {
        path: PathBuf,
        text: String,
    },
    /// `version`: the open document's version the edits were computed against; `None` for a file the
    /// editor does not have open.
    Edit {
        path: PathBuf,
        version: Option<i32>,
        base: String,
        edits: Vec<TextEdit>,
    },
    /// A file to remove (an undo of a file a run created).
    Delete {
        path: PathBuf,
    },
}

pub(crate) struct Workspace {
    jail: Jail,
    docs: HashMap<PathBuf, Document>,
    /// Workspace-relative path -> text the client accepted and holds unsaved.
    accepted: BTreeMap<String, String>,
    /// Open documents whose edit the client applied before its didChange reached us (eglot sends changes
    /// after half a second of idle): the text the client holds, and the version it was applied on. It
    /// speaks for the document until a newer version arrives.
    applied: HashMap<PathBuf, (i32, String)>,
}

impl Workspace {
    pub fn new(jail: Jail) -> Self {
        Self { jail, docs: HashMap::new(), accepted: BTreeMap::new(), applied: HashMap::new() }
    }

    fn rel(&self, path: &Path) -> Option<String> {
        self.jail.relativize(path).map(|r| r.to_string())
    }

    /// A document the client opened. When it opens a file whose edit it accepted with a text other than
    /// that edit's, the didOpen was taken before the edit (VS Code creates a new file empty, opens it, and
    /// then edits it; its language client can send that didOpen after the applyEdit response): the
    /// accepted text speaks for it until the didChange that carries the edit, as for an open document.
    pub fn open(&mut self, path: PathBuf, text: &str, version: i32) {
        self.applied.remove(&path);
        if let Some(accepted) = self.rel(&path).and_then(|rel| self.accepted.remove(&rel))
            && accepted != text
        {
            self.applied.insert(path.clone(), (version, accepted));
        }
        self.docs.insert(path, Document::new(text, version));
    }

    pub fn change(
        &mut self,
        path: &Path,
        version: i32,
        changes: Vec<ContentChange>,
        enc: PositionEncoding,
    ) -> Result<ChangeOutcome, DocumentError> {
        let doc = self.docs.get_mut(path).ok_or_else(|| DocumentError::NotOpen { path: path.display().to_string() })?;
        let outcome = doc.change(version, changes, enc)?;
        if self.applied.get(path).is_some_and(|(at, _)| doc.version() > *at) {
            self.applied.remove(path);
        }
        Ok(outcome)
    }

    /// What the client holds for an open document: its text, or the edit it applied since.
    fn held(&self, path: &Path, doc: &Document) -> String {
        match self.applied.get(path) {
            Some((at, text)) if doc.version() <= *at => text.clone(),
            _ => doc.text(),
        }
    }

    pub fn release_held(&mut self) -> bool {
        let mut any = false;
        for doc in self.docs.values_mut() {
            any |= doc.release_held();
        }
        any
    }

    /// The edits applied to open documents since the last call, per document.
    pub fn take_edits(&mut self) -> Vec<(PathBuf, Vec<ByteEdit>)> {
        self.docs
            .iter_mut()
            .filter_map(|(path, doc)| {
                let edits = doc.take_edits();
                (!edits.is_empty()).then(|| (path.clone(), edits))
            })
            .collect()
    }

    pub fn close(&mut self, path: &Path) {
        self.docs.remove(path);
        self.applied.remove(path);
        if let Some(rel) = self.rel(path) {
            self.accepted.remove(&rel);
        }
    }

    pub fn saved(&mut self, path: &Path) {
        if let Some(rel) = self.rel(path) {
            self.accepted.remove(&rel);
        }
    }

    pub fn text(&self, path: &Path) -> Option<(String, i32)> {
        self.docs.get(path).map(|d| (d.text(), d.version()))
    }

    pub fn overlay(&self) -> BTreeMap<String, String> {
        let mut overlay = self.accepted.clone();
        for (path, doc) in &self.docs {
            if let Some(rel) = self.rel(path) {
                overlay.insert(rel, self.held(path, doc));
            }
        }
        overlay
    }

    pub fn plan(&self, changes: &ChangeSet) -> Vec<PlannedEdit> {
        let mut planned = Vec::new();
        for change in &changes.changes {
            let path = self.jail.abs(&change.path);
            let (base, version) = if let Some(doc) = self.docs.get(&path) {
                (Some(self.held(&path, doc)), Some(doc.version()))
            } else if let Some(text) = self.accepted.get(change.path.as_str()) {
                (Some(text.clone()), None)
            } else {
                (self.jail.read(&change.path).ok().flatten(), None)
            };
            match base {
                None => planned.push(PlannedEdit::Create { path, text: change.text.clone() }),
                Some(base) if base == change.text => {}
                Some(base) => {
                    let edits = minimal_edits(&base, &change.text);
                    planned.push(PlannedEdit::Edit { path, version, base, edits });
                }
            }
        }
        for rel in &changes.deletes {
            let path = self.jail.abs(rel);
            let exists = self.docs.contains_key(&path)
                || self.accepted.contains_key(rel.as_str())
                || self.jail.read(rel).ok().flatten().is_some();
            if exists {
                planned.push(PlannedEdit::Delete { path });
            }
        }
        planned
    }

    pub fn accepted(&mut self, changes: &ChangeSet) {
        for rel in &changes.deletes {
            self.accepted.remove(rel.as_str());
        }
        for change in &changes.changes {
            let path = self.jail.abs(&change.path);
            match self.docs.get(&path) {
                // An open document hears of the edit through the editor's didChange; until then, the text
                // the client applied is what it holds.
                Some(doc) => {
                    self.applied.insert(path, (doc.version(), change.text.clone()));
                }
                None => {
                    self.accepted.insert(change.path.to_string(), change.text.clone());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use samokoder_edits::FileChange;

    #[test]
    fn plans_creates_and_minimal_edits_against_what_the_editor_holds() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("disk.js"), "a\nb\n").unwrap();
        let jail = Jail::new(dir.path()).unwrap();
        let mut ws = Workspace::new(jail.clone());
        ws.open(jail.root().join("open.js"), "x\ny\n", 7);
        let change = |p: &str, t: &str| FileChange { path: jail.check(p).unwrap(), text: t.into() };
        let set = ChangeSet::new(vec![
            change("new.js", "n\n"),
            change("disk.js", "a\nB\n"),
            change("open.js", "x\nY\n"),
            change("same.js", ""),
        ]);
        std::fs::write(dir.path().join("same.js"), "").unwrap();
        let plan = ws.plan(&set);
        assert_eq!(plan.len(), 3, "an unchanged file needs no edit: {plan:?}");
        assert!(matches!(&plan[0], PlannedEdit::Create { text, .. } if text == "n\n"));
        assert!(
            matches!(&plan[1], PlannedEdit::Edit { version: None, edits, .. } if edits.len() == 1 && edits[0].new_text == "B\n")
        );
        assert!(matches!(&plan[2], PlannedEdit::Edit { version: Some(7), .. }));

        // Accepted, unsaved: the overlay has the new file and the edited disk file; the open one has what the
        // client applied, before its didChange arrives (eglot sends it after an idle delay).
        ws.accepted(&set);
        let overlay = ws.overlay();
        assert_eq!(overlay.get("new.js").map(String::as_str), Some("n\n"));
        assert_eq!(overlay.get("disk.js").map(String::as_str), Some("a\nB\n"));
        assert_eq!(overlay.get("open.js").map(String::as_str), Some("x\nY\n"));
        // Then the editor's own version speaks for itself (here: the user typed over it meanwhile).
        let typed = ContentChange { range: None, text: "x\nZ\n".into() };
        ws.change(&jail.root().join("open.js"), 8, vec![typed], PositionEncoding::Utf16).unwrap();
        assert_eq!(ws.overlay().get("open.js").map(String::as_str), Some("x\nZ\n"));
        // A second plan is computed against the accepted text, not the stale disk.
        let again = ws.plan(&ChangeSet::new(vec![change("disk.js", "a\nB\nc\n")]));
        assert!(matches!(&again[0], PlannedEdit::Edit { base, .. } if base == "a\nB\n"));
        ws.saved(&jail.root().join("disk.js"));
        assert!(!ws.overlay().contains_key("disk.js"));
    }

    #[test]
    fn a_file_opened_before_its_accepted_edit_reached_the_buffer_holds_the_edit_until_the_change() {
        let dir = tempfile::tempdir().unwrap();
        let jail = Jail::new(dir.path()).unwrap();
        let mut ws = Workspace::new(jail.clone());
        let plan = jail.root().join(".samokoder/plan.md");
        let set = ChangeSet::new(vec![FileChange {
            path: jail.check(".samokoder/plan.md").unwrap(),
            text: "- [ ] a\n".into(),
        }]);
        // The applyEdit response came first; the didOpen, taken when the file was created empty, after it.
        ws.accepted(&set);
        ws.open(plan.clone(), "", 1);
        assert_eq!(ws.overlay().get(".samokoder/plan.md").map(String::as_str), Some("- [ ] a\n"));
        // The didChange with the edit, then the user's own typing: the editor speaks again.
        let edit = ContentChange { range: None, text: "- [ ] a\n".into() };
        ws.change(&plan, 2, vec![edit], PositionEncoding::Utf16).unwrap();
        let typed = ContentChange { range: None, text: "- [ ] b\n".into() };
        ws.change(&plan, 3, vec![typed], PositionEncoding::Utf16).unwrap();
        assert_eq!(ws.overlay().get(".samokoder/plan.md").map(String::as_str), Some("- [ ] b\n"));
        // A didOpen that already carries the edit leaves nothing held.
        ws.close(&plan);
        ws.accepted(&set);
        ws.open(plan.clone(), "- [ ] a\n", 1);
        assert!(!ws.applied.contains_key(&plan));
    }
}
