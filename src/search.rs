//! Search as users see it: a request (words with inline filters, flags, paging, sort)
//! in; ranked documents with their best page's snippet, fields, classification, and
//! facets over the whole result set out. One parser and one runner for the CLI and the
//! web service.
//!
//! The query language is `query`'s (words, "phrases", prefix*, OR, -excluded) plus
//! filters written inline, meaning the same as the flags:
//! `sector:dat-dai procedure:1.000123 type:QĐ number:02-BC agency:"sở tư pháp"
//! id:040078001122 date:2024-01..2024-06` (also `date:2024`, `date:..2023-12`).

use crate::classify::Classification;
use crate::classify::Taxonomy;
use crate::fields::{self, Fields};
use crate::filters::Filters;
use crate::query::{HighlightTerm, Query, QueryError};
use crate::snippet::{page_score, snippet};
use crate::store::{Facets, SearchResults, SearchSpec, SortOrder, Store, StoreError};
use rayon::prelude::*;
use serde::Serialize;
use thiserror::Error;

/// Fewer exact matches than this, and the words are tried again approximately (OCR
/// slips: `chứnq` for `chứng`); the response says so.
pub const FUZZY_BELOW: usize = 3;
/// Results per page at most: a page of thousands is an export, not a search.
pub const MAX_LIMIT: usize = 500;
/// The filter keys of the inline syntax.
const FILTER_KEYS: &[&str] = &[
    "sector",
    "procedure",
    "type",
    "number",
    "agency",
    "id",
    "date",
];

#[derive(Debug, Error)]
pub enum SearchError {
    #[error(transparent)]
    Query(#[from] QueryError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no sector {0:?} in the taxonomy; sectors: {1}")]
    UnknownSector(String, String),
    #[error("no procedure {0:?} in the taxonomy (give its code or more of its name)")]
    UnknownProcedure(String),
    #[error("{0:?} names procedures in several sectors; add a sector")]
    AmbiguousProcedure(String),
    #[error("unknown document type {0:?}; known: {1}")]
    UnknownType(String, String),
    #[error("{0} {1:?}: write a date as YYYY, YYYY-MM or YYYY-MM-DD")]
    BadDate(String, String),
    #[error("date:{0:?}: write a range as FROM..TO, e.g. 2024-01..2024-06")]
    BadDateRange(String),
    #[error("the date range starts at {0} after it ends at {1}")]
    DateOrder(String, String),
    #[error("{0} needs a value")]
    EmptyValue(String),
    #[error("id:{0:?}: a citizen ID is 12 digits (CCCD) or 9 digits (CMND)")]
    BadCitizenId(String),
    #[error("{0} is given twice, with different values ({1:?} and {2:?})")]
    Twice(String, String, String),
    #[error("--limit must be between 1 and {MAX_LIMIT}")]
    BadLimit,
}

#[derive(Debug, Clone)]
pub struct SearchRequest {
    /// The query as typed, filters included.
    pub text: String,
    /// Its words, when it has any beyond filters.
    pub query: Option<Query>,
    /// Resolved: stored values, ready for the store.
    pub filters: Filters,
    pub limit: usize,
    pub offset: usize,
    pub sort: SortOrder,
    /// The documents the caller may see (every one for the command line).
    pub scope: crate::store::Scope,
    /// Say why each hit ranked where it did (`Hit::why`).
    pub explain: bool,
}

/// Splits `key:value` filters (value maybe "quoted") out of the query text.
fn split_inline(text: &str) -> Result<(String, Vec<(String, String)>), SearchError> {
    let mut rest = String::new();
    let mut found = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let at_word_start = i == 0 || chars[i - 1].is_whitespace();
        let key = at_word_start
            .then(|| {
                FILTER_KEYS.iter().find(|k| {
                    let n = k.len();
                    i + n < chars.len()
                        && chars[i + n] == ':'
                        && chars[i..i + n]
                            .iter()
                            .collect::<String>()
                            .eq_ignore_ascii_case(k)
                })
            })
            .flatten();
        let Some(key) = key else {
            rest.push(chars[i]);
            i += 1;
            continue;
        };
        i += key.len() + 1;
        let mut value = String::new();
        if chars.get(i) == Some(&'"') {
            i += 1;
            let mut closed = false;
            while i < chars.len() {
                if chars[i] == '"' {
                    closed = true;
                    i += 1;
                    break;
                }
                value.push(chars[i]);
                i += 1;
            }
            if !closed {
                return Err(QueryError::UnbalancedQuote.into());
            }
        } else {
            while i < chars.len() && !chars[i].is_whitespace() {
                value.push(chars[i]);
                i += 1;
            }
        }
        if value.trim().is_empty() {
            return Err(SearchError::EmptyValue(format!("{key}:")));
        }
        found.push(((*key).to_owned(), value.trim().to_owned()));
    }
    Ok((rest, found))
}

