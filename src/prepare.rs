//! Page preparation: what a scanned page needs before OCR reads it well and fast.
//!
//! Pure functions on pixels: no I/O, no threads. Orientation is the one question pixels
//! statistics cannot answer (upright and upside-down text have the same profiles), so
//! the caller passes Tesseract's orientation detection in as a closure.
//!
//! Order, each step deciding from the page itself:
//! 1. analyse a small copy (~150 dpi): paper and ink levels, character-sized blobs;
//!    a page without them is blank and is not read at all;
//! 2. resolution: the file's dpi, else estimated from the blobs' height (Vietnamese
//!    administrative text is set in 13–14 pt by decree); pages far from 300 dpi are
//!    resampled toward it;
//! 3. orientation (quarter turns), then skew (projection of blob baselines);
//! 4. clean-up only for poor scans: dark scanner borders whitened; noisy pages
//!    median-filtered and binarized with Sauvola's local threshold. Faint but clean
//!    pages are left alone: Tesseract reads them as well as the originals (measured by
//!    `scripts/bench-prepare`; stretching or binarizing them made things worse).
//!
//! Every decision is kept in [`Preparation`], which also maps OCR word boxes back onto
//! the original image (the searchable PDF lays text over the original pixels).

use image::GrayImage;
use image::imageops::FilterType;
use serde::{Deserialize, Serialize};

/// The resolution OCR is given pages at; Tesseract's models are trained near it.
pub const TARGET_DPI: f32 = 300.0;
/// Above this, pages are downscaled toward `TARGET_DPI`: 600 dpi OCRs four times slower
/// and no better.
pub const MAX_DPI: f32 = 400.0;
/// Below this, pages are upscaled toward `TARGET_DPI`: 13 pt letters at 150 dpi are
/// 12 px high, under the size Tesseract reads reliably.
pub const MIN_DPI: f32 = 200.0;
/// Resolutions this close to the limits count as within them.
const DPI_SLACK: f32 = 2.0;
/// Resolution of the analysis copy: enough to see 13 pt letters as blobs ~14 px high.
const ANALYSIS_DPI: f32 = 150.0;
/// Character-sized blobs a page needs not to be blank: a single short word has more;
/// scanner dust and a punched hole have fewer.
const MIN_TEXT_BLOBS: usize = 8;
/// Ink is at least this much darker than the paper (of 255), and three times the
/// paper's own noise: paper texture and scanner noise are not ink, faint text is (pages
/// with ink only 30 levels darker than the paper still OCR well).
const MIN_INK_CONTRAST: u8 = 16;
/// Median blob height (inches) of 13–14 pt text, letters and the detached Vietnamese
/// marks together, measured on the samples at their known 300 dpi.
const TYPICAL_BLOB_HEIGHT_IN: f32 = 0.085;
/// Skews smaller than this are left alone: Tesseract copes, and resampling blurs (a
/// 0.45° turn of a real 200 dpi scan cost its document number a digit).
const MIN_DESKEW_DEGREES: f32 = 1.0;
/// Largest skew looked for, either way.
const MAX_SKEW_DEGREES: f32 = 10.0;
/// Orientation detection below this confidence turns nothing (Tesseract's OSD gives
/// clear pages 5–30; OCRmyPDF's default threshold is 14 on a different scale).
pub const MIN_ORIENTATION_CONFIDENCE: f32 = 2.0;
/// How much sharper columns must be than rows for a page to count as sideways.
const SIDEWAYS_RATIO: f64 = 1.3;
/// Standard deviation of the paper above which a page counts as noisy.
const NOISY_PAPER_STDDEV: f32 = 16.0;
/// Where a page's resolution came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DpiSource {
    /// The file said so (and it was plausible).
    File,
    /// Estimated from the height of the text.
    Estimated,
    /// Neither: a blank or textless page, taken as 300 dpi.
    Assumed,
}

/// What preparation found and did to one page; stored with the page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Preparation {
    /// The page as decoded, in pixels.
    pub original_size: [u32; 2],
    /// The page's resolution and where that figure came from.
    pub dpi: f32,
    pub dpi_source: DpiSource,
    /// Resampling applied (1.0: none).
    pub scale: f32,
    /// Clockwise quarter turn applied to stand the page upright: 0, 90, 180 or 270.
    pub rotation: u16,
    /// Tesseract's orientation confidence, when it was asked and answered.
    pub orientation_confidence: Option<f32>,
    /// Skew measured, degrees (positive: lines fall to the right).
    pub skew: f32,
    /// Whether the skew was corrected (small skews are left alone).
    pub deskewed: bool,
    /// Paper and ink levels (0–255) and the paper's noise, the clean-up's evidence.
    pub paper: u8,
    pub ink: u8,
    pub noise: f32,
    /// Dark scanner borders whitened.
    pub border_removed: bool,
    /// Clean-up of a poor scan: why, and what was done.
    pub cleaned: Option<String>,
    /// No text on the page: stored as blank, not OCR'd.
    pub blank: bool,
    /// The image OCR read, in pixels (after every step).
    pub prepared_size: [u32; 2],
    /// Something preparation could not do (e.g. the orientation model is missing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A page ready for OCR.
pub struct Prepared {
    /// `None` for a blank page.
    pub image: Option<GrayImage>,
    /// The resolution of `image`.
    pub dpi: f32,
    pub record: Preparation,
}

