//! The index of a whole workspace: every parsed file, who defines and references what, the import graph,
//! and what is built from them: the ranked repo map, workspace symbols, and cursor context.
//!
//! Keeping it current costs the changed file only: its tags are updated incrementally, its contribution
//! to the identifier tables is replaced, and the next ranking starts from the last one.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::ops::Range;
use std::sync::Mutex;

use crate::rank::pagerank;
use crate::{FileIndex, Lang, Tag, TagKind, resolve_import};

/// What a map is for.
#[derive(Debug, Clone, Default)]
pub struct MapRequest {
    /// Token budget for the rendered map (about four characters per token).
    pub tokens: usize,
    /// Files the user is looking at (open, mentioned, with diagnostics): rank flows toward them.
    pub focus: Vec<String>,
    /// Identifiers mentioned in the request: their definitions weigh more.
    pub mentioned: Vec<String>,
    /// Files not to list (their whole text is in the prompt already).
    pub exclude: Vec<String>,
    /// Only files under this directory (workspace-relative), when set.
    pub within: Option<String>,
}

/// A definition matching a workspace-symbol query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SymbolMatch {
    pub path: String,
    pub tag: Tag,
    pub container: Option<String>,
}

/// What surrounds a position: the enclosing definition and the definitions its code uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CursorContext {
    pub path: String,
    /// The innermost function, method, class or component around the position; `None` at module level.
    pub enclosing: Option<Tag>,
    /// Names used in the enclosing code (or the module), each with where it is defined (path, signature).
    pub references: Vec<(String, Vec<(String, String)>)>,
}

/// A file's identifiers (interned) with how many times it defines / references each, sorted by identifier.
#[derive(Default)]
struct FileTables {
    defs: Vec<(u32, u32)>,
    refs: Vec<(u32, u32)>,
}

/// Identifier -> number, and back. Only grows.
#[derive(Default)]
struct Interner {
    ids: HashMap<String, u32>,
    names: Vec<String>,
}

impl Interner {
    fn name(&self, id: u32) -> &str {
        &self.names[id as usize]
    }

    fn tables_of(&mut self, file: &FileIndex) -> FileTables {
        let mut defs: HashMap<u32, u32> = HashMap::new();
        let mut refs: HashMap<u32, u32> = HashMap::new();
        for tag in file.tags() {
            let id = match self.ids.get(&tag.name) {
                Some(&id) => id,
                None => {
                    let id = self.names.len() as u32;
                    self.ids.insert(tag.name.clone(), id);
                    self.names.push(tag.name.clone());
                    id
                }
            };
            *(if tag.is_definition() { &mut defs } else { &mut refs }).entry(id).or_default() += 1;
        }
        let sorted = |m: HashMap<u32, u32>| {
            let mut v: Vec<(u32, u32)> = m.into_iter().collect();
            v.sort_unstable();
            v
        };
        FileTables { defs: sorted(defs), refs: sorted(refs) }
    }
}

#[derive(Default)]
pub struct RepoIndex {
    files: BTreeMap<String, FileIndex>,
    tables: HashMap<String, FileTables>,
    names: Interner,
    /// Resolved imports per file; recomputed when a file is added or removed, or the file changes.
    resolved: Mutex<HashMap<String, Vec<String>>>,
    /// The last ranking (by path), to start the next one from.
    last_ranks: Mutex<HashMap<String, f64>>,
    /// Files whose reparse waits (bundles with edits).
    deferred: std::collections::BTreeSet<String>,
}

