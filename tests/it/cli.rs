//! The binary as users run it: exit codes, messages, output formats.

use crate::support::{repo_path, sohoa, stderr, stdout, text_pdf};
use std::path::Path;

/// An inbox with one good scan and every kind of broken file.
fn inbox(dir: &Path) {
    std::fs::copy(
        repo_path("samples/to-trinh-dau-tu.pdf"),
        dir.join("good.pdf"),
    )
    .unwrap();
    std::fs::write(dir.join("empty.pdf"), b"").unwrap();
    let sample = std::fs::read(repo_path("samples/bao-cao-xay-dung.pdf")).unwrap();
    std::fs::write(dir.join("truncated.pdf"), &sample[..sample.len() / 3]).unwrap();
    std::fs::write(
        dir.join("random.jpg"),
        (0..5000u32)
            .map(|i| (i * 7919 % 251) as u8)
            .collect::<Vec<_>>(),
    )
    .unwrap();
    std::fs::write(
        dir.join("letter.tif"),
        "Kính gửi: đây là một tệp văn bản, không phải ảnh quét.\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("notes.txt"),
        "not a scan, and not pretending to be one",
    )
    .unwrap();
}

#[test]
fn bad_files_are_reported_and_the_batch_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let scans = dir.path().join("inbox");
    std::fs::create_dir(&scans).unwrap();
    inbox(&scans);
    let db = dir.path().join("a.db");
    let out = sohoa(&db, &["ingest", scans.to_str().unwrap()]);
    let err = stderr(&out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "some files failed: exit 1\n{err}"
    );
    for (file, reason) in [
        ("empty.pdf", "empty file"),
        ("truncated.pdf", "PDF"),
        ("random.jpg", "not a supported scan format"),
        ("letter.tif", "not a supported scan format"),
    ] {
        let line = err
            .lines()
            .find(|l| l.contains(file))
            .unwrap_or_else(|| panic!("no error line for {file}:\n{err}"));
        assert!(line.contains(reason), "{file}: {line}");
    }
    assert!(
        !err.contains("notes.txt"),
        "a non-scan file is skipped, not failed"
    );
    let summary = stdout(&out);
    assert!(
        summary.contains("ok 1,") && summary.contains("failed 4"),
        "{summary}"
    );
    // The good file is stored and searchable; the failures are recorded.
    let found = sohoa(&db, &["search", "nha may may mac"]);
    assert!(stdout(&found).contains("good.pdf"), "{}", stdout(&found));
    let export = stdout(&sohoa(&db, &["export"]));
    let docs: Vec<serde_json::Value> = export
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(docs.len(), 5);
    let failed: Vec<&serde_json::Value> = docs.iter().filter(|d| d["status"] == "failed").collect();
    assert_eq!(failed.len(), 4);
    assert!(
        failed
            .iter()
            .all(|d| d["error"].as_str().is_some_and(|e| !e.is_empty()))
    );
}

