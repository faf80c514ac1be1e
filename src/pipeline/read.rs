//! Reading one page: preparation, OCR (with the orientation retry), text layers, and the
//! analysis of a document's text; every panic caught as that page's failure.

use super::*;

/// What workers need to know to read a page.
#[derive(Clone, Copy)]
pub(super) struct OcrSettings<'a> {
    pub(super) lang: &'a str,
    pub(super) deadline: ocr::Deadline<'a>,
    pub(super) prepare: PrepareConfig,
}

/// Runs `read`, turning a panic into the page's failure: one page, not the batch.
pub(super) fn read_page_caught(number: u32, read: impl FnOnce() -> NewPage) -> NewPage {
    match catch_unwind(AssertUnwindSafe(read)) {
        Ok(page) => page,
        Err(panic) => {
            // The engine may be left in any state: start a fresh one next time.
            ocr::reset_thread_engine();
            let mut page = empty_page(number);
            page.error = Some(format!(
                "internal error while reading the page: {}",
                panic_message(&*panic)
            ));
            page
        }
    }
}

pub(super) fn empty_page(number: u32) -> NewPage {
    NewPage {
        number,
        text: String::new(),
        confidence: None,
        width: None,
        height: None,
        dpi: None,
        source: TextSource::None,
        error: None,
        note: None,
        words: Vec::new(),
        image_sha256: None,
        preparation: None,
    }
}

pub(super) fn to_new_page(
    page: Result<LoadedPage, LoadError>,
    number: u32,
    settings: OcrSettings,
) -> NewPage {
    let mut new = empty_page(number);
    let page = match page {
        Ok(p) => p,
        Err(e) => {
            new.error = Some(e.to_string());
            return new;
        }
    };
    new.width = page.width;
    new.height = page.height;
    new.dpi = page.dpi;
    match page.content {
        PageContent::Text(text) => {
            new.text = text;
            new.source = TextSource::TextLayer;
        }
        PageContent::Empty { reason } => new.note = Some(reason),
        PageContent::Ocr(image) => {
            // The fixity of what was read: the decoded pixels, not the file's encoding.
            new.image_sha256 = Some(crate::authenticity::pixels_sha256(
                image.width(),
                image.height(),
                image.as_raw(),
            ));
            let recognized = ocr::with_thread_engine(settings.lang, |engine| {
                recognize_prepared(engine, image, page.dpi, settings.prepare, settings.deadline)
            });
            match recognized {
                Ok(Ok((Some(out), preparation))) => {
                    new.text = out.text;
                    new.confidence = out.mean_confidence;
                    new.words = out.words;
                    new.source = TextSource::Ocr;
                    new.preparation = Some(preparation);
                }
                Ok(Ok((None, preparation))) => {
                    new.note = Some(BLANK_PAGE_NOTE.into());
                    new.preparation = Some(preparation);
                }
                Ok(Err(e)) | Err(e) => new.error = Some(e.to_string()),
            }
        }
    }
    new
}

/// OCR confidence under which a page is checked for being upside down (which pixel
/// statistics cannot see): clean upright pages read at 90+, upside-down ones near 60.
pub(super) const RECHECK_ORIENTATION_BELOW: f32 = 80.0;

