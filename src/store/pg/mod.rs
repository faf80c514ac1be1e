//! PostgreSQL backend: one archive shared by many machines. The same tables and rules
//! as `sqlite` (documents, versions, locations, the search-change queue, the signed
//! log, accounts) in PostgreSQL's terms; the search index beside it is fed from the
//! change queue by `store::feed`, like SQLite's.
//!
//! The `postgres` client needs `&mut` for every query while the storage traits read
//! through `&self`: the client sits in a `RefCell`, borrowed for one call at a time
//! (the change feed the index reads borrows it the same way, never during a call).

mod accounts;
mod log;
mod queue;
mod rows;
mod schema;
mod tables;
mod write;

pub(in crate::store) use schema::NOW;

use super::feed::{ChangeFeed, ChangePosition, Feeder, IndexRow};
use super::index::IndexDoc;
use super::json::{from_json, to_json};
use super::reports::{Dialect, MARK_SEARCHABLE};
use super::{
    Analysis, Correction, DatabaseError, DatabaseFailure, DocStatus, Documents, FailureFilter,
    FailureRecord, HitDocument, JobFence, JobOutcome, KnownContent, KnownLocation, Location,
    LogEntry, MAX_JOB_ATTEMPTS, NewDocument, RecordableDocument, RunRecord, RunStatus, Scope,
    Search, SearchHit, SearchResults, SearchSpec, SignedLog, SigningKeyRecord, Store, StoreError,
    Stored, StoredDocument, StoredPage, Unit, VersionRef, Visibility,
};
use crate::authenticity::merkle::Hash;
use crate::authenticity::{Record, Signer, TreeHead};
use crate::classify::{ClassSource, Classification, Training};
use crate::fields::Fields;
use crate::load::TextSource;
use accounts::scope_units;
use postgres::{Client, GenericClient, NoTls};
pub use queue::PgQueue;
use rows::{load_classification, load_fields, write_classification};
use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::time::Duration;
use write::{insert_document, queue_change, upsert_location};

/// The advisory lock an ingest holds for its session (`lock_for_ingest`): the kernel's
/// flock for SQLite, PostgreSQL's session lock here, released when the connection goes.
const INGEST_LOCK: i64 = 0x736f_686f_6100_0003;
/// The class of the advisory locks (`pg_advisory_lock(RUN_LOCK_CLASS, run)`) a process
/// holds on the runs it is doing: a run marked running whose lock nobody holds was cut
/// off (its process killed or its connection lost) and is marked crashed. Many workers
/// run at once, so a new run must not take the others' for crashed.
const RUN_LOCK_CLASS: i32 = 0x736f_6801;
/// Times a transaction that stores documents is tried when a concurrent one stored the
/// same bytes first (the unique index refuses the second; tried again, it finds them).
const STORE_ATTEMPTS: usize = 3;
/// Taken shared by every transaction that queues a change, exclusively while a search
/// index registers: the documents it is queued then include every committed change, and
/// no change is queued for everyone else but it.
pub(super) const FEED_LOCK: i64 = 0x736f_686f_6100_0004;
/// Documents read per query when walking the whole archive.
const WALK_BATCH: i64 = 500;

pub struct PostgresStore {
    client: RefCell<Client>,
    /// The connection string as given (with its password: never shown; see `name`).
    url: String,
    /// The connection string without its password, for messages.
    name: String,
    index_dir: PathBuf,
    /// This machine's search index as the archive knows it (`search_consumers`).
    consumer: String,
    feeder: Feeder,
    ingest_locked: bool,
    signer: Option<Signer>,
    signing_time: Duration,
    /// The queue jobs the documents being written belong to (`Documents::fence`).
    fence: Option<JobFence>,
}

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> StoreError {
        StoreError::Database(pg_error(e))
    }
}

/// Whether `e` is the unique index refusing a second current document of the same bytes.
fn same_bytes_stored_concurrently(e: &StoreError) -> bool {
    let StoreError::Database(DatabaseError {
        source: Some(source),
        ..
    }) = e
    else {
        return false;
    };
    source
        .downcast_ref::<postgres::Error>()
        .and_then(postgres::Error::as_db_error)
        .is_some_and(|db| {
            *db.code() == postgres::error::SqlState::UNIQUE_VIOLATION
                && db.constraint() == Some("documents_one_current_content")
        })
}

/// How a fenced job ends with its document stored as `stored`.
fn job_outcome(doc: &NewDocument, stored: &Stored) -> JobOutcome {
    match (doc.status, stored) {
        (DocStatus::Failed, Stored::New(_)) => JobOutcome::Failed {
            reason: doc.error.clone().unwrap_or_else(|| "failed".into()),
        },
        (_, Stored::New(id) | Stored::AlreadyArchived(id)) => JobOutcome::Done {
            document_id: Some(*id),
        },
        (_, Stored::Declined) => unreachable!("a declined document ends no job"),
    }
}

/// Whether the driver failed on the socket (refused, reset, timed out) rather than on a
/// reply of the server.
fn io_failure(e: &postgres::Error) -> bool {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if s.is::<std::io::Error>() {
            return true;
        }
        source = s.source();
    }
    false
}

