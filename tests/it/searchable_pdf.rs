//! `sohoa pdf` and `ingest --pdf-out`: the text read back from the written PDF with
//! poppler's `pdftotext` is the stored page text, the page images are the originals,
//! and the file carries what PDF/A-2b asks of it.

use crate::support::{count, ingest_json, repo_path, sohoa, stderr, stdout};
use lopdf::{Document, Object};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The samples plus a page turned on its side and a skewed one, ingested once with
/// `--pdf-out`.
fn archive() -> &'static (tempfile::TempDir, serde_json::Value) {
    static ARCHIVE: OnceLock<(tempfile::TempDir, serde_json::Value)> = OnceLock::new();
    ARCHIVE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let scans = dir.path().join("scans");
        std::fs::create_dir(&scans).unwrap();
        for entry in std::fs::read_dir(repo_path("samples")).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() && !path.to_string_lossy().ends_with(".txt") {
                std::fs::copy(&path, scans.join(path.file_name().unwrap())).unwrap();
            }
        }
        let clean = image::open(repo_path("samples/quyet-dinh-dat-dai.png"))
            .unwrap()
            .to_luma8();
        use sohoa::eval::Degradation;
        for (name, d) in [
            ("sideways.png", Degradation::Turned(90)),
            ("skewed.png", Degradation::Skewed(-3.0)),
        ] {
            d.apply(&clean, 300.0, 1).0.save(scans.join(name)).unwrap();
        }
        let db = dir.path().join("a.db");
        let out = dir.path().join("pdf");
        let (code, summary) = ingest_json(
            &db,
            &[scans.to_str().unwrap(), "--pdf-out", out.to_str().unwrap()],
        );
        assert_eq!(code, 0, "{summary}");
        (dir, summary)
    })
}

pub(crate) fn db() -> PathBuf {
    archive().0.path().join("a.db")
}

pub(crate) fn id_of(file: &str) -> i64 {
    count(
        &db(),
        &format!("SELECT id FROM documents WHERE path LIKE '%/{file}'"),
    )
}

fn pdf_of(file: &str) -> PathBuf {
    let id = id_of(file);
    let stem = Path::new(file).file_stem().unwrap().to_string_lossy();
    archive().0.path().join(format!("pdf/{id}-{stem}.pdf"))
}

fn pdftotext(pdf: &Path, page: usize) -> String {
    let out = Command::new("pdftotext")
        .args(["-raw", "-f", &page.to_string(), "-l", &page.to_string()])
        .arg(pdf)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils, installed by scripts/test)");
    assert!(out.status.success(), "pdftotext {}", pdf.display());
    String::from_utf8(out.stdout).unwrap()
}

