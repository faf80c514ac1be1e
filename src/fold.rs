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

/// `fold_full` without the iterator chain, into a reused buffer: choosing each search
/// result's best page folds whole pages, so this is on the search path.
pub fn fold_word(word: &str, out: &mut String) {
    out.clear();
    for c in word.chars() {
        push_folded(c, out);
    }
}

/// Whether `c` belongs to a word (a letter or a digit), Vietnamese letters by table
/// lookup: the index's tokenizers and the snippets split text alike.
#[inline]
pub fn is_word_char(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphanumeric()
    } else {
        folded_letter(c).is_some() || c.is_alphanumeric()
    }
}

/// Appends `c` folded (lower-case, no marks, `đ` → `d`) to `out`.
#[inline]
pub fn push_folded(c: char, out: &mut String) {
    if c.is_ascii() {
        out.push(c.to_ascii_lowercase());
        return;
    }
    if let Some(folded) = folded_letter(c) {
        out.push(folded as char);
        return;
    }
    unicode_normalization::char::decompose_canonical(c, |d| {
        if !is_combining_mark(d) {
            for l in fold_d(d).to_lowercase() {
                out.push(l);
            }
        }
    });
}

/// The ASCII letter a Latin letter folds to: Vietnamese letters are all in Latin-1,
/// Latin Extended-A/B and Latin Extended Additional, and each folds to one letter, so
/// this is a table lookup. None for anything else (the general path decides).
#[inline]
pub fn folded_letter(c: char) -> Option<u8> {
    latin_index(c)
        .and_then(|i| latin_folds().get(i).copied())
        .filter(|b| *b != 0)
}

/// The Latin ranges the fold table covers, laid end to end.
const LATIN_RANGES: [(u32, u32); 2] = [(0x00C0, 0x024F), (0x1E00, 0x1EFF)];

fn latin_index(c: char) -> Option<usize> {
    let mut base = 0;
    for (start, end) in LATIN_RANGES {
        let code = c as u32;
        if (start..=end).contains(&code) {
            return Some(base + (code - start) as usize);
        }
        base += (end - start + 1) as usize;
    }
    None
}

/// For each letter of `LATIN_RANGES`: the ASCII letter it folds to, or 0 when it does
/// not fold to exactly one (those take the general path).
fn latin_folds() -> &'static [u8] {
    static TABLE: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        LATIN_RANGES
            .iter()
            .flat_map(|(start, end)| *start..=*end)
            .map(|code| {
                let Some(c) = char::from_u32(code) else {
                    return 0;
                };
                let mut folded = String::new();
                unicode_normalization::char::decompose_canonical(c, |d| {
                    if !is_combining_mark(d) {
                        folded.extend(fold_d(d).to_lowercase());
                    }
                });
                match folded.as_bytes() {
                    [b] if b.is_ascii_alphabetic() => *b,
                    _ => 0,
                }
            })
            .collect()
    })
}

/// True when the text carries any Vietnamese mark (tone, breve, circumflex, horn or `đ`).
pub fn has_marks(text: &str) -> bool {
    text.nfd()
        .any(|c| is_combining_mark(c) || matches!(c, 'đ' | 'Đ'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fold_table_agrees_with_the_general_path() {
        for (start, end) in LATIN_RANGES {
            for c in (start..=end).filter_map(char::from_u32) {
                let mut fast = String::new();
                fold_word(&c.to_string(), &mut fast);
                assert_eq!(fast, fold_full(&c.to_string()), "{c:?}");
            }
        }
    }

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
