//! The archive's storage, behind one narrow interface.
//!
//! Everything above this module speaks `Store`; only `store::sqlite` knows SQL. A
//! PostgreSQL backend for many workers is meant to be a sibling module implementing the
//! same trait, not a rewrite.

pub mod accounts;
pub mod copy;
mod feed;
mod index;
mod json;
mod pg;
pub mod procedures;
pub mod reports;
mod sqlite;
mod tokenize;

use crate::authenticity::merkle::Hash;
use crate::authenticity::{Record, Signer, TreeHead};
use crate::classify::{Classification, Training};
use crate::fields::Fields;
use crate::filters::Filters;
use crate::load::{TextSource, Warning};
use crate::ocr::Word;
use crate::prepare::Preparation;
use crate::query::Query;
use serde::Serialize;
use std::time::Duration;
use thiserror::Error;

pub use accounts::{Accounts, SignInPolicy};
pub use sqlite::SqliteStore;

/// The archive as the front ends use it: documents, search, the signed log and the
/// staff accounts, whatever backend holds them.
pub trait Archive: Store + Accounts {}
impl<T: Store + Accounts> Archive for T {}

/// Opens (creating if needed, migrating if older) the archive at `location`: a SQLite
/// database file, or a PostgreSQL database (`postgres://…`, see `crate::location`).
/// The one place that chooses a backend: front ends never name one.
pub fn open(location: &std::path::Path) -> Result<Box<dyn Archive>, StoreError> {
    if crate::location::is_database_url(location) {
        let url = location.to_string_lossy();
        let index = crate::location::companion(location, ".index");
        return Ok(Box::new(pg::PostgresStore::open(&url, &index)?));
    }
    Ok(Box::new(SqliteStore::open(location)?))
}

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("database {path}: {source}")]
    Open {
        path: String,
        #[source]
        source: DatabaseError,
    },
    #[error(
        "database {path} has schema version {found}, newer than this sohoa knows ({known}); upgrade sohoa"
    )]
    TooNew {
        path: String,
        found: i64,
        known: i64,
    },
    #[error("database error: {0}")]
    Database(DatabaseError),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("search index: {0}")]
    Index(String),
    #[error("{0}")]
    Conflict(String),
    #[error("another sohoa ingest is writing to {path} ({holder}); run again when it has finished")]
    Busy { path: String, holder: String },
}

/// A failure of the database behind the store, in terms every backend can give: what
/// kind of failure (for the operator's hint), the backend's own message, its error.
#[derive(Debug, Error)]
#[error("{message}")]
pub struct DatabaseError {
    pub failure: DatabaseFailure,
    pub message: String,
    #[source]
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseFailure {
    /// Out of space, over quota, or an I/O error of the disk.
    DiskFull,
    /// The database or its directory cannot be written (or opened).
    ReadOnly,
    /// Another process holds it.
    Busy,
    /// Not a sohoa database, or damaged.
    NotADatabase,
    /// The database server cannot be reached, or it cut the connection (restarted, shut
    /// down, network gone): worth connecting again.
    Unreachable,
    Other,
}

impl StoreError {
    /// What the operator should check, for errors whose database wording is terse.
    pub fn hint(&self) -> Option<&'static str> {
        let (StoreError::Database(e) | StoreError::Open { source: e, .. }) = self else {
            return None;
        };
        match e.failure {
            DatabaseFailure::DiskFull => Some("is the disk full, over quota or failing?"),
            DatabaseFailure::ReadOnly => Some("is the database or its directory read-only?"),
            DatabaseFailure::Busy => Some("another process holds the database; try again"),
            DatabaseFailure::NotADatabase => Some("is this a sohoa database?"),
            DatabaseFailure::Unreachable => {
                Some("is the database server running and reachable from this machine?")
            }
            DatabaseFailure::Other => None,
        }
    }

