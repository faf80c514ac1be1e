//! The search index: tantivy, beside the SQLite file (`<db>.index/`), one entry per
//! current document. Derived data: SQLite is the truth, every change to what search
//! sees is queued in SQLite (`search_changes`) in the transaction that makes it, and
//! `flush` applies the queue here. Lost or stale, the index is rebuilt from SQLite.
//!
//! Why tantivy and not SQLite FTS5 (measured, see ARCHITECTURE.md): FTS5 computes bm25
//! for every match before sorting, 150 ms per common query at 20,000 pages already.

use super::tokenize::{Form, PairTokenizer, WordTokenizer, is_common};
use super::{Facets, SearchHit, SearchSpec, SortOrder, StoreError};
use crate::classify::Classification;
use crate::fields::Fields;
use crate::filters::Filters;
use crate::fold::has_marks;
use crate::query::{Clause, Term as QueryTerm, TermKind};
use std::ops::Bound;
use std::path::Path;
use tantivy::collector::{Collector, Count, SegmentCollector, TopDocs};
use tantivy::columnar::{Column, StrColumn};
use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, ConstScoreQuery, FuzzyTermQuery, MoreLikeThisQuery, Occur,
    PhrasePrefixQuery, PhraseQuery, Query as TQuery, RangeQuery, RegexQuery, TermQuery,
};
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STRING, Schema, TextFieldIndexing, TextOptions,
};
use tantivy::tokenizer::{TextAnalyzer, TokenStream};
use tantivy::{DocAddress, Index, IndexReader, ReloadPolicy, TantivyDocument, Term};

/// The index's writer: held by the store between flushes, used only through `SearchIndex`.
pub use tantivy::IndexWriter;
use unicode_normalization::UnicodeNormalization;

/// Shorter words are never matched approximately.
const FUZZY_MIN_LETTERS: usize = 4;
/// A marked form found in more than this share of documents gets no exact-marks boost.
const UBIQUITOUS_SHARE: f64 = 0.3;
/// Tokenizer of the folded text: words lower-cased, every mark and `đ` folded.
const FOLDED: &str = "sohoa_words";
/// Tokenizer of the pairs of adjacent common words (for phrases). Named after its list
/// of common words: another list makes another index (rebuilt on open).
const PAIRS: &str = "sohoa_common_pairs_256";
/// Tokenizer of the marked text: words lower-cased, marks kept (for tone-aware ranking).
const MARKED: &str = "sohoa_marked_words";
/// Threads searching one query's segments at once (at most; fewer on fewer cores).
const SEARCH_THREADS: usize = 4;
/// Completions tried per segment for the last word of a phrase typed as a prefix
/// (`hộ-gia-đ*`), in alphabetical order (tantivy's default is 50); a one-letter prefix
/// in a large archive can have more, and those past the limit are not matched.
const PHRASE_PREFIX_EXPANSIONS: u32 = 1_000;
/// Memory for the index writer's buffer; a bigger one makes fewer, larger segments.
const WRITER_MEMORY: usize = 256 << 20;
/// A query term with marks also matches its exact marked form, scored this much extra:
/// `bán` ranks documents with `bán` above those with only `ban` or `bàn`.
const EXACT_MARKS_BOOST: f32 = 1.5;
/// Distinct words of a question kept at most, the rarest first: the cost bound of a
/// pasted paragraph (the rarest words are the ones that tell documents apart).
const QUESTION_MAX_TERMS: usize = 24;
/// A word in more than this share of the archive's documents is a function word here,
/// learned from the archive, not listed ("có", "được", "cấp" in a catalog of permits):
/// it ranks a little, and a document need not have it.
const FUNCTION_WORD_SHARE: f64 = 0.3;
/// A function word's match counts this much of its score.
const FUNCTION_WORD_WEIGHT: f32 = 0.3;
/// Two adjacent syllables of a question found together ("giấy phép", "xây dựng": most
/// Vietnamese words are two syllables) score this much on top of the two syllables.
const BIGRAM_BOOST: f32 = 3.0;
/// Three syllables of a question in a row, found in a row, score this much on top.
const TRIGRAM_BOOST: f32 = 4.0;
/// The words of asking rather than of the need: pronouns, politeness, question words,
/// the vocabulary of any request ("hồ sơ", "thủ tục", "nộp"). The archive's own
/// statistics (`FUNCTION_WORD_SHARE`) find the words common in its documents; these are
/// common in questions and not rare in documents ("hồ sơ", "kết quả"), which no
/// document statistic can tell. They rank a little, like function words. Written with
/// their marks and compared with the marks typed ("thể" in "có thể" is not "thẻ", "tờ"
/// not "tổ"); a word typed without marks is compared folded. Syllables that are as often
/// a need as a way of asking ("giấy", "gia", "nhà", "công", "thành") are not listed.
const QUESTION_WORDS: &str = "tôi mình em anh chị ông bà chúng ta bạn cho hỏi xin muốn cần \
    có được không ko thì là làm thế nào ở đâu bao lâu những gì gồm và với của nay vậy phải đã \
    đang hiện bảo biết bắt đầu từ mong cảm ơn kính gửi quý ạ nhé gấp online trực tuyến nộp hồ \
    sơ thủ tục tờ chuẩn bị lệ phí kết quả hướng dẫn cụ thể nhu cầu sống huyện xã tỉnh phố \
    phường ty re các một hay hoặc nếu khi sau trước về như trên dưới phận quan cán lên";
/// A question's document needs 1 of its informative words, and one more for every this
/// many (4 words: 2, 8 words: 3 …), at most `QUESTION_MAX_NEEDED`. Tuned on the question
/// set's tuning share (`tests/it/questions.rs`): 3 and 5 do worse or no better.
const QUESTION_WORDS_PER_NEEDED: usize = 4;
const QUESTION_MAX_NEEDED: usize = 4;

/// A question compiled: what a document must match, and what ranks it, each part named
/// for `--explain`.
struct Question {
    /// Enough of the informative words (`QUESTION_WORDS_PER_NEEDED`), scored.
    required: Box<dyn TQuery>,
    /// The informative words one by one (for explanations; `required` scores them).
    words: Vec<(String, Box<dyn TQuery>)>,
    /// Function words, syllable pairs and exact marks: they rank, they are not needed.
    ranking: Vec<(String, Box<dyn TQuery>)>,
}

