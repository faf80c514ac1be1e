//! Searchable PDF: each page's original image, untouched, under an invisible text layer
//! placed at the OCR words' positions, so selecting and searching work in any reader.
//!
//! Written as PDF/A-2b as far as a writer can make it so on its own: PDF 1.7, a binary
//! header, a trailer /ID, XMP metadata naming the part and conformance, an sRGB output
//! intent, the text font embedded, no encryption, no transparency, no interpolation.
//!
//! The text uses Tesseract's glyph-less font (`pdf.ttf` in tessdata: one empty glyph
//! half an em wide, 572 bytes): every character is its own Unicode value as a CID
//! (Identity-H), mapped back by a ToUnicode CMap, and each word is stretched (`Tz`) to
//! its box so selection covers the printed word.

use crate::ocr::Word;
use crate::prepare::Preparation;
use image::{GrayImage, RgbImage};
use lopdf::{Dictionary, Document, Object, ObjectId, Stream, StringFormat, dictionary};
use std::io::Write;
use thiserror::Error;
use unicode_normalization::UnicodeNormalization;

#[derive(Debug, Error)]
pub enum PdfError {
    #[error("cannot write the PDF: {0}")]
    Write(String),
    #[error("no page to write")]
    NoPages,
}

/// A page's image as it goes into the PDF.
pub enum PageImage {
    /// A JPEG file's own bytes (DCTDecode): not decoded, not re-encoded.
    Jpeg {
        data: Vec<u8>,
        width: u32,
        height: u32,
        /// 1 (gray) or 3 (RGB).
        components: u8,
    },
    /// Gray pixels, stored losslessly (Flate); one bit per pixel when only black and
    /// white occur (a fax-style scan).
    Gray(GrayImage),
    /// Colour pixels, stored losslessly (Flate).
    Rgb(RgbImage),
}

impl PageImage {
    pub fn size(&self) -> (u32, u32) {
        match self {
            PageImage::Jpeg { width, height, .. } => (*width, *height),
            PageImage::Gray(g) => g.dimensions(),
            PageImage::Rgb(c) => c.dimensions(),
        }
    }
}

/// A word of the text layer, in page pixels (see [`PdfPage`]).
#[derive(Debug, Clone, PartialEq)]
pub struct PlacedWord {
    pub text: String,
    /// The left end of the word's baseline.
    pub x: f32,
    pub y: f32,
    /// The baseline's length and the word's height.
    pub length: f32,
    pub height: f32,
}

/// A page laid out as OCR read it: upright and straight, measured in pixels of the
/// original image (page pixels). The original image is placed on it by
/// `image_placement`, turned as needed, its pixels untouched: readers show the page
/// upright, and the text layer runs straight along it, as text extraction expects.
pub struct PdfPage {
    pub image: PageImage,
    /// Pixels per inch of the original image: sets the page's size.
    pub dpi: f32,
    /// The page's size in page pixels.
    pub size: (f32, f32),
    /// Where the image's corners go, in page pixels: top-left, top-right, bottom-left.
    pub image_placement: [(f32, f32); 3],
    pub words: Vec<PlacedWord>,
}

impl PdfPage {
    /// A page for `image` whose OCR `words` were read from the image as `preparation`
    /// left it (`None`: as decoded).
    pub fn new(
        image: PageImage,
        dpi: f32,
        words: &[Word],
        preparation: Option<&Preparation>,
    ) -> PdfPage {
        let (w, h) = image.size();
        let (w, h) = (w as f32, h as f32);
        let Some(p) = preparation else {
            return PdfPage {
                image,
                dpi,
                size: (w, h),
                image_placement: [(0.0, 0.0), (w, 0.0), (0.0, h)],
                words: place_words(words, 1.0),
            };
        };
        // Page pixels are the prepared image's, rescaled to the original resolution.
        let scale = p.scale.max(f32::MIN_POSITIVE);
        let corner = |x: f32, y: f32| {
            let (px, py) = p.to_prepared(x, y);
            (px / scale, py / scale)
        };
        PdfPage {
            image,
            dpi,
            size: (
                p.prepared_size[0] as f32 / scale,
                p.prepared_size[1] as f32 / scale,
            ),
            image_placement: [corner(0.0, 0.0), corner(w, 0.0), corner(0.0, h)],
            words: place_words(words, scale),
        }
    }
}

/// What the PDF says about itself.
pub struct PdfMeta {
    pub title: String,
    /// ISO 8601, e.g. `2026-11-26T19:00:00Z`.
    pub created: String,
    /// Stable per document (the archive's record hash): the PDF's /ID.
    pub id: [u8; 16],
}

