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

mod document;
mod plan;
mod read;
mod summary;
pub mod worker;

use document::{Pending, finish_document, warnings_text};
use plan::{Plan, RecentContents, plan};
use read::{OcrSettings, read_page_caught, to_new_page};
pub use read::{analyze, document_text, recognize_prepared};
use summary::stored_report;
pub use summary::{Failure, FailureList, IngestSummary, Progress, SilentProgress};

use crate::classify::{Classifier, ClassifyConfig, Taxonomy};
use crate::discover::{self, Candidate, DiscoverError};
use crate::fields::{self, Zones};
use crate::load::{
    self, Limits, LoadError, LoadedPage, OcrMode, PageContent, TextSource, Warning, WarningKind,
};
use crate::ocr::{self, OcrEngine, OcrError, Word};
use crate::prepare::{self, Preparation, PrepareConfig};
use crate::store::{
    Analysis, DocStatus, Documents, KnownContent, KnownLocation, NewDocument, NewPage, RunStatus,
    Store, StoreError, Stored,
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

impl IngestError {
    /// Whether the database went away (see `StoreError::is_connection_lost`).
    pub fn is_connection_lost(&self) -> bool {
        match self {
            IngestError::Store(e) | IngestError::StoppedByStore { source: e, .. } => {
                e.is_connection_lost()
            }
            _ => false,
        }
    }
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

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned())
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

/// Why a blank page holds no text.
pub const BLANK_PAGE_NOTE: &str = "blank page: no text found, not OCR'd";

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
            // Its copies at other paths wait too: they come back as jobs of their own.
            Stored::Declined => {
                summary.declined += 1;
                progress.document_done(summary);
                continue;
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
