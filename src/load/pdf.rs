//! Pages of a PDF: the scanned image(s) a page paints, and its text layer if any.
//!
//! We walk each page's content stream with a graphics-state stack, so we know where
//! every image is painted (including images inside Form XObjects) and whether the page's
//! text is visible (born-digital) or invisible (render mode 3: an earlier OCR layer).

use super::pdf_image::decode_image;
use super::{Limits, LoadError, LoadedPage, OcrMode, PageSource, Rendered, Warning, decide};
use image::GrayImage;
use lopdf::content::Content;
use lopdf::{Dictionary, Document, Object, ObjectId};
use std::collections::HashSet;

/// Form XObjects nest; real files go two or three deep, hostile ones forever.
const MAX_FORM_DEPTH: u32 = 8;

pub struct PdfSource {
    doc: Document,
    pages: Vec<ObjectId>,
    limits: Limits,
    /// Repairs and losses of the file as a whole (xref rebuilt, pages missing, cut off).
    warnings: Vec<Warning>,
}

/// How far from the end a PDF's `%%EOF` may sit: writers append a newline or a few
/// bytes of padding, and scanners sometimes a block of zeros.
const EOF_MARKER_WINDOW: usize = 1024;

const CUT_SHORT: &str = "the file ends without its end marker (%%EOF): it was cut short";

impl PdfSource {
    pub fn open(bytes: &[u8], limits: &Limits) -> Result<PdfSource, LoadError> {
        // lopdf opens files encrypted with an empty user password on its own (common in
        // scanner output); a real password leaves the document encrypted.
        let tail = &bytes[bytes.len().saturating_sub(EOF_MARKER_WINDOW)..];
        let cut_short = !tail.windows(5).any(|w| w == b"%%EOF");
        let unreadable = |e: lopdf::Error| {
            let mut reason = e.to_string();
            if cut_short {
                reason.push_str(&format!("; {CUT_SHORT}"));
            }
            LoadError::BadPdf(reason)
        };
        let doc = match Document::load_mem(bytes) {
            Ok(doc) if !doc.get_pages().is_empty() => doc,
            Err(lopdf::Error::Decryption(e)) => {
                return Err(LoadError::Encrypted(format!("needs a password ({e})")));
            }
            // A cross-reference table that points at the wrong objects (no pages found):
            // rebuild it by scanning the file, as PDF readers do. lopdf rebuilds on its own
            // when the table cannot be read at all.
            first => {
                let options = lopdf::LoadOptions {
                    force_reconstruct: true,
                    ..Default::default()
                };
                match Document::load_mem_with_options(bytes, options) {
                    Ok(doc) => doc,
                    Err(_) => match first {
                        Ok(doc) => doc,
                        Err(e) => return Err(unreadable(e)),
                    },
                }
            }
        };
        let mut warnings = Vec::new();
        match doc.xref_recovery {
            Some(lopdf::xref::XrefRecovery::OffsetCorrected) => warnings.push(Warning::repair(
                None,
                "a cross-reference offset was wrong; the table was found nearby",
            )),
            Some(_) => warnings.push(Warning::repair(
                None,
                "the cross-reference table was broken; rebuilt by scanning the file",
            )),
            None => {}
        }
        if cut_short {
            warnings.push(Warning::loss(None, CUT_SHORT));
        }
        if doc.is_encrypted() {
            return Err(LoadError::Encrypted("protected by a user password".into()));
        }
        let pages: Vec<ObjectId> = doc.get_pages().into_values().collect();
        if pages.is_empty() {
            return Err(LoadError::BadPdf("the document has no pages".into()));
        }
        if pages.len() > limits.max_pages {
            return Err(LoadError::TooLarge(format!(
                "{} pages, more than the limit of {}",
                pages.len(),
                limits.max_pages
            )));
        }
        if let Some(declared) = declared_page_count(&doc)
            && declared > pages.len()
        {
            warnings.push(Warning::loss(
                None,
                format!(
                    "the page tree declares {declared} pages but only {} could be found",
                    pages.len()
                ),
            ));
        }
        Ok(PdfSource {
            doc,
            pages,
            limits: limits.clone(),
            warnings,
        })
    }
}

