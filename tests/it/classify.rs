//! Classification and fields: at ingest, shown, exported, filtered, corrected, retrained,
//! evaluated on the labeled sets, and every bad input refused by name.

use crate::support::{count, ingest_json, lines_pdf, repo_path, sohoa, sql, stderr, stdout};
use std::path::Path;

pub(crate) const LAND: &[&str] = &[
    "UBND TINH NGHE AN",
    "SO TAI NGUYEN VA MOI TRUONG",
    "So: 1234/QD-STNMT",
    "CONG HOA XA HOI CHU NGHIA VIET NAM",
    "Doc lap - Tu do - Hanh phuc",
    "Vinh, ngay 15 thang 3 nam 2024",
    "QUYET DINH",
    "Ve viec thu hoi dat de thuc hien du an mo rong duong",
    "Dieu 1. Thu hoi thua dat so 125, to ban do so 14 cua ho ong Nguyen Van An,",
    "CCCD so 040078001122, de giai phong mat bang.",
    "Dieu 2. Van phong dang ky dat dai chinh ly ho so dia chinh, cap nhat bien dong dat dai.",
];

pub(crate) const BIRTH: &[&str] = &[
    "UBND HUYEN NAM DAN",
    "UBND XA NAM GIANG",
    "So: 56/UBND-TP",
    "V/v dang ky khai sinh cho tre em",
    "CONG HOA XA HOI CHU NGHIA VIET NAM",
    "Doc lap - Tu do - Hanh phuc",
    "Nam Dan, ngay 2 thang 6 nam 2023",
    "Kinh gui: Phong Tu phap huyen",
    "Cong chuc tu phap - ho tich da dang ky khai sinh cho chau Le Thi Hoa,",
    "cha la Le Van Binh, me la Tran Thi Cuc, ghi vao So dang ky khai sinh.",
];

pub(crate) const BUILDING: &[&str] = &[
    "UBND TINH NGHE AN",
    "SO XAY DUNG",
    "So: 89/BC-SXD",
    "CONG HOA XA HOI CHU NGHIA VIET NAM",
    "Doc lap - Tu do - Hanh phuc",
    "Nghe An, ngay 30 thang 11 nam 2023",
    "BAO CAO",
    "Ve viec cap giay phep xay dung nha o rieng le nam 2023",
    "So ho so cap giay phep xay dung dung han dat 93%; nghiem thu cong trinh,",
    "kiem tra trat tu xay dung va quy hoach chi tiet 1/500 theo quy dinh.",
];

/// Three documents of three sectors, ingested; returns the archive path.
pub(crate) fn archive(dir: &Path) -> std::path::PathBuf {
    let scans = dir.join("scans");
    std::fs::create_dir_all(&scans).unwrap();
    for (name, lines) in [
        ("land.pdf", LAND),
        ("birth.pdf", BIRTH),
        ("building.pdf", BUILDING),
    ] {
        std::fs::write(scans.join(name), lines_pdf(lines)).unwrap();
    }
    let db = dir.join("a.db");
    let (code, json) = ingest_json(&db, &[scans.to_str().unwrap()]);
    assert_eq!(code, 0, "{json}");
    db
}

pub(crate) fn id_of(db: &Path, file: &str) -> i64 {
    count(
        db,
        &format!("SELECT id FROM documents WHERE path LIKE '%/{file}'"),
    )
}

