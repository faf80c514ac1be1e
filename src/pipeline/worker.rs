//! `sohoa worker`: claims jobs from the archive's queue and ingests them, batch by batch,
//! with the same pipeline as `sohoa ingest`, while a heartbeat thread keeps the leases
//! of the claimed jobs alive. A worker that dies stops renewing; its jobs' leases run
//! out and other workers take them over. What a batch stored is stored (one transaction
//! per document batch, as in any run), and taking a job over finds those documents
//! unchanged: nothing is stored twice.

use super::{IngestConfig, IngestError, SilentProgress, ingest};
use crate::store::{DocStatus, Finished, Job, JobFence, JobOutcome, JobQueue, Store, StoreError};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

/// How a worker runs.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// As the queue shows it: `host-pid` unless given.
    pub name: String,
    /// Jobs claimed at a time: enough to keep every OCR thread busy between claims.
    pub batch: usize,
    /// How long a claimed job stays the worker's without a heartbeat.
    pub lease: Duration,
    /// Stop once the queue is drained: nothing pending, nothing running anywhere (else
    /// wait for more jobs).
    pub exit_when_empty: bool,
    /// How long to wait before asking an empty queue again.
    pub poll: Duration,
    /// Workers a job may lose before it ends as failed.
    pub max_attempts: u32,
    pub ingest: IngestConfig,
}

/// Heartbeats per lease: a lease survives two missed beats.
const BEATS_PER_LEASE: u32 = 3;

/// What a worker did, for its closing line.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct WorkerSummary {
    pub batches: u64,
    pub done: u64,
    pub failed: u64,
    pub retried: u64,
    /// Jobs whose lease ran out while this worker held them (it paused, or was cut off)
    /// and that another worker took over: nothing of this worker's attempt was stored.
    pub taken_over: u64,
    pub pages: u64,
    /// The latest files that failed or were read with a warning (at most
    /// `RECENT_FAILURES`; `sohoa failures` has them all).
    pub recent_failures: std::collections::VecDeque<super::Failure>,
}

/// Failures a worker's summary keeps: a worker runs for months, its memory must not grow.
pub const RECENT_FAILURES: usize = 100;

/// Renews the leases of the jobs in `held` until told to stop, on its own connection.
fn heartbeat(
    mut queue: Box<dyn JobQueue>,
    worker: String,
    held: Arc<Mutex<Vec<i64>>>,
    lease: Duration,
    stop: mpsc::Receiver<()>,
) {
    let every = lease / BEATS_PER_LEASE;
    while let Err(mpsc::RecvTimeoutError::Timeout) = stop.recv_timeout(every) {
        let ids = held.lock().map(|h| h.clone()).unwrap_or_default();
        if ids.is_empty() {
            continue;
        }
        match queue.renew(&worker, &ids, lease) {
            Ok(kept) if kept < ids.len() as u64 => eprintln!(
                "sohoa: worker {worker}: {} of {} leases were lost (taken over after a pause); their jobs are another worker's now",
                ids.len() as u64 - kept,
                ids.len()
            ),
            Ok(_) => {}
            Err(e) => eprintln!("sohoa: worker {worker}: leases not renewed ({e}); trying again"),
        }
    }
}

/// How job `job` ended, as the archive now holds its path.
fn outcome(store: &dyn Store, job: &Job, stopped: bool) -> Result<JobOutcome, StoreError> {
    let Some(known) = store.location(&job.path)? else {
        return Ok(JobOutcome::Retry {
            reason: if stopped {
                "the worker was stopped before storing it".into()
            } else {
                "not stored (missing, unreadable, or the archive could not be asked)".into()
            },
        });
    };
    if known.status != DocStatus::Failed {
        return Ok(JobOutcome::Done {
            document_id: Some(known.document_id),
        });
    }
    let reason = store
        .document(known.document_id)?
        .and_then(|d| d.error)
        .unwrap_or_else(|| "failed".into());
    Ok(JobOutcome::Failed { reason })
}

