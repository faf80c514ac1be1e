//! The ingest pipeline: the only module that starts threads.
//!
//! ```text
//! loader thread ──pages──▶ [bounded] ──▶ rayon workers (OCR) ──▶ [bounded] ──▶ writer (this thread) ──▶ Store
//!      └──────────────────────── document headers ────────────────────────────▲
//! ```
//!
//! The loader reads one file at a time and decodes its pages one at a time; the bounded
//! queue stops it when OCR falls behind, so memory holds a few page images whatever the
//! batch size. Workers take pages from any document, so a 200-page PDF does not leave
//! cores idle. The writer gathers a document's pages and stores it in one transaction.

use crate::classify::{Classifier, ClassifyConfig, Taxonomy};
use crate::discover::{self, Candidate, DiscoverError};
use crate::fields::{self, Zones};
use crate::load::{
    self, Limits, LoadError, LoadedPage, OcrMode, PageContent, TextSource, Warning, WarningKind,
};
use crate::ocr::{self, OcrEngine, OcrError, Word};
use crate::prepare::{self, Preparation, PrepareConfig};
use crate::store::{
    Analysis, DocStatus, KnownContent, KnownLocation, NewDocument, NewPage, RunStatus, Store,
    StoreError, Stored,
};
use crossbeam_channel::{Receiver, Sender, bounded};
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use thiserror::Error;

/// Decoded pages waiting for OCR, per worker. Two keeps every worker fed while the
/// loader decodes the next page; more would only hold more ~9 MB page images.
const QUEUED_PAGES_PER_WORKER: usize = 2;
/// Default per-page OCR time limit: 30 times a dense 300 dpi page here.
pub const DEFAULT_PAGE_TIME_LIMIT: Duration = Duration::from_secs(120);
/// Finished pages and document headers waiting for the writer.
const WRITER_QUEUE: usize = 256;
/// Stored documents become searchable at least this often during a run (the index
/// commit costs tens of milliseconds: once per document would slow big batches).
const INDEX_FLUSH_INTERVAL: Duration = Duration::from_secs(2);
/// Unchanged files are noted in the archive in batches: one transaction per file would
/// make a 10,000-file re-run wait on 10,000 commits.
const TOUCH_BATCH: usize = 2000;
/// Failures kept in the run's stored report; the rest are in the store already.
const STORED_REPORT_FAILURES: usize = 100;

#[derive(Debug, Clone)]
pub struct IngestConfig {
    /// OCR worker threads.
    pub jobs: usize,
    /// Tesseract languages, e.g. `vie+eng`.
    pub lang: String,
    pub ocr: OcrMode,
    pub limits: Limits,
    /// The command line, recorded with the run.
    pub command: String,
    /// Re-read files whose last attempt failed (wholly or partly) even if unchanged.
    pub retry_failed: bool,
    /// A page still in OCR after this long fails with that reason; its document keeps
    /// its other pages. Ordinary pages take seconds: this catches pathological ones.
    pub page_time_limit: Duration,
    /// Files each stored document by sector and procedure; `None`: the built-in
    /// taxonomy, untrained (made when the run starts, not with every config).
    pub classifier: Option<Arc<Classifier>>,
    /// Page preparation before OCR (orientation, skew, resolution, clean-up, blanks).
    pub prepare: PrepareConfig,
    pub owner: Ownership,
}

/// Who owns the documents of a run.
#[derive(Debug, Clone, Default)]
pub struct Ownership {
    /// Every document's unit (`ingest --unit`).
    pub unit: Option<String>,
    /// The archive's units, to find each document's from its issuer otherwise.
    pub units: Vec<crate::store::Unit>,
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
            lang: "vie+eng".into(),
            ocr: OcrMode::Auto,
            limits: Limits::default(),
            command: "ingest".into(),
            retry_failed: false,
            page_time_limit: DEFAULT_PAGE_TIME_LIMIT,
            classifier: None,
            prepare: PrepareConfig::default(),
            owner: Ownership::default(),
        }
    }
}

#[derive(Debug, Error)]
pub enum IngestError {
    #[error(transparent)]
    Discover(#[from] DiscoverError),
    #[error(transparent)]
    Ocr(#[from] OcrError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The OCR worker threads could not be started (out of threads or memory).
    #[error("cannot start {jobs} OCR threads: {source}")]
    Threads {
        jobs: usize,
        source: rayon::ThreadPoolBuildError,
    },
    /// The database failed mid-run (disk full, read-only). Everything stored before the
    /// failing document is intact; `summary` says how far the run got.
    #[error("stopped: {source}")]
    StoppedByStore {
        source: StoreError,
        summary: Box<IngestSummary>,
    },
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}: {}", self.path, self.kind, self.reason)
    }
}

/// A file that failed, wholly or in part, holds no text, or was read with a warning.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    pub path: String,
    pub reason: String,
    /// The document's status (`failed`, `partial`, `empty`), or `repair` for a
    /// document read in full after a repair.
    pub kind: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct IngestSummary {
    pub run_id: i64,
    /// `completed`, `interrupted` (Ctrl-C/SIGTERM) or `failed` (fatal database error).
    pub outcome: String,
    pub files: u64,
    /// New documents stored, by status.
    pub documents_ok: u64,
    pub documents_partial: u64,
    pub documents_failed: u64,
    /// Stored, but no page holds readable text: not counted as digitized.
    pub documents_empty: u64,
    /// Of the documents stored ok, those read only after a repair (see `failures --warnings`).
    pub documents_repaired: u64,
    /// Files already archived and unchanged: no work done.
    pub unchanged: u64,
    /// New versions of files whose bytes changed (the old version is kept as history).
    pub updated: u64,
    /// Known bytes at a new path (moved, renamed or copied): a location added, no OCR.
    pub relocated: u64,
    /// Known paths under the walked directories no longer there (moved away, deleted).
    pub gone: u64,
    /// Earlier failures read again (`--retry-failed`, or the file changed).
    pub retried: u64,
    /// Files in walked directories that are not scans (e.g. `notes.txt`).
    pub skipped_not_scans: u64,
    /// Files left alone because the archive could not say what it holds for them (a
    /// failed lookup): nothing stored, read again by the next run.
    pub not_planned: u64,
    pub pages: u64,
    pub pages_ocr: u64,
    pub pages_text_layer: u64,
    pub pages_empty: u64,
    pub pages_failed: u64,
    pub mean_confidence: Option<f32>,
    pub elapsed_seconds: f64,
    /// Of which building and signing the documents' records (the log's cost).
    pub signing_seconds: f64,
    pub pages_per_minute: f64,
    pub failures: Vec<Failure>,
}