    /// Whether the database went away (server down, connection cut): a worker connects
    /// again instead of giving up.
    pub fn is_connection_lost(&self) -> bool {
        matches!(
            self,
            StoreError::Database(e) | StoreError::Open { source: e, .. }
                if e.failure == DatabaseFailure::Unreachable
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DocStatus {
    /// Every page was read.
    Ok,
    /// Some pages failed; the others are stored and searchable.
    Partial,
    /// Nothing could be read; the error says why.
    Failed,
    /// Nothing failed, yet no page holds readable text (blank pages, pages without
    /// content, OCR skipped): stored and verifiable, but not counted as digitized and
    /// not in search.
    Empty,
}

impl DocStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DocStatus::Ok => "ok",
            DocStatus::Partial => "partial",
            DocStatus::Failed => "failed",
            DocStatus::Empty => "empty",
        }
    }

    /// Whether the document has text to search (and so a place in the index).
    pub fn is_searchable(self) -> bool {
        matches!(self, DocStatus::Ok | DocStatus::Partial)
    }

    fn parse(s: &str) -> Result<DocStatus, StoreError> {
        match s {
            "ok" => Ok(DocStatus::Ok),
            "partial" => Ok(DocStatus::Partial),
            "failed" => Ok(DocStatus::Failed),
            "empty" => Ok(DocStatus::Empty),
            other => Err(StoreError::Corrupt(format!(
                "unknown document status {other:?}"
            ))),
        }
    }
}

/// Which documents a caller may see: every one, or those owned by these units (codes).
/// A document owned by no unit is seen only with `All`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    #[default]
    All,
    Units(Vec<String>),
}

impl Scope {
    /// The unit codes as a JSON array for SQL (`json_each`), or NULL for all.
    pub fn units_json(&self) -> Option<String> {
        match self {
            Scope::All => None,
            Scope::Units(units) => serde_json::to_string(units).ok(),
        }
    }
}

/// A department, district or commune that issues or holds documents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Unit {
    /// Short and stable: "STNMT", "UBND-NAMDAN".
    pub code: String,
    pub name: String,
    /// The unit it belongs to: its accounts see this unit's documents too.
    #[serde(default)]
    pub parent: Option<String>,
    /// Issuer codes of document numbers ("STNMT" in "1234/QĐ-STNMT") and agency names
    /// ("Sở Tài nguyên và Môi trường") that mark a document as this unit's.
    #[serde(default)]
    pub issuers: Vec<String>,
}

/// A document as the pipeline hands it over: stored whole, in one transaction.
#[derive(Debug, Clone)]
pub struct NewDocument {
    pub path: String,
    pub sha256: Option<String>,
    pub size: Option<u64>,
    pub format: Option<String>,
    /// The file's modification time, seconds since the Unix epoch.
    pub file_mtime: Option<i64>,
    pub status: DocStatus,
    pub error: Option<String>,
    /// Repairs made and content lost while reading, the file's and its pages'.
    pub warnings: Vec<Warning>,
    pub pages: Vec<NewPage>,
    /// The document this one is a new version of (the file at `path` changed).
    pub supersedes: Option<i64>,
    /// A failed attempt at the same file, replaced by this one (retry).
    pub replaces: Option<i64>,
    /// Fields and classification read from the text (none for a failed document).
    pub analysis: Option<Analysis>,
    /// The unit that owns it (`ingest --unit`, else found from its issuer).
    pub unit: Option<String>,
}

/// What was read from a document's text: its fields and its classification.
#[derive(Debug, Clone)]
pub struct Analysis {
    pub fields: Fields,
    pub classification: Classification,
}

