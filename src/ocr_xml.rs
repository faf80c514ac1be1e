//! ALTO XML 4 and hOCR: a page's layout (blocks, lines, words with boxes and
//! confidences, as `layout` numbered them) in the formats archive and library tools
//! import (Goobi/Kitodo, Transkribus, eScriptorium, OCR-D).
//!
//! Coordinates are pixels of the page image as OCR read it: turned upright and
//! resampled by preparation (`Preparation::scale`); the page's `WIDTH`/`HEIGHT`
//! (ALTO) and `bbox` (hOCR) give that image's size. A table is one block, each row a
//! line; the words of a row's cells are in column order.
//!
//! Pure: strings in, a string out.

use crate::layout;
use crate::ocr::Word;
use crate::store::{StoredDocument, StoredPage};
use std::fmt::Write;

/// One page to write.
pub struct PageLayout<'a> {
    pub document_id: i64,
    /// 1-based.
    pub page: u32,
    /// The size of the image the word boxes refer to.
    pub width: u32,
    pub height: u32,
    /// The file the page came from, as recorded.
    pub source: &'a str,
    /// In reading order.
    pub words: &'a [Word],
}

/// The pages of a stored document with their words (`Store::page_words`), ready to
/// write; pages that were not read (born-digital text, failures) have no words.
pub fn document_pages<'a>(doc: &'a StoredDocument, words: &'a [Vec<Word>]) -> Vec<PageLayout<'a>> {
    doc.pages
        .iter()
        .enumerate()
        .map(|(i, page)| {
            let (width, height) = read_size(page);
            PageLayout {
                document_id: doc.id,
                page: page.number,
                width,
                height,
                source: &doc.path,
                words: words.get(i).map(Vec::as_slice).unwrap_or(&[]),
            }
        })
        .collect()
}

/// A page's words for the JSON export: the size of the image their boxes refer to, and
/// the words in reading order (`block`, `line`, `cell` as in ALTO's blocks and lines).
#[derive(Debug, Clone, serde::Serialize)]
pub struct PageWords {
    pub page: u32,
    pub width: u32,
    pub height: u32,
    pub words: Vec<Word>,
}

/// Every page of `doc` with its words (`Store::page_words`, in page order); pages that
/// were not OCR'd have none.
pub fn page_words(doc: &StoredDocument, words: Vec<Vec<Word>>) -> Vec<PageWords> {
    let mut words = words.into_iter();
    doc.pages
        .iter()
        .map(|page| {
            let (width, height) = read_size(page);
            PageWords {
                page: page.number,
                width,
                height,
                words: words.next().unwrap_or_default(),
            }
        })
        .collect()
}

/// The size of the image OCR read: the page as decoded, turned upright, resampled.
fn read_size(page: &StoredPage) -> (u32, u32) {
    match &page.preparation {
        Some(p) => {
            let [w, h] = p.original_size;
            let (w, h) = if p.rotation % 180 == 90 {
                (h, w)
            } else {
                (w, h)
            };
            (
                (w as f32 * p.scale).round() as u32,
                (h as f32 * p.scale).round() as u32,
            )
        }
        None => (page.width.unwrap_or(0), page.height.unwrap_or(0)),
    }
}

/// Escapes text for an XML attribute or element.
fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Not allowed in XML 1.0 at all.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

/// The blocks of a page (`words` already `layout::with_lines`): each block's words,
/// which lie together in reading order, and its lines.
fn blocks(words: &[Word]) -> Vec<(&[Word], Vec<&[Word]>)> {
    words
        .chunk_by(|a, b| a.block == b.block)
        .map(|block| (block, layout::lines(block)))
        .collect()
}

fn position(r: layout::Region) -> String {
    format!(
        r#"HPOS="{}" VPOS="{}" WIDTH="{}" HEIGHT="{}""#,
        r.x, r.y, r.w, r.h
    )
}