/// What a query is built for: ranking needs the exact-marks boosts; counting and
/// facets need only the set of matches, and skipping the boosts skips their postings.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Rank,
    Match,
}

#[derive(Clone, Copy)]
struct Fields_ {
    id: Field,
    text: Field,
    /// Adjacent common words, "uy ban", "ban nhan", … at the first word's position.
    pairs: Field,
    marked: Field,
    sector: Field,
    procedure: Field,
    doc_type: Field,
    number: Field,
    agency: Field,
    agency_name: Field,
    citizen_id: Field,
    date: Field,
    year: Field,
    review: Field,
    unit: Field,
}

/// Exactly what the index holds of one document, and the only way to build it from an
/// archive's document (the procedure finder indexes procedures, not documents): the
/// live path (a document just stored) and the replay path (a rebuild, a queued change
/// read back from the database) both go through `IndexDoc::new`, so a rebuilt index
/// is the live one.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IndexDoc {
    pub id: i64,
    /// The pages' text, in page order, one line break between pages.
    pub text: String,
    pub doc_type: Option<String>,
    pub number: Option<String>,
    pub agency: Option<String>,
    pub citizen_ids: Vec<String>,
    /// The issue date, `YYYY-MM-DD`.
    pub date: Option<String>,
    pub sector: Option<String>,
    pub procedure: Option<String>,
    /// Set for a classified document only.
    pub needs_review: Option<bool>,
    /// The owning unit's code: searches are limited to the caller's units.
    pub unit: Option<String>,
}

impl IndexDoc {
    /// From the document's pages (number, text; any order), fields, classification and unit.
    pub fn new<'a>(
        id: i64,
        pages: impl IntoIterator<Item = (u32, &'a str)>,
        fields: Option<&Fields>,
        classification: Option<&Classification>,
        unit: Option<&str>,
    ) -> IndexDoc {
        let mut pages: Vec<(u32, &str)> = pages.into_iter().collect();
        pages.sort_by_key(|(number, _)| *number);
        let text: Vec<&str> = pages.iter().map(|(_, text)| *text).collect();
        IndexDoc {
            id,
            text: text.join("\n"),
            doc_type: fields.and_then(|f| f.doc_type.clone()),
            number: fields.and_then(|f| f.number.clone()),
            agency: fields.and_then(|f| f.agency.clone()),
            citizen_ids: fields.map(|f| f.citizen_ids.clone()).unwrap_or_default(),
            date: fields.and_then(|f| f.date.clone()),
            sector: classification.map(|c| c.sector.clone()),
            procedure: classification.and_then(|c| c.procedure_code.clone()),
            needs_review: classification.map(|c| c.needs_review),
            unit: unit.map(str::to_owned),
        }
    }
}

pub struct SearchIndex {
    index: Index,
    reader: IndexReader,
    f: Fields_,
    /// `meta.json` as it was when the reader last loaded it.
    meta: std::path::PathBuf,
    loaded: std::sync::Mutex<Option<MetaStamp>>,
}

/// What tells one commit's `meta.json` from the next: tantivy replaces the file by a
/// rename, so a new commit is a new inode (and a new time and size).
#[derive(Clone, Copy, PartialEq, Eq)]
struct MetaStamp {
    inode: u64,
    modified: std::time::SystemTime,
    len: u64,
}

fn meta_stamp(meta: &Path) -> Option<MetaStamp> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(meta).ok()?;
    Some(MetaStamp {
        inode: m.ino(),
        modified: m.modified().ok()?,
        len: m.len(),
    })
}

fn index_error(e: tantivy::TantivyError) -> StoreError {
    StoreError::Index(e.to_string())
}

fn schema() -> (Schema, Fields_) {
    let mut b = Schema::builder();
    let text_options = |tokenizer: &str, record: IndexRecordOption| {
        TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(tokenizer)
                .set_index_option(record),
        )
    };
    let f = Fields_ {
        id: b.add_u64_field("id", INDEXED | FAST),
        // Positions for phrases; phrases of common words are matched on `pairs`.
        text: b.add_text_field(
            "text",
            text_options(FOLDED, IndexRecordOption::WithFreqsAndPositions),
        ),
        pairs: b.add_text_field(
            "common_pairs",
            text_options(PAIRS, IndexRecordOption::WithFreqsAndPositions),
        ),
        // Presence is all that preferring exact marks needs: no frequencies, no positions.
        marked: b.add_text_field("marked", text_options(MARKED, IndexRecordOption::Basic)),
        sector: b.add_text_field("sector", STRING | FAST),
        procedure: b.add_text_field("procedure", STRING),
        doc_type: b.add_text_field("doc_type", STRING | FAST),
        number: b.add_text_field("number", STRING),
        agency: b.add_text_field(
            "agency",
            text_options(FOLDED, IndexRecordOption::WithFreqsAndPositions),
        ),
        agency_name: b.add_text_field("agency_name", STRING | FAST),
        citizen_id: b.add_text_field("citizen_id", STRING),
        date: b.add_u64_field("date", INDEXED | FAST),
        year: b.add_u64_field("year", FAST),
        review: b.add_u64_field("review", INDEXED | FAST),
        unit: b.add_text_field("unit", STRING),
    };
    (b.build(), f)
}

/// Whether the index in `dir` was made with `schema` (an unreadable one was not).
fn same_schema(dir: &Path, schema: &Schema) -> bool {
    let Ok(index) = Index::open_in_dir(dir) else {
        return false;
    };
    serde_json::to_value(index.schema()).ok() == serde_json::to_value(schema).ok()
}

fn register_tokenizers(index: &Index) {
    let tokenizers = index.tokenizers();
    tokenizers.register(
        FOLDED,
        TextAnalyzer::from(WordTokenizer { form: Form::Folded }),
    );
    tokenizers.register(
        MARKED,
        TextAnalyzer::from(WordTokenizer { form: Form::Marked }),
    );
    tokenizers.register(PAIRS, TextAnalyzer::from(PairTokenizer));
}

