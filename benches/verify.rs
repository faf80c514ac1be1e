//! Authentication costs: stores DOCS synthetic documents (default 10,000, from a seed,
//! through the store API, no OCR) twice, without and with signing, and prints what
//! signing and logging add per document; then seals and times `verify` without files.
//! Run by `scripts/bench-verify [DOCS]`; prints figures, asserts nothing.

use sohoa::authenticity::keys;
use sohoa::authenticity::verify::{VerifyConfig, verify_archive};
use sohoa::store::Archive;
use sohoa::synth::{self, Rng};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// sohoa's OCR throughput on this 2-core machine, measured by `scripts/bench`.
const OCR_PAGES_PER_MINUTE: f64 = 37.8;
/// Characters per synthetic page, as in the search benchmark.
const PAGE_CHARS: usize = 1500;

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// Stores `docs` documents into a fresh archive at `db`; returns the time spent.
fn build(db: &Path, docs: u64, keys_dir: Option<&Path>) -> (Box<dyn Archive>, Duration, usize) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    let _ = std::fs::remove_dir_all(format!("{}.index", db.display()));
    let mut store = sohoa::store::open(db).unwrap();
    if let Some(dir) = keys_dir {
        let _ = std::fs::remove_dir_all(dir);
        store.set_signer(Some(keys::create(dir).unwrap())).unwrap();
    }
    let run = store.begin_run("bench-verify").unwrap();
    let mut rng = Rng::new(11);
    let started = Instant::now();
    let mut batch = Vec::new();
    let mut pages = 0;
    for i in 0..docs {
        let doc = synth::document(&mut rng, i, PAGE_CHARS);
        pages += doc.pages.len();
        batch.push(doc);
        if batch.len() == 200 || i + 1 == docs {
            store.put_documents(run, &batch).unwrap();
            batch.clear();
        }
    }
    (store, started.elapsed(), pages)
}

fn main() {
    let docs: u64 = arg("--docs").map_or(10_000, |d| d.parse().expect("--docs N"));
    let dir = PathBuf::from("target/bench-verify");
    std::fs::create_dir_all(&dir).unwrap();
    let plain_db = dir.join("plain.db");
    let signed_db = dir.join("signed.db");
    let keys_dir = dir.join("signed.db.keys");

    let (_, plain, _) = build(&plain_db, docs, None);
    let (mut store, signed, pages) = build(&signed_db, docs, Some(keys_dir.as_path()));
    let signing = store.signing_time();
    let started = Instant::now();
    let head = store.seal().unwrap().expect("a tree head");
    let sealing = started.elapsed();
    println!(
        "stored {docs} documents: {:.2} s unsigned, {:.2} s signed; building and signing records {:.2} s ({:.0} µs per document), tree head over {} entries {:.3} s",
        plain.as_secs_f64(),
        signed.as_secs_f64(),
        signing.as_secs_f64(),
        signing.as_secs_f64() * 1e6 / docs as f64,
        head.tree_size,
        sealing.as_secs_f64()
    );
    // Against ingest: OCR runs at 37.8 pages/min on these 2 cores (scripts/bench), so
    // ingesting these pages would take pages × 60 / 37.8 seconds.
    let ingest_seconds = pages as f64 * 60.0 / OCR_PAGES_PER_MINUTE;
    println!(
        "against ingesting their {pages} pages with OCR (~{ingest_seconds:.0} s at {OCR_PAGES_PER_MINUTE} pages/min): signing and logging add {:.4} %",
        (signing + sealing).as_secs_f64() * 100.0 / ingest_seconds
    );
    drop(store);

    let store = sohoa::store::open(&signed_db).unwrap();
    let trusted = keys::public_keys(&keys_dir).unwrap();
    let config = VerifyConfig {
        files: false,
        trusted,
        kept_heads: Vec::new(),
    };
    let mut times = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        let report = verify_archive(&*store, &config).unwrap();
        times.push(started.elapsed().as_secs_f64());
        assert!(report.problems.is_empty(), "{:?}", report.problems.first());
    }
    times.sort_by(f64::total_cmp);
    println!(
        "verify --no-files over {docs} documents: {:.2} s (median of 3; fastest {:.2} s)",
        times[1], times[0]
    );
}