/// Ids of the documents `search ARGS` lists, in order.
fn search_ids(db: &Path, args: &[&str]) -> Vec<i64> {
    let mut full = vec!["search", "--json"];
    full.extend_from_slice(args);
    let out = sohoa(db, &full);
    assert!(out.status.success(), "search {args:?}: {}", stderr(&out));
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    json["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_i64().unwrap())
        .collect()
}

#[test]
fn ingest_files_documents_and_reads_their_fields() {
    let dir = tempfile::tempdir().unwrap();
    let db = archive(dir.path());
    let expected = [
        ("land.pdf", "dat-dai", "QĐ", "1234/QĐ-STNMT", "2024-03-15"),
        ("birth.pdf", "ho-tich", "CV", "56/UBND-TP", "2023-06-02"),
        ("building.pdf", "xay-dung", "BC", "89/BC-SXD", "2023-11-30"),
    ];
    for (file, sector, doc_type, number, date) in expected {
        let id = id_of(&db, file);
        let out = sohoa(&db, &["show", &id.to_string(), "--json"]);
        let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
        assert_eq!(doc["classification"]["sector"], sector, "{file}: {doc}");
        assert_eq!(doc["fields"]["doc_type"], doc_type, "{file}");
        assert_eq!(doc["fields"]["number"], number, "{file}");
        assert_eq!(doc["fields"]["date"], date, "{file}");
    }
    let land = id_of(&db, "land.pdf");
    let shown = stdout(&sohoa(&db, &["show", &land.to_string()]));
    for part in [
        "sector:    Đất đai (dat-dai)",
        "because:",
        "number:    1234/QĐ-STNMT (serial 1234, type QĐ, issuer STNMT, OCR read 1234/QD-STNMT)",
        "agency:    UBND TINH NGHE AN / SO TAI NGUYEN VA MOI TRUONG",
        "subject:   thu hoi dat de thuc hien du an mo rong duong",
        "ids:       040078001122",
        "parcels:   thửa 125, tờ 14",
    ] {
        assert!(shown.contains(part), "show lacks {part:?}:\n{shown}");
    }
    // Export carries the fields and the classification.
    let export = stdout(&sohoa(&db, &["export"]));
    let first: serde_json::Value = serde_json::from_str(export.lines().next().unwrap()).unwrap();
    assert!(first["classification"]["sector"].is_string(), "{first}");
    assert!(first["fields"]["number"].is_string(), "{first}");
}

#[test]
fn search_filters_narrow_by_fields_and_classification() {
    let dir = tempfile::tempdir().unwrap();
    let db = archive(dir.path());
    let (land, birth, building) = (
        id_of(&db, "land.pdf"),
        id_of(&db, "birth.pdf"),
        id_of(&db, "building.pdf"),
    );
    // Filters alone list documents, newest issue date first.
    let cases: &[(&[&str], &[i64])] = &[
        (&["--sector", "dat dai"], &[land]),
        (&["--sector", "Hộ tịch"], &[birth]),
        (&["--type", "QD"], &[land]),
        (&["--type", "Công văn"], &[birth]),
        (&["--number", "89/BC-SXD"], &[building]),
        (&["--number", "1234/QĐ"], &[land]),
        // Printed "QĐ", read "QD": found by either spelling.
        (&["--number", "1234/QD-STNMT"], &[land]),
        (&["--number", "1234/QĐ-STNMT"], &[land]),
        (&["--number", "89"], &[building]),
        (&["--agency", "tài nguyên"], &[land]),
        (
            &["--from", "2023-06", "--to", "2023-12"],
            &[building, birth],
        ),
        (&["--from", "2024"], &[land]),
        (&["--to", "2023-06-01"], &[]),
        (
            &["--sector", "xay-dung", "--type", "BC", "--from", "2023"],
            &[building],
        ),
        // With words: the filters narrow the matches.
        (&["giay phep", "--sector", "xay-dung"], &[building]),
        (&["giay phep", "--sector", "dat-dai"], &[]),
    ];
    for (args, expect) in cases {
        assert_eq!(&search_ids(&db, args), expect, "search {args:?}");
    }
    // --needs-review lists exactly the flagged documents.
    let flagged = count(
        &db,
        "SELECT count(*) FROM classifications WHERE needs_review = 1",
    );
    assert_eq!(search_ids(&db, &["--needs-review"]).len() as i64, flagged);
    let human = stdout(&sohoa(&db, &["search", "--sector", "dat-dai"]));
    assert!(
        human.contains("QĐ · số 1234/QĐ-STNMT · 2024-03-15 · Đất đai"),
        "{human}"
    );
}

#[test]
fn staff_corrections_stick_and_teach_the_model() {
    let dir = tempfile::tempdir().unwrap();
    let db = archive(dir.path());
    let building = id_of(&db, "building.pdf").to_string();
    let out = sohoa(
        &db,
        &[
            "classify",
            "set",
            &building,
            "Đất đai",
            "--by",
            "lan.nguyen",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let shown = stdout(&sohoa(&db, &["show", &building]));
    assert!(
        shown.contains("Đất đai (dat-dai), confidence 1.00, by staff"),
        "{shown}"
    );
    assert!(shown.contains("because: set by lan.nguyen"), "{shown}");
    // A correction with a procedure, named by part of its name.
    let birth = id_of(&db, "birth.pdf").to_string();
    let out = sohoa(
        &db,
        &[
            "classify",
            "set",
            &birth,
            "ho-tich",
            "đăng ký khai sinh lưu động",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("Đăng ký khai sinh lưu động"),
        "{}",
        stdout(&out)
    );
    // Re-filing keeps staff decisions.
    let out = sohoa(&db, &["classify", "run"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("re-filed 3 documents"),
        "{}",
        stdout(&out)
    );
    assert_eq!(
        count(
            &db,
            &format!(
                "SELECT count(*) FROM classifications WHERE document_id = {building} AND sector = 'dat-dai' AND source = 'staff'"
            )
        ),
        1
    );
    // Training from corrections stores what was learned; the history names who.
    let out = sohoa(&db, &["classify", "train", "--from-corrections"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("trained on 2 staff corrections"),
        "{}",
        stdout(&out)
    );
    assert_eq!(count(&db, "SELECT documents FROM classifier_training"), 2);
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM corrections WHERE by_user = 'lan.nguyen'"
        ),
        1
    );
    assert_eq!(search_ids(&db, &["--sector", "dat-dai"]).len(), 2);
}

#[test]
fn training_from_a_labeled_file_moves_new_documents() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    // Staff teach that sand-mining letters belong to transport (a local convention).
    let text = "V/v khai thac cat soi long song Lam, bai tap ket cat tai ben xe";
    let labeled = dir.path().join("labeled.jsonl");
    let line = serde_json::json!({"text": text, "sector": "Giao thông vận tải"}).to_string();
    std::fs::write(&labeled, format!("{}\n", [line.as_str(); 30].join("\n"))).unwrap();
    let before = stdout(&sohoa(
        &db,
        &["classify", "eval", labeled.to_str().unwrap()],
    ));
    assert!(before.contains("model: taxonomy only"), "{before}");
    let out = sohoa(
        &db,
        &["classify", "train", "--labeled", labeled.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let after = stdout(&sohoa(
        &db,
        &["classify", "eval", labeled.to_str().unwrap()],
    ));
    assert!(after.contains("taxonomy + 30 trained documents"), "{after}");
    assert!(after.contains("sector: accuracy 1.000"), "{after}");
    // New documents are filed with the trained model.
    let scans = dir.path().join("scans");
    std::fs::create_dir_all(&scans).unwrap();
    std::fs::write(scans.join("cat.pdf"), lines_pdf(&[text])).unwrap();
    let (code, _) = ingest_json(&db, &[scans.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM classifications WHERE sector = 'giao-thong'"
        ),
        1
    );
}

/// The figures README reports, held to the issue's targets: a regression fails here.
#[test]
fn labeled_sets_meet_the_accuracy_targets() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("none.db");
    for (file, min_macro_f1) in [
        ("samples/labeled/eval-clean.jsonl", 0.95),
        ("samples/labeled/eval-noisy.jsonl", 0.90),
    ] {
        let path = repo_path(file);
        let out = sohoa(
            &db,
            &[
                "classify",
                "eval",
                path.to_str().unwrap(),
                "--json",
                "--untrained",
            ],
        );
        assert!(out.status.success(), "{}", stderr(&out));
        let r: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
        assert!(r["documents"].as_u64().unwrap() >= 200, "{file}: {r}");
        assert!(
            r["macro_f1"].as_f64().unwrap() >= min_macro_f1,
            "{file}: {r}"
        );
        for field in ["number", "type", "date"] {
            assert!(
                r["fields"][field].as_f64().unwrap() >= 0.95,
                "{file}: {field}: {r}"
            );
        }
        assert!(
            r["procedure_accuracy"].as_f64().unwrap() >= 0.85,
            "{file}: {r}"
        );
    }
    assert!(!db.exists(), "eval must not create an archive");
}

#[test]
fn a_custom_taxonomy_replaces_the_builtin_one() {
    let dir = tempfile::tempdir().unwrap();
    let taxonomy = dir.path().join("taxonomy.json");
    std::fs::write(
        &taxonomy,
        r#"{"other": {"id": "khac", "name": "Khác"}, "sectors": [
            {"id": "dat", "name": "Đất", "phrases": ["thu hồi đất", "địa chính"]},
            {"id": "xay", "name": "Xây", "phrases": ["giấy phép xây dựng"],
             "procedures": [{"code": "X1", "name": "Cấp giấy phép xây dựng nhà ở riêng lẻ"}]}
        ]}"#,
    )
    .unwrap();
    let scans = dir.path().join("scans");
    std::fs::create_dir_all(&scans).unwrap();
    std::fs::write(scans.join("land.pdf"), lines_pdf(LAND)).unwrap();
    std::fs::write(scans.join("building.pdf"), lines_pdf(BUILDING)).unwrap();
    let db = dir.path().join("c.db");
    let t = taxonomy.to_str().unwrap();
    let (code, json) = ingest_json(&db, &["--taxonomy", t, scans.to_str().unwrap()]);
    assert_eq!(code, 0, "{json}");
    let sectors: Vec<(String, Option<String>)> = sql(&db)
        .prepare("SELECT c.sector, c.procedure_code FROM classifications c JOIN documents d ON d.id = c.document_id ORDER BY d.path")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        sectors,
        vec![
            ("xay".to_owned(), Some("X1".to_owned())),
            ("dat".to_owned(), None)
        ]
    );
    assert_eq!(
        search_ids(&db, &["--taxonomy", t, "--sector", "Xây"]).len(),
        1
    );
}

#[test]
fn documents_stored_before_classification_are_filed_by_classify_run() {
    let dir = tempfile::tempdir().unwrap();
    let db = archive(dir.path());
    {
        // As an archive from before schema 3 has them: no fields, no classification.
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch("DELETE FROM classifications; DELETE FROM document_fields;")
            .unwrap();
    }
    let land = id_of(&db, "land.pdf").to_string();
    let shown = stdout(&sohoa(&db, &["show", &land]));
    assert!(
        shown.contains("not classified yet (run `sohoa classify run`)"),
        "{shown}"
    );
    let out = sohoa(&db, &["classify", "run"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("re-filed 3 documents, 3 changed"),
        "{}",
        stdout(&out)
    );
    assert_eq!(
        search_ids(&db, &["--sector", "dat-dai"]),
        vec![land.parse::<i64>().unwrap()]
    );
    // The citizen ID read again (kept with the fields since the unread citizen_ids
    // table was dropped, schema 14).
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM document_fields WHERE citizen_ids != '[]'"
        ),
        1
    );
}

