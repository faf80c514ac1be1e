//! Text recognition with Tesseract.
//!
//! One engine per worker thread: a Tesseract handle may move between threads but not be
//! shared, and loading the language models costs ~0.3 s, so each rayon worker keeps its
//! own for the whole run. Tesseract's OpenMP threads are disabled (`OMP_THREAD_LIMIT=1`,
//! see `main.rs`): parallelism is across pages, where it scales, not inside one page.
//!
//! The engine talks to Tesseract's C API (`tesseract-sys`) rather than the `tesseract`
//! crate's wrapper, because only the C API accepts a progress monitor: the per-page time
//! limit and abandoning a page on Ctrl-C both need it.

use image::GrayImage;
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::ffi::{CStr, CString, c_void};
use std::os::raw::c_int;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tesseract_sys as sys;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum OcrError {
    #[error("cannot start Tesseract for languages '{lang}' (is tesseract-ocr-{lang} installed?)")]
    Init { lang: String },
    #[error("Tesseract failed: {0}")]
    Recognize(String),
    #[error("OCR ran past the per-page time limit of {0:?}")]
    TimedOut(Duration),
    #[error("OCR abandoned: the run is stopping")]
    Cancelled,
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

/// When to give up on a page.
#[derive(Debug, Clone, Copy)]
pub struct Deadline<'a> {
    pub time_limit: Duration,
    /// Set when the whole run is stopping (Ctrl-C): the page is abandoned.
    pub cancel: Option<&'a AtomicBool>,
}

pub struct OcrEngine {
    lang: String,
    handle: NonNull<sys::TessBaseAPI>,
}

// SAFETY: a TessBaseAPI may be used from any thread, one thread at a time; `OcrEngine`
// is not `Sync` and every use takes `&mut self`.
unsafe impl Send for OcrEngine {}

impl Drop for OcrEngine {
    fn drop(&mut self) {
        // SAFETY: the handle came from TessBaseAPICreate and is deleted once.
        unsafe { sys::TessBaseAPIDelete(self.handle.as_ptr()) };
    }
}

/// Owned text returned by Tesseract, freed with TessDeleteText.
fn take_text(ptr: *mut std::os::raw::c_char) -> Option<String> {
    if ptr.is_null() {
        return None;
    }
    // SAFETY: Tesseract returns a NUL-terminated string we own until TessDeleteText.
    let text = unsafe { CStr::from_ptr(ptr) }
        .to_string_lossy()
        .into_owned();
    unsafe { sys::TessDeleteText(ptr) };
    Some(text)
}

/// Called by Tesseract between words: true stops recognition.
unsafe extern "C" fn cancel_requested(cancel_this: *mut c_void, _words: c_int) -> bool {
    if cancel_this.is_null() {
        return false;
    }
    // SAFETY: `cancel_this` is the `&AtomicBool` set in `recognize`, alive for the call.
    unsafe { &*(cancel_this as *const AtomicBool) }.load(Ordering::Relaxed)
}

impl OcrEngine {
    pub fn new(lang: &str) -> Result<OcrEngine, OcrError> {
        let init = || OcrError::Init {
            lang: lang.to_owned(),
        };
        let c_lang = CString::new(lang).map_err(|_| init())?;
        // SAFETY: plain constructor; checked for null below.
        let handle = NonNull::new(unsafe { sys::TessBaseAPICreate() }).ok_or_else(init)?;
        let engine = OcrEngine {
            lang: lang.to_owned(),
            handle,
        };
        // SAFETY: valid handle and NUL-terminated language; null datapath = default.
        let rc =
            unsafe { sys::TessBaseAPIInit3(handle.as_ptr(), std::ptr::null(), c_lang.as_ptr()) };
        if rc != 0 {
            return Err(init());
        }
        Ok(engine)
    }

    pub fn lang(&self) -> &str {
        &self.lang
    }

    pub fn recognize(
        &mut self,
        image: &GrayImage,
        dpi: Option<f32>,
        deadline: Deadline,
    ) -> Result<OcrOutput, OcrError> {
        let api = self.handle.as_ptr();
        let (w, h) = (image.width() as c_int, image.height() as c_int);
        let dpi = dpi
            .filter(|d| (50.0..=2400.0).contains(d))
            .unwrap_or(ASSUMED_DPI);
        let never = AtomicBool::new(false);
        let cancel = deadline.cancel.unwrap_or(&never);
        let started = Instant::now();
        // SAFETY: the pixel buffer outlives these calls (Tesseract copies it in SetImage);
        // the monitor is created and deleted here, and `cancel` outlives Recognize.
        let rc = unsafe {
            sys::TessBaseAPISetImage(api, image.as_raw().as_ptr(), w, h, 1, w);
            sys::TessBaseAPISetSourceResolution(api, dpi.round() as c_int);
            let monitor = sys::TessMonitorCreate();
            sys::TessMonitorSetCancelThis(monitor, cancel as *const AtomicBool as *mut c_void);
            sys::TessMonitorSetCancelFunc(monitor, Some(cancel_requested));
            let ms = deadline.time_limit.as_millis().min(i32::MAX as u128) as c_int;
            sys::TessMonitorSetDeadlineMSecs(monitor, ms);
            let rc = sys::TessBaseAPIRecognize(api, monitor);
            sys::TessMonitorDelete(monitor);
            rc
        };
        let result = if rc != 0 {
            Err(if cancel.load(Ordering::Relaxed) {
                OcrError::Cancelled
            } else if started.elapsed() >= deadline.time_limit {
                OcrError::TimedOut(deadline.time_limit)
            } else {
                OcrError::Recognize(format!("recognition failed (code {rc})"))
            })
        } else {
            // SAFETY: valid handle after a successful Recognize; texts are freed by take_text.
            let text = take_text(unsafe { sys::TessBaseAPIGetUTF8Text(api) });
            let tsv = take_text(unsafe { sys::TessBaseAPIGetTsvText(api, 0) });
            match (text, tsv) {
                (Some(text), Some(tsv)) => {
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
                _ => Err(OcrError::Recognize("no text returned".into())),
            }
        };
        // SAFETY: frees this page's results; the engine stays initialized.
        unsafe { sys::TessBaseAPIClear(api) };
        result
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