/// PostgreSQL's error in the store's backend-neutral terms.
pub(super) fn pg_error(e: postgres::Error) -> DatabaseError {
    use postgres::error::SqlState;
    let failure = match e.code() {
        Some(c) if *c == SqlState::DISK_FULL || *c == SqlState::IO_ERROR => {
            DatabaseFailure::DiskFull
        }
        Some(c)
            if *c == SqlState::READ_ONLY_SQL_TRANSACTION
                || *c == SqlState::INSUFFICIENT_PRIVILEGE =>
        {
            DatabaseFailure::ReadOnly
        }
        Some(c)
            if *c == SqlState::LOCK_NOT_AVAILABLE
                || *c == SqlState::T_R_SERIALIZATION_FAILURE
                || *c == SqlState::T_R_DEADLOCK_DETECTED
                || *c == SqlState::TOO_MANY_CONNECTIONS =>
        {
            DatabaseFailure::Busy
        }
        Some(c) if *c == SqlState::UNDEFINED_TABLE || *c == SqlState::UNDEFINED_COLUMN => {
            DatabaseFailure::NotADatabase
        }
        // Shut down, crashed, starting up, or a connection exception (class 08).
        Some(c)
            if *c == SqlState::ADMIN_SHUTDOWN
                || *c == SqlState::CRASH_SHUTDOWN
                || *c == SqlState::CANNOT_CONNECT_NOW
                || c.code().starts_with("08") =>
        {
            DatabaseFailure::Unreachable
        }
        None if e.is_closed() || io_failure(&e) => DatabaseFailure::Unreachable,
        _ => DatabaseFailure::Other,
    };
    // The driver's Display is terse ("db error"); the server's message says what failed.
    let message = match e.as_db_error() {
        Some(db) => format!("{}: {}", db.severity(), db.message()),
        None => e.to_string(),
    };
    DatabaseError {
        failure,
        message,
        source: Some(Box::new(e)),
    }
}

impl PostgresStore {
    /// Connects to the archive at `url` (creating the schema if the database is empty,
    /// migrating if older), with its search index kept under `index_dir` (in a directory
    /// named by the archive's identity).
    pub fn open(url: &str, index_dir: &Path) -> Result<PostgresStore, StoreError> {
        let name = crate::location::display(Path::new(url));
        let open_err = |e: postgres::Error| StoreError::Open {
            path: name.clone(),
            source: pg_error(e),
        };
        let mut client = Client::connect(url, NoTls).map_err(open_err)?;
        // Seen by the operator in pg_stat_activity, and by a second ingest when it is
        // refused (`lock_for_ingest`).
        let host = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
        client
            .execute(
                "SELECT set_config('application_name', $1, false)",
                &[&format!(
                    "sohoa pid {} on {}",
                    std::process::id(),
                    host.trim()
                )],
            )
            .map_err(open_err)?;
        let archive_id = schema::migrate(&mut client, &name)?;
        let index_dir = index_dir.join(archive_id);
        let consumer = format!("{}:{}", host.trim(), index_dir.display());
        let store = PostgresStore {
            client: RefCell::new(client),
            url: url.to_owned(),
            name,
            index_dir: index_dir.to_path_buf(),
            feeder: Feeder::with_creation(index_dir.to_path_buf(), false),
            consumer,
            ingest_locked: false,
            signer: None,
            signing_time: Duration::ZERO,
            fence: None,
        };
        // An index on disk the archive does not know (its registration was removed):
        // registered again, with every document queued for it.
        if store.feeder.exists() {
            let known: bool = store
                .client
                .borrow_mut()
                .query_one(
                    "SELECT EXISTS (SELECT 1 FROM search_consumers WHERE name = $1)",
                    &[&store.consumer],
                )?
                .get(0);
            if !known {
                store.feed().queue_every_document()?;
            }
        }
        Ok(store)
    }

    fn feed(&self) -> PgFeed<'_> {
        PgFeed {
            client: &self.client,
            consumer: &self.consumer,
        }
    }

    /// Runs `f` in one transaction on this handle's connection.
    fn in_transaction<T>(
        &self,
        f: impl FnOnce(&mut postgres::Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut client = self.client.borrow_mut();
        let mut tx = client.transaction()?;
        let value = f(&mut tx)?;
        tx.commit()?;
        Ok(value)
    }

    fn ids(
        &self,
        query: &str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<Vec<i64>, StoreError> {
        Ok(self
            .client
            .borrow_mut()
            .query(query, params)?
            .iter()
            .map(|r| r.get(0))
            .collect())
    }

    fn document_row(&self, id: i64) -> Result<Option<StoredDocument>, StoreError> {
        let c = &mut *self.client.borrow_mut();
        let Some(r) = c.query_opt(
            "SELECT id, path, sha256, size, format, page_count, status, error, ingested_at,
                    record_id, version, current, warnings, unit
             FROM documents WHERE id = $1",
            &[&id],
        )?
        else {
            return Ok(None);
        };
        let record_id: i64 = r.get::<_, Option<i64>>(9).unwrap_or(id);
        let locations = c
            .query(
                "SELECT path, gone_run FROM locations WHERE document_id = $1
                 ORDER BY gone_run IS NOT NULL, path COLLATE \"C\"",
                &[&id],
            )?
            .iter()
            .map(|r| Location {
                path: r.get(0),
                gone_since_run: r.get(1),
            })
            .collect();
        let versions = c
            .query(
                "SELECT id, version, sha256, ingested_at, current FROM documents
                 WHERE record_id = $1 ORDER BY version, id",
                &[&record_id],
            )?
            .iter()
            .map(|r| VersionRef {
                id: r.get(0),
                version: r.get::<_, i64>(1) as u32,
                sha256: r.get(2),
                ingested_at: r.get(3),
                current: r.get(4),
            })
            .collect();
        let status: String = r.get(6);
        Ok(Some(StoredDocument {
            id,
            path: r.get(1),
            locations,
            record_id,
            version: r.get::<_, i64>(10) as u32,
            current: r.get(11),
            versions,
            sha256: r.get(2),
            size: r.get::<_, Option<i64>>(3).map(|s| s as u64),
            format: r.get(4),
            page_count: r.get::<_, i64>(5) as u32,
            status: DocStatus::parse(&status)?,
            error: r.get(7),
            warnings: from_json(r.get(12), "document warnings")?,
            unit: r.get(13),
            ingested_at: r.get(8),
            fields: load_fields(c, id)?,
            classification: load_classification(c, id)?,
            pages: load_pages(c, id)?,
        }))
    }
}

fn load_pages(c: &mut impl GenericClient, document_id: i64) -> Result<Vec<StoredPage>, StoreError> {
    Ok(c.query(
        "SELECT number, text, confidence, width, height, dpi, text_source, error, note,
                json_array_length(words::json), preparation
         FROM pages WHERE document_id = $1 ORDER BY number",
        &[&document_id],
    )?
    .iter()
    .map(|r| StoredPage {
        number: r.get::<_, i64>(0) as u32,
        text: r.get(1),
        confidence: r.get::<_, Option<f64>>(2).map(|c| c as f32),
        width: r.get::<_, Option<i64>>(3).map(|w| w as u32),
        height: r.get::<_, Option<i64>>(4).map(|h| h as u32),
        dpi: r.get::<_, Option<f64>>(5).map(|d| d as f32),
        source: TextSource::parse(r.get(6)),
        error: r.get(7),
        note: r.get(8),
        word_count: r.get::<_, i32>(9) as usize,
        // Written by this program from the same struct: unreadable means a newer or
        // damaged field, shown as unknown rather than failing.
        preparation: r
            .get::<_, Option<String>>(10)
            .and_then(|j| serde_json::from_str(&j).ok()),
    })
    .collect())
}

fn latest_change(c: &mut impl GenericClient, consumer: &str) -> Result<ChangePosition, StoreError> {
    Ok(c.query_one(
        "SELECT COALESCE(MAX(seq), 0) FROM search_changes WHERE consumer = $1",
        &[&consumer],
    )?
    .get(0))
}

/// The change feed of this machine's index, over the store's connection.
struct PgFeed<'a> {
    client: &'a RefCell<Client>,
    consumer: &'a str,
}

