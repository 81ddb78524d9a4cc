//! The context engine on a corpus nobody here wrote (`scripts/fetch-bench-corpus.sh`: rxjs 7.8.2 src,
//! typescript 5.9.3 lib/*.d.ts and lib/typescript.js, @types/node 22.20.5), in one run:
//!
//! - cold indexing (parse, tags, imports, tables) against raw tree-sitter parsing of the same files;
//! - the repo map rendered for 1k, 4k and 8k token budgets;
//! - the update after a one-character edit (incremental reparse, tags, tables, re-rank, render 4k; a
//!   bundle's reparse is deferred to the indexer's idle time and timed apart);
//! - resident memory after indexing.
//!
//! Run: `scripts/fetch-bench-corpus.sh && cargo bench -p samokoder-context --bench corpus [CORPUS_DIR]`.

// A bench binary reports on stdout.
#![allow(clippy::print_stdout)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use samokoder_context::{FileIndex, Lang, MapRequest, RepoIndex};

fn files(root: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/");
                if Lang::from_path(&rel).is_some() {
                    out.push((rel, std::fs::read_to_string(&path).unwrap()));
                }
            }
        }
    }
    out.sort();
    out
}

fn rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .unwrap()
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap();
    kb / 1024.0
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:9.2} ms", d.as_secs_f64() * 1e3)
}

fn main() {
    let root: PathBuf =
        std::env::args().nth(1).filter(|a| !a.starts_with('-')).map(PathBuf::from).unwrap_or_else(|| {
            let out = std::process::Command::new("bash")
                .arg("scripts/fetch-bench-corpus.sh")
                .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../../.."))
                .output()
                .unwrap();
            assert!(out.status.success(), "fetching the corpus failed: {}", String::from_utf8_lossy(&out.stderr));
            PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
        });
    let corpus = files(&root);
    let bytes: usize = corpus.iter().map(|(_, t)| t.len()).sum();
    println!("corpus: {} files, {:.1} MB ({})", corpus.len(), bytes as f64 / 1048576.0, root.display());
    let rss_loaded = rss_mb();

    // Cold: raw parsing, then full indexing, each on one thread, best of 3.
    let mut raw = Vec::new();
    let mut indexed = Vec::new();
    let mut index = RepoIndex::new();
    let mut rss_after_index = 0.0;
    for round in 0..3 {
        if round == 0 {
            // Memory first, before any other parse has grown the heap: the index as the engine keeps it.
            for (path, text) in &corpus {
                let mut file = FileIndex::parse(path, Lang::from_path(path).unwrap(), text.clone());
                file.forget_tree();
                index.insert(file, true);
            }
            rss_after_index = rss_mb();
        }
        let t = Instant::now();
        for (path, text) in &corpus {
            let mut parser = tree_sitter::Parser::new();
            let lang: tree_sitter::Language = match Lang::from_path(path).unwrap() {
                Lang::TypeScript => tree_sitter_typescript::LANGUAGE_TYPESCRIPT.into(),
                Lang::Tsx => tree_sitter_typescript::LANGUAGE_TSX.into(),
            };
            parser.set_language(&lang).unwrap();
            std::hint::black_box(parser.parse(text, None).unwrap());
        }
        raw.push(t.elapsed());
        let t = Instant::now();
        let mut fresh = RepoIndex::new();
        for (path, text) in &corpus {
            // As the engine indexes a workspace: no file is open yet, so no syntax tree is kept.
            let mut file = FileIndex::parse(path, Lang::from_path(path).unwrap(), text.clone());
            file.forget_tree();
            fresh.insert(file, true);
        }
        indexed.push(t.elapsed());
        drop(fresh);
    }
    let (raw, indexed) = (*raw.iter().min().unwrap(), *indexed.iter().min().unwrap());
    println!(
        "cold index (parse + tags + imports)   {}   raw tree-sitter parse {}   ratio {:.2}x (target <= 1.3x)",
        ms(indexed),
        ms(raw),
        indexed.as_secs_f64() / raw.as_secs_f64()
    );
    println!(
        "  throughput                         {:9.1} MB/s   raw {:.1} MB/s",
        bytes as f64 / 1048576.0 / indexed.as_secs_f64(),
        bytes as f64 / 1048576.0 / raw.as_secs_f64()
    );
    println!(
        "resident memory                       {:9.1} MB after indexing, trees dropped ({:.1} MB with the corpus text alone)",
        rss_after_index, rss_loaded
    );

    for tokens in [1024, 4096, 8192] {
        let request = MapRequest { tokens, ..Default::default() };
        let cold = Instant::now();
        let map = index.map(&request);
        let cold = cold.elapsed();
        let warm: Vec<Duration> = (0..5)
            .map(|_| {
                let t = Instant::now();
                std::hint::black_box(index.map(&request));
                t.elapsed()
            })
            .collect();
        println!(
            "map {tokens:>5} tokens: first {}, then {} (p50 of 5); {} lines, ~{} tokens",
            ms(cold),
            ms(median(warm)),
            map.lines().count(),
            map.chars().count().div_ceil(4)
        );
    }

    // A one-character edit, then the map again: in an rxjs operator, and in the 9 MB typescript.js.
    for target in ["rxjs/src/internal/operators/map.ts", "typescript/lib/typescript.js"] {
        let Some(text) = index.file(target).map(|f| f.text().to_owned()) else {
            println!("{target}: not in the corpus");
            continue;
        };
        // The editor opens it: parsed again, its tree kept for incremental edits.
        index.upsert(target, text.clone());
        let at = text.find("function").unwrap_or(text.len() / 2);
        let (mut times, mut edits, mut reparses) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..20 {
            let edit = if i % 2 == 0 { (at..at, "x".to_owned()) } else { (at..at + 1, String::new()) };
            let t = Instant::now();
            index.edit(target, &[edit]);
            edits.push(t.elapsed());
            std::hint::black_box(index.map(&MapRequest {
                tokens: 4096,
                focus: vec![target.to_owned()],
                ..Default::default()
            }));
            times.push(t.elapsed());
            // What the engine's indexer does next when no other edit waits: a bundle's deferred reparse.
            let t = Instant::now();
            if index.reparse_pending() {
                reparses.push(t.elapsed());
            }
        }
        println!(
            "one-character edit + re-rank + 4k map, {target}: {} (p50 of 20, target <= 20 ms; the edit alone {})",
            ms(median(times)),
            ms(median(edits))
        );
        if !reparses.is_empty() {
            println!("  then, when the indexer is idle, the bundle's deferred reparse: {}", ms(median(reparses)));
        }
    }
}