/// Preparation switched on or off (`--prepare off` gives v1's behaviour).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrepareConfig {
    pub enabled: bool,
}

impl Default for PrepareConfig {
    fn default() -> Self {
        PrepareConfig { enabled: true }
    }
}

/// Asks for a page's orientation: the clockwise turn (0, 90, 180, 270) that makes it
/// upright, and a confidence; `None` when it cannot tell.
pub type DetectOrientation<'a> = &'a mut dyn FnMut(&GrayImage, f32) -> Option<(u16, f32)>;

/// Prepares `image` for OCR. `file_dpi` is what the file claims; `turn`, a quarter turn
/// already decided (OCR read the page upside down), else `detect_orientation` is asked
/// when the page looks sideways.
pub fn prepare(
    image: GrayImage,
    file_dpi: Option<f32>,
    turn: Option<u16>,
    detect_orientation: DetectOrientation,
) -> Prepared {
    let original_size = [image.width(), image.height()];
    let levels = Levels::of(&image);
    // Pages of unknown resolution are taken as A4 (short side 8.27 in) for the analysis
    // copy only.
    let short_side = image.width().min(image.height()).max(1) as f32;
    let guess_dpi = plausible_dpi(file_dpi).unwrap_or(short_side / 8.27);
    let factor = ((guess_dpi / ANALYSIS_DPI).round() as u32).max(1);
    let small = shrink(&image, factor);
    let blobs = find_blobs(&small, &levels);
    let sideways = is_sideways(&blobs, guess_dpi / factor as f32);

    let (dpi, dpi_source) = match plausible_dpi(file_dpi) {
        Some(d) => (d, DpiSource::File),
        None => match estimate_dpi(&blobs, factor, sideways) {
            Some(d) => (d, DpiSource::Estimated),
            None => (TARGET_DPI, DpiSource::Assumed),
        },
    };
    let analysis_dpi = dpi / factor as f32;
    let text_blobs = blobs
        .iter()
        .filter(|b| b.is_character(analysis_dpi))
        .count();
    let mut record = Preparation {
        original_size,
        dpi,
        dpi_source,
        scale: 1.0,
        rotation: 0,
        orientation_confidence: None,
        skew: 0.0,
        deskewed: false,
        paper: levels.paper,
        ink: levels.ink,
        noise: levels.paper_noise,
        border_removed: false,
        cleaned: None,
        blank: false,
        prepared_size: original_size,
        note: None,
    };
    if text_blobs < MIN_TEXT_BLOBS {
        record.blank = true;
        return Prepared {
            image: None,
            dpi,
            record,
        };
    }

    // Resolution.
    let mut image = image;
    let mut out_dpi = dpi;
    // A PDF page's resolution is the image over the page size: 199.97 is 200.
    if !(MIN_DPI - DPI_SLACK..=MAX_DPI + DPI_SLACK).contains(&dpi) {
        let scale = TARGET_DPI / dpi;
        let w = ((image.width() as f32 * scale).round() as u32).max(1);
        let h = ((image.height() as f32 * scale).round() as u32).max(1);
        let filter = if scale < 1.0 {
            FilterType::Triangle
        } else {
            FilterType::CatmullRom
        };
        image = image::imageops::resize(&image, w, h, filter);
        record.scale = w as f32 / original_size[0] as f32;
        out_dpi = TARGET_DPI;
    }

    // Orientation: a turn decided by the caller, else asked for sideways pages only.
    let mut blobs = blobs;
    let turn = match turn {
        Some(t) => Some(t),
        None if sideways => match detect_orientation(&image, out_dpi) {
            Some((t, confidence)) => {
                record.orientation_confidence = Some(confidence);
                (confidence >= MIN_ORIENTATION_CONFIDENCE).then_some(t)
            }
            None => None,
        },
        None => None,
    };
    if let Some(turn @ (90 | 180 | 270)) = turn {
        image = quarter_turn(&image, turn);
        blobs = find_blobs(&quarter_turn(&small, turn), &levels);
        record.rotation = turn;
    }

    // Skew.
    let skew = measure_skew(&blobs, analysis_dpi);
    record.skew = skew;
    if skew.abs() >= MIN_DESKEW_DEGREES {
        image = rotate_expanding(&image, -skew, levels.paper);
        record.deskewed = true;
    }

    // Clean-up.
    record.border_removed = remove_borders(&mut image, &levels);
    if levels.paper_noise > NOISY_PAPER_STDDEV {
        // Noise: a median takes the specks, Sauvola's local threshold the grain.
        image = sauvola(&stretch(&median3(&image), &levels), out_dpi);
        record.cleaned = Some(format!(
            "noisy paper (deviation {:.0} > {NOISY_PAPER_STDDEV}): median filter, Sauvola binarization",
            levels.paper_noise
        ));
    }
    record.prepared_size = [image.width(), image.height()];
    Prepared {
        image: Some(image),
        dpi: out_dpi,
        record,
    }
}

/// The page untouched, recorded as such (preparation switched off).
pub fn unprepared(image: GrayImage, file_dpi: Option<f32>) -> Prepared {
    let size = [image.width(), image.height()];
    let dpi = plausible_dpi(file_dpi);
    Prepared {
        dpi: dpi.unwrap_or(TARGET_DPI),
        record: Preparation {
            original_size: size,
            dpi: dpi.unwrap_or(TARGET_DPI),
            dpi_source: if dpi.is_some() {
                DpiSource::File
            } else {
                DpiSource::Assumed
            },
            scale: 1.0,
            rotation: 0,
            orientation_confidence: None,
            skew: 0.0,
            deskewed: false,
            paper: 255,
            ink: 0,
            noise: 0.0,
            border_removed: false,
            cleaned: None,
            blank: false,
            prepared_size: size,
            note: None,
        },
        image: Some(image),
    }
}