#[test]
fn exit_code_2_when_nothing_can_run() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("a.db");
    let out = sohoa(&db, &["ingest", "/no/such/inbox"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("/no/such/inbox"), "{}", stderr(&out));

    let not_a_db = dir.path().join("not-a-db.db");
    std::fs::write(&not_a_db, "this is not SQLite").unwrap();
    let out = sohoa(
        &not_a_db,
        &[
            "ingest",
            repo_path("samples/thong-bao-ho-tich.pdf").to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("not-a-db.db"), "{}", stderr(&out));

    let out = sohoa(&db, &["ingest", "--jobs", "0", "samples"]);
    assert_eq!(out.status.code(), Some(2));
    let out = sohoa(&db, &["ingest", "--ocr", "sometimes", "samples"]);
    assert_eq!(out.status.code(), Some(2));
    let out = sohoa(
        &db,
        &[
            "ingest",
            "--lang",
            "klingon",
            repo_path("samples/quyet-dinh-dat-dai.png")
                .to_str()
                .unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("klingon"), "{}", stderr(&out));

    let out = sohoa(&dir.path().join("missing.db"), &["search", "dat"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no archive"), "{}", stderr(&out));
}

#[test]
fn text_layer_document_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("a.db");
    let pdf = repo_path("samples/thong-bao-ho-tich.pdf");
    let out = sohoa(&db, &["ingest", "--json", pdf.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let summary: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(summary["documents_ok"], 1);
    assert_eq!(summary["pages_text_layer"], 1);
    assert_eq!(summary["schema_version"], 1);

    // Search without marks, highlight in the original text.
    let out = sohoa(&db, &["search", "dang", "ky", "khai", "sinh"]);
    let text = stdout(&out);
    assert!(text.contains("1 document match"), "{text}");
    assert!(text.contains("«đăng» «ký» «khai» «sinh»"), "{text}");

    let out = sohoa(&db, &["search", "--json", "\"hộ tịch\""]);
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(json["total"], 1);
    let hit = &json["hits"][0];
    assert_eq!(hit["page"], 1);
    assert!(hit["snippet"].as_str().unwrap().contains("hộ tịch"));
    assert!(!hit["highlights"].as_array().unwrap().is_empty());

    let out = sohoa(&db, &["show", "1"]);
    assert!(
        stdout(&out).contains("text from text_layer"),
        "{}",
        stdout(&out)
    );
    let out = sohoa(&db, &["show", "--json", "1"]);
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    for key in [
        "id",
        "path",
        "sha256",
        "format",
        "status",
        "error",
        "pages",
        "schema_version",
    ] {
        assert!(doc.get(key).is_some(), "show --json lacks {key}");
    }
    for key in ["number", "text", "confidence", "source"] {
        assert!(doc["pages"][0].get(key).is_some(), "page lacks {key}");
    }
    assert_eq!(sohoa(&db, &["show", "99"]).status.code(), Some(2));

    // A stray quote is read as text, not an error (nor an index's syntax error).
    let out = sohoa(&db, &["search", "\"unclosed"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // Nothing to search is still said plainly.
    let out = sohoa(&db, &["search", "-"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("empty"), "{}", stderr(&out));
}

#[test]
fn questions_are_answered_with_procedures_and_explained() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("q.db");
    // No archive needed: the taxonomy's procedures.
    let out = sohoa(
        &db,
        &[
            "procedures",
            "--explain",
            "--limit",
            "3",
            "Cho tôi hỏi đăng ký kết hôn với người nước ngoài cần giấy tờ gì?",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("(read as a question)"), "{text}");
    assert!(
        text.contains("kết hôn") && text.contains("Hộ tịch"),
        "{text}"
    );
    assert!(
        text.contains("why: ") && text.contains("pair «ket hon»"),
        "{text}"
    );
    assert!(text.contains("sohoa search procedure:"), "{text}");
    // A question put to the archive is ranked, and the ranking explained.
    let inbox = dir.path().join("inbox");
    std::fs::create_dir(&inbox).unwrap();
    std::fs::write(
        inbox.join("ket-hon.pdf"),
        text_pdf("To khai dang ky ket hon co yeu to nuoc ngoai"),
    )
    .unwrap();
    std::fs::write(inbox.join("dat.pdf"), text_pdf("Quyet dinh giao dat")).unwrap();
    assert!(
        sohoa(&db, &["ingest", inbox.to_str().unwrap()])
            .status
            .success()
    );
    let out = sohoa(
        &db,
        &[
            "search",
            "--explain",
            "toi muon dang ky ket hon voi nguoi nuoc ngoai thi lam the nao",
        ],
    );
    let text = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        text.contains("read as a question") && text.contains("ket-hon.pdf"),
        "{text}"
    );
    assert!(!text.contains("dat.pdf"), "{text}");
    assert!(
        text.contains("why: ") && text.contains("pair «ket hon»"),
        "{text}"
    );
}