/// What the index needs of visible documents, one row each (as SQLite's `INDEX_ROW`).
const INDEX_ROW: &str = "SELECT d.id,
        (SELECT COALESCE(json_agg(json_build_array(p.number, p.text) ORDER BY p.number), '[]')::text
         FROM pages p WHERE p.document_id = d.id),
        f.document_id IS NOT NULL, f.doc_type, f.number, f.agency, f.issue_date, f.citizen_ids,
        c.sector, c.procedure_code, c.needs_review, d.unit
    FROM documents d
    LEFT JOIN document_fields f ON f.document_id = d.id
    LEFT JOIN classifications c ON c.document_id = d.id
    WHERE d.current AND d.status IN ('ok', 'partial')";

fn index_row(r: &postgres::Row) -> Result<IndexDoc, StoreError> {
    IndexRow {
        id: r.get(0),
        pages_json: r.get(1),
        has_fields: r.get(2),
        doc_type: r.get(3),
        number: r.get(4),
        agency: r.get(5),
        date: r.get(6),
        citizen_ids_json: r.get(7),
        sector: r.get(8),
        procedure_code: r.get(9),
        needs_review: r.get(10),
        unit: r.get(11),
    }
    .into_index_doc()
}

impl ChangeFeed for PgFeed<'_> {
    fn changes(&self) -> Result<Vec<(ChangePosition, i64)>, StoreError> {
        Ok(self
            .client
            .borrow_mut()
            .query(
                "SELECT seq, document_id FROM search_changes WHERE consumer = $1 ORDER BY seq",
                &[&self.consumer],
            )?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
    }

    fn latest_change(&self) -> Result<ChangePosition, StoreError> {
        latest_change(&mut *self.client.borrow_mut(), self.consumer)
    }

    fn forget_changes(&self, through: ChangePosition) -> Result<(), StoreError> {
        let c = &mut *self.client.borrow_mut();
        // This index applied them: searchable from now (on the first machine to apply).
        c.execute(
            &format!(
                "{} AND id IN (SELECT document_id FROM search_changes WHERE consumer = $2 AND seq <= $1)",
                Dialect::Postgres.spell(MARK_SEARCHABLE)
            ),
            &[&through, &self.consumer],
        )?;
        c.execute(
            "DELETE FROM search_changes WHERE consumer = $1 AND seq <= $2",
            &[&self.consumer, &through],
        )?;
        c.execute(
            &format!(
                "UPDATE search_consumers SET last_applied_at = {} WHERE name = $1",
                schema::NOW
            ),
            &[&self.consumer],
        )?;
        Ok(())
    }

    /// Registers this machine's index (new, or its registration gone) and queues every
    /// document for it alone.
    fn queue_every_document(&self) -> Result<(), StoreError> {
        let c = &mut *self.client.borrow_mut();
        let mut tx = c.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&FEED_LOCK])?;
        tx.execute(
            "INSERT INTO search_consumers (name) VALUES ($1) ON CONFLICT DO NOTHING",
            &[&self.consumer],
        )?;
        tx.execute(
            "DELETE FROM search_changes WHERE consumer = $1",
            &[&self.consumer],
        )?;
        tx.execute(
            "INSERT INTO search_changes (consumer, document_id)
             SELECT $1, id FROM documents ORDER BY id",
            &[&self.consumer],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn index_doc(&self, id: i64) -> Result<Option<IndexDoc>, StoreError> {
        self.client
            .borrow_mut()
            .query_opt(&format!("{INDEX_ROW} AND d.id = $1"), &[&id])?
            .map(|r| index_row(&r))
            .transpose()
    }

    fn each_index_doc(
        &self,
        each: &mut dyn FnMut(IndexDoc) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        // In batches, the connection released between them: `each` may call back.
        let mut after = 0i64;
        loop {
            let rows = self.client.borrow_mut().query(
                &format!("{INDEX_ROW} AND d.id > $1 ORDER BY d.id LIMIT $2"),
                &[&after, &WALK_BATCH],
            )?;
            let Some(last) = rows.last() else {
                return Ok(());
            };
            after = last.get(0);
            for row in &rows {
                each(index_row(row)?)?;
            }
        }
    }
}

