//! The search query language, parsed into a small tree that the store compiles for its
//! index. Users never write the index's own syntax: characters other engines treat as
//! operators (`(`, `:`, `^`, `NEAR`, `AND`) are plain words here and cannot produce a
//! syntax error from below. What users can write (filters are `search`'s):
//!
//! - `words` — all must match, with or without diacritics;
//! - `"exact phrase"`;
//! - `prefix*`;
//! - `a OR b`;
//! - `-excluded` or `-"excluded phrase"` (at least one positive term is required).
//!
//! Plain text is a question, not a formula: words without operators that do not all
//! appear in enough documents are asked again as a question, ranked rather than all
//! required (`search::with_question_retry`; the store ranks them by syllables, pairs and
//! runs), and nothing a person pastes is an error (`Query::read`): a stray quote, a lone
//! `-` or `*`, an `OR` without a side are read as text.

use crate::fold::fold_full;
use thiserror::Error;

/// Longer queries are refused: nobody types this much, and FTS5 cost grows with terms.
pub const MAX_QUERY_CHARS: usize = 1000;
/// A bound on terms for the same reason (formulas; a question keeps its most
/// discriminative words instead, see the store's `QUESTION_MAX_TERMS`).
pub const MAX_QUERY_TERMS: usize = 64;
/// Plain words from this many on are a question unless a full page of documents holds
/// them all: nobody expects seven words, "tôi" and "không" among them, to be all in one
/// document, and when they are, those documents are the answer.
pub const QUESTION_MIN_WORDS: usize = 7;
/// From this many plain words, a search that finds nothing with every word required is
/// asked again as a question ("đăng ký khai sinh ở đâu"). Shorter keywords keep their
/// meaning: no match is an answer too.
pub const QUESTION_RETRY_MIN_WORDS: usize = 5;