/// Checks a date: YYYY, YYYY-MM or YYYY-MM-DD, with a real month and day.
fn date_bound(name: &str, value: &str) -> Result<String, SearchError> {
    let parts: Vec<&str> = value.trim().split('-').collect();
    let widths = [4, 2, 2];
    let in_range = |i: usize, n: u32| match i {
        1 => (1..=12).contains(&n),
        2 => (1..=31).contains(&n),
        _ => true,
    };
    let well_formed = parts.len() <= 3
        && parts.iter().zip(widths).enumerate().all(|(i, (p, w))| {
            p.len() == w
                && p.chars().all(|c| c.is_ascii_digit())
                && p.parse().is_ok_and(|n| in_range(i, n))
        });
    if !well_formed {
        return Err(SearchError::BadDate(name.to_owned(), value.to_owned()));
    }
    Ok(value.trim().to_owned())
}

/// Sets `slot` from `value`, refusing a second, different value.
fn set_once(slot: &mut Option<String>, name: &str, value: String) -> Result<(), SearchError> {
    match slot {
        Some(old) if *old != value => Err(SearchError::Twice(name.to_owned(), old.clone(), value)),
        _ => {
            *slot = Some(value);
            Ok(())
        }
    }
}

impl SearchRequest {
    /// Parses `text` (words and inline filters), merges the flags' filters, and checks
    /// every filter against the taxonomy and the known types.
    pub fn build(
        text: &str,
        flags: &Filters,
        taxonomy: &Taxonomy,
    ) -> Result<SearchRequest, SearchError> {
        let (words, inline) = split_inline(text)?;
        let mut input = flags.clone();
        for (key, value) in inline {
            match input.slot(&key) {
                Some(slot) => set_once(slot, &key, value)?,
                None => {
                    // date:FROM..TO, date:DAY (that day, month or year), ..TO, FROM..
                    let (from, to) = match value.split_once("..") {
                        Some((f, t)) => (f.trim().to_owned(), t.trim().to_owned()),
                        None => (value.clone(), value.clone()),
                    };
                    if from.is_empty() && to.is_empty() {
                        return Err(SearchError::BadDateRange(value));
                    }
                    if !from.is_empty() {
                        set_once(&mut input.from, "the start date", from)?;
                    }
                    if !to.is_empty() {
                        set_once(&mut input.to, "the end date", to)?;
                    }
                }
            }
        }
        let filters = resolve(taxonomy, &input)?;
        let query = if words.trim().is_empty() && !filters.is_empty() {
            None
        } else {
            Some(Query::read(&words)?)
        };
        Ok(SearchRequest {
            text: text.to_owned(),
            query,
            filters,
            limit: 20,
            offset: 0,
            sort: SortOrder::Relevance,
            scope: crate::store::Scope::All,
            explain: false,
        })
    }

    /// A request from query text alone, with the built-in taxonomy (tests, benchmarks).
    pub fn parse(text: &str) -> Result<SearchRequest, SearchError> {
        SearchRequest::build(text, &Filters::default(), &Taxonomy::builtin())
    }

    pub fn paged(mut self, limit: usize, offset: usize) -> Result<SearchRequest, SearchError> {
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(SearchError::BadLimit);
        }
        self.limit = limit;
        self.offset = offset;
        Ok(self)
    }
}