/// A claimed resolution worth believing: 72 and 96 are what software writes when it
/// does not know, and no scanner works below 100 dpi.
fn plausible_dpi(dpi: Option<f32>) -> Option<f32> {
    dpi.filter(|d| (100.0..=2400.0).contains(d))
}

impl Preparation {
    /// One line for `sohoa show`: what was found and what was done.
    pub fn describe(&self) -> String {
        if self.blank {
            return "blank page (no character-sized marks), not OCR'd".into();
        }
        let source = match self.dpi_source {
            DpiSource::File => "from the file",
            DpiSource::Estimated => "estimated from the text",
            DpiSource::Assumed => "assumed",
        };
        let mut facts = vec![format!("{:.0} dpi ({source})", self.dpi)];
        if self.scale != 1.0 {
            facts.push(format!("resampled ×{:.2}", self.scale));
        }
        match (self.rotation, self.orientation_confidence) {
            (0, _) => {}
            (r, Some(c)) => facts.push(format!("turned {r}° (orientation confidence {c:.1})")),
            (r, None) => facts.push(format!("turned {r}°")),
        }
        if self.deskewed {
            facts.push(format!("deskewed {:.2}°", self.skew));
        } else if self.skew != 0.0 {
            facts.push(format!("skew {:.2}° left as is", self.skew));
        }
        if self.border_removed {
            facts.push("dark borders whitened".into());
        }
        if let Some(reason) = &self.cleaned {
            facts.push(format!("cleaned: {reason}"));
        }
        if let Some(note) = &self.note {
            facts.push(note.clone());
        }
        facts.join(", ")
    }

    /// Sizes after each step, for mapping points between the original and OCR's image.
    fn stages(&self) -> ([f32; 2], [f32; 2], [f32; 2]) {
        let scaled = [
            (self.original_size[0] as f32 * self.scale).round().max(1.0),
            (self.original_size[1] as f32 * self.scale).round().max(1.0),
        ];
        let turned = if self.rotation % 180 == 90 {
            [scaled[1], scaled[0]]
        } else {
            scaled
        };
        let last = [self.prepared_size[0] as f32, self.prepared_size[1] as f32];
        (scaled, turned, last)
    }

    fn scale_xy(&self) -> (f32, f32) {
        let (scaled, _, _) = self.stages();
        (
            scaled[0] / self.original_size[0].max(1) as f32,
            scaled[1] / self.original_size[1].max(1) as f32,
        )
    }

    /// A point of the original image → the same point in the image OCR read.
    pub fn to_prepared(&self, x: f32, y: f32) -> (f32, f32) {
        let (scaled, turned, last) = self.stages();
        let (sx, sy) = self.scale_xy();
        let (x, y) = (x * sx, y * sy);
        let (w, h) = (scaled[0], scaled[1]);
        let (x, y) = match self.rotation {
            90 => (h - y, x),
            180 => (w - x, h - y),
            270 => (y, w - x),
            _ => (x, y),
        };
        if !self.deskewed {
            return (x, y);
        }
        let (s, c) = (-self.skew).to_radians().sin_cos();
        let (dx, dy) = (x - turned[0] / 2.0, y - turned[1] / 2.0);
        (
            c * dx - s * dy + last[0] / 2.0,
            s * dx + c * dy + last[1] / 2.0,
        )
    }

    /// A point of the image OCR read → the same point in the original image.
    pub fn to_original(&self, x: f32, y: f32) -> (f32, f32) {
        let (scaled, turned, last) = self.stages();
        let (x, y) = if self.deskewed {
            let (s, c) = (-self.skew).to_radians().sin_cos();
            let (dx, dy) = (x - last[0] / 2.0, y - last[1] / 2.0);
            (
                c * dx + s * dy + turned[0] / 2.0,
                -s * dx + c * dy + turned[1] / 2.0,
            )
        } else {
            (x, y)
        };
        let (w, h) = (scaled[0], scaled[1]);
        let (x, y) = match self.rotation {
            90 => (y, h - x),
            180 => (w - x, h - y),
            270 => (w - y, x),
            _ => (x, y),
        };
        let (sx, sy) = self.scale_xy();
        (x / sx, y / sy)
    }

    /// The direction, in the original image, of a line OCR read left to right, as an
    /// angle in degrees (image axes: x right, y down).
    pub fn text_angle(&self) -> f32 {
        let (x0, y0) = self.to_original(0.0, 0.0);
        let (x1, y1) = self.to_original(100.0, 0.0);
        (y1 - y0).atan2(x1 - x0).to_degrees()
    }
}

/// Paper and ink levels of a page, from its histogram.
#[derive(Debug, Clone, Copy)]
struct Levels {
    /// The paper: the most common level of the bright part.
    paper: u8,
    /// The ink: the darkest 0.5 % of pixels.
    ink: u8,
    /// Ink is darker than this.
    threshold: u8,
    /// Standard deviation of the pixels around the paper level.
    paper_noise: f32,
}

