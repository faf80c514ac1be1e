//! A damaged file never passes as digitized: each class of damage is stored failed,
//! partial or empty with the reason, and repairs are recorded as warnings. The loader is
//! checked directly for every cut point (fast, no OCR); one ingest checks what the
//! archive, the run summary, `show` and `failures` say.

use crate::support::{
    append_page, ingest_json, one_page_pdf, pdf_with_image, repo_path, sohoa, sql, stdout, text_pdf,
};
use lopdf::{Dictionary, Document, Stream, dictionary};
use sohoa::load::{self, Limits, OcrMode, Warning, WarningKind};
use std::path::Path;
use std::sync::Arc;

/// What loading a file says, without OCR.
#[derive(Debug)]
enum Loaded {
    /// The file could not be opened: the reason.
    Unopened(String),
    Opened {
        /// The file's own repairs and losses.
        warnings: Vec<Warning>,
        /// Per page: its warnings, or why it failed.
        pages: Vec<Result<Vec<Warning>, String>>,
    },
}

impl Loaded {
    fn of(bytes: &[u8]) -> Loaded {
        let (_, mut source) = match load::open(Arc::new(bytes.to_vec()), &Limits::default()) {
            Ok(opened) => opened,
            Err(e) => return Loaded::Unopened(e.to_string()),
        };
        let pages = (0..source.page_count())
            .map(|i| {
                source
                    .load_page(i, OcrMode::Force)
                    .map(|p| p.warnings)
                    .map_err(|e| e.to_string())
            })
            .collect();
        Loaded::Opened {
            warnings: source.warnings(),
            pages,
        }
    }

    /// Everything it says, one line per finding, for assertions and messages.
    fn findings(&self) -> Vec<String> {
        match self {
            Loaded::Unopened(e) => vec![format!("unopened: {e}")],
            Loaded::Opened { warnings, pages } => warnings
                .iter()
                .map(|w| w.to_string())
                .chain(pages.iter().enumerate().flat_map(|(i, p)| match p {
                    Ok(ws) => ws.iter().map(|w| w.to_string()).collect(),
                    Err(e) => vec![format!("page {} failed: {e}", i + 1)],
                }))
                .collect(),
        }
    }

    /// Read as if nothing were wrong: opened, no loss, no failed page.
    fn looks_whole(&self) -> bool {
        match self {
            Loaded::Unopened(_) => false,
            Loaded::Opened { warnings, pages } => {
                warnings.iter().all(|w| w.kind == WarningKind::Repair)
                    && pages.iter().all(|p| {
                        p.as_ref()
                            .is_ok_and(|ws| ws.iter().all(|w| w.kind == WarningKind::Repair))
                    })
            }
        }
    }
}

/// Checks that `bytes` loads with a finding containing each of `expect` (none: whole).
fn check(name: &str, bytes: &[u8], expect: &[&str]) {
    let loaded = Loaded::of(bytes);
    let findings = loaded.findings();
    if expect.is_empty() {
        assert!(loaded.looks_whole(), "{name}: {findings:#?}");
        return;
    }
    assert!(
        !loaded.looks_whole(),
        "{name} passed as whole: {findings:#?}"
    );
    for e in expect {
        assert!(
            findings.iter().any(|f| f.contains(e)),
            "{name}: no finding with {e:?} in {findings:#?}"
        );
    }
}

fn sample(name: &str) -> Vec<u8> {
    std::fs::read(repo_path("samples").join(name)).unwrap()
}

#[test]
fn a_pdf_cut_anywhere_never_loads_as_whole() {
    for name in [
        "bao-cao-xay-dung.pdf",
        "to-trinh-dau-tu.pdf",
        "thong-bao-ho-tich.pdf",
    ] {
        let whole = sample(name);
        check(name, &whole, &[]);
        for percent in [5, 20, 40, 60, 80, 95, 99] {
            let cut = &whole[..whole.len() * percent / 100];
            check(&format!("{name} cut at {percent}%"), cut, &["cut short"]);
        }
        // Only the end marker missing: the content is all there, the file is still cut.
        let end = whole.windows(5).rposition(|w| w == b"%%EOF").unwrap();
        check(
            &format!("{name} without %%EOF"),
            &whole[..end],
            &["end marker"],
        );
    }
}