impl Store for PostgresStore {
    fn reader(&self) -> Result<Box<dyn Store>, StoreError> {
        let companions = self.index_dir.parent().unwrap_or(&self.index_dir);
        Ok(Box::new(PostgresStore::open(&self.url, companions)?))
    }

    fn connected(&self) -> bool {
        self.client.try_borrow().is_ok_and(|c| !c.is_closed())
    }
}

impl Documents for PostgresStore {
    fn lock_for_ingest(&mut self) -> Result<(), StoreError> {
        if self.ingest_locked {
            return Ok(());
        }
        let c = &mut *self.client.borrow_mut();
        let locked: bool = c
            .query_one("SELECT pg_try_advisory_lock($1)", &[&INGEST_LOCK])?
            .get(0);
        if !locked {
            let holder: Option<String> = c
                .query_opt(
                    "SELECT a.application_name FROM pg_locks l
                     JOIN pg_stat_activity a ON a.pid = l.pid
                     WHERE l.locktype = 'advisory' AND l.granted
                       AND ((l.classid::bigint << 32) | l.objid::bigint) = $1
                     LIMIT 1",
                    &[&INGEST_LOCK],
                )?
                .map(|r| r.get(0));
            return Err(StoreError::Busy {
                path: self.name.clone(),
                holder: holder
                    .filter(|h| !h.is_empty())
                    .unwrap_or_else(|| "pid unknown".into()),
            });
        }
        self.ingest_locked = true;
        Ok(())
    }

    fn begin_run(&mut self, arguments: &str) -> Result<i64, StoreError> {
        let run: i64 = self.in_transaction(|tx| {
            // Runs nobody holds the lock of were cut off.
            tx.execute(
                "UPDATE runs r SET status = 'crashed' WHERE status = 'running'
                   AND NOT EXISTS (SELECT 1 FROM pg_locks l
                                   WHERE l.locktype = 'advisory' AND l.granted
                                     AND l.classid = $1::int::oid AND l.objid = r.id::int::oid
                                     AND l.objsubid = 2)",
                &[&RUN_LOCK_CLASS],
            )?;
            Ok(tx
                .query_one(
                    "INSERT INTO runs (arguments, pid) VALUES ($1, $2) RETURNING id",
                    &[&arguments, &i64::from(std::process::id())],
                )?
                .get(0))
        })?;
        self.client.borrow_mut().execute(
            "SELECT pg_advisory_lock($1, $2::bigint::int)",
            &[&RUN_LOCK_CLASS, &run],
        )?;
        Ok(run)
    }

    fn put_document(&mut self, run: i64, doc: &NewDocument) -> Result<Stored, StoreError> {
        Ok(self
            .put_documents(run, std::slice::from_ref(doc))?
            .remove(0))
    }

    fn put_documents(&mut self, run: i64, docs: &[NewDocument]) -> Result<Vec<Stored>, StoreError> {
        let signer = self.signer.clone();
        let consumer = self.consumer.clone();
        let fence = self.fence.take();
        let mut spent = Duration::ZERO;
        let mut attempt = 1;
        let result = loop {
            let result = self.in_transaction(|tx| {
                let mut stored = Vec::with_capacity(docs.len());
                for doc in docs {
                    let job = fence
                        .as_ref()
                        .and_then(|f| f.jobs.get(&doc.path).map(|job| (f.worker.as_str(), job)));
                    if let Some((worker, job)) = job
                        && !queue::hold_job(tx, worker, job)?
                    {
                        stored.push(Stored::Declined);
                        continue;
                    }
                    let s = insert_document(tx, run, doc)?;
                    if let (Stored::New(id), Some(signer)) = (&s, &signer) {
                        let started = std::time::Instant::now();
                        log::append_record(tx, signer, *id)?;
                        spent += started.elapsed();
                    }
                    if let Some((worker, job)) = job {
                        queue::end_job(tx, worker, job, &job_outcome(doc, &s), MAX_JOB_ATTEMPTS)?;
                    }
                    stored.push(s);
                }
                // Read inside the transaction: a change queued after it commits is not
                // covered by what is handed to the index below, and is replayed.
                Ok((stored, latest_change(tx, &consumer)?))
            });
            match result {
                Err(e) if attempt < STORE_ATTEMPTS && same_bytes_stored_concurrently(&e) => {
                    attempt += 1;
                }
                other => break other,
            }
        };
        self.fence = fence;
        let (stored, covered) = result?;
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
        self.fence = fence;
        Ok(())
    }

    fn put_location(
        &mut self,
        run: i64,
        path: &str,
        document_id: i64,
        size: Option<u64>,
        mtime: Option<i64>,
    ) -> Result<(), StoreError> {
        upsert_location(
            &mut *self.client.borrow_mut(),
            run,
            path,
            document_id,
            size,
            mtime,
        )
    }