/// How many pixels have each level, from every `row_step`-th row.
pub(crate) fn histogram(image: &GrayImage, row_step: usize) -> [u64; 256] {
    let mut histogram = [0u64; 256];
    for row in image.rows().step_by(row_step) {
        for p in row {
            histogram[p.0[0] as usize] += 1;
        }
    }
    histogram
}

/// The most common level from `from` up: the paper, when `from` is below it.
pub(crate) fn commonest_level(histogram: &[u64; 256], from: usize) -> u8 {
    (from..256).max_by_key(|&v| histogram[v]).unwrap_or(255) as u8
}

/// The level of the darkest pixel in `one_in` (the ink's level).
pub(crate) fn darkest_level(histogram: &[u64; 256], one_in: u64) -> u8 {
    let total: u64 = histogram.iter().sum::<u64>().max(1);
    let mut seen = 0;
    for (v, n) in histogram.iter().enumerate() {
        seen += n;
        if seen * one_in >= total {
            return v as u8;
        }
    }
    0
}

/// Maps `ink` and below to black and `white` and above to white, linearly between.
pub(crate) fn stretch_levels(image: &mut GrayImage, ink: f32, white: f32) {
    let table: Vec<u8> = (0..256)
        .map(|v| ((v as f32 - ink) * 255.0 / (white - ink)).clamp(0.0, 255.0) as u8)
        .collect();
    for p in image.pixels_mut() {
        p.0[0] = table[p.0[0] as usize];
    }
}

impl Levels {
    fn of(image: &GrayImage) -> Levels {
        // Every fourth row is plenty for a histogram and four times cheaper.
        let histogram = histogram(image, 4);
        let total: u64 = histogram.iter().sum::<u64>().max(1);
        let otsu = otsu(&histogram, total);
        let paper = commonest_level(&histogram, otsu as usize);
        let ink = darkest_level(&histogram, 200);
        // The paper's spread: pixels above the Otsu threshold, around their mean.
        let bright: Vec<(usize, u64)> = (otsu as usize + 1..256)
            .map(|v| (v, histogram[v]))
            .collect();
        let n: u64 = bright.iter().map(|b| b.1).sum::<u64>().max(1);
        let mean = bright
            .iter()
            .map(|(v, c)| *v as f64 * *c as f64)
            .sum::<f64>()
            / n as f64;
        let var = bright
            .iter()
            .map(|(v, c)| (*v as f64 - mean).powi(2) * *c as f64)
            .sum::<f64>()
            / n as f64;
        // Ink must stand clear of the paper and its noise whatever Otsu says (on a blank
        // page Otsu splits the noise).
        let margin = (3.0 * var.sqrt()).max(MIN_INK_CONTRAST as f64).min(255.0) as u8;
        let threshold = otsu.min(paper.saturating_sub(margin));
        Levels {
            paper,
            ink,
            threshold,
            paper_noise: var.sqrt() as f32,
        }
    }
}

/// Otsu's threshold: the level that best separates the histogram into two classes.
fn otsu(histogram: &[u64; 256], total: u64) -> u8 {
    let sum: f64 = histogram
        .iter()
        .enumerate()
        .map(|(v, n)| v as f64 * *n as f64)
        .sum();
    let (mut sum_b, mut w_b, mut best, mut best_t) = (0.0, 0u64, -1.0, 128u8);
    for (t, n) in histogram.iter().enumerate() {
        w_b += n;
        if w_b == 0 {
            continue;
        }
        let w_f = total - w_b;
        if w_f == 0 {
            break;
        }
        sum_b += t as f64 * *n as f64;
        let m_b = sum_b / w_b as f64;
        let m_f = (sum - sum_b) / w_f as f64;
        let between = w_b as f64 * w_f as f64 * (m_b - m_f).powi(2);
        if between > best {
            best = between;
            best_t = t as u8;
        }
    }
    best_t
}

/// Box-filter downscale by an integer factor.
fn shrink(image: &GrayImage, factor: u32) -> GrayImage {
    if factor <= 1 {
        return image.clone();
    }
    let (w, h) = (image.width() / factor, image.height() / factor);
    let (w, h) = (w.max(1), h.max(1));
    let area = factor * factor;
    let mut out = GrayImage::new(w, h);
    let raw = image.as_raw();
    let stride = image.width() as usize;
    for y in 0..h {
        for x in 0..w {
            let mut sum = 0u32;
            for dy in 0..factor {
                let row = ((y * factor + dy) as usize).min(image.height() as usize - 1) * stride;
                for dx in 0..factor {
                    let col = ((x * factor + dx) as usize).min(stride - 1);
                    sum += raw[row + col] as u32;
                }
            }
            out.put_pixel(x, y, image::Luma([(sum / area) as u8]));
        }
    }
    out
}

/// A connected run of ink pixels, by its bounding box.
#[derive(Debug, Clone, Copy)]
struct Blob {
    x0: u32,
    y0: u32,
    x1: u32,
    y1: u32,
    pixels: u32,
}

impl Blob {
    fn height(&self) -> u32 {
        self.y1 - self.y0 + 1
    }
    fn width(&self) -> u32 {
        self.x1 - self.x0 + 1
    }
    /// Sized like a letter or a word part at `dpi` (not dust, not a rule or a photo).
    fn is_character(&self, dpi: f32) -> bool {
        let h = self.height() as f32 / dpi;
        let w = self.width() as f32 / dpi;
        (0.03..=0.6).contains(&h) && w <= 1.5 && self.pixels >= 4
    }
}