/// OCR words (boxes in the pixels OCR read, at `scale` times the original resolution)
/// as page pixels. Every word is given at least the page's median word height: a dash
/// or a dot with its own tiny height would be taken by readers for a line of its own.
fn place_words(words: &[Word], scale: f32) -> Vec<PlacedWord> {
    let mut heights: Vec<u32> = words.iter().map(|w| w.h).collect();
    heights.sort_unstable();
    let median = heights.get(heights.len() / 2).copied().unwrap_or(0);
    words
        .iter()
        .filter(|w| !w.text.trim().is_empty())
        .map(|w| PlacedWord {
            text: w.text.nfc().collect(),
            x: w.x as f32 / scale,
            y: (w.y + w.h) as f32 / scale,
            length: w.w as f32 / scale,
            height: w.h.max(median) as f32 / scale,
        })
        .collect()
}

/// The PDF's bytes.
pub fn write(pages: &[PdfPage], meta: &PdfMeta, font: &[u8]) -> Result<Vec<u8>, PdfError> {
    if pages.is_empty() {
        return Err(PdfError::NoPages);
    }
    let mut doc = Document::with_version("1.7");
    let pages_id = doc.new_object_id();
    let font_id = add_font(&mut doc, font);
    let mut kids = Vec::new();
    for page in pages {
        kids.push(Object::Reference(add_page(
            &mut doc, pages_id, font_id, page,
        )?));
    }
    let count = kids.len() as i64;
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages",
            "Kids" => kids,
            "Count" => count,
        }),
    );
    let metadata = doc.add_object(Stream::new(
        dictionary! { "Type" => "Metadata", "Subtype" => "XML" },
        xmp(meta).into_bytes(),
    ));
    let profile = doc
        .add_object(Stream::new(dictionary! { "N" => 3 }, srgb_profile()).with_compression(false));
    let intent = doc.add_object(dictionary! {
        "Type" => "OutputIntent",
        "S" => "GTS_PDFA1",
        "OutputConditionIdentifier" => Object::string_literal("sRGB IEC61966-2.1"),
        "Info" => Object::string_literal("sRGB IEC61966-2.1"),
        "DestOutputProfile" => profile,
    });
    let catalog = doc.add_object(dictionary! {
        "Type" => "Catalog",
        "Pages" => pages_id,
        "Metadata" => metadata,
        "OutputIntents" => vec![Object::Reference(intent)],
    });
    doc.trailer.set("Root", catalog);
    let id = Object::String(meta.id.to_vec(), StringFormat::Hexadecimal);
    doc.trailer.set("ID", vec![id.clone(), id]);
    let mut out = Vec::new();
    doc.save_to(&mut out)
        .map_err(|e| PdfError::Write(e.to_string()))?;
    Ok(out)
}

fn add_page(
    doc: &mut Document,
    parent: ObjectId,
    font: ObjectId,
    page: &PdfPage,
) -> Result<ObjectId, PdfError> {
    let points = 72.0 / page.dpi.max(1.0);
    let (page_w, page_h) = (page.size.0 * points, page.size.1 * points);
    // Page pixels (y down) to PDF points (y up).
    let to_pdf = |(x, y): (f32, f32)| (x * points, page_h - y * points);
    let image = add_image(doc, &page.image)?;
    let mut content = Vec::new();
    let fail = |e: std::io::Error| PdfError::Write(e.to_string());
    // The image's unit square: (0,0) is its bottom-left corner, (1,0) bottom-right,
    // (0,1) top-left.
    let [top_left, top_right, bottom_left] = page.image_placement;
    let origin = to_pdf(bottom_left);
    let right = to_pdf((
        bottom_left.0 + top_right.0 - top_left.0,
        bottom_left.1 + top_right.1 - top_left.1,
    ));
    let up = to_pdf(top_left);
    writeln!(
        content,
        "q {:.4} {:.4} {:.4} {:.4} {:.3} {:.3} cm /Im0 Do Q",
        right.0 - origin.0,
        right.1 - origin.1,
        up.0 - origin.0,
        up.1 - origin.1,
        origin.0,
        origin.1
    )
    .map_err(fail)?;
    if !page.words.is_empty() {
        // Render mode 3: neither filled nor stroked, there for search and selection.
        content.extend_from_slice(b"BT 3 Tr\n");
        for word in &page.words {
            let chars = word.text.chars().count();
            let size = (word.height * points).max(1.0);
            // The glyph-less font's glyphs are half an em wide.
            let natural = chars as f32 * size * 0.5;
            let stretch = (100.0 * word.length * points / natural).clamp(1.0, 10_000.0);
            let (x, y) = to_pdf((word.x, word.y));
            let mut hex = String::with_capacity(chars * 4);
            for unit in word.text.encode_utf16() {
                hex.push_str(&format!("{unit:04X}"));
            }
            writeln!(
                content,
                "/F1 {size:.2} Tf {stretch:.2} Tz 1 0 0 1 {x:.2} {y:.2} Tm <{hex}> Tj"
            )
            .map_err(fail)?;
        }
        content.extend_from_slice(b"ET\n");
    }
    let contents = doc.add_object(Stream::new(Dictionary::new(), content));
    let page_id = doc.add_object(dictionary! {
        "Type" => "Page",
        "Parent" => parent,
        "MediaBox" => vec![0.into(), 0.into(), Object::Real(page_w), Object::Real(page_h)],
        "Resources" => dictionary! {
            "XObject" => dictionary! { "Im0" => image },
            "Font" => dictionary! { "F1" => font },
        },
        "Contents" => contents,
    });
    Ok(page_id)
}

