//! Page preparation through the real pipeline: degraded copies of a sample page (from
//! `eval::Degradation`, as in `scripts/bench-prepare`) are ingested, every decision is
//! stored and shown, and the text reads as well as the clean original's.

use crate::support::{ingest_json, repo_path, sohoa, stdout};
use image::GrayImage;
use sohoa::eval::{Degradation, character_error_rate};
use sohoa::load::{self, Limits, OcrMode, PageContent};
use sohoa::searchable_pdf::{self, PageImage, PdfMeta, PdfPage};
use std::path::Path;
use std::sync::{Arc, OnceLock};

const SAMPLE: &str = "samples/quyet-dinh-dat-dai.png";

fn clean_page() -> (GrayImage, String) {
    let bytes = std::fs::read(repo_path(SAMPLE)).unwrap();
    let (_, mut source) = load::open(Arc::new(bytes), &Limits::default()).unwrap();
    let PageContent::Ocr(image) = source.load_page(0, OcrMode::Force).unwrap().content else {
        panic!("the sample is an image")
    };
    let truth = std::fs::read_to_string(repo_path("samples/quyet-dinh-dat-dai.gt.txt")).unwrap();
    (image, truth)
}

fn save_png(image: &GrayImage, path: &Path) {
    image.save(path).unwrap();
}

/// Tesseract's glyph-less font, for building test PDFs.
pub fn tesseract_font() -> Vec<u8> {
    std::fs::read("/usr/share/tesseract-ocr/5/tessdata/pdf.ttf")
        .expect("tesseract-ocr's pdf.ttf (scripts/install-deps installs it)")
}

/// A scanned PDF of gray pages, no text layer.
fn scanned_pdf(pages: Vec<GrayImage>) -> Vec<u8> {
    let pages: Vec<PdfPage> = pages
        .into_iter()
        .map(|image| PdfPage::new(PageImage::Gray(image), 300.0, &[], None))
        .collect();
    let meta = PdfMeta {
        title: "test".into(),
        created: "2026-01-01T00:00:00Z".into(),
        id: [7; 16],
    };
    searchable_pdf::write(&pages, &meta, &tesseract_font()).unwrap()
}

/// The degraded set, ingested once: one file per degradation, and a two-page scan whose
/// first page is upside down and second the blank back of the sheet.
fn archive() -> &'static (tempfile::TempDir, String, f64) {
    static ARCHIVE: OnceLock<(tempfile::TempDir, String, f64)> = OnceLock::new();
    ARCHIVE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let scans = dir.path().join("scans");
        std::fs::create_dir(&scans).unwrap();
        let (clean, truth) = clean_page();
        for (name, degradation) in [
            ("clean.png", Degradation::Clean),
            ("turned-90.png", Degradation::Turned(90)),
            ("turned-270.png", Degradation::Turned(270)),
            ("skewed-4.png", Degradation::Skewed(4.0)),
            ("noisy.png", Degradation::Noisy(30)),
            // Saved without a resolution: estimated from the text, then halved.
            ("600dpi-unlabelled.png", Degradation::Resolution(600.0)),
        ] {
            let (image, _) = degradation.apply(&clean, 300.0, 1);
            save_png(&image, &scans.join(name));
        }
        let (upside_down, _) = Degradation::Turned(180).apply(&clean, 300.0, 2);
        let (blank, _) = Degradation::Blank.apply(&clean, 300.0, 3);
        std::fs::write(
            scans.join("upside-down-with-blank-back.pdf"),
            scanned_pdf(vec![upside_down, blank]),
        )
        .unwrap();
        let db = dir.path().join("a.db");
        let (code, summary) = ingest_json(&db, &[scans.to_str().unwrap()]);
        assert_eq!(code, 0, "{summary}");
        let clean_cer = character_error_rate(&truth, &page_text(&db, "clean.png", 1));
        (dir, truth, clean_cer)
    })
}

fn db() -> std::path::PathBuf {
    archive().0.path().join("a.db")
}

/// `sohoa show --json` of the document stored from `file`.
fn show(db: &Path, file: &str) -> serde_json::Value {
    let id: i64 = crate::support::count(
        db,
        &format!("SELECT id FROM documents WHERE path LIKE '%/{file}'"),
    );
    let out = sohoa(db, &["show", &id.to_string(), "--json"]);
    serde_json::from_str(&stdout(&out)).unwrap()
}