/// Ink blobs (8-connected) of an analysis copy.
fn find_blobs(image: &GrayImage, levels: &Levels) -> Vec<Blob> {
    let (w, h) = (image.width() as usize, image.height() as usize);
    let raw = image.as_raw();
    let mut seen = vec![false; w * h];
    let mut blobs = Vec::new();
    let mut stack = Vec::new();
    for start in 0..w * h {
        if seen[start] || raw[start] > levels.threshold {
            continue;
        }
        seen[start] = true;
        stack.push(start);
        let (sx, sy) = ((start % w) as u32, (start / w) as u32);
        let mut blob = Blob {
            x0: sx,
            y0: sy,
            x1: sx,
            y1: sy,
            pixels: 0,
        };
        while let Some(i) = stack.pop() {
            let (x, y) = (i % w, i / w);
            blob.pixels += 1;
            blob.x0 = blob.x0.min(x as u32);
            blob.x1 = blob.x1.max(x as u32);
            blob.y0 = blob.y0.min(y as u32);
            blob.y1 = blob.y1.max(y as u32);
            for ny in y.saturating_sub(1)..=(y + 1).min(h - 1) {
                for nx in x.saturating_sub(1)..=(x + 1).min(w - 1) {
                    let j = ny * w + nx;
                    if !seen[j] && raw[j] <= levels.threshold {
                        seen[j] = true;
                        stack.push(j);
                    }
                }
            }
        }
        blobs.push(blob);
    }
    blobs
}

/// The page's resolution from its text's height (measured across the page when it is
/// `sideways`), `None` without enough text.
fn estimate_dpi(blobs: &[Blob], factor: u32, sideways: bool) -> Option<f32> {
    // Candidate letters at any resolution from 75 to 1200 dpi: not dust, not rules.
    let mut heights: Vec<u32> = blobs
        .iter()
        .map(|b| {
            if sideways {
                (b.width(), b.height(), b.pixels)
            } else {
                (b.height(), b.width(), b.pixels)
            }
        })
        .filter(|&(h, w, pixels)| pixels >= 4 && h >= 3 && w <= 4 * h)
        .map(|(h, _, _)| h)
        .collect();
    if heights.len() < MIN_TEXT_BLOBS * 4 {
        return None;
    }
    heights.sort_unstable();
    let median = heights[heights.len() / 2] as f32 * factor as f32;
    let dpi = median / TYPICAL_BLOB_HEIGHT_IN;
    Some((dpi / 25.0).round() * 25.0).filter(|d| (50.0..=1600.0).contains(d))
}

/// Where blobs sit: the middle of their bottom edge (a letter's baseline).
fn baselines(blobs: &[Blob], dpi: f32) -> Vec<(f32, f32)> {
    blobs
        .iter()
        .filter(|b| b.is_character(dpi))
        .map(|b| ((b.x0 + b.x1) as f32 / 2.0, b.y1 as f32))
        .collect()
}

/// How sharply `points` pile up into lines at `degrees`, projected across them in bins
/// of `bin` pixels: the sum of squared bin counts.
fn line_score(points: &[(f32, f32)], degrees: f32, bin: f32) -> f64 {
    let (s, c) = degrees.to_radians().sin_cos();
    let mut bins = std::collections::HashMap::<i32, u32>::new();
    for (x, y) in points {
        *bins
            .entry(((y * c - x * s) / bin).floor() as i32)
            .or_default() += 1;
    }
    bins.values().map(|&n| (n as f64).powi(2)).sum()
}

/// The angle in `from..=to` (by `step`) where lines are sharpest; ties go to the
/// smallest angle (rotating for nothing only blurs).
fn sharpest(points: &[(f32, f32)], bin: f32, from: f32, to: f32, step: f32) -> (f32, f64) {
    let mut best = (0.0, f64::MIN);
    let mut a = from;
    while a <= to + step / 2.0 {
        let s = line_score(points, a, bin);
        if s > best.1 || (s == best.1 && a.abs() < f32::abs(best.0)) {
            best = (a, s);
        }
        a += step;
    }
    best
}

/// The angle (degrees) of the text lines: the one at which blob baselines, projected
/// across the lines, pile up most sharply.
fn measure_skew(blobs: &[Blob], dpi: f32) -> f32 {
    let points = baselines(blobs, dpi);
    if points.len() < MIN_TEXT_BLOBS {
        return 0.0;
    }
    let bin = (dpi * 0.02).max(1.0);
    let (coarse, _) = sharpest(&points, bin, -MAX_SKEW_DEGREES, MAX_SKEW_DEGREES, 0.5);
    let (fine, _) = sharpest(&points, bin, coarse - 0.5, coarse + 0.5, 0.05);
    (fine * 100.0).round() / 100.0
}

/// Whether the text runs up or down the page: blob centres line up sharper in columns
/// than in rows. Cheap, so only such pages pay for orientation detection up front
/// (upside-down pages look upright to projections; OCR's confidence catches them).
fn is_sideways(blobs: &[Blob], dpi: f32) -> bool {
    let centres: Vec<(f32, f32)> = blobs
        .iter()
        .filter(|b| b.is_character(dpi))
        .map(|b| ((b.x0 + b.x1) as f32 / 2.0, (b.y0 + b.y1) as f32 / 2.0))
        .collect();
    if centres.len() < MIN_TEXT_BLOBS {
        return false;
    }
    let transposed: Vec<(f32, f32)> = centres.iter().map(|&(x, y)| (y, x)).collect();
    let bin = (dpi * 0.02).max(1.0);
    let (_, rows) = sharpest(&centres, bin, -MAX_SKEW_DEGREES, MAX_SKEW_DEGREES, 1.0);
    let (_, columns) = sharpest(&transposed, bin, -MAX_SKEW_DEGREES, MAX_SKEW_DEGREES, 1.0);
    columns > rows * SIDEWAYS_RATIO
}