    fn touch_locations(&mut self, run: i64, paths: &[String]) -> Result<(), StoreError> {
        self.in_transaction(|tx| {
            tx.execute(
                "UPDATE locations SET last_seen_run = $1, gone_run = NULL WHERE path = ANY($2)",
                &[&run, &paths],
            )?;
            Ok(())
        })
    }

    fn mark_gone(&mut self, run: i64, roots: &[String]) -> Result<u64, StoreError> {
        self.in_transaction(|tx| {
            let mut gone = 0;
            for root in roots {
                let prefix = format!("{}/", root.trim_end_matches('/'));
                gone += tx.execute(
                    "UPDATE locations SET gone_run = $1
                     WHERE gone_run IS NULL AND (last_seen_run IS NULL OR last_seen_run < $1)
                       AND left(path, length($2)) = $2",
                    &[&run, &prefix],
                )?;
            }
            Ok(gone)
        })
    }

    fn finish_run(
        &mut self,
        run: i64,
        status: RunStatus,
        report: &serde_json::Value,
    ) -> Result<(), StoreError> {
        self.client.borrow_mut().execute(
            &format!(
                "UPDATE runs SET status = $2, finished_at = {}, report = $3 WHERE id = $1",
                schema::NOW
            ),
            &[&run, &status.as_str(), &report.to_string()],
        )?;
        self.client.borrow_mut().execute(
            "SELECT pg_advisory_unlock($1, $2::bigint::int)",
            &[&RUN_LOCK_CLASS, &run],
        )?;
        Ok(())
    }

    fn location(&self, path: &str) -> Result<Option<KnownLocation>, StoreError> {
        let row = self.client.borrow_mut().query_opt(
            "SELECT l.document_id, l.size, l.mtime, d.sha256, d.status, d.unit
             FROM locations l JOIN documents d ON d.id = l.document_id WHERE l.path = $1",
            &[&path],
        )?;
        row.map(|r| {
            Ok(KnownLocation {
                document_id: r.get(0),
                size: r.get::<_, Option<i64>>(1).map(|s| s as u64),
                mtime: r.get(2),
                sha256: r.get(3),
                status: DocStatus::parse(r.get(4))?,
                unit: r.get(5),
            })
        })
        .transpose()
    }

    fn content(&self, sha256: &str) -> Result<Option<KnownContent>, StoreError> {
        let row = self.client.borrow_mut().query_opt(
            "SELECT id, status FROM documents WHERE sha256 = $1
             ORDER BY status = 'failed', current DESC, id LIMIT 1",
            &[&sha256],
        )?;
        row.map(|r| {
            Ok(KnownContent {
                document_id: r.get(0),
                status: DocStatus::parse(r.get(1))?,
            })
        })
        .transpose()
    }

    fn hit_documents(&self, ids: &[i64]) -> Result<Vec<HitDocument>, StoreError> {
        let c = &mut *self.client.borrow_mut();
        let mut out = Vec::with_capacity(ids.len());
        for &id in ids {
            let Some(row) = c.query_opt("SELECT path FROM documents WHERE id = $1", &[&id])? else {
                continue;
            };
            let pages = c
                .query(
                    "SELECT number, text FROM pages WHERE document_id = $1 ORDER BY number",
                    &[&id],
                )?
                .iter()
                .map(|r| (r.get::<_, i64>(0) as u32, r.get(1)))
                .collect();
            out.push(HitDocument {
                id,
                path: row.get(0),
                fields: load_fields(c, id)?,
                classification: load_classification(c, id)?,
                pages,
            });
        }
        Ok(out)
    }

    fn set_analysis(&mut self, document_id: i64, analysis: &Analysis) -> Result<bool, StoreError> {
        let signer = self.signer.clone();
        self.in_transaction(|tx| {
            rows::write_fields(tx, document_id, &analysis.fields)?;
            let before = load_classification(tx, document_id)?;
            let staff = before
                .as_ref()
                .is_some_and(|c| c.source == ClassSource::Staff);
            let new = &analysis.classification;
            let changed = !staff
                && before.as_ref().is_none_or(|b| {
                    b.sector != new.sector || b.procedure_code != new.procedure_code
                });
            if !staff {
                write_classification(tx, document_id, new)?;
            }
            queue_change(tx, document_id)?;
            if let Some(signer) = &signer {
                log::append_record(tx, signer, document_id)?;
            }
            Ok(changed)
        })
    }

    fn correct(
        &mut self,
        document_id: i64,
        classification: &Classification,
        by: &str,
    ) -> Result<(), StoreError> {
        let signer = self.signer.clone();
        self.in_transaction(|tx| {
            let previous = load_classification(tx, document_id)?.map(|c| c.sector);
            tx.execute(
                "INSERT INTO corrections (document_id, sector, procedure_code, previous_sector, by_user)
                 VALUES ($1, $2, $3, $4, $5)",
                &[
                    &document_id,
                    &classification.sector,
                    &classification.procedure_code,
                    &previous,
                    &by,
                ],
            )?;
            write_classification(tx, document_id, classification)?;
            queue_change(tx, document_id)?;
            if let Some(signer) = &signer {
                log::append_record(tx, signer, document_id)?;
            }
            Ok(())
        })
    }

    fn corrections(&self) -> Result<Vec<Correction>, StoreError> {
        Ok(self
            .client
            .borrow_mut()
            .query(
                "SELECT k.document_id, k.sector, k.procedure_code, k.by_user, k.at
                 FROM corrections k JOIN documents d ON d.id = k.document_id AND d.current
                 WHERE k.id = (SELECT max(id) FROM corrections WHERE document_id = k.document_id)
                 ORDER BY k.document_id",
                &[],
            )?
            .iter()
            .map(|r| Correction {
                document_id: r.get(0),
                sector: r.get(1),
                procedure_code: r.get(2),
                by: r.get(3),
                at: r.get(4),
            })
            .collect())
    }