/// The words of `text` as the index sees them with `tokenizer`.
fn tokens(index: &Index, tokenizer: &str, text: &str) -> Vec<String> {
    let mut analyzer = index
        .tokenizers()
        .get(tokenizer)
        .expect("tokenizer registered at open");
    let nfc: String = text.nfc().collect();
    let mut stream = analyzer.token_stream(&nfc);
    let mut out = Vec::new();
    while stream.advance() {
        out.push(stream.token().text.clone());
    }
    out
}

/// The pairs a phrase of `words` is matched by, with their offsets: every other pair
/// and the last one ("a b c d e" → "a b"@0, "c d"@2, "d e"@3) cover every word in
/// order, with half the position lists of a phrase of words.
fn phrase_pairs(field: Field, words: &[String]) -> Vec<(usize, Term)> {
    let last = words.len().saturating_sub(2);
    let mut offsets: Vec<usize> = (0..=last).step_by(2).collect();
    if offsets.last() != Some(&last) {
        offsets.push(last);
    }
    offsets
        .into_iter()
        .map(|i| {
            let pair = format!("{} {}", words[i], words[i + 1]);
            (i, Term::from_field_text(field, &pair))
        })
        .collect()
}

/// "2024-01-26" → 20240126 (a sortable number); a bound "2024" or "2024-06" becomes the
/// first or last possible day.
fn date_number(date: &str, upper: bool) -> Option<u64> {
    let parts: Vec<u64> = date
        .split('-')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let fill = if upper { 99 } else { 0 };
    match parts.as_slice() {
        [y] => Some(y * 10_000 + fill * 100 + fill),
        [y, m] => Some(y * 10_000 + m * 100 + fill),
        [y, m, d] => Some(y * 10_000 + m * 100 + d),
        _ => None,
    }
}

impl SearchIndex {
    /// Opens the index in `dir`, creating it when missing (`true`: it must be filled).
    pub fn open(dir: &Path) -> Result<(SearchIndex, bool), StoreError> {
        let (schema, f) = schema();
        let mut created = !dir.join("meta.json").exists();
        if !created && !same_schema(dir, &schema) {
            // An index from an older sohoa: derived data, rebuilt from SQLite.
            std::fs::remove_dir_all(dir)?;
            created = true;
        }
        std::fs::create_dir_all(dir)?;
        let mut index = if created {
            Index::create_in_dir(dir, schema).map_err(index_error)?
        } else {
            Index::open_in_dir(dir).map_err(index_error)?
        };
        register_tokenizers(&index);
        // Segments are searched in parallel: a query over most of a million pages
        // takes half the time on two cores.
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        index
            .set_multithread_executor(threads.min(SEARCH_THREADS))
            .map_err(index_error)?;
        // Stamped before the reader loads: a commit in between is seen by a refresh.
        let meta = dir.join("meta.json");
        let loaded = std::sync::Mutex::new(meta_stamp(&meta));
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(index_error)?;
        let index = SearchIndex {
            index,
            reader,
            f,
            meta,
            loaded,
        };
        Ok((index, created))
    }

    /// The only writer of the index, or `None` when another process holds it.
    pub fn writer(&self, threads: usize) -> Result<Option<IndexWriter>, StoreError> {
        match self
            .index
            .writer_with_num_threads(threads.max(1), WRITER_MEMORY * threads.max(1))
        {
            Ok(w) => Ok(Some(w)),
            Err(tantivy::TantivyError::LockFailure(..)) => Ok(None),
            Err(e) => Err(index_error(e)),
        }
    }

    /// A writer over an emptied index, for a rebuild from scratch (None: another process
    /// holds the index). A bulk build leaves segments the size of the writer's memory
    /// and no merge pass (a third of the build's time): a handful of large segments,
    /// which searches run in parallel. Later commits merge as usual.
    pub fn rebuild_writer(&self, threads: usize) -> Result<Option<IndexWriter>, StoreError> {
        let Some(writer) = self.writer(threads)? else {
            return Ok(None);
        };
        writer.delete_all_documents().map_err(index_error)?;
        writer.set_merge_policy(Box::new(tantivy::indexer::NoMergePolicy));
        Ok(Some(writer))
    }

    /// Whether the last loaded commit holds document `id` (or held it: a deleted entry
    /// not yet merged away still counts, which only costs a needless delete).
    pub fn holds(&self, id: i64) -> Result<bool, StoreError> {
        let term = Term::from_field_u64(self.f.id, id as u64);
        Ok(self
            .reader
            .searcher()
            .doc_freq(&term)
            .map_err(index_error)?
            > 0)
    }

    pub fn delete(&self, writer: &IndexWriter, id: i64) {
        writer.delete_term(Term::from_field_u64(self.f.id, id as u64));
    }

    pub fn add(&self, writer: &IndexWriter, record: &IndexDoc) -> Result<(), StoreError> {
        let f = self.f;
        let mut doc = TantivyDocument::default();
        doc.add_u64(f.id, record.id as u64);
        doc.add_text(f.text, &record.text);
        doc.add_text(f.pairs, &record.text);
        doc.add_text(f.marked, &record.text);
        if let Some(unit) = &record.unit {
            doc.add_text(f.unit, unit);
        }
        if let Some(sector) = &record.sector {
            doc.add_text(f.sector, sector);
        }
        if let Some(p) = &record.procedure {
            doc.add_text(f.procedure, p);
        }
        if let Some(review) = record.needs_review {
            doc.add_u64(f.review, u64::from(review));
        }
        if let Some(t) = &record.doc_type {
            doc.add_text(f.doc_type, t);
        }
        if let Some(n) = &record.number {
            doc.add_text(f.number, number_key(n));
        }
        if let Some(a) = &record.agency {
            doc.add_text(f.agency, a);
            doc.add_text(f.agency_name, a);
        }
        for id in &record.citizen_ids {
            doc.add_text(f.citizen_id, id);
        }
        if let Some(d) = record.date.as_deref().and_then(|d| date_number(d, false)) {
            doc.add_u64(f.date, d);
            doc.add_u64(f.year, d / 10_000);
        }
        writer.add_document(doc).map_err(index_error)?;
        Ok(())
    }