/// Turns `image` clockwise by 90, 180 or 270 degrees.
pub fn quarter_turn(image: &GrayImage, degrees: u16) -> GrayImage {
    match degrees {
        90 => image::imageops::rotate90(image),
        180 => image::imageops::rotate180(image),
        270 => image::imageops::rotate270(image),
        _ => image.clone(),
    }
}

/// Rotates by `degrees` (positive: clockwise on screen) about the centre, growing the
/// canvas so no corner is cut, filling with `paper`; bilinear.
pub fn rotate_expanding(image: &GrayImage, degrees: f32, paper: u8) -> GrayImage {
    let (w, h) = (image.width() as f32, image.height() as f32);
    let (s, c) = degrees.to_radians().sin_cos();
    let out_w = (w * c.abs() + h * s.abs()).ceil() as u32;
    let out_h = (w * s.abs() + h * c.abs()).ceil() as u32;
    let mut out = GrayImage::from_pixel(out_w, out_h, image::Luma([paper]));
    let raw = image.as_raw();
    let stride = image.width() as usize;
    let (iw, ih) = (image.width() as i64, image.height() as i64);
    let sample = |x: i64, y: i64| -> f32 {
        if x < 0 || y < 0 || x >= iw || y >= ih {
            paper as f32
        } else {
            raw[y as usize * stride + x as usize] as f32
        }
    };
    let (ocx, ocy) = (out_w as f32 / 2.0, out_h as f32 / 2.0);
    for (oy, row) in out.as_mut().chunks_mut(out_w as usize).enumerate() {
        let dy = oy as f32 + 0.5 - ocy;
        for (ox, px) in row.iter_mut().enumerate() {
            let dx = ox as f32 + 0.5 - ocx;
            // Inverse rotation: where this output pixel comes from.
            let sx = c * dx + s * dy + w / 2.0 - 0.5;
            let sy = -s * dx + c * dy + h / 2.0 - 0.5;
            let (x0, y0) = (sx.floor(), sy.floor());
            let (fx, fy) = (sx - x0, sy - y0);
            let (x0, y0) = (x0 as i64, y0 as i64);
            let top = sample(x0, y0) * (1.0 - fx) + sample(x0 + 1, y0) * fx;
            let bottom = sample(x0, y0 + 1) * (1.0 - fx) + sample(x0 + 1, y0 + 1) * fx;
            *px = (top * (1.0 - fy) + bottom * fy).round() as u8;
        }
    }
    out
}

/// Whitens dark scanner borders: edge rows and columns that are mostly ink, up to a
/// tenth of the page from each side. True if any were found.
fn remove_borders(image: &mut GrayImage, levels: &Levels) -> bool {
    let (w, h) = (image.width(), image.height());
    let dark = |v: u8| v <= levels.threshold;
    let row_dark = |img: &GrayImage, y: u32| {
        let n = (0..w).filter(|&x| dark(img.get_pixel(x, y).0[0])).count();
        n * 2 > w as usize
    };
    let col_dark = |img: &GrayImage, x: u32| {
        let n = (0..h).filter(|&y| dark(img.get_pixel(x, y).0[0])).count();
        n * 2 > h as usize
    };
    let top = (0..h / 10).take_while(|&y| row_dark(image, y)).count() as u32;
    let bottom = (0..h / 10)
        .take_while(|&i| row_dark(image, h - 1 - i))
        .count() as u32;
    let left = (0..w / 10).take_while(|&x| col_dark(image, x)).count() as u32;
    let right = (0..w / 10)
        .take_while(|&i| col_dark(image, w - 1 - i))
        .count() as u32;
    if top + bottom + left + right == 0 {
        return false;
    }
    let white = image::Luma([levels.paper]);
    for y in 0..h {
        for x in 0..w {
            if y < top || y >= h - bottom || x < left || x >= w - right {
                image.put_pixel(x, y, white);
            }
        }
    }
    true
}

/// Ink to black, paper to white, linearly.
fn stretch(image: &GrayImage, levels: &Levels) -> GrayImage {
    let mut out = image.clone();
    stretch_levels(
        &mut out,
        levels.ink as f32,
        levels.paper.max(levels.ink.saturating_add(1)) as f32,
    );
    out
}

/// 3×3 median: removes salt-and-pepper noise, keeps strokes.
fn median3(image: &GrayImage) -> GrayImage {
    let (w, h) = (image.width() as usize, image.height() as usize);
    let raw = image.as_raw();
    let mut out = image.clone();
    let dst = out.as_mut();
    let mut window = [0u8; 9];
    for y in 1..h.saturating_sub(1) {
        for x in 1..w.saturating_sub(1) {
            let mut k = 0;
            for dy in 0..3 {
                let row = (y + dy - 1) * w;
                window[k..k + 3].copy_from_slice(&raw[row + x - 1..row + x + 2]);
                k += 3;
            }
            window.sort_unstable();
            dst[y * w + x] = window[4];
        }
    }
    out
}