/// The page count the root of the page tree declares (`/Count`), if readable.
fn declared_page_count(doc: &Document) -> Option<usize> {
    let pages = doc.catalog().ok()?.get(b"Pages").ok()?;
    let (_, pages) = doc.dereference(pages).ok()?;
    let count = pages.as_dict().ok()?.get(b"Count").ok()?.as_i64().ok()?;
    usize::try_from(count).ok()
}

impl PageSource for PdfSource {
    fn page_count(&self) -> usize {
        self.pages.len()
    }

    fn warnings(&self) -> Vec<Warning> {
        self.warnings.clone()
    }

    fn load_page(&mut self, index: usize, mode: OcrMode) -> Result<LoadedPage, LoadError> {
        let page_id = self.pages[index];
        let number = index as u32 + 1;
        if self.doc.get_dictionary(page_id).is_err() {
            return Err(LoadError::BadPdf(format!(
                "page object {} {} is missing",
                page_id.0, page_id.1
            )));
        }
        let scan = scan_page(&self.doc, page_id, &self.limits)?;
        let text = if scan.glyph_bytes() > 0 {
            self.doc
                .extract_text(&[number])
                .map(|t| normalize_text_layer(&t))
                .unwrap_or_default()
        } else {
            String::new()
        };
        // Mostly visible text is born-digital; a scanner's OCR layer is invisible, with at
        // most a visible stamp or watermark line on top.
        let visible = scan.visible_glyph_bytes >= scan.invisible_glyph_bytes;
        let has_image = !scan.images.is_empty();
        let rotate = page_rotation(&self.doc, page_id);
        let doc = &self.doc;
        let limits = &self.limits;
        let render = || compose_page(doc, &scan.images, rotate, limits);
        // A page whose content is gone and that shows nothing else has lost everything:
        // that is a failure of the page, not an empty page.
        if !scan.damage.is_empty() && !has_image && text.trim().is_empty() {
            return Err(LoadError::BadPdf(format!(
                "page content lost: {}",
                scan.damage.join("; ")
            )));
        }
        let mut page = decide(number, mode, &text, visible, has_image, render)?;
        page.warnings.extend(
            scan.damage
                .into_iter()
                .map(|d| Warning::loss(Some(number), d)),
        );
        Ok(page)
    }
}

/// lopdf separates text runs with spaces and newlines in its own way; keep line breaks,
/// collapse runs of blanks, trim.
fn normalize_text_layer(text: &str) -> String {
    text.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Page trees nest a few levels; a cycle in a broken file must not loop forever.
const MAX_PAGE_TREE_DEPTH: usize = 32;

/// A page attribute, inherited from the page tree when the page itself lacks it
/// (`/Resources`, `/Rotate`, `/MediaBox` may be set on any ancestor).
fn inherited<'a>(doc: &'a Document, page_id: ObjectId, key: &[u8]) -> Option<&'a Object> {
    let mut current = doc.get_dictionary(page_id).ok();
    for _ in 0..MAX_PAGE_TREE_DEPTH {
        let dict = current?;
        if let Ok(obj) = dict.get(key) {
            return doc.dereference(obj).ok().map(|(_, o)| o);
        }
        current = dict
            .get(b"Parent")
            .and_then(Object::as_reference)
            .and_then(|id| doc.get_dictionary(id))
            .ok();
    }
    None
}

fn page_rotation(doc: &Document, page_id: ObjectId) -> i64 {
    inherited(doc, page_id, b"Rotate")
        .and_then(|o| o.as_i64().ok())
        .map_or(0, |r| r.rem_euclid(360))
}

/// An image painted on the page, with the transformation that places it.
struct Placement {
    id: ObjectId,
    ctm: [f32; 6],
    resources: Option<Dictionary>,
}

#[derive(Default)]
struct PageScan {
    images: Vec<Placement>,
    /// Content the page refers to that is missing or unreadable (a cut or damaged file).
    damage: Vec<String>,
    /// Bytes of shown strings (a proxy for glyphs) in visible and invisible text.
    visible_glyph_bytes: usize,
    invisible_glyph_bytes: usize,
}