    /// Commits and lets segment merges finish: a writer dropped mid-merge leaves many
    /// small segments (slower searches) and files waiting for collection (a bigger index).
    pub fn commit(&self, mut writer: IndexWriter) -> Result<(), StoreError> {
        writer.commit().map_err(index_error)?;
        writer.wait_merging_threads().map_err(index_error)?;
        self.reload()
    }

    /// Commits and keeps the writer (its merges continue in the background).
    pub fn commit_keeping(&self, writer: &mut IndexWriter) -> Result<(), StoreError> {
        writer.commit().map_err(index_error)?;
        self.reload()
    }

    /// Sees what was committed since this handle opened (another process's writes).
    /// Reloading opens every segment again (a tenth of a quick search's time), so
    /// only when `meta.json` changed.
    pub fn refresh(&self) -> Result<(), StoreError> {
        let now = meta_stamp(&self.meta);
        if now.is_some() && *self.loaded.lock().expect("not poisoned") == now {
            return Ok(());
        }
        self.reload()
    }

    fn reload(&self) -> Result<(), StoreError> {
        // Stamped before reading: a commit in between is seen by the next refresh.
        let stamp = meta_stamp(&self.meta);
        self.reader.reload().map_err(index_error)?;
        *self.loaded.lock().expect("not poisoned") = stamp;
        Ok(())
    }

    /// Changes whenever the searchable segments change (a commit seen by `refresh`).
    /// tantivy's own generation id counts reloads, changed or not; this hashes what the
    /// searcher sees: its segments and their deletes.
    pub fn generation(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        for (segment, deletes) in self.reader.searcher().generation().segments() {
            segment.uuid_string().hash(&mut hasher);
            deletes.hash(&mut hasher);
        }
        hasher.finish()
    }

    fn term_query(&self, field: Field, value: &str) -> Box<dyn TQuery> {
        Box::new(TermQuery::new(
            Term::from_field_text(field, value),
            IndexRecordOption::WithFreqs,
        ))
    }

    /// One user term as a query on the folded text: a word, a phrase or a prefix; with
    /// `fuzzy`, words within an edit or two of it (OCR slips) also match.
    fn clause_term(&self, term: &QueryTerm, fuzzy: bool) -> Option<Box<dyn TQuery>> {
        let (base, boosts) = self.clause_parts(term, fuzzy)?;
        if boosts.is_empty() {
            return Some(base);
        }
        let mut parts = vec![(Occur::Must, base)];
        parts.extend(boosts.into_iter().map(|b| (Occur::Should, b)));
        Some(Box::new(BooleanQuery::new(parts)))
    }

    /// A term's query and, when typed with marks, the exact-marks boosts to add beside
    /// it (kept apart so a plain required term and its boosts sit in one flat query).
    #[allow(clippy::type_complexity)]
    fn clause_parts(
        &self,
        term: &QueryTerm,
        fuzzy: bool,
    ) -> Option<(Box<dyn TQuery>, Vec<Box<dyn TQuery>>)> {
        let words = tokens(&self.index, FOLDED, &term.text);
        let terms: Vec<Term> = words
            .iter()
            .map(|w| Term::from_field_text(self.f.text, w))
            .collect();
        if terms.is_empty() {
            return None;
        }
        let fuzzy_word = |t: &Term, word: &str| -> Box<dyn TQuery> {
            // One edit for short words, two for long ones: "chứnq" is "chứng".
            let distance = if word.chars().count() >= 7 { 2 } else { 1 };
            Box::new(BooleanQuery::new(vec![
                (
                    Occur::Should,
                    Box::new(BoostQuery::new(
                        Box::new(TermQuery::new(t.clone(), IndexRecordOption::WithFreqs)),
                        2.0,
                    )) as Box<dyn TQuery>,
                ),
                (
                    Occur::Should,
                    Box::new(FuzzyTermQuery::new(t.clone(), distance, true)),
                ),
            ]))
        };
        let pairs = self.f.pairs;
        let all_common = words.iter().all(|w| is_common(w));
        let base: Box<dyn TQuery> = match (term.kind.clone(), terms.len()) {
            (TermKind::Prefix, 1) => {
                let pattern = format!("{}.*", regex_escape(&words[0]));
                Box::new(RegexQuery::from_pattern(&pattern, self.f.text).ok()?)
            }
            (TermKind::Prefix, _) => {
                let mut query = PhrasePrefixQuery::new(terms);
                query.set_max_expansions(PHRASE_PREFIX_EXPANSIONS);
                Box::new(query)
            }
            // Words of three letters or fewer stay exact: one edit away from "dat" are
            // "dan", "cat", "bat" and a hundred others.
            (_, 1) if fuzzy && words[0].chars().count() >= FUZZY_MIN_LETTERS => {
                fuzzy_word(&terms[0], &words[0])
            }
            (_, 1) => Box::new(TermQuery::new(
                terms[0].clone(),
                IndexRecordOption::WithFreqs,
            )),
            // A phrase under fuzzy matching: its words, each approximately, all required.
            (_, _) if fuzzy => Box::new(BooleanQuery::new(
                terms
                    .iter()
                    .zip(&words)
                    .map(|(t, w)| {
                        let q = if w.chars().count() >= FUZZY_MIN_LETTERS {
                            fuzzy_word(t, w)
                        } else {
                            Box::new(TermQuery::new(t.clone(), IndexRecordOption::WithFreqs))
                        };
                        (Occur::Must, q)
                    })
                    .collect(),
            )),
            // Common words: on every other page, each word's positions are long lists;
            // two of them are one pair, no positions to compare at all.
            (_, 2) if all_common => Box::new(TermQuery::new(
                phrase_pairs(pairs, &words).remove(0).1,
                IndexRecordOption::WithFreqs,
            )),
            (_, _) if all_common => {
                Box::new(PhraseQuery::new_with_offset(phrase_pairs(pairs, &words)))
            }
            // A rarer word leads: positions are compared only on the pages that hold it.
            (_, _) => Box::new(PhraseQuery::new(terms)),
        };
        if !has_marks(&term.text) || term.kind == TermKind::Prefix {
            return Some((base, Vec::new()));
        }
        // Typed with marks: documents with exactly these marks rank first. A form on
        // most documents ("quyết định") orders nothing and costs a pass over all of
        // them: skipped.
        let searcher = self.reader.searcher();
        let everywhere = (searcher.num_docs() as f64 * UBIQUITOUS_SHARE) as u64;
        let exact = tokens(&self.index, MARKED, &term.text)
            .iter()
            .filter(|w| {
                let t = Term::from_field_text(self.f.marked, w);
                searcher.doc_freq(&t).map_or(true, |n| n <= everywhere)
            })
            .map(|w| {
                Box::new(BoostQuery::new(
                    self.term_query(self.f.marked, w),
                    EXACT_MARKS_BOOST,
                )) as Box<dyn TQuery>
            })
            .collect();
        Some((base, exact))
    }

