//! Distributed ingest: `sohoa enqueue` records files as jobs in a PostgreSQL archive,
//! `sohoa worker` (one per machine) works them, `sohoa queue` shows where they stand.

use super::ingest::{ReadArgs, Signals, ingest_config};
use super::{ArchiveArgs, keys_dir};
use crate::pipeline::worker::{self, WorkerConfig, WorkerSummary};
use crate::store::QueueStatus;
use anyhow::Context;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Paths handed to the queue per call while walking (memory stays flat).
const ENQUEUE_CHUNK: usize = 1_000;

/// `sohoa worker`'s flags.
#[derive(clap::Args, Debug)]
pub struct WorkerArgs {
    #[command(flatten)]
    pub read: ReadArgs,
    /// The worker's name in `sohoa queue` [default: HOST-PID].
    #[arg(long)]
    pub name: Option<String>,
    /// Jobs (files) claimed at a time [default: 4 per OCR thread].
    #[arg(long)]
    pub batch: Option<usize>,
    /// Seconds a claimed job stays this worker's without a heartbeat; after that another
    /// worker takes it over.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub lease: u64,
    /// Exit once the queue is drained: nothing pending and nothing running on any worker
    /// (jobs of a lost worker come back when their lease runs out). Else wait for more.
    #[arg(long)]
    pub exit_when_empty: bool,
    /// Workers a job may lose (killed, cut off, its lease run out) before it ends as
    /// failed: a file that kills whoever reads it is not tried forever.
    #[arg(long, value_name = "WORKERS", default_value_t = crate::store::MAX_JOB_ATTEMPTS)]
    pub give_up_after: u32,
    /// Print the closing summary as JSON.
    #[arg(long)]
    pub json: bool,
    /// Keep the worker's report (the JSON summary so far) in FILE, rewritten after every
    /// batch, for monitoring.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
}

/// How long a worker keeps connecting to a database that went away before it gives up
/// (and its service manager restarts it): a restart or failover takes seconds to minutes.
const RECONNECT_PATIENCE: Duration = Duration::from_secs(600);
/// The longest wait between two attempts to connect again.
const RECONNECT_BACKOFF_MAX: Duration = Duration::from_secs(30);

/// `sohoa enqueue PATH…`: files (directories walked) become pending jobs.
pub(super) fn enqueue_command(cli: &ArchiveArgs, paths: &[PathBuf]) -> anyhow::Result<ExitCode> {
    let mut queue = crate::store::open_queue(&cli.db)?;
    let discovery = crate::discover::discover(paths)?;
    let (mut queued, mut already, mut skipped) = (0, 0, 0);
    let mut chunk = Vec::with_capacity(ENQUEUE_CHUNK);
    let mut flush = |chunk: &mut Vec<String>| -> anyhow::Result<()> {
        let (q, a) = queue.enqueue(chunk)?;
        queued += q;
        already += a;
        chunk.clear();
        Ok(())
    };
    for candidate in discovery.candidates() {
        if !candidate.scan_extension || candidate.error.is_some() {
            skipped += 1;
            continue;
        }
        chunk.push(candidate.path.display().to_string());
        if chunk.len() == ENQUEUE_CHUNK {
            flush(&mut chunk)?;
        }
    }
    flush(&mut chunk)?;
    println!(
        "queued {queued} files ({already} already queued, {skipped} skipped: not scans or unreadable) in {}",
        crate::location::display(&cli.db)
    );
    Ok(ExitCode::SUCCESS)
}