impl RepoIndex {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    pub fn file(&self, path: &str) -> Option<&FileIndex> {
        self.files.get(path)
    }

    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.files.keys().map(String::as_str)
    }

    /// Adds or replaces a file from its whole text. Files this crate does not parse are ignored.
    pub fn upsert(&mut self, path: &str, text: String) {
        let Some(lang) = Lang::from_path(path) else { return };
        let added = !self.files.contains_key(path);
        self.insert(FileIndex::parse(path, lang, text), added);
    }

    /// Adds a file parsed elsewhere (in parallel).
    pub fn insert(&mut self, file: FileIndex, added: bool) {
        let path = file.path.clone();
        self.deferred.remove(&path);
        self.tables.insert(path.clone(), self.names.tables_of(&file));
        self.files.insert(path.clone(), file);
        self.invalidate(&path, added);
    }

    /// Applies edits (byte ranges of the text as it is before each edit, in order).
    pub fn edit(&mut self, path: &str, edits: &[(Range<usize>, String)]) -> bool {
        let Some(file) = self.files.get_mut(path) else { return false };
        for (range, text) in edits {
            file.edit(range.clone(), text);
        }
        if file.needs_reparse() {
            // Its tags and imports only moved: the tables and resolved imports stand until the reparse.
            self.deferred.insert(path.to_owned());
        } else {
            self.tables.insert(path.to_owned(), self.names.tables_of(file));
            self.invalidate(path, false);
        }
        true
    }

    /// Drops a file's syntax tree (its tags and imports stay): its next edit parses it afresh. Whether it had
    /// one.
    pub fn forget_tree(&mut self, path: &str) -> bool {
        let Some(file) = self.files.get_mut(path) else { return false };
        let had = file.has_tree();
        file.forget_tree();
        had
    }

    /// Whether a file (a bundle) has edits waiting for [`RepoIndex::reparse_pending`].
    pub fn has_pending(&self) -> bool {
        !self.deferred.is_empty()
    }

    /// Reparses the files whose reparse was deferred (bundles, see [`FileIndex::edit_deferred`]); for the
    /// index's owner to call when no edit is waiting. Whether there were any.
    pub fn reparse_pending(&mut self) -> bool {
        let pending = std::mem::take(&mut self.deferred);
        for path in &pending {
            let Some(file) = self.files.get_mut(path) else { continue };
            file.reparse();
            self.tables.insert(path.clone(), self.names.tables_of(file));
            self.invalidate(path, false);
        }
        !pending.is_empty()
    }

    pub fn remove(&mut self, path: &str) {
        self.deferred.remove(path);
        if self.files.remove(path).is_some() {
            self.tables.remove(path);
            self.invalidate(path, true);
        }
    }

    fn invalidate(&self, path: &str, file_set_changed: bool) {
        let mut resolved = self.resolved.lock().unwrap_or_else(|e| e.into_inner());
        if file_set_changed {
            resolved.clear();
        } else {
            resolved.remove(path);
        }
    }

    fn resolved_imports(&self, path: &str) -> Vec<String> {
        let mut cache = self.resolved.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(found) = cache.get(path) {
            return found.clone();
        }
        let Some(file) = self.files.get(path) else { return Vec::new() };
        let exists = |p: &str| self.files.contains_key(p);
        let mut found: Vec<String> =
            file.imports().iter().filter_map(|i| resolve_import(path, &i.specifier, &exists)).collect();
        found.sort();
        found.dedup();
        cache.insert(path.to_owned(), found.clone());
        found
    }

    /// The repo map: files and the signatures of their most relevant definitions, most relevant first,
    /// within the token budget. Deterministic for the same index and request.
    pub fn map(&self, request: &MapRequest) -> String {
        // No map line is shorter than about two tokens, so more candidates than that could never fit.
        let ranked = self.rank_definitions(request, request.tokens / 2 + 1);
        let excluded: HashSet<&str> = request.exclude.iter().map(String::as_str).collect();
        let within = request.within.as_ref().map(|d| format!("{}/", d.trim_end_matches('/')));
        let ranked: Vec<(&str, &str)> = ranked
            .into_iter()
            .filter(|(p, _)| !excluded.contains(p) && within.as_ref().is_none_or(|w| p.starts_with(w.as_str())))
            .collect();
        // The most definitions whose rendering fits: a binary search over their number.
        let (mut lo, mut hi) = (0usize, ranked.len());
        let mut best = String::new();
        while lo < hi {
            let mid = (lo + hi).div_ceil(2);
            let text = self.render(&ranked[..mid]);
            if estimate_tokens(&text) <= request.tokens {
                lo = mid;
                best = text;
            } else {
                hi = mid - 1;
            }
        }
        if lo > 0 && best.is_empty() {
            best = self.render(&ranked[..lo]);
        }
        best
    }

    /// (path, identifier) of the definitions most relevant to the request, best first: at most `limit`.
    ///
    /// Files are ranked by PageRank over "references a name defined there" and import edges, personalised
    /// toward the focus. A definition's score is the rank that flows along the references to its name: for
    /// name `i`, `S(i) = sum over referencing files R of rank(R) * weight(R, i) / out_weight(R)`, the same
    /// for every file defining `i`. Each definition also gets a share of its own file's rank.
    fn rank_definitions(&self, request: &MapRequest, limit: usize) -> Vec<(&str, &str)> {
        let paths: Vec<&str> = self.files.keys().map(String::as_str).collect();
        let n_names = self.names.names.len();
        let tables: Vec<&FileTables> = paths.iter().map(|p| &self.tables[*p]).collect();
        let interned = |names: &[String]| -> HashSet<u32> {
            names.iter().filter_map(|n| self.names.ids.get(n).copied()).collect()
        };
        let mentioned = interned(&request.mentioned);
        let focus: HashSet<&str> = request.focus.iter().map(String::as_str).collect();

        // Who defines each name: CSR arrays over name ids.
        let mut start = vec![0u32; n_names + 1];
        for t in &tables {
            for &(name, _) in &t.defs {
                start[name as usize + 1] += 1;
            }
        }
        for i in 0..n_names {
            start[i + 1] += start[i];
        }
        let mut fill = start.clone();
        let mut definers = vec![0u32; start[n_names] as usize];
        for (file, t) in tables.iter().enumerate() {
            for &(name, _) in &t.defs {
                definers[fill[name as usize] as usize] = file as u32;
                fill[name as usize] += 1;
            }
        }
        let defined_in = |name: u32| &definers[start[name as usize] as usize..start[name as usize + 1] as usize];
        let weight = |name: u32, count: u32| {
            let mut w = (count as f64).sqrt();
            if mentioned.contains(&name) {
                w *= 10.0;
            }
            if self.names.name(name).starts_with('_') {
                w *= 0.1;
            }
            if defined_in(name).len() > 5 {
                w *= 0.1;
            }
            w
        };

        // File graph: references to names defined elsewhere, and imports.
        let mut edges: Vec<(u32, u32, f64)> = Vec::new();
        let mut out_weight = vec![0.0; paths.len()];
        // Per file, its references to defined names with their weights: the edges now, the flow below.
        let mut weighted: Vec<Vec<(u32, f64)>> = Vec::with_capacity(tables.len());
        let index_of: HashMap<&str, u32> = paths.iter().enumerate().map(|(i, p)| (*p, i as u32)).collect();
        for (from, t) in tables.iter().enumerate() {
            let mut targets: HashMap<u32, f64> = HashMap::new();
            let mut refs = Vec::new();
            for &(name, count) in &t.refs {
                let to = defined_in(name);
                if to.is_empty() {
                    continue;
                }
                let w = weight(name, count);
                refs.push((name, w));
                out_weight[from] += w * to.len() as f64;
                for &d in to {
                    *targets.entry(d).or_default() += w;
                }
            }
            for target in self.resolved_imports(paths[from]) {
                if let Some(&to) = index_of.get(target.as_str()) {
                    *targets.entry(to).or_default() += 1.0;
                    out_weight[from] += 1.0;
                }
            }
            let mut targets: Vec<(u32, f64)> = targets.into_iter().collect();
            targets.sort_unstable_by_key(|(t, _)| *t);
            edges.extend(targets.into_iter().map(|(to, w)| (from as u32, to, w)));
            weighted.push(refs);
        }
        let personalization: Option<Vec<f64>> =
            (!focus.is_empty()).then(|| paths.iter().map(|p| if focus.contains(p) { 1.0 } else { 0.0 }).collect());
        let warm: Option<Vec<f64>> = {
            let last = self.last_ranks.lock().unwrap_or_else(|e| e.into_inner());
            (!last.is_empty()).then(|| paths.iter().map(|p| last.get(*p).copied().unwrap_or(0.0)).collect())
        };
        let ranks = pagerank(paths.len(), &edges, personalization.as_deref(), warm.as_deref());
        *self.last_ranks.lock().unwrap_or_else(|e| e.into_inner()) =
            paths.iter().zip(&ranks).map(|(p, r)| (p.to_string(), *r)).collect();

        // What flows to each name along the references to it.
        let mut flow = vec![0.0f64; n_names];
        for (from, refs) in weighted.iter().enumerate() {
            if out_weight[from] == 0.0 {
                continue;
            }
            let share = ranks[from] / out_weight[from];
            for &(name, w) in refs {
                flow[name as usize] += share * w;
            }
        }
        // Every definition: the flow to its name, plus a share of its file's rank (a full share in the
        // files the user is looking at, and for names they mentioned), so unreferenced files still order.
        let mut scored: Vec<(f64, u32, u32)> = Vec::new();
        for (file, t) in tables.iter().enumerate() {
            let own = if focus.contains(paths[file]) { 1.0 } else { 1e-3 };
            let share = ranks[file] * own / t.defs.len().max(1) as f64;
            for &(name, _) in &t.defs {
                let mention = if mentioned.contains(&name) { ranks[file] } else { 0.0 };
                scored.push((flow[name as usize] + share + mention, file as u32, name));
            }
        }
        let order = |a: &(f64, u32, u32), b: &(f64, u32, u32)| {
            b.0.total_cmp(&a.0)
                .then_with(|| paths[a.1 as usize].cmp(paths[b.1 as usize]))
                .then_with(|| self.names.name(a.2).cmp(self.names.name(b.2)))
        };
        if scored.len() > limit && limit > 0 {
            scored.select_nth_unstable_by(limit - 1, order);
            scored.truncate(limit);
        }
        scored.sort_unstable_by(order);
        scored.into_iter().map(|(_, file, name)| (paths[file as usize], self.names.name(name))).collect()
    }

    /// `path:` then the signature of each selected definition, files in order of their best definition.
    fn render(&self, selected: &[(&str, &str)]) -> String {
        let mut order: Vec<&str> = Vec::new();
        let mut names: HashMap<&str, BTreeSet<&str>> = HashMap::new();
        for (path, name) in selected {
            if !names.contains_key(path) {
                order.push(path);
            }
            names.entry(path).or_default().insert(name);
        }
        let mut out = String::new();
        for path in order {
            let Some(file) = self.files.get(path) else { continue };
            let wanted = &names[path];
            out.push_str(path);
            out.push_str(":\n");
            for tag in file.definitions().filter(|t| wanted.contains(t.name.as_str())) {
                let indent = if tag.container.is_some() { "    " } else { "  " };
                out.push_str(indent);
                out.push_str(&tag.signature);
                out.push('\n');
            }
        }
        out
    }

    /// Definitions whose name contains `query` (case-insensitively): exact matches, then prefixes, then
    /// the rest; at most `limit`.
    pub fn symbols(&self, query: &str, limit: usize) -> Vec<SymbolMatch> {
        let q = query.to_lowercase();
        let mut found: Vec<(u8, SymbolMatch)> = Vec::new();
        for (path, file) in &self.files {
            for tag in file.definitions() {
                let name = tag.name.to_lowercase();
                let rank = if name == q {
                    0
                } else if name.starts_with(&q) {
                    1
                } else if name.contains(&q) {
                    2
                } else {
                    continue;
                };
                let container = file.container_of(tag).map(|c| c.name.clone());
                found.push((rank, SymbolMatch { path: path.clone(), tag: tag.clone(), container }));
            }
        }
        found.sort_by(|a, b| {
            a.0.cmp(&b.0).then_with(|| a.1.tag.name.cmp(&b.1.tag.name)).then_with(|| a.1.path.cmp(&b.1.path))
        });
        found.into_iter().take(limit).map(|(_, m)| m).collect()
    }

    /// The enclosing definition at `offset` in `path`, and the definitions the code there uses.
    pub fn cursor_context(&self, path: &str, offset: usize) -> Option<CursorContext> {
        let file = self.files.get(path)?;
        let enclosing = file
            .definitions()
            .filter(|t| {
                matches!(
                    t.kind,
                    TagKind::Function
                        | TagKind::Method
                        | TagKind::Class
                        | TagKind::Component
                        | TagKind::Const
                        | TagKind::Let
                )
            })
            .filter(|t| t.node_range.start <= offset && offset <= t.node_range.end)
            .min_by_key(|t| t.node_range.len())
            .cloned();
        let scope = enclosing.as_ref().map_or(0..file.text().len(), |t| t.node_range.clone());
        let local: HashSet<&str> = file
            .definitions()
            .filter(|t| scope.start <= t.node_range.start && t.node_range.end <= scope.end)
            .map(|t| t.name.as_str())
            .collect();
        let imported = self.resolved_imports(path);
        let mut seen = BTreeSet::new();
        let mut references = Vec::new();
        for tag in file
            .tags()
            .iter()
            .filter(|t| !t.is_definition() && scope.start <= t.name_range.start && t.name_range.end <= scope.end)
        {
            if local.contains(tag.name.as_str()) || !seen.insert(tag.name.clone()) {
                continue;
            }
            let mut sites: Vec<(u8, String, String)> = Vec::new();
            for (other_path, other) in &self.files {
                let order = if other_path == path {
                    0
                } else if imported.contains(other_path) {
                    1
                } else {
                    2
                };
                for def in other.definitions().filter(|d| d.name == tag.name) {
                    sites.push((order, other_path.clone(), def.signature.clone()));
                }
            }
            if sites.is_empty() {
                continue;
            }
            sites.sort();
            references.push((tag.name.clone(), sites.into_iter().take(3).map(|(_, p, s)| (p, s)).collect()));
            if references.len() == 30 {
                break;
            }
        }
        Some(CursorContext { path: path.to_owned(), enclosing, references })
    }
}

fn estimate_tokens(text: &str) -> usize {
    text.chars().count().div_ceil(4)
}