fn add_image(doc: &mut Document, image: &PageImage) -> Result<ObjectId, PdfError> {
    let (w, h) = image.size();
    let mut dict = dictionary! {
        "Type" => "XObject",
        "Subtype" => "Image",
        "Width" => w as i64,
        "Height" => h as i64,
    };
    let data = match image {
        PageImage::Jpeg {
            data, components, ..
        } => {
            dict.set("ColorSpace", color_space(*components));
            dict.set("BitsPerComponent", 8);
            dict.set("Filter", "DCTDecode");
            data.clone()
        }
        PageImage::Gray(gray) if gray.pixels().all(|p| p.0[0] == 0 || p.0[0] == 255) => {
            dict.set("ColorSpace", "DeviceGray");
            dict.set("BitsPerComponent", 1);
            dict.set("Filter", "FlateDecode");
            deflate(&pack_bits(gray))?
        }
        PageImage::Gray(gray) => {
            dict.set("ColorSpace", "DeviceGray");
            dict.set("BitsPerComponent", 8);
            dict.set("Filter", "FlateDecode");
            deflate(gray.as_raw())?
        }
        PageImage::Rgb(rgb) => {
            dict.set("ColorSpace", "DeviceRGB");
            dict.set("BitsPerComponent", 8);
            dict.set("Filter", "FlateDecode");
            deflate(rgb.as_raw())?
        }
    };
    // Already compressed: lopdf must not compress it again.
    Ok(doc.add_object(Stream::new(dict, data).with_compression(false)))
}

fn color_space(components: u8) -> &'static str {
    if components == 1 {
        "DeviceGray"
    } else {
        "DeviceRGB"
    }
}

/// Rows of 1-bit pixels, 1 = white (DeviceGray), each row padded to a byte.
fn pack_bits(gray: &GrayImage) -> Vec<u8> {
    let (w, h) = gray.dimensions();
    let row_bytes = (w as usize).div_ceil(8);
    let mut out = vec![0u8; row_bytes * h as usize];
    for (y, row) in gray.rows().enumerate() {
        for (x, p) in row.enumerate() {
            if p.0[0] != 0 {
                out[y * row_bytes + x / 8] |= 0x80 >> (x % 8);
            }
        }
    }
    out
}

fn deflate(bytes: &[u8]) -> Result<Vec<u8>, PdfError> {
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(6));
    z.write_all(bytes)
        .and_then(|_| z.finish())
        .map_err(|e| PdfError::Write(e.to_string()))
}

