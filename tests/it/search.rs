//! Search through the library: Vietnamese with and without marks, tone-aware ranking,
//! the approximate fallback, documents not pages, paging, similar documents, malformed
//! queries, and an index that is lost or behind.

use crate::support::{page, sohoa as run_sohoa, stderr, stdout};
use sohoa::query::{Query, QueryError};
use sohoa::search::{self, SearchRequest};
use sohoa::store::{NewDocument, SearchSpec, Store};

fn archive() -> (tempfile::TempDir, Box<dyn sohoa::store::Archive>) {
    let dir = tempfile::tempdir().unwrap();
    let mut store = sohoa::store::open(&dir.path().join("a.db")).unwrap();
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
        (
            "dat-dai-2.pdf",
            &["Thông báo thu hồi đất, giấy chứng nhận quyền sử dụng đất của hộ gia đình"],
        ),
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
    store.flush_index().unwrap();
    (dir, store)
}

/// Paths of the documents `query` finds, best first, and whether approximately.
fn found(store: &dyn Store, query: &str) -> (Vec<String>, bool) {
    let request = SearchRequest::parse(query)
        .unwrap_or_else(|e| panic!("{query:?}: {e}"))
        .paged(50, 0)
        .unwrap();
    let response = search::run(store, &request).unwrap();
    let paths = response.hits.iter().map(|h| h.path.clone()).collect();
    (paths, response.approximate)
}

/// Searches `query` with exact matching only and compares the matching documents'
/// paths, as a set, with `expect`.
fn check(store: &dyn Store, query: &str, expect: &[&str]) {
    let q = Query::parse(query).unwrap_or_else(|e| panic!("{query:?}: {e}"));
    let spec = SearchSpec {
        query: Some(q),
        limit: 50,
        ..SearchSpec::default()
    };
    let results = store.search(&spec).unwrap();
    let ids: Vec<i64> = results.hits.iter().map(|h| h.document_id).collect();
    let mut got: Vec<String> = store
        .hit_documents(&ids)
        .unwrap()
        .into_iter()
        .map(|d| d.path)
        .collect();
    got.sort();
    let mut expect: Vec<String> = expect.iter().map(|s| s.to_string()).collect();
    expect.sort();
    assert_eq!(got, expect, "query {query:?}");
    assert_eq!(results.total, expect.len(), "total for {query:?}");
}

#[test]
fn matches_with_and_without_diacritics() {
    let (_dir, store) = archive();
    check(&*store, "dat dai", &["dat-dai.pdf"]);
    check(&*store, "đất đai", &["dat-dai.pdf"]);
    check(&*store, "ĐẤT", &["dat-dai.pdf", "dat-dai-2.pdf"]);
    check(&*store, "quyet dinh", &["dat-dai.pdf"]);
    check(&*store, "QUYẾT ĐỊNH", &["dat-dai.pdf"]);
    check(&*store, "Quyết định", &["dat-dai.pdf"]);
    check(&*store, "bao hiem xa hoi", &["bao-hiem.pdf"]);
    check(&*store, "\"bảo hiểm xã hội\"", &["bao-hiem.pdf"]);
    check(&*store, "\"xã hội bảo hiểm\"", &[]);
    check(&*store, "chung*", &["dat-dai.pdf", "dat-dai-2.pdf"]);
    check(&*store, "\"quyền sử*\"", &["dat-dai.pdf", "dat-dai-2.pdf"]);
    // Words joined by punctuation are a phrase, here one ending in a prefix.
    check(&*store, "hộ-gia-đ*", &["dat-dai-2.pdf"]);
    check(&*store, "hộ-gia-x*", &[]);
    check(&*store, "quyền-s*", &["dat-dai.pdf", "dat-dai-2.pdf"]);
    // "Thông báo" is "bao" to a search without marks.
    check(
        &*store,
        "bao OR hop",
        &["bao-hiem.pdf", "ban-nha.pdf", "dat-dai-2.pdf"],
    );
    check(
        &*store,
        "bao OR hop -nha",
        &["bao-hiem.pdf", "dat-dai-2.pdf"],
    );
    check(&*store, "ban -nha", &["ban-ghe.pdf"]);
    check(&*store, "02-BC/BCĐ", &["ban-nha.pdf"]);
    check(&*store, "02-BC/BCD", &["ban-nha.pdf"]);
    check(&*store, "khongco", &[]);
}

