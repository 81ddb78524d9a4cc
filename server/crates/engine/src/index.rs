//! Keeping the context index current: the workspace is indexed in the background from start-up (files
//! parsed in parallel), then every document event is applied in order by one worker thread. Nothing that
//! answers the editor waits for it: readers take the index as it is.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;

use parking_lot::RwLock;
use samokoder_context::{FileIndex, Lang, RepoIndex};
use samokoder_edits::ByteEdit;

/// Files larger than this are not indexed (a generated blob tells an agent nothing).
const MAX_INDEXED_BYTES: u64 = 16 * 1024 * 1024;
/// Open documents whose syntax trees are kept, the most recently opened or edited: the trees are most of an
/// open document's memory (100 open 100 KB TypeScript documents took 622 MB with every tree kept), and a
/// document edited after its tree went is parsed afresh (milliseconds), as rust-analyzer's bounded LRU does.
const KEPT_TREES: usize = 8;

pub(crate) enum IndexOp {
    /// An opened document's text: its syntax tree is kept, for its edits to reparse incrementally.
    Open(String, String),
    /// A file's whole text, not open in the editor (written by an accepted edit, read from disk): indexed,
    /// its tree dropped.
    Upsert(String, String),
    /// Edits to an open document, in order.
    Edit(String, Vec<ByteEdit>),
    /// Read the file from disk again (closed without saving, or changed on disk); gone means removed.
    Reload(String),
}

pub(crate) struct Indexer {
    pub index: Arc<RwLock<RepoIndex>>,
    tx: mpsc::Sender<IndexOp>,
    ready: Arc<(AtomicBool, tokio::sync::Notify)>,
}

impl Indexer {
    /// Starts the worker; it indexes the workspace at `root`, then applies operations as they come.
    pub fn start(root: PathBuf) -> Self {
        let index = Arc::new(RwLock::new(RepoIndex::new()));
        let ready = Arc::new((AtomicBool::new(false), tokio::sync::Notify::new()));
        let (tx, rx) = mpsc::channel::<IndexOp>();
        let (worker_index, worker_ready) = (index.clone(), ready.clone());
        let spawned = std::thread::Builder::new().name("samokoder-index".into()).spawn(move || {
            let started = std::time::Instant::now();
            let files = scan(&root, &worker_index);
            tracing::info!(files, ms = started.elapsed().as_millis() as u64, "workspace indexed");
            worker_ready.0.store(true, Ordering::SeqCst);
            worker_ready.1.notify_waiters();
            let mut trees = Trees::default();
            loop {
                let op = match rx.try_recv() {
                    Ok(op) => op,
                    Err(mpsc::TryRecvError::Empty) => {
                        // Idle: the reparses that were deferred (bundles), once per burst of edits.
                        if worker_index.read().has_pending() {
                            worker_index.write().reparse_pending();
                            continue;
                        }
                        match rx.recv() {
                            Ok(op) => op,
                            Err(_) => break,
                        }
                    }
                    Err(mpsc::TryRecvError::Disconnected) => break,
                };
                let used = match &op {
                    IndexOp::Open(path, _) | IndexOp::Edit(path, _) => Some((path.clone(), true)),
                    IndexOp::Upsert(path, _) | IndexOp::Reload(path) => Some((path.clone(), false)),
                };
                apply(&root, &worker_index, op);
                if let Some((path, open)) = used {
                    for old in trees.used(&path, open) {
                        worker_index.write().forget_tree(&old);
                    }
                }
            }
        });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the indexer; the repo map stays empty");
            ready.0.store(true, Ordering::SeqCst);
        }
        Self { index, tx, ready }
    }

    pub fn send(&self, op: IndexOp) {
        // The worker lives as long as the engine; a send fails only while both go away.
        let _ = self.tx.send(op);
    }

    /// Waits until the first scan of the workspace is done (the CLI's runs want the whole map).
    pub async fn wait_ready(&self) {
        loop {
            let notified = self.ready.1.notified();
            if self.ready.0.load(Ordering::SeqCst) {
                return;
            }
            notified.await;
        }
    }
}

