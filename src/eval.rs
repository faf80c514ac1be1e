//! Measuring OCR quality against ground truth.

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