#[derive(Debug, Error, PartialEq, Eq, Clone)]
pub enum QueryError {
    #[error("the query is empty")]
    Empty,
    #[error("the query is too long ({0} characters, the limit is {MAX_QUERY_CHARS})")]
    TooLong(usize),
    #[error("the query has too many terms (the limit is {MAX_QUERY_TERMS})")]
    TooManyTerms,
    #[error("a quote is not closed: add the closing \" after the phrase")]
    UnbalancedQuote,
    #[error("a lone '-' excludes nothing: write -word to exclude a word")]
    LoneMinus,
    #[error("a lone '*' matches nothing: write the start of a word, e.g. quyet*")]
    LoneStar,
    #[error("'OR' needs a term on both sides, e.g. 'dat OR nha'")]
    DanglingOr,
    #[error("the query only excludes words: add at least one word to look for")]
    OnlyExclusions,
    #[error("'{0}' has no letters or digits to search for")]
    NoSearchableText(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TermKind {
    Word,
    Prefix,
    Phrase,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    /// As the user typed it (without quotes or `*`).
    pub text: String,
    pub kind: TermKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Clause {
    /// At least one of these terms must match (one term: a plain required term).
    AnyOf(Vec<Term>),
    /// This term must not match.
    Not(Term),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub clauses: Vec<Clause>,
    /// Ranked, not filtered: every clause is one plain word, and a document needs only
    /// some of them (how many grows with the question's length).
    pub question: bool,
}

#[derive(Debug, PartialEq, Eq)]
enum Token {
    Term { term: Term, negated: bool },
    Or,
}

impl Query {
    pub fn parse(input: &str) -> Result<Query, QueryError> {
        let chars = input.chars().count();
        if chars > MAX_QUERY_CHARS {
            return Err(QueryError::TooLong(chars));
        }
        let tokens = tokenize(input)?;
        if tokens.len() > MAX_QUERY_TERMS {
            return Err(QueryError::TooManyTerms);
        }
        let mut clauses: Vec<Clause> = Vec::new();
        let mut pending_or = false;
        for token in tokens {
            match token {
                Token::Or => match clauses.last() {
                    Some(Clause::AnyOf(_)) if !pending_or => pending_or = true,
                    _ => return Err(QueryError::DanglingOr),
                },
                Token::Term { term, negated } => {
                    if negated {
                        if pending_or {
                            return Err(QueryError::DanglingOr);
                        }
                        clauses.push(Clause::Not(term));
                    } else if pending_or {
                        if let Some(Clause::AnyOf(terms)) = clauses.last_mut() {
                            terms.push(term);
                        }
                        pending_or = false;
                    } else {
                        clauses.push(Clause::AnyOf(vec![term]));
                    }
                }
            }
        }
        if pending_or {
            return Err(QueryError::DanglingOr);
        }
        if clauses.is_empty() {
            return Err(QueryError::Empty);
        }
        if !clauses.iter().any(|c| matches!(c, Clause::AnyOf(_))) {
            return Err(QueryError::OnlyExclusions);
        }
        Ok(Query {
            clauses,
            question: false,
        })
    }

    /// Reads what a person typed or pasted: a formula when it uses operators well, and,
    /// when its operators are malformed (a stray quote, a lone `-`, a dangling `OR`), its
    /// words as text; past `MAX_QUERY_TERMS` terms, a question (which keeps the rarest).
    /// Errors only for nothing to search or past the length limit.
    pub fn read(input: &str) -> Result<Query, QueryError> {
        let chars = input.chars().count();
        if chars > MAX_QUERY_CHARS {
            return Err(QueryError::TooLong(chars));
        }
        match Query::parse(input) {
            Ok(query) => Ok(query),
            Err(e @ (QueryError::Empty | QueryError::TooLong(_))) => Err(e),
            Err(e) => {
                // An `OR` without a side was meant as one: dropped, unless it is all.
                let mut words: Vec<String> = searchable_words(input).collect();
                if words.iter().any(|w| w != "OR") {
                    words.retain(|w| w != "OR");
                }
                if words.is_empty() {
                    return Err(match e {
                        QueryError::NoSearchableText(_) => e,
                        _ => QueryError::Empty,
                    });
                }
                let clauses = words
                    .into_iter()
                    .map(|text| {
                        Clause::AnyOf(vec![Term {
                            text,
                            kind: TermKind::Word,
                        }])
                    })
                    .collect();
                let query = Query {
                    clauses,
                    question: false,
                };
                Ok(match query.clauses.len() > MAX_QUERY_TERMS {
                    true => query.as_question(),
                    false => query,
                })
            }
        }
    }

    /// How many words the query is when it has no logic (no prefix, `OR` or exclusion;
    /// quoted phrases count their words); 0 when it has.
    pub fn plain_words(&self) -> usize {
        let mut words = 0;
        for clause in &self.clauses {
            match clause {
                Clause::AnyOf(terms) if terms.len() == 1 && terms[0].kind != TermKind::Prefix => {
                    words += searchable_words(&terms[0].text).count();
                }
                _ => return 0,
            }
        }
        words
    }

    /// The same words as a question (ranked). A formula's operators are dropped: its
    /// phrases and prefixes become their words, exclusions go.
    pub fn as_question(&self) -> Query {
        let clauses = self
            .wanted_terms()
            .flat_map(|t| searchable_words(&t.text).collect::<Vec<_>>())
            .map(|text| {
                Clause::AnyOf(vec![Term {
                    text,
                    kind: TermKind::Word,
                }])
            })
            .collect();
        Query {
            clauses,
            question: true,
        }
    }

    /// Every term looked for (not the excluded ones), in order.
    pub fn wanted_terms(&self) -> impl Iterator<Item = &Term> {
        self.clauses
            .iter()
            .filter_map(|c| match c {
                Clause::AnyOf(terms) => Some(terms),
                Clause::Not(_) => None,
            })
            .flatten()
    }

    /// The question's words in order, as typed.
    pub fn words(&self) -> impl Iterator<Item = &str> {
        self.clauses.iter().filter_map(|c| match c {
            Clause::AnyOf(terms) => terms.first().map(|t| t.text.as_str()),
            Clause::Not(_) => None,
        })
    }

    /// The folded words to highlight in snippets, with whether each is a prefix.
    pub fn highlight_terms(&self) -> Vec<HighlightTerm> {
        let mut out = Vec::new();
        for clause in &self.clauses {
            if let Clause::AnyOf(terms) = clause {
                for term in terms {
                    let words: Vec<String> = searchable_words(&term.text)
                        .map(|w| fold_full(&w))
                        .collect();
                    if !words.is_empty() {
                        out.push(HighlightTerm {
                            words,
                            prefix: term.kind == TermKind::Prefix,
                            fuzzy: false,
                        });
                    }
                }
            }
        }
        out
    }
}

/// A term as a sequence of fully folded words (a phrase has several).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HighlightTerm {
    pub words: Vec<String>,
    pub prefix: bool,
    /// Matched approximately (the fuzzy fallback): words within an edit or two.
    pub fuzzy: bool,
}

/// Splits text into the words the index sees: runs of letters and digits.
pub fn searchable_words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
}

fn tokenize(input: &str) -> Result<Vec<Token>, QueryError> {
    let mut tokens = Vec::new();
    let mut chars = input.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let Some(&first) = chars.peek() else { break };
        let negated = first == '-';
        if negated {
            chars.next();
            match chars.peek() {
                None => return Err(QueryError::LoneMinus),
                Some(c) if c.is_whitespace() => return Err(QueryError::LoneMinus),
                _ => {}
            }
        }
        if chars.peek() == Some(&'"') {
            chars.next();
            let mut phrase = String::new();
            let mut closed = false;
            for c in chars.by_ref() {
                if c == '"' {
                    closed = true;
                    break;
                }
                phrase.push(c);
            }
            if !closed {
                return Err(QueryError::UnbalancedQuote);
            }
            if searchable_words(&phrase).next().is_none() {
                // `""` or `"  "`: nothing to look for; ignore like a stray space.
                continue;
            }
            tokens.push(Token::Term {
                term: Term {
                    text: phrase,
                    kind: TermKind::Phrase,
                },
                negated,
            });
            continue;
        }
        let mut word = String::new();
        while let Some(&c) = chars.peek() {
            if c.is_whitespace() {
                break;
            }
            if c == '"' {
                return Err(QueryError::UnbalancedQuote);
            }
            word.push(c);
            chars.next();
        }
        if word == "OR" && !negated {
            tokens.push(Token::Or);
            continue;
        }
        if word == "*" {
            return Err(QueryError::LoneStar);
        }
        let (text, kind) = match word.strip_suffix('*') {
            Some(stem) => (stem.to_owned(), TermKind::Prefix),
            None => (word.clone(), TermKind::Word),
        };
        let words: Vec<String> = searchable_words(&text).collect();
        if words.is_empty() {
            if negated {
                return Err(QueryError::NoSearchableText(format!("-{word}")));
            }
            // Stray punctuation such as `(` or `:` between words is not a search term.
            continue;
        }
        // `02-BC/BCĐ` is one term to the user but several index words: a phrase.
        let kind = if words.len() > 1 && kind == TermKind::Word {
            TermKind::Phrase
        } else {
            kind
        };
        tokens.push(Token::Term {
            term: Term { text, kind },
            negated,
        });
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The parsed clauses, compactly: `+a|b` required alternatives, `-x` excluded;
    /// `"…"` a phrase, `…*` a prefix.
    fn describe(q: &Query) -> String {
        let term = |t: &Term| match t.kind {
            TermKind::Word => t.text.clone(),
            TermKind::Phrase => format!("\"{}\"", t.text),
            TermKind::Prefix => format!("{}*", t.text),
        };
        q.clauses
            .iter()
            .map(|c| match c {
                Clause::AnyOf(ts) => {
                    format!("+{}", ts.iter().map(term).collect::<Vec<_>>().join("|"))
                }
                Clause::Not(t) => format!("-{}", term(t)),
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn check(input: &str, expect: Result<&str, QueryError>) {
        let got = Query::parse(input).map(|q| describe(&q));
        assert_eq!(
            got.as_deref().map_err(Clone::clone),
            expect,
            "query {input:?}"
        );
    }

    #[test]
    fn compiles_queries() {
        check("đất đai", Ok("+đất +đai"));
        check("\"quyết định\"", Ok("+\"quyết định\""));
        check("quyet*", Ok("+quyet*"));
        check("dat OR nha", Ok("+dat|nha"));
        check("dat -nha", Ok("+dat -nha"));
        check("02-BC/BCĐ", Ok("+\"02-BC/BCĐ\""));
        check("NEAR(a b)", Ok("+\"NEAR(a\" +b)"));
        check("a AND ( b", Ok("+a +AND +b"));
        check("^col:x", Ok("+\"^col:x\""));
    }

    #[test]
    fn refuses_malformed_queries() {
        check("", Err(QueryError::Empty));
        check("   ", Err(QueryError::Empty));
        check("\"dat dai", Err(QueryError::UnbalancedQuote));
        check("dat\"dai", Err(QueryError::UnbalancedQuote));
        check("dat -", Err(QueryError::LoneMinus));
        check("- dat", Err(QueryError::LoneMinus));
        check("*", Err(QueryError::LoneStar));
        check("OR dat", Err(QueryError::DanglingOr));
        check("dat OR", Err(QueryError::DanglingOr));
        check("dat OR OR nha", Err(QueryError::DanglingOr));
        check("-dat", Err(QueryError::OnlyExclusions));
        check("-(", Err(QueryError::NoSearchableText("-(".into())));
        check("( ) :", Err(QueryError::Empty));
        check(
            &"a".repeat(MAX_QUERY_CHARS + 1),
            Err(QueryError::TooLong(MAX_QUERY_CHARS + 1)),
        );
        check(
            &"a ".repeat(MAX_QUERY_TERMS + 1),
            Err(QueryError::TooManyTerms),
        );
    }

    /// `Query::read`: `?words` for a question, else as `describe`.
    fn check_read(input: &str, expect: Result<&str, QueryError>) {
        let got = Query::read(input).map(|q| match q.question {
            true => format!("?{}", q.words().collect::<Vec<_>>().join(" ")),
            false => describe(&q),
        });
        assert_eq!(
            got.as_deref().map_err(Clone::clone),
            expect,
            "query {input:?}"
        );
    }

    #[test]
    fn reads_what_people_paste() {
        // Short formulas and keywords keep their meaning.
        check_read("đất đai", Ok("+đất +đai"));
        check_read("dat OR nha -so", Ok("+dat|nha -so"));
        check_read(
            "giai quyet thu tuc cap giay",
            Ok("+giai +quyet +thu +tuc +cap +giay"),
        );
        // Sentences are plain words (searched as a question when they match too little).
        check_read(
            "Tôi muốn xin giấy phép xây dựng nhà ở?",
            Ok("+Tôi +muốn +xin +giấy +phép +xây +dựng +nhà +ở?"),
        );
        // Malformed operators are text, never an error.
        check_read("\"dat dai", Ok("+dat +dai"));
        check_read("dat -", Ok("+dat"));
        check_read("- dat", Ok("+dat"));
        check_read("*", Err(QueryError::Empty));
        check_read("OR dat", Ok("+dat"));
        check_read("OR", Ok("+OR"));
        check_read("-dat", Ok("+dat"));
        check_read(
            "cho hỏi \"sổ đỏ bị mất - làm lại * OR phường",
            Ok("+cho +hỏi +sổ +đỏ +bị +mất +làm +lại +phường"),
        );
        let pasted = "hồ sơ đất đai ".repeat(MAX_QUERY_TERMS);
        assert!(Query::read(&pasted).unwrap().question);
        // A sentence quoting a name is plain words too, the quote a phrase.
        let quoting = Query::read("tôi cần \"giấy phép xây dựng\" cho nhà ở riêng lẻ").unwrap();
        assert_eq!(quoting.plain_words(), 11);
        assert_eq!(
            quoting.as_question().words().collect::<Vec<_>>().join(" "),
            "tôi cần giấy phép xây dựng cho nhà ở riêng lẻ"
        );
        check_read("", Err(QueryError::Empty));
        check_read(
            &"a".repeat(MAX_QUERY_CHARS + 1),
            Err(QueryError::TooLong(MAX_QUERY_CHARS + 1)),
        );
    }

    #[test]
    fn highlight_terms_are_folded() {
        let q = Query::parse("Đất \"quyết định\" nh* -bỏ").unwrap();
        let terms = q.highlight_terms();
        assert_eq!(terms.len(), 3);
        assert_eq!(terms[0].words, vec!["dat"]);
        assert_eq!(terms[1].words, vec!["quyet", "dinh"]);
        assert!(terms[2].prefix);
    }
}
