//! The search index's tokenizers, written for Vietnamese text: words are runs of letters
//! and digits, folded (lower-case, no marks, `đ` → `d`) or only lower-cased, in one pass
//! with a table lookup per Vietnamese letter. tantivy's general chain (split, lower-case,
//! ASCII-fold) spent a third of indexing time in Unicode tables; the result is the same
//! for Vietnamese. Pairs of adjacent common words make common phrases cheap (see
//! `index`).

use crate::fold::{is_word_char, push_folded};
use tantivy::tokenizer::{Token, TokenStream, Tokenizer};

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// `Quyết` → `quyet`.
    Folded,
    /// `Quyết` → `quyết`.
    Marked,
}

#[derive(Clone)]
pub struct WordTokenizer {
    pub form: Form,
}

pub struct WordStream<'a> {
    text: &'a str,
    offset: usize,
    form: Form,
    token: Token,
}

impl Tokenizer for WordTokenizer {
    type TokenStream<'a> = WordStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> WordStream<'a> {
        WordStream {
            text,
            offset: 0,
            form: self.form,
            token: Token::default(),
        }
    }
}

impl TokenStream for WordStream<'_> {
    fn advance(&mut self) -> bool {
        self.token.text.clear();
        let rest = &self.text[self.offset..];
        let mut start = None;
        let mut end = rest.len();
        for (i, c) in rest.char_indices() {
            if is_word_char(c) {
                start.get_or_insert(i);
                match self.form {
                    Form::Folded => push_folded(c, &mut self.token.text),
                    Form::Marked if c.is_ascii() => self.token.text.push(c.to_ascii_lowercase()),
                    Form::Marked => self.token.text.extend(c.to_lowercase()),
                }
            } else if start.is_some() {
                end = i;
                break;
            }
        }
        let Some(start) = start else {
            self.offset = self.text.len();
            return false;
        };
        self.token.offset_from = self.offset + start;
        self.token.offset_to = self.offset + end;
        self.token.position = self.token.position.wrapping_add(1);
        self.token.position_length = 1;
        self.offset += end;
        true
    }

    fn token(&self) -> &Token {
        &self.token
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.token
    }
}

/// The syllables administrative text is mostly made of, folded: the 256 most frequent
/// in the names and sectors of a province's catalog of administrative procedures
/// (Lạng Sơn, 1,840 procedures) and two real official letters, numbers left out;
/// made by `scripts/common_words.py`. Changing the list changes what the index holds:
/// rename `index::PAIRS` with it.
const COMMON_WORDS: &str = include_str!("common_words.txt");

/// Whether `word` (folded) is one of `COMMON_WORDS`.
pub fn is_common(word: &str) -> bool {
    static SET: std::sync::OnceLock<rustc_hash::FxHashSet<&'static str>> =
        std::sync::OnceLock::new();
    SET.get_or_init(|| COMMON_WORDS.split_whitespace().collect())
        .contains(word)
}

/// Adjacent common words as one token each ("uy ban", "ban nhan", …), at the position
/// of the first; pairs with an uncommon word are left out. A phrase of common words
/// ("ủy ban nhân dân", on nearly every page) is matched on these with half the position
/// lists, and one of two common words with none; any other phrase holds a rarer word,
/// which keeps the word positions cheap to compare. Indexing every pair cost half the
/// build's time: most pairs are rare, and each new one misses the cache.
#[derive(Clone)]
pub struct PairTokenizer;

pub struct PairStream<'a> {
    words: WordStream<'a>,
    previous: Option<Token>,
    pair: Token,
}

impl Tokenizer for PairTokenizer {
    type TokenStream<'a> = PairStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> PairStream<'a> {
        PairStream {
            words: WordStream {
                text,
                offset: 0,
                form: Form::Folded,
                token: Token::default(),
            },
            previous: None,
            pair: Token::default(),
        }
    }
}

impl TokenStream for PairStream<'_> {
    fn advance(&mut self) -> bool {
        while self.words.advance() {
            let word = self.words.token();
            if !is_common(&word.text) {
                self.previous = None;
                continue;
            }
            let Some(previous) = &mut self.previous else {
                self.previous = Some(word.clone());
                continue;
            };
            self.pair.text.clear();
            self.pair.text.push_str(&previous.text);
            self.pair.text.push(' ');
            self.pair.text.push_str(&word.text);
            self.pair.position = previous.position;
            self.pair.offset_from = previous.offset_from;
            self.pair.offset_to = word.offset_to;
            self.pair.position_length = 1;
            previous.clone_from(word);
            return true;
        }
        false
    }

    fn token(&self) -> &Token {
        &self.pair
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.pair
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(tokenizer: impl Tokenizer, text: &str, expect: &str) {
        let mut tokenizer = tokenizer;
        let mut stream = tokenizer.token_stream(text);
        let mut got = Vec::new();
        while stream.advance() {
            let t = stream.token();
            got.push(format!("{}@{}", t.text, t.position));
        }
        assert_eq!(got.join(" | "), expect, "{text:?}");
    }

    #[test]
    fn words_pairs_and_forms() {
        let folded = || WordTokenizer { form: Form::Folded };
        check(
            folded(),
            "Quyết định số 12/QĐ-UBND",
            "quyet@0 | dinh@1 | so@2 | 12@3 | qd@4 | ubnd@5",
        );
        check(folded(), "  ", "");
        check(folded(), "ĐẤT ĐAI, Ðất; x", "dat@0 | dai@1 | dat@2 | x@3");
        check(
            WordTokenizer { form: Form::Marked },
            "Ủy ban BÁN bàn",
            "ủy@0 | ban@1 | bán@2 | bàn@3",
        );
        check(
            PairTokenizer,
            "Ủy ban nhân dân.",
            "uy ban@0 | ban nhan@1 | nhan dan@2",
        );
        check(PairTokenizer, "một", "");
        // "quỳnh" is not common: no pair holds it, and the next pair starts after it.
        check(
            PairTokenizer,
            "Huyện Quỳnh Lưu, xã Quỳnh Đôi ủy ban",
            "luu xa@2 | doi uy@5 | uy ban@6",
        );
        check(
            PairTokenizer,
            "nhà ở xã hội Quỳnh quyền sử dụng",
            "nha o@0 | o xa@1 | xa hoi@2 | quyen su@5 | su dung@6",
        );
    }
}
