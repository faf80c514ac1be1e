//! Vietnamese text folding: every tone and vowel mark removed and `đ` → `d`, so `dat dai`
//! meets `đất đai`. Snippets, the classifier and field extraction compare folded words;
//! the search index folds with its own tokenizer to the same result. The original text
//! is always kept for display.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

fn fold_d(c: char) -> char {
    match c {
        // OCR often reads Đ as the look-alike Ð (eth, U+00D0): the same letter to readers.
        'đ' | 'ð' => 'd',
        'Đ' | 'Ð' => 'D',
        _ => c,
    }
}

/// A word with every mark removed and lower-cased: `QUYẾT` → `quyet`, `Đất` → `dat`.
/// Used to find query terms in the original text when building snippets.
pub fn fold_full(text: &str) -> String {
    text.nfd()
        .filter(|c| !is_combining_mark(*c))
        .map(fold_d)
        .flat_map(char::to_lowercase)
        .collect()
}

/// `fold_full` for one word, without the iterator chain: snippets fold every word of
/// the pages they look at, so this is on the search path.
pub fn fold_word(word: &str, out: &mut String) {
    out.clear();
    for c in word.chars() {
        if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
            continue;
        }
        unicode_normalization::char::decompose_canonical(c, |d| {
            if !is_combining_mark(d) {
                for l in fold_d(d).to_lowercase() {
                    out.push(l);
                }
            }
        });
    }
}

/// True when the text carries any Vietnamese mark (tone, breve, circumflex, horn or `đ`).
pub fn has_marks(text: &str) -> bool {
    text.nfd()
        .any(|c| is_combining_mark(c) || matches!(c, 'đ' | 'Đ'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, full: &str) {
        assert_eq!(fold_full(input), full, "fold_full({input:?})");
    }

    #[test]
    fn folds_vietnamese() {
        check("đất đai", "dat dai");
        check("QUYẾT ĐỊNH", "quyet dinh");
        check("Ủy ban nhân dân", "uy ban nhan dan");
        check("Nghệ An 2024", "nghe an 2024");
        check("QÐ-UBND", "qd-ubnd");
        check("", "");
    }

    #[test]
    fn word_folding_matches_full_folding() {
        let mut out = String::new();
        for word in [
            "QUYẾT", "Đất", "ĐỊNH", "Nghệ", "ỦY", "x-quang", "QÐ", "2024",
        ] {
            fold_word(word, &mut out);
            assert_eq!(out, fold_full(word), "{word}");
        }
    }

    #[test]
    fn detects_marks() {
        assert!(has_marks("bán"));
        assert!(has_marks("đi"));
        assert!(!has_marks("ban"));
    }
}