    /// A question: ranked over its folded syllables (BM25) and its syllable pairs, its
    /// function words (by the archive's own statistics) weighted down, exact marks
    /// preferred; a document needs only some of the informative words.
    fn question(&self, query: &crate::query::Query) -> Question {
        let searcher = self.reader.searcher();
        let documents = searcher.num_docs().max(1) as f64;
        let text = self.f.text;
        // Each syllable folded, with its marked form when typed with marks.
        let syllables: Vec<(String, Option<String>)> = query
            .words()
            .flat_map(|typed| {
                let folded = tokens(&self.index, FOLDED, typed);
                let marked = tokens(&self.index, MARKED, typed);
                let aligned = marked.len() == folded.len() && has_marks(typed);
                folded
                    .into_iter()
                    .enumerate()
                    .map(|(i, f)| (f, aligned.then(|| marked[i].clone())))
                    .collect::<Vec<_>>()
            })
            .collect();
        let folded: Vec<&str> = syllables.iter().map(|(f, _)| f.as_str()).collect();
        let doc_freq = |w: &str| {
            searcher
                .doc_freq(&Term::from_field_text(text, w))
                .unwrap_or(0)
        };
        let mut distinct: Vec<(String, u64)> = Vec::new();
        for w in &folded {
            if !distinct.iter().any(|(d, _)| d == w) {
                distinct.push(((*w).to_owned(), doc_freq(w)));
            }
        }
        // Words no document holds rank nothing; of the rest, the rarest are kept.
        distinct.retain(|(_, n)| *n > 0);
        distinct.sort_by_key(|(_, n)| *n);
        distinct.truncate(QUESTION_MAX_TERMS);
        let kept: std::collections::HashSet<&str> =
            distinct.iter().map(|(w, _)| w.as_str()).collect();
        let listed: std::collections::HashSet<&str> = QUESTION_WORDS.split_whitespace().collect();
        let listed_folded: std::collections::HashSet<String> =
            listed.iter().map(|w| crate::fold::fold_full(w)).collect();
        let asking: std::collections::HashSet<&str> = syllables
            .iter()
            .filter(|(f, marked)| match marked {
                Some(m) => listed.contains(m.as_str()),
                None => listed_folded.contains(f),
            })
            .map(|(f, _)| f.as_str())
            .collect();
        let function_of =
            |w: &str, n: u64| n as f64 / documents > FUNCTION_WORD_SHARE || asking.contains(w);
        let word = |w: &str| -> Box<dyn TQuery> {
            Box::new(TermQuery::new(
                Term::from_field_text(text, w),
                IndexRecordOption::WithFreqs,
            ))
        };
        let words: Vec<(String, Box<dyn TQuery>)> = distinct
            .iter()
            .filter(|(w, n)| !function_of(w, *n))
            .map(|(w, _)| (format!("syllable «{w}»"), word(w)))
            .collect();
        let mut ranking: Vec<(String, Box<dyn TQuery>)> = Vec::new();
        let function: Vec<&str> = distinct
            .iter()
            .filter(|(w, n)| function_of(w, *n))
            .map(|(w, _)| w.as_str())
            .collect();
        let required: Box<dyn TQuery> = if words.is_empty() {
            // Nothing but common words: any of them will do.
            let any: Vec<(Occur, Box<dyn TQuery>)> =
                function.iter().map(|w| (Occur::Should, word(w))).collect();
            match any.is_empty() {
                true => Box::new(tantivy::query::EmptyQuery),
                false => Box::new(BooleanQuery::new(any)),
            }
        } else {
            let needed = (1 + words.len() / QUESTION_WORDS_PER_NEEDED).min(QUESTION_MAX_NEEDED);
            for w in &function {
                ranking.push((
                    format!("function word «{w}»"),
                    Box::new(BoostQuery::new(word(w), FUNCTION_WORD_WEIGHT)),
                ));
            }
            Box::new(BooleanQuery::with_minimum_required_clauses(
                words
                    .iter()
                    .map(|(_, q)| (Occur::Should, q.box_clone()))
                    .collect(),
                needed,
            ))
        };
        let function_word = |w: &str| function.contains(&w);
        let mut pairs_seen = std::collections::HashSet::new();
        for pair in syllables.windows(2) {
            let ((a, a_marked), (b, b_marked)) = (&pair[0], &pair[1]);
            if a == b || !kept.contains(a.as_str()) || !kept.contains(b.as_str()) {
                continue;
            }
            if !pairs_seen.insert((a.clone(), b.clone())) || pairs_seen.len() > QUESTION_MAX_TERMS {
                continue;
            }
            let both = [a.clone(), b.clone()];
            let together: Box<dyn TQuery> = if is_common(a) && is_common(b) {
                Box::new(TermQuery::new(
                    phrase_pairs(self.f.pairs, &both).remove(0).1,
                    IndexRecordOption::WithFreqs,
                ))
            } else {
                Box::new(PhraseQuery::new(
                    both.iter()
                        .map(|w| Term::from_field_text(text, w))
                        .collect(),
                ))
            };
            // Typed with marks, the pair counts only with those marks ("thể tự" is not
            // "thẻ tư"): the exact forms are required beside it, and score nothing.
            let exact: Vec<&String> = [a_marked, b_marked].into_iter().flatten().collect();
            let together: Box<dyn TQuery> = if exact.is_empty() {
                together
            } else {
                let mut all = vec![(Occur::Must, together)];
                for w in exact {
                    all.push((
                        Occur::Must,
                        Box::new(ConstScoreQuery::new(self.term_query(self.f.marked, w), 0.0)),
                    ));
                }
                Box::new(BooleanQuery::new(all))
            };
            ranking.push((
                format!("pair «{a} {b}»"),
                Box::new(BoostQuery::new(together, BIGRAM_BOOST)),
            ));
        }
        // Three syllables in a row: the need is written as a run ("cấp bản sao", "đăng ký
        // khai sinh"), asking words are scattered.
        let mut triples_seen = std::collections::HashSet::new();
        for triple in syllables.windows(3) {
            let words: Vec<&String> = triple.iter().map(|(f, _)| f).collect();
            if words.iter().any(|w| !kept.contains(w.as_str()))
                || words.iter().all(|w| function_word(w))
                || !triples_seen.insert(words.clone())
                || triples_seen.len() > QUESTION_MAX_TERMS
            {
                continue;
            }
            let phrase = PhraseQuery::new(
                words
                    .iter()
                    .map(|w| Term::from_field_text(text, w))
                    .collect(),
            );
            ranking.push((
                format!("run «{} {} {}»", words[0], words[1], words[2]),
                Box::new(BoostQuery::new(Box::new(phrase), TRIGRAM_BOOST)),
            ));
        }
        let everywhere = (documents * UBIQUITOUS_SHARE) as u64;
        let mut marked_seen = std::collections::HashSet::new();
        for (folded_word, marked) in &syllables {
            let Some(w) = marked else { continue };
            // Asking words typed with marks prefer nothing: "có" is not a need.
            if function_word(folded_word) {
                continue;
            }
            let t = Term::from_field_text(self.f.marked, w);
            let n = searcher.doc_freq(&t).unwrap_or(0);
            if n == 0 || n > everywhere || !marked_seen.insert(w.clone()) {
                continue;
            }
            ranking.push((
                format!("exact marks «{w}»"),
                Box::new(BoostQuery::new(
                    self.term_query(self.f.marked, w),
                    EXACT_MARKS_BOOST,
                )),
            ));
        }
        Question {
            required,
            words,
            ranking,
        }
    }