/// The page JPEGs of a scanned sample PDF, with their sizes.
fn sample_jpegs(name: &str) -> Vec<(Vec<u8>, u32, u32)> {
    let doc = Document::load_mem(&sample(name)).unwrap();
    let mut out = Vec::new();
    for page in doc.get_pages().values() {
        let (resources, _) = doc.get_page_resources(*page).unwrap();
        let xobjects = resources.unwrap().get(b"XObject").unwrap();
        let xobjects = doc.dereference(xobjects).unwrap().1.as_dict().unwrap();
        for (_, reference) in xobjects.iter() {
            let stream = doc.get_object(reference.as_reference().unwrap()).unwrap();
            let stream = stream.as_stream().unwrap();
            let size = |k: &[u8]| stream.dict.get(k).unwrap().as_i64().unwrap() as u32;
            out.push((stream.content.clone(), size(b"Width"), size(b"Height")));
        }
    }
    out
}

/// A scanned PDF as many scanners write it: catalog, page tree and page objects first,
/// then each page's content and JPEG. Cutting it keeps the pages and loses images.
fn scanned_pdf_tree_first(jpegs: &[(Vec<u8>, u32, u32)]) -> Vec<u8> {
    let pages = jpegs.len();
    let mut doc = Document::with_version("1.4");
    let catalog = doc.new_object_id();
    let tree = doc.new_object_id();
    let page_ids: Vec<_> = (0..pages).map(|_| doc.new_object_id()).collect();
    for (&page_id, (jpeg, width, height)) in page_ids.iter().zip(jpegs) {
        let mut image = gray_image(*width as i64, *height as i64);
        image.set("Type", "XObject");
        image.set("Subtype", "Image");
        image.set("Filter", "DCTDecode");
        let image = doc.add_object(Stream::new(image, jpeg.clone()).with_compression(false));
        // Painted at 300 dpi.
        let (w, h) = (*width as f32 * 0.24, *height as f32 * 0.24);
        let content = doc.add_object(Stream::new(
            Dictionary::new(),
            format!("q {w} 0 0 {h} 0 0 cm /Im0 Do Q").into_bytes(),
        ));
        doc.objects.insert(
            page_id,
            lopdf::Object::Dictionary(dictionary! {
                "Type" => "Page",
                "Parent" => tree,
                "MediaBox" => vec![0.into(), 0.into(), (*width as f32 * 0.24).into(), (*height as f32 * 0.24).into()],
                "Contents" => content,
                "Resources" => dictionary! { "XObject" => dictionary! { "Im0" => image } },
            }),
        );
    }
    let kids: Vec<lopdf::Object> = page_ids.iter().map(|&id| id.into()).collect();
    doc.objects.insert(
        tree,
        lopdf::Object::Dictionary(
            dictionary! { "Type" => "Pages", "Kids" => kids, "Count" => pages as i64 },
        ),
    );
    doc.objects.insert(
        catalog,
        lopdf::Object::Dictionary(dictionary! { "Type" => "Catalog", "Pages" => tree }),
    );
    doc.trailer.set("Root", catalog);
    let mut out = Vec::new();
    doc.save_to(&mut out).unwrap();
    out
}

#[test]
fn a_scanned_pdf_cut_in_its_images_names_the_pages_lost() {
    let pattern: Vec<_> = (0..5)
        .map(|i| (jpeg_bytes(240, 180 + i), 240, 180 + i))
        .collect();
    let whole = scanned_pdf_tree_first(&pattern);
    check("whole tree-first scan", &whole, &[]);
    for percent in [20, 40, 60, 80] {
        let cut = &whole[..whole.len() * percent / 100];
        let name = format!("tree-first scan cut at {percent}%");
        // The last page is always past the cut: it is named, failed or lost.
        check(&name, cut, &["cut short", "page 5"]);
        let Loaded::Opened { pages, .. } = Loaded::of(cut) else {
            panic!("{name}: the page tree is at the start, the file opens");
        };
        assert_eq!(pages.len(), 5, "{name}: every page is still listed");
    }
}