/// Each bad input: exit code 2 and a message naming the problem.
#[test]
fn bad_classification_input_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let db = archive(dir.path());
    let land = id_of(&db, "land.pdf").to_string();
    let broken = dir.path().join("broken.jsonl");
    std::fs::write(
        &broken,
        "{\"text\": \"a\", \"sector\": \"dat-dai\"}\nnot json\n",
    )
    .unwrap();
    let unknown_sector = dir.path().join("unknown.jsonl");
    std::fs::write(&unknown_sector, "{\"text\": \"a\", \"sector\": \"mars\"}\n").unwrap();
    let bad_taxonomy = dir.path().join("bad.json");
    std::fs::write(&bad_taxonomy, "{\"sectors\": 3}").unwrap();
    let broken = broken.to_str().unwrap();
    let unknown_sector = unknown_sector.to_str().unwrap();
    let bad_taxonomy = bad_taxonomy.to_str().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (
            &["classify", "set", &land, "mars"],
            "no sector \"mars\" in the taxonomy; sectors: dat-dai (Đất đai)",
        ),
        (
            &["classify", "set", "99999", "dat-dai"],
            "no document with id 99999",
        ),
        (
            &["classify", "set", &land, "dat-dai", "no such procedure"],
            "no procedure \"no such procedure\" in sector Đất đai",
        ),
        (&["classify", "train"], "say what to learn from"),
        (
            &["classify", "eval", broken],
            "broken.jsonl line 2: not a labeled document",
        ),
        (
            &["classify", "eval", unknown_sector],
            "unknown.jsonl line 1: no sector \"mars\"",
        ),
        (
            &["classify", "eval", "/nonexistent.jsonl"],
            "cannot open /nonexistent.jsonl",
        ),
        (
            &["classify", "run", "--review-below", "1.5"],
            "--review-below must be between 0 and 1",
        ),
        (&["--taxonomy", bad_taxonomy, "search", "dat"], "taxonomy"),
        (
            &["--taxonomy", "/nonexistent.json", "search", "dat"],
            "cannot read taxonomy /nonexistent.json",
        ),
        (&["search", "--sector", "mars"], "no sector \"mars\""),
        (
            &["search", "--type", "XYZ"],
            "unknown document type \"XYZ\"; known: QĐ (Quyết định)",
        ),
        (
            &["search", "--from", "2024-13"],
            "--from \"2024-13\": write a date as YYYY, YYYY-MM or YYYY-MM-DD",
        ),
        (
            &["search", "--from", "15/03/2024"],
            "write a date as YYYY, YYYY-MM or YYYY-MM-DD",
        ),
        (
            &["search", "--from", "2024-05", "--to", "2024-01"],
            "the date range starts at 2024-05 after it ends at 2024-01",
        ),
        (&["search", "--agency", " "], "--agency needs a value"),
        (&["search"], "the query is empty"),
    ];
    for (args, message) in cases {
        let out = sohoa(&db, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stdout(&out));
        assert!(
            stderr(&out).contains(message),
            "{args:?}: expected {message:?} in\n{}",
            stderr(&out)
        );
    }
    // Nothing was changed by the refused commands.
    assert_eq!(count(&db, "SELECT count(*) FROM corrections"), 0);
    assert_eq!(count(&db, "SELECT count(*) FROM classifier_training"), 0);
}
