//! Snippets from a page's original text, with the query's words highlighted.
//!
//! The index holds folded text, so FTS5's own `snippet()` would show `dất dai` for
//! `đất đai`. We find the words ourselves in the original text by comparing fully folded
//! forms, and cut the window that covers the most distinct query terms.

use crate::fold::{is_word_char, push_folded};
use crate::query::HighlightTerm;
use serde::Serialize;

/// Words of context in a snippet.
pub const SNIPPET_WORDS: usize = 24;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Snippet {
    /// Whitespace-collapsed original text, with "…" where it was cut.
    pub text: String,
    /// Highlighted ranges as character offsets into `text`, in order.
    pub highlights: Vec<(usize, usize)>,
}

impl Snippet {
    /// The snippet with highlights wrapped in `open` and `close`.
    pub fn marked(&self, open: &str, close: &str) -> String {
        let mut out = String::with_capacity(self.text.len() + 8 * self.highlights.len());
        let mut ranges = self.highlights.iter().peekable();
        for (i, c) in self.text.chars().enumerate() {
            if ranges.peek().is_some_and(|r| r.0 == i) {
                out.push_str(open);
            }
            out.push(c);
            if ranges.peek().is_some_and(|r| r.1 == i + 1) {
                out.push_str(close);
                ranges.next();
            }
        }
        out
    }
}

struct Token<'a> {
    text: &'a str,
    /// Where its folded form is in `Tokens::folded`.
    folded: std::ops::Range<usize>,
}

/// A page's words and their folded forms, all in one buffer: twenty results' pages are
/// thousands of words, and a string each cost more than the search.
struct Tokens<'a> {
    list: Vec<Token<'a>>,
    folded: String,
}

impl Tokens<'_> {
    fn len(&self) -> usize {
        self.list.len()
    }

    fn folded(&self, i: usize) -> &str {
        &self.folded[self.list[i].folded.clone()]
    }
}

fn tokens(text: &str) -> Tokens<'_> {
    let mut out = Tokens {
        list: Vec::new(),
        folded: String::with_capacity(text.len()),
    };
    let mut start = None;
    for (i, c) in text.char_indices() {
        if is_word_char(c) {
            if start.is_none() {
                start = Some((i, out.folded.len()));
            }
            push_folded(c, &mut out.folded);
        } else if let Some((s, f)) = start.take() {
            out.list.push(Token {
                text: &text[s..i],
                folded: f..out.folded.len(),
            });
        }
    }
    if let Some((s, f)) = start {
        out.list.push(Token {
            text: &text[s..],
            folded: f..out.folded.len(),
        });
    }
    out
}

/// Token ranges `[start, end)` matching each term, tagged with the term's index.
fn matches(tokens: &Tokens, terms: &[HighlightTerm]) -> Vec<(usize, usize, usize)> {
    let mut out = Vec::new();
    for (t, term) in terms.iter().enumerate() {
        let n = term.words.len();
        if n == 0 || n > tokens.len() {
            continue;
        }
        for i in 0..=tokens.len() - n {
            let hit = term.words.iter().enumerate().all(|(j, w)| {
                let folded = tokens.folded(i + j);
                if term.prefix && j + 1 == n {
                    folded.starts_with(w.as_str())
                } else if term.fuzzy {
                    within_edits(folded, w)
                } else {
                    folded == w
                }
            });
            if hit {
                out.push((i, i + n, t));
            }
        }
    }
    out.sort();
    out
}

/// Whether `word` is within the edits fuzzy search allows of `wanted` (none for words
/// of three letters or fewer, one, two from seven letters), as the index does.
pub fn within_edits(word: &str, wanted: &str) -> bool {
    let a: Vec<char> = word.chars().collect();
    let b: Vec<char> = wanted.chars().collect();
    let allowed = match b.len() {
        0..=3 => 0,
        4..=6 => 1,
        _ => 2,
    };
    if a.len().abs_diff(b.len()) > allowed {
        return false;
    }
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            current[j + 1] = (previous[j] + usize::from(ca != cb))
                .min(previous[j + 1] + 1)
                .min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()] <= allowed
}

/// How well a page matches: (distinct terms found, occurrences), for picking the page
/// a result shows.
pub fn page_score(text: &str, terms: &[HighlightTerm]) -> (usize, usize) {
    let tokens = tokens(text);
    let found = matches(&tokens, terms);
    let mut distinct: Vec<usize> = found.iter().map(|m| m.2).collect();
    distinct.sort_unstable();
    distinct.dedup();
    (distinct.len(), found.len())
}