    fn put_training(&mut self, training: &Training) -> Result<(), StoreError> {
        let counts = to_json(training)?;
        self.in_transaction(|tx| {
            // Only the latest training is used; older ones are dead weight.
            tx.execute("DELETE FROM classifier_training", &[])?;
            tx.execute(
                "INSERT INTO classifier_training (description, documents, counts)
                 VALUES ($1, $2, $3)",
                &[
                    &training.description,
                    &(training.document_count() as i64),
                    &counts,
                ],
            )?;
            Ok(())
        })
    }

    fn training(&self) -> Result<Option<Training>, StoreError> {
        self.client
            .borrow_mut()
            .query_opt(
                "SELECT counts FROM classifier_training ORDER BY id DESC LIMIT 1",
                &[],
            )?
            .map(|r| from_json(r.get(0), "classifier training"))
            .transpose()
    }

    fn visibility(&self, id: i64, scope: &Scope) -> Result<Visibility, StoreError> {
        let row = self.client.borrow_mut().query_opt(
            "SELECT $2::text[] IS NULL OR COALESCE(unit = ANY($2), FALSE)
             FROM documents WHERE id = $1",
            &[&id, &scope_units(scope)],
        )?;
        Ok(match row.map(|r| r.get::<_, bool>(0)) {
            None => Visibility::Missing,
            Some(true) => Visibility::Visible,
            Some(false) => Visibility::Hidden,
        })
    }

    fn units(&self) -> Result<Vec<Unit>, StoreError> {
        self.client
            .borrow_mut()
            .query(
                "SELECT code, name, parent, issuers FROM units ORDER BY code COLLATE \"C\"",
                &[],
            )?
            .iter()
            .map(|r| {
                Ok(Unit {
                    code: r.get(0),
                    name: r.get(1),
                    parent: r.get(2),
                    issuers: from_json(r.get(3), "unit issuers")?,
                })
            })
            .collect()
    }

    fn put_unit(&mut self, unit: &Unit) -> Result<(), StoreError> {
        let c = &mut *self.client.borrow_mut();
        if let Some(parent) = &unit.parent {
            let known: bool = c
                .query_one(
                    "SELECT EXISTS (SELECT 1 FROM units WHERE code = $1)",
                    &[parent],
                )?
                .get(0);
            if !known || parent == &unit.code {
                return Err(StoreError::Conflict(format!(
                    "unit {}: no parent unit '{parent}' (add it first)",
                    unit.code
                )));
            }
        }
        c.execute(
            "INSERT INTO units (code, name, parent, issuers) VALUES ($1, $2, $3, $4)
             ON CONFLICT (code) DO UPDATE SET name = excluded.name, parent = excluded.parent,
                                              issuers = excluded.issuers",
            &[
                &unit.code,
                &unit.name,
                &unit.parent,
                &to_json(&unit.issuers)?,
            ],
        )?;
        Ok(())
    }

    fn set_unit(&mut self, document_id: i64, unit: Option<&str>) -> Result<bool, StoreError> {
        self.in_transaction(|tx| {
            let changed = tx.execute(
                "UPDATE documents SET unit = $2 WHERE id = $1",
                &[&document_id, &unit],
            )?;
            if changed > 0 {
                queue_change(tx, document_id)?;
            }
            Ok(changed > 0)
        })
    }

    fn unowned_documents(&self) -> Result<Vec<(i64, Option<Fields>)>, StoreError> {
        let ids = self.ids(
            "SELECT id FROM documents WHERE unit IS NULL AND current AND status != 'failed'
             ORDER BY id",
            &[],
        )?;
        let c = &mut *self.client.borrow_mut();
        ids.into_iter()
            .map(|id| Ok((id, load_fields(c, id)?)))
            .collect()
    }

    fn document(&self, id: i64) -> Result<Option<StoredDocument>, StoreError> {
        self.document_row(id)
    }

    fn readable_document_ids(&self) -> Result<Vec<i64>, StoreError> {
        self.ids(
            "SELECT id FROM documents WHERE status IN ('ok', 'partial') ORDER BY id",
            &[],
        )
    }

    fn documents_of_run(&self, run: i64) -> Result<Vec<i64>, StoreError> {
        self.ids(
            "SELECT id FROM documents WHERE run_id = $1 AND status != 'failed' ORDER BY id",
            &[&run],
        )
    }

    fn page_words(&self, document_id: i64) -> Result<Vec<Vec<crate::ocr::Word>>, StoreError> {
        self.client
            .borrow_mut()
            .query(
                "SELECT words FROM pages WHERE document_id = $1 ORDER BY number",
                &[&document_id],
            )?
            .iter()
            .map(|r| from_json(r.get(0), &format!("words of document {document_id}")))
            .collect()
    }

