//! The real scanner output in ../shared/data/scans, when this machine has it.

use crate::support::shared_scans;
use sohoa::eval::character_error_rate;
use sohoa::pipeline::{self, IngestConfig, SilentProgress};
use sohoa::store::DocStatus;

#[test]
fn real_scans_ingest_and_read() {
    let Some(scans) = shared_scans() else {
        eprintln!(
            "SKIPPED real_scans_ingest_and_read: ../shared/data/scans is not on this machine"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut store = sohoa::store::open(&dir.path().join("real.db")).unwrap();
    let summary = pipeline::ingest(
        &[&scans],
        &mut *store,
        &IngestConfig::default(),
        &mut SilentProgress,
        &Default::default(),
    )
    .unwrap();
    assert!(summary.failures.is_empty(), "{:?}", summary.failures);
    let mut seen = 0;
    store
        .each_document(&mut |doc| {
            seen += 1;
            assert_eq!(doc.status, DocStatus::Ok, "{}", doc.path);
            let name = doc.path.rsplit('/').next().unwrap().to_owned();
            let expected_pages = match name.as_str() {
                "kodak-200dpi-ccitt.pdf" | "color-300dpi-jpeg.pdf" => 2,
                "hp-200dpi-jpeg-encrypted-textlayer.pdf" => 6,
                _ => 1,
            };
            assert_eq!(doc.pages.len(), expected_pages, "{name}");
            for page in &doc.pages {
                // The HP file's scanner OCR layer is invisible and knows no Vietnamese
                // marks: it must have been re-done by our OCR.
                assert_eq!(
                    page.source,
                    sohoa::load::TextSource::Ocr,
                    "{name} page {}",
                    page.number
                );
                assert!(
                    page.text.chars().filter(|c| c.is_alphabetic()).count() > 200,
                    "{name} page {}",
                    page.number
                );
            }
            // Fields and sector, read from real OCR output: (number, date, sector). `#`
            // stands for a serial written in by hand on the paper (4635 and 5449 here):
            // Tesseract reads such digits differently with each segmentation (automatic
            // layout reads 4435 and 5749, single block read them right), so only their
            // count is checked, and the typed issuer code exactly. The day of the two
            // scanned letters is written in by hand too (read "34" and "Jÿ"): they have
            // no date, not the date of the document their first line cites (16/5/2019,
            // 17/8/2023), which was taken before fields were read in the header's block.
            let expected = match name.as_str() {
                "cong-van-p1.jpg" => Some(("1906/SGDĐT-CTrTT", Some("2020-07-26"), "giao-duc")),
                "kodak-200dpi-ccitt.pdf" => Some(("####/SGDĐT-CTrTT", None, "giao-thong")),
                "hp-200dpi-jpeg-encrypted-textlayer.pdf" => Some(("####/UBND-SGDĐT", None, "")),
                _ => None,
            };
            if let Some((number, date, sector)) = expected {
                let f = doc.fields.as_ref().expect("fields");
                let got = f.number.as_deref().unwrap_or("");
                let matches = got.chars().count() == number.chars().count()
                    && got
                        .chars()
                        .zip(number.chars())
                        .all(|(g, e)| if e == '#' { g.is_ascii_digit() } else { g == e });
                assert!(matches, "{name}: number {got:?}, expected {number:?}");
                assert_eq!(f.date.as_deref(), date, "{name}");
                let c = doc.classification.as_ref().expect("classification");
                if !sector.is_empty() {
                    assert_eq!(c.sector, sector, "{name}: {c:?}");
                }
            }
            // The signer, under the signature block (OCR may slip on a mark or drop a
            // leading word on these photos: "Lê Thị Bích Thuận" read "Thị Bích Thuận").
            let signer_ends = match name.as_str() {
                "cong-van-p2.jpg" => Some("bich thuan"),
                "kodak-200dpi-ccitt.pdf" => Some("minh thanh"),
                _ => None,
            };
            if let Some(end) = signer_ends {
                let signer = doc.fields.as_ref().and_then(|f| f.signer.clone());
                assert!(
                    signer
                        .as_deref()
                        .is_some_and(|s| sohoa::fold::fold_full(s).ends_with(end)),
                    "{name}: signer {signer:?}"
                );
            }
            if let Some(stem) = name.strip_suffix(".jpg") {
                let truth = std::fs::read_to_string(scans.join(format!("{stem}.gt.txt"))).unwrap();
                let cer = character_error_rate(&truth, &doc.pages[0].text);
                eprintln!(
                    "{name}: CER {:.1}% (low-resolution photo; reading order may differ)",
                    cer * 100.0
                );
                assert!(cer < 0.25, "{name}: CER {cer:.3}");
            }
            Ok(())
        })
        .unwrap();
    assert_eq!(seen, 5);
    for query in ["so giao duc", "Đà Nẵng", "thanh pho"] {
        let results = sohoa::search::run(
            &*store,
            &sohoa::search::SearchRequest::parse(query).unwrap(),
        )
        .unwrap();
        assert!(
            results.total >= 2,
            "{query:?} found {} documents",
            results.total
        );
    }
}