impl PageScan {
    fn glyph_bytes(&self) -> usize {
        self.visible_glyph_bytes + self.invisible_glyph_bytes
    }
}

fn shown_bytes(operands: &[Object]) -> usize {
    operands
        .iter()
        .map(|o| match o {
            Object::String(s, _) => s.len(),
            Object::Array(items) => shown_bytes(items),
            _ => 0,
        })
        .sum()
}

fn scan_page(doc: &Document, page_id: ObjectId, limits: &Limits) -> Result<PageScan, LoadError> {
    let resources = page_resources(doc, page_id);
    let mut scan = PageScan::default();
    let content = page_content(doc, page_id, limits, &mut scan.damage)?;
    let mut visited = HashSet::new();
    walk(
        doc,
        &content,
        resources.as_ref(),
        IDENTITY,
        0,
        &mut visited,
        &mut scan,
    );
    Ok(scan)
}

/// The page's content streams, decoded and joined; what is missing or cannot be decoded
/// is named in `damage` (lopdf's own reader skips it silently).
fn page_content(
    doc: &Document,
    page_id: ObjectId,
    limits: &Limits,
    damage: &mut Vec<String>,
) -> Result<Vec<u8>, LoadError> {
    let mut content = Vec::new();
    for id in doc.get_page_contents(page_id) {
        let stream = match doc.get_object(id) {
            Ok(Object::Stream(stream)) => stream,
            Ok(_) => {
                damage.push(format!("content object {} {} is not a stream", id.0, id.1));
                continue;
            }
            Err(_) => {
                damage.push(format!("content stream {} {} is missing", id.0, id.1));
                continue;
            }
        };
        let budget = usize::try_from(limits.max_decoded_bytes)
            .unwrap_or(usize::MAX)
            .saturating_sub(content.len());
        match stream.decompressed_content_with_limit(budget) {
            Ok(data) => content.extend_from_slice(&data),
            Err(lopdf::Error::Decompress(lopdf::DecompressError::MemoryLimitExceeded {
                ..
            })) => {
                return Err(LoadError::TooLarge(format!(
                    "page content inflates beyond {} bytes",
                    limits.max_decoded_bytes
                )));
            }
            // Not compressed at all (no /Filter) reads as its raw bytes.
            Err(_) if stream.filters().map_or(true, |f| f.is_empty()) => {
                content.extend_from_slice(&stream.content)
            }
            Err(e) => damage.push(format!(
                "content stream {} {} cannot be decoded ({e})",
                id.0, id.1
            )),
        }
        content.push(b'\n');
    }
    Ok(content)
}

fn page_resources(doc: &Document, page_id: ObjectId) -> Option<Dictionary> {
    inherited(doc, page_id, b"Resources")?
        .as_dict()
        .ok()
        .cloned()
}

const IDENTITY: [f32; 6] = [1.0, 0.0, 0.0, 1.0, 0.0, 0.0];

/// `m` then `n` (PDF row-vector convention: the result maps through m first).
fn multiply(m: [f32; 6], n: [f32; 6]) -> [f32; 6] {
    [
        m[0] * n[0] + m[1] * n[2],
        m[0] * n[1] + m[1] * n[3],
        m[2] * n[0] + m[3] * n[2],
        m[2] * n[1] + m[3] * n[3],
        m[4] * n[0] + m[5] * n[2] + n[4],
        m[4] * n[1] + m[5] * n[3] + n[5],
    ]
}

fn numbers(operands: &[Object]) -> Option<Vec<f32>> {
    operands.iter().map(|o| o.as_float().ok()).collect()
}

#[derive(Clone, Copy)]
struct GraphicsState {
    ctm: [f32; 6],
    text_render_mode: i64,
}

