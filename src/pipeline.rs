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

use crate::discover::{self, Candidate, DiscoverError};
use crate::load::{self, Limits, LoadError, LoadedPage, OcrMode, PageContent, TextSource};
use crate::ocr::{self, OcrEngine, OcrError};
use crate::store::{DocStatus, NewDocument, NewPage, RunCounts, RunStatus, Store, StoreError};
use crossbeam_channel::{Receiver, Sender, bounded};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;
use thiserror::Error;

/// Decoded pages waiting for OCR, per worker. Two keeps every worker fed while the
/// loader decodes the next page; more would only hold more ~9 MB page images.
const QUEUED_PAGES_PER_WORKER: usize = 2;
/// Finished pages and document headers waiting for the writer.
const WRITER_QUEUE: usize = 256;

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
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
            lang: "vie+eng".into(),
            ocr: OcrMode::Auto,
            limits: Limits::default(),
            command: "ingest".into(),
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
}

/// A file that failed, wholly or in part.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    pub path: String,
    pub reason: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct IngestSummary {
    pub files: u64,
    pub documents_ok: u64,
    pub documents_partial: u64,
    pub documents_failed: u64,
    /// Files in walked directories that are not scans (e.g. `notes.txt`).
    pub skipped_not_scans: u64,
    pub pages: u64,
    pub pages_ocr: u64,
    pub pages_text_layer: u64,
    pub pages_empty: u64,
    pub pages_failed: u64,
    pub mean_confidence: Option<f32>,
    pub elapsed_seconds: f64,
    pub pages_per_minute: f64,
    pub failures: Vec<Failure>,
}

impl IngestSummary {
    pub fn has_failures(&self) -> bool {
        self.documents_failed + self.documents_partial > 0
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
        eprintln!("sohoa: {}: {}", failure.path, failure.reason);
    }
    fn finish(&mut self) {}
}

/// What the loader knows about a file before its pages are read.
struct Header {
    doc: NewDocument,
    page_count: usize,
}

/// A page on its way to a worker: decoded (or failed to decode), not yet read.
struct Job {
    doc: u64,
    number: u32,
    page: Result<LoadedPage, LoadError>,
}

enum ToWriter {
    /// A document whose pages will follow (or none, when it failed to open).
    Begin {
        key: u64,
        header: Box<Header>,
    },
    Page {
        key: u64,
        page: Box<NewPage>,
    },
    /// A directory entry that is not a scan.
    Skipped,
}