impl NewDocument {
    /// A document found at `path`, before anything is known about it.
    pub fn at(path: String) -> NewDocument {
        NewDocument {
            path,
            sha256: None,
            size: None,
            format: None,
            file_mtime: None,
            status: DocStatus::Ok,
            error: None,
            warnings: Vec::new(),
            pages: Vec::new(),
            supersedes: None,
            replaces: None,
            analysis: None,
            unit: None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewPage {
    pub number: u32,
    pub text: String,
    pub confidence: Option<f32>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub dpi: Option<f32>,
    pub source: TextSource,
    /// Why this page could not be read.
    pub error: Option<String>,
    /// Why it holds no text although nothing failed (e.g. neither image nor text).
    pub note: Option<String>,
    pub words: Vec<Word>,
    /// SHA-256 of the decoded gray pixels OCR read (`authenticity::pixels_sha256`).
    pub image_sha256: Option<String>,
    /// What page preparation found and did (OCR'd pages only); word boxes are in the
    /// prepared image's pixels.
    pub preparation: Option<Preparation>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StoredPage {
    pub number: u32,
    pub text: String,
    pub confidence: Option<f32>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub dpi: Option<f32>,
    pub source: TextSource,
    pub error: Option<String>,
    pub note: Option<String>,
    pub word_count: usize,
    pub preparation: Option<Preparation>,
}

/// Another version of the same record.
#[derive(Debug, Clone, Serialize)]
pub struct VersionRef {
    pub id: i64,
    pub version: u32,
    pub sha256: Option<String>,
    pub ingested_at: String,
    pub current: bool,
}

/// A path known to hold a document's bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Location {
    pub path: String,
    /// The run that found the path missing (moved away or deleted); None while it is there.
    pub gone_since_run: Option<i64>,
}

impl std::fmt::Display for Location {
    /// As people read it: the path, and since when it is gone.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.gone_since_run {
            None => write!(f, "{}", self.path),
            Some(run) => write!(f, "{} (gone since run {run})", self.path),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct StoredDocument {
    pub id: i64,
    /// Where the file was first found; `locations` lists every path holding these bytes.
    pub path: String,
    /// Present ones first, then by path. The export writes them its own way.
    #[serde(skip)]
    pub locations: Vec<Location>,
    /// The record this is a version of (the id of its first version).
    pub record_id: i64,
    pub version: u32,
    /// False for an old version, kept as history and hidden from search.
    pub current: bool,
    /// Every version of the record, oldest first (this one included).
    pub versions: Vec<VersionRef>,
    pub sha256: Option<String>,
    pub size: Option<u64>,
    pub format: Option<String>,
    pub page_count: u32,
    pub status: DocStatus,
    pub error: Option<String>,
    /// Repairs made and content lost while reading.
    pub warnings: Vec<Warning>,
    /// The unit that owns it; none when the archive has no units or none matched.
    pub unit: Option<String>,
    pub ingested_at: String,
    /// Absent for documents stored before classification existed, until
    /// `sohoa classify run`.
    pub fields: Option<Fields>,
    pub classification: Option<Classification>,
    pub pages: Vec<StoredPage>,
}

/// A staff correction of a document's classification.
#[derive(Debug, Clone, Serialize)]
pub struct Correction {
    pub document_id: i64,
    pub sector: String,
    pub procedure_code: Option<String>,
    pub by: String,
    pub at: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SortOrder {
    /// Best match first (documents listed by filters alone: newest first).
    #[default]
    Relevance,
    /// Newest issue date first.
    Date,
}

/// What to search for: the store's side of a search request.
#[derive(Debug, Clone, Default)]
pub struct SearchSpec {
    pub query: Option<Query>,
    /// Resolved (`search::resolve`): a sector id, a procedure code, a type code.
    pub filters: Filters,
    pub limit: usize,
    pub offset: usize,
    pub sort: SortOrder,
    /// Words also match within an edit or two (OCR slips).
    pub fuzzy: bool,
    /// Only documents the caller may see.
    pub scope: Scope,
    /// Say why each hit ranked where it did (`SearchHit::why`).
    pub explain: bool,
}

/// Counts of the whole result set by sector id, type code, issue year and agency.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Facets {
    pub sector: std::collections::BTreeMap<String, u64>,
    #[serde(rename = "type")]
    pub doc_type: std::collections::BTreeMap<String, u64>,
    pub year: std::collections::BTreeMap<String, u64>,
    pub agency: std::collections::BTreeMap<String, u64>,
}

/// A matching document.
#[derive(Debug, Clone)]
pub struct SearchHit {
    pub document_id: i64,
    /// Higher is better (BM25 with boosts); the issue date as a number when sorted by date.
    pub score: f64,
    /// With `SearchSpec::explain`: the parts of the query the document matched (a
    /// syllable, a syllable pair, exact marks …) with their scores, highest first.
    pub why: Vec<(String, f32)>,
}

#[derive(Debug, Clone)]
pub struct SearchResults {
    /// Documents matching, over all pages of results.
    pub total: usize,
    pub hits: Vec<SearchHit>,
    pub facets: Facets,
}

/// What a result line needs of a document: where, what, and its pages' text.
#[derive(Debug, Clone)]
pub struct HitDocument {
    pub id: i64,
    pub path: String,
    pub fields: Option<Fields>,
    pub classification: Option<Classification>,
    /// (page number, text), in order.
    pub pages: Vec<(u32, String)>,
}

/// How an ingest run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    Running,
    Completed,
    /// Stopped by Ctrl-C or SIGTERM: finished documents kept.
    Interrupted,
    /// Stopped by a fatal error (database unusable, disk full).
    Failed,
    /// Found still "running" by a later run: the process died (SIGKILL, power loss).
    Crashed,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Completed => "completed",
            RunStatus::Interrupted => "interrupted",
            RunStatus::Failed => "failed",
            RunStatus::Crashed => "crashed",
        }
    }

    fn parse(s: &str) -> RunStatus {
        match s {
            "completed" => RunStatus::Completed,
            "interrupted" => RunStatus::Interrupted,
            "failed" => RunStatus::Failed,
            "crashed" => RunStatus::Crashed,
            _ => RunStatus::Running,
        }
    }
}

/// A run as recorded.
#[derive(Debug, Clone, Serialize)]
pub struct RunRecord {
    pub id: i64,
    pub arguments: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub status: RunStatus,
    /// Documents stored by this run (counted from the archive, so known even after a crash).
    pub documents_stored: u64,
    /// Of which: failed or partial (something lost), and empty (no readable text).
    pub documents_failed: u64,
    pub documents_empty: u64,
    /// The run's full report (the `ingest --json` summary), when it finished.
    pub report: Option<serde_json::Value>,
}

/// A failed file or page.
#[derive(Debug, Clone, Serialize)]
pub struct FailureRecord {
    pub run_id: Option<i64>,
    pub document_id: i64,
    pub path: String,
    /// Set when the problem is one page's.
    pub page: Option<u32>,
    pub reason: String,
    pub at: String,
    /// `failed` or `empty` (the whole document), `page` (a failed page of a partial
    /// document), `loss` (part of a page or of the file could not be read) or `repair`.
    pub kind: String,
}

/// What a caller may know of a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    Visible,
    /// It exists, in a unit the caller does not see.
    Hidden,
    Missing,
}