/// The glyph-less Type0 font with its ToUnicode map.
fn add_font(doc: &mut Document, font: &[u8]) -> ObjectId {
    let file = doc.add_object(
        Stream::new(
            dictionary! { "Length1" => font.len() as i64, "Filter" => "FlateDecode" },
            deflate(font).unwrap_or_default(),
        )
        .with_compression(false),
    );
    let descriptor = doc.add_object(dictionary! {
        "Type" => "FontDescriptor",
        "FontName" => "GlyphLessFont",
        "Flags" => 5,
        "FontBBox" => vec![0.into(), 0.into(), 500.into(), 1000.into()],
        "ItalicAngle" => 0,
        "Ascent" => 1000,
        "Descent" => 0,
        "CapHeight" => 1000,
        "StemV" => 80,
        "FontFile2" => file,
    });
    // Every CID (a UTF-16 code unit) draws glyph 1, the font's only glyph.
    let map: Vec<u8> = std::iter::repeat_n([0u8, 1u8], 65536).flatten().collect();
    let cid_to_gid = doc.add_object(
        Stream::new(
            dictionary! { "Filter" => "FlateDecode" },
            deflate(&map).unwrap_or_default(),
        )
        .with_compression(false),
    );
    let cid_font = doc.add_object(dictionary! {
        "Type" => "Font",
        "Subtype" => "CIDFontType2",
        "BaseFont" => "GlyphLessFont",
        "CIDSystemInfo" => dictionary! {
            "Registry" => Object::string_literal("Adobe"),
            "Ordering" => Object::string_literal("Identity"),
            "Supplement" => 0,
        },
        "FontDescriptor" => descriptor,
        "CIDToGIDMap" => cid_to_gid,
        "DW" => 500,
    });
    let to_unicode = doc.add_object(Stream::new(
        Dictionary::new(),
        TO_UNICODE.as_bytes().to_vec(),
    ));
    doc.add_object(dictionary! {
        "Type" => "Font",
        "Subtype" => "Type0",
        "BaseFont" => "GlyphLessFont",
        "Encoding" => "Identity-H",
        "DescendantFonts" => vec![Object::Reference(cid_font)],
        "ToUnicode" => to_unicode,
    })
}

/// CIDs are UTF-16 code units: the map back to Unicode is the identity.
const TO_UNICODE: &str = "/CIDInit /ProcSet findresource begin
12 dict begin
begincmap
/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def
/CMapName /Adobe-Identity-UCS def
/CMapType 2 def
1 begincodespacerange
<0000> <FFFF>
endcodespacerange
1 beginbfrange
<0000> <FFFF> <0000>
endbfrange
endcmap
CMapName currentdict /CMap defineresource pop
end
end
";

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// XMP metadata declaring PDF/A-2b.
fn xmp(meta: &PdfMeta) -> String {
    format!(
        r#"<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about=""
 xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/"
 xmlns:dc="http://purl.org/dc/elements/1.1/"
 xmlns:xmp="http://ns.adobe.com/xap/1.0/"
 xmlns:pdf="http://ns.adobe.com/pdf/1.3/">
<pdfaid:part>2</pdfaid:part>
<pdfaid:conformance>B</pdfaid:conformance>
<dc:format>application/pdf</dc:format>
<dc:title><rdf:Alt><rdf:li xml:lang="x-default">{title}</rdf:li></rdf:Alt></dc:title>
<xmp:CreateDate>{created}</xmp:CreateDate>
<xmp:ModifyDate>{created}</xmp:ModifyDate>
<xmp:MetadataDate>{created}</xmp:MetadataDate>
<xmp:CreatorTool>sohoa {version}</xmp:CreatorTool>
<pdf:Producer>sohoa {version}</pdf:Producer>
</rdf:Description>
</rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>"#,
        title = xml_escape(&meta.title),
        created = xml_escape(&meta.created),
        version = env!("CARGO_PKG_VERSION"),
    )
}

