//! Text recognition with Tesseract.
//!
//! One engine per worker thread: a `Tesseract` handle is `Send` but not `Sync`, and
//! loading the language models costs ~0.3 s, so each rayon worker keeps its own for the
//! whole run. Tesseract's OpenMP threads are disabled (`OMP_THREAD_LIMIT=1`, see
//! `main.rs`): parallelism is across pages, where it scales, not inside one page.

use image::GrayImage;
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use tesseract::Tesseract;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum OcrError {
    #[error(
        "cannot start Tesseract for languages '{lang}': {reason} (is tesseract-ocr-{lang} installed?)"
    )]
    Init { lang: String, reason: String },
    #[error("Tesseract failed: {0}")]
    Recognize(String),
}

/// A recognized word with its confidence (0–100) and box in page pixels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Word {
    pub text: String,
    pub confidence: f32,
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
}

#[derive(Debug, Clone)]
pub struct OcrOutput {
    pub text: String,
    /// Mean word confidence, 0–100; `None` when no word was found.
    pub mean_confidence: Option<f32>,
    pub words: Vec<Word>,
}

/// Below this resolution Tesseract guesses; scans without a dpi are almost always 300.
const ASSUMED_DPI: f32 = 300.0;

pub struct OcrEngine {
    lang: String,
    tess: Option<Tesseract>,
}

impl OcrEngine {
    pub fn new(lang: &str) -> Result<OcrEngine, OcrError> {
        let tess = Tesseract::new(None, Some(lang)).map_err(|e| OcrError::Init {
            lang: lang.to_owned(),
            reason: e.to_string(),
        })?;
        Ok(OcrEngine {
            lang: lang.to_owned(),
            tess: Some(tess),
        })
    }

    pub fn lang(&self) -> &str {
        &self.lang
    }

    pub fn recognize(
        &mut self,
        image: &GrayImage,
        dpi: Option<f32>,
    ) -> Result<OcrOutput, OcrError> {
        let tess = match self.tess.take() {
            Some(t) => t,
            // A previous failure consumed the handle (the crate's API moves it); start anew.
            None => Tesseract::new(None, Some(&self.lang))
                .map_err(|e| OcrError::Recognize(e.to_string()))?,
        };
        let (w, h) = (image.width() as i32, image.height() as i32);
        let dpi = dpi
            .filter(|d| (50.0..=2400.0).contains(d))
            .unwrap_or(ASSUMED_DPI);
        let mut tess = tess
            .set_frame(image.as_raw(), w, h, 1, w)
            .map_err(|e| OcrError::Recognize(e.to_string()))?
            .set_source_resolution(dpi.round() as i32)
            .recognize()
            .map_err(|e| OcrError::Recognize(e.to_string()))?;
        let text = tess
            .get_text()
            .map_err(|e| OcrError::Recognize(e.to_string()))?;
        let tsv = tess
            .get_tsv_text(0)
            .map_err(|e| OcrError::Recognize(e.to_string()))?;
        self.tess = Some(tess);
        let words = parse_tsv(&tsv);
        let mean_confidence = if words.is_empty() {
            None
        } else {
            Some(words.iter().map(|w| w.confidence).sum::<f32>() / words.len() as f32)
        };
        Ok(OcrOutput {
            text: tidy(&text),
            mean_confidence,
            words,
        })
    }
}

thread_local! {
    static ENGINE: RefCell<Option<OcrEngine>> = const { RefCell::new(None) };
}

/// Runs `f` with this thread's engine for `lang`, creating it on first use.
pub fn with_thread_engine<T>(
    lang: &str,
    f: impl FnOnce(&mut OcrEngine) -> T,
) -> Result<T, OcrError> {
    ENGINE.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.as_ref().is_none_or(|e| e.lang() != lang) {
            *slot = Some(OcrEngine::new(lang)?);
        }
        Ok(f(slot.as_mut().expect("engine just created")))
    })
}

/// Drops this thread's engine (after a panic left it in an unknown state).
pub fn reset_thread_engine() {
    ENGINE.with(|cell| {
        if let Ok(mut slot) = cell.try_borrow_mut() {
            *slot = None;
        }
    });
}

/// Tesseract ends blocks with blank lines and pages with a form feed; keep line
/// structure, drop trailing blanks.
fn tidy(text: &str) -> String {
    let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
    let mut out = String::with_capacity(text.len());
    let mut blank = false;
    for line in lines {
        if line.trim().is_empty() {
            blank = !out.is_empty();
            continue;
        }
        if blank {
            out.push('\n');
            blank = false;
        }
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(line);
    }
    out
}

/// Words (level 5 rows) from Tesseract's TSV output:
/// `level page block par line word left top width height conf text`.
fn parse_tsv(tsv: &str) -> Vec<Word> {
    tsv.lines()
        .filter_map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            if cols.len() < 12 || cols[0] != "5" {
                return None;
            }
            let text = cols[11].trim();
            let confidence: f32 = cols[10].parse().ok()?;
            if text.is_empty() || confidence < 0.0 {
                return None;
            }
            Some(Word {
                text: text.to_owned(),
                confidence,
                x: cols[6].parse().ok()?,
                y: cols[7].parse().ok()?,
                w: cols[8].parse().ok()?,
                h: cols[9].parse().ok()?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tsv_words() {
        let tsv = "1\t1\t0\t0\t0\t0\t0\t0\t100\t100\t-1\t\n\
                   5\t1\t1\t1\t1\t1\t10\t20\t30\t40\t96.5\tQuyết\n\
                   5\t1\t1\t1\t1\t2\t50\t20\t30\t40\t-1\t \n\
                   5\t1\t1\t1\t1\t3\t90\t20\t30\t40\t88\tđịnh\n";
        let words = parse_tsv(tsv);
        assert_eq!(words.len(), 2);
        assert_eq!(words[0].text, "Quyết");
        assert_eq!(words[0].x, 10);
        assert_eq!(words[1].confidence, 88.0);
    }

    #[test]
    fn tidies_text() {
        assert_eq!(tidy("a \nb\n\n\nc\n\u{c}"), "a\nb\n\nc");
        assert_eq!(tidy("\n\nx\n\n"), "x");
    }
}