/// Phrases of common words are matched on pairs of words, the others on positions:
/// both find the words in order and side by side, and nothing else.
#[test]
fn phrases_match_words_side_by_side_in_order() {
    let (_dir, store) = archive();
    // Every word common ("thu hồi đất", "hộ gia đình") or one not ("ghế", "hiểm").
    for (phrase, expect) in [
        ("\"thu hồi đất\"", &["dat-dai.pdf", "dat-dai-2.pdf"][..]),
        ("\"hồi thu đất\"", &[]),
        ("\"hộ gia đình\"", &["dat-dai-2.pdf"]),
        ("\"gia hộ đình\"", &[]),
        ("\"đất của hộ\"", &["dat-dai-2.pdf"]),
        ("\"kiểm kê bàn ghế\"", &["ban-ghe.pdf"]),
        ("\"kiem ke ban ghe\"", &["ban-ghe.pdf"]),
        ("\"bàn ghế kiểm kê\"", &[]),
        ("\"ghế ban\"", &["ban-ghe.pdf"]),
        ("\"ghế quản\"", &[]),
        ("\"bảo hiểm\"", &["bao-hiem.pdf"]),
        ("\"hiểm bảo\"", &[]),
    ] {
        check(&*store, phrase, expect);
    }
}

/// A handle that searched once sees what another handle commits afterwards.
#[test]
fn a_search_sees_what_another_handle_commits() {
    let (dir, store) = archive();
    // Dropped: it keeps the index writer, as an ingest does until it ends.
    drop(store);
    let store = sohoa::store::open(&dir.path().join("a.db")).unwrap();
    check(&*store, "lâm nghiệp", &[]);
    let mut writer = sohoa::store::open(&dir.path().join("a.db")).unwrap();
    let run = writer.begin_run("later").unwrap();
    let doc = NewDocument {
        pages: vec![page(1, "Quyết định giao đất lâm nghiệp")],
        ..NewDocument::at("lam-nghiep.pdf".into())
    };
    writer.put_document(run, &doc).unwrap();
    writer.flush_index().unwrap();
    check(&*store, "lâm nghiệp", &["lam-nghiep.pdf"]);
    check(&*store, "\"giao đất lâm\"", &["lam-nghiep.pdf"]);
}

#[test]
fn one_hit_per_document_showing_its_best_page() {
    let (_dir, store) = archive();
    let request = SearchRequest::parse("quyền sử dụng").unwrap();
    let response = search::run(&*store, &request).unwrap();
    let hit = response
        .hits
        .iter()
        .find(|h| h.path == "dat-dai.pdf")
        .expect("found");
    assert_eq!(
        response
            .hits
            .iter()
            .filter(|h| h.path == "dat-dai.pdf")
            .count(),
        1
    );
    assert_eq!(hit.page, 2, "the page that has the words");
    assert!(hit.snippet.contains("quyền sử dụng"), "{hit:?}");
    assert!(hit.score > 0.0);
}

/// Typed with marks, the exact marks rank first; without marks, every form matches.
#[test]
fn tone_marks_rank_exact_forms_first() {
    let (_dir, store) = archive();
    // Two exact matches are few: approximate ones ("báo", "bảo") follow them.
    let (bán, _) = found(&*store, "bán");
    assert_eq!(bán[..2], ["ban-nha.pdf", "ban-ghe.pdf"]);
    let (bàn, _) = found(&*store, "bàn");
    assert_eq!(bàn[..2], ["ban-ghe.pdf", "ban-nha.pdf"]);
    let (ban, _) = found(&*store, "ban");
    let mut first_two = ban[..2].to_vec();
    first_two.sort();
    assert_eq!(first_two, ["ban-ghe.pdf", "ban-nha.pdf"]);
}

/// Too few exact matches: words are matched allowing OCR errors, and the answer says so.
#[test]
fn ocr_slips_fall_back_to_approximate_matching() {
    let (_dir, store) = archive();
    let (paths, approximate) = found(&*store, "giấy chứnq nhận");
    assert!(approximate);
    let mut paths = paths;
    paths.sort();
    assert_eq!(paths, ["dat-dai-2.pdf", "dat-dai.pdf"]);
    let request = SearchRequest::parse("giấy chứnq nhận").unwrap();
    let response = search::run(&*store, &request).unwrap();
    let s = &response.hits[0];
    assert!(s.approximate);
    let highlighted: Vec<String> = s
        .highlights
        .iter()
        .map(|(a, b)| s.snippet.chars().skip(*a).take(b - a).collect())
        .collect();
    assert!(highlighted.iter().any(|w| w == "chứng"), "{highlighted:?}");
    // Exact matches stay exact.
    let (_, approximate) = found(&*store, "giấy chứng nhận");
    assert!(!approximate);
}

#[test]
fn similar_documents_come_first() {
    let (_dir, store) = archive();
    let ids: Vec<(i64, String)> = store
        .hit_documents(&(1..=6).collect::<Vec<_>>())
        .unwrap()
        .into_iter()
        .map(|d| (d.id, d.path))
        .collect();
    let land = ids.iter().find(|(_, p)| p == "dat-dai.pdf").unwrap().0;
    let like = search::similar(&*store, land, 3).unwrap();
    assert_eq!(
        like.first().map(|h| h.path.as_str()),
        Some("dat-dai-2.pdf"),
        "{like:?}"
    );
    assert!(like.iter().all(|h| h.id != land));
}