impl IngestSummary {
    pub fn has_failures(&self) -> bool {
        self.documents_failed + self.documents_partial + self.not_planned > 0
    }

    /// Documents stored this run, whatever their status.
    pub fn documents(&self) -> u64 {
        self.documents_ok + self.documents_partial + self.documents_failed + self.documents_empty
    }
}

/// Receives progress as the run goes. Called from the writer thread only.
pub trait Progress {
    fn start(&mut self, files: u64);
    fn page_done(&mut self);
    fn document_done(&mut self, summary: &IngestSummary);
    /// A one-line error about a file; the run goes on.
    fn failure(&mut self, failure: &Failure);
    fn finish(&mut self);
}

/// Progress that says nothing (tests, `--quiet`); failures still go to stderr.
pub struct SilentProgress;

impl Progress for SilentProgress {
    fn start(&mut self, _: u64) {}
    fn page_done(&mut self) {}
    fn document_done(&mut self, _: &IngestSummary) {}
    fn failure(&mut self, failure: &Failure) {
        eprintln!("sohoa: {failure}");
    }
    fn finish(&mut self) {}
}

/// What the loader knows about a file before its pages are read.
struct Header {
    doc: NewDocument,
    page_count: usize,
    retry: bool,
}

/// A page on its way to a worker: decoded (or failed to decode), not yet read.
struct Job {
    doc: u64,
    number: u32,
    page: Result<LoadedPage, LoadError>,
}

enum ToWriter {
    /// A document whose pages will follow (or none, when it failed to open).
    Begin { key: u64, header: Box<Header> },
    Page {
        key: u64,
        page: Box<NewPage>,
        warnings: Vec<Warning>,
    },
    /// A directory entry that is not a scan.
    Skipped,
    /// Archived and unchanged: nothing to do but note it was seen.
    Unchanged { path: String },
    /// Archived bytes found at `path`: record the location. `moved` is false when the path
    /// already pointed at these bytes (only its mtime changed).
    Relocated {
        location: Location,
        document_id: i64,
        moved: bool,
    },
    /// Same bytes as a file earlier in this run: a location of whatever that becomes.
    Alias { location: Location, sha256: String },
    /// The archive could not be asked about this file: reported, nothing stored (a
    /// failure record could hide the document it already holds).
    NotPlanned { failure: Failure },
}

struct Location {
    path: String,
    size: Option<u64>,
    mtime: Option<i64>,
}

/// Ingests every file under `paths` into `store`. Setting `stop` (Ctrl-C) ends the run
/// cleanly: in-flight pages are abandoned, finished documents are kept.
pub fn ingest(
    paths: &[impl AsRef<Path>],
    store: &mut dyn Store,
    config: &IngestConfig,
    progress: &mut dyn Progress,
    stop: &AtomicBool,
) -> Result<IngestSummary, IngestError> {
    let started = Instant::now();
    let signing_before = store.signing_time();
    let discovery = discover::discover(paths)?;
    // Failed files outside the given paths are retried too (`--retry-failed`): that is
    // what was asked. They follow the walk.
    let mut failed_elsewhere: Vec<Candidate> = Vec::new();
    if config.retry_failed {
        for path in store.failed_paths()? {
            let path = std::path::PathBuf::from(path);
            if !discovery.covers(&path) {
                failed_elsewhere.push(Candidate {
                    scan_extension: true,
                    path,
                    from_walk: false,
                    error: None,
                });
            }
        }
    }
    // A walk that keeps nothing, for the progress total; the files are found again as
    // the loader goes, so memory does not grow with the number of files.
    let file_count = discovery.count() + failed_elsewhere.len() as u64;
    if config.ocr != OcrMode::Skip {
        // Fail the run up front, not once per page, when the languages are missing.
        OcrEngine::new(&config.lang)?;
    }
    let reader = store.reader()?;
    let classifier = config.classifier.clone().unwrap_or_else(|| {
        Arc::new(Classifier::new(
            &Taxonomy::builtin(),
            None,
            ClassifyConfig::default(),
        ))
    });
    // The threads before the run: a run that cannot start leaves no trace.
    let jobs = config.jobs.max(1);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .thread_name(|i| format!("sohoa-ocr-{i}"))
        .build()
        .map_err(|source| IngestError::Threads { jobs, source })?;
    let run = store.begin_run(&config.command)?;
    progress.start(file_count);
    let (job_tx, job_rx) = bounded::<Job>(jobs * QUEUED_PAGES_PER_WORKER);
    let (out_tx, out_rx) = bounded::<ToWriter>(WRITER_QUEUE);
    // Set by Ctrl-C (through `stop`) or by the writer failing.
    let halt = AtomicBool::new(false);

    let mut summary = IngestSummary {
        run_id: run,
        files: file_count,
        ..IngestSummary::default()
    };
    let halted = || stop.load(Ordering::SeqCst) || halt.load(Ordering::SeqCst);
    let result = std::thread::scope(|scope| {
        let loader_out = out_tx.clone();
        let halted_ref = &halted;
        let candidates = discovery.candidates().chain(failed_elsewhere);
        scope.spawn(move || load_all(candidates, config, reader, job_tx, loader_out, halted_ref));
        let worker_out = out_tx;
        let settings = OcrSettings {
            lang: config.lang.as_str(),
            deadline: ocr::Deadline {
                time_limit: config.page_time_limit,
                cancel: Some(stop),
            },
            prepare: config.prepare,
        };
        scope.spawn(move || {
            pool.scope(|s| {
                for _ in 0..jobs {
                    let rx = job_rx.clone();
                    let tx = worker_out.clone();
                    s.spawn(move |_| recognize_all(rx, tx, settings, halted_ref));
                }
            });
        });
        let result = write_all(
            out_rx,
            store,
            run,
            &classifier,
            &config.owner,
            &mut summary,
            progress,
        );
        if result.is_err() {
            halt.store(true, Ordering::SeqCst);
        }
        result
    });
    summary.elapsed_seconds = started.elapsed().as_secs_f64();
    summary.signing_seconds = (store.signing_time() - signing_before).as_secs_f64();
    summary.pages_per_minute = if summary.elapsed_seconds > 0.0 {
        summary.pages as f64 * 60.0 / summary.elapsed_seconds
    } else {
        0.0
    };
    progress.finish();
    let status = match &result {
        Err(_) => RunStatus::Failed,
        Ok(()) if stop.load(Ordering::SeqCst) => RunStatus::Interrupted,
        Ok(()) => RunStatus::Completed,
    };
    summary.outcome = status.as_str().to_owned();
    let report = stored_report(&mut summary);
    if let Err(source) = result {
        // Best effort: the database that just failed may not take this either.
        let _ = store.finish_run(run, status, &report);
        return Err(IngestError::StoppedByStore {
            source,
            summary: Box::new(summary),
        });
    }
    if status == RunStatus::Completed {
        // Only a complete walk can say a file is gone.
        let roots: Vec<String> = discovery
            .directories()
            .map(|p| p.display().to_string())
            .collect();
        summary.gone = store.mark_gone(run, &roots)?;
    }
    let report = stored_report(&mut summary);
    store.finish_run(run, status, &report)?;
    Ok(summary)
}

