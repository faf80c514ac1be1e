//! Measuring OCR quality against ground truth.

use image::GrayImage;
use unicode_normalization::UnicodeNormalization;

/// Text as compared: NFC (so precomposed and combining marks agree), whitespace runs —
/// including line breaks — as single spaces. Layout is not what CER measures.
pub fn normalize(text: &str) -> Vec<char> {
    let nfc: String = text.nfc().collect();
    nfc.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .collect()
}

/// Character error rate: edit distance over the reference length, after `normalize`.
pub fn character_error_rate(reference: &str, hypothesis: &str) -> f64 {
    let r = normalize(reference);
    let h = normalize(hypothesis);
    if r.is_empty() {
        return if h.is_empty() { 0.0 } else { 1.0 };
    }
    edit_distance(&r, &h) as f64 / r.len() as f64
}

/// Levenshtein distance, two rows of memory.
pub fn edit_distance(a: &[char], b: &[char]) -> usize {
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = prev[j] + usize::from(ca != cb);
            cur[j + 1] = substitute.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// A way a scan goes wrong, applied to a clean page to build the page-preparation
/// evaluation set (`scripts/bench-prepare`, the preparation tests). Deterministic.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Degradation {
    Clean,
    /// Turned clockwise by 90, 180 or 270 degrees.
    Turned(u16),
    /// Skewed by this many degrees (clockwise).
    Skewed(f32),
    /// Gaussian-like noise of this deviation plus 0.5 % salt and pepper.
    Noisy(u8),
    /// Ink and paper squeezed toward each other: ink 150, paper 215.
    LowContrast,
    /// Rescaled to this resolution (from 300 dpi), the file saying so.
    Resolution(f32),
    /// The back of a sheet: paper, scanner noise and two specks; no text.
    Blank,
}

impl Degradation {
    pub fn name(self) -> String {
        match self {
            Degradation::Clean => "clean".into(),
            Degradation::Turned(d) => format!("turned {d}°"),
            Degradation::Skewed(d) => format!("skewed {d}°"),
            Degradation::Noisy(n) => format!("noise σ{n}"),
            Degradation::LowContrast => "low contrast".into(),
            Degradation::Resolution(d) => format!("{d:.0} dpi"),
            Degradation::Blank => "blank".into(),
        }
    }

    /// The degraded page and the resolution its file would claim, from a clean page
    /// scanned at `dpi`.
    pub fn apply(self, page: &GrayImage, dpi: f32, seed: u64) -> (GrayImage, f32) {
        let mut rng = crate::synth::Rng::new(seed);
        match self {
            Degradation::Clean => (page.clone(), dpi),
            Degradation::Turned(d) => (crate::prepare::quarter_turn(page, d), dpi),
            Degradation::Skewed(d) => (crate::prepare::rotate_expanding(page, d, 255), dpi),
            Degradation::Noisy(sigma) => {
                let mut out = page.clone();
                for p in out.pixels_mut() {
                    // Sum of uniforms: near-Gaussian without a distribution crate.
                    let n: f32 =
                        (0..4).map(|_| rng.unit() as f32 - 0.5).sum::<f32>() * sigma as f32 * 1.73;
                    let roll = rng.unit();
                    p.0[0] = if roll < 0.0025 {
                        0
                    } else if roll < 0.005 {
                        255
                    } else {
                        (p.0[0] as f32 + n).clamp(0.0, 255.0) as u8
                    };
                }
                (out, dpi)
            }
            Degradation::LowContrast => {
                let mut out = page.clone();
                for p in out.pixels_mut() {
                    p.0[0] = (195.0 + p.0[0] as f32 * 30.0 / 255.0) as u8;
                }
                (out, dpi)
            }
            Degradation::Resolution(to) => {
                let scale = to / dpi;
                let w = (page.width() as f32 * scale).round() as u32;
                let h = (page.height() as f32 * scale).round() as u32;
                let filter = if scale < 1.0 {
                    image::imageops::FilterType::Triangle
                } else {
                    image::imageops::FilterType::CatmullRom
                };
                (image::imageops::resize(page, w, h, filter), to)
            }
            Degradation::Blank => {
                let mut out =
                    GrayImage::from_pixel(page.width(), page.height(), image::Luma([236]));
                for p in out.pixels_mut() {
                    let n = (rng.unit() as f32 - 0.5) * 12.0;
                    p.0[0] = (p.0[0] as f32 + n) as u8;
                }
                for _ in 0..2 {
                    let x = (rng.unit() * (page.width() - 10) as f64) as u32;
                    let y = (rng.unit() * (page.height() - 10) as f64) as u32;
                    for dy in 0..4 {
                        for dx in 0..4 {
                            out.put_pixel(x + dx, y + dy, image::Luma([40]));
                        }
                    }
                }
                (out, dpi)
            }
        }
    }
}

/// The degradations of the evaluation set, in report order.
pub const DEGRADATIONS: &[Degradation] = &[
    Degradation::Clean,
    Degradation::Turned(90),
    Degradation::Turned(180),
    Degradation::Turned(270),
    Degradation::Skewed(2.0),
    Degradation::Skewed(-5.0),
    Degradation::Noisy(30),
    Degradation::LowContrast,
    Degradation::Resolution(150.0),
    Degradation::Resolution(600.0),
    Degradation::Blank,
];

#[cfg(test)]
mod tests {
    use super::*;

    fn check(reference: &str, hypothesis: &str, expect: f64) {
        let got = character_error_rate(reference, hypothesis);
        assert!(
            (got - expect).abs() < 1e-9,
            "CER({reference:?}, {hypothesis:?}) = {got}, expected {expect}"
        );
    }

    #[test]
    fn measures_character_errors() {
        check("đất đai", "đất đai", 0.0);
        check("đất đai", "dat dai", 3.0 / 7.0);
        check("a\n\nb", "a b", 0.0);
        check("abcd", "", 1.0);
        check("", "", 0.0);
        // Combining marks (NFD) equal precomposed (NFC).
        check("Việt", "Vie\u{323}\u{302}t", 0.0);
    }
}
