//! SQLite backend: WAL, versioned migrations, FTS5 over `đ`-folded page text.

use super::{
    DocStatus, NewDocument, RunCounts, RunStatus, SearchHit, SearchResults, Store, StoreError,
    StoredDocument, StoredPage,
};
use crate::fold::fold_for_index;
use crate::load::TextSource;
use crate::query::Query;
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
];

pub struct SqliteStore {
    conn: Connection,
}

/// How long a writer waits for another writer's transaction before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

impl SqliteStore {
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let name = path.display().to_string();
        let open_err = |source| StoreError::Open {
            path: name.clone(),
            source,
        };
        let conn = Connection::open(path).map_err(open_err)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
        // Reading the journal mode doubles as the first check that this is a database.
        conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0))
            .map_err(open_err)?;
        conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;")
            .map_err(open_err)?;
        let mut store = SqliteStore { conn };
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
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = self.conn.transaction()?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", i as i64 + 1)?;
            tx.commit()?;
        }
        Ok(())
    }

    pub fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    fn load_pages(&self, document_id: i64) -> Result<Vec<StoredPage>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT number, text, confidence, width, height, dpi, text_source, error, note,
                    json_array_length(words)
             FROM pages WHERE document_id = ?1 ORDER BY number",
        )?;
        let pages = stmt
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
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(pages)
    }

    fn document_row(&self, id: i64) -> Result<Option<StoredDocument>, StoreError> {
        let row = self
            .conn
            .query_row(
                "SELECT id, path, sha256, size, format, page_count, status, error, ingested_at
                 FROM documents WHERE id = ?1",
                [id],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, Option<String>>(2)?,
                        r.get::<_, Option<i64>>(3)?,
                        r.get::<_, Option<String>>(4)?,
                        r.get::<_, u32>(5)?,
                        r.get::<_, String>(6)?,
                        r.get::<_, Option<String>>(7)?,
                        r.get::<_, String>(8)?,
                    ))
                },
            )
            .optional()?;
        let Some((id, path, sha256, size, format, page_count, status, error, ingested_at)) = row
        else {
            return Ok(None);
        };
        Ok(Some(StoredDocument {
            id,
            path,
            sha256,
            size: size.map(|s| s as u64),
            format,
            page_count,
            status: DocStatus::parse(&status)?,
            error,
            ingested_at,
            pages: self.load_pages(id)?,
        }))
    }
}

impl Store for SqliteStore {
    fn begin_run(&mut self, command: &str) -> Result<i64, StoreError> {
        self.conn
            .execute("INSERT INTO runs (command) VALUES (?1)", [command])?;
        Ok(self.conn.last_insert_rowid())
    }

    fn put_document(&mut self, run: i64, doc: &NewDocument) -> Result<i64, StoreError> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO documents (run_id, path, sha256, size, format, file_mtime, page_count, status, error)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
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
            ],
        )?;
        let document_id = tx.last_insert_rowid();
        {
            let mut insert_page = tx.prepare_cached(
                "INSERT INTO pages (document_id, number, text, confidence, width, height, dpi, text_source,
                                    error, note, words)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )?;
            let mut insert_fts =
                tx.prepare_cached("INSERT INTO page_fts (rowid, body) VALUES (?1, ?2)")?;
            for page in &doc.pages {
                let words = serde_json::to_string(&page.words)
                    .map_err(|e| StoreError::Corrupt(format!("cannot encode words: {e}")))?;
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
                ])?;
                let page_id = tx.last_insert_rowid();
                if !page.text.is_empty() {
                    insert_fts.execute(params![page_id, fold_for_index(&page.text)])?;
                }
            }
        }
        tx.execute(
            "UPDATE runs SET documents = documents + 1, pages = pages + ?2, failed = failed + ?3 WHERE id = ?1",
            params![run, doc.pages.len() as i64, i64::from(doc.status != DocStatus::Ok)],
        )?;
        tx.commit()?;
        Ok(document_id)
    }

    fn finish_run(
        &mut self,
        run: i64,
        status: RunStatus,
        _counts: &RunCounts,
    ) -> Result<(), StoreError> {
        let status = match status {
            RunStatus::Completed => "completed",
            RunStatus::Interrupted => "interrupted",
        };
        self.conn.execute(
            "UPDATE runs SET status = ?2, finished_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?1",
            params![run, status],
        )?;
        Ok(())
    }

    fn search(
        &self,
        query: &Query,
        limit: usize,
        offset: usize,
    ) -> Result<SearchResults, StoreError> {
        let expr = query.to_fts5();
        let total: i64 = self.conn.query_row(
            "SELECT count(DISTINCT p.document_id)
             FROM page_fts JOIN pages p ON p.id = page_fts.rowid
             WHERE page_fts MATCH ?1",
            [&expr],
            |r| r.get(0),
        )?;
        let mut stmt = self.conn.prepare_cached(
            "WITH hits AS (
                 SELECT p.document_id AS doc, p.id AS page_id, bm25(page_fts) AS rank
                 FROM page_fts JOIN pages p ON p.id = page_fts.rowid
                 WHERE page_fts MATCH ?1
             ), best AS (
                 SELECT doc, page_id, rank,
                        row_number() OVER (PARTITION BY doc ORDER BY rank, page_id) AS n
                 FROM hits
             )
             SELECT best.doc, d.path, p.number, best.rank, p.text
             FROM best
             JOIN documents d ON d.id = best.doc
             JOIN pages p ON p.id = best.page_id
             WHERE best.n = 1
             ORDER BY best.rank, best.doc
             LIMIT ?2 OFFSET ?3",
        )?;
        let hits = stmt
            .query_map(params![expr, limit as i64, offset as i64], |r| {
                Ok(SearchHit {
                    document_id: r.get(0)?,
                    path: r.get(1)?,
                    page: r.get(2)?,
                    score: -r.get::<_, f64>(3)?,
                    page_text: r.get(4)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(SearchResults {
            total: total as usize,
            hits,
        })
    }

    fn document(&self, id: i64) -> Result<Option<StoredDocument>, StoreError> {
        self.document_row(id)
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
}