    /// The parts of `spec`'s query, each named, for explanations (built once a search).
    fn named_parts(&self, spec: &SearchSpec) -> Vec<(String, Box<dyn TQuery>)> {
        let Some(query) = &spec.query else {
            return Vec::new();
        };
        if query.question {
            let q = self.question(query);
            q.words.into_iter().chain(q.ranking).collect()
        } else {
            query
                .wanted_terms()
                .filter_map(|t| {
                    let (base, boosts) = self.clause_parts(t, spec.fuzzy)?;
                    let mut named = vec![(format!("«{}»", t.text), base)];
                    named.extend(
                        boosts
                            .into_iter()
                            .map(|b| (format!("exact marks of «{}»", t.text), b)),
                    );
                    Some(named)
                })
                .flatten()
                .collect()
        }
    }

    /// Why the document at `address` ranked where it did: each of `parts` it matched,
    /// with its score (BM25 with boosts), highest first.
    fn explain(
        searcher: &tantivy::Searcher,
        parts: &[(String, Box<dyn TQuery>)],
        address: DocAddress,
    ) -> Vec<(String, f32)> {
        let mut out: Vec<(String, f32)> = parts
            .iter()
            .filter_map(|(name, q)| {
                let score = part_score(searcher, &**q, address)?;
                (score > 0.0).then(|| (name.clone(), score))
            })
            .collect();
        out.sort_by(|a, b| b.1.total_cmp(&a.1));
        out
    }

    fn filter_queries(&self, filters: &Filters) -> Vec<Box<dyn TQuery>> {
        let f = self.f;
        let mut out: Vec<Box<dyn TQuery>> = Vec::new();
        if let Some(s) = &filters.sector {
            out.push(self.term_query(f.sector, s));
        }
        if let Some(p) = &filters.procedure {
            out.push(self.term_query(f.procedure, p));
        }
        if let Some(t) = &filters.doc_type {
            out.push(self.term_query(f.doc_type, t));
        }
        if let Some(n) = &filters.number {
            // Whole, or without the issuer part: "02-bc" finds "02-bc/bcd".
            let pattern = format!("{}([/-].*)?", regex_escape(&number_key(n)));
            match RegexQuery::from_pattern(&pattern, f.number) {
                Ok(q) => out.push(Box::new(q)),
                Err(_) => out.push(Box::new(tantivy::query::EmptyQuery)),
            }
        }
        if let Some(a) = &filters.agency {
            let terms: Vec<Term> = tokens(&self.index, FOLDED, a)
                .iter()
                .map(|w| Term::from_field_text(f.agency, w))
                .collect();
            match terms.len() {
                0 => {}
                1 => out.push(Box::new(TermQuery::new(
                    terms[0].clone(),
                    IndexRecordOption::Basic,
                ))),
                _ => out.push(Box::new(PhraseQuery::new(terms))),
            }
        }
        if let Some(id) = &filters.citizen_id {
            out.push(self.term_query(f.citizen_id, id));
        }
        let from = filters.from.as_deref().and_then(|d| date_number(d, false));
        let to = filters.to.as_deref().and_then(|d| date_number(d, true));
        if from.is_some() || to.is_some() {
            let bound = |v: Option<u64>| match v {
                Some(v) => Bound::Included(Term::from_field_u64(f.date, v)),
                None => Bound::Unbounded,
            };
            out.push(Box::new(RangeQuery::new(bound(from), bound(to))));
        }
        if filters.needs_review {
            out.push(Box::new(TermQuery::new(
                Term::from_field_u64(f.review, 1),
                IndexRecordOption::Basic,
            )));
        }
        out
    }