/// The run's report as the archive keeps it: every count, and the first
/// `STORED_REPORT_FAILURES` failures (the others are the run's documents, listed by
/// `sohoa failures --run N`). A night of 100,000 failed files made it a JSON tree of
/// 170 MB before it was written.
fn stored_report(summary: &mut IngestSummary) -> serde_json::Value {
    let failures = std::mem::take(&mut summary.failures);
    let mut report = serde_json::to_value(&*summary).unwrap_or_default();
    let kept = failures.len().min(STORED_REPORT_FAILURES);
    report["failures"] = serde_json::to_value(&failures[..kept]).unwrap_or_default();
    report["failures_left_out"] = serde_json::json!(failures.len() - kept);
    summary.failures = failures;
    report
}

fn mtime(meta: &std::fs::Metadata) -> Option<i64> {
    let modified = meta.modified().ok()?;
    let since = modified.duration_since(std::time::UNIX_EPOCH).ok()?;
    // Nanoseconds: a file rewritten within the same second must still look changed.
    i64::try_from(since.as_nanos()).ok()
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned())
}

/// What the loader decided about one candidate before reading its pages.
enum Plan {
    /// Nothing to read: the message says why.
    Done(ToWriter),
    /// Read these bytes as a document.
    Read {
        doc: Box<NewDocument>,
        bytes: Arc<Vec<u8>>,
        retry: bool,
    },
}

/// The loader: checks, reads, hashes and opens files in order, and queues their pages.
fn load_all(
    candidates: impl Iterator<Item = Candidate>,
    config: &IngestConfig,
    reader: Box<dyn Store>,
    jobs: Sender<Job>,
    out: Sender<ToWriter>,
    halted: &dyn Fn() -> bool,
) {
    let mut seen_this_run = RecentContents::default();
    for (key, candidate) in candidates.enumerate() {
        if halted() {
            return;
        }
        let key = key as u64;
        let failed = |doc: NewDocument, reason: String, retry: bool| {
            let mut doc = doc;
            doc.status = DocStatus::Failed;
            doc.error = Some(reason);
            ToWriter::Begin {
                key,
                header: Box::new(Header {
                    doc,
                    page_count: 0,
                    retry,
                }),
            }
        };
        let plan = match plan(&candidate, config, reader.as_ref(), &mut seen_this_run) {
            Ok(plan) => plan,
            Err((doc, reason, retry)) => Plan::Done(failed(*doc, reason, retry)),
        };
        let (mut doc, bytes, retry) = match plan {
            Plan::Done(msg) => {
                if out.send(msg).is_err() {
                    return;
                }
                continue;
            }
            Plan::Read { doc, bytes, retry } => (*doc, bytes, retry),
        };
        let mut source = match open_caught(bytes, &config.limits) {
            Ok((format, source)) => {
                doc.format = Some(format.name().to_owned());
                doc.warnings = source.warnings();
                source
            }
            Err(reason) => {
                if out.send(failed(doc, reason, retry)).is_err() {
                    return;
                }
                continue;
            }
        };
        let page_count = source.page_count();
        let header = Box::new(Header {
            doc,
            page_count,
            retry,
        });
        if out.send(ToWriter::Begin { key, header }).is_err() {
            return;
        }
        let mut poisoned = false;
        for index in 0..page_count {
            if halted() {
                return;
            }
            let page = if poisoned {
                Err(LoadError::BadPdf(
                    "not read: an earlier page crashed the decoder".into(),
                ))
            } else {
                match catch_unwind(AssertUnwindSafe(|| source.load_page(index, config.ocr))) {
                    Ok(page) => page,
                    Err(panic) => {
                        poisoned = true;
                        Err(LoadError::BadImage(format!(
                            "internal error: {}",
                            panic_message(&*panic)
                        )))
                    }
                }
            };
            let job = Job {
                doc: key,
                page,
                number: index as u32 + 1,
            };
            if jobs.send(job).is_err() {
                return;
            }
        }
    }
}

/// Opens a document's pages. Decoders are written for hostile input, but a panic in
/// one must cost one file, not the batch.
fn open_caught(
    bytes: Arc<Vec<u8>>,
    limits: &Limits,
) -> Result<(load::Format, Box<dyn load::PageSource>), String> {
    match catch_unwind(AssertUnwindSafe(|| load::open(bytes, limits))) {
        Ok(opened) => opened.map_err(|e| e.to_string()),
        Err(panic) => Err(format!(
            "internal error while opening: {}",
            panic_message(&*panic)
        )),
    }
}