/// The open documents whose trees are kept, least recently used first.
#[derive(Default)]
struct Trees(std::collections::VecDeque<String>);

impl Trees {
    /// `path` was opened or edited (`open`), or indexed without a tree: the paths whose trees go now.
    fn used(&mut self, path: &str, open: bool) -> Vec<String> {
        self.0.retain(|p| p != path);
        if !open {
            return Vec::new();
        }
        self.0.push_back(path.to_owned());
        let over = self.0.len().saturating_sub(KEPT_TREES);
        self.0.drain(..over).collect()
    }
}

fn apply(root: &std::path::Path, index: &RwLock<RepoIndex>, op: IndexOp) {
    match op {
        IndexOp::Open(path, text) => upsert(index, &path, text, true),
        IndexOp::Upsert(path, text) => upsert(index, &path, text, false),
        IndexOp::Edit(path, edits) => {
            index.write().edit(&path, &edits);
        }
        IndexOp::Reload(path) => match std::fs::read(root.join(&path)) {
            Ok(bytes) => apply(root, index, IndexOp::Upsert(path, String::from_utf8_lossy(&bytes).into_owned())),
            Err(_) => index.write().remove(&path),
        },
    }
}

fn upsert(index: &RwLock<RepoIndex>, path: &str, text: String, open: bool) {
    let Some(lang) = Lang::from_path(path) else { return };
    let mut file = FileIndex::parse(path, lang, text);
    if !open {
        file.forget_tree();
    }
    let mut index = index.write();
    let added = index.file(path).is_none();
    index.insert(file, added);
}

/// Indexes every source file of the workspace, parsing on all cores; returns how many.
fn scan(root: &std::path::Path, index: &RwLock<RepoIndex>) -> usize {
    let walked = match samokoder_sandbox::walk_workspace(root, &[]) {
        Ok(files) => files,
        Err(e) => {
            tracing::warn!(error = %e, "cannot walk the workspace; the repo map starts empty");
            return 0;
        }
    };
    let queue: Vec<_> =
        walked.into_iter().filter(|f| Lang::from_path(&f.path).is_some() && f.size <= MAX_INDEXED_BYTES).collect();
    let total = queue.len();
    let queue = parking_lot::Mutex::new(queue);
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                let mut parsed = Vec::new();
                while let Some(file) = queue.lock().pop() {
                    let Ok(bytes) = std::fs::read(&file.abs) else { continue };
                    let text = String::from_utf8_lossy(&bytes).into_owned();
                    if minified(&text) {
                        tracing::debug!(path = %file.path, "not indexing a minified file");
                        continue;
                    }
                    let lang = Lang::from_path(&file.path).expect("filtered above");
                    let mut parsed_file = FileIndex::parse(&file.path, lang, text);
                    // No editor has it open yet: its tree would only take memory (a didOpen parses again).
                    parsed_file.forget_tree();
                    parsed.push(parsed_file);
                    if parsed.len() == 64 {
                        let mut index = index.write();
                        for f in parsed.drain(..) {
                            index.insert(f, true);
                        }
                    }
                }
                let mut index = index.write();
                for f in parsed {
                    index.insert(f, true);
                }
            });
        }
    });
    total
}

/// A bundle squeezed onto few long lines: nothing to learn from its names.
fn minified(text: &str) -> bool {
    let sample = &text[..text.floor_char_boundary(64 * 1024)];
    let lines = sample.lines().count().max(1);
    sample.len() / lines > 400 || sample.lines().any(|l| l.len() > 20_000)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_least_recently_used_trees_go_past_the_limit() {
        let mut trees = super::Trees::default();
        for i in 0..super::KEPT_TREES {
            assert!(trees.used(&format!("d{i}.ts"), true).is_empty());
        }
        // An edit makes d0 the most recent: d1 goes when one more is opened.
        assert!(trees.used("d0.ts", true).is_empty());
        assert_eq!(trees.used("new.ts", true), ["d1.ts"]);
        // A document indexed without its tree (closed) leaves the list.
        assert!(trees.used("d2.ts", false).is_empty());
        assert!(trees.used("another.ts", true).is_empty());
    }
}