/// Sauvola's local threshold (k = 0.3, R = 128) over a window a tenth of an inch wide
/// (a letter and its surroundings): ink black, everything else white. Running column
/// sums keep memory to a few rows, whatever the page size.
fn sauvola(image: &GrayImage, dpi: f32) -> GrayImage {
    const K: f64 = 0.3;
    const R: f64 = 128.0;
    let (w, h) = (image.width() as usize, image.height() as usize);
    let radius = ((dpi / 10.0) as usize / 2).max(3);
    let raw = image.as_raw();
    let mut col_sum = vec![0u64; w];
    let mut col_sq = vec![0u64; w];
    let mut out = GrayImage::new(w as u32, h as u32);
    let dst = out.as_mut();
    let add_row = |sum: &mut [u64], sq: &mut [u64], y: usize, sign: i64| {
        for x in 0..w {
            let v = raw[y * w + x] as u64;
            if sign > 0 {
                sum[x] += v;
                sq[x] += v * v;
            } else {
                sum[x] -= v;
                sq[x] -= v * v;
            }
        }
    };
    for y in 0..radius.min(h) {
        add_row(&mut col_sum, &mut col_sq, y, 1);
    }
    for y in 0..h {
        if y + radius < h {
            add_row(&mut col_sum, &mut col_sq, y + radius, 1);
        }
        if y > radius {
            add_row(&mut col_sum, &mut col_sq, y - radius - 1, -1);
        }
        let rows = (y + radius).min(h - 1) - y.saturating_sub(radius) + 1;
        let (mut s, mut q) = (0u64, 0u64);
        for x in 0..radius.min(w) {
            s += col_sum[x];
            q += col_sq[x];
        }
        for x in 0..w {
            if x + radius < w {
                s += col_sum[x + radius];
                q += col_sq[x + radius];
            }
            if x > radius {
                s -= col_sum[x - radius - 1];
                q -= col_sq[x - radius - 1];
            }
            let cols = (x + radius).min(w - 1) - x.saturating_sub(radius) + 1;
            let n = (rows * cols) as f64;
            let mean = s as f64 / n;
            let sd = (q as f64 / n - mean * mean).max(0.0).sqrt();
            let t = mean * (1.0 + K * (sd / R - 1.0));
            dst[y * w + x] = if (raw[y * w + x] as f64) <= t { 0 } else { 255 };
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A synthetic text page: `lines` rows of letter-sized dark boxes, 300 dpi.
    fn text_page(w: u32, h: u32, lines: u32) -> GrayImage {
        let mut img = GrayImage::from_pixel(w, h, image::Luma([235]));
        for line in 0..lines {
            let base = 200 + line * 60;
            let mut x = 150;
            while x + 20 < w - 150 {
                // Words of 5 letters, letters of two heights.
                for letter in 0..5 {
                    let tall = (x / 23 + letter) % 3 == 0;
                    let top = if tall { base - 34 } else { base - 24 };
                    for yy in top..base {
                        for xx in x..x + 16 {
                            img.put_pixel(xx, yy, image::Luma([20]));
                        }
                    }
                    x += 23;
                }
                x += 30;
            }
        }
        img
    }

    fn no_orientation() -> impl FnMut(&GrayImage, f32) -> Option<(u16, f32)> {
        |_, _| None
    }

    #[test]
    fn blank_pages_are_blank_and_text_pages_are_not() {
        let mut never = no_orientation();
        let mut blank = GrayImage::from_pixel(1240, 1754, image::Luma([240]));
        // Dust and a punched hole.
        for (x, y) in [(100, 100), (500, 900), (1000, 1500)] {
            blank.put_pixel(x, y, image::Luma([10]));
        }
        for yy in 800..830 {
            for xx in 40..70 {
                blank.put_pixel(xx, yy, image::Luma([30]));
            }
        }
        let p = prepare(blank, Some(150.0), None, &mut never);
        assert!(p.record.blank && p.image.is_none());
        let p = prepare(text_page(2480, 1600, 1), Some(300.0), None, &mut never);
        assert!(!p.record.blank, "one line of text is not blank");
    }

    #[test]
    fn skew_is_measured_and_corrected() {
        let mut never = no_orientation();
        for degrees in [-4.0f32, -1.5, 2.0, 5.0] {
            let page = rotate_expanding(&text_page(2480, 1400, 18), degrees, 235);
            let p = prepare(page, Some(300.0), None, &mut never);
            assert!(
                (p.record.skew - degrees).abs() < 0.2,
                "turned {degrees}°, measured {}",
                p.record.skew
            );
            assert!(p.record.deskewed);
        }
        let p = prepare(text_page(2480, 1400, 18), Some(300.0), None, &mut never);
        assert_eq!(p.record.skew, 0.0);
        assert!(!p.record.deskewed);
    }

    #[test]
    fn resolution_is_estimated_and_normalized() {
        let mut never = no_orientation();
        // The page says nothing; its text says 300 dpi.
        let p = prepare(text_page(2480, 1400, 18), None, None, &mut never);
        assert_eq!(p.record.dpi_source, DpiSource::Estimated);
        assert!((250.0..=350.0).contains(&p.record.dpi), "{}", p.record.dpi);
        assert_eq!(p.record.scale, 1.0);
        // 600 dpi from the file: halved.
        let page =
            image::imageops::resize(&text_page(2480, 1400, 18), 4960, 2800, FilterType::Triangle);
        let p = prepare(page, Some(600.0), None, &mut never);
        assert_eq!(p.record.scale, 0.5);
        assert_eq!(p.dpi, 300.0);
        assert_eq!(p.image.unwrap().width(), 2480);
        // A 72 dpi claim is not believed.
        let p = prepare(text_page(2480, 1400, 18), Some(72.0), None, &mut never);
        assert_eq!(p.record.dpi_source, DpiSource::Estimated);
    }

    #[test]
    fn orientation_is_asked_for_sideways_pages_and_turns_when_confident() {
        let page = text_page(2480, 1400, 18);
        let mut never = |_: &GrayImage, _: f32| -> Option<(u16, f32)> {
            panic!("an upright page needs no orientation detection")
        };
        let p = prepare(page.clone(), Some(300.0), None, &mut never);
        assert_eq!(p.record.rotation, 0);
        let sideways = quarter_turn(&page, 90);
        let mut sure = |_: &GrayImage, _: f32| Some((270u16, 12.0f32));
        let p = prepare(sideways.clone(), Some(300.0), None, &mut sure);
        assert_eq!(p.record.rotation, 270);
        assert_eq!(p.image.unwrap().width(), 2480);
        let mut unsure = |_: &GrayImage, _: f32| Some((270u16, 0.5f32));
        let p = prepare(sideways, Some(300.0), None, &mut unsure);
        assert_eq!(p.record.rotation, 0);
        assert_eq!(p.record.orientation_confidence, Some(0.5));
        // A turn decided by the caller is applied as is.
        let p = prepare(page, Some(300.0), Some(180), &mut never);
        assert_eq!(p.record.rotation, 180);
    }

    #[test]
    fn points_map_back_to_the_original() {
        for (rotation, skew, deskewed, scale) in [
            (0u16, 0.0f32, false, 1.0f32),
            (90, 3.0, true, 0.5),
            (180, -2.0, true, 1.0),
            (270, 0.0, false, 2.0),
        ] {
            let original = [1000u32, 1400];
            let scaled = [(1000.0 * scale) as u32, (1400.0 * scale) as u32];
            let turned = if rotation % 180 == 90 {
                [scaled[1], scaled[0]]
            } else {
                scaled
            };
            let prepared_size = if deskewed {
                let g = rotate_expanding(&GrayImage::new(turned[0], turned[1]), -skew, 0);
                [g.width(), g.height()]
            } else {
                turned
            };
            let mut record = unprepared(GrayImage::new(original[0], original[1]), None).record;
            record.scale = scale;
            record.rotation = rotation;
            record.skew = skew;
            record.deskewed = deskewed;
            record.prepared_size = prepared_size;
            for (x, y) in [(0.0, 0.0), (100.0, 900.0), (999.0, 10.0)] {
                let (px, py) = record.to_prepared(x, y);
                let (bx, by) = record.to_original(px, py);
                assert!(
                    (bx - x).abs() < 0.01 && (by - y).abs() < 0.01,
                    "{rotation}° {skew}°: ({x},{y}) → ({px},{py}) → ({bx},{by})"
                );
            }
        }
    }

    #[test]
    fn noisy_pages_are_cleaned_clean_and_faint_ones_are_not() {
        let mut never = no_orientation();
        let p = prepare(text_page(2480, 1400, 18), Some(300.0), None, &mut never);
        assert_eq!(p.record.cleaned, None);
        // Faint (ink 190 on paper 220): still text, and left alone.
        let mut faint = text_page(2480, 1400, 18);
        for p in faint.pixels_mut() {
            p.0[0] = if p.0[0] < 100 { 190 } else { 220 };
        }
        let p = prepare(faint, Some(300.0), None, &mut never);
        assert!(!p.record.blank);
        assert_eq!(p.record.cleaned, None);
        // Noisy: a deterministic speckle on the paper.
        let mut noisy = text_page(2480, 1400, 18);
        let mut state = 7u32;
        for p in noisy.pixels_mut() {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let n = ((state >> 16) % 61) as i32 - 30;
            p.0[0] = (p.0[0] as i32 + n).clamp(0, 255) as u8;
        }
        let p = prepare(noisy, Some(300.0), None, &mut never);
        assert!(p.record.cleaned.as_deref().unwrap().starts_with("noisy"));
        let out = p.image.unwrap();
        assert!(out.pixels().all(|p| p.0[0] == 0 || p.0[0] == 255));
    }

    #[test]
    fn odd_sizes_and_flat_pages_do_not_trouble_it() {
        let mut never = no_orientation();
        for (w, h, value) in [
            (1, 1, 0u8),
            (1, 1, 255),
            (3, 2000, 0),
            (2000, 3, 128),
            (40, 40, 0),
            (5000, 2, 255),
        ] {
            let p = prepare(
                GrayImage::from_pixel(w, h, image::Luma([value])),
                None,
                None,
                &mut never,
            );
            assert!(p.record.blank, "{w}x{h} of {value}: {:?}", p.record);
        }
    }

    #[test]
    fn dark_borders_are_whitened() {
        let mut never = no_orientation();
        let mut page = text_page(2480, 1400, 18);
        for y in 0..1400 {
            for x in 0..60 {
                page.put_pixel(x, y, image::Luma([15]));
            }
        }
        let p = prepare(page, Some(300.0), None, &mut never);
        assert!(p.record.border_removed);
        let out = p.image.unwrap();
        assert!(out.get_pixel(10, 700).0[0] > 200);
    }
}