type PlanError = (Box<NewDocument>, String, bool);

/// The contents (SHA-256) the loader sent on most recently, so the same bytes twice in
/// a run are read once. Only the last `RECENT_CONTENTS` are kept: older ones are in the
/// store by then (at most the writer's queue and the OCR queue are in flight), where
/// planning finds them; and should one not be yet, storing it twice is refused by the
/// store (`Stored::AlreadyArchived`), so the bound costs at most a second reading.
#[derive(Default)]
struct RecentContents {
    set: HashSet<String>,
    order: std::collections::VecDeque<String>,
}

/// Contents remembered by the loader: well above the documents that can be in flight
/// (`WRITER_QUEUE` plus the OCR queue), and a few hundred KB.
const RECENT_CONTENTS: usize = 4096;

impl RecentContents {
    /// False when `sha` was sent on recently.
    fn insert(&mut self, sha: &str) -> bool {
        if self.set.contains(sha) {
            return false;
        }
        if self.order.len() == RECENT_CONTENTS
            && let Some(oldest) = self.order.pop_front()
        {
            self.set.remove(&oldest);
        }
        self.set.insert(sha.to_owned());
        self.order.push_back(sha.to_owned());
        true
    }
}

/// What planning asks the archive: what it holds at a path, and for some bytes.
trait Lookups {
    fn location(&self, path: &str) -> Result<Option<KnownLocation>, StoreError>;
    fn content(&self, sha256: &str) -> Result<Option<KnownContent>, StoreError>;
}

impl Lookups for dyn Store + '_ {
    fn location(&self, path: &str) -> Result<Option<KnownLocation>, StoreError> {
        Store::location(self, path)
    }
    fn content(&self, sha256: &str) -> Result<Option<KnownContent>, StoreError> {
        Store::content(self, sha256)
    }
}

/// A lookup that failed: the file's error. Taking it for "not archived" would make a
/// changed file a new record instead of a new version, or store known bytes twice.
fn not_planned(path: &str, asked: &str, error: StoreError) -> Plan {
    Plan::Done(ToWriter::NotPlanned {
        failure: Failure {
            path: path.to_owned(),
            reason: format!(
                "not read: the archive could not say what it holds {asked} ({error}); the next run tries again"
            ),
            kind: DocStatus::Failed.as_str().to_owned(),
        },
    })
}

/// Decides what a candidate needs: nothing (unchanged), a location (known bytes), or a
/// full read. Reads and hashes the file only when the fast path cannot decide.
fn plan<L: Lookups + ?Sized>(
    candidate: &Candidate,
    config: &IngestConfig,
    reader: &L,
    seen_this_run: &mut RecentContents,
) -> Result<Plan, PlanError> {
    let path = candidate.path.display().to_string();
    let mut doc = NewDocument::at(path.clone());
    let known = match reader.location(&path) {
        Ok(known) => known,
        Err(e) => return Ok(not_planned(&path, "at this path", e)),
    };
    let retry = known.as_ref().is_some_and(|k| k.status != DocStatus::Ok);
    // A failed file that fails again replaces its old failure record.
    doc.replaces = known
        .as_ref()
        .filter(|k| k.status == DocStatus::Failed)
        .map(|k| k.document_id);
    let fail = |doc: NewDocument, reason: String| Err((Box::new(doc), reason, retry));
    if let Some(reason) = &candidate.error {
        return fail(doc, reason.clone());
    }
    let meta = match std::fs::metadata(&candidate.path) {
        Ok(m) => m,
        Err(e) => return fail(doc, format!("cannot read: {e}")),
    };
    if !meta.is_file() {
        return fail(doc, "not a regular file".into());
    }
    doc.size = Some(meta.len());
    doc.file_mtime = mtime(&meta);
    let location = |doc: &NewDocument| Location {
        path: path.clone(),
        size: doc.size,
        mtime: doc.file_mtime,
    };
    // Fast path: same path, size and mtime as last time means same bytes.
    if let Some(k) = &known
        && k.size == doc.size
        && k.mtime == doc.file_mtime
        && !(config.retry_failed && k.status != DocStatus::Ok)
    {
        return Ok(Plan::Done(ToWriter::Unchanged { path }));
    }
    if meta.len() > config.limits.max_file_bytes {
        let reason = LoadError::TooLarge(format!(
            "file of {} bytes exceeds the limit of {} bytes",
            meta.len(),
            config.limits.max_file_bytes
        ));
        return fail(doc, reason.to_string());
    }
    let bytes = match std::fs::File::open(&candidate.path).and_then(|mut f| {
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        f.read_to_end(&mut bytes).map(|_| bytes)
    }) {
        Ok(b) => b,
        Err(e) => return fail(doc, format!("cannot read: {e}")),
    };
    if candidate.from_walk && !candidate.scan_extension && load::detect(&bytes).is_none() {
        return Ok(Plan::Done(ToWriter::Skipped));
    }
    let sha = crate::authenticity::sha256_hex(&bytes);
    doc.sha256 = Some(sha.clone());
    let content = match reader.content(&sha) {
        Ok(content) => content,
        Err(e) => return Ok(not_planned(&path, "for these bytes", e)),
    };
    if let Some(content) = content {
        let retry_this = config.retry_failed && content.status != DocStatus::Ok;
        if content.status != DocStatus::Failed && !retry_this {
            let moved = known
                .as_ref()
                .is_none_or(|k| k.document_id != content.document_id);
            return Ok(Plan::Done(ToWriter::Relocated {
                location: location(&doc),
                document_id: content.document_id,
                moved,
            }));
        }
        if content.status == DocStatus::Failed && !config.retry_failed {
            // The same broken bytes: nothing new to learn by reading them again.
            return Ok(Plan::Done(ToWriter::Relocated {
                location: location(&doc),
                document_id: content.document_id,
                moved: known
                    .as_ref()
                    .is_none_or(|k| k.document_id != content.document_id),
            }));
        }
        // A retry of these very bytes replaces the earlier attempt.
        doc.replaces = Some(content.document_id);
    } else if let Some(k) = &known
        && k.status != DocStatus::Failed
        && k.sha256.as_deref() != Some(sha.as_str())
    {
        // The file at this path changed: a new version of its record, owned by the
        // same unit (which may have been assigned by hand).
        doc.supersedes = Some(k.document_id);
        doc.unit = k.unit.clone();
    }
    if !seen_this_run.insert(&sha) {
        return Ok(Plan::Done(ToWriter::Alias {
            location: location(&doc),
            sha256: sha,
        }));
    }
    let retry = retry || doc.replaces.is_some();
    Ok(Plan::Read {
        doc: Box::new(doc),
        bytes: Arc::new(bytes),
        retry,
    })
}

