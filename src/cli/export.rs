//! `sohoa export`: every document as JSON lines, or each page as ALTO or hOCR.

use super::open_existing;
use crate::export::ExportedDocument;
use crate::store::Archive;
use anyhow::Context;
use clap::ValueEnum;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `sohoa export`'s flags.
#[derive(clap::Args, Debug)]
pub struct ExportArgs {
    #[arg(long, value_enum, default_value_t = ExportFormat::Jsonl)]
    pub format: ExportFormat,
    /// Where the ALTO or hOCR files go (created if missing): DOCID-PAGE.alto.xml or
    /// DOCID-PAGE.hocr.html
    #[arg(long, value_name = "DIR", required_if_eq_any = [("format", "alto"), ("format", "hocr")])]
    pub dir: Option<PathBuf>,
    /// Only this document's pages (ALTO and hOCR)
    #[arg(long, value_name = "ID")]
    pub document: Option<i64>,
    /// JSON lines: also each OCR'd page's words, in reading order, with their boxes
    /// (in the pixels of the image OCR read), confidences, block, line and table cell
    #[arg(long)]
    pub words: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ExportFormat {
    /// One JSON line per document (every version), to stdout.
    Jsonl,
    /// ALTO XML 4.2, one file per page.
    Alto,
    /// hOCR 1.2 (XHTML), one file per page.
    Hocr,
}

pub(super) fn run(db: &Path, args: ExportArgs) -> anyhow::Result<ExitCode> {
    let store = open_existing(db)?;
    match args.format {
        format @ (ExportFormat::Alto | ExportFormat::Hocr) => {
            let dir = args.dir.expect("clap requires --dir for alto and hocr");
            let written = write_layout_files(&*store, format, &dir, args.document)?;
            println!("sohoa: wrote {written} page files to {}", dir.display());
        }
        ExportFormat::Jsonl => {
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            store.each_document(&mut |doc| {
                let layout = if args.words {
                    let words = store.page_words(doc.id).map_err(std::io::Error::other)?;
                    Some(crate::ocr_xml::page_words(&doc, words))
                } else {
                    None
                };
                let mut exported = ExportedDocument::new(doc);
                exported.layout = layout;
                serde_json::to_writer(&mut out, &exported).map_err(std::io::Error::from)?;
                writeln!(out)?;
                Ok(())
            })?;
            out.flush()?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes ALTO or hOCR files, one per page, for one document or every current one.
fn write_layout_files(
    store: &dyn Archive,
    format: ExportFormat,
    dir: &Path,
    document: Option<i64>,
) -> anyhow::Result<usize> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut written = 0;
    let mut write_document = |doc: &crate::store::StoredDocument| -> anyhow::Result<()> {
        let words = store.page_words(doc.id)?;
        for page in crate::ocr_xml::document_pages(doc, &words) {
            let (text, ext) = match format {
                ExportFormat::Alto => (crate::ocr_xml::alto(&page), "alto.xml"),
                _ => (crate::ocr_xml::hocr(&page), "hocr.html"),
            };
            let path = dir.join(format!("{}-{:04}.{ext}", doc.id, page.page));
            std::fs::write(&path, text)
                .with_context(|| format!("cannot write {}", path.display()))?;
            written += 1;
        }
        Ok(())
    };
    match document {
        Some(id) => {
            let doc = store
                .document(id)?
                .ok_or_else(|| anyhow::anyhow!("no document {id}"))?;
            write_document(&doc)?;
        }
        None => {
            let mut failed = None;
            store.each_document(&mut |doc| {
                if doc.current
                    && failed.is_none()
                    && let Err(e) = write_document(&doc)
                {
                    failed = Some(e);
                }
                Ok(())
            })?;
            if let Some(e) = failed {
                return Err(e);
            }
        }
    }
    Ok(written)
}
