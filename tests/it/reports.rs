//! `sohoa report` as a user runs it: every format written and read back (CSV and JSON
//! parsed, the workbook by an XLSX reader, the PDF by pdftotext and rendered by pdftoppm).

use crate::support::{sohoa, stderr, stdout};
use sohoa::store::{NewDocument, Unit};
use std::path::Path;

/// Three documents of the Sở Tư pháp and two of no unit, stored now.
fn archive(db: &Path) {
    let mut store = sohoa::store::open(db).unwrap();
    store
        .put_unit(&Unit {
            code: "STP".into(),
            name: "Sở Tư pháp".into(),
            parent: None,
            issuers: Vec::new(),
        })
        .unwrap();
    let run = store.begin_run("test").unwrap();
    for i in 0..5u64 {
        let mut doc: NewDocument = sohoa::synth::document(&mut sohoa::synth::Rng::new(i), i, 300);
        doc.unit = (i < 3).then(|| "STP".to_owned());
        store.put_document(run, &doc).unwrap();
    }
    store.flush_index().unwrap();
}

#[test]
fn every_format_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("archive.db");
    archive(&db);
    let day = crate::support::report_today();
    let period = format!("{day}..{day}");

    let out = sohoa(&db, &["report", "--period", &period, "--format", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(json["total"]["figures"]["documents"], 5);
    assert_eq!(json["rows"][0]["key"], "STP");
    assert_eq!(json["rows"][0]["figures"]["documents"], 3);

    let out = sohoa(&db, &["report", "--period", &period, "--format", "csv"]);
    let csv = stdout(&out);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 4, "header, two units, total:\n{csv}");
    assert!(lines[1].contains(",STP,Sở Tư pháp,3,"), "{csv}");
    assert!(lines[3].contains(",total,"), "{csv}");

    let out = sohoa(&db, &["report", "--period", &period]);
    let table = stdout(&out);
    assert!(
        table.contains("STP – Sở Tư pháp") && table.contains("Tổng cộng"),
        "{table}"
    );

    let xlsx = dir.path().join("report.xlsx");
    let out = sohoa(
        &db,
        &["report", "--period", &period, "-o", xlsx.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    use calamine::Reader;
    let mut book: calamine::Xlsx<_> = calamine::open_workbook(&xlsx).unwrap();
    let sheet = book.worksheet_range("Tổng hợp").unwrap();
    let cell = |r: u32, c: u32| sheet.get_value((r, c)).map(|v| v.to_string());
    assert_eq!(cell(3, 0).as_deref(), Some("STP"));
    assert_eq!(cell(3, 1).as_deref(), Some("Sở Tư pháp"));
    assert_eq!(cell(3, 2).as_deref(), Some("3"));
    assert_eq!(cell(5, 1).as_deref(), Some("Tổng cộng"));
    assert_eq!(cell(5, 2).as_deref(), Some("5"));
    assert!(book.sheet_names().contains(&"Theo tháng".to_owned()));

    let pdf = dir.path().join("report.pdf");
    let out = sohoa(
        &db,
        &["report", "--period", &period, "-o", pdf.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::process::Command::new("pdftotext")
        .args(["-layout", pdf.to_str().unwrap(), "-"])
        .output()
        .expect("pdftotext (poppler-utils; scripts/test installs it)");
    let text = String::from_utf8_lossy(&text.stdout);
    for expect in [
        "BÁO CÁO KẾT QUẢ SỐ HÓA",
        "Sở Tư pháp",
        "Tổng cộng",
        "Văn bản số hóa",
    ] {
        assert!(
            text.contains(expect),
            "{expect} not in the PDF's text:\n{text}"
        );
    }
    // Rendered: the first page is A4 and its charts put colour on it.
    let png = dir.path().join("page");
    let rendered = std::process::Command::new("pdftoppm")
        .args([
            "-r",
            "50",
            "-f",
            "1",
            "-l",
            "1",
            "-png",
            pdf.to_str().unwrap(),
        ])
        .arg(&png)
        .status()
        .unwrap();
    assert!(rendered.success());
    let page = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().contains("page") && p.extension().is_some_and(|e| e == "png"))
        .expect("a rendered page");
    let image = image::open(&page).unwrap().to_rgb8();
    let (w, h) = image.dimensions();
    assert!(
        (w as f64 / h as f64 - 210.0 / 297.0).abs() < 0.01,
        "A4: {w}x{h}"
    );
    let coloured = image
        .pixels()
        .filter(|p| {
            let [r, g, b] = p.0;
            r.max(g).max(b) - r.min(g).min(b) > 60
        })
        .count();
    assert!(
        coloured > 200,
        "the charts' bars are drawn ({coloured} coloured pixels)"
    );

    // Wrong input is named, not a panic.
    let out = sohoa(&db, &["report", "--period", "2024-Q5"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("period '2024-Q5'"),
        "{}",
        stderr(&out)
    );
    let out = sohoa(&db, &["report", "--period", &period, "--format", "xlsx"]);
    assert!(stderr(&out).contains("-o FILE"), "{}", stderr(&out));
    let out = sohoa(&db, &["report", "--period", &period, "--unit", "NOPE"]);
    assert!(stderr(&out).contains("no unit 'NOPE'"), "{}", stderr(&out));
}

/// Periods follow Vietnam's calendar: a file stored at 23:59:59 local time on 30 June
/// belongs to the second quarter, one stored a second later to the third. The store
/// stamps "now", so the times are moved in SQL after storing (reviews too: opened in
/// the second quarter, closed by a correction in the third).
#[test]
fn periods_follow_the_local_calendar() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("archive.db");
    archive(&db);
    let mut store = sohoa::store::open(&db).unwrap();
    let mut flagged = sohoa::synth::document(&mut sohoa::synth::Rng::new(9), 9, 300);
    let analysis = flagged.analysis.as_mut().unwrap();
    analysis.classification.needs_review = true;
    let classification = analysis.classification.clone();
    let run = store.begin_run("test").unwrap();
    let sohoa::store::Stored::New(review) = store.put_document(run, &flagged).unwrap() else {
        panic!("stored as new")
    };
    store.correct(review, &classification, "clerk").unwrap();
    drop(store);

    let sql = rusqlite::Connection::open(&db).unwrap();
    // (document, stored at UTC, issued on): local times 30 Jun 23:59:59, 1 Jul 00:00,
    // 30 Sep 23:59:59.999, 1 Oct 00:00, a year before, and the reviewed one in May.
    for (id, ingested, issued) in [
        (1, "2024-06-30T16:59:59.000Z", "2024-06-30"),
        (2, "2024-06-30T17:00:00.000Z", "2024-07-01"),
        (3, "2024-09-30T16:59:59.999Z", "2024-09-30"),
        (4, "2024-09-30T17:00:00.000Z", "2024-10-01"),
        (5, "2023-08-01T03:00:00.000Z", "2019-01-01"),
        (review, "2024-05-10T03:00:00.000Z", "2024-05-09"),
    ] {
        sql.execute(
            "UPDATE documents SET ingested_at = ?2, searchable_at = ?2 WHERE id = ?1",
            rusqlite::params![id, ingested],
        )
        .unwrap();
        sql.execute(
            "UPDATE document_fields SET issue_date = ?2 WHERE document_id = ?1",
            rusqlite::params![id, issued],
        )
        .unwrap();
    }
    sql.execute(
        "UPDATE reviews SET opened_at = '2024-05-10T03:00:00.000Z',
                            closed_at = '2024-07-02T03:00:00.000Z'",
        [],
    )
    .unwrap();
    drop(sql);

    let report = |period: &str, by: &str| -> serde_json::Value {
        let out = sohoa(
            &db,
            &["report", "--period", period, "--by", by, "--format", "json"],
        );
        assert!(out.status.success(), "{period}: {}", stderr(&out));
        serde_json::from_str(&stdout(&out)).unwrap()
    };
    // (period, documents digitized, the period before, issued in it, reviews opened,
    // closed, pending at its end)
    for (period, digitized, before, issued, opened, closed, pending) in [
        ("2024-Q3", 2, 2, 2, 0, 1, 0),
        ("2024-Q2", 2, 0, 2, 1, 0, 1),
        ("2024-H2", 3, 2, 3, 0, 1, 0),
        ("2024", 5, 1, 5, 1, 1, 0),
        ("2024-07", 1, 1, 1, 0, 1, 0),
        ("2024-07-01..2024-09-30", 2, 2, 2, 0, 1, 0),
    ] {
        let total = &report(period, "unit")["total"];
        let figures = &total["figures"];
        assert_eq!(figures["documents"], digitized, "{period}: {total}");
        assert_eq!(total["previous"]["documents"], before, "{period}: {total}");
        assert_eq!(
            total["change"]["documents"],
            digitized - before,
            "{period}: {total}"
        );
        assert_eq!(figures["issued_documents"], issued, "{period}: {total}");
        assert_eq!(figures["reviews_opened"], opened, "{period}: {total}");
        assert_eq!(figures["reviews_closed"], closed, "{period}: {total}");
        assert_eq!(figures["reviews_pending"], pending, "{period}: {total}");
    }
    // A month report's total is its months': summed, except what is still pending at
    // the end (the review opened in May and waiting through June counts once).
    for (period, digitized, closed, pending) in [("2024-Q3", 2, 1, 0), ("2024-Q2", 2, 0, 1)] {
        let total = &report(period, "month")["total"]["figures"];
        assert_eq!(total["documents"], digitized, "{period}: {total}");
        assert_eq!(total["reviews_closed"], closed, "{period}: {total}");
        assert_eq!(total["reviews_pending"], pending, "{period}: {total}");
    }
    // By month: each month of the quarter, the stored ones where their local day falls.
    let months = report("2024-Q3", "month");
    let per_month: Vec<(String, i64)> = months["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["key"].as_str().unwrap().to_owned(),
                r["figures"]["documents"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        per_month,
        [
            ("2024-07".to_owned(), 1),
            ("2024-08".to_owned(), 0),
            ("2024-09".to_owned(), 1)
        ]
    );
}
