//! SQLite backend: WAL, versioned migrations, documents, versions and locations, the
//! search-index change queue and the signed log (`log`). Search itself is in `index`.

use super::index::{IndexDoc, SearchIndex};
use super::log;
use super::rows::{
    from_json, load_classification, load_fields, to_json, write_classification, write_fields,
};
use super::{
    Analysis, Correction, DatabaseError, DatabaseFailure, DocStatus, FailureFilter, FailureRecord,
    HitDocument, KnownContent, KnownLocation, Location, NewDocument, RunRecord, RunStatus, Scope,
    SearchHit, SearchResults, SearchSpec, Store, StoreError, Stored, StoredDocument, StoredPage,
    Unit, VersionRef, Visibility,
};
use super::{LogEntry, RecordableDocument, SigningKeyRecord};
use crate::authenticity::merkle::Hash;
use crate::authenticity::{Record, Signer, TreeHead};
use crate::classify::{ClassSource, Classification, Training};
use crate::fields::Fields;
use crate::load::TextSource;
use rusqlite::{Connection, OptionalExtension, params};
use std::path::Path;
use std::time::Duration;

/// Migrations, applied in order; `PRAGMA user_version` records how many ran. Never edit
/// one that has shipped: add the next.
const MIGRATIONS: &[&str] = &[
    // 1: documents, pages with words, runs, full-text index.
    r#"
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        command TEXT NOT NULL,
        started_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        finished_at TEXT,
        status TEXT NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'completed', 'interrupted')),
        documents INTEGER NOT NULL DEFAULT 0,
        pages INTEGER NOT NULL DEFAULT 0,
        failed INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE documents (
        id INTEGER PRIMARY KEY,
        run_id INTEGER REFERENCES runs(id),
        path TEXT NOT NULL,
        sha256 TEXT,
        size INTEGER,
        format TEXT,
        file_mtime INTEGER,
        page_count INTEGER NOT NULL DEFAULT 0,
        status TEXT NOT NULL CHECK (status IN ('ok', 'partial', 'failed')),
        error TEXT,
        ingested_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    );
    CREATE INDEX documents_sha256 ON documents(sha256);
    CREATE INDEX documents_path ON documents(path);
    CREATE TABLE pages (
        id INTEGER PRIMARY KEY,
        document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
        number INTEGER NOT NULL,
        text TEXT NOT NULL,
        confidence REAL,
        width INTEGER,
        height INTEGER,
        dpi REAL,
        text_source TEXT NOT NULL CHECK (text_source IN ('ocr', 'text_layer', 'none')),
        error TEXT,
        note TEXT,
        -- JSON array of OCR words {text, confidence, x, y, w, h}: one row per page, not
        -- per word, keeps a million-page archive to a million rows here.
        words TEXT NOT NULL DEFAULT '[]',
        UNIQUE (document_id, number)
    );
    -- Contentless: the original text lives in pages.text; the index holds đ-folded text.
    CREATE VIRTUAL TABLE page_fts USING fts5(
        body,
        content = '',
        contentless_delete = 1,
        tokenize = 'unicode61 remove_diacritics 2'
    );
    "#,
    // 2: incremental ingest (locations, versions), runs on record.
    r#"
    CREATE TABLE runs_v2 (
        id INTEGER PRIMARY KEY,
        arguments TEXT NOT NULL,
        started_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        finished_at TEXT,
        status TEXT NOT NULL DEFAULT 'running'
            CHECK (status IN ('running', 'completed', 'interrupted', 'failed', 'crashed')),
        pid INTEGER,
        report TEXT
    );
    INSERT INTO runs_v2 (id, arguments, started_at, finished_at, status)
        SELECT id, command, started_at, finished_at, status FROM runs;
    DROP TABLE runs;
    ALTER TABLE runs_v2 RENAME TO runs;

    ALTER TABLE documents ADD COLUMN record_id INTEGER REFERENCES documents(id);
    ALTER TABLE documents ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE documents ADD COLUMN current INTEGER NOT NULL DEFAULT 1;
    UPDATE documents SET record_id = id;
    CREATE INDEX documents_record ON documents(record_id);

    -- Every path known to hold a document's bytes, with the size and mtime seen there:
    -- the fast path of incremental runs compares these instead of re-hashing.
    CREATE TABLE locations (
        path TEXT PRIMARY KEY,
        document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
        size INTEGER,
        mtime INTEGER,
        first_seen_run INTEGER REFERENCES runs(id),
        last_seen_run INTEGER REFERENCES runs(id),
        -- The run that walked this path's directory and did not find the file.
        gone_run INTEGER REFERENCES runs(id)
    );
    CREATE INDEX locations_document ON locations(document_id);
    INSERT OR REPLACE INTO locations (path, document_id, size, mtime, first_seen_run, last_seen_run)
        SELECT path, id, size, file_mtime, run_id, run_id FROM documents ORDER BY id;
    "#,
    // 3: fields and classification; staff corrections; what the classifier learned.
    r#"
    CREATE TABLE document_fields (
        document_id INTEGER PRIMARY KEY REFERENCES documents(id) ON DELETE CASCADE,
        number TEXT,
        -- Folded, without spaces: what number filters compare.
        number_key TEXT,
        serial TEXT,
        type_code TEXT,
        issuer_code TEXT,
        doc_type TEXT,
        doc_type_name TEXT,
        issue_date TEXT,
        place TEXT,
        agency TEXT,
        agency_key TEXT,
        subject TEXT,
        citizen_ids TEXT NOT NULL DEFAULT '[]',
        land_parcels TEXT NOT NULL DEFAULT '[]'
    );
    CREATE INDEX document_fields_number ON document_fields(number_key);
    CREATE INDEX document_fields_date ON document_fields(issue_date);
    CREATE INDEX document_fields_type ON document_fields(doc_type);
    -- One row per ID number found, for lookups by a person's ID.
    CREATE TABLE citizen_ids (
        value TEXT NOT NULL,
        document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
        PRIMARY KEY (value, document_id)
    ) WITHOUT ROWID;
    CREATE INDEX citizen_ids_document ON citizen_ids(document_id);
    CREATE TABLE classifications (
        document_id INTEGER PRIMARY KEY REFERENCES documents(id) ON DELETE CASCADE,
        sector TEXT NOT NULL,
        sector_name TEXT NOT NULL,
        procedure_code TEXT,
        procedure_name TEXT,
        confidence REAL NOT NULL,
        needs_review INTEGER NOT NULL,
        source TEXT NOT NULL CHECK (source IN ('model', 'staff')),
        reasons TEXT NOT NULL DEFAULT '[]',
        classified_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    );
    CREATE INDEX classifications_sector ON classifications(sector, procedure_code);
    CREATE INDEX classifications_review ON classifications(needs_review) WHERE needs_review = 1;
    -- Every correction is kept (who changed what, when); the latest one is in force.
    CREATE TABLE corrections (
        id INTEGER PRIMARY KEY,
        document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
        sector TEXT NOT NULL,
        procedure_code TEXT,
        previous_sector TEXT,
        by_user TEXT NOT NULL,
        at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    );
    CREATE INDEX corrections_document ON corrections(document_id);
    CREATE TABLE classifier_training (
        id INTEGER PRIMARY KEY,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        description TEXT NOT NULL,
        documents INTEGER NOT NULL,
        counts TEXT NOT NULL
    );
    "#,
    // 4: search moves to the full-text index beside the database (see store::index); the
    // FTS5 table goes, and changes to what search sees are queued for the index.
    r#"
    DROP TABLE page_fts;
    CREATE TABLE search_changes (
        seq INTEGER PRIMARY KEY,
        document_id INTEGER NOT NULL
    );
    INSERT INTO search_changes (document_id) SELECT id FROM documents;
    "#,
    // 5: authentication. The log is append-only: sohoa never updates or deletes a
    // record or a tree head, and records outlive their documents (no foreign key), so
    // a deleted document leaves evidence behind.
    r#"
    ALTER TABLE pages ADD COLUMN image_sha256 TEXT;
    CREATE TABLE signing_keys (
        key_id TEXT PRIMARY KEY,
        public_key TEXT NOT NULL,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        retired_at TEXT
    );
    CREATE TABLE records (
        leaf INTEGER PRIMARY KEY,
        document_id INTEGER NOT NULL,
        record TEXT NOT NULL,
        record_hash TEXT NOT NULL,
        leaf_hash TEXT NOT NULL,
        code TEXT NOT NULL,
        key_id TEXT NOT NULL,
        signature TEXT NOT NULL,
        logged_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    );
    CREATE INDEX records_document ON records(document_id);
    CREATE INDEX records_code ON records(code);
    CREATE TABLE tree_heads (
        tree_size INTEGER PRIMARY KEY,
        root_hash TEXT NOT NULL,
        timestamp TEXT NOT NULL,
        key_id TEXT NOT NULL,
        signature TEXT NOT NULL
    );
    "#,
    // 6: filters run in the search index since schema 4; these SQL indexes only cost
    // space (and time on every insert).
    r#"
    DROP INDEX document_fields_number;
    DROP INDEX document_fields_date;
    DROP INDEX document_fields_type;
    DROP INDEX classifications_sector;
    DROP INDEX classifications_review;
    "#,
    // 7: staff accounts, sessions, API tokens and the audit log of the web service.
    super::accounts::SCHEMA,
    // 8: what page preparation found and did, per page (JSON, `prepare::Preparation`).
    r#"
    ALTER TABLE pages ADD COLUMN preparation TEXT;
    "#,
    // 9: who signed, read from the signature block (`Fields::signer`).
    r#"
    ALTER TABLE document_fields ADD COLUMN signer TEXT;
    "#,
    // 10: an honest status for documents with no readable page ('empty'), and the repairs
    // and losses met while reading (JSON array of `load::Warning`). A CHECK constraint
    // cannot be altered: the table is rebuilt (foreign keys are off during migrations).
    r#"
    CREATE TABLE documents_v10 (
        id INTEGER PRIMARY KEY,
        run_id INTEGER REFERENCES runs(id),
        path TEXT NOT NULL,
        sha256 TEXT,
        size INTEGER,
        format TEXT,
        file_mtime INTEGER,
        page_count INTEGER NOT NULL DEFAULT 0,
        status TEXT NOT NULL CHECK (status IN ('ok', 'partial', 'failed', 'empty')),
        error TEXT,
        ingested_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        record_id INTEGER REFERENCES documents(id),
        version INTEGER NOT NULL DEFAULT 1,
        current INTEGER NOT NULL DEFAULT 1,
        warnings TEXT NOT NULL DEFAULT '[]'
    );
    INSERT INTO documents_v10 (id, run_id, path, sha256, size, format, file_mtime, page_count,
                               status, error, ingested_at, record_id, version, current)
        SELECT id, run_id, path, sha256, size, format, file_mtime, page_count,
               status, error, ingested_at, record_id, version, current FROM documents;
    DROP TABLE documents;
    ALTER TABLE documents_v10 RENAME TO documents;
    CREATE INDEX documents_sha256 ON documents(sha256);
    CREATE INDEX documents_path ON documents(path);
    CREATE INDEX documents_record ON documents(record_id);
    "#,
    // 11: sign-in back-off per account (`accounts::SignInPolicy`).
    super::accounts::SIGN_IN_GUARD_SCHEMA,
    // 12: units, documents owned by units, roles by unit.
    super::accounts::UNITS_SCHEMA,
    // 13: the right edge of the log's Merkle tree as of the last tree head
    // (`merkle::Frontier`), so sealing reads only the entries since then.
    r#"
    CREATE TABLE log_frontier (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        size INTEGER NOT NULL,
        nodes BLOB NOT NULL
    );
    "#,
    // 14: written since schema 1 and never read: citizen IDs are searched in the index
    // (and kept in `document_fields.citizen_ids`), numbers and agencies compared there.
    r#"
    DROP TABLE citizen_ids;
    ALTER TABLE document_fields DROP COLUMN number_key;
    ALTER TABLE document_fields DROP COLUMN agency_key;
    "#,
];