/// An uncompressed 8-bit gray image XObject of `width` x `height`.
fn gray_image(width: i64, height: i64) -> Dictionary {
    dictionary! { "Width" => width, "Height" => height, "ColorSpace" => "DeviceGray", "BitsPerComponent" => 8 }
}

/// A JPEG of a test pattern, as scanners write into DCTDecode streams.
fn jpeg_bytes(width: u32, height: u32) -> Vec<u8> {
    let image = crate::support::pattern(width, height);
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    out.into_inner()
}

#[test]
fn cut_image_streams_are_losses_of_their_page() {
    // Raw samples: a third of the rows there.
    check(
        "raw image cut",
        &pdf_with_image(gray_image(100, 90), vec![128; 100 * 30], false),
        &["page 1: lost: the image data ends after row 30 of 90 (33%"],
    );
    // A JPEG cut mid-scan inside the PDF.
    let jpeg = jpeg_bytes(200, 160);
    let mut dict = gray_image(200, 160);
    dict.set("Filter", "DCTDecode");
    check(
        "DCT image cut",
        &pdf_with_image(dict, jpeg[..jpeg.len() / 2].to_vec(), false),
        &["page 1: lost: the JPEG image is cut off"],
    );
    // An image inside a Form XObject, cut: the same.
    check(
        "image in a form cut",
        &pdf_with_image(gray_image(100, 90), vec![128; 100 * 45], true),
        &["row 45 of 90"],
    );
    // Less than one row: nothing to show, the page fails.
    check(
        "image with no row",
        &pdf_with_image(gray_image(100, 90), vec![128; 50], false),
        &["page 1 failed: bad image: image data too short"],
    );
}

/// A one-page PDF whose page refers to objects that are not in the file.
fn pdf_with_missing(what: &str) -> Vec<u8> {
    let mut doc = Document::with_version("1.5");
    let missing = (900, 0);
    let page = match what {
        "content" => dictionary! {
            "MediaBox" => vec![0.into(), 0.into(), 200.into(), 100.into()],
            "Contents" => missing,
        },
        _ => {
            let content = doc.add_object(Stream::new(
                Dictionary::new(),
                b"q 200 0 0 100 0 0 cm /Im0 Do Q".to_vec(),
            ));
            dictionary! {
                "MediaBox" => vec![0.into(), 0.into(), 200.into(), 100.into()],
                "Contents" => content,
                "Resources" => dictionary! { "XObject" => dictionary! { "Im0" => missing } },
            }
        }
    };
    one_page_pdf(doc, page)
}

/// A PDF whose page tree holds no page.
fn pdf_with_empty_page_tree() -> Vec<u8> {
    let mut doc = Document::with_version("1.5");
    let pages = doc.add_object(
        dictionary! { "Type" => "Pages", "Kids" => Vec::<lopdf::Object>::new(), "Count" => 0 },
    );
    let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages });
    doc.trailer.set("Root", catalog);
    let mut out = Vec::new();
    doc.save_to(&mut out).unwrap();
    out
}