/// What workers need to know to read a page.
#[derive(Clone, Copy)]
struct OcrSettings<'a> {
    lang: &'a str,
    deadline: ocr::Deadline<'a>,
    prepare: PrepareConfig,
}

/// A worker: recognizes queued pages until the queue closes.
fn recognize_all(
    jobs: Receiver<Job>,
    out: Sender<ToWriter>,
    settings: OcrSettings,
    halted: &dyn Fn() -> bool,
) {
    for job in jobs {
        if halted() {
            // Stopping: drain the queue without doing the work.
            continue;
        }
        let Job {
            doc,
            number,
            mut page,
        } = job;
        let warnings = page
            .as_mut()
            .map(|p| std::mem::take(&mut p.warnings))
            .unwrap_or_default();
        let page = read_page_caught(number, || to_new_page(page, number, settings));
        if halted() {
            // Stopped while this page was read: abandon it (and so its document) rather
            // than store a page whose OCR was cut short.
            continue;
        }
        if out
            .send(ToWriter::Page {
                key: doc,
                page: Box::new(page),
                warnings,
            })
            .is_err()
        {
            return;
        }
    }
}

/// Runs `read`, turning a panic into the page's failure: one page, not the batch.
fn read_page_caught(number: u32, read: impl FnOnce() -> NewPage) -> NewPage {
    match catch_unwind(AssertUnwindSafe(read)) {
        Ok(page) => page,
        Err(panic) => {
            // The engine may be left in any state: start a fresh one next time.
            ocr::reset_thread_engine();
            let mut page = empty_page(number);
            page.error = Some(format!(
                "internal error while reading the page: {}",
                panic_message(&*panic)
            ));
            page
        }
    }
}

fn empty_page(number: u32) -> NewPage {
    NewPage {
        number,
        text: String::new(),
        confidence: None,
        width: None,
        height: None,
        dpi: None,
        source: TextSource::None,
        error: None,
        note: None,
        words: Vec::new(),
        image_sha256: None,
        preparation: None,
    }
}

fn to_new_page(page: Result<LoadedPage, LoadError>, number: u32, settings: OcrSettings) -> NewPage {
    let mut new = empty_page(number);
    let page = match page {
        Ok(p) => p,
        Err(e) => {
            new.error = Some(e.to_string());
            return new;
        }
    };
    new.width = page.width;
    new.height = page.height;
    new.dpi = page.dpi;
    match page.content {
        PageContent::Text(text) => {
            new.text = text;
            new.source = TextSource::TextLayer;
        }
        PageContent::Empty { reason } => new.note = Some(reason),
        PageContent::Ocr(image) => {
            // The fixity of what was read: the decoded pixels, not the file's encoding.
            new.image_sha256 = Some(crate::authenticity::pixels_sha256(
                image.width(),
                image.height(),
                image.as_raw(),
            ));
            let recognized = ocr::with_thread_engine(settings.lang, |engine| {
                recognize_prepared(engine, image, page.dpi, settings.prepare, settings.deadline)
            });
            match recognized {
                Ok(Ok((Some(out), preparation))) => {
                    new.text = out.text;
                    new.confidence = out.mean_confidence;
                    new.words = out.words;
                    new.source = TextSource::Ocr;
                    new.preparation = Some(preparation);
                }
                Ok(Ok((None, preparation))) => {
                    new.note = Some(BLANK_PAGE_NOTE.into());
                    new.preparation = Some(preparation);
                }
                Ok(Err(e)) | Err(e) => new.error = Some(e.to_string()),
            }
        }
    }
    new
}

/// Why a blank page holds no text.
pub const BLANK_PAGE_NOTE: &str = "blank page: no text found, not OCR'd";

/// OCR confidence under which a page is checked for being upside down (which pixel
/// statistics cannot see): clean upright pages read at 90+, upside-down ones near 60.
const RECHECK_ORIENTATION_BELOW: f32 = 80.0;