pub struct SqliteStore {
    conn: Connection,
    path: std::path::PathBuf,
    /// The open lock file while this handle is the ingest writer (flock is released by
    /// the kernel when the process dies, even by SIGKILL).
    ingest_lock: Option<std::fs::File>,
    /// The search index, opened on first use (lookups from the loader never need it).
    index: std::cell::OnceCell<SearchIndex>,
    /// Signs the record of every document this handle writes.
    signer: Option<Signer>,
    signing_time: Duration,
    /// Documents stored through this handle go straight to the index writer, which
    /// indexes them on its own threads while this one goes on writing SQLite; the next
    /// `flush_index` commits them instead of reading them back.
    live: std::cell::RefCell<Option<LiveIndex>>,
}

struct LiveIndex {
    writer: super::index::IndexWriter,
    /// Documents added to the writer, each with the last queue row their state covers.
    added: std::collections::HashMap<i64, i64>,
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> StoreError {
        StoreError::Database(database_error(e))
    }
}

/// SQLite's error in the store's backend-neutral terms.
fn database_error(e: rusqlite::Error) -> DatabaseError {
    use rusqlite::ErrorCode;
    let failure = match e.sqlite_error_code() {
        Some(ErrorCode::DiskFull | ErrorCode::SystemIoFailure) => DatabaseFailure::DiskFull,
        Some(ErrorCode::ReadOnly | ErrorCode::CannotOpen | ErrorCode::PermissionDenied) => {
            DatabaseFailure::ReadOnly
        }
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => DatabaseFailure::Busy,
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => DatabaseFailure::NotADatabase,
        _ => DatabaseFailure::Other,
    };
    DatabaseError {
        failure,
        message: e.to_string(),
        source: Some(Box::new(e)),
    }
}

/// A document just stored as the index holds it: the same builder as a rebuild's.
fn live_index_doc(id: i64, doc: &NewDocument) -> IndexDoc {
    IndexDoc::new(
        id,
        doc.pages.iter().map(|p| (p.number, p.text.as_str())),
        doc.analysis.as_ref().map(|a| &a.fields),
        doc.analysis.as_ref().map(|a| &a.classification),
        doc.unit.as_deref(),
    )
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        // Merges still running would leave small segments and unreferenced files.
        if let Some(live) = self.live.get_mut().take() {
            let _ = live.writer.wait_merging_threads();
        }
    }
}

/// What the index needs of visible documents, one row each: the pages (number and
/// text, as JSON) and the indexed fields and classification, for `IndexDoc::new`.
const INDEX_ROW: &str = "SELECT d.id,
        (SELECT json_group_array(json_array(p.number, p.text)) FROM pages p
         WHERE p.document_id = d.id),
        f.document_id IS NOT NULL, f.doc_type, f.number, f.agency, f.issue_date, f.citizen_ids,
        c.sector, c.procedure_code, c.needs_review, d.unit
    FROM documents d
    LEFT JOIN document_fields f ON f.document_id = d.id
    LEFT JOIN classifications c ON c.document_id = d.id
    WHERE d.current = 1 AND d.status IN ('ok', 'partial')";

