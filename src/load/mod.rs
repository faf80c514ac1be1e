//! Loading: from a file's bytes to pages that are either an image to OCR or text.
//!
//! The format comes from the bytes (magic numbers), never from the file name: archives
//! are full of `.pdf` files that are JPEGs and `.tif` files that are PDFs.

mod pdf;
mod pdf_image;
mod raster;

use image::GrayImage;
use serde::Serialize;
use thiserror::Error;

pub use pdf::PdfSource;
pub use pdf_image::jpeg_is_cut;
pub use raster::{ImageSource, TiffSource};

/// Limits on what one file may make us allocate. Scans are big, but hostile or broken
/// headers claim far more than any scanner writes.
#[derive(Debug, Clone)]
pub struct Limits {
    /// A4 at 600 dpi is 35 Mpx; 1200 dpi A3 is 280 Mpx. Above that is not a scan.
    pub max_pixels: u64,
    /// Bytes a single compressed stream may inflate to.
    pub max_decoded_bytes: u64,
    /// Files larger than this are refused before reading.
    pub max_file_bytes: u64,
    /// Pages per document.
    pub max_pages: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_pixels: 300_000_000,
            max_decoded_bytes: 1 << 30,
            max_file_bytes: 2 << 30,
            max_pages: 10_000,
        }
    }
}

impl Limits {
    pub fn check_pixels(&self, width: u32, height: u32) -> Result<(), LoadError> {
        let pixels = width as u64 * height as u64;
        if pixels > self.max_pixels {
            return Err(LoadError::TooLarge(format!(
                "image of {width}x{height} pixels exceeds the limit of {} pixels",
                self.max_pixels
            )));
        }
        Ok(())
    }

    pub fn image_limits(&self) -> image::Limits {
        let mut limits = image::Limits::default();
        let side = u32::try_from(self.max_pixels.min(u32::MAX as u64)).unwrap_or(u32::MAX);
        limits.max_image_width = Some(side);
        limits.max_image_height = Some(side);
        // Decoders may need a few buffers of the image's size.
        limits.max_alloc = Some(self.max_pixels.saturating_mul(4));
        limits
    }
}

#[derive(Debug, Error)]
pub enum LoadError {
    #[error("empty file (0 bytes)")]
    EmptyFile,
    #[error("not a supported scan format (starts with {0})")]
    UnknownFormat(String),
    #[error("unreadable PDF: {0}")]
    BadPdf(String),
    #[error("encrypted PDF: {0}")]
    Encrypted(String),
    #[error("bad image: {0}")]
    BadImage(String),
    #[error("too large: {0}")]
    TooLarge(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Pdf,
    Png,
    Jpeg,
    Tiff,
    Gif,
    Bmp,
    Webp,
    Pnm,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Pdf => "pdf",
            Format::Png => "png",
            Format::Jpeg => "jpeg",
            Format::Tiff => "tiff",
            Format::Gif => "gif",
            Format::Bmp => "bmp",
            Format::Webp => "webp",
            Format::Pnm => "pnm",
        }
    }
}

/// Detects the format from the first bytes of a file.
pub fn detect(bytes: &[u8]) -> Option<Format> {
    let starts = |magic: &[u8]| bytes.starts_with(magic);
    // Some producers put junk before the PDF header; readers accept it within 1 KiB.
    if bytes[..bytes.len().min(1024)]
        .windows(5)
        .any(|w| w == b"%PDF-")
    {
        return Some(Format::Pdf);
    }
    if starts(b"\x89PNG\r\n\x1a\n") {
        Some(Format::Png)
    } else if starts(&[0xFF, 0xD8, 0xFF]) {
        Some(Format::Jpeg)
    } else if starts(b"II*\0") || starts(b"MM\0*") || starts(b"II+\0") || starts(b"MM\0+") {
        Some(Format::Tiff)
    } else if starts(b"GIF87a") || starts(b"GIF89a") {
        Some(Format::Gif)
    } else if starts(b"BM") && bytes.len() > 14 {
        Some(Format::Bmp)
    } else if bytes.len() > 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some(Format::Webp)
    } else if bytes.len() > 2
        && bytes[0] == b'P'
        && matches!(bytes[1], b'1'..=b'6')
        && bytes[2].is_ascii_whitespace()
    {
        Some(Format::Pnm)
    } else {
        None
    }
}

/// What OCR does with a page that has its own text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OcrMode {
    /// Use a page's visible text layer; OCR pages that have only an image.
    #[default]
    Auto,
    /// OCR every page that has an image, whatever text it carries.
    Force,
    /// Never OCR: keep text layers, store image-only pages as empty.
    Skip,
}

/// Where a page's stored text came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TextSource {
    Ocr,
    TextLayer,
    None,
}

impl TextSource {
    pub fn as_str(self) -> &'static str {
        match self {
            TextSource::Ocr => "ocr",
            TextSource::TextLayer => "text_layer",
            TextSource::None => "none",
        }
    }

    pub fn parse(s: &str) -> TextSource {
        match s {
            "ocr" => TextSource::Ocr,
            "text_layer" => TextSource::TextLayer,
            _ => TextSource::None,
        }
    }
}

/// What a page holds after loading, decided by the OCR mode.
pub enum PageContent {
    /// A raster to recognize.
    Ocr(GrayImage),
    /// Text taken from the page's text layer.
    Text(String),
    /// Nothing to read: no image (or OCR skipped) and no text. `reason` says which.
    Empty { reason: String },
}