/// A page with no content stream at all (a blank page as some producers write it).
fn pdf_with_no_content() -> Vec<u8> {
    one_page_pdf(
        Document::with_version("1.5"),
        dictionary! { "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()] },
    )
}

/// A valid text PDF whose `startxref` points at the wrong place.
fn pdf_with_wrong_xref(text: &str) -> Vec<u8> {
    let mut pdf = text_pdf(text);
    let at = pdf.windows(9).rposition(|w| w == b"startxref").unwrap() + 10;
    let end = at + pdf[at..].iter().position(|b| !b.is_ascii_digit()).unwrap();
    let bogus = format!("{:0width$}", 17, width = end - at);
    pdf.splice(at..end, bogus.bytes());
    pdf
}

/// A page tree that declares two pages but holds one (the other's object is gone).
fn pdf_with_a_page_gone() -> Vec<u8> {
    let pdf = append_page(&text_pdf("Trang mot co chu day du"), |_| {
        dictionary! { "MediaBox" => vec![0.into(), 0.into(), 400.into(), 100.into()] }
    });
    let mut doc = Document::load_mem(&pdf).unwrap();
    let last = *doc.get_pages().values().last().unwrap();
    doc.objects.remove(&last);
    let mut out = Vec::new();
    doc.save_to(&mut out).unwrap();
    out
}

#[test]
fn broken_structure_is_repaired_or_named() {
    check(
        "missing content stream",
        &pdf_with_missing("content"),
        &["page 1 failed: unreadable PDF: page content lost: content stream 900 0 is missing"],
    );
    check(
        "missing image",
        &pdf_with_missing("image"),
        &["page 1 failed", "/Im0 (900 0) is missing"],
    );
    check(
        "empty page tree",
        &pdf_with_empty_page_tree(),
        &["unopened: unreadable PDF: the document has no pages"],
    );
    check(
        "a page gone",
        &pdf_with_a_page_gone(),
        &["page 2 failed: unreadable PDF: page object 7 0 is missing"],
    );
    // A page without content is blank, not damaged: the status (empty) says it.
    check("no content", &pdf_with_no_content(), &[]);
    // Wrong xref offsets: rebuilt, read whole, and the repair recorded.
    let repaired = Loaded::of(&pdf_with_wrong_xref("Bien ban ban giao ho so"));
    assert!(repaired.looks_whole(), "{repaired:?}");
    assert!(
        repaired
            .findings()
            .iter()
            .any(|f| f
                == "repaired: the cross-reference table was broken; rebuilt by scanning the file"),
        "{repaired:?}"
    );
}

/// The sample TIFF with one strip of its first page pointing past the end of the file.
fn tiff_with_missing_strip() -> Vec<u8> {
    let mut tiff = sample("don-dang-ky-dat.tif");
    assert_eq!(&tiff[..4], b"II*\0", "little-endian TIFF");
    let u16_at = |b: &[u8], at: usize| u16::from_le_bytes([b[at], b[at + 1]]) as usize;
    let u32_at = |b: &[u8], at: usize| u32::from_le_bytes(b[at..at + 4].try_into().unwrap());
    let ifd = u32_at(&tiff, 4) as usize;
    let entries = u16_at(&tiff, ifd);
    let strip_offsets = (0..entries)
        .map(|i| ifd + 2 + 12 * i)
        .find(|&e| u16_at(&tiff, e) == 273)
        .expect("StripOffsets");
    let count = u32_at(&tiff, strip_offsets + 4);
    assert!(count > 2, "several strips");
    let table = u32_at(&tiff, strip_offsets + 8) as usize;
    let third = table + 4 * 2;
    tiff[third..third + 4].copy_from_slice(&0x7fff_0000u32.to_le_bytes());
    tiff
}

#[test]
fn cut_and_broken_rasters_are_named() {
    let jpeg = sample("cong-van-bao-hiem.jpg");
    check("whole JPEG", &jpeg, &[]);
    // Bytes after the end marker (scanner trailers, a bench's appended line) are no loss.
    let mut trailer = jpeg.clone();
    trailer.extend_from_slice(b"\n% appended after the image\n");
    check("JPEG with a trailer", &trailer, &[]);
    for percent in [30, 60, 90] {
        check(
            &format!("JPEG cut at {percent}%"),
            &jpeg[..jpeg.len() * percent / 100],
            &["page 1"],
        );
    }
    let loaded = Loaded::of(&tiff_with_missing_strip());
    let findings = loaded.findings();
    assert!(
        findings.iter().any(|f| f.starts_with("page 1 failed")),
        "{findings:#?}"
    );
    let Loaded::Opened { pages, .. } = loaded else {
        panic!("opens: {findings:?}")
    };
    assert!(pages[1].is_ok(), "the second page is intact: {findings:#?}");
}

fn status_of(db: &Path, name: &str) -> (String, Option<String>, String) {
    sql(db)
        .query_row(
            "SELECT status, error, warnings FROM documents WHERE path LIKE '%/' || ?1",
            [name],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn damaged_files_are_stored_with_an_honest_status() {
    let dir = tempfile::tempdir().unwrap();
    let scans = dir.path().join("scans");
    std::fs::create_dir(&scans).unwrap();
    let w = |name: &str, bytes: &[u8]| std::fs::write(scans.join(name), bytes).unwrap();
    w(
        "good.pdf",
        &text_pdf("Quyet dinh ve viec cap giay chung nhan quyen su dung dat"),
    );
    let report = sample("thong-bao-ho-tich.pdf");
    w("cut-text.pdf", &report[..report.len() * 95 / 100]);
    // The sample report's two scanned pages, page tree first, cut in the second image.
    let scan = scanned_pdf_tree_first(&sample_jpegs("bao-cao-xay-dung.pdf"));
    w("cut-scan.pdf", &scan[..scan.len() * 80 / 100]);
    w(
        "wrong-xref.pdf",
        &pdf_with_wrong_xref("Bien ban ban giao ho so luu tru"),
    );
    w("no-content.pdf", &pdf_with_no_content());
    w("missing-content.pdf", &pdf_with_missing("content"));
    w("page-gone.pdf", &pdf_with_a_page_gone());
    w("strip-gone.tif", &tiff_with_missing_strip());
    let jpeg = sample("cong-van-bao-hiem.jpg");
    w("cut.jpg", &jpeg[..jpeg.len() * 70 / 100]);
    let db = dir.path().join("a.db");
    let (code, summary) = ingest_json(&db, &[scans.to_str().unwrap()]);
    assert_eq!(code, 1, "damage fails the run: {summary:#}");
    for (name, status, says) in [
        ("good.pdf", "ok", ""),
        ("wrong-xref.pdf", "ok", ""),
        ("cut-text.pdf", "failed", "cut short"),
        ("cut-scan.pdf", "partial", "1 of 2 pages failed; page 2"),
        ("no-content.pdf", "empty", "no page holds readable text"),
        (
            "missing-content.pdf",
            "failed",
            "content stream 900 0 is missing",
        ),
        (
            "page-gone.pdf",
            "partial",
            "1 of 2 pages failed; page 2: unreadable PDF: page object",
        ),
        ("strip-gone.tif", "partial", "1 of 2 pages failed; page 1"),
        ("cut.jpg", "partial", "JPEG file is cut off"),
    ] {
        let (stored, error, _) = status_of(&db, name);
        assert_eq!(stored, status, "{name}: {error:?}");
        assert!(
            error.as_deref().unwrap_or("").contains(says),
            "{name}: {error:?}"
        );
    }
    let (_, _, warnings) = status_of(&db, "wrong-xref.pdf");
    assert!(warnings.contains("\"kind\":\"repair\""), "{warnings}");
    let n = |key: &str| summary[key].as_u64().unwrap();
    assert_eq!(
        (
            n("documents_ok"),
            n("documents_repaired"),
            n("documents_partial"),
            n("documents_failed"),
            n("documents_empty")
        ),
        (2, 1, 4, 2, 1),
        "{summary:#}"
    );
    // Failures name each problem; --warnings adds the repair.
    let failures = stdout(&sohoa(&db, &["failures"]));
    for name in [
        "cut-text.pdf: failed",
        "cut-scan.pdf page 2: page",
        "no-content.pdf: empty",
        "missing-content.pdf: failed",
        "strip-gone.tif page 1: page",
        "cut.jpg page 1: loss",
    ] {
        assert!(failures.contains(name), "{name} in:\n{failures}");
    }
    assert!(!failures.contains("wrong-xref.pdf"), "{failures}");
    let with_warnings = stdout(&sohoa(&db, &["failures", "--warnings"]));
    assert!(
        with_warnings.contains("wrong-xref.pdf: repair: the cross-reference table was broken"),
        "{with_warnings}"
    );
    // `show` says it too.
    let id: i64 = sql(&db)
        .query_row(
            "SELECT id FROM documents WHERE path LIKE '%wrong-xref.pdf'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let shown = stdout(&sohoa(&db, &["show", &id.to_string()]));
    assert!(
        shown.contains("warning:   repaired: the cross-reference table"),
        "{shown}"
    );
    // An empty document is not a digitized one: not in search, counted apart in `runs`.
    let found = stdout(&sohoa(&db, &["search", "--json", "quyet dinh"]));
    assert!(
        found.contains("good.pdf") && !found.contains("no-content.pdf"),
        "{found}"
    );
    let runs: serde_json::Value =
        serde_json::from_str(&stdout(&sohoa(&db, &["runs", "--json"]))).unwrap();
    assert_eq!(runs[0]["documents_empty"], 1, "{runs:#}");
    assert_eq!(runs[0]["documents_failed"], 6, "{runs:#}");
}