/// Prepares a page and reads it: `None` for a blank page. A page read with low
/// confidence is asked for its orientation and, if turned, read again turned; the
/// reading with the higher confidence is kept.
pub fn recognize_prepared(
    engine: &mut OcrEngine,
    image: image::GrayImage,
    file_dpi: Option<f32>,
    config: PrepareConfig,
    deadline: ocr::Deadline,
) -> Result<(Option<ocr::OcrOutput>, Preparation), OcrError> {
    if !config.enabled {
        let p = prepare::unprepared(image, file_dpi);
        let page = p.image.as_ref().expect("unprepared pages keep their image");
        let out = engine.recognize(page, Some(p.dpi), deadline)?;
        return Ok((Some(out), p.record));
    }
    // Kept for a second, turned reading; a page image is a few megabytes.
    let original = image.clone();
    let mut unavailable = None;
    let first = {
        let mut detect =
            |page: &image::GrayImage, dpi: f32| match engine.detect_orientation(page, dpi) {
                Ok(found) => found,
                Err(e) => {
                    unavailable = Some(e.to_string());
                    None
                }
            };
        prepare_caught(image, &original, file_dpi, None, &mut detect)
    };
    let mut first = first;
    if let Some(e) = unavailable {
        first.record.note = Some(format!("orientation not checked: {e}"));
    }
    let Some(page) = &first.image else {
        return Ok((None, first.record));
    };
    let out = engine.recognize(page, Some(first.dpi), deadline)?;
    let confidence = out.mean_confidence.unwrap_or(0.0);
    if confidence >= RECHECK_ORIENTATION_BELOW || first.record.rotation != 0 {
        return Ok((Some(out), first.record));
    }
    let mut record = first.record;
    let (turn, turn_confidence) = match engine.detect_orientation(page, first.dpi) {
        Ok(Some(found)) => found,
        Ok(None) => return Ok((Some(out), record)),
        Err(e) => {
            record.note = Some(format!("orientation not checked: {e}"));
            return Ok((Some(out), record));
        }
    };
    record.orientation_confidence = Some(turn_confidence);
    if turn == 0 || turn_confidence < prepare::MIN_ORIENTATION_CONFIDENCE {
        return Ok((Some(out), record));
    }
    let mut asked_already = |_: &image::GrayImage, _: f32| None;
    let mut second = prepare_caught(
        original.clone(),
        &original,
        file_dpi,
        Some(turn),
        &mut asked_already,
    );
    let Some(turned) = &second.image else {
        return Ok((Some(out), record));
    };
    let again = engine.recognize(turned, Some(second.dpi), deadline)?;
    if again.mean_confidence.unwrap_or(0.0) > confidence {
        second.record.orientation_confidence = Some(turn_confidence);
        Ok((Some(again), second.record))
    } else {
        Ok((Some(out), record))
    }
}

/// `prepare::prepare`, and if it panics on some unforeseen page, the page as decoded
/// (`original`) with a note: preparation is an improvement, never a reason to lose a page.
pub(super) fn prepare_caught(
    image: image::GrayImage,
    original: &image::GrayImage,
    file_dpi: Option<f32>,
    turn: Option<u16>,
    detect: prepare::DetectOrientation,
) -> prepare::Prepared {
    match catch_unwind(AssertUnwindSafe(|| {
        prepare::prepare(image, file_dpi, turn, detect)
    })) {
        Ok(prepared) => prepared,
        Err(panic) => {
            let mut p = prepare::unprepared(original.clone(), file_dpi);
            p.record.note = Some(format!(
                "preparation failed ({}); the page was read as decoded",
                panic_message(&*panic)
            ));
            p
        }
    }
}

/// Fields and classification from a document's text (all pages, in order), the fields
/// looked for where its layout (`zones`) puts them.
pub fn analyze(classifier: &Classifier, text: &str, zones: &Zones) -> Analysis {
    Analysis {
        fields: fields::extract_in(text, zones),
        classification: classifier.classify(text),
    }
}

/// A document's text: its pages' text in order, one line break apart.
pub fn document_text<'a>(pages: impl IntoIterator<Item = &'a str>) -> String {
    pages.into_iter().collect::<Vec<_>>().join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_while_reading_a_page_is_that_pages_failure() {
        let page = read_page_caught(3, || panic!("decoder bug"));
        assert_eq!(page.number, 3);
        assert_eq!(page.source, TextSource::None);
        let error = page.error.unwrap();
        assert!(
            error.contains("internal error") && error.contains("decoder bug"),
            "{error}"
        );
        let fine = read_page_caught(4, || empty_page(4));
        assert!(fine.error.is_none());
    }
}
