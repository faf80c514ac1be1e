//! Relevance, measured: the labeled query set (samples/labeled/queries.jsonl, made by
//! scripts/queries.py) over the OCR-noised labeled documents, stored as ingest would
//! (fields and classification read from the noisy text). Prints recall@10 and MRR per
//! kind of query and holds the totals to the targets (recall@10 ≥ 0.95, MRR ≥ 0.85).

use crate::support::{page, repo_path};
use sohoa::classify::{Classifier, ClassifyConfig, Taxonomy};
use sohoa::pipeline::analyze;
use sohoa::search::{self, SearchRequest};
use sohoa::store::NewDocument;
use std::collections::BTreeMap;

fn lines(path: &str) -> Vec<serde_json::Value> {
    std::fs::read_to_string(repo_path(path))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The labeled documents stored in the archive at `location`, as ingest would store them.
fn labeled_archive(location: &std::path::Path) -> Box<dyn sohoa::store::Archive> {
    let mut store = sohoa::store::open(location).unwrap();
    let classifier = Classifier::new(&Taxonomy::builtin(), None, ClassifyConfig::default());
    let run = store.begin_run("relevance").unwrap();
    let docs: Vec<NewDocument> = lines("samples/labeled/eval-noisy.jsonl")
        .iter()
        .map(|d| {
            let text = d["text"].as_str().unwrap().to_owned();
            let mut doc = NewDocument::at(d["id"].as_str().unwrap().to_owned());
            doc.analysis = Some(analyze(
                &classifier,
                &text,
                &sohoa::fields::Zones::default(),
            ));
            doc.pages.push(page(1, &text));
            doc
        })
        .collect();
    store.put_documents(run, &docs).unwrap();
    store.flush_index().unwrap();
    store
}

/// Every labeled query's top ten (paths, best first) and total.
fn rankings(store: &dyn sohoa::store::Archive) -> Vec<(String, Vec<String>, u64)> {
    lines("samples/labeled/queries.jsonl")
        .iter()
        .map(|q| {
            let text = q["query"].as_str().unwrap();
            let request = SearchRequest::parse(text).unwrap().paged(10, 0).unwrap();
            let response = search::run(store, &request).unwrap();
            let top = response.hits.iter().map(|h| h.path.clone()).collect();
            (text.to_owned(), top, response.total as u64)
        })
        .collect()
}

/// The same query language, ranking and results on both backends: every labeled query
/// ranks the same documents in the same order, with the same total.
#[test]
fn postgres_ranks_every_labeled_query_as_sqlite_does() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = labeled_archive(&dir.path().join("r.db"));
    let url = crate::support::new_postgres_database();
    let postgres = labeled_archive(std::path::Path::new(&url));
    let (on_sqlite, on_postgres) = (rankings(&*sqlite), rankings(&*postgres));
    let answered = on_sqlite
        .iter()
        .filter(|(_, top, _)| !top.is_empty())
        .count();
    assert!(answered * 10 >= on_sqlite.len() * 9, "{answered} answered");
    for (a, b) in on_sqlite.iter().zip(&on_postgres) {
        assert_eq!(a, b, "SQLite (left) and PostgreSQL (right) differ");
    }
}

#[test]
fn labeled_queries_find_their_documents() {
    let dir = tempfile::tempdir().unwrap();
    let store = labeled_archive(&dir.path().join("r.db"));
    let queries = lines("samples/labeled/queries.jsonl");
    assert!(queries.len() >= 60);
    // kind → (queries, recall sum, reciprocal rank sum)
    let mut by_kind: BTreeMap<String, (usize, f64, f64)> = BTreeMap::new();
    let mut misses = Vec::new();
    for q in &queries {
        let text = q["query"].as_str().unwrap();
        let relevant: Vec<&str> = q["relevant"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap())
            .collect();
        let request = SearchRequest::parse(text)
            .unwrap_or_else(|e| panic!("{text:?}: {e}"))
            .paged(10, 0)
            .unwrap();
        let response = search::run(&*store, &request).unwrap();
        let top: Vec<&str> = response.hits.iter().map(|h| h.path.as_str()).collect();
        let found = top.iter().filter(|p| relevant.contains(p)).count();
        let recall = found as f64 / relevant.len().min(10) as f64;
        let rr = top
            .iter()
            .position(|p| relevant.contains(p))
            .map_or(0.0, |i| 1.0 / (i + 1) as f64);
        if recall < 1.0 || rr < 1.0 {
            misses.push(format!(
                "{text:?}: recall@10 {recall:.2}, RR {rr:.2} (relevant {}, top {:?})",
                relevant.len(),
                &top[..top.len().min(3)]
            ));
        }
        let e = by_kind
            .entry(q["kind"].as_str().unwrap().to_owned())
            .or_insert((0, 0.0, 0.0));
        e.0 += 1;
        e.1 += recall;
        e.2 += rr;
    }
    let n = queries.len() as f64;
    let recall: f64 = by_kind.values().map(|e| e.1).sum::<f64>() / n;
    let mrr: f64 = by_kind.values().map(|e| e.2).sum::<f64>() / n;
    eprintln!(
        "relevance over {} queries: recall@10 {recall:.3}, MRR {mrr:.3}",
        queries.len()
    );
    for (kind, (count, r, rr)) in &by_kind {
        eprintln!(
            "  {kind:<20} {count:>3} queries  recall@10 {:.3}  MRR {:.3}",
            r / *count as f64,
            rr / *count as f64
        );
    }
    for m in &misses {
        eprintln!("  miss: {m}");
    }
    assert!(recall >= 0.95, "recall@10 {recall:.3}");
    assert!(mrr >= 0.85, "MRR {mrr:.3}");
}
