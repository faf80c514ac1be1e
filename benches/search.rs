//! Search at scale: builds a synthetic archive (default 1,000,000 pages, from a seed,
//! through the store API, no OCR) and measures query latency over a fixed query mix.
//! Run by `scripts/bench-search [PAGES]`; prints figures, asserts nothing.

use sohoa::search::{self, SearchRequest};
use sohoa::synth::{self, Rng};
use std::path::PathBuf;
use std::time::Instant;

/// Characters per synthetic page: a typed A4 page of Vietnamese prose is 1,500–3,000.
const PAGE_CHARS: usize = 1500;

/// The query mix, one per line: rare and common words, phrases, numbers, filters with
/// broad text, words that need the fuzzy fallback, with and without marks. Shared with
/// `scripts/bench-serve`.
const QUERIES: &str = include_str!("search-queries.txt");
/// 30 questions of 25–35 words from the question set (samples/questions), asked as
/// people write them: ranked, not filtered (issue 21: p95 ≤ 100 ms at a million pages).
const QUESTIONS: &str = include_str!("search-questions.txt");

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn main() {
    let pages: usize = arg("--pages").map_or(1_000_000, |p| p.parse().expect("--pages N"));
    let seed: u64 = arg("--seed").map_or(7, |s| s.parse().expect("--seed N"));
    let dir = PathBuf::from(arg("--dir").unwrap_or_else(|| "target/bench-search".into()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join(format!("archive-{pages}-{seed}.db"));
    let marker = dir.join(format!("archive-{pages}-{seed}.done"));
    if !marker.exists() {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
        }
        println!("building {pages} pages (seed {seed}) into {}", db.display());
        let mut store = sohoa::store::open(&db).unwrap();
        let run = store.begin_run("bench-search build").unwrap();
        let mut rng = Rng::new(seed);
        let (mut written, mut raw_bytes, mut index) = (0usize, 0u64, 0u64);
        let started = Instant::now();
        let mut batch = Vec::new();
        while written < pages {
            let mut doc = synth::document(&mut rng, index, PAGE_CHARS);
            doc.pages.truncate(pages - written);
            written += doc.pages.len();
            raw_bytes += doc.pages.iter().map(|p| p.text.len() as u64).sum::<u64>();
            index += 1;
            batch.push(doc);
            if batch.len() == 500 || written == pages {
                store.put_documents(run, &batch).unwrap();
                batch.clear();
                if index % 100_000 < 500 {
                    store.flush_index().unwrap();
                }
            }
            if index % 50_000 == 0 {
                println!(
                    "  {written} pages, {:.0} pages/s",
                    written as f64 / started.elapsed().as_secs_f64()
                );
            }
        }
        store.flush_index().unwrap();
        store
            .finish_run(
                run,
                sohoa::store::RunStatus::Completed,
                &serde_json::json!({}),
            )
            .unwrap();
        drop(store);
        let seconds = started.elapsed().as_secs_f64();
        std::fs::write(&marker, format!("{raw_bytes}\n{seconds}\n{index}\n")).unwrap();
    }
    let facts = std::fs::read_to_string(&marker).unwrap();
    let mut facts = facts.lines();
    let raw_bytes: u64 = facts.next().unwrap().parse().unwrap();
    let build_seconds: f64 = facts.next().unwrap().parse().unwrap();
    let documents: u64 = facts.next().unwrap().parse().unwrap();
    // The database, its WAL, and the search index directory beside it.
    fn size(path: &std::path::Path) -> u64 {
        match std::fs::metadata(path) {
            Ok(m) if m.is_dir() => std::fs::read_dir(path)
                .unwrap()
                .filter_map(|e| e.ok())
                .map(|e| size(&e.path()))
                .sum(),
            Ok(m) => m.len(),
            Err(_) => 0,
        }
    }
    let db_bytes: u64 = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(&format!("archive-{pages}-{seed}.db"))
        })
        .map(|e| size(&e.path()))
        .sum();
    println!(
        "archive: {pages} pages, {documents} documents, raw text {:.0} MB, database and index {:.0} MB ({:.2}x), built at {:.0} pages/s",
        raw_bytes as f64 / 1e6,
        db_bytes as f64 / 1e6,
        db_bytes as f64 / raw_bytes as f64,
        pages as f64 / build_seconds
    );
    let mut store = sohoa::store::open(&db).unwrap();
    let started = Instant::now();
    store.flush_index().unwrap();
    println!(
        "index brought up to date in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let rounds: usize = arg("--rounds").map_or(3, |r| r.parse().unwrap());
    // `--every`: every query, not only the ten slowest and fastest.
    let every = std::env::args().any(|a| a == "--every");
    measure(&*store, "queries", QUERIES, rounds, every);
    measure(&*store, "questions", QUESTIONS, rounds, every);
}

/// Times every line of `set` as a search (`rounds` times each, after one warm-up pass
/// as a serving process would have had) and prints the slowest, fastest and percentiles.
fn measure(store: &dyn sohoa::store::Store, name: &str, set: &str, rounds: usize, every: bool) {
    let requests: Vec<(&str, SearchRequest)> = set
        .lines()
        .filter_map(|q| match SearchRequest::parse(q) {
            Ok(r) => Some((q, r)),
            Err(e) => {
                println!("  not run: {q:?}: {e}");
                None
            }
        })
        .collect();
    for (_, request) in &requests {
        let _ = search::run(store, request);
    }
    let mut all = Vec::new();
    let mut per_query = Vec::new();
    for (q, request) in &requests {
        let mut times = Vec::new();
        let mut total = 0;
        let mut fuzzy = false;
        for _ in 0..rounds {
            let started = Instant::now();
            let response = search::run(store, request).unwrap();
            times.push(started.elapsed().as_secs_f64() * 1000.0);
            total = response.total;
            fuzzy = response.approximate;
        }
        times.sort_by(f64::total_cmp);
        per_query.push((q, times[times.len() / 2], total, fuzzy));
        all.extend(times);
    }
    all.sort_by(f64::total_cmp);
    per_query.sort_by(|a, b| b.1.total_cmp(&a.1));
    let shown = if every { per_query.len() } else { 10 };
    println!("slowest {name} (median ms, documents matched):");
    for (q, ms, total, fuzzy) in per_query.iter().take(shown) {
        println!(
            "  {ms:8.1} ms  {total:>8}{}  {q}",
            if *fuzzy { " ~" } else { "" }
        );
    }
    if !every {
        println!("fastest {name}:");
    }
    for (q, ms, total, fuzzy) in per_query.iter().rev().take(10).filter(|_| !every) {
        println!(
            "  {ms:8.1} ms  {total:>8}{}  {q}",
            if *fuzzy { " ~" } else { "" }
        );
    }
    println!(
        "latency over {} {name} x {rounds}: p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        requests.len(),
        percentile(&all, 0.50),
        percentile(&all, 0.95),
        percentile(&all, 0.99),
        all.last().unwrap()
    );
}