/// A matrix/TRC ICC profile (version 2) of sRGB: its D50-adapted primaries and white
/// point, and the sRGB curve as a 1024-entry table. What the output intent needs to
/// say "these DeviceRGB and DeviceGray pixels are sRGB".
fn srgb_profile() -> Vec<u8> {
    fn s15(v: f64) -> [u8; 4] {
        ((v * 65536.0).round() as i32).to_be_bytes()
    }
    fn xyz(x: f64, y: f64, z: f64) -> Vec<u8> {
        let mut t = b"XYZ \0\0\0\0".to_vec();
        for v in [x, y, z] {
            t.extend_from_slice(&s15(v));
        }
        t
    }
    fn desc(text: &str) -> Vec<u8> {
        let mut t = b"desc\0\0\0\0".to_vec();
        t.extend_from_slice(&(text.len() as u32 + 1).to_be_bytes());
        t.extend_from_slice(text.as_bytes());
        t.push(0);
        // No Unicode or ScriptCode versions.
        t.extend_from_slice(&[0u8; 4 + 4 + 2 + 1 + 67]);
        t
    }
    let mut curve = b"curv\0\0\0\0".to_vec();
    let entries = 1024u32;
    curve.extend_from_slice(&entries.to_be_bytes());
    for i in 0..entries {
        let v = i as f64 / (entries - 1) as f64;
        let linear = if v <= 0.04045 {
            v / 12.92
        } else {
            ((v + 0.055) / 1.055).powf(2.4)
        };
        curve.extend_from_slice(&((linear * 65535.0).round() as u16).to_be_bytes());
    }
    let mut cprt = b"text\0\0\0\0".to_vec();
    cprt.extend_from_slice(b"No copyright, use freely\0");
    let tags: Vec<(&[u8; 4], Vec<u8>)> = vec![
        (b"desc", desc("sRGB IEC61966-2.1")),
        (b"cprt", cprt),
        (b"wtpt", xyz(0.9642, 1.0, 0.8249)),
        (b"rXYZ", xyz(0.4361, 0.2225, 0.0139)),
        (b"gXYZ", xyz(0.3851, 0.7169, 0.0971)),
        (b"bXYZ", xyz(0.1431, 0.0606, 0.7141)),
        (b"rTRC", curve.clone()),
        (b"gTRC", curve.clone()),
        (b"bTRC", curve),
    ];
    let table_len = 4 + 12 * tags.len();
    let mut body = Vec::new();
    let mut table = (tags.len() as u32).to_be_bytes().to_vec();
    for (sig, data) in &tags {
        while body.len() % 4 != 0 {
            body.push(0);
        }
        let offset = 128 + table_len + body.len();
        table.extend_from_slice(*sig);
        table.extend_from_slice(&(offset as u32).to_be_bytes());
        table.extend_from_slice(&(data.len() as u32).to_be_bytes());
        body.extend_from_slice(data);
    }
    let size = 128 + table_len + body.len();
    let mut header = Vec::with_capacity(128);
    header.extend_from_slice(&(size as u32).to_be_bytes());
    header.extend_from_slice(b"none");
    header.extend_from_slice(&[2, 0x10, 0, 0]); // version 2.1
    header.extend_from_slice(b"mntrRGB XYZ ");
    header.extend_from_slice(&[0u8; 12]); // date
    header.extend_from_slice(b"acsp");
    header.extend_from_slice(&[0u8; 4 + 4 + 4 + 4 + 8 + 4]); // platform … rendering intent
    header.extend_from_slice(&s15(0.9642));
    header.extend_from_slice(&s15(1.0));
    header.extend_from_slice(&s15(0.8249));
    header.extend_from_slice(b"none");
    header.resize(128, 0);
    let mut profile = header;
    profile.extend_from_slice(&table);
    profile.extend_from_slice(&body);
    profile
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_laid_out_as_read_with_the_original_image_turned_onto_them() {
        let word = Word {
            text: "Quyết".into(),
            confidence: 95.0,
            x: 100,
            y: 200,
            w: 120,
            h: 40,
            ..Word::default()
        };
        let image = || PageImage::Gray(GrayImage::new(1000, 800));
        let page = PdfPage::new(image(), 300.0, std::slice::from_ref(&word), None);
        assert_eq!(page.size, (1000.0, 800.0));
        assert_eq!(
            page.image_placement,
            [(0.0, 0.0), (1000.0, 0.0), (0.0, 800.0)]
        );
        assert_eq!(
            page.words[0],
            PlacedWord {
                text: "Quyết".into(),
                x: 100.0,
                y: 240.0,
                length: 120.0,
                height: 40.0,
            }
        );
        // Read turned 180° at half the resolution: the page is the turned image at the
        // original resolution, the image's top-left corner at the page's bottom-right.
        let mut p = crate::prepare::unprepared(GrayImage::new(1000, 800), Some(600.0)).record;
        p.rotation = 180;
        p.scale = 0.5;
        p.prepared_size = [500, 400];
        let page = PdfPage::new(image(), 600.0, &[word], Some(&p));
        assert_eq!(page.size, (1000.0, 800.0));
        assert_eq!(page.image_placement[0], (1000.0, 800.0));
        assert_eq!((page.words[0].x, page.words[0].y), (200.0, 480.0));
    }

    #[test]
    fn the_icc_profile_is_well_formed() {
        let p = srgb_profile();
        assert_eq!(
            u32::from_be_bytes(p[0..4].try_into().unwrap()) as usize,
            p.len()
        );
        assert_eq!(&p[36..40], b"acsp");
        let tags = u32::from_be_bytes(p[128..132].try_into().unwrap());
        assert_eq!(tags, 9);
    }

    #[test]
    fn bilevel_pages_pack_to_one_bit() {
        let mut g = GrayImage::from_pixel(10, 2, image::Luma([255]));
        g.put_pixel(0, 0, image::Luma([0]));
        assert_eq!(pack_bits(&g), vec![0x7F, 0xC0, 0xFF, 0xC0]);
    }
}