/// Prepares a page and reads it: `None` for a blank page. A page read with low
/// confidence is asked for its orientation and, if turned, read again turned; the
/// reading with the higher confidence is kept.
pub fn recognize_prepared(
    engine: &mut OcrEngine,
    image: image::GrayImage,
    file_dpi: Option<f32>,
    config: PrepareConfig,
    deadline: ocr::Deadline,
) -> Result<(Option<ocr::OcrOutput>, Preparation), OcrError> {
    if !config.enabled {
        let p = prepare::unprepared(image, file_dpi);
        let page = p.image.as_ref().expect("unprepared pages keep their image");
        let out = engine.recognize(page, Some(p.dpi), deadline)?;
        return Ok((Some(out), p.record));
    }
    // Kept for a second, turned reading; a page image is a few megabytes.
    let original = image.clone();
    let mut unavailable = None;
    let first = {
        let mut detect =
            |page: &image::GrayImage, dpi: f32| match engine.detect_orientation(page, dpi) {
                Ok(found) => found,
                Err(e) => {
                    unavailable = Some(e.to_string());
                    None
                }
            };
        prepare_caught(image, &original, file_dpi, None, &mut detect)
    };
    let mut first = first;
    if let Some(e) = unavailable {
        first.record.note = Some(format!("orientation not checked: {e}"));
    }
    let Some(page) = &first.image else {
        return Ok((None, first.record));
    };
    let out = engine.recognize(page, Some(first.dpi), deadline)?;
    let confidence = out.mean_confidence.unwrap_or(0.0);
    if confidence >= RECHECK_ORIENTATION_BELOW || first.record.rotation != 0 {
        return Ok((Some(out), first.record));
    }
    let mut record = first.record;
    let (turn, turn_confidence) = match engine.detect_orientation(page, first.dpi) {
        Ok(Some(found)) => found,
        Ok(None) => return Ok((Some(out), record)),
        Err(e) => {
            record.note = Some(format!("orientation not checked: {e}"));
            return Ok((Some(out), record));
        }
    };
    record.orientation_confidence = Some(turn_confidence);
    if turn == 0 || turn_confidence < prepare::MIN_ORIENTATION_CONFIDENCE {
        return Ok((Some(out), record));
    }
    let mut asked_already = |_: &image::GrayImage, _: f32| None;
    let mut second = prepare_caught(
        original.clone(),
        &original,
        file_dpi,
        Some(turn),
        &mut asked_already,
    );
    let Some(turned) = &second.image else {
        return Ok((Some(out), record));
    };
    let again = engine.recognize(turned, Some(second.dpi), deadline)?;
    if again.mean_confidence.unwrap_or(0.0) > confidence {
        second.record.orientation_confidence = Some(turn_confidence);
        Ok((Some(again), second.record))
    } else {
        Ok((Some(out), record))
    }
}

/// `prepare::prepare`, and if it panics on some unforeseen page, the page as decoded
/// (`original`) with a note: preparation is an improvement, never a reason to lose a page.
fn prepare_caught(
    image: image::GrayImage,
    original: &image::GrayImage,
    file_dpi: Option<f32>,
    turn: Option<u16>,
    detect: prepare::DetectOrientation,
) -> prepare::Prepared {
    match catch_unwind(AssertUnwindSafe(|| {
        prepare::prepare(image, file_dpi, turn, detect)
    })) {
        Ok(prepared) => prepared,
        Err(panic) => {
            let mut p = prepare::unprepared(original.clone(), file_dpi);
            p.record.note = Some(format!(
                "preparation failed ({}); the page was read as decoded",
                panic_message(&*panic)
            ));
            p
        }
    }
}

/// A document being assembled by the writer.
struct Pending {
    header: Box<Header>,
    pages: Vec<NewPage>,
    /// The pages' repairs and losses, as they arrive.
    warnings: Vec<Warning>,
}

/// The writer: assembles documents and stores each in one transaction.
fn write_all(
    rx: Receiver<ToWriter>,
    store: &mut dyn Store,
    run: i64,
    classifier: &Classifier,
    owner: &Ownership,
    summary: &mut IngestSummary,
    progress: &mut dyn Progress,
) -> Result<(), StoreError> {
    let mut pending: HashMap<u64, Pending> = HashMap::new();
    // Documents stored this run by content, and locations waiting for one to be stored.
    // Locations of bytes whose first file is still being read (bounded by what is in
    // flight); the store knows the others.
    let mut waiting_aliases: HashMap<String, Vec<Location>> = HashMap::new();
    let mut seen_unchanged: Vec<String> = Vec::new();
    let mut confidence_sum = 0.0f64;
    let mut confidence_pages = 0u64;
    let mut last_flush = Instant::now();
    for msg in rx {
        let key = match msg {
            ToWriter::Skipped => {
                summary.skipped_not_scans += 1;
                progress.document_done(summary);
                continue;
            }
            ToWriter::Unchanged { path } => {
                summary.unchanged += 1;
                seen_unchanged.push(path);
                if seen_unchanged.len() >= TOUCH_BATCH {
                    store.touch_locations(run, &seen_unchanged)?;
                    seen_unchanged.clear();
                }
                progress.document_done(summary);
                continue;
            }
            ToWriter::Relocated {
                location,
                document_id,
                moved,
            } => {
                store.put_location(
                    run,
                    &location.path,
                    document_id,
                    location.size,
                    location.mtime,
                )?;
                if moved {
                    summary.relocated += 1;
                } else {
                    summary.unchanged += 1;
                }
                progress.document_done(summary);
                continue;
            }
            ToWriter::Alias { location, sha256 } => {
                // The first file with these bytes came before (one loader, in order):
                // still being read, or stored, where the store finds it.
                let in_flight = pending
                    .values()
                    .any(|p| p.header.doc.sha256.as_deref() == Some(sha256.as_str()));
                let stored = match in_flight {
                    true => None,
                    false => store.content(&sha256)?,
                };
                match stored {
                    Some(content) => store.put_location(
                        run,
                        &location.path,
                        content.document_id,
                        location.size,
                        location.mtime,
                    )?,
                    None => waiting_aliases.entry(sha256).or_default().push(location),
                }
                summary.relocated += 1;
                progress.document_done(summary);
                continue;
            }
            ToWriter::NotPlanned { failure } => {
                summary.not_planned += 1;
                progress.failure(&failure);
                summary.failures.push(failure);
                progress.document_done(summary);
                continue;
            }
            ToWriter::Begin { key, header } => {
                pending.insert(
                    key,
                    Pending {
                        pages: Vec::with_capacity(header.page_count),
                        warnings: Vec::new(),
                        header,
                    },
                );
                key
            }
            ToWriter::Page {
                key,
                page,
                warnings,
            } => {
                match page.source {
                    TextSource::Ocr => summary.pages_ocr += 1,
                    TextSource::TextLayer => summary.pages_text_layer += 1,
                    TextSource::None if page.error.is_some() => summary.pages_failed += 1,
                    TextSource::None => summary.pages_empty += 1,
                }
                if let Some(c) = page.confidence {
                    confidence_sum += c as f64;
                    confidence_pages += 1;
                }
                summary.pages += 1;
                progress.page_done();
                if let Some(p) = pending.get_mut(&key) {
                    p.pages.push(*page);
                    p.warnings.extend(warnings);
                }
                key
            }
        };
        // When stopping, documents still missing pages never complete: they are
        // abandoned, and the next run reads them again.
        let complete = pending
            .get(&key)
            .is_some_and(|p| p.pages.len() >= p.header.page_count);
        if !complete {
            continue;
        }
        let Some(p) = pending.remove(&key) else {
            continue;
        };
        let retry = p.header.retry;
        let mut doc = finish_document(p);
        if doc.status.is_searchable() {
            let text = document_text(doc.pages.iter().map(|p| p.text.as_str()));
            let words: Vec<&[Word]> = doc.pages.iter().map(|p| p.words.as_slice()).collect();
            let analysis = analyze(classifier, &text, &Zones::of_pages(&words));
            // The run's unit, else the previous version's, else the issuer's.
            doc.unit = owner.unit.clone().or(doc.unit.take()).or_else(|| {
                crate::units::owner(&owner.units, &analysis.fields).map(|u| u.code.clone())
            });
            doc.analysis = Some(analysis);
        } else if owner.unit.is_some() {
            doc.unit = owner.unit.clone();
        }
        let stored = store.put_document(run, &doc)?;
        let id = match stored {
            Stored::New(id) => {
                match doc.status {
                    DocStatus::Ok => summary.documents_ok += 1,
                    DocStatus::Partial => summary.documents_partial += 1,
                    DocStatus::Failed => summary.documents_failed += 1,
                    DocStatus::Empty => summary.documents_empty += 1,
                }
                if doc.supersedes.is_some() {
                    summary.updated += 1;
                }
                if retry {
                    summary.retried += 1;
                }
                if let Some(reason) = &doc.error {
                    let failure = Failure {
                        path: doc.path.clone(),
                        reason: reason.clone(),
                        kind: doc.status.as_str().to_owned(),
                    };
                    progress.failure(&failure);
                    summary.failures.push(failure);
                } else if doc.status == DocStatus::Ok && !doc.warnings.is_empty() {
                    summary.documents_repaired += 1;
                    let failure = Failure {
                        path: doc.path.clone(),
                        reason: warnings_text(&doc.warnings),
                        kind: "repair".to_owned(),
                    };
                    progress.failure(&failure);
                    summary.failures.push(failure);
                }
                id
            }
            Stored::AlreadyArchived(id) => {
                summary.relocated += 1;
                id
            }
        };
        if let Some(sha) = &doc.sha256 {
            for location in waiting_aliases.remove(sha).unwrap_or_default() {
                store.put_location(run, &location.path, id, location.size, location.mtime)?;
            }
        }
        summary.mean_confidence =
            (confidence_pages > 0).then(|| (confidence_sum / confidence_pages as f64) as f32);
        progress.document_done(summary);
        if last_flush.elapsed() >= INDEX_FLUSH_INTERVAL {
            store.flush_index()?;
            last_flush = Instant::now();
        }
    }
    store.touch_locations(run, &seen_unchanged)?;
    store.flush_index()?;
    Ok(())
}