    fn each_document(
        &self,
        visit: &mut dyn FnMut(StoredDocument) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut after = 0i64;
        loop {
            let ids = self.ids(
                "SELECT id FROM documents WHERE id > $1 ORDER BY id LIMIT $2",
                &[&after, &WALK_BATCH],
            )?;
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
        Ok(self
            .client
            .borrow_mut()
            .query(
                "SELECT r.id, r.arguments, r.started_at, r.finished_at, r.status, r.report,
                        (SELECT count(*) FROM documents d WHERE d.run_id = r.id),
                        (SELECT count(*) FROM documents d
                         WHERE d.run_id = r.id AND d.status IN ('failed', 'partial')),
                        (SELECT count(*) FROM documents d
                         WHERE d.run_id = r.id AND d.status = 'empty')
                 FROM runs r ORDER BY r.id DESC LIMIT $1",
                &[&(limit as i64)],
            )?
            .iter()
            .map(|r| RunRecord {
                id: r.get(0),
                arguments: r.get(1),
                started_at: r.get(2),
                finished_at: r.get(3),
                status: RunStatus::parse(r.get(4)),
                report: r
                    .get::<_, Option<String>>(5)
                    .and_then(|s| serde_json::from_str(&s).ok()),
                documents_stored: r.get::<_, i64>(6) as u64,
                documents_failed: r.get::<_, i64>(7) as u64,
                documents_empty: r.get::<_, i64>(8) as u64,
            })
            .collect())
    }

    fn failures(&self, filter: &FailureFilter) -> Result<Vec<FailureRecord>, StoreError> {
        // As SQLite's: whole documents failed or empty; the failed pages of partial
        // ones; the losses (with `warnings`, every repair) met in pages still read.
        Ok(self
            .client
            .borrow_mut()
            .query(
                "SELECT * FROM (
                   SELECT d.run_id, d.id, d.path, NULL::bigint AS page, d.error AS reason,
                          d.ingested_at, d.status AS kind, d.id AS k, 0::bigint AS n
                   FROM documents d
                   WHERE d.current AND d.status IN ('failed', 'empty')
                     AND ($1::bigint IS NULL OR d.run_id = $1)
                   UNION ALL
                   SELECT d.run_id, d.id, d.path, p.number, p.error, d.ingested_at, 'page',
                          d.id, p.number
                   FROM pages p JOIN documents d ON d.id = p.document_id
                   WHERE d.current AND d.status = 'partial' AND p.error IS NOT NULL
                     AND ($1::bigint IS NULL OR d.run_id = $1)
                   UNION ALL
                   SELECT d.run_id, d.id, d.path, (w ->> 'page')::bigint, w ->> 'message',
                          d.ingested_at, w ->> 'kind', d.id, COALESCE((w ->> 'page')::bigint, 0)
                   FROM documents d, json_array_elements(d.warnings::json) w
                   WHERE d.current AND ($1::bigint IS NULL OR d.run_id = $1)
                     AND ($2 OR w ->> 'kind' = 'loss')
                 ) f ORDER BY k, n",
                &[&filter.run, &filter.warnings],
            )?
            .iter()
            .map(|r| FailureRecord {
                run_id: r.get(0),
                document_id: r.get(1),
                path: r.get(2),
                page: r.get::<_, Option<i64>>(3).map(|p| p as u32),
                reason: r.get::<_, Option<String>>(4).unwrap_or_default(),
                at: r.get(5),
                kind: r.get(6),
            })
            .collect())
    }

    fn failed_paths(&self) -> Result<Vec<String>, StoreError> {
        Ok(self
            .client
            .borrow_mut()
            .query(
                "SELECT l.path FROM locations l JOIN documents d ON d.id = l.document_id
                 WHERE d.current AND d.status != 'ok' ORDER BY l.path COLLATE \"C\"",
                &[],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect())
    }
}

impl SignedLog for PostgresStore {
    fn set_signer(&mut self, signer: Option<Signer>) -> Result<(), StoreError> {
        if let Some(signer) = &signer {
            log::add_signing_key(&mut *self.client.borrow_mut(), signer)?;
        }
        self.signer = signer;
        Ok(())
    }

    fn signing_keys(&self) -> Result<Vec<SigningKeyRecord>, StoreError> {
        log::signing_keys(&mut *self.client.borrow_mut())
    }

    fn record_unrecorded(&mut self) -> Result<u64, StoreError> {
        let Some(signer) = self.signer.clone() else {
            return Ok(0);
        };
        let ids = log::unrecorded(&mut *self.client.borrow_mut())?;
        let mut count = 0;
        for chunk in ids.chunks(500) {
            count += self.in_transaction(|tx| {
                let mut n = 0;
                for id in chunk {
                    n += u64::from(log::append_record(tx, &signer, *id)?);
                }
                Ok(n)
            })?;
        }
        Ok(count)
    }

    fn seal(&mut self) -> Result<Option<TreeHead>, StoreError> {
        let Some(signer) = self.signer.clone() else {
            return Ok(None);
        };
        self.in_transaction(|tx| log::seal(tx, &signer))
    }

    fn tree_heads(&self) -> Result<Vec<TreeHead>, StoreError> {
        log::tree_heads(&mut *self.client.borrow_mut())
    }

    fn each_log_entry(
        &self,
        visit: &mut dyn FnMut(LogEntry) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut after = -1i64;
        loop {
            let entries = log::entries_from(&mut *self.client.borrow_mut(), after, WALK_BATCH)?;
            let Some(last) = entries.last() else {
                return Ok(());
            };
            after = last.leaf as i64;
            for entry in entries {
                visit(entry)?;
            }
        }
    }

    fn log_entries_of(&self, document_id: i64) -> Result<Vec<LogEntry>, StoreError> {
        log::entries_of(&mut *self.client.borrow_mut(), document_id)
    }

    fn log_entries_by_code(&self, code: &str) -> Result<Vec<LogEntry>, StoreError> {
        log::entries_by_code(&mut *self.client.borrow_mut(), code)
    }

    fn leaf_hashes(&self) -> Result<Vec<Hash>, StoreError> {
        log::leaf_hashes(&mut *self.client.borrow_mut())
    }

    fn current_record(&self, document_id: i64) -> Result<Option<Record>, StoreError> {
        log::record_of(&mut *self.client.borrow_mut(), document_id)
    }