/// A row of `INDEX_ROW` as the index holds it (the same builder as for a document
/// just stored).
fn index_row(r: &rusqlite::Row) -> rusqlite::Result<IndexDoc> {
    let corrupt = |what: String| {
        rusqlite::Error::FromSqlConversionFailure(1, rusqlite::types::Type::Text, what.into())
    };
    let id: i64 = r.get(0)?;
    let pages: Option<String> = r.get(1)?;
    let pages: Vec<(u32, String)> = match pages {
        Some(json) => serde_json::from_str(&json)
            .map_err(|e| corrupt(format!("document {id}: pages for the index: {e}")))?,
        None => Vec::new(),
    };
    let has_fields: bool = r.get(2)?;
    let fields = if has_fields {
        let ids: Option<String> = r.get(7)?;
        Some(Fields {
            doc_type: r.get(3)?,
            number: r.get(4)?,
            agency: r.get(5)?,
            date: r.get(6)?,
            citizen_ids: match ids {
                Some(json) => serde_json::from_str(&json)
                    .map_err(|e| corrupt(format!("document {id}: citizen IDs: {e}")))?,
                None => Vec::new(),
            },
            ..Fields::default()
        })
    } else {
        None
    };
    let classification = match r.get::<_, Option<String>>(8)? {
        Some(sector) => Some(Classification {
            sector,
            sector_name: String::new(),
            procedure_code: r.get(9)?,
            procedure_name: None,
            confidence: 0.0,
            needs_review: r.get::<_, Option<bool>>(10)?.unwrap_or(false),
            source: ClassSource::Model,
            reasons: Vec::new(),
        }),
        None => None,
    };
    let unit: Option<String> = r.get(11)?;
    Ok(IndexDoc::new(
        id,
        pages.iter().map(|(n, text)| (*n, text.as_str())),
        fields.as_ref(),
        classification.as_ref(),
        unit.as_deref(),
    ))
}

/// Threads the index writer uses. Ingest's cores are busy with OCR; one is enough to
/// index thousands of pages a second.
const INDEX_THREADS: usize = 1;

/// Reads through a memory map instead of a copy per page read: showing twenty search
/// results reads a hundred scattered pages. (SQLite caps it at 2 GB by default.)
const MMAP_BYTES: u64 = 1 << 40;
/// Threads of the index writer kept while documents are being stored: indexing runs
/// beside the SQLite writes, on the other core.
const LIVE_INDEX_THREADS: usize = 2;
/// Threads of the writer that rebuilds the whole index (`reindex`): both cores.
const REBUILD_INDEX_THREADS: usize = 2;
/// A document's pages, in no particular order: `ORDER BY number` after a bound
/// document id makes SQLite re-plan the cached statement on every use (a tenth of a
/// filtered search's time, measured); callers sort the few rows themselves.
const PAGES_OF_DOCUMENT: &str = "SELECT number, text FROM pages WHERE document_id = ?1";
/// Bytes per SQLite page for new archives (SQLite's default is 4,096).
const DATABASE_PAGE_SIZE: usize = 16_384;

/// How long a writer waits for another writer's transaction before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