fn page_text(db: &Path, file: &str, page: usize) -> String {
    show(db, file)["pages"][page - 1]["text"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// What preparation did to `file`'s page `page`: (rotation, deskewed, scale, cleaned,
/// blank), and how its text compares with the clean original's.
fn check(file: &str, page: usize, expect: (u64, bool, f64, bool, bool)) {
    let (_, truth, clean_cer) = archive();
    let doc = show(&db(), file);
    let p = &doc["pages"][page - 1];
    let prep = &p["preparation"];
    let got = (
        prep["rotation"].as_u64().unwrap(),
        prep["deskewed"].as_bool().unwrap(),
        // An estimated resolution is near, not exact: 625 dpi for 600 scales by 0.48.
        (prep["scale"].as_f64().unwrap() * 10.0).round() / 10.0,
        !prep["cleaned"].is_null(),
        prep["blank"].as_bool().unwrap(),
    );
    assert_eq!(got, expect, "{file} page {page}: {prep}");
    if expect.4 {
        assert_eq!(p["text"], "", "{file}: a blank page has no text");
        assert_eq!(p["source"], "none");
        return;
    }
    let cer = character_error_rate(truth, p["text"].as_str().unwrap());
    assert!(
        cer <= clean_cer + 0.01,
        "{file}: CER {cer:.4}, clean original {clean_cer:.4}"
    );
}

#[test]
fn degraded_pages_are_prepared_and_read_like_the_original() {
    // (rotation, deskewed, scale, cleaned, blank)
    check("clean.png", 1, (0, false, 1.0, false, false));
    check("turned-90.png", 1, (270, false, 1.0, false, false));
    check("turned-270.png", 1, (90, false, 1.0, false, false));
    check("skewed-4.png", 1, (0, true, 1.0, false, false));
    check("noisy.png", 1, (0, false, 1.0, true, false));
    check("600dpi-unlabelled.png", 1, (0, false, 0.5, false, false));
    check(
        "upside-down-with-blank-back.pdf",
        1,
        (180, false, 1.0, false, false),
    );
    check(
        "upside-down-with-blank-back.pdf",
        2,
        (0, false, 1.0, false, true),
    );
}

#[test]
fn a_blank_back_leaves_its_document_whole_and_show_tells_every_decision() {
    let db = db();
    let doc = show(&db, "upside-down-with-blank-back.pdf");
    assert_eq!(doc["status"], "ok", "a blank page is not a failure");
    let skewed = show(&db, "skewed-4.png");
    let skew = skewed["pages"][0]["preparation"]["skew"].as_f64().unwrap();
    assert!((skew - 4.0).abs() < 0.3, "measured {skew}°");
    let estimated = show(&db, "600dpi-unlabelled.png");
    assert_eq!(
        estimated["pages"][0]["preparation"]["dpi_source"],
        "estimated"
    );

    let out = stdout(&sohoa(&db, &["show", &doc["id"].to_string()]));
    assert!(
        out.contains("[prepared: 300 dpi (from the file), turned 180°"),
        "{out}"
    );
    assert!(
        out.contains("[blank page: no text found, not OCR'd]"),
        "{out}"
    );
    assert!(out.contains("[prepared: blank page"), "{out}");
    let out = stdout(&sohoa(&db, &["show", &skewed["id"].to_string()]));
    assert!(out.contains("deskewed 4."), "{out}");
    let out = stdout(&sohoa(
        &db,
        &["show", &show(&db, "noisy.png")["id"].to_string()],
    ));
    assert!(out.contains("cleaned: noisy paper"), "{out}");
}

#[test]
fn prepare_off_reads_pages_as_decoded() {
    let dir = tempfile::tempdir().unwrap();
    let (clean, truth) = clean_page();
    let (turned, _) = Degradation::Turned(180).apply(&clean, 300.0, 1);
    let file = dir.path().join("upside-down.png");
    save_png(&turned, &file);
    let db = dir.path().join("off.db");
    let (code, _) = ingest_json(&db, &["--prepare", "off", file.to_str().unwrap()]);
    assert_eq!(code, 0);
    let doc = show(&db, "upside-down.png");
    let prep = &doc["pages"][0]["preparation"];
    assert_eq!(prep["rotation"], 0);
    assert_eq!(prep["blank"], false);
    let cer = character_error_rate(&truth, doc["pages"][0]["text"].as_str().unwrap());
    assert!(cer > 0.3, "read upside down without preparation: CER {cer}");
}

#[test]
fn a_missing_orientation_model_is_noted_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    // A model directory with the languages but without osd.traineddata.
    let models = dir.path().join("tessdata");
    std::fs::create_dir(&models).unwrap();
    for lang in ["vie", "eng"] {
        std::os::unix::fs::symlink(
            format!("/usr/share/tesseract-ocr/5/tessdata/{lang}.traineddata"),
            models.join(format!("{lang}.traineddata")),
        )
        .unwrap();
    }
    let (clean, _) = clean_page();
    let (turned, _) = Degradation::Turned(90).apply(&clean, 300.0, 1);
    let file = dir.path().join("sideways.png");
    save_png(&turned, &file);
    let db = dir.path().join("a.db");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sohoa"))
        .env("TESSDATA_PREFIX", &models)
        .args(["--db", db.to_str().unwrap(), "ingest", "--json"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        crate::support::stderr(&out)
    );
    let doc = show(&db, "sideways.png");
    assert_eq!(doc["status"], "ok");
    let note = doc["pages"][0]["preparation"]["note"].as_str().unwrap();
    assert!(
        note.starts_with("orientation not checked: cannot start Tesseract for languages 'osd'"),
        "{note}"
    );
}