/// Filters as typed → filters on stored values (sector id, procedure code, type code).
pub fn resolve(taxonomy: &Taxonomy, input: &Filters) -> Result<Filters, SearchError> {
    let non_empty = |name: &str, v: &Option<String>| -> Result<Option<String>, SearchError> {
        match v {
            Some(s) if s.trim().is_empty() => Err(SearchError::EmptyValue(name.to_owned())),
            other => Ok(other.as_ref().map(|s| s.trim().to_owned())),
        }
    };
    let sector = match non_empty("--sector", &input.sector)? {
        Some(s) => Some(
            taxonomy
                .find_sector(&s)
                .ok_or_else(|| SearchError::UnknownSector(s.clone(), taxonomy.sector_list()))?
                .id,
        ),
        None => None,
    };
    let procedure = match non_empty("--procedure", &input.procedure)? {
        Some(p) => {
            let sectors: Vec<&str> = match &sector {
                Some(s) => vec![s.as_str()],
                None => taxonomy.sectors.iter().map(|s| s.id.as_str()).collect(),
            };
            let found: Vec<String> = sectors
                .iter()
                .filter_map(|s| taxonomy.find_procedure(s, &p).map(|p| p.code.clone()))
                .collect();
            match found.as_slice() {
                [one] => Some(one.clone()),
                [] => return Err(SearchError::UnknownProcedure(p)),
                _ => return Err(SearchError::AmbiguousProcedure(p)),
            }
        }
        None => None,
    };
    let doc_type = match non_empty("--type", &input.doc_type)? {
        Some(t) => Some(
            fields::type_by_code_or_name(&t)
                .ok_or_else(|| {
                    let known: Vec<String> = fields::DOC_TYPES
                        .iter()
                        .map(|t| format!("{} ({})", t.code, t.name))
                        .collect();
                    SearchError::UnknownType(t.clone(), known.join(", "))
                })?
                .code
                .to_owned(),
        ),
        None => None,
    };
    let from = match non_empty("--from", &input.from)? {
        Some(v) => Some(date_bound("--from", &v)?),
        None => None,
    };
    let to = match non_empty("--to", &input.to)? {
        Some(v) => Some(date_bound("--to", &v)?),
        None => None,
    };
    if let (Some(f), Some(t)) = (&from, &to)
        && f.as_str() > t.as_str()
        && !t.starts_with(f.as_str())
    {
        return Err(SearchError::DateOrder(f.clone(), t.clone()));
    }
    let citizen_id = match non_empty("--id", &input.citizen_id)? {
        Some(id) if (id.len() == 12 || id.len() == 9) && id.chars().all(|c| c.is_ascii_digit()) => {
            Some(id)
        }
        Some(id) => return Err(SearchError::BadCitizenId(id)),
        None => None,
    };
    Ok(Filters {
        sector,
        procedure,
        doc_type,
        number: non_empty("--number", &input.number)?,
        agency: non_empty("--agency", &input.agency)?,
        citizen_id,
        from,
        to,
        needs_review: input.needs_review,
    })
}

/// One result: a document, the page that matched best, and what identifies it.
#[derive(Debug, Clone, Serialize)]
pub struct Hit {
    pub id: i64,
    pub path: String,
    pub page: u32,
    pub score: f64,
    pub sector: Option<String>,
    pub sector_name: Option<String>,
    pub procedure: Option<String>,
    #[serde(rename = "type")]
    pub doc_type: Option<String>,
    pub number: Option<String>,
    pub date: Option<String>,
    pub agency: Option<String>,
    pub needs_review: bool,
    /// Found only by approximate matching (the words within an edit or two).
    pub approximate: bool,
    pub snippet: String,
    /// Character offsets of highlighted words in `snippet`.
    pub highlights: Vec<(usize, usize)>,
    /// With `--explain`: the parts of the query matched, with their scores.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub why: Vec<Reason>,
}