    fn recordable_documents(&self) -> Result<Vec<RecordableDocument>, StoreError> {
        let rows = self.client.borrow_mut().query(
            "SELECT d.id, l.path, l.gone_run IS NOT NULL FROM documents d
             LEFT JOIN locations l ON l.document_id = d.id
             WHERE d.status != 'failed' ORDER BY d.id, l.path COLLATE \"C\"",
            &[],
        )?;
        let mut out: Vec<RecordableDocument> = Vec::new();
        for row in rows {
            let id: i64 = row.get(0);
            if out.last().map(|d| d.id) != Some(id) {
                out.push(RecordableDocument {
                    id,
                    locations: Vec::new(),
                });
            }
            if let (Some(path), Some(document)) = (row.get::<_, Option<String>>(1), out.last_mut())
            {
                document.locations.push((path, row.get(2)));
            }
        }
        Ok(out)
    }

    fn signing_time(&self) -> Duration {
        self.signing_time
    }
}

impl Search for PostgresStore {
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
        let feed = PgFeed {
            client: &self.client,
            consumer: &self.consumer,
        };
        self.feeder.rebuild(&feed)
    }
}

impl crate::store::accounts::Accounts for PostgresStore {
    fn add_user(
        &mut self,
        name: &str,
        role: crate::store::accounts::Role,
        password_hash: &str,
    ) -> Result<i64, StoreError> {
        accounts::add_user(&mut *self.client.borrow_mut(), name, role, password_hash)
    }
    fn remove_user(&mut self, name: &str) -> Result<bool, StoreError> {
        accounts::remove_user(&mut *self.client.borrow_mut(), name)
    }
    fn set_password(&mut self, name: &str, password_hash: &str) -> Result<bool, StoreError> {
        accounts::set_password(&mut *self.client.borrow_mut(), name, password_hash)
    }
    fn user(&self, name: &str) -> Result<Option<crate::store::accounts::User>, StoreError> {
        accounts::user(&mut *self.client.borrow_mut(), name)
    }
    fn users(&self) -> Result<Vec<crate::store::accounts::User>, StoreError> {
        accounts::users(&mut *self.client.borrow_mut())
    }
    fn create_session(
        &mut self,
        token_sha256: &str,
        user_id: i64,
        csrf: &str,
        expires_unix: i64,
    ) -> Result<(), StoreError> {
        accounts::create_session(
            &mut *self.client.borrow_mut(),
            token_sha256,
            user_id,
            csrf,
            expires_unix,
        )
    }
    fn session(
        &self,
        token_sha256: &str,
        now_unix: i64,
    ) -> Result<Option<crate::store::accounts::Session>, StoreError> {
        accounts::session(&mut *self.client.borrow_mut(), token_sha256, now_unix)
    }
    fn end_session(&mut self, token_sha256: &str) -> Result<(), StoreError> {
        accounts::end_session(&mut *self.client.borrow_mut(), token_sha256)
    }
    fn create_token(
        &mut self,
        user_id: i64,
        label: &str,
        token_sha256: &str,
    ) -> Result<i64, StoreError> {
        accounts::create_token(&mut *self.client.borrow_mut(), user_id, label, token_sha256)
    }
    fn revoke_token(&mut self, id: i64) -> Result<bool, StoreError> {
        accounts::revoke_token(&mut *self.client.borrow_mut(), id)
    }
    fn tokens(&self) -> Result<Vec<crate::store::accounts::ApiToken>, StoreError> {
        accounts::tokens(&mut *self.client.borrow_mut())
    }
    fn token_user(
        &self,
        token_sha256: &str,
    ) -> Result<Option<crate::store::accounts::User>, StoreError> {
        accounts::token_user(&mut *self.client.borrow_mut(), token_sha256)
    }
    fn audit(
        &mut self,
        user: &str,
        action: &str,
        document_id: Option<i64>,
        detail: &str,
    ) -> Result<(), StoreError> {
        accounts::audit(
            &mut *self.client.borrow_mut(),
            user,
            action,
            document_id,
            detail,
        )
    }
    fn audit_log(
        &self,
        scope: &Scope,
        limit: usize,
        offset: usize,
    ) -> Result<Vec<crate::store::accounts::AuditEntry>, StoreError> {
        accounts::audit_log(&mut *self.client.borrow_mut(), scope, limit, offset)
    }
    fn grant_unit(&mut self, name: &str, unit: &str) -> Result<bool, StoreError> {
        accounts::grant_unit(&mut *self.client.borrow_mut(), name, unit)
    }
    fn revoke_unit(&mut self, name: &str, unit: &str) -> Result<bool, StoreError> {
        accounts::revoke_unit(&mut *self.client.borrow_mut(), name, unit)
    }
    fn sign_in_locked(
        &self,
        name: &str,
        address: &str,
        now_unix: i64,
    ) -> Result<Option<i64>, StoreError> {
        accounts::sign_in_locked(&mut *self.client.borrow_mut(), name, address, now_unix)
    }
    fn sign_in_failed(
        &mut self,
        name: &str,
        policy: &crate::store::SignInPolicy,
        now_unix: i64,
    ) -> Result<Option<i64>, StoreError> {
        accounts::sign_in_failed(&mut *self.client.borrow_mut(), name, policy, now_unix)
    }
    fn sign_in_succeeded(
        &mut self,
        name: &str,
        address: &str,
        now_unix: i64,
    ) -> Result<(), StoreError> {
        accounts::sign_in_succeeded(&mut *self.client.borrow_mut(), name, address, now_unix)
    }
    fn unlock_sign_in(&mut self, name: &str) -> Result<bool, StoreError> {
        accounts::unlock_sign_in(&mut *self.client.borrow_mut(), name)
    }
}
