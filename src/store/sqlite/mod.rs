//! SQLite backend: WAL, versioned migrations, documents, versions and locations, the
//! search-index change queue and the signed log (`log`). Search itself is in `index`.

use super::feed::{ChangeFeed, Feeder};
mod accounts;
mod feed;
mod log;
mod migrations;
mod rows;
mod tables;
mod write;

use write::{insert_document, queue_change, upsert_location};

use super::{
    Analysis, Correction, DatabaseError, DatabaseFailure, DocStatus, Documents, FailureFilter,
    FailureRecord, HitDocument, KnownContent, KnownLocation, Location, NewDocument, RunRecord,
    RunStatus, Scope, Search, SearchHit, SearchResults, SearchSpec, SignedLog, Store, StoreError,
    Stored, StoredDocument, StoredPage, Unit, VersionRef, Visibility,
};
use super::{JobFence, LogEntry, RecordableDocument, SigningKeyRecord};
use crate::authenticity::merkle::Hash;
use crate::authenticity::{Record, Signer, TreeHead};
use crate::classify::{ClassSource, Classification, Training};
use crate::fields::Fields;
use crate::load::TextSource;
use rows::{
    from_json, load_classification, load_fields, to_json, write_classification, write_fields,
};
use rusqlite::{Connection, OptionalExtension, params};
use std::path::Path;
use std::time::Duration;

pub struct SqliteStore {
    conn: Connection,
    path: std::path::PathBuf,
    /// The open lock file while this handle is the ingest writer (flock is released by
    /// the kernel when the process dies, even by SIGKILL).
    ingest_lock: Option<std::fs::File>,
    /// The search index and its writer, fed from this database's change queue.
    feeder: Feeder,
    /// Signs the record of every document this handle writes.
    signer: Option<Signer>,
    signing_time: Duration,
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

/// Reads through a memory map instead of a copy per page read: showing twenty search
/// results reads a hundred scattered pages. (SQLite caps it at 2 GB by default.)
const MMAP_BYTES: u64 = 1 << 40;
/// SQLite's page cache per connection, in KiB (its `cache_size` is negative for KiB).
/// With reads going through the memory map, the cache mostly holds pages being
/// written; SQLite's default of 2 MB only filled up as an archive grew, and with it an
/// ingest's memory (1.4 MB more at 20,000 files than at 1,000, measured with massif).
const PAGE_CACHE_KIB: u32 = 512;
/// A document's pages, in no particular order: `ORDER BY number` after a bound
/// document id makes SQLite re-plan the cached statement on every use (a tenth of a
/// filtered search's time, measured); callers sort the few rows themselves.
const PAGES_OF_DOCUMENT: &str = "SELECT number, text FROM pages WHERE document_id = ?1";
/// Bytes per SQLite page for new archives (SQLite's default is 4,096).
const DATABASE_PAGE_SIZE: usize = 16_384;

/// How long a writer waits for another writer's transaction before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Where the search index of the database at `path` lives: beside it.
fn index_dir(path: &Path) -> std::path::PathBuf {
    crate::location::companion(path, ".index")
}

impl SqliteStore {
    /// This database's change queue, as the index is fed from it.
    fn feed(&self) -> feed::SqliteFeed<'_> {
        feed::SqliteFeed(&self.conn)
    }

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
            "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; PRAGMA mmap_size = {MMAP_BYTES}; \
             PRAGMA cache_size = -{PAGE_CACHE_KIB};"
        ))
        .map_err(open_err)?;
        let mut store = SqliteStore {
            conn,
            path: path.to_path_buf(),
            ingest_lock: None,
            feeder: Feeder::new(index_dir(path)),
            signer: None,
            signing_time: Duration::ZERO,
        };
        migrations::migrate(&mut store.conn, &name)?;
        Ok(store)
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

impl Store for SqliteStore {
    fn reader(&self) -> Result<Box<dyn Store>, StoreError> {
        Ok(Box::new(SqliteStore::open(&self.path)?))
    }
}