/// Fields and classification from a document's text (all pages, in order), the fields
/// looked for where its layout (`zones`) puts them.
pub fn analyze(classifier: &Classifier, text: &str, zones: &Zones) -> Analysis {
    Analysis {
        fields: fields::extract_in(text, zones),
        classification: classifier.classify(text),
    }
}

/// A document's text: its pages' text in order, one line break apart.
pub fn document_text<'a>(pages: impl IntoIterator<Item = &'a str>) -> String {
    pages.into_iter().collect::<Vec<_>>().join("\n")
}

/// The warnings of a document, one sentence.
fn warnings_text(warnings: &[Warning]) -> String {
    warnings
        .iter()
        .map(Warning::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Orders pages and sets the document's status from its pages: failed when no page
/// could be read, partial when some pages (or parts of them) were lost, empty when
/// nothing failed but no page holds text, ok otherwise.
fn finish_document(p: Pending) -> NewDocument {
    let mut doc = p.header.doc;
    let mut pages = p.pages;
    pages.sort_by_key(|page| page.number);
    doc.warnings.extend(p.warnings);
    doc.warnings.sort_by_key(|w| w.page);
    doc.pages = pages;
    if doc.status == DocStatus::Failed {
        return doc;
    }
    let pages = &doc.pages;
    let failed: Vec<&NewPage> = pages.iter().filter(|page| page.error.is_some()).collect();
    let readable = pages
        .iter()
        .filter(|page| !page.text.trim().is_empty())
        .count();
    let losses: Vec<&Warning> = doc
        .warnings
        .iter()
        .filter(|w| w.kind == WarningKind::Loss)
        .collect();
    let page_error = |page: &NewPage| {
        format!(
            "page {}: {}",
            page.number,
            page.error.as_deref().unwrap_or_default()
        )
    };
    let (status, error) = if !failed.is_empty() && readable == 0 {
        let detail = page_error(failed[0]);
        let error = if pages.len() == 1 {
            detail
        } else if failed.len() == pages.len() {
            format!("all {} pages failed; {detail}", pages.len())
        } else {
            format!(
                "{} of {} pages failed and the others hold no text; {detail}",
                failed.len(),
                pages.len()
            )
        };
        (DocStatus::Failed, Some(error))
    } else if !failed.is_empty() {
        let mut error = format!(
            "{} of {} pages failed; {}",
            failed.len(),
            pages.len(),
            page_error(failed[0])
        );
        if !losses.is_empty() {
            error.push_str(&format!("; {}", losses[0]));
        }
        (DocStatus::Partial, Some(error))
    } else if !losses.is_empty() && readable > 0 {
        (
            DocStatus::Partial,
            Some(format!("content lost: {}", losses[0])),
        )
    } else if readable == 0 && !losses.is_empty() {
        (
            DocStatus::Failed,
            Some(format!("nothing readable: {}", losses[0])),
        )
    } else if readable == 0 {
        let why = pages
            .iter()
            .find_map(|page| page.note.as_deref())
            .unwrap_or("no text found");
        (
            DocStatus::Empty,
            Some(format!("no page holds readable text ({why})")),
        )
    } else {
        (DocStatus::Ok, None)
    };
    doc.status = status;
    doc.error = error;
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lookups that fail as a database with an I/O error does: `at_path` for where a
    /// file was, `for_bytes` for whose bytes these are.
    struct FailingLookups {
        at_path: bool,
        for_bytes: bool,
    }

    impl Lookups for FailingLookups {
        fn location(&self, _: &str) -> Result<Option<KnownLocation>, StoreError> {
            match self.at_path {
                true => Err(StoreError::Corrupt("disk I/O error".into())),
                false => Ok(None),
            }
        }
        fn content(&self, _: &str) -> Result<Option<KnownContent>, StoreError> {
            match self.for_bytes {
                true => Err(StoreError::Corrupt("disk I/O error".into())),
                false => Ok(None),
            }
        }
    }

    #[test]
    fn recent_contents_are_remembered_up_to_their_bound() {
        let mut recent = RecentContents::default();
        assert!(recent.insert("a"));
        assert!(!recent.insert("a"), "the same bytes again: an alias");
        for i in 0..RECENT_CONTENTS - 1 {
            assert!(recent.insert(&i.to_string()));
        }
        assert!(!recent.insert("a"), "still among the last RECENT_CONTENTS");
        assert!(recent.insert("one more"));
        // The oldest is forgotten (the store knows it by then): memory stays bounded.
        assert!(recent.insert("a"));
        assert_eq!(recent.set.len(), RECENT_CONTENTS);
        assert_eq!(recent.order.len(), RECENT_CONTENTS);
    }

    #[test]
    fn a_failed_lookup_while_planning_is_that_files_error_not_a_new_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("scan.png");
        std::fs::write(&path, b"\x89PNG\r\n\x1a\n not really").unwrap();
        let candidate = Candidate {
            path: path.clone(),
            from_walk: false,
            scan_extension: true,
            error: None,
        };
        let config = IngestConfig::default();
        let plan_with = |at_path, for_bytes| {
            let lookups = FailingLookups { at_path, for_bytes };
            plan(
                &candidate,
                &config,
                &lookups,
                &mut RecentContents::default(),
            )
        };
        for (at_path, for_bytes, asked) in [
            (true, false, "at this path"),
            (false, true, "for these bytes"),
        ] {
            match plan_with(at_path, for_bytes) {
                Ok(Plan::Done(ToWriter::NotPlanned { failure })) => {
                    assert_eq!(failure.path, path.display().to_string());
                    assert!(
                        failure.reason.contains(asked) && failure.reason.contains("disk I/O error"),
                        "{}",
                        failure.reason
                    );
                }
                _ => panic!("a failed lookup {asked} must be the file's error"),
            }
        }
        // With the archive answering, the same file is read.
        assert!(matches!(plan_with(false, false), Ok(Plan::Read { .. })));
    }

    #[test]
    fn a_panic_while_reading_a_page_is_that_pages_failure() {
        let page = read_page_caught(3, || panic!("decoder bug"));
        assert_eq!(page.number, 3);
        assert_eq!(page.source, TextSource::None);
        let error = page.error.unwrap();
        assert!(
            error.contains("internal error") && error.contains("decoder bug"),
            "{error}"
        );
        let fine = read_page_caught(4, || empty_page(4));
        assert!(fine.error.is_none());
    }

    /// A page as the writer receives it: read (`text`), blank (`""`), or failed (`!`).
    fn page(number: u32, content: &str) -> NewPage {
        let mut page = empty_page(number);
        match content {
            "!" => page.error = Some("bad".into()),
            "" => page.note = Some(BLANK_PAGE_NOTE.into()),
            text => page.text = text.into(),
        }
        page
    }

    /// Finishes a document of `pages` (in the order given) with `warnings`, and checks
    /// its status and the start of its error.
    fn check(pages: &[(u32, &str)], warnings: Vec<Warning>, status: DocStatus, error: &str) {
        let doc = finish_document(Pending {
            header: Box::new(Header {
                doc: NewDocument::at("x.pdf".into()),
                page_count: pages.len(),
                retry: false,
            }),
            pages: pages.iter().map(|(n, c)| page(*n, c)).collect(),
            warnings,
        });
        assert_eq!(doc.status, status, "{pages:?}");
        assert!(
            doc.error.as_deref().unwrap_or("").starts_with(error),
            "{pages:?}: {:?}",
            doc.error
        );
        assert!(doc.pages.windows(2).all(|w| w[0].number < w[1].number));
    }

    #[test]
    fn document_status_follows_its_pages() {
        let lost = || vec![Warning::loss(Some(2), "image cut")];
        let repaired = || vec![Warning::repair(None, "xref rebuilt")];
        check(&[(1, "text")], vec![], DocStatus::Ok, "");
        check(&[(1, "text")], repaired(), DocStatus::Ok, "");
        check(
            &[(2, "!"), (1, "text")],
            vec![],
            DocStatus::Partial,
            "1 of 2 pages failed; page 2",
        );
        check(
            &[(1, "!"), (2, "!")],
            vec![],
            DocStatus::Failed,
            "all 2 pages failed",
        );
        check(&[(1, "!")], vec![], DocStatus::Failed, "page 1: bad");
        check(
            &[(1, "!"), (2, "")],
            vec![],
            DocStatus::Failed,
            "1 of 2 pages failed and the others",
        );
        check(
            &[(1, "")],
            vec![],
            DocStatus::Empty,
            "no page holds readable text (blank page",
        );
        check(
            &[(1, ""), (2, "")],
            repaired(),
            DocStatus::Empty,
            "no page holds",
        );
        check(
            &[(1, "a"), (2, "b")],
            lost(),
            DocStatus::Partial,
            "content lost: page 2: lost: image cut",
        );
        check(
            &[(1, ""), (2, "")],
            lost(),
            DocStatus::Failed,
            "nothing readable: page 2",
        );
        check(&[(1, "a"), (2, "")], vec![], DocStatus::Ok, "");
    }
}