fn words(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Every page's text, read back from `file`'s PDF, is its stored text.
fn check_text(file: &str) {
    let pdf = pdf_of(file);
    let id = id_of(file);
    let shown: serde_json::Value =
        serde_json::from_str(&stdout(&sohoa(&db(), &["show", &id.to_string(), "--json"]))).unwrap();
    let pages = shown["pages"].as_array().unwrap();
    for (i, page) in pages.iter().enumerate() {
        let stored = words(page["text"].as_str().unwrap());
        let extracted = words(&pdftotext(&pdf, i + 1));
        let cer = sohoa::eval::character_error_rate(&stored, &extracted);
        assert!(
            cer <= 0.01,
            "{file} page {}: CER {cer:.4} between stored and extracted\nstored:    {stored}\nextracted: {extracted}",
            i + 1
        );
    }
}

#[test]
fn text_extracted_from_the_pdf_is_the_stored_text() {
    for file in [
        "quyet-dinh-dat-dai.png",
        "cong-van-bao-hiem.jpg",
        "don-dang-ky-dat.tif",
        "bao-cao-xay-dung.pdf",
        "to-trinh-dau-tu.pdf",
        "sideways.png",
        "skewed.png",
    ] {
        check_text(file);
    }
}

/// The image XObject of each page, in order.
fn page_images(pdf: &Path) -> Vec<lopdf::Stream> {
    let doc = Document::load(pdf).unwrap();
    doc.get_pages()
        .values()
        .map(|&page| {
            let resources = doc.get_dictionary(page).unwrap().get(b"Resources").unwrap();
            let xobjects = resources.as_dict().unwrap().get(b"XObject").unwrap();
            let image = xobjects.as_dict().unwrap().get(b"Im0").unwrap();
            doc.get_object(image.as_reference().unwrap())
                .unwrap()
                .as_stream()
                .unwrap()
                .clone()
        })
        .collect()
}

#[test]
fn page_images_are_the_originals() {
    // A JPEG goes in byte for byte.
    let jpeg = std::fs::read(repo_path("samples/cong-van-bao-hiem.jpg")).unwrap();
    let images = page_images(&pdf_of("cong-van-bao-hiem.jpg"));
    assert_eq!(images[0].content, jpeg);
    // Lossless pixels: the PNG's, and the turned page as scanned (sideways), not as read.
    for (file, sample) in [
        ("quyet-dinh-dat-dai.png", "samples/quyet-dinh-dat-dai.png"),
        ("sideways.png", ""),
    ] {
        let stream = &page_images(&pdf_of(file))[0];
        let pixels = stream.decompressed_content().unwrap();
        let original = if sample.is_empty() {
            image::open(archive().0.path().join("scans/sideways.png"))
        } else {
            image::open(repo_path(sample))
        }
        .unwrap()
        .to_luma8();
        let dict = &stream.dict;
        assert_eq!(
            dict.get(b"Width").unwrap().as_i64().unwrap(),
            original.width() as i64
        );
        assert_eq!(pixels, original.as_raw().as_slice(), "{file}");
    }
    // A fax-style (CCITT) scan stays one bit per pixel.
    let tiff = &page_images(&pdf_of("don-dang-ky-dat.tif"))[0];
    assert_eq!(
        tiff.dict
            .get(b"BitsPerComponent")
            .unwrap()
            .as_i64()
            .unwrap(),
        1
    );
}

#[test]
fn the_pdf_declares_pdf_a_2b() {
    let bytes = std::fs::read(pdf_of("quyet-dinh-dat-dai.png")).unwrap();
    assert!(bytes.starts_with(b"%PDF-1.7\n%"), "binary header");
    let doc = Document::load_mem(&bytes).unwrap();
    assert!(!doc.is_encrypted());
    assert!(matches!(doc.trailer.get(b"ID"), Ok(Object::Array(a)) if a.len() == 2));
    let catalog = doc.catalog().unwrap();
    let metadata = doc
        .get_object(catalog.get(b"Metadata").unwrap().as_reference().unwrap())
        .unwrap()
        .as_stream()
        .unwrap();
    let xmp = String::from_utf8(metadata.content.clone()).unwrap();
    assert!(xmp.contains("<pdfaid:part>2</pdfaid:part>"), "{xmp}");
    assert!(xmp.contains("<pdfaid:conformance>B</pdfaid:conformance>"));
    let intents = catalog.get(b"OutputIntents").unwrap().as_array().unwrap();
    let intent = doc
        .get_dictionary(intents[0].as_reference().unwrap())
        .unwrap();
    assert_eq!(intent.get(b"S").unwrap().as_name().unwrap(), b"GTS_PDFA1");
    // The text's font is embedded.
    let embedded = doc
        .objects
        .values()
        .any(|o| o.as_dict().is_ok_and(|d| d.get(b"FontFile2").is_ok()));
    assert!(embedded, "FontFile2");
}

#[test]
fn born_digital_documents_are_written_as_they_are() {
    let original = std::fs::read(repo_path("samples/thong-bao-ho-tich.pdf")).unwrap();
    let written = std::fs::read(pdf_of("thong-bao-ho-tich.pdf")).unwrap();
    assert_eq!(written, original);
}

#[test]
fn pdf_failures_name_the_document_and_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let scan = dir.path().join("scan.png");
    std::fs::copy(repo_path("samples/quyet-dinh-dat-dai.png"), &scan).unwrap();
    let db = dir.path().join("a.db");
    let (code, _) = ingest_json(&db, &[scan.to_str().unwrap()]);
    assert_eq!(code, 0);
    let out_pdf = dir.path().join("out.pdf");
    let out_arg = out_pdf.to_str().unwrap();

    let out = sohoa(&db, &["pdf", "99", "-o", out_arg]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("no document with id 99"),
        "{}",
        stderr(&out)
    );

    // The source replaced after ingest: no "original" is published from other bytes.
    std::fs::write(&scan, b"not the scan any more").unwrap();
    let out = sohoa(&db, &["pdf", "1", "-o", out_arg]);
    assert!(!out.status.success());
    let message = stderr(&out);
    assert!(
        message.contains("scan.png") && message.contains("no longer matches its archived SHA-256"),
        "{message}"
    );
    assert!(!out_pdf.exists(), "nothing written");

    // An unwritable target is an error, not a panic.
    std::fs::copy(repo_path("samples/quyet-dinh-dat-dai.png"), &scan).unwrap();
    let out = sohoa(&db, &["pdf", "1", "-o", "/nonexistent-dir/x.pdf"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("/nonexistent-dir/x.pdf"),
        "{}",
        stderr(&out)
    );
    let out = sohoa(&db, &["pdf", "1", "-o", out_arg]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(out_pdf.exists());
}

#[test]
fn ingest_writes_one_pdf_per_document_and_says_so() {
    let (_, summary) = archive();
    let written = std::fs::read_dir(archive().0.path().join("pdf"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "pdf")
        })
        .count();
    assert_eq!(written as u64, summary["documents_ok"].as_u64().unwrap());
    assert_eq!(written, 8);
}