#[test]
fn paginates() {
    let (_dir, store) = archive();
    let all = search::run(&*store, &SearchRequest::parse("ban OR bao OR đất").unwrap()).unwrap();
    assert_eq!(all.total, 5);
    let second = search::run(
        &*store,
        &SearchRequest::parse("ban OR bao OR đất")
            .unwrap()
            .paged(2, 2)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(second.total, 5);
    let ids: Vec<i64> = second.hits.iter().map(|h| h.id).collect();
    let expect: Vec<i64> = all.hits[2..4].iter().map(|h| h.id).collect();
    assert_eq!(ids, expect);
}

/// Search works from the database alone: an index that is missing, or behind what the
/// database holds (a crash before the index commit), is brought up to date.
#[test]
fn a_lost_or_stale_index_is_rebuilt_from_the_database() {
    let (dir, mut store) = archive();
    let db = dir.path().join("a.db");
    // Stored but never made searchable, as after a crash between the two commits.
    let run = store.begin_run("late").unwrap();
    let doc = NewDocument {
        pages: vec![page(1, "Quyết định giao đất lâm nghiệp cho cộng đồng")],
        ..NewDocument::at("late.pdf".into())
    };
    store.put_document(run, &doc).unwrap();
    drop(store);
    let out = run_sohoa(&db, &["search", "--json", "lâm nghiệp"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("late.pdf"), "{}", stdout(&out));
    // The index directory deleted: rebuilt on the next search.
    let index = dir.path().join("a.db.index");
    std::fs::remove_dir_all(&index).unwrap();
    let out = run_sohoa(&db, &["search", "--json", "bảo hiểm"]);
    assert!(stdout(&out).contains("bao-hiem.pdf"), "{}", stdout(&out));
    let out = run_sohoa(&db, &["reindex"]);
    assert!(
        stdout(&out).contains("search index rebuilt: 7 documents"),
        "{}",
        stdout(&out)
    );
}

/// An index made by an older sohoa (here: the first version's field of every word pair)
/// is derived data: dropped and rebuilt from SQLite when the archive is opened.
#[test]
fn an_index_with_another_schema_is_rebuilt() {
    let (dir, store) = archive();
    drop(store);
    let meta = dir.path().join("a.db.index").join("meta.json");
    let current = std::fs::read_to_string(&meta).unwrap();
    assert!(current.contains("\"common_pairs\""), "{current}");
    let older = current.replace("\"common_pairs\"", "\"pairs\"");
    std::fs::write(&meta, &older).unwrap();
    let mut store = sohoa::store::open(&dir.path().join("a.db")).unwrap();
    store.flush_index().unwrap();
    check(&*store, "\"bảo hiểm xã hội\"", &["bao-hiem.pdf"]);
    check(&*store, "dat dai", &["dat-dai.pdf"]);
    let rebuilt = std::fs::read_to_string(&meta).unwrap();
    assert!(rebuilt.contains("\"common_pairs\""), "{rebuilt}");
}

#[test]
fn malformed_queries_are_read_as_text_not_errors() {
    let (_dir, store) = archive();
    // The strict grammar names what is malformed; what a person types or pastes is
    // read as text instead (`Query::read`, which search uses).
    for (query, expect) in [
        ("\"dat dai", QueryError::UnbalancedQuote),
        ("-", QueryError::LoneMinus),
        ("*", QueryError::LoneStar),
        ("-dat", QueryError::OnlyExclusions),
        ("OR", QueryError::DanglingOr),
    ] {
        assert_eq!(Query::parse(query), Err(expect), "{query:?}");
    }
    for query in ["\"dat dai", "-dat", "OR", "dat -", "dat OR"] {
        let request = SearchRequest::parse(query).unwrap_or_else(|e| panic!("{query:?}: {e}"));
        let found = search::run(&*store, &request).unwrap();
        assert!(
            found.total > 0 || !query.contains("dat"),
            "{query:?} found nothing"
        );
    }
    for query in ["-", "*", "  "] {
        assert!(
            SearchRequest::parse(query).is_err(),
            "{query:?}: nothing to search"
        );
    }
    // Other engines' syntax typed by a user is searched as words, never passed through.
    for query in [
        "NEAR(dat dai)",
        "body:dat",
        "dat AND",
        "^dat",
        "dat)(",
        "\u{0}dat",
        "{dat}",
    ] {
        let request = SearchRequest::parse(query).unwrap();
        search::run(&*store, &request).unwrap_or_else(|e| panic!("{query:?}: {e}"));
    }
}
