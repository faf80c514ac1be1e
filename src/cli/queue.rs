//! Distributed ingest: `sohoa enqueue` records files as jobs in a PostgreSQL archive,
//! `sohoa worker` (one per machine) works them, `sohoa queue` shows where they stand.

use super::ingest::{ReadArgs, Signals, ingest_config};
use super::{ArchiveArgs, keys_dir};
use crate::pipeline::worker::{self, WorkerConfig};
use crate::store::QueueStatus;
use anyhow::Context;
use std::path::PathBuf;
use std::process::ExitCode;
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
    /// Print the closing summary as JSON.
    #[arg(long)]
    pub json: bool,
}

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
/// `--exit-when-empty`, until nothing is left.
pub(super) fn worker_command(cli: &ArchiveArgs, args: WorkerArgs) -> anyhow::Result<ExitCode> {
    let WorkerArgs {
        read,
        name,
        batch,
        lease,
        exit_when_empty,
        json,
    } = args;
    anyhow::ensure!(lease >= 3, "--lease must be at least 3 seconds");
    let ingest = ingest_config(cli, read)?;
    let host = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
    let config = WorkerConfig {
        name: name.unwrap_or_else(|| format!("{}-{}", host.trim(), std::process::id())),
        batch: batch.unwrap_or(ingest.jobs * 4).max(1),
        lease: Duration::from_secs(lease),
        exit_when_empty,
        poll: Duration::from_secs(2),
        ingest,
    };
    let signals = Signals::install()?;
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
    eprintln!(
        "sohoa: worker {} on {}: claiming {} jobs at a time, {} s leases",
        config.name,
        crate::location::display(&cli.db),
        config.batch,
        lease
    );
    let db = cli.db.clone();
    let summary = worker::work(
        &mut *queue,
        beat_queue,
        &mut *store,
        &config,
        &signals.stop,
        &mut |store| {
            if let Err(e) = crate::authenticity::signing::seal(store, &db) {
                eprintln!("sohoa: warning: tree head not signed ({e}); the next batch signs it");
            }
        },
    )?;
    if json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        println!(
            "worker {}: {} batches, {} jobs done, {} failed, {} queued again; {} pages",
            config.name,
            summary.batches,
            summary.done,
            summary.failed,
            summary.retried,
            summary.pages
        );
    }
    Ok(signals.exit_code().unwrap_or(ExitCode::SUCCESS))
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