/// One part of a query a hit matched (`--explain`).
#[derive(Debug, Clone, Serialize)]
pub struct Reason {
    /// "syllable «giay»", "pair «giay phep»", "exact marks «phép»", "function word «co»" …
    pub part: String,
    /// Its share of the hit's score (BM25 with boosts).
    pub score: f32,
}

#[derive(Debug, Clone, Serialize)]
pub struct SearchResponse {
    /// Documents matching in all.
    pub total: usize,
    /// True when exact matching found too little and approximate matches were added.
    pub approximate: bool,
    /// True when the words were ranked as a question (some of them matched, not all).
    pub question: bool,
    pub hits: Vec<Hit>,
    pub facets: Facets,
}

fn hit(
    id: i64,
    path: String,
    score: f64,
    fields: Option<Fields>,
    classification: Option<Classification>,
    pages: &[(u32, String)],
    terms: &[HighlightTerm],
) -> Hit {
    // The page with the most distinct query terms, then the most matches; the first
    // page when nothing matches (filters alone). A quick count on each page's folded
    // text first: tokenizing every page of twenty documents costs more than the search.
    let quick = |text: &str| {
        let mut folded = String::with_capacity(text.len());
        crate::fold::fold_word(text, &mut folded);
        let counts: Vec<usize> = terms
            .iter()
            .map(|t| {
                t.words
                    .first()
                    .map_or(0, |w| folded.matches(w.as_str()).count())
            })
            .collect();
        (
            counts.iter().filter(|n| **n > 0).count(),
            counts.iter().sum::<usize>(),
        )
    };
    let mut scored: Vec<((usize, usize), usize)> = if terms.is_empty() {
        Vec::new()
    } else {
        pages
            .iter()
            .enumerate()
            .map(|(i, (_, t))| (quick(t), i))
            .collect()
    };
    if scored.iter().all(|(s, _)| s.0 == 0) && !terms.is_empty() {
        // Approximate matches are not substrings: compare word by word.
        scored = pages
            .iter()
            .enumerate()
            .map(|(i, (_, t))| (page_score(t, terms), i))
            .collect();
    }
    let best = scored
        .iter()
        .max_by_key(|(score, i)| (*score, std::cmp::Reverse(*i)))
        .map_or(0, |(_, i)| *i);
    let (page, text) = pages
        .get(best)
        .map(|(n, t)| (*n, t.as_str()))
        .unwrap_or((1, ""));
    let s = snippet(text, terms);
    let f = fields.unwrap_or_default();
    Hit {
        id,
        path,
        page,
        score,
        sector: classification.as_ref().map(|c| c.sector.clone()),
        sector_name: classification.as_ref().map(|c| c.sector_name.clone()),
        procedure: classification
            .as_ref()
            .and_then(|c| c.procedure_code.clone()),
        doc_type: f.doc_type,
        number: f.number,
        date: f.date,
        agency: f.agency,
        needs_review: classification.is_some_and(|c| c.needs_review),
        approximate: false,
        snippet: s.text,
        highlights: s.highlights,
        why: Vec::new(),
    }
}

/// A response as `search --json` and the web API give it (schema in README).
#[derive(Serialize)]
pub struct SearchOutput<'a> {
    pub schema_version: u32,
    pub query: &'a str,
    pub total: usize,
    pub offset: usize,
    pub limit: usize,
    pub sort: SortOrder,
    pub approximate: bool,
    pub question: bool,
    pub facets: &'a crate::store::Facets,
    pub hits: &'a [Hit],
}

impl<'a> SearchOutput<'a> {
    pub fn new(
        schema_version: u32,
        request: &'a SearchRequest,
        response: &'a SearchResponse,
    ) -> SearchOutput<'a> {
        SearchOutput {
            schema_version,
            query: &request.text,
            total: response.total,
            offset: request.offset,
            limit: request.limit,
            sort: request.sort,
            approximate: response.approximate,
            question: response.question,
            facets: &response.facets,
            hits: &response.hits,
        }
    }
}

