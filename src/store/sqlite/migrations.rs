//! The schema: migrations applied in order, all pending ones in one transaction.

use crate::store::StoreError;
use rusqlite::Connection;

/// Migrations, applied in order; `PRAGMA user_version` records how many ran. Never edit
/// one that has shipped: add the next.
pub(super) const MIGRATIONS: &[&str] = &[
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
    // 15: what the periodic reports count (`store::reports`).
    super::super::reports::SQLITE_SCHEMA,
    // 16: indexes for the reports' periods by signing time and issue date.
    super::super::reports::REPORT_INDEXES,
    // 17: a document number's OCR reading, kept when its codes were restored as printed.
    NUMBER_READ_SCHEMA,
];

/// Schema 17 (PostgreSQL 6): `fields::Fields::number_read`.
const NUMBER_READ_SCHEMA: &str = "ALTER TABLE document_fields ADD COLUMN number_read TEXT;";

/// Brings the database at `name` to the current schema; refuses one newer than this program.
pub(super) fn migrate(conn: &mut Connection, name: &str) -> Result<(), StoreError> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
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
    conn.execute_batch("PRAGMA foreign_keys = OFF")?;
    let result = (|| {
        let tx = conn.transaction()?;
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
    conn.execute_batch("PRAGMA foreign_keys = ON")?;
    result
}