pub struct LoadedPage {
    /// 1-based.
    pub number: u32,
    pub content: PageContent,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub dpi: Option<f32>,
    /// What was repaired or lost while reading this page.
    pub warnings: Vec<Warning>,
}

/// Something a reader of the archive must know about how a file was read: a repair
/// (read in full after fixing its structure) or a loss (part of it could not be read;
/// what could is stored). Losses make the document partial, never ok.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Warning {
    /// The page concerned (1-based), or none for the whole file.
    pub page: Option<u32>,
    pub kind: WarningKind,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WarningKind {
    /// The file's structure was broken and rebuilt; nothing is known to be lost.
    Repair,
    /// Part of the content is missing or unreadable.
    Loss,
}

impl Warning {
    pub fn repair(page: Option<u32>, message: impl Into<String>) -> Warning {
        Warning {
            page,
            kind: WarningKind::Repair,
            message: message.into(),
        }
    }

    pub fn loss(page: Option<u32>, message: impl Into<String>) -> Warning {
        Warning {
            page,
            kind: WarningKind::Loss,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.kind {
            WarningKind::Repair => "repaired",
            WarningKind::Loss => "lost",
        };
        match self.page {
            Some(page) => write!(f, "page {page}: {kind}: {}", self.message),
            None => write!(f, "{kind}: {}", self.message),
        }
    }
}

/// A document's pages, loaded one at a time so a 500-page file never sits decoded in memory.
pub trait PageSource: Send {
    fn page_count(&self) -> usize;
    /// Loads page `index` (0-based). Sources that decode sequentially (TIFF) expect
    /// indices in increasing order.
    fn load_page(&mut self, index: usize, mode: OcrMode) -> Result<LoadedPage, LoadError>;
    /// What was repaired or found missing in the file as a whole, known once it is open.
    fn warnings(&self) -> Vec<Warning> {
        Vec::new()
    }
}

/// Fewer letters than this in a text layer is a stray page number or scanner stamp,
/// not a text layer worth trusting over OCR.
pub const MIN_TEXT_LAYER_CHARS: usize = 20;

/// A page's raster as an image decoder left it, with what it could not decode.
pub(crate) struct Rendered {
    pub image: GrayImage,
    pub dpi: Option<f32>,
    /// Parts of the image that were missing or undecodable (filled in white or gray).
    pub losses: Vec<String>,
}

/// Chooses between a page's text layer and OCR of its image.
///
/// A *visible* text layer is real (born-digital) text and wins in `auto`. An invisible
/// layer (text render mode 3) is an earlier OCR pass, typically the scanner's own; it is
/// re-done in `auto` (as OCRmyPDF's --redo-ocr does), because scanner OCR rarely knows
/// Vietnamese marks. It is still used when the page has no image to OCR.
pub(crate) fn decide(
    number: u32,
    mode: OcrMode,
    text: &str,
    text_visible: bool,
    has_image: bool,
    render: impl FnOnce() -> Result<Rendered, LoadError>,
) -> Result<LoadedPage, LoadError> {
    let letters = text.chars().filter(|c| c.is_alphanumeric()).count();
    let use_text = match mode {
        OcrMode::Auto => {
            (text_visible && letters >= MIN_TEXT_LAYER_CHARS) || (!has_image && letters > 0)
        }
        OcrMode::Force => !has_image && letters > 0,
        OcrMode::Skip => letters > 0,
    };
    let text_page = |content| LoadedPage {
        number,
        content,
        width: None,
        height: None,
        dpi: None,
        warnings: Vec::new(),
    };
    if use_text {
        return Ok(text_page(PageContent::Text(text.to_owned())));
    }
    if !has_image {
        return Ok(text_page(PageContent::Empty {
            reason: "page has neither an image nor text".into(),
        }));
    }
    let Rendered { image, dpi, losses } = render()?;
    let (width, height) = (Some(image.width()), Some(image.height()));
    let content = if mode == OcrMode::Skip {
        PageContent::Empty {
            reason: "image not read: OCR is skipped (--ocr skip)".into(),
        }
    } else {
        PageContent::Ocr(image)
    };
    Ok(LoadedPage {
        number,
        content,
        width,
        height,
        dpi,
        warnings: losses
            .into_iter()
            .map(|loss| Warning::loss(Some(number), loss))
            .collect(),
    })
}

/// Opens a document's pages from its bytes.
pub fn open(
    bytes: std::sync::Arc<Vec<u8>>,
    limits: &Limits,
) -> Result<(Format, Box<dyn PageSource>), LoadError> {
    if bytes.is_empty() {
        return Err(LoadError::EmptyFile);
    }
    let format = detect(&bytes).ok_or_else(|| LoadError::UnknownFormat(describe_start(&bytes)))?;
    let source: Box<dyn PageSource> = match format {
        Format::Pdf => Box::new(PdfSource::open(&bytes, limits)?),
        Format::Tiff => Box::new(TiffSource::open(bytes, limits)?),
        other => Box::new(ImageSource::open(bytes, other, limits)?),
    };
    Ok((format, source))
}

/// The first bytes of an unknown file, printable, for the error message.
fn describe_start(bytes: &[u8]) -> String {
    let head = &bytes[..bytes.len().min(8)];
    if head.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
        format!("{:?}", String::from_utf8_lossy(head))
    } else {
        format!("bytes {}", hex::encode(head))
    }
}
