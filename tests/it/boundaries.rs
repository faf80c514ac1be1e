//! The module boundaries ARCHITECTURE.md states, checked on the source: which modules
//! may name which crates and modules. A rule broken here is a design change to discuss,
//! not a test to loosen.

use std::path::{Path, PathBuf};

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The source files (relative to the crate, e.g. `src/store/log.rs`) that name `what`.
fn naming(what: &str) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    sources(&root.join("src"), &mut files);
    let mut out: Vec<String> = files
        .iter()
        .filter(|f| std::fs::read_to_string(f).unwrap().contains(what))
        .map(|f| f.strip_prefix(root).unwrap().display().to_string())
        .collect();
    out.sort();
    out
}

/// `what` is named only in files under one of `allowed` (path prefixes).
fn check(what: &str, allowed: &[&str]) {
    let outside: Vec<String> = naming(what)
        .into_iter()
        .filter(|f| !allowed.iter().any(|a| f.starts_with(a)))
        .collect();
    assert!(
        outside.is_empty(),
        "{what} is named outside {allowed:?}: {outside:?}"
    );
}

#[test]
fn modules_name_only_what_their_layer_may() {
    // Only the store touches SQLite, and no one outside it names a backend: front
    // ends open the archive with `store::open` and hold a `dyn Archive`.
    check("rusqlite", &["src/store/sqlite/"]);
    check("SqliteStore", &["src/store/sqlite/", "src/store/mod.rs"]);
    check("use postgres", &["src/store/pg/"]);
    check("PostgresStore", &["src/store/pg/", "src/store/mod.rs"]);
    // Only the search index (and its tokenizers) knows tantivy.
    check("tantivy", &["src/store/index.rs", "src/store/tokenize.rs"]);
    // Nothing depends on the command line: what front ends share lives elsewhere.
    check("crate::cli", &["src/cli/", "src/main.rs"]);
    check("super::cli", &["src/cli/"]);
    // Typed errors in the library; `anyhow` only at the command-line edge.
    check("anyhow", &["src/cli/"]);
    // The web service's own modules, and no one else, name the HTTP stack.
    check("axum", &["src/serve/", "src/cli/serve.rs"]);
    // No cycles between siblings: the JSON API and the pages share `request` and
    // `public`, not each other; the signed log and the SQLite store share `rows`.
    check("super::pages", &[]);
    check("super::api", &[]);
    check("super::sqlite", &[]);
    check("serve::pages", &[]);
    check("serve::api", &[]);
    check("super::log", &["src/store/sqlite/", "src/store/pg/"]);
    // The index is fed through the change feed, whatever the backend: only the feed
    // and the index itself name the index's writer.
    check("IndexWriter", &["src/store/index.rs", "src/store/feed.rs"]);
}
