//! Nightly runs over an inbox that keeps yesterday's files: only new work is done.

use crate::support::{count, ingest_json, sohoa, sql, stdout, text_pdf};
use std::path::Path;

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text_pdf(text)).unwrap();
}

/// Checks the counters of an ingest summary.
fn check(summary: &serde_json::Value, expect: &[(&str, u64)]) {
    for (key, value) in expect {
        assert_eq!(summary[key].as_u64(), Some(*value), "{key} in {summary:#}");
    }
}

#[test]
fn reruns_do_only_new_work() {
    let dir = tempfile::tempdir().unwrap();
    let inbox = dir.path().join("inbox");
    std::fs::create_dir(&inbox).unwrap();
    let db = dir.path().join("a.db");
    write(
        &inbox,
        "a.pdf",
        "Quyet dinh so mot ve dat dai cua tinh Nghe An",
    );
    write(
        &inbox,
        "b.pdf",
        "Cong van so hai ve bao hiem xa hoi mot lan",
    );
    let inbox_arg = inbox.to_str().unwrap();

    let (code, first) = ingest_json(&db, &[inbox_arg]);
    assert_eq!(code, 0);
    check(
        &first,
        &[
            ("documents_ok", 2),
            ("unchanged", 0),
            ("pages_text_layer", 2),
        ],
    );

    // Unchanged: nothing read.
    let (code, again) = ingest_json(&db, &[inbox_arg]);
    assert_eq!(code, 0);
    check(
        &again,
        &[("documents_ok", 0), ("unchanged", 2), ("pages", 0)],
    );

    // Touched but same bytes: re-hashed, recognized, no new document.
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(5);
    std::fs::File::options()
        .write(true)
        .open(inbox.join("a.pdf"))
        .unwrap()
        .set_modified(later)
        .unwrap();
    let (_, touched) = ingest_json(&db, &[inbox_arg]);
    check(
        &touched,
        &[("documents_ok", 0), ("unchanged", 2), ("relocated", 0)],
    );

    // A copy under a second path, and a rename: one document, more locations.
    std::fs::copy(inbox.join("a.pdf"), inbox.join("a-copy.pdf")).unwrap();
    std::fs::rename(inbox.join("b.pdf"), inbox.join("b-renamed.pdf")).unwrap();
    let (_, moved) = ingest_json(&db, &[inbox_arg]);
    check(
        &moved,
        &[("documents_ok", 0), ("relocated", 2), ("unchanged", 1)],
    );
    assert_eq!(count(&db, "SELECT count(*) FROM documents"), 2);
    let a_id: i64 = sql(&db)
        .query_row(
            "SELECT document_id FROM locations WHERE path LIKE '%/a-copy.pdf'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let shown = stdout(&sohoa(&db, &["show", &a_id.to_string()]));
    assert!(
        shown.contains("a.pdf") && shown.contains("a-copy.pdf"),
        "{shown}"
    );
    // The renamed file's old path is kept, marked gone by this run: typed in the
    // export (`location_details`), and as people read it (`locations`).
    let b_id: i64 = sql(&db)
        .query_row(
            "SELECT document_id FROM locations WHERE path LIKE '%/b-renamed.pdf'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&stdout(&sohoa(&db, &["show", "--json", &b_id.to_string()]))).unwrap();
    let run = moved["run_id"].as_i64().unwrap();
    let details = json["location_details"].as_array().unwrap();
    let old_path = inbox.join("b.pdf").display().to_string();
    let new_path = inbox.join("b-renamed.pdf").display().to_string();
    assert_eq!(
        details,
        &vec![
            serde_json::json!({"path": new_path, "gone_since_run": null}),
            serde_json::json!({"path": old_path, "gone_since_run": run}),
        ],
        "{json}"
    );
    assert_eq!(
        json["locations"],
        serde_json::json!([new_path, format!("{old_path} (gone since run {run})")])
    );

    // Changed bytes: a new version; the old one is history, search shows the new one.
    write(
        &inbox,
        "b-renamed.pdf",
        "Cong van so hai sua doi ve bao hiem y te",
    );
    let (_, updated) = ingest_json(&db, &[inbox_arg]);
    check(&updated, &[("documents_ok", 1), ("updated", 1)]);
    assert_eq!(count(&db, "SELECT count(*) FROM documents"), 3);
    assert_eq!(
        count(&db, "SELECT count(*) FROM documents WHERE current = 0"),
        1
    );
    let total = |q: &str| {
        let out = stdout(&sohoa(&db, &["search", "--json", q]));
        serde_json::from_str::<serde_json::Value>(&out).unwrap()["total"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(total("bao hiem y te"), 1);
    assert_eq!(
        total("bao hiem xa hoi"),
        0,
        "the old version is not in search"
    );
    let old: i64 = count(&db, "SELECT id FROM documents WHERE current = 0");
    let history = stdout(&sohoa(&db, &["show", &old.to_string()]));
    assert!(
        history.contains("superseded") && history.contains("v2"),
        "{history}"
    );
    assert!(
        history.contains("bao hiem xa hoi"),
        "old text stays readable: {history}"
    );

    // Changed bytes at a path whose old bytes live on in a copy: both stay searchable.
    write(
        &inbox,
        "a.pdf",
        "Quyet dinh so mot sua doi ve dat dai va nha o",
    );
    let (_, updated) = ingest_json(&db, &[inbox_arg]);
    check(&updated, &[("documents_ok", 1), ("updated", 1)]);
    assert_eq!(total("quyet dinh so mot"), 2);
    assert_eq!(total("sua doi nha o"), 1);

    // The same bytes twice in one new batch: one document, two locations.
    write(
        &inbox,
        "c1.pdf",
        "Thong bao ve dang ky khai sinh truc tuyen",
    );
    write(
        &inbox,
        "c2.pdf",
        "Thong bao ve dang ky khai sinh truc tuyen",
    );
    let (_, twins) = ingest_json(&db, &[inbox_arg]);
    check(&twins, &[("documents_ok", 1), ("relocated", 1)]);
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM locations WHERE path LIKE '%/c_.pdf'"
        ),
        2
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(DISTINCT document_id) FROM locations WHERE path LIKE '%/c_.pdf'"
        ),
        1
    );
}

#[test]
fn failures_are_remembered_and_retried_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("a.db");
    let bad = dir.path().join("bad.pdf");
    std::fs::write(&bad, b"%PDF-1.4\nnot really").unwrap();
    let bad_arg = bad.to_str().unwrap();
    let (code, first) = ingest_json(&db, &[bad_arg]);
    assert_eq!(code, 1);
    check(&first, &[("documents_failed", 1)]);
    let listed = stdout(&sohoa(&db, &["failures"]));
    assert!(
        listed.contains("bad.pdf") && listed.contains("PDF"),
        "{listed}"
    );

    // Unchanged and still broken: not read again, not failed again.
    let (code, again) = ingest_json(&db, &[bad_arg]);
    assert_eq!(code, 0);
    check(&again, &[("documents_failed", 0), ("unchanged", 1)]);

    // --retry-failed reads it again; fixed in place, it succeeds and replaces the failure.
    let (code, retried) = ingest_json(&db, &["--retry-failed", bad_arg]);
    assert_eq!(code, 1);
    check(&retried, &[("documents_failed", 1), ("retried", 1)]);
    std::fs::write(&bad, text_pdf("Bao cao tinh hinh cap giay phep xay dung")).unwrap();
    let (code, fixed) = ingest_json(&db, &[bad_arg]);
    assert_eq!(code, 0);
    check(
        &fixed,
        &[("documents_ok", 1), ("retried", 1), ("updated", 0)],
    );
    assert_eq!(
        count(&db, "SELECT count(*) FROM documents"),
        1,
        "the failure record was replaced"
    );
    assert_eq!(stdout(&sohoa(&db, &["failures"])).trim(), "no failures");
}

#[test]
fn runs_are_on_record_with_a_report() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("a.db");
    let file = dir.path().join("x.pdf");
    std::fs::write(&file, text_pdf("Quyet dinh ve viec giao dat")).unwrap();
    let report = dir.path().join("report.json");
    let out = sohoa(
        &db,
        &[
            "ingest",
            "--quiet",
            "--report",
            report.to_str().unwrap(),
            file.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(report["outcome"], "completed");
    assert_eq!(report["documents_ok"], 1);
    assert!(report["run_id"].as_i64().unwrap() >= 1);
    sohoa(&db, &["ingest", "--quiet", file.to_str().unwrap()]);
    let runs: serde_json::Value =
        serde_json::from_str(&stdout(&sohoa(&db, &["runs", "--json"]))).unwrap();
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0]["status"], "completed");
    assert_eq!(runs[0]["report"]["unchanged"], 1);
    assert!(runs[1]["arguments"].as_str().unwrap().contains("--report"));
    let table = stdout(&sohoa(&db, &["runs"]));
    assert!(table.contains("completed"), "{table}");
}