fn walk(
    doc: &Document,
    content: &[u8],
    resources: Option<&Dictionary>,
    ctm: [f32; 6],
    depth: u32,
    visited: &mut HashSet<ObjectId>,
    scan: &mut PageScan,
) {
    // A damaged content stream still yields the operations before the damage.
    let ops = match Content::decode(content) {
        Ok(c) => c.operations,
        Err(e) => {
            scan.damage.push(format!("content stream is damaged ({e})"));
            return;
        }
    };
    let mut state = GraphicsState {
        ctm,
        text_render_mode: 0,
    };
    let mut stack: Vec<GraphicsState> = Vec::new();
    for op in ops {
        match op.operator.as_str() {
            "q" => stack.push(state),
            "Q" => {
                if let Some(s) = stack.pop() {
                    state = s;
                }
            }
            "cm" => {
                if let Some(n) = numbers(&op.operands)
                    && n.len() == 6
                {
                    state.ctm = multiply([n[0], n[1], n[2], n[3], n[4], n[5]], state.ctm);
                }
            }
            "Tr" => {
                if let Some(mode) = op.operands.first().and_then(|o| o.as_i64().ok()) {
                    state.text_render_mode = mode;
                }
            }
            "Tj" | "TJ" | "'" | "\"" => {
                let bytes = shown_bytes(&op.operands);
                if state.text_render_mode == 3 {
                    scan.invisible_glyph_bytes += bytes;
                } else {
                    scan.visible_glyph_bytes += bytes;
                }
            }
            "Do" => {
                let Some(name) = op.operands.first().and_then(|o| o.as_name().ok()) else {
                    continue;
                };
                let label = String::from_utf8_lossy(name);
                let Some(id) = resources
                    .and_then(|r| r.get(b"XObject").ok())
                    .and_then(|x| doc.dereference(x).ok())
                    .and_then(|(_, x)| x.as_dict().ok())
                    .and_then(|x| x.get(name).ok())
                    .and_then(|o| o.as_reference().ok())
                else {
                    scan.damage.push(format!(
                        "painted object /{label} is not in the page's resources"
                    ));
                    continue;
                };
                let Ok(Object::Stream(stream)) = doc.get_object(id) else {
                    scan.damage.push(format!(
                        "painted object /{label} ({} {}) is missing",
                        id.0, id.1
                    ));
                    continue;
                };
                match stream.dict.get(b"Subtype").and_then(Object::as_name) {
                    Ok(b"Image") => scan.images.push(Placement {
                        id,
                        ctm: state.ctm,
                        resources: resources.cloned(),
                    }),
                    Ok(b"Form") if depth < MAX_FORM_DEPTH && visited.insert(id) => {
                        let matrix = stream
                            .dict
                            .get(b"Matrix")
                            .and_then(Object::as_array)
                            .ok()
                            .and_then(|a| numbers(a))
                            .filter(|n| n.len() == 6)
                            .map_or(IDENTITY, |n| [n[0], n[1], n[2], n[3], n[4], n[5]]);
                        let form_resources = stream
                            .dict
                            .get(b"Resources")
                            .ok()
                            .and_then(|o| doc.dereference(o).ok())
                            .and_then(|(_, o)| o.as_dict().ok())
                            .cloned();
                        let body = stream
                            .decompressed_content()
                            .unwrap_or_else(|_| stream.content.clone());
                        walk(
                            doc,
                            &body,
                            form_resources.as_ref().or(resources),
                            multiply(matrix, state.ctm),
                            depth + 1,
                            visited,
                            scan,
                        );
                        visited.remove(&id);
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
}

/// The page as one gray raster: its image at native resolution when a single upright
/// image covers it (the scanner case), else all images composited at the finest
/// resolution among them. Returns the image and its dpi.
fn compose_page(
    doc: &Document,
    placements: &[Placement],
    rotate: i64,
    limits: &Limits,
) -> Result<Rendered, LoadError> {
    let mut losses = Vec::new();
    let mut decoded = Vec::with_capacity(placements.len());
    for p in placements {
        let Ok(Object::Stream(stream)) = doc.get_object(p.id) else {
            return Err(LoadError::BadPdf(format!(
                "image object {} {} is missing",
                p.id.0, p.id.1
            )));
        };
        let image = decode_image(doc, stream, p.resources.as_ref(), limits, &mut losses)?;
        decoded.push((image, p.ctm));
    }
    let (image, dpi) = if decoded.len() == 1 && is_upright(&decoded[0].1) {
        let (image, ctm) = decoded.pop().expect("one image");
        let dpi = if ctm[0] > 0.0 {
            Some(image.width() as f32 / (ctm[0] / 72.0))
        } else {
            None
        };
        (image, dpi)
    } else {
        composite(&decoded, limits)?
    };
    let image = match rotate {
        90 => image::imageops::rotate90(&image),
        180 => image::imageops::rotate180(&image),
        270 => image::imageops::rotate270(&image),
        _ => image,
    };
    Ok(Rendered { image, dpi, losses })
}

fn is_upright(ctm: &[f32; 6]) -> bool {
    ctm[0] > 0.0 && ctm[3] > 0.0 && ctm[1].abs() < 1e-3 && ctm[2].abs() < 1e-3
}

fn bbox(ctm: &[f32; 6]) -> (f32, f32, f32, f32) {
    let corners = [(0.0, 0.0), (1.0, 0.0), (0.0, 1.0), (1.0, 1.0)];
    let mut b = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
    for (u, v) in corners {
        let x = ctm[0] * u + ctm[2] * v + ctm[4];
        let y = ctm[1] * u + ctm[3] * v + ctm[5];
        b = (b.0.min(x), b.1.min(y), b.2.max(x), b.3.max(y));
    }
    b
}

fn composite(
    images: &[(GrayImage, [f32; 6])],
    limits: &Limits,
) -> Result<(GrayImage, Option<f32>), LoadError> {
    let mut union = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
    // Pixels per point along the page's x and y: the finest any image offers, so no
    // image loses resolution. An image's u axis runs along page x unless it is turned.
    let (mut sx, mut sy): (f32, f32) = (0.0, 0.0);
    for (img, ctm) in images {
        let b = bbox(ctm);
        union = (
            union.0.min(b.0),
            union.1.min(b.1),
            union.2.max(b.2),
            union.3.max(b.3),
        );
        let u_len = ctm[0].hypot(ctm[1]).max(1e-3);
        let v_len = ctm[2].hypot(ctm[3]).max(1e-3);
        let (along_u, along_v) = (img.width() as f32 / u_len, img.height() as f32 / v_len);
        if ctm[0].abs() >= ctm[1].abs() {
            sx = sx.max(along_u);
            sy = sy.max(along_v);
        } else {
            sx = sx.max(along_v);
            sy = sy.max(along_u);
        }
    }
    let width = ((union.2 - union.0) * sx).round().max(1.0) as u32;
    let height = ((union.3 - union.1) * sy).round().max(1.0) as u32;
    limits.check_pixels(width, height)?;
    let mut canvas = GrayImage::from_pixel(width, height, image::Luma([255]));
    for (img, ctm) in images {
        let det = ctm[0] * ctm[3] - ctm[1] * ctm[2];
        if det.abs() < 1e-9 {
            continue;
        }
        let b = bbox(ctm);
        let x0 = ((b.0 - union.0) * sx).floor().max(0.0) as u32;
        let x1 = (((b.2 - union.0) * sx).ceil() as u32).min(width);
        let y0 = ((union.3 - b.3) * sy).floor().max(0.0) as u32;
        let y1 = (((union.3 - b.1) * sy).ceil() as u32).min(height);
        let (w, h) = (img.width() as f32, img.height() as f32);
        for y in y0..y1 {
            for x in x0..x1 {
                let px = union.0 + (x as f32 + 0.5) / sx - ctm[4];
                let py = union.3 - (y as f32 + 0.5) / sy - ctm[5];
                let u = (ctm[3] * px - ctm[2] * py) / det;
                let v = (-ctm[1] * px + ctm[0] * py) / det;
                if (0.0..1.0).contains(&u) && (0.0..1.0).contains(&v) {
                    let col = (u * w) as u32;
                    let row = ((1.0 - v) * h) as u32;
                    canvas.put_pixel(
                        x,
                        y,
                        *img.get_pixel(col.min(img.width() - 1), row.min(img.height() - 1)),
                    );
                }
            }
        }
    }
    Ok((canvas, Some(sx.max(sy) * 72.0)))
}
