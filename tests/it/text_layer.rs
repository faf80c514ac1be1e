//! Pages with a text layer: used, skipped or re-OCR'd as `--ocr` says.

use crate::support::{one_page_pdf, pattern, repo_path};
use lopdf::{Dictionary, Document, Stream, dictionary};
use sohoa::load::{self, Limits, OcrMode, PageContent};
use std::sync::Arc;

/// What a page became: "ocr", "text:<text>" or "empty".
fn outcome(bytes: &[u8], mode: OcrMode) -> String {
    let (_, mut source) = load::open(Arc::new(bytes.to_vec()), &Limits::default()).expect("open");
    match source.load_page(0, mode).expect("page").content {
        PageContent::Ocr(_) => "ocr".into(),
        PageContent::Text(t) => format!("text:{t}"),
        PageContent::Empty { .. } => "empty".into(),
    }
}

const LINE: &str = "Quyet dinh ve viec giao dat cho ho gia dinh";

/// A page with an optional image under a line of text drawn in `render_mode`
/// (0 visible, 3 invisible, as OCR layers are), or no text at all.
fn page(with_image: bool, render_mode: Option<i64>) -> Vec<u8> {
    let mut doc = Document::with_version("1.5");
    let font = doc.add_object(
        dictionary! { "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica" },
    );
    let mut content = String::new();
    let mut xobjects = Dictionary::new();
    if with_image {
        let img = pattern(32, 16);
        let id = doc.add_object(Stream::new(
            dictionary! { "Type" => "XObject", "Subtype" => "Image", "Width" => 32, "Height" => 16,
            "ColorSpace" => "DeviceGray", "BitsPerComponent" => 8 },
            img.into_raw(),
        ));
        xobjects.set("Im0", id);
        content.push_str("q 200 0 0 100 0 0 cm /Im0 Do Q\n");
    }
    if let Some(mode) = render_mode {
        content.push_str(&format!("BT /F1 10 Tf {mode} Tr 10 50 Td ({LINE}) Tj ET\n"));
    }
    let content_id = doc.add_object(Stream::new(Dictionary::new(), content.into_bytes()));
    let page = dictionary! {
        "Contents" => content_id,
        "MediaBox" => vec![0.into(), 0.into(), 200.into(), 100.into()],
        "Resources" => dictionary! { "XObject" => xobjects, "Font" => dictionary! { "F1" => font } },
    };
    one_page_pdf(doc, page)
}

fn check(with_image: bool, render_mode: Option<i64>, mode: OcrMode, expect: &str) {
    let got = outcome(&page(with_image, render_mode), mode);
    let got = if got.starts_with("text:") {
        assert_eq!(got, format!("text:{LINE}"), "text layer content");
        "text".to_owned()
    } else {
        got
    };
    assert_eq!(
        got, expect,
        "image {with_image}, render mode {render_mode:?}, --ocr {mode:?}"
    );
}

#[test]
fn decides_between_text_layer_and_ocr() {
    use OcrMode::*;
    // Born-digital text over a background image: the text is the truth.
    check(true, Some(0), Auto, "text");
    check(true, Some(0), Force, "ocr");
    check(true, Some(0), Skip, "text");
    // An invisible OCR layer (a scanner's): redone in auto, kept when OCR is skipped.
    check(true, Some(3), Auto, "ocr");
    check(true, Some(3), Force, "ocr");
    check(true, Some(3), Skip, "text");
    // Text without an image: nothing to OCR, the text is all there is.
    check(false, Some(0), Auto, "text");
    check(false, Some(0), Force, "text");
    check(false, Some(3), Auto, "text");
    // Image only.
    check(true, None, Auto, "ocr");
    check(true, None, Skip, "empty");
    // Neither: an empty page, not an error.
    check(false, None, Auto, "empty");
}

#[test]
fn born_digital_sample_keeps_its_vietnamese_text() {
    let bytes = std::fs::read(repo_path("samples/thong-bao-ho-tich.pdf")).unwrap();
    let got = outcome(&bytes, OcrMode::Auto);
    let truth = std::fs::read_to_string(repo_path("samples/thong-bao-ho-tich.gt.txt")).unwrap();
    let text = got.strip_prefix("text:").expect("text layer used");
    let cer = sohoa::eval::character_error_rate(&truth, text);
    assert!(cer < 0.01, "text layer CER {cer:.3}: {text}");
}