/// `sohoa worker`: works the queue until stopped (SIGTERM, Ctrl-C) or, with
/// `--exit-when-empty`, until nothing is left. When the database goes away (restarted,
/// network cut) the worker connects again, hands back the jobs it held, and goes on.
pub(super) fn worker_command(cli: &ArchiveArgs, args: WorkerArgs) -> anyhow::Result<ExitCode> {
    let WorkerArgs {
        read,
        name,
        batch,
        lease,
        exit_when_empty,
        give_up_after,
        json,
        report,
    } = args;
    anyhow::ensure!(lease >= 3, "--lease must be at least 3 seconds");
    anyhow::ensure!(give_up_after >= 1, "--give-up-after must be at least 1");
    let ingest = ingest_config(cli, read)?;
    let host = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
    let config = WorkerConfig {
        name: name.unwrap_or_else(|| format!("{}-{}", host.trim(), std::process::id())),
        batch: batch.unwrap_or(ingest.jobs * 4).max(1),
        lease: Duration::from_secs(lease),
        exit_when_empty,
        poll: Duration::from_secs(2),
        max_attempts: give_up_after,
        ingest,
    };
    let signals = Signals::install()?;
    let started = std::time::Instant::now();
    let mut summary = WorkerSummary::default();
    let mut outage: Option<std::time::Instant> = None;
    let mut backoff = Duration::from_secs(1);
    let mut ever_connected = false;
    loop {
        let connected = &mut false;
        let result = connect_and_work(cli, &config, &signals, &report, &mut summary, connected);
        ever_connected |= *connected;
        match result {
            Ok(()) => break,
            // A database never reached is a setting to fix (a wrong host, a typo), not an
            // outage to wait out: said at once.
            Err(e)
                if e.is_connection_lost()
                    && ever_connected
                    && !signals.stop.load(Ordering::SeqCst) =>
            {
                if *connected {
                    outage = None;
                    backoff = Duration::from_secs(1);
                }
                let since = *outage.get_or_insert_with(std::time::Instant::now);
                if since.elapsed() >= RECONNECT_PATIENCE {
                    return Err(anyhow::Error::new(e).context(format!(
                        "worker {}: the database has been unreachable for {} s; giving up",
                        config.name,
                        since.elapsed().as_secs()
                    )));
                }
                eprintln!(
                    "sohoa: worker {}: the database went away ({e}); connecting again in {} s",
                    config.name,
                    backoff.as_secs()
                );
                sleep_unless_stopped(backoff, &signals.stop);
                backoff = (backoff * 2).min(RECONNECT_BACKOFF_MAX);
            }
            Err(e) => return Err(e.into_anyhow()),
        }
    }
    write_report(&report, &summary, started);
    if json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        println!(
            "worker {}: {} batches, {} jobs done, {} failed, {} queued again, {} taken over by another worker; {} pages",
            config.name,
            summary.batches,
            summary.done,
            summary.failed,
            summary.retried,
            summary.taken_over,
            summary.pages
        );
    }
    Ok(signals.exit_code().unwrap_or(ExitCode::SUCCESS))
}