/// Runs `spec` with `search`; plain words that find too little all required (nothing,
/// from `QUESTION_RETRY_MIN_WORDS` words; less than a page, from `QUESTION_MIN_WORDS`)
/// are asked again as a question. The results, and whether they are the
/// question's.
pub fn with_question_retry(
    search: &dyn Fn(&SearchSpec) -> Result<SearchResults, StoreError>,
    spec: SearchSpec,
) -> Result<(SearchResults, bool), StoreError> {
    let results = search(&spec)?;
    let Some(query) = &spec.query else {
        return Ok((results, false));
    };
    if query.question {
        return Ok((results, true));
    }
    // Long plain words are a question unless a full page of documents holds them all;
    // shorter ones only when nothing does.
    let words = query.plain_words();
    let enough = match words >= crate::query::QUESTION_MIN_WORDS {
        true => spec.offset + spec.limit.max(1),
        false => 1,
    };
    if words < crate::query::QUESTION_RETRY_MIN_WORDS || results.total >= enough || spec.offset > 0
    {
        return Ok((results, false));
    }
    let asked = SearchSpec {
        query: Some(query.as_question()),
        ..spec
    };
    let ranked = search(&asked)?;
    Ok(match ranked.total > results.total {
        true => (ranked, true),
        false => (results, false),
    })
}

/// Runs a request. Exact matches come first; plain words that match too little are
/// asked again as a question (`with_question_retry`); otherwise, when there are fewer
/// than `FUZZY_BELOW`, documents matching the words approximately follow, marked
/// `approximate`.
pub fn run(store: &dyn Store, request: &SearchRequest) -> Result<SearchResponse, SearchError> {
    let mut spec = SearchSpec {
        query: request.query.clone(),
        filters: request.filters.clone(),
        limit: request.limit,
        offset: request.offset,
        sort: request.sort,
        fuzzy: false,
        scope: request.scope.clone(),
        explain: request.explain,
    };
    let (mut results, question) = with_question_retry(&|spec| store.search(spec), spec.clone())?;
    let mut approximate_ids = std::collections::HashSet::new();
    if results.total < FUZZY_BELOW && !question && request.query.is_some() && request.offset == 0 {
        spec.fuzzy = true;
        let fuzzy = store.search(&spec)?;
        if fuzzy.total > results.total {
            let exact: std::collections::HashSet<i64> =
                results.hits.iter().map(|h| h.document_id).collect();
            for h in fuzzy.hits {
                if !exact.contains(&h.document_id) && results.hits.len() < request.limit {
                    approximate_ids.insert(h.document_id);
                    results.hits.push(h);
                }
            }
            results.total = fuzzy.total;
            results.facets = fuzzy.facets;
        }
    }
    let terms = request
        .query
        .as_ref()
        .map(Query::highlight_terms)
        .unwrap_or_default();
    let fuzzy_terms: Vec<HighlightTerm> = terms
        .iter()
        .cloned()
        .map(|mut t| {
            t.fuzzy = !t.prefix;
            t
        })
        .collect();
    let ids: Vec<i64> = results.hits.iter().map(|h| h.document_id).collect();
    let scores: std::collections::HashMap<i64, f64> = results
        .hits
        .iter()
        .map(|h| (h.document_id, h.score))
        .collect();
    let why: std::collections::HashMap<i64, &[(String, f32)]> = results
        .hits
        .iter()
        .map(|h| (h.document_id, h.why.as_slice()))
        .collect();
    // Each hit's best page and snippet is independent work, a third of a typical
    // query's time: spread over the cores.
    let hits = store
        .hit_documents(&ids)?
        .into_par_iter()
        .map(|d| {
            let approximate = approximate_ids.contains(&d.id);
            let mut h = hit(
                d.id,
                d.path,
                scores.get(&d.id).copied().unwrap_or(0.0),
                d.fields,
                d.classification,
                &d.pages,
                if approximate { &fuzzy_terms } else { &terms },
            );
            h.approximate = approximate;
            h.why = why
                .get(&d.id)
                .into_iter()
                .flat_map(|parts| parts.iter())
                .map(|(part, score)| Reason {
                    part: part.clone(),
                    score: *score,
                })
                .collect();
            h
        })
        .collect();
    Ok(SearchResponse {
        total: results.total,
        approximate: !approximate_ids.is_empty(),
        question,
        hits,
        facets: results.facets,
    })
}