/// Which problems `failures` lists.
#[derive(Debug, Clone, Default)]
pub struct FailureFilter {
    /// Only this run's documents.
    pub run: Option<i64>,
    /// Repairs too (a file read in full after its structure was rebuilt).
    pub warnings: bool,
}

/// What the archive knows about a path.
#[derive(Debug, Clone)]
pub struct KnownLocation {
    pub document_id: i64,
    pub size: Option<u64>,
    pub mtime: Option<i64>,
    pub sha256: Option<String>,
    pub status: DocStatus,
    /// The unit owning the document there (kept by its next version).
    pub unit: Option<String>,
}

/// What the archive knows about a file's bytes.
#[derive(Debug, Clone)]
pub struct KnownContent {
    pub document_id: i64,
    pub status: DocStatus,
}

/// What `put_document` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// A new document row.
    New(i64),
    /// The bytes were already archived (stored moments ago by this run, typically): the
    /// path became another location of that document, nothing else was written.
    AlreadyArchived(i64),
    /// Nothing written: the document's queue job is no longer this worker's (its lease ran
    /// out and another worker took it over; see `Documents::fence`).
    Declined,
}

/// The archive's documents: runs, versions, locations, analysis, staff corrections,
/// units, failures. One writer at a time; readers may run alongside.
pub trait Documents {
    /// Makes this handle the archive's only ingest writer until dropped; a second ingest
    /// is refused with `StoreError::Busy` (searches are unaffected).
    fn lock_for_ingest(&mut self) -> Result<(), StoreError>;
    /// Records the start of an ingest run and returns its id. Runs left "running" by a
    /// process that died are marked crashed (the caller holds the ingest lock).
    fn begin_run(&mut self, arguments: &str) -> Result<i64, StoreError>;
    /// Stores a document, all its pages and its location atomically.
    fn put_document(&mut self, run: i64, doc: &NewDocument) -> Result<Stored, StoreError>;
    /// Stores many new documents in one transaction (bulk loads: synthetic archives,
    /// imports); all or none. Same rules as `put_document` for each.
    fn put_documents(&mut self, run: i64, docs: &[NewDocument]) -> Result<Vec<Stored>, StoreError>;
    /// Makes the documents written from now on conditional on queue jobs (`None` lifts
    /// it): a document whose path is one of `fence`'s jobs is stored only while the job
    /// is still `fence.worker`'s, and the job ends (done, or failed with the document's
    /// reason) in the same transaction. A worker whose lease ran out and who comes back
    /// late thus cannot store over the new owner's result (`Stored::Declined`). Archives
    /// without a queue (SQLite) refuse a fence.
    fn fence(&mut self, fence: Option<JobFence>) -> Result<(), StoreError>;
    /// Records that `path` (with this size and mtime) holds the bytes of `document_id`.
    fn put_location(
        &mut self,
        run: i64,
        path: &str,
        document_id: i64,
        size: Option<u64>,
        mtime: Option<i64>,
    ) -> Result<(), StoreError>;
    /// Records that these known paths were seen unchanged in this run.
    fn touch_locations(&mut self, run: i64, paths: &[String]) -> Result<(), StoreError>;
    /// After a complete walk of the directories `roots`: known paths under them that this
    /// run did not see are marked gone (moved away or deleted). Returns how many.
    fn mark_gone(&mut self, run: i64, roots: &[String]) -> Result<u64, StoreError>;
    fn finish_run(
        &mut self,
        run: i64,
        status: RunStatus,
        report: &serde_json::Value,
    ) -> Result<(), StoreError>;
    fn location(&self, path: &str) -> Result<Option<KnownLocation>, StoreError>;
    /// The current, non-failed document with these bytes, else a failed one.
    fn content(&self, sha256: &str) -> Result<Option<KnownContent>, StoreError>;
    /// What result lines show of these documents, in the order given.
    fn hit_documents(&self, ids: &[i64]) -> Result<Vec<HitDocument>, StoreError>;
    /// Replaces a document's fields and, unless staff set it, its classification.
    /// Returns whether the sector or procedure changed.
    fn set_analysis(&mut self, document_id: i64, analysis: &Analysis) -> Result<bool, StoreError>;
    /// Records a staff correction and makes it the document's classification.
    fn correct(
        &mut self,
        document_id: i64,
        classification: &Classification,
        by: &str,
    ) -> Result<(), StoreError>;
    /// The latest correction of each document that has one, current versions only.
    fn corrections(&self) -> Result<Vec<Correction>, StoreError>;
    /// Replaces what the classifier learned beyond the taxonomy.
    fn put_training(&mut self, training: &Training) -> Result<(), StoreError>;
    fn training(&self) -> Result<Option<Training>, StoreError>;
    fn document(&self, id: i64) -> Result<Option<StoredDocument>, StoreError>;
    /// Whether document `id` exists and `scope` may see it (one query, for every route
    /// that serves a document or a part of one).
    fn visibility(&self, id: i64, scope: &Scope) -> Result<Visibility, StoreError>;
    /// The archive's units, by code.
    fn units(&self) -> Result<Vec<Unit>, StoreError>;
    /// Adds or replaces a unit.
    fn put_unit(&mut self, unit: &Unit) -> Result<(), StoreError>;
    /// Sets the unit that owns a document (its search entry follows); false if no such
    /// document.
    fn set_unit(&mut self, document_id: i64, unit: Option<&str>) -> Result<bool, StoreError>;
    /// Current documents owned by no unit, with their fields (to find their owner).
    fn unowned_documents(&self) -> Result<Vec<(i64, Option<Fields>)>, StoreError>;
    /// Ids of every document that is not a failure (all versions), in order: what
    /// re-filing walks.
    fn readable_document_ids(&self) -> Result<Vec<i64>, StoreError>;
    /// Documents a run stored (new and updated ones), not failed, by id.
    fn documents_of_run(&self, run: i64) -> Result<Vec<i64>, StoreError>;
    /// Each page's OCR words (page order), in the pixels of the image OCR read.
    fn page_words(&self, document_id: i64) -> Result<Vec<Vec<Word>>, StoreError>;
    /// Visits every document (all versions) in id order, one at a time.
    fn each_document(
        &self,
        visit: &mut dyn FnMut(StoredDocument) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;
    /// The most recent runs, newest first.
    fn runs(&self, limit: usize) -> Result<Vec<RunRecord>, StoreError>;
    /// Failed files and pages of current documents, for one run or all.
    fn failures(&self, filter: &FailureFilter) -> Result<Vec<FailureRecord>, StoreError>;
    /// Paths of current documents that failed (wholly or partly), for `--retry-failed`.
    fn failed_paths(&self) -> Result<Vec<String>, StoreError>;
}

/// The signed log (see `authenticity`): a record per document version, appended in the
/// transaction that writes the version, and signed tree heads over it.
pub trait SignedLog {
    /// The key that signs every record written from now on through this handle (a
    /// document stored, re-analysed or corrected gets a new record in the same
    /// transaction). Without one nothing is signed.
    fn set_signer(&mut self, signer: Option<Signer>) -> Result<(), StoreError>;
    /// Every key that ever signed here (public halves), oldest first.
    fn signing_keys(&self) -> Result<Vec<SigningKeyRecord>, StoreError>;
    /// Records for documents that have none (stored before a key existed); how many.
    fn record_unrecorded(&mut self) -> Result<u64, StoreError>;
    /// Signs a tree head over the log when it grew since the last one.
    fn seal(&mut self) -> Result<Option<TreeHead>, StoreError>;
    fn tree_heads(&self) -> Result<Vec<TreeHead>, StoreError>;
    /// Every log entry in leaf order, one at a time.
    fn each_log_entry(
        &self,
        visit: &mut dyn FnMut(LogEntry) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;
    /// Log entries of one document, oldest first.
    fn log_entries_of(&self, document_id: i64) -> Result<Vec<LogEntry>, StoreError>;
    /// Log entries with this verification code.
    fn log_entries_by_code(&self, code: &str) -> Result<Vec<LogEntry>, StoreError>;
    /// The Merkle leaf hashes, in order (an error names a gap).
    fn leaf_hashes(&self) -> Result<Vec<Hash>, StoreError>;
    /// Document `id`'s record as the database holds it now (None: missing or failed).
    fn current_record(&self, document_id: i64) -> Result<Option<Record>, StoreError>;
    /// Documents that are not failures, in id order, with each one's known locations
    /// (path, whether gone): what `verify` walks.
    fn recordable_documents(&self) -> Result<Vec<RecordableDocument>, StoreError>;
    /// Time spent building and signing records through this handle.
    fn signing_time(&self) -> std::time::Duration;
}

/// Search over the current documents, fed from the backend's change feed
/// (`feed::ChangeFeed`).
pub trait Search {
    /// Current documents matching, ranked, with facets over all of them. Sees what was
    /// stored up to the last `flush_index`.
    fn search(&self, spec: &SearchSpec) -> Result<SearchResults, StoreError>;
    /// Sees the latest committed index and says which it is: equal numbers mean the
    /// same searchable content (the web service caches results under it).
    fn search_generation(&self) -> Result<u64, StoreError>;
    /// Documents most like this one.
    fn similar(&self, document_id: i64, limit: usize) -> Result<Vec<SearchHit>, StoreError>;
    /// Makes everything stored so far searchable. `false` when another process is
    /// writing the index right now (it will include these changes).
    fn flush_index(&mut self) -> Result<bool, StoreError>;
    /// Rebuilds the search index from the stored documents; how many it holds.
    fn rebuild_index(&mut self) -> Result<u64, StoreError>;
}

/// One file to ingest, claimed by one worker at a time (`JobQueue`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub id: i64,
    pub path: String,
    /// Claims so far, this one included.
    pub attempts: u32,
}

/// The jobs a worker holds while it stores their documents (`Documents::fence`).
#[derive(Debug, Clone, Default)]
pub struct JobFence {
    pub worker: String,
    /// By path.
    pub jobs: std::collections::HashMap<String, Job>,
}

impl JobFence {
    pub fn new(worker: &str, jobs: &[Job]) -> JobFence {
        JobFence {
            worker: worker.to_owned(),
            jobs: jobs.iter().map(|j| (j.path.clone(), j.clone())).collect(),
        }
    }
}

/// What `JobQueue::finish` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finished {
    /// This call ended the job as asked.
    Now,
    /// Already ended by this attempt (in the transaction that stored its document),
    /// as `done` (true) or `failed` (false).
    Already { done: bool },
    /// The job is no longer this attempt's: its lease ran out and another worker took
    /// it over (nothing of this attempt was stored).
    Lost,
}