/// Ingests every file under `paths` into `store`.
pub fn ingest(
    paths: &[impl AsRef<Path>],
    store: &mut dyn Store,
    config: &IngestConfig,
    progress: &mut dyn Progress,
) -> Result<IngestSummary, IngestError> {
    let started = Instant::now();
    let candidates = discover::discover(paths)?;
    if config.ocr != OcrMode::Skip {
        // Fail the run up front, not once per page, when the languages are missing.
        OcrEngine::new(&config.lang)?;
    }
    let run = store.begin_run(&config.command)?;
    progress.start(candidates.len() as u64);
    let jobs = config.jobs.max(1);
    let (job_tx, job_rx) = bounded::<Job>(jobs * QUEUED_PAGES_PER_WORKER);
    let (out_tx, out_rx) = bounded::<ToWriter>(WRITER_QUEUE);
    let stop = AtomicBool::new(false);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .thread_name(|i| format!("sohoa-ocr-{i}"))
        .build()
        .expect("thread pool");

    let mut summary = IngestSummary {
        files: candidates.len() as u64,
        ..IngestSummary::default()
    };
    let result = std::thread::scope(|scope| {
        let loader_out = out_tx.clone();
        let stop_ref = &stop;
        scope.spawn(move || load_all(candidates, config, job_tx, loader_out, stop_ref));
        let worker_out = out_tx;
        let lang = config.lang.as_str();
        scope.spawn(move || {
            pool.scope(|s| {
                for _ in 0..jobs {
                    let rx = job_rx.clone();
                    let tx = worker_out.clone();
                    s.spawn(move |_| recognize_all(rx, tx, lang, stop_ref));
                }
            });
        });
        let result = write_all(out_rx, store, run, &mut summary, progress);
        if result.is_err() {
            stop.store(true, Ordering::SeqCst);
        }
        result
    });
    let status = RunStatus::Completed;
    summary.elapsed_seconds = started.elapsed().as_secs_f64();
    summary.pages_per_minute = if summary.elapsed_seconds > 0.0 {
        summary.pages as f64 * 60.0 / summary.elapsed_seconds
    } else {
        0.0
    };
    progress.finish();
    result?;
    let counts = RunCounts {
        documents: summary.documents_ok + summary.documents_partial + summary.documents_failed,
        pages: summary.pages,
        failed: summary.documents_failed + summary.documents_partial,
    };
    store.finish_run(run, status, &counts)?;
    Ok(summary)
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn mtime(meta: &std::fs::Metadata) -> Option<i64> {
    let modified = meta.modified().ok()?;
    let secs = modified
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs();
    i64::try_from(secs).ok()
}

/// The loader: reads, hashes and opens files in order, and queues their pages.
fn load_all(
    candidates: Vec<Candidate>,
    config: &IngestConfig,
    jobs: Sender<Job>,
    out: Sender<ToWriter>,
    stop: &AtomicBool,
) {
    for (key, candidate) in candidates.into_iter().enumerate() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let key = key as u64;
        let path = candidate.path.display().to_string();
        let mut doc = NewDocument {
            path: path.clone(),
            sha256: None,
            size: None,
            format: None,
            file_mtime: None,
            status: DocStatus::Ok,
            error: None,
            pages: Vec::new(),
        };
        let bytes = match read_candidate(&candidate, &config.limits, &mut doc) {
            Ok(Some(bytes)) => bytes,
            Ok(None) => {
                if out.send(ToWriter::Skipped).is_err() {
                    return;
                }
                continue;
            }
            Err(reason) => {
                doc.status = DocStatus::Failed;
                doc.error = Some(reason);
                let header = Box::new(Header { doc, page_count: 0 });
                if out.send(ToWriter::Begin { key, header }).is_err() {
                    return;
                }
                continue;
            }
        };
        let opened = load::open(bytes, &config.limits);
        let mut source = match opened {
            Ok((format, source)) => {
                doc.format = Some(format.name().to_owned());
                source
            }
            Err(e) => {
                doc.status = DocStatus::Failed;
                doc.error = Some(e.to_string());
                let header = Box::new(Header { doc, page_count: 0 });
                if out.send(ToWriter::Begin { key, header }).is_err() {
                    return;
                }
                continue;
            }
        };
        let page_count = source.page_count();
        let header = Box::new(Header { doc, page_count });
        if out.send(ToWriter::Begin { key, header }).is_err() {
            return;
        }
        for index in 0..page_count {
            if stop.load(Ordering::SeqCst) {
                return;
            }
            let page = source.load_page(index, config.ocr);
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

/// Reads a file whole (it is hashed anyway). `Ok(None)`: not a scan, skip it.
fn read_candidate(
    candidate: &Candidate,
    limits: &Limits,
    doc: &mut NewDocument,
) -> Result<Option<Arc<Vec<u8>>>, String> {
    let mut file = std::fs::File::open(&candidate.path).map_err(|e| format!("cannot open: {e}"))?;
    let meta = file.metadata().map_err(|e| format!("cannot stat: {e}"))?;
    doc.size = Some(meta.len());
    doc.file_mtime = mtime(&meta);
    if meta.len() > limits.max_file_bytes {
        return Err(LoadError::TooLarge(format!(
            "file of {} bytes exceeds the limit of {} bytes",
            meta.len(),
            limits.max_file_bytes
        ))
        .to_string());
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read: {e}"))?;
    if candidate.from_walk && !candidate.scan_extension && load::detect(&bytes).is_none() {
        return Ok(None);
    }
    doc.sha256 = Some(sha256_hex(&bytes));
    Ok(Some(Arc::new(bytes)))
}

/// A worker: recognizes queued pages until the queue closes.
fn recognize_all(jobs: Receiver<Job>, out: Sender<ToWriter>, lang: &str, stop: &AtomicBool) {
    for job in jobs {
        if stop.load(Ordering::SeqCst) {
            // The writer has stopped: drain the queue without doing the work.
            continue;
        }
        let Job { doc, number, page } = job;
        let page = to_new_page(page, number, lang);
        if out
            .send(ToWriter::Page {
                key: doc,
                page: Box::new(page),
            })
            .is_err()
        {
            return;
        }
    }
}

fn to_new_page(page: Result<LoadedPage, LoadError>, number: u32, lang: &str) -> NewPage {
    let mut new = NewPage {
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
    };
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
            match ocr::with_thread_engine(lang, |engine| engine.recognize(&image, page.dpi)) {
                Ok(Ok(out)) => {
                    new.text = out.text;
                    new.confidence = out.mean_confidence;
                    new.words = out.words;
                    new.source = TextSource::Ocr;
                }
                Ok(Err(e)) | Err(e) => new.error = Some(e.to_string()),
            }
        }
    }
    new
}

/// A document being assembled by the writer.
struct Pending {
    header: Box<Header>,
    pages: Vec<NewPage>,
}

/// The writer: assembles documents and stores each in one transaction.
fn write_all(
    rx: Receiver<ToWriter>,
    store: &mut dyn Store,
    run: i64,
    summary: &mut IngestSummary,
    progress: &mut dyn Progress,
) -> Result<(), StoreError> {
    let mut pending: HashMap<u64, Pending> = HashMap::new();
    let mut confidence_sum = 0.0f64;
    let mut confidence_pages = 0u64;
    for msg in rx {
        let key = match msg {
            ToWriter::Skipped => {
                summary.skipped_not_scans += 1;
                progress.document_done(summary);
                continue;
            }
            ToWriter::Begin { key, header } => {
                pending.insert(
                    key,
                    Pending {
                        pages: Vec::with_capacity(header.page_count),
                        header,
                    },
                );
                key
            }
            ToWriter::Page { key, page } => {
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
                }
                key
            }
        };
        let complete = pending
            .get(&key)
            .is_some_and(|p| p.pages.len() >= p.header.page_count);
        if complete && let Some(p) = pending.remove(&key) {
            let doc = finish_document(p);
            store.put_document(run, &doc)?;
            match doc.status {
                DocStatus::Ok => summary.documents_ok += 1,
                DocStatus::Partial => summary.documents_partial += 1,
                DocStatus::Failed => summary.documents_failed += 1,
            }
            if let Some(reason) = &doc.error {
                let failure = Failure {
                    path: doc.path.clone(),
                    reason: reason.clone(),
                };
                progress.failure(&failure);
                summary.failures.push(failure);
            }
            summary.mean_confidence =
                (confidence_pages > 0).then(|| (confidence_sum / confidence_pages as f64) as f32);
            progress.document_done(summary);
        }
    }
    Ok(())
}

/// Orders pages and sets the document's status from its pages' errors.
fn finish_document(p: Pending) -> NewDocument {
    let mut doc = p.header.doc;
    let mut pages = p.pages;
    pages.sort_by_key(|page| page.number);
    let failed: Vec<&NewPage> = pages.iter().filter(|page| page.error.is_some()).collect();
    if doc.status != DocStatus::Failed && !failed.is_empty() {
        let first = failed[0];
        let detail = format!(
            "page {}: {}",
            first.number,
            first.error.as_deref().unwrap_or_default()
        );
        if failed.len() == pages.len() {
            doc.status = DocStatus::Failed;
            doc.error = Some(if pages.len() == 1 {
                detail
            } else {
                format!("all {} pages failed; {detail}", pages.len())
            });
        } else {
            doc.status = DocStatus::Partial;
            doc.error = Some(format!(
                "{} of {} pages failed; {detail}",
                failed.len(),
                pages.len()
            ));
        }
    }
    doc.pages = pages;
    doc
}
