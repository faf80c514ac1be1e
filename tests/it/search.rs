//! Search through the store API: Vietnamese with and without marks, ranking by
//! document, malformed queries.

use sohoa::load::TextSource;
use sohoa::query::{Query, QueryError};
use sohoa::store::{NewDocument, NewPage, SqliteStore, Store};

fn page(number: u32, text: &str) -> NewPage {
    NewPage {
        number,
        text: text.to_owned(),
        confidence: Some(90.0),
        width: None,
        height: None,
        dpi: None,
        source: TextSource::Ocr,
        error: None,
        note: None,
        words: Vec::new(),
    }
}

fn archive() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let mut store = SqliteStore::open(&dir.path().join("a.db")).unwrap();
    let run = store.begin_run("test").unwrap();
    let docs: &[(&str, &[&str])] = &[
        (
            "dat-dai.pdf",
            &[
                "QUYẾT ĐỊNH về việc thu hồi đất",
                "Giấy chứng nhận quyền sử dụng đất đai",
            ],
        ),
        ("bao-hiem.pdf", &["Công văn về bảo hiểm xã hội một lần"]),
        ("ban-nha.pdf", &["Hợp đồng mua bán nhà ở, số 02-BC/BCĐ"]),
        ("ban-ghe.pdf", &["Biên bản kiểm kê bàn ghế, ban quản lý"]),
        ("khong.pdf", &[""]),
    ];
    for (path, pages) in docs {
        let doc = NewDocument {
            format: Some("pdf".into()),
            pages: pages
                .iter()
                .enumerate()
                .map(|(i, t)| page(i as u32 + 1, t))
                .collect(),
            ..NewDocument::at((*path).to_owned())
        };
        store.put_document(run, &doc).unwrap();
    }
    (dir, store)
}

/// Searches `query` and compares the matching documents' paths (in rank order when
/// `ordered`, else as a set) with `expect`.
fn check(store: &SqliteStore, query: &str, expect: &[&str]) {
    let q = Query::parse(query).unwrap_or_else(|e| panic!("{query:?}: {e}"));
    let results = store.search(Some(&q), &Default::default(), 50, 0).unwrap();
    let mut got: Vec<String> = results.hits.iter().map(|h| h.path.clone()).collect();
    got.sort();
    let mut expect: Vec<String> = expect.iter().map(|s| s.to_string()).collect();
    expect.sort();
    assert_eq!(got, expect, "query {query:?}");
    assert_eq!(results.total, expect.len(), "total for {query:?}");
}

#[test]
fn matches_with_and_without_diacritics() {
    let (_dir, store) = archive();
    check(&store, "dat dai", &["dat-dai.pdf"]);
    check(&store, "đất đai", &["dat-dai.pdf"]);
    check(&store, "ĐẤT", &["dat-dai.pdf"]);
    check(&store, "quyet dinh", &["dat-dai.pdf"]);
    check(&store, "QUYẾT ĐỊNH", &["dat-dai.pdf"]);
    check(&store, "Quyết định", &["dat-dai.pdf"]);
    check(&store, "bao hiem xa hoi", &["bao-hiem.pdf"]);
    check(&store, "\"bảo hiểm xã hội\"", &["bao-hiem.pdf"]);
    check(&store, "\"xã hội bảo hiểm\"", &[]);
    check(&store, "chung*", &["dat-dai.pdf"]);
    check(&store, "bao OR hop", &["bao-hiem.pdf", "ban-nha.pdf"]);
    check(&store, "ban -nha", &["ban-ghe.pdf"]);
    check(&store, "02-BC/BCĐ", &["ban-nha.pdf"]);
    check(&store, "02-BC/BCD", &["ban-nha.pdf"]);
    check(&store, "khongco", &[]);
}

#[test]
fn one_hit_per_document_with_its_best_page() {
    let (_dir, store) = archive();
    let q = Query::parse("đất").unwrap();
    let results = store.search(Some(&q), &Default::default(), 10, 0).unwrap();
    assert_eq!(results.hits.len(), 1, "two matching pages, one document");
    assert!(results.hits[0].score > 0.0);
}

#[test]
fn paginates() {
    let (_dir, store) = archive();
    let q = Query::parse("ban OR bao OR đất").unwrap();
    let all = store.search(Some(&q), &Default::default(), 10, 0).unwrap();
    assert_eq!(all.total, 4);
    let second = store.search(Some(&q), &Default::default(), 2, 2).unwrap();
    assert_eq!(second.total, 4);
    let ids: Vec<i64> = second.hits.iter().map(|h| h.document_id).collect();
    let expect: Vec<i64> = all.hits[2..4].iter().map(|h| h.document_id).collect();
    assert_eq!(ids, expect);
}

#[test]
fn malformed_queries_are_errors_not_crashes() {
    let (_dir, store) = archive();
    for (query, expect) in [
        ("\"dat dai", QueryError::UnbalancedQuote),
        ("-", QueryError::LoneMinus),
        ("*", QueryError::LoneStar),
        ("-dat", QueryError::OnlyExclusions),
        ("OR", QueryError::DanglingOr),
    ] {
        assert_eq!(Query::parse(query), Err(expect), "{query:?}");
    }
    // FTS5 syntax typed by a user is searched as words, never passed through.
    for query in [
        "NEAR(dat dai)",
        "body:dat",
        "dat AND",
        "^dat",
        "dat)(",
        "\u{0}dat",
        "{dat}",
    ] {
        let q = Query::parse(query).unwrap();
        store
            .search(Some(&q), &Default::default(), 10, 0)
            .unwrap_or_else(|e| panic!("{query:?}: {e}"));
    }
}