/// Why a worker stopped working: the database went away (try again) or anything else.
#[derive(Debug, thiserror::Error)]
enum WorkerStop {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Ingest(#[from] crate::pipeline::IngestError),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl WorkerStop {
    fn is_connection_lost(&self) -> bool {
        match self {
            WorkerStop::Store(e) => e.is_connection_lost(),
            WorkerStop::Ingest(e) => e.is_connection_lost(),
            WorkerStop::Other(_) => false,
        }
    }
}

impl WorkerStop {
    fn into_anyhow(self) -> anyhow::Error {
        match self {
            WorkerStop::Other(e) => e,
            e => anyhow::Error::new(e),
        }
    }
}

/// Connects (queue, heartbeat, store), takes up the archive's signing key and works the
/// queue; `connected` says whether it got as far as working.
fn connect_and_work(
    cli: &ArchiveArgs,
    config: &WorkerConfig,
    signals: &Signals,
    report: &Option<PathBuf>,
    summary: &mut WorkerSummary,
    connected: &mut bool,
) -> Result<(), WorkerStop> {
    let mut queue = crate::store::open_queue(&cli.db)?;
    let beat_queue = crate::store::open_queue(&cli.db)?;
    let mut store = crate::store::open(&cli.db)?;
    // Workers sign with the archive's one key, made once by `sohoa keys init` and copied
    // to every worker (`--keys`): a worker never makes a key of its own, which would
    // retire the key every other worker signs with.
    let keys = keys_dir(cli);
    crate::authenticity::signing::resume(&mut *store, &keys).with_context(|| {
        format!(
            "worker {}: no signing key; run `sohoa keys init` once for the archive, then give every worker its key directory (--keys, now {})",
            config.name,
            keys.display()
        )
    })?;
    // Jobs held under this name when the connection was lost: not finished, and not
    // lost either (nothing of them was stored, the documents' transactions say so).
    let handed_back = queue.give_back(&config.name)?;
    if handed_back > 0 {
        eprintln!(
            "sohoa: worker {}: {handed_back} jobs it held when the database went away are queued again",
            config.name
        );
    }
    *connected = true;
    eprintln!(
        "sohoa: worker {} on {}: claiming {} jobs at a time, {} s leases",
        config.name,
        crate::location::display(&cli.db),
        config.batch,
        config.lease.as_secs()
    );
    let db = cli.db.clone();
    let started = std::time::Instant::now();
    worker::work(
        &mut *queue,
        beat_queue,
        &mut *store,
        config,
        &signals.stop,
        &mut |store, summary| {
            if let Err(e) = crate::authenticity::signing::seal(store, &db) {
                eprintln!("sohoa: warning: tree head not signed ({e}); the next batch signs it");
            }
            write_report(report, summary, started);
        },
        summary,
    )?;
    Ok(())
}

/// Replaces the report file (written beside it, then renamed: a reader never sees half).
fn write_report(report: &Option<PathBuf>, summary: &WorkerSummary, started: std::time::Instant) {
    let Some(file) = report else { return };
    #[derive(serde::Serialize)]
    struct Report<'a> {
        #[serde(flatten)]
        summary: &'a WorkerSummary,
        elapsed_seconds: f64,
    }
    let report = Report {
        summary,
        elapsed_seconds: started.elapsed().as_secs_f64(),
    };
    let partial = file.with_extension("partial");
    let written = serde_json::to_vec_pretty(&report)
        .map_err(std::io::Error::other)
        .and_then(|bytes| std::fs::write(&partial, bytes))
        .and_then(|()| std::fs::rename(&partial, file));
    if let Err(e) = written {
        eprintln!(
            "sohoa: warning: cannot write report {}: {e}",
            file.display()
        );
    }
}

fn sleep_unless_stopped(total: Duration, stop: &std::sync::atomic::AtomicBool) {
    let step = Duration::from_millis(100);
    let mut waited = Duration::ZERO;
    while waited < total && !stop.load(Ordering::SeqCst) {
        std::thread::sleep(step);
        waited += step;
    }
}

/// `sohoa queue`: pending, running (by worker), done, failed (the latest, with reasons).
pub(super) fn queue_command(
    cli: &ArchiveArgs,
    failures: usize,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let queue = crate::store::open_queue(&cli.db)?;
    let status: QueueStatus = queue.status(failures)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&status)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{}: {} pending, {} running, {} done, {} failed",
        crate::location::display(&cli.db),
        status.pending,
        status.running,
        status.done,
        status.failed
    );
    for w in &status.workers {
        let lease = if w.lease_seconds_left >= 0.0 {
            format!("lease ends in {:.0} s", w.lease_seconds_left)
        } else {
            format!(
                "lease ran out {:.0} s ago: its jobs go to the next worker that asks",
                -w.lease_seconds_left
            )
        };
        println!("  running on {}: {} jobs, {lease}", w.worker, w.jobs);
    }
    if !status.failures.is_empty() {
        println!("latest failures:");
        for f in &status.failures {
            println!(
                "  {} (attempts {}, {}): {}",
                f.path, f.attempts, f.at, f.reason
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