/// How a worker's attempt at a job ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobOutcome {
    /// Stored (or found unchanged, or the same bytes as a stored document).
    Done { document_id: Option<i64> },
    /// Not stored for a reason that may pass (the database, a stop): queued again.
    Retry { reason: String },
    /// Read and refused (damaged, not a scan), or given up on: the reason is kept.
    Failed { reason: String },
}

/// The queue as `sohoa queue` shows it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct QueueStatus {
    pub pending: u64,
    pub running: u64,
    pub done: u64,
    pub failed: u64,
    /// Jobs running per worker: (worker, jobs, seconds until the earliest lease ends).
    pub workers: Vec<QueueWorker>,
    /// The latest failures, newest first.
    pub failures: Vec<QueueFailure>,
}

#[derive(Debug, Clone, Serialize)]
pub struct QueueWorker {
    pub worker: String,
    pub jobs: u64,
    pub lease_seconds_left: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct QueueFailure {
    pub path: String,
    pub attempts: u32,
    pub reason: String,
    pub at: String,
}

/// The job queue of distributed ingest: files recorded by `sohoa enqueue`, claimed by
/// `sohoa worker`s on many machines, each under a lease its worker keeps renewing. A job
/// whose lease ran out (its worker was killed, lost power or its network) is claimed
/// again by another; one that lost `MAX_JOB_ATTEMPTS` workers ends as failed.
pub trait JobQueue: Send {
    /// Queues `paths` (files); a path already pending or running is not queued twice.
    /// Returns (queued, already queued).
    fn enqueue(&mut self, paths: &[String]) -> Result<(u64, u64), StoreError>;
    /// Claims up to `max` jobs for `worker`, leased for `lease`. A job another worker
    /// abandoned is claimed alone, so that a file that kills its worker takes no other
    /// job down with it.
    fn claim(&mut self, worker: &str, max: usize, lease: Duration) -> Result<Vec<Job>, StoreError>;
    /// Extends the leases `worker` still holds on `ids`; returns how many it holds.
    fn renew(&mut self, worker: &str, ids: &[i64], lease: Duration) -> Result<u64, StoreError>;
    /// Ends `worker`'s attempt at `job` (this very claim: a later claim of the same job,
    /// by any worker, is not touched).
    fn finish(
        &mut self,
        worker: &str,
        job: &Job,
        outcome: &JobOutcome,
    ) -> Result<Finished, StoreError>;
    /// Returns every job `worker` holds to the queue without counting the attempt: the
    /// worker itself knows it did not finish them (it lost its connection to the
    /// database and came back). How many.
    fn give_back(&mut self, worker: &str) -> Result<u64, StoreError>;
    /// How many workers a job may lose before it ends as failed (`MAX_JOB_ATTEMPTS`
    /// unless set).
    fn set_max_attempts(&mut self, attempts: u32);
    fn status(&self, failures: usize) -> Result<QueueStatus, StoreError>;
}

/// Workers a job may lose (its lease running out) before it ends as failed, unless the
/// worker says otherwise (`sohoa worker --give-up-after`).
pub const MAX_JOB_ATTEMPTS: u32 = 3;

/// The tables of the archive at `location`, for moving it to another backend
/// (`copy::copy_archive`). A new location is created with the current schema.
pub fn open_tables(location: &std::path::Path) -> Result<Box<dyn copy::Tables>, StoreError> {
    if crate::location::is_database_url(location) {
        let url = location.to_string_lossy();
        let index = crate::location::companion(location, ".index");
        return Ok(Box::new(pg::PostgresStore::open(&url, &index)?));
    }
    Ok(Box::new(SqliteStore::open(location)?))
}

/// The job queue of the archive at `location`: PostgreSQL archives only (many machines
/// share them); on one machine, `sohoa ingest` already uses every core.
pub fn open_queue(location: &std::path::Path) -> Result<Box<dyn JobQueue>, StoreError> {
    if !crate::location::is_database_url(location) {
        return Err(StoreError::Conflict(format!(
            "{}: the job queue needs a PostgreSQL archive (--db postgres://…); on one machine, `sohoa ingest` uses every core",
            location.display()
        )));
    }
    Ok(Box::new(pg::PgQueue::open(&location.to_string_lossy())?))
}

/// Storage of the archive: its documents, their signed log and search, as one handle.
pub trait Store: Documents + SignedLog + Search + reports::Reports + Send {
    /// A second handle on the same archive, for lookups from another thread.
    fn reader(&self) -> Result<Box<dyn Store>, StoreError>;
    /// Whether the handle can still reach its archive (a server's connection may have
    /// been cut): a pool keeps only handles that can.
    fn connected(&self) -> bool {
        true
    }
}

/// A document that must have a signed record, and where its source files are.
#[derive(Debug, Clone)]
pub struct RecordableDocument {
    pub id: i64,
    /// Known paths of its bytes, and whether each is gone (seen missing by a run).
    pub locations: Vec<(String, bool)>,
}

/// One entry of the signed log: a record of one document version.
#[derive(Debug, Clone, Serialize)]
pub struct LogEntry {
    /// Its index among the Merkle tree's leaves (0-based, no gaps).
    pub leaf: u64,
    pub document_id: i64,
    /// The record's canonical JSON (RFC 8785): exactly the signed bytes.
    pub record: String,
    pub record_hash: String,
    pub leaf_hash: String,
    pub code: String,
    pub key_id: String,
    pub signature: String,
    pub logged_at: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct SigningKeyRecord {
    pub key_id: String,
    /// Hex of the Ed25519 public key.
    pub public_key: String,
    pub created_at: String,
    pub retired_at: Option<String>,
}
