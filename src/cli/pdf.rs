//! `sohoa pdf ID -o FILE` and `ingest --pdf-out DIR`: searchable PDFs of stored
//! documents, built from the archived source file (checked against its hash) and the
//! stored OCR words.

use crate::authenticity::verify::verified_source;
use crate::load::{self, Format, Limits, OcrMode, PageContent, TextSource};
use crate::searchable_pdf::{self, PageImage, PdfMeta, PdfPage};
use crate::store::{Store, StoredDocument};
use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where Tesseract keeps `pdf.ttf`, its glyph-less font (package tesseract-ocr).
fn font() -> anyhow::Result<Vec<u8>> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("TESSDATA_PREFIX")
        .map(PathBuf::from)
        .into_iter()
        .collect();
    dirs.extend(
        [
            "/usr/share/tesseract-ocr/5/tessdata",
            "/usr/share/tesseract-ocr/4.00/tessdata",
            "/usr/share/tessdata",
            "/usr/local/share/tessdata",
        ]
        .map(PathBuf::from),
    );
    for dir in &dirs {
        if let Ok(bytes) = std::fs::read(dir.join("pdf.ttf")) {
            return Ok(bytes);
        }
    }
    bail!(
        "Tesseract's pdf.ttf (its glyph-less font for text layers) was not found in any of {dirs:?}; is tesseract-ocr installed?"
    )
}

/// Writes document `id` as a searchable PDF to `out`.
pub fn write_document(store: &dyn Store, id: i64, out: &Path) -> anyhow::Result<()> {
    let font = font()?;
    let Some(doc) = store.document(id)? else {
        bail!("no document with id {id}");
    };
    write_with_font(store, &doc, out, &font)
}

fn write_with_font(
    store: &dyn Store,
    doc: &StoredDocument,
    out: &Path,
    font: &[u8],
) -> anyhow::Result<()> {
    let bytes =
        build(store, doc, font).with_context(|| format!("document {} ({})", doc.id, doc.path))?;
    // Written beside the target and renamed: a reader never sees half a PDF.
    let partial = out.with_extension("pdf.partial");
    std::fs::write(&partial, bytes)
        .with_context(|| format!("cannot write {}", partial.display()))?;
    std::fs::rename(&partial, out).with_context(|| format!("cannot write {}", out.display()))?;
    Ok(())
}

/// Searchable PDFs of `ids` into `dir` (named `<id>-<file stem>.pdf`); a document that
/// cannot be written is reported and the others go on. Returns how many failed.
pub fn write_documents(store: &dyn Store, ids: &[i64], dir: &Path) -> anyhow::Result<usize> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let font = font()?;
    let mut failed = 0;
    for &id in ids {
        let Some(doc) = store.document(id)? else {
            continue;
        };
        let stem = Path::new(&doc.path)
            .file_stem()
            .map_or(String::new(), |s| s.to_string_lossy().into_owned());
        let out = dir.join(format!("{id}-{stem}.pdf"));
        if let Err(e) = write_with_font(store, &doc, &out, &font) {
            eprintln!("sohoa: no PDF for {e:#}");
            failed += 1;
        }
    }
    Ok(failed)
}

fn build(store: &dyn Store, doc: &StoredDocument, font: &[u8]) -> anyhow::Result<Vec<u8>> {
    let source = verified_source(doc).with_context(|| {
        "its source file is missing or no longer matches its archived SHA-256".to_string()
    })?;
    // Born-digital: the original is already searchable, and better than any copy.
    if doc.pages.iter().all(|p| p.source == TextSource::TextLayer) {
        return Ok(source);
    }
    if let Some(page) = doc.pages.iter().find(|p| p.source == TextSource::TextLayer) {
        bail!(
            "page {} is born-digital text among scanned pages: such mixed documents are not written as PDF yet",
            page.number
        );
    }
    let words = store.page_words(doc.id)?;
    let format = load::detect(&source);
    let source = Arc::new(source);
    let (_, mut pages) = load::open(Arc::clone(&source), &Limits::default())?;
    let mut out = Vec::new();
    for (index, page) in doc.pages.iter().enumerate() {
        let own_pixels = match format {
            // A JPEG's own bytes, or its colours when it has any: never re-compressed.
            Some(Format::Jpeg) => jpeg_image(&source),
            Some(Format::Png | Format::Gif | Format::Bmp | Format::Webp | Format::Pnm) => {
                color_image(&source)
            }
            // TIFF and PDF pages: the pixels OCR read, losslessly.
            _ => None,
        };
        let image = match own_pixels {
            Some(image) => image,
            None => {
                let loaded = pages
                    .load_page(index, OcrMode::Force)
                    .with_context(|| format!("page {}", page.number))?;
                let PageContent::Ocr(gray) = loaded.content else {
                    bail!("page {} has no image", page.number);
                };
                PageImage::Gray(gray)
            }
        };
        let dpi = page
            .preparation
            .as_ref()
            .map(|p| p.dpi)
            .or(page.dpi)
            .unwrap_or(crate::prepare::TARGET_DPI);
        let page_words = words.get(index).map(Vec::as_slice).unwrap_or(&[]);
        out.push(PdfPage::new(
            image,
            dpi,
            page_words,
            page.preparation.as_ref(),
        ));
    }
    let id_hash = crate::authenticity::sha256(
        format!("{}:{}", doc.id, doc.sha256.as_deref().unwrap_or("")).as_bytes(),
    );
    let title = doc
        .fields
        .as_ref()
        .and_then(|f| f.number.clone())
        .unwrap_or_else(|| {
            Path::new(&doc.path)
                .file_name()
                .map_or(String::new(), |n| n.to_string_lossy().into_owned())
        });
    let meta = PdfMeta {
        title,
        created: doc.ingested_at.clone(),
        id: id_hash[..16].try_into().expect("16 of 32 bytes"),
    };
    Ok(searchable_pdf::write(&out, &meta, font)?)
}

/// A JPEG file as it is, when it is gray or RGB (CMYK JPEGs are decoded instead).
fn jpeg_image(bytes: &[u8]) -> Option<PageImage> {
    use image::ImageDecoder;
    let decoder = image::codecs::jpeg::JpegDecoder::new(std::io::Cursor::new(bytes)).ok()?;
    let (width, height) = decoder.dimensions();
    let components = match decoder.color_type() {
        image::ColorType::L8 => 1,
        image::ColorType::Rgb8 => 3,
        _ => return color_image(bytes),
    };
    Some(PageImage::Jpeg {
        data: bytes.to_vec(),
        width,
        height,
        components,
    })
}

/// A single-image file's colours, when it has colour (gray files use the gray pixels).
fn color_image(bytes: &[u8]) -> Option<PageImage> {
    let decoded = image::load_from_memory(bytes).ok()?;
    if !decoded.color().has_color() {
        return None;
    }
    Some(PageImage::Rgb(decoded.to_rgb8()))
}