impl Documents for SqliteStore {
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
        // Read inside the transaction: a change someone queues after it commits is not
        // covered by what is handed to the index below, and is replayed.
        let covered = feed::SqliteFeed(&tx).latest_change()?;
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
        self.feeder.add_new(&self.feed(), &new, covered)?;
        Ok(stored)
    }

    fn fence(&mut self, fence: Option<JobFence>) -> Result<(), StoreError> {
        match fence {
            None => Ok(()),
            Some(_) => Err(StoreError::Conflict(format!(
                "{}: the job queue needs a PostgreSQL archive",
                self.path.display()
            ))),
        }
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
}

impl SignedLog for SqliteStore {
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
}

impl Search for SqliteStore {
    fn search(&self, spec: &SearchSpec) -> Result<SearchResults, StoreError> {
        self.feeder.search(&self.feed(), spec)
    }

    fn search_generation(&self) -> Result<u64, StoreError> {
        self.feeder.generation(&self.feed())
    }

    fn similar(&self, document_id: i64, limit: usize) -> Result<Vec<SearchHit>, StoreError> {
        self.feeder.similar(&self.feed(), document_id, limit)
    }

    fn flush_index(&mut self) -> Result<bool, StoreError> {
        self.feeder.flush(&self.feed())
    }

    fn rebuild_index(&mut self) -> Result<u64, StoreError> {
        let feed = feed::SqliteFeed(&self.conn);
        self.feeder.rebuild(&feed)
    }
}