/// Documents like document `id`, as result lines (no query words to highlight).
pub fn similar(store: &dyn Store, id: i64, limit: usize) -> Result<Vec<Hit>, SearchError> {
    let found = store.similar(id, limit)?;
    let ids: Vec<i64> = found.iter().map(|h| h.document_id).collect();
    let scores: std::collections::HashMap<i64, f64> =
        found.iter().map(|h| (h.document_id, h.score)).collect();
    Ok(store
        .hit_documents(&ids)?
        .into_iter()
        .map(|d| {
            hit(
                d.id,
                d.path,
                scores.get(&d.id).copied().unwrap_or(0.0),
                d.fields,
                d.classification,
                &d.pages,
                &[],
            )
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The filters and words a query means, as "key=value" parts.
    fn check(text: &str, expect: Result<&str, &str>) {
        let got = SearchRequest::parse(text).map(|r| {
            let f = r.filters;
            let mut parts = Vec::new();
            let mut put = |k: &str, v: &Option<String>| {
                if let Some(v) = v {
                    parts.push(format!("{k}={v}"));
                }
            };
            put("sector", &f.sector);
            put("procedure", &f.procedure);
            put("type", &f.doc_type);
            put("number", &f.number);
            put("agency", &f.agency);
            put("id", &f.citizen_id);
            put("from", &f.from);
            put("to", &f.to);
            if let Some(q) = r.query {
                parts.push(format!("terms={}", q.clauses.len()));
            }
            parts.join("; ")
        });
        match (got, expect) {
            (Ok(got), Ok(want)) => assert_eq!(got, want, "{text:?}"),
            (Err(e), Err(want)) => {
                assert!(e.to_string().contains(want), "{text:?}: {e} lacks {want:?}")
            }
            (got, want) => panic!("{text:?}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn reads_inline_filters() {
        check("quyết định sector:dat-dai", Ok("sector=dat-dai; terms=2"));
        check(
            "sector:\"Hộ tịch\" khai sinh",
            Ok("sector=ho-tich; terms=2"),
        );
        check("type:qd", Ok("type=QĐ"));
        check("Type:Công_văn", Err("unknown document type"));
        check("number:02-BC", Ok("number=02-BC"));
        check(
            "agency:\"sở tư pháp\" hồ sơ",
            Ok("agency=sở tư pháp; terms=2"),
        );
        check("id:040078001122", Ok("id=040078001122"));
        check("date:2024-01..2024-06", Ok("from=2024-01; to=2024-06"));
        check("date:2024", Ok("from=2024; to=2024"));
        check("date:..2023-12 dat", Ok("to=2023-12; terms=1"));
        check(
            "procedure:\"đăng ký khai sinh lưu động\"",
            Ok("procedure=1.003583.000.00.00.H37"),
        );
        // A colon in ordinary words is just text.
        check("Số: 12 V/v: đất", Ok("terms=4"));
    }

    #[test]
    fn refuses_bad_filters_by_name() {
        check("sector:mars", Err("no sector \"mars\""));
        check(
            "date:2024-13",
            Err("write a date as YYYY, YYYY-MM or YYYY-MM-DD"),
        );
        check("date:..", Err("write a range as FROM..TO"));
        check(
            "date:2024-06..2024-01",
            Err("starts at 2024-06 after it ends at 2024-01"),
        );
        check("id:12345", Err("a citizen ID is 12 digits"));
        check(
            "sector:dat-dai sector:ho-tich",
            Err("sector is given twice"),
        );
        check("agency:\"sở tư", Err("quote is not closed"));
        check("sector:", Err("sector: needs a value"));
        // Words are never refused: a stray operator is text (`Query::read`).
        check("dat -", Ok("terms=1"));
    }
}