/// The best window of `SNIPPET_WORDS` words of `text` for these terms.
pub fn snippet(text: &str, terms: &[HighlightTerm]) -> Snippet {
    let tokens = tokens(text);
    if tokens.list.is_empty() {
        return Snippet {
            text: String::new(),
            highlights: Vec::new(),
        };
    }
    let found = matches(&tokens, terms);
    // Window start maximizing (distinct terms, matches); ties go to the earliest.
    let mut best = (0usize, 0usize, 0usize);
    let starts: Vec<usize> = if found.is_empty() {
        vec![0]
    } else {
        found.iter().map(|m| m.0.saturating_sub(3)).collect()
    };
    for start in starts {
        let end = start + SNIPPET_WORDS;
        let inside: Vec<&(usize, usize, usize)> = found
            .iter()
            .filter(|m| m.0 >= start && m.1 <= end)
            .collect();
        let mut distinct: Vec<usize> = inside.iter().map(|m| m.2).collect();
        distinct.sort_unstable();
        distinct.dedup();
        let score = (distinct.len(), inside.len());
        if score > (best.1, best.2) {
            best = (start, score.0, score.1);
        }
    }
    let start = best.0;
    let end = (start + SNIPPET_WORDS).min(tokens.len());
    let mut out = String::new();
    let mut highlights = Vec::new();
    // Appends and returns the length of `out` in characters (highlights count chars).
    let push = |s: &str, out: &mut String| {
        out.push_str(s);
        out.chars().count()
    };
    if start > 0 {
        push("… ", &mut out);
    }
    // Text between tokens keeps its punctuation; whitespace runs become one space.
    let offset = |t: &Token| t.text.as_ptr() as usize - text.as_ptr() as usize;
    let tokens = &tokens.list;
    let mut open: Option<usize> = None;
    for i in start..end {
        let tok = &tokens[i];
        if i > start {
            let gap = &text[offset(&tokens[i - 1]) + tokens[i - 1].text.len()..offset(tok)];
            push(&collapse_whitespace(gap), &mut out);
        }
        let starts_match = found.iter().any(|m| m.0 == i);
        let ends_match = found.iter().any(|m| m.1 == i + 1);
        if starts_match && open.is_none() {
            open = Some(out.chars().count());
        }
        let now = push(tok.text, &mut out);
        if ends_match && let Some(s) = open.take() {
            highlights.push((s, now));
        }
    }
    if let Some(s) = open {
        highlights.push((s, out.chars().count()));
    }
    if end < tokens.len() {
        push(" …", &mut out);
    }
    Snippet {
        text: out,
        highlights,
    }
}

fn collapse_whitespace(gap: &str) -> String {
    let mut out = String::with_capacity(gap.len());
    for c in gap.chars() {
        if c.is_whitespace() {
            if !out.ends_with(' ') {
                out.push(' ');
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::Query;

    fn check(text: &str, query: &str, expect: &str) {
        let q = Query::parse(query).unwrap();
        let s = snippet(text, &q.highlight_terms());
        assert_eq!(
            s.marked("[", "]"),
            expect,
            "snippet of {text:?} for {query:?}"
        );
    }

    #[test]
    fn highlights_in_original_text() {
        check(
            "Thu hồi đất đai tại xã",
            "dat dai",
            "Thu hồi [đất] [đai] tại xã",
        );
        check(
            "QUYẾT ĐỊNH về việc",
            "\"quyet dinh\"",
            "[QUYẾT ĐỊNH] về việc",
        );
        check("Số: 1234/QĐ-UBND ngày", "1234", "Số: [1234]/QĐ-UBND ngày");
        check(
            "Căn cứ Luật\nĐất đai",
            "\"luat dat\"",
            "Căn cứ [Luật Đất] đai",
        );
        check("giấy phép xây dựng", "xay*", "giấy phép [xây] dựng");
        check("không khớp gì", "dat", "không khớp gì");
    }

    #[test]
    fn cuts_a_window_around_the_match() {
        let text = (0..100)
            .map(|i| format!("w{i}"))
            .collect::<Vec<_>>()
            .join(" ")
            + " đích";
        let q = Query::parse("dich").unwrap();
        let s = snippet(&text, &q.highlight_terms());
        assert!(s.text.starts_with("… "), "{}", s.text);
        assert!(s.marked("[", "]").ends_with("[đích]"), "{}", s.text);
    }
}