impl SqliteStore {
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let name = path.display().to_string();
        let open_err = |source| StoreError::Open {
            path: name.clone(),
            source: database_error(source),
        };
        let conn = Connection::open(path).map_err(open_err)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
        // Takes effect only when the file is new. A page's text row is 1–3 KB: 4 KB
        // database pages hold one or two and waste a quarter of the file.
        conn.execute_batch(&format!("PRAGMA page_size = {DATABASE_PAGE_SIZE}"))
            .map_err(open_err)?;
        // Reading the journal mode doubles as the first check that this is a database.
        conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0))
            .map_err(open_err)?;
        conn.execute_batch(&format!(
            "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; PRAGMA mmap_size = {MMAP_BYTES};"
        ))
        .map_err(open_err)?;
        let mut store = SqliteStore {
            conn,
            path: path.to_path_buf(),
            ingest_lock: None,
            index: std::cell::OnceCell::new(),
            signer: None,
            signing_time: Duration::ZERO,
            live: std::cell::RefCell::new(None),
        };
        store.migrate(&name)?;
        Ok(store)
    }

    fn migrate(&mut self, name: &str) -> Result<(), StoreError> {
        let version: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let known = MIGRATIONS.len() as i64;
        if version > known {
            return Err(StoreError::TooNew {
                path: name.to_owned(),
                found: version,
                known,
            });
        }
        if version == known {
            return Ok(());
        }
        // Table rebuilds need foreign keys off, and the pragma is ignored inside a
        // transaction. All pending migrations run in one transaction: an upgrade happens
        // whole or not at all, and a new archive's journal holds each page once.
        self.conn.execute_batch("PRAGMA foreign_keys = OFF")?;
        let result = (|| {
            let tx = self.conn.transaction()?;
            for sql in MIGRATIONS.iter().skip(version as usize) {
                tx.execute_batch(sql)?;
            }
            let violations: i64 =
                tx.query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
                    r.get(0)
                })?;
            if violations > 0 {
                return Err(StoreError::Corrupt(format!(
                    "upgrading from schema {version} to {known} left {violations} broken references"
                )));
            }
            tx.pragma_update(None, "user_version", known)?;
            tx.commit()?;
            Ok(())
        })();
        self.conn.execute_batch("PRAGMA foreign_keys = ON")?;
        result
    }

    /// The search index beside the database. A missing one is created and every
    /// document queued for it (an archive from before the index, or a deleted index).
    fn index(&self) -> Result<&SearchIndex, StoreError> {
        if let Some(index) = self.index.get() {
            return Ok(index);
        }
        let mut dir = self.path.clone().into_os_string();
        dir.push(".index");
        let (index, created) = SearchIndex::open(Path::new(&dir))?;
        if created {
            self.conn.execute(
                "INSERT INTO search_changes (document_id) SELECT id FROM documents",
                [],
            )?;
        }
        Ok(self.index.get_or_init(|| index))
    }

    /// Everything the index needs of one document, or None when search must not see it.
    fn index_doc(&self, id: i64) -> Result<Option<IndexDoc>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(&format!("{INDEX_ROW} AND d.id = ?1"))?
            .query_row([id], index_row)
            .optional()?)
    }

    /// Hands newly stored documents to the live index writer (created on first use;
    /// when another process holds the index, the queue covers them instead).
    fn index_live(&self, docs: &[(i64, &NewDocument)]) -> Result<(), StoreError> {
        if docs.is_empty() {
            return Ok(());
        }
        let index = self.index()?;
        let mut live = self.live.borrow_mut();
        if live.is_none() {
            let Some(writer) = index.writer(LIVE_INDEX_THREADS)? else {
                return Ok(());
            };
            *live = Some(LiveIndex {
                writer,
                added: std::collections::HashMap::new(),
            });
        }
        let live = live.as_mut().expect("set above");
        let covered: i64 = self.conn.query_row(
            "SELECT COALESCE(MAX(seq), 0) FROM search_changes",
            [],
            |r| r.get(0),
        )?;
        for (id, doc) in docs {
            // A new document's id was never in the index (ids are only reused after a
            // failed document is deleted, and failures are never indexed): no delete.
            index.add(&live.writer, &live_index_doc(*id, doc))?;
            live.added.insert(*id, covered);
        }
        Ok(())
    }

    /// Rebuilds the search index from scratch from SQLite: emptied, every visible
    /// document added (no per-document deletes: it is empty), committed.
    pub fn rebuild_index(&mut self) -> Result<u64, StoreError> {
        // Uncommitted live additions are rebuilt below anyway.
        drop(self.live.get_mut().take());
        let index = self.index()?;
        let Some(writer) = index.rebuild_writer(REBUILD_INDEX_THREADS)? else {
            return Err(StoreError::Index(
                "another process is writing the index; run again when it has finished".into(),
            ));
        };
        // Changes queued up to here are covered by what is read below; later ones are
        // replayed by the next flush (replaying is idempotent).
        let covered: i64 = self.conn.query_row(
            "SELECT COALESCE(MAX(seq), 0) FROM search_changes",
            [],
            |r| r.get(0),
        )?;
        // One statement streams every document: no query per document.
        let mut statement = self.conn.prepare(&format!("{INDEX_ROW} ORDER BY d.id"))?;
        let mut rows = statement.query([])?;
        while let Some(row) = rows.next()? {
            index.add(&writer, &index_row(row)?)?;
        }
        drop(rows);
        drop(statement);
        index.commit(writer)?;
        self.conn
            .execute("DELETE FROM search_changes WHERE seq <= ?1", [covered])?;
        Ok(index.len())
    }

    pub fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    fn load_pages(&self, document_id: i64) -> Result<Vec<StoredPage>, StoreError> {
        // Sorted below, not by SQLite: see `PAGES_OF_DOCUMENT`.
        let mut stmt = self.conn.prepare_cached(
            "SELECT number, text, confidence, width, height, dpi, text_source, error, note,
                    json_array_length(words), preparation
             FROM pages WHERE document_id = ?1",
        )?;
        let mut pages: Vec<StoredPage> = stmt
            .query_map([document_id], |r| {
                Ok(StoredPage {
                    number: r.get(0)?,
                    text: r.get(1)?,
                    confidence: r.get::<_, Option<f64>>(2)?.map(|c| c as f32),
                    width: r.get(3)?,
                    height: r.get(4)?,
                    dpi: r.get::<_, Option<f64>>(5)?.map(|d| d as f32),
                    source: TextSource::parse(&r.get::<_, String>(6)?),
                    error: r.get(7)?,
                    note: r.get(8)?,
                    word_count: r.get::<_, i64>(9)? as usize,
                    // Written by this program from the same struct: unreadable means
                    // a newer or damaged field, shown as unknown rather than failing.
                    preparation: r
                        .get::<_, Option<String>>(10)?
                        .and_then(|j| serde_json::from_str(&j).ok()),
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        pages.sort_by_key(|p| p.number);
        Ok(pages)
    }

    fn document_row(&self, id: i64) -> Result<Option<StoredDocument>, StoreError> {
        let row = self
            .conn
            .query_row(
                "SELECT id, path, sha256, size, format, page_count, status, error, ingested_at,
                        record_id, version, current, warnings, unit
                 FROM documents WHERE id = ?1",
                [id],
                |r| {
                    Ok((
                        (
                            r.get::<_, i64>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, Option<String>>(2)?,
                            r.get::<_, Option<i64>>(3)?,
                            r.get::<_, Option<String>>(4)?,
                            r.get::<_, u32>(5)?,
                        ),
                        (
                            r.get::<_, String>(6)?,
                            r.get::<_, Option<String>>(7)?,
                            r.get::<_, String>(8)?,
                            r.get::<_, Option<i64>>(9)?,
                            r.get::<_, u32>(10)?,
                            r.get::<_, bool>(11)?,
                            r.get::<_, String>(12)?,
                            r.get::<_, Option<String>>(13)?,
                        ),
                    ))
                },
            )
            .optional()?;
        let Some((
            (id, path, sha256, size, format, page_count),
            (status, error, ingested_at, record_id, version, current, warnings, unit),
        )) = row
        else {
            return Ok(None);
        };
        let record_id = record_id.unwrap_or(id);
        let locations = self
            .conn
            .prepare_cached(
                "SELECT path, gone_run FROM locations WHERE document_id = ?1
                 ORDER BY gone_run IS NOT NULL, path",
            )?
            .query_map([id], |r| {
                Ok(Location {
                    path: r.get(0)?,
                    gone_since_run: r.get(1)?,
                })
            })?
            .collect::<Result<Vec<Location>, _>>()?;
        let versions = self
            .conn
            .prepare_cached(
                "SELECT id, version, sha256, ingested_at, current FROM documents
                 WHERE record_id = ?1 ORDER BY version, id",
            )?
            .query_map([record_id], |r| {
                Ok(VersionRef {
                    id: r.get(0)?,
                    version: r.get(1)?,
                    sha256: r.get(2)?,
                    ingested_at: r.get(3)?,
                    current: r.get(4)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Some(StoredDocument {
            id,
            path,
            locations,
            record_id,
            version,
            current,
            versions,
            sha256,
            size: size.map(|s| s as u64),
            format,
            page_count,
            status: DocStatus::parse(&status)?,
            error,
            warnings: from_json(&warnings, "document warnings")?,
            unit,
            ingested_at,
            fields: load_fields(&self.conn, id)?,
            classification: load_classification(&self.conn, id)?,
            pages: self.load_pages(id)?,
        }))
    }
}

fn upsert_location(
    conn: &Connection,
    run: i64,
    path: &str,
    document_id: i64,
    size: Option<u64>,
    mtime: Option<i64>,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO locations (path, document_id, size, mtime, first_seen_run, last_seen_run)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5)
         ON CONFLICT (path) DO UPDATE SET document_id = excluded.document_id, size = excluded.size,
             mtime = excluded.mtime, last_seen_run = excluded.last_seen_run, gone_run = NULL",
    )?
    .execute(params![
        path,
        document_id,
        size.map(|s| s as i64),
        mtime,
        run
    ])?;
    Ok(())
}

/// Notes that search must see document `id` anew (added, changed, hidden or deleted).
fn queue_change(conn: &Connection, id: i64) -> Result<(), StoreError> {
    conn.prepare_cached("INSERT INTO search_changes (document_id) VALUES (?1)")?
        .execute([id])?;
    Ok(())
}

/// Deletes a document with its pages and their index rows (a failed attempt being retried).
fn delete_document(conn: &Connection, id: i64) -> Result<(), StoreError> {
    conn.execute("DELETE FROM pages WHERE document_id = ?1", [id])?;
    queue_change(conn, id)?;
    // Versions that pointed at it as their record now stand on their own.
    conn.execute(
        "UPDATE documents SET record_id = id WHERE record_id = ?1 AND id != ?1",
        [id],
    )?;
    conn.execute("DELETE FROM locations WHERE document_id = ?1", [id])?;
    conn.execute("DELETE FROM documents WHERE id = ?1", [id])?;
    Ok(())
}

/// Writes a document, its pages, index rows, analysis and location (inside the caller's
/// transaction).
fn insert_document(tx: &Connection, run: i64, doc: &NewDocument) -> Result<Stored, StoreError> {
    // The same bytes may already be here (two paths in one batch): one document,
    // two locations.
    if let Some(sha) = &doc.sha256
        && doc.replaces.is_none()
    {
        let existing: Option<i64> = tx
            .query_row(
                "SELECT id FROM documents WHERE sha256 = ?1 AND status != 'failed' AND current = 1
                     ORDER BY id LIMIT 1",
                [sha],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(id) = existing {
            upsert_location(tx, run, &doc.path, id, doc.size, doc.file_mtime)?;
            return Ok(Stored::AlreadyArchived(id));
        }
    }
    let (record_id, version): (Option<i64>, i64) = match doc.supersedes {
        Some(previous) => {
            let (record, version): (Option<i64>, i64) = tx.query_row(
                "SELECT record_id, version FROM documents WHERE id = ?1",
                [previous],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            // The old bytes stay current while another path still holds them (a copy
            // made before the change); otherwise they become history.
            tx.execute(
                "UPDATE documents SET current = 0 WHERE id = ?1
                     AND NOT EXISTS (SELECT 1 FROM locations
                                     WHERE document_id = ?1 AND path != ?2 AND gone_run IS NULL)",
                params![previous, doc.path],
            )?;
            queue_change(tx, previous)?;
            (Some(record.unwrap_or(previous)), version + 1)
        }
        None => (None, 1),
    };
    if let Some(failed) = doc.replaces {
        delete_document(tx, failed)?;
    }
    tx.execute(
            "INSERT INTO documents (run_id, path, sha256, size, format, file_mtime, page_count, status, error,
                                    record_id, version, current, warnings, unit)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 1, ?12, ?13)",
            params![
                run,
                doc.path,
                doc.sha256,
                doc.size.map(|s| s as i64),
                doc.format,
                doc.file_mtime,
                doc.pages.len() as i64,
                doc.status.as_str(),
                doc.error,
                record_id,
                version,
                to_json(&doc.warnings)?,
                doc.unit,
            ],
        )?;
    let document_id = tx.last_insert_rowid();
    if record_id.is_none() {
        tx.execute(
            "UPDATE documents SET record_id = id WHERE id = ?1",
            [document_id],
        )?;
    }
    {
        let mut insert_page = tx.prepare_cached(
                "INSERT INTO pages (document_id, number, text, confidence, width, height, dpi, text_source,
                                    error, note, words, image_sha256, preparation)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            )?;
        for page in &doc.pages {
            let words = serde_json::to_string(&page.words)
                .map_err(|e| StoreError::Corrupt(format!("cannot encode words: {e}")))?;
            let preparation = page
                .preparation
                .as_ref()
                .map(serde_json::to_string)
                .transpose()
                .map_err(|e| StoreError::Corrupt(format!("cannot encode preparation: {e}")))?;
            insert_page.execute(params![
                document_id,
                page.number,
                page.text,
                page.confidence.map(f64::from),
                page.width,
                page.height,
                page.dpi.map(f64::from),
                page.source.as_str(),
                page.error,
                page.note,
                words,
                page.image_sha256,
                preparation,
            ])?;
        }
    }
    if let Some(analysis) = &doc.analysis {
        write_fields(tx, document_id, &analysis.fields)?;
        write_classification(tx, document_id, &analysis.classification)?;
    }
    queue_change(tx, document_id)?;
    upsert_location(tx, run, &doc.path, document_id, doc.size, doc.file_mtime)?;
    Ok(Stored::New(document_id))
}

impl Store for SqliteStore {
    fn lock_for_ingest(&mut self) -> Result<(), StoreError> {
        use std::io::{Read, Seek, Write};
        use std::os::unix::io::AsRawFd;
        if self.ingest_lock.is_some() {
            return Ok(());
        }
        let mut lock_path = self.path.clone().into_os_string();
        lock_path.push(".ingest-lock");
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)?;
        // SAFETY: flock on a file descriptor we own; no memory is involved.
        let locked = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0;
        if !locked {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            return Err(StoreError::Busy {
                path: self.path.display().to_string(),
                holder: if holder.trim().is_empty() {
                    "pid unknown".into()
                } else {
                    holder.trim().to_owned()
                },
            });
        }
        file.set_len(0)?;
        file.rewind()?;
        write!(file, "pid {}", std::process::id())?;
        file.flush()?;
        self.ingest_lock = Some(file);
        Ok(())
    }

    fn begin_run(&mut self, arguments: &str) -> Result<i64, StoreError> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "UPDATE runs SET status = 'crashed' WHERE status = 'running'",
            [],
        )?;
        tx.execute(
            "INSERT INTO runs (arguments, pid) VALUES (?1, ?2)",
            params![arguments, std::process::id()],
        )?;
        let id = tx.last_insert_rowid();
        tx.commit()?;
        Ok(id)
    }

    fn put_document(&mut self, run: i64, doc: &NewDocument) -> Result<Stored, StoreError> {
        Ok(self
            .put_documents(run, std::slice::from_ref(doc))?
            .remove(0))
    }

    fn put_documents(&mut self, run: i64, docs: &[NewDocument]) -> Result<Vec<Stored>, StoreError> {
        let tx = self.conn.transaction()?;
        let mut stored = Vec::with_capacity(docs.len());
        let mut spent = Duration::ZERO;
        for doc in docs {
            let s = insert_document(&tx, run, doc)?;
            if let (Stored::New(id), Some(signer)) = (&s, &self.signer) {
                let started = std::time::Instant::now();
                log::append_record(&tx, signer, *id)?;
                spent += started.elapsed();
            }
            stored.push(s);
        }
        tx.commit()?;
        self.signing_time += spent;
        let new: Vec<(i64, &NewDocument)> = docs
            .iter()
            .zip(&stored)
            .filter_map(|(doc, s)| match s {
                Stored::New(id) if doc.status.is_searchable() => Some((*id, doc)),
                _ => None,
            })
            .collect();
        self.index_live(&new)?;
        Ok(stored)
    }

    fn put_location(
        &mut self,
        run: i64,
        path: &str,
        document_id: i64,
        size: Option<u64>,
        mtime: Option<i64>,
    ) -> Result<(), StoreError> {
        upsert_location(&self.conn, run, path, document_id, size, mtime)
    }

    fn touch_locations(&mut self, run: i64, paths: &[String]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        {
            let mut touch = tx.prepare_cached(
                "UPDATE locations SET last_seen_run = ?1, gone_run = NULL WHERE path = ?2",
            )?;
            for path in paths {
                touch.execute(params![run, path])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn mark_gone(&mut self, run: i64, roots: &[String]) -> Result<u64, StoreError> {
        let tx = self.conn.transaction()?;
        let mut gone = 0;
        for root in roots {
            let prefix = format!("{}/", root.trim_end_matches('/'));
            gone += tx.execute(
                "UPDATE locations SET gone_run = ?1
                 WHERE gone_run IS NULL AND (last_seen_run IS NULL OR last_seen_run < ?1)
                   AND substr(path, 1, length(?2)) = ?2",
                params![run, prefix],
            )? as u64;
        }
        tx.commit()?;
        Ok(gone)
    }

    fn finish_run(
        &mut self,
        run: i64,
        status: RunStatus,
        report: &serde_json::Value,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE runs SET status = ?2, finished_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), report = ?3
             WHERE id = ?1",
            params![run, status.as_str(), report.to_string()],
        )?;
        Ok(())
    }

    fn reader(&self) -> Result<Box<dyn Store>, StoreError> {
        Ok(Box::new(SqliteStore::open(&self.path)?))
    }

    fn location(&self, path: &str) -> Result<Option<KnownLocation>, StoreError> {
        let row = self
            .conn
            .prepare_cached(
                "SELECT l.document_id, l.size, l.mtime, d.sha256, d.status, d.unit
                 FROM locations l JOIN documents d ON d.id = l.document_id WHERE l.path = ?1",
            )?
            .query_row([path], |r| {
                Ok((
                    (
                        r.get::<_, i64>(0)?,
                        r.get::<_, Option<i64>>(1)?,
                        r.get::<_, Option<i64>>(2)?,
                    ),
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, Option<String>>(5)?,
                ))
            })
            .optional()?;
        row.map(|((document_id, size, mtime), sha256, status, unit)| {
            Ok(KnownLocation {
                document_id,
                size: size.map(|s| s as u64),
                mtime,
                sha256,
                status: DocStatus::parse(&status)?,
                unit,
            })
        })
        .transpose()
    }

    fn content(&self, sha256: &str) -> Result<Option<KnownContent>, StoreError> {
        let row = self
            .conn
            .prepare_cached(
                "SELECT id, status FROM documents WHERE sha256 = ?1
                 ORDER BY status = 'failed', current DESC, id LIMIT 1",
            )?
            .query_row([sha256], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
            })
            .optional()?;
        row.map(|(document_id, status)| {
            Ok(KnownContent {
                document_id,
                status: DocStatus::parse(&status)?,
            })
        })
        .transpose()
    }

    fn search(&self, spec: &SearchSpec) -> Result<SearchResults, StoreError> {
        let index = self.index()?;
        index.refresh()?;
        let (total, hits, facets) = index.search(spec)?;
        Ok(SearchResults {
            total,
            hits,
            facets,
        })
    }

    fn search_generation(&self) -> Result<u64, StoreError> {
        let index = self.index()?;
        index.refresh()?;
        Ok(index.generation())
    }

    fn similar(&self, document_id: i64, limit: usize) -> Result<Vec<SearchHit>, StoreError> {
        let Some(doc) = self.index_doc(document_id)? else {
            return Ok(Vec::new());
        };
        let index = self.index()?;
        index.refresh()?;
        index.similar(document_id, &doc.text, limit)
    }

    fn hit_documents(&self, ids: &[i64]) -> Result<Vec<HitDocument>, StoreError> {
        let mut out = Vec::with_capacity(ids.len());
        for &id in ids {
            let path: Option<String> = self
                .conn
                .prepare_cached("SELECT path FROM documents WHERE id = ?1")?
                .query_row([id], |r| r.get(0))
                .optional()?;
            let Some(path) = path else { continue };
            let mut pages = self
                .conn
                .prepare_cached(PAGES_OF_DOCUMENT)?
                .query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<Vec<(u32, String)>, _>>()?;
            pages.sort_by_key(|p| p.0);
            out.push(HitDocument {
                id,
                path,
                fields: load_fields(&self.conn, id)?,
                classification: load_classification(&self.conn, id)?,
                pages,
            });
        }
        Ok(out)
    }

    fn flush_index(&mut self) -> Result<bool, StoreError> {
        let index = self.index()?;
        let pending: Vec<(i64, i64)> = self
            .conn
            .prepare_cached("SELECT seq, document_id FROM search_changes ORDER BY seq")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        let Some(&(last, _)) = pending.last() else {
            return Ok(true);
        };
        let (mut writer, added) = match self.live.borrow_mut().take() {
            Some(live) => (live.writer, live.added),
            None => {
                // A large backlog (a bulk load, a rebuild) is worth a second thread.
                let threads = if pending.len() > 5_000 {
                    2
                } else {
                    INDEX_THREADS
                };
                match index.writer(threads)? {
                    Some(w) => (w, std::collections::HashMap::new()),
                    None => return Ok(false),
                }
            }
        };
        let mut seen = std::collections::HashSet::new();
        // Deletes only for what the index may hold: the index keeps every delete it is
        // given (a query with its scoring weights, about a kilobyte) for the writer's
        // life, and a night of 100,000 documents that were never indexed (empty,
        // failed) grew memory by that much each.
        index.refresh()?;
        for (seq, id) in pending.iter().rev() {
            // The latest state of each document is all that matters.
            if !seen.insert(*id) {
                continue;
            }
            // Already handed over when it was stored, and unchanged since.
            if added.get(id).is_some_and(|covered| seq <= covered) {
                continue;
            }
            if added.contains_key(id) || index.holds(*id)? {
                index.delete(&writer, *id);
            }
            if let Some(doc) = self.index_doc(*id)? {
                index.add(&writer, &doc)?;
            }
        }
        index.commit_keeping(&mut writer)?;
        // The writer stays for the next documents; its merges go on in the background
        // (and are waited for when this handle is dropped).
        *self.live.borrow_mut() = Some(LiveIndex {
            writer,
            added: std::collections::HashMap::new(),
        });
        // Applied: forget them. A crash before this line replays them (harmless).
        self.conn
            .execute("DELETE FROM search_changes WHERE seq <= ?1", [last])?;
        Ok(true)
    }

    fn set_analysis(&mut self, document_id: i64, analysis: &Analysis) -> Result<bool, StoreError> {
        let tx = self.conn.transaction()?;
        write_fields(&tx, document_id, &analysis.fields)?;
        let before = load_classification(&tx, document_id)?;
        let staff = before
            .as_ref()
            .is_some_and(|c| c.source == ClassSource::Staff);
        let new = &analysis.classification;
        let changed = !staff
            && before
                .as_ref()
                .is_none_or(|b| b.sector != new.sector || b.procedure_code != new.procedure_code);
        if !staff {
            write_classification(&tx, document_id, new)?;
        }
        queue_change(&tx, document_id)?;
        if let Some(signer) = &self.signer {
            log::append_record(&tx, signer, document_id)?;
        }
        tx.commit()?;
        Ok(changed)
    }

    fn correct(
        &mut self,
        document_id: i64,
        classification: &Classification,
        by: &str,
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        let previous = load_classification(&tx, document_id)?.map(|c| c.sector);
        tx.execute(
            "INSERT INTO corrections (document_id, sector, procedure_code, previous_sector, by_user)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                document_id,
                classification.sector,
                classification.procedure_code,
                previous,
                by
            ],
        )?;
        write_classification(&tx, document_id, classification)?;
        queue_change(&tx, document_id)?;
        if let Some(signer) = &self.signer {
            log::append_record(&tx, signer, document_id)?;
        }
        tx.commit()?;
        Ok(())
    }

    fn corrections(&self) -> Result<Vec<Correction>, StoreError> {
        let rows = self
            .conn
            .prepare_cached(
                "SELECT k.document_id, k.sector, k.procedure_code, k.by_user, k.at
                 FROM corrections k JOIN documents d ON d.id = k.document_id AND d.current = 1
                 WHERE k.id = (SELECT max(id) FROM corrections WHERE document_id = k.document_id)
                 ORDER BY k.document_id",
            )?
            .query_map([], |r| {
                Ok(Correction {
                    document_id: r.get(0)?,
                    sector: r.get(1)?,
                    procedure_code: r.get(2)?,
                    by: r.get(3)?,
                    at: r.get(4)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    fn put_training(&mut self, training: &Training) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        // Only the latest training is used; older ones are dead weight in the file.
        tx.execute("DELETE FROM classifier_training", [])?;
        tx.execute(
            "INSERT INTO classifier_training (description, documents, counts) VALUES (?1, ?2, ?3)",
            params![
                training.description,
                training.document_count() as i64,
                to_json(training)?
            ],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn training(&self) -> Result<Option<Training>, StoreError> {
        let counts: Option<String> = self
            .conn
            .query_row(
                "SELECT counts FROM classifier_training ORDER BY id DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()?;
        counts
            .map(|c| from_json(&c, "classifier training"))
            .transpose()
    }

    fn visibility(&self, id: i64, scope: &Scope) -> Result<Visibility, StoreError> {
        let row: Option<bool> = self
            .conn
            .prepare_cached(
                "SELECT ?2 IS NULL OR unit IN (SELECT value FROM json_each(?2))
                 FROM documents WHERE id = ?1",
            )?
            .query_row(params![id, scope.units_json()], |r| r.get(0))
            .optional()?;
        Ok(match row {
            None => Visibility::Missing,
            Some(true) => Visibility::Visible,
            Some(false) => Visibility::Hidden,
        })
    }

    fn units(&self) -> Result<Vec<Unit>, StoreError> {
        let rows = self
            .conn
            .prepare_cached("SELECT code, name, parent, issuers FROM units ORDER BY code")?
            .query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get::<_, String>(3)?))
            })?
            .collect::<Result<Vec<(String, String, Option<String>, String)>, _>>()?;
        rows.into_iter()
            .map(|(code, name, parent, issuers)| {
                Ok(Unit {
                    code,
                    name,
                    parent,
                    issuers: from_json(&issuers, "unit issuers")?,
                })
            })
            .collect()
    }

    fn put_unit(&mut self, unit: &Unit) -> Result<(), StoreError> {
        if let Some(parent) = &unit.parent {
            let known: bool = self.conn.query_row(
                "SELECT EXISTS (SELECT 1 FROM units WHERE code = ?1)",
                [parent],
                |r| r.get(0),
            )?;
            if !known || parent == &unit.code {
                return Err(StoreError::Conflict(format!(
                    "unit {}: no parent unit '{parent}' (add it first)",
                    unit.code
                )));
            }
        }
        self.conn.execute(
            "INSERT INTO units (code, name, parent, issuers) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (code) DO UPDATE SET name = excluded.name, parent = excluded.parent,
                                              issuers = excluded.issuers",
            params![unit.code, unit.name, unit.parent, to_json(&unit.issuers)?],
        )?;
        Ok(())
    }

    fn set_unit(&mut self, document_id: i64, unit: Option<&str>) -> Result<bool, StoreError> {
        let tx = self.conn.transaction()?;
        let changed = tx.execute(
            "UPDATE documents SET unit = ?2 WHERE id = ?1",
            params![document_id, unit],
        )?;
        if changed > 0 {
            queue_change(&tx, document_id)?;
        }
        tx.commit()?;
        Ok(changed > 0)
    }

    fn unowned_documents(&self) -> Result<Vec<(i64, Option<Fields>)>, StoreError> {
        let ids = self
            .conn
            .prepare_cached(
                "SELECT id FROM documents WHERE unit IS NULL AND current = 1 AND status != 'failed'
                 ORDER BY id",
            )?
            .query_map([], |r| r.get(0))?
            .collect::<Result<Vec<i64>, _>>()?;
        ids.into_iter()
            .map(|id| Ok((id, load_fields(&self.conn, id)?)))
            .collect()
    }

    fn document(&self, id: i64) -> Result<Option<StoredDocument>, StoreError> {
        self.document_row(id)
    }

    fn readable_document_ids(&self) -> Result<Vec<i64>, StoreError> {
        let ids = self
            .conn
            .prepare_cached(
                "SELECT id FROM documents WHERE status IN ('ok', 'partial') ORDER BY id",
            )?
            .query_map([], |r| r.get(0))?
            .collect::<Result<Vec<i64>, _>>()?;
        Ok(ids)
    }

    fn documents_of_run(&self, run: i64) -> Result<Vec<i64>, StoreError> {
        let ids = self
            .conn
            .prepare_cached(
                "SELECT id FROM documents WHERE run_id = ?1 AND status != 'failed' ORDER BY id",
            )?
            .query_map([run], |r| r.get(0))?
            .collect::<Result<Vec<i64>, _>>()?;
        Ok(ids)
    }

    fn page_words(&self, document_id: i64) -> Result<Vec<Vec<crate::ocr::Word>>, StoreError> {
        // Sorted below, not by SQLite: see `PAGES_OF_DOCUMENT`.
        let mut stmt = self
            .conn
            .prepare_cached("SELECT number, words FROM pages WHERE document_id = ?1")?;
        let mut rows = stmt
            .query_map([document_id], |r| {
                Ok((r.get::<_, u32>(0)?, r.get::<_, String>(1)?))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.sort_by_key(|r| r.0);
        rows.iter()
            .map(|(_, json)| {
                serde_json::from_str(json).map_err(|e| {
                    StoreError::Corrupt(format!("words of document {document_id}: {e}"))
                })
            })
            .collect()
    }

    fn each_document(
        &self,
        visit: &mut dyn FnMut(StoredDocument) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        // Walk by id in batches rather than holding one long statement open while the
        // visitor runs (it may be slow, e.g. writing to a pipe).
        let mut after = 0i64;
        loop {
            let ids: Vec<i64> = self
                .conn
                .prepare_cached("SELECT id FROM documents WHERE id > ?1 ORDER BY id LIMIT 500")?
                .query_map([after], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            let Some(&last) = ids.last() else {
                return Ok(());
            };
            for id in ids {
                if let Some(doc) = self.document_row(id)? {
                    visit(doc)?;
                }
            }
            after = last;
        }
    }

    fn runs(&self, limit: usize) -> Result<Vec<RunRecord>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT r.id, r.arguments, r.started_at, r.finished_at, r.status, r.report,
                    (SELECT count(*) FROM documents d WHERE d.run_id = r.id),
                    (SELECT count(*) FROM documents d
                     WHERE d.run_id = r.id AND d.status IN ('failed', 'partial')),
                    (SELECT count(*) FROM documents d WHERE d.run_id = r.id AND d.status = 'empty')
             FROM runs r ORDER BY r.id DESC LIMIT ?1",
        )?;
        let runs = stmt
            .query_map([limit as i64], |r| {
                let report: Option<String> = r.get(5)?;
                Ok(RunRecord {
                    id: r.get(0)?,
                    arguments: r.get(1)?,
                    started_at: r.get(2)?,
                    finished_at: r.get(3)?,
                    status: RunStatus::parse(&r.get::<_, String>(4)?),
                    report: report.and_then(|s| serde_json::from_str(&s).ok()),
                    documents_stored: r.get::<_, i64>(6)? as u64,
                    documents_failed: r.get::<_, i64>(7)? as u64,
                    documents_empty: r.get::<_, i64>(8)? as u64,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(runs)
    }

    fn failures(&self, filter: &FailureFilter) -> Result<Vec<FailureRecord>, StoreError> {
        // Whole documents that failed or hold no text; the failed pages of partial ones;
        // what was lost in the pages still read; with `warnings`, repairs as well.
        let mut stmt = self.conn.prepare_cached(
            "SELECT d.run_id, d.id, d.path, NULL, d.error, d.ingested_at, d.status, d.id AS k, 0 AS n
             FROM documents d
             WHERE d.current = 1 AND d.status IN ('failed', 'empty') AND (?1 IS NULL OR d.run_id = ?1)
             UNION ALL
             SELECT d.run_id, d.id, d.path, p.number, p.error, d.ingested_at, 'page', d.id, p.number
             FROM pages p JOIN documents d ON d.id = p.document_id
             WHERE d.current = 1 AND d.status = 'partial' AND p.error IS NOT NULL
                   AND (?1 IS NULL OR d.run_id = ?1)
             UNION ALL
             SELECT d.run_id, d.id, d.path, w.value ->> '$.page', w.value ->> '$.message',
                    d.ingested_at, w.value ->> '$.kind', d.id, coalesce(w.value ->> '$.page', 0)
             FROM documents d, json_each(d.warnings) w
             WHERE d.current = 1 AND (?1 IS NULL OR d.run_id = ?1)
                   AND (?2 OR w.value ->> '$.kind' = 'loss')
             ORDER BY 8, 9",
        )?;
        let rows = stmt
            .query_map(params![filter.run, filter.warnings], |r| {
                Ok(FailureRecord {
                    run_id: r.get(0)?,
                    document_id: r.get(1)?,
                    path: r.get(2)?,
                    page: r.get(3)?,
                    reason: r.get::<_, Option<String>>(4)?.unwrap_or_default(),
                    at: r.get(5)?,
                    kind: r.get(6)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    fn failed_paths(&self) -> Result<Vec<String>, StoreError> {
        let paths = self
            .conn
            .prepare_cached(
                "SELECT l.path FROM locations l JOIN documents d ON d.id = l.document_id
                 WHERE d.current = 1 AND d.status != 'ok' ORDER BY l.path",
            )?
            .query_map([], |r| r.get(0))?
            .collect::<Result<Vec<String>, _>>()?;
        Ok(paths)
    }

    fn set_signer(&mut self, signer: Option<Signer>) -> Result<(), StoreError> {
        if let Some(signer) = &signer {
            log::add_signing_key(&self.conn, signer)?;
        }
        self.signer = signer;
        Ok(())
    }

    fn signing_keys(&self) -> Result<Vec<SigningKeyRecord>, StoreError> {
        log::signing_keys(&self.conn)
    }

    fn record_unrecorded(&mut self) -> Result<u64, StoreError> {
        let Some(signer) = self.signer.clone() else {
            return Ok(0);
        };
        let ids = log::unrecorded(&self.conn)?;
        let mut count = 0;
        // A few hundred per transaction: a big archive's backfill neither holds one
        // huge transaction nor commits per document.
        for chunk in ids.chunks(500) {
            let tx = self.conn.transaction()?;
            for id in chunk {
                count += u64::from(log::append_record(&tx, &signer, *id)?);
            }
            tx.commit()?;
        }
        Ok(count)
    }

    fn seal(&mut self) -> Result<Option<TreeHead>, StoreError> {
        let Some(signer) = self.signer.clone() else {
            return Ok(None);
        };
        let tx = self.conn.transaction()?;
        let head = log::seal(&tx, &signer)?;
        tx.commit()?;
        Ok(head)
    }

    fn tree_heads(&self) -> Result<Vec<TreeHead>, StoreError> {
        log::tree_heads(&self.conn)
    }

    fn each_log_entry(
        &self,
        visit: &mut dyn FnMut(LogEntry) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        log::each_entry(&self.conn, visit)
    }

    fn log_entries_of(&self, document_id: i64) -> Result<Vec<LogEntry>, StoreError> {
        log::entries_where(&self.conn, "document_id = ?1", &document_id)
    }

    fn log_entries_by_code(&self, code: &str) -> Result<Vec<LogEntry>, StoreError> {
        log::entries_where(&self.conn, "code = ?1", &code)
    }

    fn leaf_hashes(&self) -> Result<Vec<Hash>, StoreError> {
        log::leaf_hashes(&self.conn)
    }

    fn current_record(&self, document_id: i64) -> Result<Option<Record>, StoreError> {
        log::record_of(&self.conn, document_id)
    }

    fn recordable_documents(&self) -> Result<Vec<RecordableDocument>, StoreError> {
        let mut out: Vec<RecordableDocument> = Vec::new();
        let mut statement = self.conn.prepare(
            "SELECT d.id, l.path, l.gone_run IS NOT NULL FROM documents d
             LEFT JOIN locations l ON l.document_id = d.id
             WHERE d.status != 'failed' ORDER BY d.id, l.path",
        )?;
        let mut rows = statement.query([])?;
        while let Some(row) = rows.next()? {
            let id: i64 = row.get(0)?;
            let location: Option<(String, bool)> = match row.get::<_, Option<String>>(1)? {
                Some(path) => Some((path, row.get(2)?)),
                None => None,
            };
            if out.last().map(|d| d.id) != Some(id) {
                out.push(RecordableDocument {
                    id,
                    locations: Vec::new(),
                });
            }
            if let (Some(location), Some(document)) = (location, out.last_mut()) {
                document.locations.push(location);
            }
        }
        Ok(out)
    }

    fn signing_time(&self) -> Duration {
        self.signing_time
    }

    fn rebuild_index(&mut self) -> Result<u64, StoreError> {
        SqliteStore::rebuild_index(self)
    }
}

impl super::accounts::Accounts for SqliteStore {
    fn add_user(
        &mut self,
        name: &str,
        role: super::accounts::Role,
        password_hash: &str,
    ) -> Result<i64, StoreError> {
        super::accounts::add_user(&self.conn, name, role, password_hash)
    }
    fn remove_user(&mut self, name: &str) -> Result<bool, StoreError> {
        super::accounts::remove_user(&self.conn, name)
    }
    fn set_password(&mut self, name: &str, password_hash: &str) -> Result<bool, StoreError> {
        super::accounts::set_password(&mut self.conn, name, password_hash)
    }
    fn user(&self, name: &str) -> Result<Option<super::accounts::User>, StoreError> {
        super::accounts::user(&self.conn, name)
    }
    fn users(&self) -> Result<Vec<super::accounts::User>, StoreError> {
        super::accounts::users(&self.conn)
    }
    fn create_session(
        &mut self,
        token_sha256: &str,
        user_id: i64,
        csrf: &str,
        expires_unix: i64,
    ) -> Result<(), StoreError> {
        super::accounts::create_session(&self.conn, token_sha256, user_id, csrf, expires_unix)
    }
    fn session(
        &self,
        token_sha256: &str,
        now_unix: i64,
    ) -> Result<Option<super::accounts::Session>, StoreError> {
        super::accounts::session(&self.conn, token_sha256, now_unix)
    }
    fn end_session(&mut self, token_sha256: &str) -> Result<(), StoreError> {
        super::accounts::end_session(&self.conn, token_sha256)
    }
    fn create_token(
        &mut self,
        user_id: i64,
        label: &str,
        token_sha256: &str,
    ) -> Result<i64, StoreError> {
        super::accounts::create_token(&self.conn, user_id, label, token_sha256)
    }
    fn revoke_token(&mut self, id: i64) -> Result<bool, StoreError> {
        super::accounts::revoke_token(&self.conn, id)
    }
    fn tokens(&self) -> Result<Vec<super::accounts::ApiToken>, StoreError> {
        super::accounts::tokens(&self.conn)
    }
    fn token_user(&self, token_sha256: &str) -> Result<Option<super::accounts::User>, StoreError> {
        super::accounts::token_user(&self.conn, token_sha256)
    }
    fn audit(
        &mut self,
        user: &str,
        action: &str,
        document_id: Option<i64>,
        detail: &str,
    ) -> Result<(), StoreError> {
        super::accounts::audit(&self.conn, user, action, document_id, detail)
    }
    fn audit_log(
        &self,
        scope: &Scope,
        limit: usize,
        offset: usize,
    ) -> Result<Vec<super::accounts::AuditEntry>, StoreError> {
        super::accounts::audit_log(&self.conn, scope, limit, offset)
    }
    fn grant_unit(&mut self, name: &str, unit: &str) -> Result<bool, StoreError> {
        super::accounts::grant_unit(&self.conn, name, unit)
    }
    fn revoke_unit(&mut self, name: &str, unit: &str) -> Result<bool, StoreError> {
        super::accounts::revoke_unit(&self.conn, name, unit)
    }
    fn sign_in_locked(
        &self,
        name: &str,
        address: &str,
        now_unix: i64,
    ) -> Result<Option<i64>, StoreError> {
        super::accounts::sign_in_locked(&self.conn, name, address, now_unix)
    }
    fn sign_in_failed(
        &mut self,
        name: &str,
        policy: &super::accounts::SignInPolicy,
        now_unix: i64,
    ) -> Result<Option<i64>, StoreError> {
        super::accounts::sign_in_failed(&self.conn, name, policy, now_unix)
    }
    fn sign_in_succeeded(
        &mut self,
        name: &str,
        address: &str,
        now_unix: i64,
    ) -> Result<(), StoreError> {
        super::accounts::sign_in_succeeded(&self.conn, name, address, now_unix)
    }
    fn unlock_sign_in(&mut self, name: &str) -> Result<bool, StoreError> {
        super::accounts::unlock_sign_in(&self.conn, name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A document as the live index saw it when stored and as a rebuild reads it back
    /// are the same index document: pages given out of order, fields, classification
    /// and unit included.
    #[test]
    fn live_and_rebuilt_index_documents_are_equal() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = SqliteStore::open(&dir.path().join("a.db")).unwrap();
        let mut doc = (0..)
            .map(|seed| crate::synth::document(&mut crate::synth::Rng::new(seed), seed, 300))
            .find(|d| d.pages.len() >= 3)
            .expect("a document of several pages");
        doc.pages.reverse();
        doc.unit = Some("UBND-VINH".into());
        doc.analysis = Some(Analysis {
            fields: Fields {
                number: Some("12/QĐ-UBND".into()),
                doc_type: Some("QĐ".into()),
                agency: Some("UBND TỈNH NGHỆ AN".into()),
                date: Some("2024-03-05".into()),
                citizen_ids: vec!["001234567890".into()],
                subject: Some("not indexed".into()),
                ..Fields::default()
            },
            classification: Classification {
                sector: "dat-dai".into(),
                sector_name: "Đất đai".into(),
                procedure_code: Some("1.000123".into()),
                procedure_name: Some("not indexed".into()),
                confidence: 0.7,
                needs_review: true,
                source: ClassSource::Model,
                reasons: vec!["not indexed".into()],
            },
        });
        store
            .put_unit(&Unit {
                code: "UBND-VINH".into(),
                name: "UBND thành phố Vinh".into(),
                parent: None,
                issuers: Vec::new(),
            })
            .unwrap();
        let run = store.begin_run("test").unwrap();
        let Stored::New(id) = store.put_document(run, &doc).unwrap() else {
            panic!("a new document");
        };
        let live = live_index_doc(id, &doc);
        assert_eq!(store.index_doc(id).unwrap(), Some(live.clone()));
        assert!(
            live.text.starts_with(&doc.pages.last().unwrap().text),
            "page 1 first"
        );
        // Without fields or classification too.
        let mut bare = crate::synth::document(&mut crate::synth::Rng::new(9_999), 9_999, 300);
        bare.unit = None;
        let Stored::New(bare_id) = store.put_document(run, &bare).unwrap() else {
            panic!("a new document");
        };
        assert_eq!(
            store.index_doc(bare_id).unwrap(),
            Some(live_index_doc(bare_id, &bare))
        );
    }
}