    fn build_query(&self, spec: &SearchSpec, purpose: Purpose) -> Box<dyn TQuery> {
        let mut parts: Vec<(Occur, Box<dyn TQuery>)> = Vec::new();
        if let Some(query) = spec.query.as_ref().filter(|q| q.question) {
            let question = self.question(query);
            parts.push((Occur::Must, question.required));
            if purpose == Purpose::Rank {
                parts.extend(
                    question
                        .ranking
                        .into_iter()
                        .map(|(_, q)| (Occur::Should, q)),
                );
            }
        } else if let Some(query) = &spec.query {
            for clause in &query.clauses {
                match clause {
                    Clause::AnyOf(terms) if terms.len() == 1 => {
                        if let Some((base, boosts)) = self.clause_parts(&terms[0], spec.fuzzy) {
                            parts.push((Occur::Must, base));
                            if purpose == Purpose::Rank {
                                parts.extend(boosts.into_iter().map(|b| (Occur::Should, b)));
                            }
                        }
                    }
                    Clause::AnyOf(terms) => {
                        let alternatives: Vec<(Occur, Box<dyn TQuery>)> = terms
                            .iter()
                            .filter_map(|t| self.clause_term(t, spec.fuzzy))
                            .map(|q| (Occur::Should, q))
                            .collect();
                        if !alternatives.is_empty() {
                            parts.push((Occur::Must, Box::new(BooleanQuery::new(alternatives))));
                        }
                    }
                    Clause::Not(term) => {
                        if let Some(q) = self.clause_term(term, false) {
                            parts.push((Occur::MustNot, q));
                        }
                    }
                }
            }
        }
        // Filters select; they do not score.
        for filter in self.filter_queries(&spec.filters) {
            parts.push((Occur::Must, Box::new(ConstScoreQuery::new(filter, 0.0))));
        }
        // The caller's units: a document in none of them matches nothing, whatever else
        // the query says (an empty list leaves an empty must-clause: no document).
        if let crate::store::Scope::Units(units) = &spec.scope {
            let any_unit: Vec<(Occur, Box<dyn TQuery>)> = units
                .iter()
                .map(|u| {
                    let term = Term::from_field_text(self.f.unit, u);
                    let q: Box<dyn TQuery> =
                        Box::new(TermQuery::new(term, IndexRecordOption::Basic));
                    (Occur::Should, q)
                })
                .collect();
            let scope: Box<dyn TQuery> = if any_unit.is_empty() {
                Box::new(tantivy::query::EmptyQuery)
            } else {
                Box::new(BooleanQuery::new(any_unit))
            };
            parts.push((Occur::Must, Box::new(ConstScoreQuery::new(scope, 0.0))));
        }
        if !parts.iter().any(|(o, _)| *o == Occur::Must) {
            parts.push((Occur::Must, Box::new(AllQuery)));
        }
        Box::new(BooleanQuery::new(parts))
    }

    /// Ranked document ids, the total, and facets over the whole result set.
    ///
    /// Two passes, each the cheap kind: the top documents by score alone (block-max WAND
    /// skips most matches), then count and facets without scoring (blocks of matches, no
    /// score computed). One scored pass over everything cost 3× both together on a
    /// million pages, because every match must then be scored.
    pub fn search(&self, spec: &SearchSpec) -> Result<(usize, Vec<SearchHit>, Facets), StoreError> {
        let searcher = self.reader.searcher();
        let top = TopDocs::with_limit(spec.limit.max(1)).and_offset(spec.offset);
        let facets = FacetCollector;
        let parts = match spec.explain {
            true => self.named_parts(spec),
            false => Vec::new(),
        };
        let ids = |addresses: Vec<(f64, DocAddress)>| -> Result<Vec<SearchHit>, StoreError> {
            addresses
                .into_iter()
                .map(|(score, address)| {
                    Ok(SearchHit {
                        document_id: document_id(&searcher, address)?,
                        score,
                        why: match spec.explain {
                            true => Self::explain(&searcher, &parts, address),
                            false => Vec::new(),
                        },
                    })
                })
                .collect()
        };
        let matching = self.build_query(spec, Purpose::Match);
        let use_score = spec.sort == SortOrder::Relevance && spec.query.is_some();
        let (total, hits, facets) = if use_score {
            let ranked = if spec.limit == 0 {
                Vec::new()
            } else {
                let query = self.build_query(spec, Purpose::Rank);
                searcher
                    .search(&query, &top.order_by_score())
                    .map_err(index_error)?
            };
            let (total, facets) = searcher
                .search(&matching, &(Count, facets))
                .map_err(index_error)?;
            let hits = ids(ranked.into_iter().map(|(s, a)| (f64::from(s), a)).collect())?;
            (total, hits, facets)
        } else {
            let (total, top, facets) = searcher
                .search(
                    &matching,
                    &(
                        Count,
                        top.order_by_fast_field::<u64>("date", tantivy::Order::Desc),
                        facets,
                    ),
                )
                .map_err(index_error)?;
            let hits = ids(top
                .into_iter()
                .map(|(d, a)| (d.unwrap_or(0) as f64, a))
                .collect())?;
            (total, hits, facets)
        };
        let hits = if spec.limit == 0 { Vec::new() } else { hits };
        Ok((total, hits, facets))
    }

    /// Documents most like document `id` (more-like-this over the folded text).
    pub fn similar(&self, id: i64, text: &str, limit: usize) -> Result<Vec<SearchHit>, StoreError> {
        let searcher = self.reader.searcher();
        let query = MoreLikeThisQuery::builder()
            .with_min_doc_frequency(1)
            .with_min_term_frequency(1)
            .with_max_query_terms(40)
            .with_min_word_length(2)
            .with_document_fields(vec![(
                self.f.text,
                vec![tantivy::schema::OwnedValue::Str(text.to_owned())],
            )]);
        let top = searcher
            .search(&query, &TopDocs::with_limit(limit + 1).order_by_score())
            .map_err(index_error)?;
        let mut out = Vec::new();
        for (score, address) in top {
            let found = document_id(&searcher, address)?;
            if found != id && out.len() < limit {
                out.push(SearchHit {
                    document_id: found,
                    score: f64::from(score),
                    why: Vec::new(),
                });
            }
        }
        Ok(out)
    }

