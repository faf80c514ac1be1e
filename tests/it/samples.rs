//! The bundled samples, ingested for real: OCR accuracy against ground truth.

use crate::support::repo_path;
use sohoa::eval::character_error_rate;
use sohoa::pipeline::{self, IngestConfig, SilentProgress};
use sohoa::store::DocStatus;
use std::sync::OnceLock;

/// The samples ingested once for all tests in this module.
fn archive() -> &'static (tempfile::TempDir, pipeline::IngestSummary) {
    static ARCHIVE: OnceLock<(tempfile::TempDir, pipeline::IngestSummary)> = OnceLock::new();
    ARCHIVE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let mut store = sohoa::store::open(&dir.path().join("samples.db")).unwrap();
        let summary = pipeline::ingest(
            &[repo_path("samples")],
            &mut *store,
            &IngestConfig::default(),
            &mut SilentProgress,
            &Default::default(),
        )
        .unwrap();
        (dir, summary)
    })
}

fn store() -> Box<dyn sohoa::store::Archive> {
    sohoa::store::open(&archive().0.path().join("samples.db")).unwrap()
}

#[test]
fn every_sample_is_stored_and_ocr_is_accurate() {
    let (_, summary) = archive();
    assert_eq!(
        summary.documents_failed + summary.documents_partial,
        0,
        "{:?}",
        summary.failures
    );
    assert_eq!(summary.documents_ok, 6);
    assert_eq!(summary.pages, 8);
    assert_eq!(summary.pages_text_layer, 1);
    assert_eq!(
        summary.skipped_not_scans,
        6 + 1 + 4 + 1,
        "ground-truth files, the README, the labeled sets and the question set are skipped"
    );
    let store = store();
    let mut total_errors = 0.0;
    let mut total_chars = 0.0;
    store
        .each_document(&mut |doc| {
            assert_eq!(doc.status, DocStatus::Ok);
            let stem = doc
                .path
                .rsplit('/')
                .next()
                .unwrap()
                .split('.')
                .next()
                .unwrap()
                .to_owned();
            let truth =
                std::fs::read_to_string(repo_path(&format!("samples/{stem}.gt.txt"))).unwrap();
            let truth_pages: Vec<&str> = truth.split('\u{c}').collect();
            assert_eq!(truth_pages.len(), doc.pages.len(), "{stem}: page count");
            for (page, truth) in doc.pages.iter().zip(truth_pages) {
                let cer = character_error_rate(truth, &page.text);
                eprintln!("{stem} page {}: CER {:.2}%", page.number, cer * 100.0);
                assert!(
                    cer < 0.03,
                    "{stem} page {}: CER {cer:.3}\n{}",
                    page.number,
                    page.text
                );
                let n = sohoa::eval::normalize(truth).len() as f64;
                total_errors += cer * n;
                total_chars += n;
                if page.source == sohoa::load::TextSource::Ocr {
                    assert!(page.confidence.unwrap() > 80.0, "{stem}: confidence");
                    assert!(page.word_count > 10, "{stem}: words kept");
                }
            }
            Ok(())
        })
        .unwrap();
    eprintln!(
        "samples: overall CER {:.2}%",
        total_errors / total_chars * 100.0
    );
}

#[test]
fn samples_are_searchable_without_marks() {
    archive();
    let store = store();
    for (query, expect) in [
        ("quyen su dung dat", "don-dang-ky-dat.tif"),
        ("giay phep xay dung", "bao-cao-xay-dung.pdf"),
        ("040085012345", "cong-van-bao-hiem.jpg"),
        ("dang ky khai sinh", "thong-bao-ho-tich.pdf"),
        ("nha may may mac", "to-trinh-dau-tu.pdf"),
        ("\"thu hồi\" đất", "quyet-dinh-dat-dai.png"),
    ] {
        let results = sohoa::search::run(
            &*store,
            &sohoa::search::SearchRequest::parse(query).unwrap(),
        )
        .unwrap();
        let top = results
            .hits
            .first()
            .map(|h| h.path.clone())
            .unwrap_or_default();
        assert!(
            top.ends_with(expect),
            "{query:?}: top hit {top:?}, expected {expect}"
        );
    }
}

/// Each sample's sector, type, number, date and agency, read from its OCR'd text.
#[test]
fn samples_are_classified_and_their_fields_read() {
    archive();
    let store = store();
    let mut seen = 0;
    store
        .each_document(&mut |doc| {
            let name = doc.path.rsplit('/').next().unwrap().to_owned();
            let (sector, doc_type, number, date) = match name.as_str() {
                "bao-cao-xay-dung.pdf" => ("xay-dung", "BC", Some("89/BC-SXD"), Some("2023-11-30")),
                "cong-van-bao-hiem.jpg" => (
                    "bao-hiem-xa-hoi",
                    "CV",
                    Some("567/SLĐTBXH-BHXH"),
                    Some("2023-06-02"),
                ),
                "don-dang-ky-dat.tif" => ("dat-dai", "", None, None),
                "quyet-dinh-dat-dai.png" => {
                    ("dat-dai", "QĐ", Some("1234/QĐ-UBND"), Some("2024-03-15"))
                }
                "thong-bao-ho-tich.pdf" => ("ho-tich", "TB", None, None),
                "to-trinh-dau-tu.pdf" => {
                    ("dau-tu", "TTr", Some("45/TTr-SKHĐT"), Some("2024-04-12"))
                }
                other => panic!("unexpected sample {other}"),
            };
            seen += 1;
            let c = doc.classification.as_ref().expect("classified at ingest");
            assert_eq!(c.sector, sector, "{name}: {c:?}");
            assert!(!c.reasons.is_empty(), "{name}: explained");
            let f = doc.fields.as_ref().expect("fields read at ingest");
            if !doc_type.is_empty() {
                assert_eq!(f.doc_type.as_deref(), Some(doc_type), "{name}: {f:?}");
            }
            // As a reader compares numbers: "SKHDT" is "SKHĐT" read without its bar.
            let fold = |n: Option<&str>| n.map(sohoa::fold::fold_full);
            assert_eq!(fold(f.number.as_deref()), fold(number), "{name}: {f:?}");
            if date.is_some() {
                assert_eq!(f.date.as_deref(), date, "{name}: {f:?}");
            }
            Ok(())
        })
        .unwrap();
    assert_eq!(seen, 6);
}