/// Works the queue until it is empty (`exit_when_empty`) or `stop` is set, adding what
/// it did to `summary`. `after_batch` runs after every batch (the caller seals the
/// signed log there).
pub fn work(
    queue: &mut dyn JobQueue,
    beat_queue: Box<dyn JobQueue>,
    store: &mut dyn Store,
    config: &WorkerConfig,
    stop: &AtomicBool,
    after_batch: &mut dyn FnMut(&mut dyn Store, &WorkerSummary),
    summary: &mut WorkerSummary,
) -> Result<(), IngestError> {
    queue.set_max_attempts(config.max_attempts);
    let held = Arc::new(Mutex::new(Vec::<i64>::new()));
    let (stop_beat, beat_stopped) = mpsc::channel();
    let beat = {
        let (held, worker, lease) = (Arc::clone(&held), config.name.clone(), config.lease);
        std::thread::Builder::new()
            .name("sohoa-heartbeat".into())
            .spawn(move || heartbeat(beat_queue, worker, held, lease, beat_stopped))
            .map_err(|e| IngestError::Store(StoreError::Io(e)))?
    };
    let result = work_batches(queue, store, config, stop, &held, after_batch, summary);
    let _ = stop_beat.send(());
    let _ = beat.join();
    result
}

fn work_batches(
    queue: &mut dyn JobQueue,
    store: &mut dyn Store,
    config: &WorkerConfig,
    stop: &AtomicBool,
    held: &Mutex<Vec<i64>>,
    after_batch: &mut dyn FnMut(&mut dyn Store, &WorkerSummary),
    summary: &mut WorkerSummary,
) -> Result<(), IngestError> {
    while !stop.load(Ordering::SeqCst) {
        let jobs = queue.claim(&config.name, config.batch, config.lease)?;
        if jobs.is_empty() {
            // Drained: nothing waits, and nothing runs that could come back (a job whose
            // worker is lost returns when its lease runs out).
            if config.exit_when_empty {
                let status = queue.status(0)?;
                if status.pending == 0 && status.running == 0 {
                    break;
                }
            }
            let mut waited = Duration::ZERO;
            while waited < config.poll && !stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(100));
                waited += Duration::from_millis(100);
            }
            continue;
        }
        if let Ok(mut h) = held.lock() {
            *h = jobs.iter().map(|j| j.id).collect();
        }
        let paths: Vec<&str> = jobs.iter().map(|j| j.path.as_str()).collect();
        // Each document is stored only while its job is still this worker's, and its job
        // ends in the same transaction.
        store.fence(Some(JobFence::new(&config.name, &jobs)))?;
        let run = ingest(&paths, store, &config.ingest, &mut SilentProgress, stop);
        store.fence(None)?;
        let failure = match &run {
            Ok(s) => {
                summary.pages += s.pages;
                for failure in s.failures.first() {
                    if summary.recent_failures.len() == RECENT_FAILURES {
                        summary.recent_failures.pop_front();
                    }
                    summary.recent_failures.push_back(failure.clone());
                }
                None
            }
            Err(e) => Some(e.to_string()),
        };
        for job in &jobs {
            let outcome = match &failure {
                Some(reason) => JobOutcome::Retry {
                    reason: reason.clone(),
                },
                None => outcome(store, job, stop.load(Ordering::SeqCst)).unwrap_or_else(|e| {
                    JobOutcome::Retry {
                        reason: e.to_string(),
                    }
                }),
            };
            match (queue.finish(&config.name, job, &outcome)?, &outcome) {
                (Finished::Lost, _) => summary.taken_over += 1,
                (Finished::Already { done: true }, _)
                | (Finished::Now, JobOutcome::Done { .. }) => summary.done += 1,
                (Finished::Already { done: false }, _)
                | (Finished::Now, JobOutcome::Failed { .. }) => summary.failed += 1,
                (Finished::Now, JobOutcome::Retry { .. }) => summary.retried += 1,
            }
        }
        if let Ok(mut h) = held.lock() {
            h.clear();
        }
        summary.batches += 1;
        after_batch(store, summary);
        if let Err(IngestError::StoppedByStore { source, .. }) = run {
            return Err(IngestError::Store(source));
        }
    }
    Ok(())
}
