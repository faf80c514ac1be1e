//! The archive's storage, behind one narrow interface.
//!
//! Everything above this module speaks `Store`; only `store::sqlite` knows SQL. A
//! PostgreSQL backend for many workers is meant to be a sibling module implementing the
//! same trait, not a rewrite.

mod sqlite;

use crate::load::TextSource;
use crate::ocr::Word;
use crate::query::Query;
use serde::Serialize;
use thiserror::Error;

pub use sqlite::SqliteStore;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("database {path}: {source}")]
    Open {
        path: String,
        #[source]
        source: rusqlite::Error,
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
    Sql(#[from] rusqlite::Error),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
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
}

impl DocStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DocStatus::Ok => "ok",
            DocStatus::Partial => "partial",
            DocStatus::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Result<DocStatus, StoreError> {
        match s {
            "ok" => Ok(DocStatus::Ok),
            "partial" => Ok(DocStatus::Partial),
            "failed" => Ok(DocStatus::Failed),
            other => Err(StoreError::Corrupt(format!(
                "unknown document status {other:?}"
            ))),
        }
    }
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
    pub pages: Vec<NewPage>,
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
}

#[derive(Debug, Clone, Serialize)]
pub struct StoredDocument {
    pub id: i64,
    pub path: String,
    pub sha256: Option<String>,
    pub size: Option<u64>,
    pub format: Option<String>,
    pub page_count: u32,
    pub status: DocStatus,
    pub error: Option<String>,
    pub ingested_at: String,
    pub pages: Vec<StoredPage>,
}

/// The best-matching page of one document.
#[derive(Debug, Clone)]
pub struct SearchHit {
    pub document_id: i64,
    pub path: String,
    pub page: u32,
    /// Higher is better (negated bm25).
    pub score: f64,
    /// The page's original text, for snippets.
    pub page_text: String,
}

#[derive(Debug, Clone)]
pub struct SearchResults {
    /// Documents matching, over all pages of results.
    pub total: usize,
    pub hits: Vec<SearchHit>,
}

/// How an ingest run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    Completed,
    Interrupted,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct RunCounts {
    pub documents: u64,
    pub pages: u64,
    pub failed: u64,
}

/// Storage of the archive. One writer at a time; readers may run alongside.
pub trait Store: Send {
    /// Records the start of an ingest run and returns its id.
    fn begin_run(&mut self, command: &str) -> Result<i64, StoreError>;
    /// Stores a document and all its pages atomically; returns the document id.
    fn put_document(&mut self, run: i64, doc: &NewDocument) -> Result<i64, StoreError>;
    fn finish_run(
        &mut self,
        run: i64,
        status: RunStatus,
        counts: &RunCounts,
    ) -> Result<(), StoreError>;
    /// Documents ranked by their best page; `query` is already validated.
    fn search(
        &self,
        query: &Query,
        limit: usize,
        offset: usize,
    ) -> Result<SearchResults, StoreError>;
    fn document(&self, id: i64) -> Result<Option<StoredDocument>, StoreError>;
    /// Visits every document in id order, one at a time (memory stays flat).
    fn each_document(
        &self,
        visit: &mut dyn FnMut(StoredDocument) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;
}