impl crate::store::accounts::Accounts for SqliteStore {
    fn add_user(
        &mut self,
        name: &str,
        role: crate::store::accounts::Role,
        password_hash: &str,
    ) -> Result<i64, StoreError> {
        accounts::add_user(&self.conn, name, role, password_hash)
    }
    fn remove_user(&mut self, name: &str) -> Result<bool, StoreError> {
        accounts::remove_user(&self.conn, name)
    }
    fn set_password(&mut self, name: &str, password_hash: &str) -> Result<bool, StoreError> {
        accounts::set_password(&mut self.conn, name, password_hash)
    }
    fn user(&self, name: &str) -> Result<Option<crate::store::accounts::User>, StoreError> {
        accounts::user(&self.conn, name)
    }
    fn users(&self) -> Result<Vec<crate::store::accounts::User>, StoreError> {
        accounts::users(&self.conn)
    }
    fn create_session(
        &mut self,
        token_sha256: &str,
        user_id: i64,
        csrf: &str,
        expires_unix: i64,
    ) -> Result<(), StoreError> {
        accounts::create_session(&self.conn, token_sha256, user_id, csrf, expires_unix)
    }
    fn session(
        &self,
        token_sha256: &str,
        now_unix: i64,
    ) -> Result<Option<crate::store::accounts::Session>, StoreError> {
        accounts::session(&self.conn, token_sha256, now_unix)
    }
    fn end_session(&mut self, token_sha256: &str) -> Result<(), StoreError> {
        accounts::end_session(&self.conn, token_sha256)
    }
    fn create_token(
        &mut self,
        user_id: i64,
        label: &str,
        token_sha256: &str,
    ) -> Result<i64, StoreError> {
        accounts::create_token(&self.conn, user_id, label, token_sha256)
    }
    fn revoke_token(&mut self, id: i64) -> Result<bool, StoreError> {
        accounts::revoke_token(&self.conn, id)
    }
    fn tokens(&self) -> Result<Vec<crate::store::accounts::ApiToken>, StoreError> {
        accounts::tokens(&self.conn)
    }
    fn token_user(
        &self,
        token_sha256: &str,
    ) -> Result<Option<crate::store::accounts::User>, StoreError> {
        accounts::token_user(&self.conn, token_sha256)
    }
    fn audit(
        &mut self,
        user: &str,
        action: &str,
        document_id: Option<i64>,
        detail: &str,
    ) -> Result<(), StoreError> {
        accounts::audit(&self.conn, user, action, document_id, detail)
    }
    fn audit_log(
        &self,
        scope: &Scope,
        limit: usize,
        offset: usize,
    ) -> Result<Vec<crate::store::accounts::AuditEntry>, StoreError> {
        accounts::audit_log(&self.conn, scope, limit, offset)
    }
    fn grant_unit(&mut self, name: &str, unit: &str) -> Result<bool, StoreError> {
        accounts::grant_unit(&self.conn, name, unit)
    }
    fn revoke_unit(&mut self, name: &str, unit: &str) -> Result<bool, StoreError> {
        accounts::revoke_unit(&self.conn, name, unit)
    }
    fn sign_in_locked(
        &self,
        name: &str,
        address: &str,
        now_unix: i64,
    ) -> Result<Option<i64>, StoreError> {
        accounts::sign_in_locked(&self.conn, name, address, now_unix)
    }
    fn sign_in_failed(
        &mut self,
        name: &str,
        policy: &crate::store::accounts::SignInPolicy,
        now_unix: i64,
    ) -> Result<Option<i64>, StoreError> {
        accounts::sign_in_failed(&self.conn, name, policy, now_unix)
    }
    fn sign_in_succeeded(
        &mut self,
        name: &str,
        address: &str,
        now_unix: i64,
    ) -> Result<(), StoreError> {
        accounts::sign_in_succeeded(&self.conn, name, address, now_unix)
    }
    fn unlock_sign_in(&mut self, name: &str) -> Result<bool, StoreError> {
        accounts::unlock_sign_in(&self.conn, name)
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
        let live = crate::store::feed::new_index_doc(id, &doc);
        assert_eq!(store.feed().index_doc(id).unwrap(), Some(live.clone()));
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
            store.feed().index_doc(bare_id).unwrap(),
            Some(crate::store::feed::new_index_doc(bare_id, &bare))
        );
    }

    /// A new archive's first documents are queued for the index that their store
    /// creates, and handed over once: each document is indexed once, not a second
    /// time by the flush (deleted copies slow every search).
    #[test]
    fn each_document_is_indexed_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = SqliteStore::open(&dir.path().join("a.db")).unwrap();
        let run = store.begin_run("test").unwrap();
        let docs: Vec<NewDocument> = (0..5)
            .map(|seed| crate::synth::document(&mut crate::synth::Rng::new(seed), seed, 200))
            .collect();
        store.put_documents(run, &docs[..3]).unwrap();
        store.flush_index().unwrap();
        store.put_documents(run, &docs[3..]).unwrap();
        store.flush_index().unwrap();
        let feed = store.feed();
        assert_eq!(store.feeder.copies(&feed).unwrap(), 5);
    }

    /// Documents the index never holds (empty ones) are forgotten by a flush without
    /// opening a writer; the next searchable document is indexed as usual.
    #[test]
    fn a_flush_with_nothing_to_index_opens_no_writer() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = SqliteStore::open(&dir.path().join("a.db")).unwrap();
        let run = store.begin_run("test").unwrap();
        let empty: Vec<NewDocument> = (0..3)
            .map(|seed| {
                let mut doc = crate::synth::document(&mut crate::synth::Rng::new(seed), seed, 200);
                doc.status = DocStatus::Empty;
                doc
            })
            .collect();
        store.put_documents(run, &empty).unwrap();
        assert!(store.flush_index().unwrap());
        assert!(!store.feeder.has_writer());
        assert!(
            store.feed().changes().unwrap().is_empty(),
            "queue forgotten"
        );
        let searchable = crate::synth::document(&mut crate::synth::Rng::new(7), 7, 200);
        store.put_documents(run, &[searchable]).unwrap();
        assert!(store.flush_index().unwrap());
        assert!(store.feeder.has_writer());
        let feed = store.feed();
        assert_eq!(store.feeder.copies(&feed).unwrap(), 1);
    }
}