    /// Documents in the index (for checks and `reindex`).
    pub fn len(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// Documents the index's segments hold, deleted copies included: a document indexed
    /// twice costs every search a little until segments merge.
    #[cfg(test)]
    pub fn copies(&self) -> Result<u64, StoreError> {
        self.refresh()?;
        Ok(self
            .reader
            .searcher()
            .segment_readers()
            .iter()
            .map(|segment| u64::from(segment.max_doc()))
            .sum())
    }
}

/// The score `query` gives the document at `address`, if it matches. (Not through
/// `Query::explain`: tantivy 0.27's phrase scorer asserts when asked to seek a document
/// behind its first match.)
fn part_score(
    searcher: &tantivy::Searcher,
    query: &dyn TQuery,
    address: DocAddress,
) -> Option<f32> {
    use tantivy::DocSet;
    use tantivy::query::Scorer;
    let weight = query
        .weight(tantivy::query::EnableScoring::enabled_from_searcher(
            searcher,
        ))
        .ok()?;
    let mut scorer = weight
        .scorer(searcher.segment_reader(address.segment_ord), 1.0)
        .ok()?;
    if scorer.doc() < address.doc_id {
        scorer.seek(address.doc_id);
    }
    (scorer.doc() == address.doc_id).then(|| scorer.score())
}

/// The archive's id of the document at `address`.
fn document_id(searcher: &tantivy::Searcher, address: DocAddress) -> Result<i64, StoreError> {
    let column = searcher
        .segment_reader(address.segment_ord)
        .fast_fields()
        .u64("id")
        .map_err(index_error)?;
    Ok(column.first(address.doc_id).unwrap_or(0) as i64)
}

/// Folded, lower-case, without spaces: how document numbers are compared.
pub fn number_key(number: &str) -> String {
    crate::fold::fold_full(number).split_whitespace().collect()
}

fn regex_escape(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_alphanumeric() || c == ' ' {
            out.push(c);
        } else {
            out.push('\\');
            out.push(c);
        }
    }
    out
}

/// Counts the result set by sector, type, year and agency, from the fast columns.
struct FacetCollector;

/// One facet's column in a segment and its counts by term ordinal (dense: ordinals run
/// 0..terms; years by offset from the segment's first year).
struct FacetCounts {
    column: Option<Column<u64>>,
    base: u64,
    counts: Vec<u64>,
}

impl FacetCounts {
    fn ordinals(column: &Option<StrColumn>) -> FacetCounts {
        FacetCounts {
            column: column.as_ref().map(|c| c.ords().clone()),
            base: 0,
            counts: vec![0; column.as_ref().map_or(0, |c| c.num_terms())],
        }
    }

    fn values(column: Column<u64>) -> FacetCounts {
        let (base, top) = (column.min_value(), column.max_value());
        let span = if column.num_docs() == 0 || top < base {
            0
        } else {
            (top - base + 1) as usize
        };
        FacetCounts {
            // Years are a handful of values; anything wider is not a year column.
            counts: vec![0; span.min(10_000)],
            column: Some(column),
            base,
        }
    }

    fn collect(&mut self, docs: &[u32], buffer: &mut Vec<Option<u64>>) {
        let Some(column) = &self.column else { return };
        buffer.clear();
        buffer.resize(docs.len(), None);
        column.first_vals(docs, buffer);
        for value in buffer.iter().flatten() {
            if let Some(n) = value
                .checked_sub(self.base)
                .and_then(|i| self.counts.get_mut(i as usize))
            {
                *n += 1;
            }
        }
    }
}

struct FacetSegment {
    sector_names: Option<StrColumn>,
    type_names: Option<StrColumn>,
    agency_names: Option<StrColumn>,
    sectors: FacetCounts,
    types: FacetCounts,
    agencies: FacetCounts,
    years: FacetCounts,
    buffer: Vec<Option<u64>>,
}

impl Collector for FacetCollector {
    type Fruit = Facets;
    type Child = FacetSegment;

    fn for_segment(
        &self,
        _segment: u32,
        reader: &tantivy::SegmentReader,
    ) -> tantivy::Result<FacetSegment> {
        let ff = reader.fast_fields();
        let (sector, doc_type, agency) = (
            ff.str("sector")?,
            ff.str("doc_type")?,
            ff.str("agency_name")?,
        );
        Ok(FacetSegment {
            sectors: FacetCounts::ordinals(&sector),
            types: FacetCounts::ordinals(&doc_type),
            agencies: FacetCounts::ordinals(&agency),
            years: FacetCounts::values(ff.u64("year")?),
            sector_names: sector,
            type_names: doc_type,
            agency_names: agency,
            buffer: Vec::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<Facets>) -> tantivy::Result<Facets> {
        let mut out = Facets::default();
        for fruit in fruits {
            for (into, from) in [
                (&mut out.sector, fruit.sector),
                (&mut out.doc_type, fruit.doc_type),
                (&mut out.year, fruit.year),
                (&mut out.agency, fruit.agency),
            ] {
                for (k, v) in from {
                    *into.entry(k).or_insert(0) += v;
                }
            }
        }
        Ok(out)
    }
}

impl SegmentCollector for FacetSegment {
    type Fruit = Facets;

    fn collect(&mut self, doc: u32, _score: tantivy::Score) {
        self.collect_block(&[doc]);
    }

    /// Matches come in blocks when nothing is scored: one batched column read per facet.
    fn collect_block(&mut self, docs: &[u32]) {
        for facet in [
            &mut self.sectors,
            &mut self.types,
            &mut self.agencies,
            &mut self.years,
        ] {
            facet.collect(docs, &mut self.buffer);
        }
    }

    fn harvest(self) -> Facets {
        let names = |column: &Option<StrColumn>, facet: &FacetCounts| {
            let mut out = std::collections::BTreeMap::new();
            if let Some(c) = column {
                for (ord, n) in facet.counts.iter().enumerate().filter(|(_, n)| **n > 0) {
                    let mut s = String::new();
                    if c.ord_to_str(ord as u64, &mut s).unwrap_or(false) {
                        out.insert(s, *n);
                    }
                }
            }
            out
        };
        Facets {
            sector: names(&self.sector_names, &self.sectors),
            doc_type: names(&self.type_names, &self.types),
            year: self
                .years
                .counts
                .iter()
                .enumerate()
                .filter(|(_, n)| **n > 0)
                .map(|(i, n)| ((self.years.base + i as u64).to_string(), *n))
                .collect(),
            agency: names(&self.agency_names, &self.agencies),
        }
    }
}