/// The page as an ALTO 4.2 document.
pub fn alto(page: &PageLayout) -> String {
    let p = page.page;
    let mut out = String::new();
    out.push_str(r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    out.push('\n');
    out.push_str(concat!(
        r#"<alto xmlns="http://www.loc.gov/standards/alto/ns-v4#" "#,
        r#"xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" "#,
        r#"xsi:schemaLocation="http://www.loc.gov/standards/alto/ns-v4# "#,
        r#"http://www.loc.gov/alto/v4/alto-4-2.xsd" SCHEMAVERSION="4.2">"#,
        "\n"
    ));
    let _ = write!(
        out,
        concat!(
            "<Description>\n<MeasurementUnit>pixel</MeasurementUnit>\n",
            "<sourceImageInformation><fileName>{source}</fileName>",
            "<documentIdentifier documentIdentifierLocation=\"sohoa\">{id}</documentIdentifier>",
            "</sourceImageInformation>\n",
            "<Processing ID=\"ocr\"><processingCategory>contentGeneration</processingCategory>",
            "<processingStepSettings>Tesseract, automatic layout, vie+eng; reading order by sohoa</processingStepSettings>",
            "<processingSoftware><softwareName>sohoa</softwareName>",
            "<softwareVersion>{version}</softwareVersion></processingSoftware></Processing>\n",
            "</Description>\n<Layout>\n"
        ),
        source = xml(page.source),
        id = page.document_id,
        version = env!("CARGO_PKG_VERSION"),
    );
    let mean = if page.words.is_empty() {
        None
    } else {
        Some(page.words.iter().map(|w| w.confidence).sum::<f32>() / page.words.len() as f32)
    };
    let _ = write!(
        out,
        r#"<Page ID="p{p}" PHYSICAL_IMG_NR="{p}" WIDTH="{}" HEIGHT="{}" PROCESSINGREFS="ocr""#,
        page.width, page.height
    );
    if let Some(mean) = mean {
        let _ = write!(out, r#" PC="{:.3}""#, (mean / 100.0).clamp(0.0, 1.0));
    }
    out.push_str(">\n");
    let _ = writeln!(
        out,
        r#"<PrintSpace HPOS="0" VPOS="0" WIDTH="{}" HEIGHT="{}">"#,
        page.width, page.height
    );
    let mut word_id = 0;
    let words = layout::with_lines(page.words);
    for (b, (block, lines)) in blocks(&words).iter().enumerate() {
        let _ = writeln!(
            out,
            r#"<TextBlock ID="p{p}_b{b}" {}>"#,
            position(layout::bounds(block))
        );
        for (l, line) in lines.iter().enumerate() {
            let _ = writeln!(
                out,
                r#"<TextLine ID="p{p}_b{b}_l{l}" {}>"#,
                position(layout::bounds(line))
            );
            for (i, w) in line.iter().enumerate() {
                if i > 0 {
                    out.push_str("<SP/>");
                }
                let _ = writeln!(
                    out,
                    r#"<String ID="p{p}_w{word_id}" CONTENT="{}" {} WC="{:.2}"/>"#,
                    xml(&w.text),
                    position(layout::Region {
                        x: w.x,
                        y: w.y,
                        w: w.w,
                        h: w.h
                    }),
                    (w.confidence / 100.0).clamp(0.0, 1.0)
                );
                word_id += 1;
            }
            out.push_str("</TextLine>\n");
        }
        out.push_str("</TextBlock>\n");
    }
    out.push_str("</PrintSpace>\n</Page>\n</Layout>\n</alto>\n");
    out
}

fn bbox(r: layout::Region) -> String {
    format!("bbox {} {} {} {}", r.x, r.y, r.x + r.w, r.y + r.h)
}

/// The classes an hOCR file from `hocr` uses, as its `ocr-capabilities` lists them.
pub const HOCR_CAPABILITIES: &str = "ocr_page ocr_carea ocr_par ocr_line ocrx_word ocrp_wconf";

/// The page as an hOCR 1.2 document (XHTML): `ocr_page` › `ocr_carea` (a block) ›
/// `ocr_par` › `ocr_line` › `ocrx_word`, each with its `bbox`; words with `x_wconf`.
pub fn hocr(page: &PageLayout) -> String {
    let p = page.page;
    let mut out = String::new();
    let _ = write!(
        out,
        concat!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n",
            "<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Transitional//EN\" ",
            "\"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd\">\n",
            "<html xmlns=\"http://www.w3.org/1999/xhtml\" xml:lang=\"vi\" lang=\"vi\">\n<head>\n",
            "<title>{source}, page {p}</title>\n",
            "<meta http-equiv=\"Content-Type\" content=\"text/html;charset=utf-8\"/>\n",
            "<meta name=\"ocr-system\" content=\"sohoa {version} (Tesseract)\"/>\n",
            "<meta name=\"ocr-capabilities\" content=\"{caps}\"/>\n",
            "<meta name=\"ocr-number-of-pages\" content=\"1\"/>\n",
            "</head>\n<body>\n"
        ),
        source = xml(page.source),
        p = p,
        version = env!("CARGO_PKG_VERSION"),
        caps = HOCR_CAPABILITIES,
    );
    let _ = writeln!(
        out,
        r#"<div class="ocr_page" id="page_{p}" title="image &quot;{}&quot;; {}; ppageno {}">"#,
        xml(page.source),
        bbox(layout::Region {
            x: 0,
            y: 0,
            w: page.width,
            h: page.height
        }),
        p.saturating_sub(1)
    );
    let mut word_id = 0;
    let words = layout::with_lines(page.words);
    for (b, (block, lines)) in blocks(&words).iter().enumerate() {
        let area = bbox(layout::bounds(block));
        let _ = writeln!(
            out,
            r#"<div class="ocr_carea" id="block_{p}_{b}" title="{area}">"#
        );
        let _ = writeln!(
            out,
            r#"<p class="ocr_par" id="par_{p}_{b}" lang="vi" title="{area}">"#
        );
        for (l, line) in lines.iter().enumerate() {
            let _ = write!(
                out,
                r#"<span class="ocr_line" id="line_{p}_{b}_{l}" title="{}">"#,
                bbox(layout::bounds(line))
            );
            for (i, w) in line.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                let _ = write!(
                    out,
                    r#"<span class="ocrx_word" id="word_{p}_{word_id}" title="{}; x_wconf {}">{}</span>"#,
                    bbox(layout::Region {
                        x: w.x,
                        y: w.y,
                        w: w.w,
                        h: w.h
                    }),
                    w.confidence.round().clamp(0.0, 100.0) as u32,
                    xml(&w.text)
                );
                word_id += 1;
            }
            out.push_str("</span>\n");
        }
        out.push_str("</p>\n</div>\n");
    }
    out.push_str("</div>\n</body>\n</html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(text: &str, x: u32, block: u32, line: u32) -> Word {
        Word {
            text: text.into(),
            confidence: 91.0,
            x,
            y: 10 + line * 50,
            w: 40,
            h: 30,
            block,
            line,
            cell: 0,
        }
    }

    fn check(words: &[Word], expect: &[&str]) {
        let page = PageLayout {
            document_id: 7,
            page: 2,
            width: 400,
            height: 300,
            source: "a&b.tif",
            words,
        };
        let (alto, hocr) = (alto(&page), hocr(&page));
        for e in expect {
            assert!(
                alto.contains(e) || hocr.contains(e),
                "{e} in\n{alto}\n{hocr}"
            );
        }
    }

    #[test]
    fn blocks_lines_and_words_keep_their_boxes_and_confidences() {
        let words = [
            word("Số:", 10, 0, 0),
            word("1/QĐ", 60, 0, 0),
            word("<CỘNG>", 200, 1, 1),
        ];
        check(
            &words,
            &[
                r#"<TextBlock ID="p2_b0" HPOS="10" VPOS="10" WIDTH="90" HEIGHT="30">"#,
                r#"<String ID="p2_w1" CONTENT="1/QĐ" HPOS="60" VPOS="10" WIDTH="40" HEIGHT="30" WC="0.91"/>"#,
                r#"<TextBlock ID="p2_b1""#,
                "CONTENT=\"&lt;CỘNG&gt;\"",
                "<fileName>a&amp;b.tif</fileName>",
                r#"<span class="ocrx_word" id="word_2_1" title="bbox 60 10 100 40; x_wconf 91">1/QĐ</span>"#,
                r#"title="image &quot;a&amp;b.tif&quot;; bbox 0 0 400 300; ppageno 1""#,
            ],
        );
    }

    #[test]
    fn a_page_without_words_is_still_a_document() {
        check(&[], &["<PrintSpace", "</alto>", r#"class="ocr_page""#]);
    }
}
