//! `sohoa ingest` and the reports of its runs (`runs`, `failures`): flags, the run's
//! configuration, signals, the progress bar and the printed summary.

use super::{ArchiveArgs, Switch, auth, classify, keys_dir, pdf};
use crate::classify::DEFAULT_REVIEW_BELOW;
use crate::export::OUTPUT_SCHEMA_VERSION;
use crate::load::{Limits, OcrMode};
use crate::pipeline::{self, Failure, IngestConfig, IngestError, IngestSummary, Progress};
use crate::store::{FailureRecord, RunRecord};
use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// `sohoa ingest`'s flags.
#[derive(clap::Args, Debug)]
pub struct IngestArgs {
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub read: ReadArgs,
    /// No progress bar, only the final summary.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
    /// Also write the run's report (the JSON summary) to FILE, for monitoring.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Also write a searchable PDF of every stored document into DIR.
    #[arg(long, value_name = "DIR")]
    pub pdf_out: Option<PathBuf>,
}

/// How files are read, OCR'd and filed: the flags `ingest` and `worker` share.
#[derive(clap::Args, Debug)]
pub struct ReadArgs {
    /// OCR worker threads (default: number of cores).
    #[arg(long, short = 'j')]
    pub jobs: Option<usize>,
    /// Tesseract languages.
    #[arg(long, default_value = "vie+eng")]
    pub lang: String,
    /// auto: OCR pages without a visible text layer; force: OCR every page image; skip: no OCR.
    #[arg(long, value_enum, default_value_t = OcrMode::Auto)]
    pub ocr: OcrMode,
    /// Read again every file whose last attempt failed, even if unchanged.
    #[arg(long)]
    pub retry_failed: bool,
    /// Refuse images larger than this many pixels (checked before decoding).
    #[arg(long, value_name = "PIXELS", default_value_t = Limits::default().max_pixels)]
    pub max_pixels: u64,
    /// Refuse documents with more pages than this.
    #[arg(long, value_name = "PAGES", default_value_t = Limits::default().max_pages)]
    pub max_pages: usize,
    /// Refuse files larger than this many MiB (checked before reading).
    #[arg(long, value_name = "MIB", default_value_t = Limits::default().max_file_bytes >> 20)]
    pub max_file_mib: u64,
    /// Seconds a page may spend in OCR before it is recorded as failed.
    #[arg(long, value_name = "SECONDS", default_value_t = pipeline::DEFAULT_PAGE_TIME_LIMIT.as_secs_f64())]
    pub page_timeout: f64,
    /// Flag documents classified with less confidence than this for review.
    #[arg(long, value_name = "CONFIDENCE", default_value_t = DEFAULT_REVIEW_BELOW)]
    pub review_below: f32,
    /// Page preparation before OCR: orientation, deskew, resolution, clean-up of poor
    /// scans, blank pages (off: pages go to OCR as decoded).
    #[arg(long, value_enum, default_value_t = Switch::On)]
    pub prepare: Switch,
    /// The unit owning every document of this run (else found from each issuer).
    #[arg(long, value_name = "CODE")]
    pub unit: Option<String>,
}

/// `sohoa ingest`: checks the flags, builds the run's configuration, runs it.
pub(super) fn run(cli: &ArchiveArgs, args: IngestArgs) -> anyhow::Result<ExitCode> {
    let IngestArgs {
        paths,
        read,
        quiet,
        json,
        report,
        pdf_out,
    } = args;
    let config = ingest_config(cli, read)?;
    let output = IngestOutput {
        quiet,
        json,
        report,
        pdf_out,
    };
    let keys = keys_dir(cli);
    ingest(&cli.db, &keys, &paths, &config, &output)
}

/// The run's configuration from the flags, with the archive's classifier and units.
pub(super) fn ingest_config(cli: &ArchiveArgs, read: ReadArgs) -> anyhow::Result<IngestConfig> {
    let ReadArgs {
        jobs,
        lang,
        ocr,
        retry_failed,
        max_pixels,
        max_pages,
        max_file_mib,
        page_timeout,
        review_below,
        prepare,
        unit,
    } = read;
    if !(page_timeout > 0.0 && page_timeout.is_finite()) {
        bail!("--page-timeout must be a positive number of seconds");
    }
    let (classifier, units) = {
        let store = crate::store::open(&cli.db)?;
        let taxonomy = classify::load_taxonomy(cli.taxonomy.as_deref())?;
        let units = store.units()?;
        if let Some(code) = &unit
            && !units.iter().any(|u| &u.code == code)
        {
            bail!("--unit {code}: no such unit (`sohoa units add` or `sohoa units list`)");
        }
        (
            classify::build_classifier(&taxonomy, &*store, review_below)?,
            units,
        )
    };
    let mut config = IngestConfig {
        lang,
        ocr,
        // Kept in the archive and shown by `sohoa runs`: a database password is not.
        command: std::env::args()
            .map(|arg| crate::location::redact_argument(&arg))
            .collect::<Vec<_>>()
            .join(" "),
        retry_failed,
        page_time_limit: std::time::Duration::from_secs_f64(page_timeout),
        limits: Limits {
            max_pixels,
            max_pages,
            max_file_bytes: max_file_mib.saturating_mul(1 << 20),
            ..Limits::default()
        },
        classifier: Some(Arc::new(classifier)),
        prepare: crate::prepare::PrepareConfig {
            enabled: prepare == Switch::On,
        },
        owner: crate::pipeline::Ownership { unit, units },
        ..IngestConfig::default()
    };
    if let Some(jobs) = jobs {
        if jobs == 0 {
            bail!("--jobs must be at least 1");
        }
        config.jobs = jobs;
    }
    Ok(config)
}

struct IngestOutput {
    quiet: bool,
    json: bool,
    report: Option<PathBuf>,
    /// Searchable PDFs of the run's documents go here.
    pdf_out: Option<PathBuf>,
}

/// Ctrl-C and SIGTERM stop the run cleanly; a second one exits at once.
pub(super) struct Signals {
    pub(super) stop: Arc<AtomicBool>,
    sigint: Arc<AtomicBool>,
    sigterm: Arc<AtomicBool>,
}

impl Signals {
    pub(super) fn install() -> anyhow::Result<Signals> {
        use signal_hook::consts::{SIGINT, SIGTERM};
        use signal_hook::flag;
        let signals = Signals {
            stop: Arc::new(AtomicBool::new(false)),
            sigint: Arc::new(AtomicBool::new(false)),
            sigterm: Arc::new(AtomicBool::new(false)),
        };
        // Registered first, so it sees the flag as the previous signal left it.
        flag::register_conditional_shutdown(SIGINT, 130, Arc::clone(&signals.stop))?;
        flag::register_conditional_shutdown(SIGTERM, 143, Arc::clone(&signals.stop))?;
        flag::register(SIGINT, Arc::clone(&signals.sigint))?;
        flag::register(SIGTERM, Arc::clone(&signals.sigterm))?;
        flag::register(SIGINT, Arc::clone(&signals.stop))?;
        flag::register(SIGTERM, Arc::clone(&signals.stop))?;
        Ok(signals)
    }

    /// 130 after SIGINT, 143 after SIGTERM (128 + signal number, as shells report).
    pub(super) fn exit_code(&self) -> Option<ExitCode> {
        if self.sigterm.load(Ordering::SeqCst) {
            Some(ExitCode::from(143))
        } else if self.sigint.load(Ordering::SeqCst) {
            Some(ExitCode::from(130))
        } else {
            None
        }
    }
}

fn ingest(
    db: &Path,
    keys: &Path,
    paths: &[PathBuf],
    config: &IngestConfig,
    output: &IngestOutput,
) -> anyhow::Result<ExitCode> {
    let signals = Signals::install()?;
    let mut store = crate::store::open(db)?;
    store.lock_for_ingest()?;
    auth::start_signing(&mut *store, keys)?;
    let show_bar = !output.quiet && !output.json && std::io::stderr().is_terminal();
    let result = if show_bar {
        pipeline::ingest(
            paths,
            &mut *store,
            config,
            &mut BarProgress::new(),
            &signals.stop,
        )
    } else {
        pipeline::ingest(
            paths,
            &mut *store,
            config,
            &mut pipeline::SilentProgress,
            &signals.stop,
        )
    };
    let (summary, fatal) = match result {
        Ok(summary) => (summary, None),
        Err(IngestError::StoppedByStore { source, summary }) => (*summary, Some(source)),
        Err(e) => return Err(e.into()),
    };
    // A signed tree head after every run, interrupted ones included.
    if fatal.is_none()
        && let Err(e) = auth::seal(&mut *store, db)
    {
        eprintln!("sohoa: warning: tree head not signed ({e:#}); the next run signs it");
    }
    #[derive(Serialize)]
    struct JsonSummary<'a> {
        schema_version: u32,
        database: String,
        error: Option<String>,
        #[serde(flatten)]
        summary: &'a IngestSummary,
    }
    let report = JsonSummary {
        schema_version: OUTPUT_SCHEMA_VERSION,
        database: crate::location::display(db).to_string(),
        error: fatal.as_ref().map(|e| e.to_string()),
        summary: &summary,
    };
    // Written as it is serialized: the failures list is read back from disk.
    let write_report = |to: &mut dyn std::io::Write| -> std::io::Result<()> {
        serde_json::to_writer_pretty(&mut *to, &report)?;
        writeln!(to)?;
        to.flush()
    };
    if let Some(file) = &output.report {
        std::fs::File::create(file)
            .and_then(|f| write_report(&mut std::io::BufWriter::new(f)))
            .with_context(|| format!("cannot write report {}", file.display()))?;
    }
    if output.json {
        write_report(&mut std::io::stdout().lock())?;
    } else {
        print_summary(db, &summary);
    }
    let mut pdf_failures = 0;
    if let Some(dir) = &output.pdf_out {
        let ids = store.documents_of_run(summary.run_id)?;
        pdf_failures = pdf::write_documents(&*store, &ids, dir)?;
        if !output.json {
            println!(
                "  searchable PDFs: {} written to {}{}",
                ids.len() - pdf_failures,
                dir.display(),
                if pdf_failures > 0 {
                    format!(", {pdf_failures} not (see above)")
                } else {
                    String::new()
                }
            );
        }
    }
    if let Some(e) = fatal {
        let hint = e.hint().map_or(String::new(), |h| format!(" ({h})"));
        eprintln!(
            "sohoa: error: {e}{hint}; everything stored before it is intact, run again to finish"
        );
        return Ok(ExitCode::from(2));
    }
    if let Some(code) = signals.exit_code() {
        eprintln!("sohoa: interrupted; finished documents are kept, run again to finish");
        return Ok(code);
    }
    Ok(if summary.has_failures() || pdf_failures > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

pub(super) fn print_runs(runs: &[RunRecord], json: bool) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, runs)?;
        writeln!(out)?;
        return Ok(());
    }
    writeln!(
        out,
        "{:>5}  {:<24}  {:<11}  {:>8}  {:>6}  {:>5}  {:>9}  arguments",
        "run", "started", "status", "stored", "failed", "empty", "unchanged"
    )?;
    for r in runs {
        let unchanged = r
            .report
            .as_ref()
            .and_then(|v| v.get("unchanged"))
            .and_then(|v| v.as_u64())
            .map_or("-".to_owned(), |n| n.to_string());
        writeln!(
            out,
            "{:>5}  {:<24}  {:<11}  {:>8}  {:>6}  {:>5}  {:>9}  {}",
            r.id,
            r.started_at,
            r.status.as_str(),
            r.documents_stored,
            r.documents_failed,
            r.documents_empty,
            unchanged,
            r.arguments
        )?;
    }
    Ok(())
}

pub(super) fn print_failures(failures: &[FailureRecord], json: bool) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, failures)?;
        writeln!(out)?;
        return Ok(());
    }
    if failures.is_empty() {
        writeln!(out, "no failures")?;
    }
    for f in failures {
        let page = f.page.map_or(String::new(), |p| format!(" page {p}"));
        let run = f.run_id.map_or(String::new(), |r| format!("run {r}, "));
        writeln!(
            out,
            "{}{page}: {}: {} ({run}document {})",
            f.path, f.kind, f.reason, f.document_id
        )?;
    }
    Ok(())
}

fn print_summary(db: &Path, s: &IngestSummary) {
    let documents = s.documents();
    println!(
        "Run {} {}: {documents} new documents, {} pages ({} OCR, {} text layer, {} empty, {} failed) in {:.1} s: {:.1} pages/min",
        s.run_id,
        s.outcome,
        s.pages,
        s.pages_ocr,
        s.pages_text_layer,
        s.pages_empty,
        s.pages_failed,
        s.elapsed_seconds,
        s.pages_per_minute
    );
    println!(
        "  ok {}, partial {}, failed {}, empty {}; repaired {}; unchanged {}, updated {}, relocated {}, retried {}",
        s.documents_ok,
        s.documents_partial,
        s.documents_failed,
        s.documents_empty,
        s.documents_repaired,
        s.unchanged,
        s.updated,
        s.relocated,
        s.retried
    );
    if s.skipped_not_scans > 0 {
        println!("  skipped {} files that are not scans", s.skipped_not_scans);
    }
    if s.not_planned > 0 {
        println!(
            "  not read {} files: the archive could not be asked about them (see above; the next run tries again)",
            s.not_planned
        );
    }
    if s.signing_seconds > 0.0 {
        println!(
            "  records signed and logged in {:.3} s ({:.3} % of the run)",
            s.signing_seconds,
            s.signing_seconds * 100.0 / s.elapsed_seconds.max(f64::EPSILON)
        );
    }
    if let Some(c) = s.mean_confidence {
        println!("  mean OCR confidence {c:.1}%");
    }
    if let Err(e) = s.failures.for_each(|f| println!("  {f}")) {
        eprintln!(
            "sohoa: the run's failures could not all be listed ({e}); `sohoa failures --run {}` lists them",
            s.run_id
        );
    }
    println!("  database: {}", crate::location::display(db));
}

/// The indicatif bar on a terminal.
struct BarProgress {
    bar: ProgressBar,
    pages: u64,
    failed: u64,
    empty: u64,
    started: std::time::Instant,
}

impl BarProgress {
    fn new() -> BarProgress {
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} files  {msg}  ETA {eta}",
            )
            .expect("valid template"),
        );
        BarProgress {
            bar,
            pages: 0,
            failed: 0,
            empty: 0,
            started: std::time::Instant::now(),
        }
    }

    fn update_message(&mut self) {
        let minutes = self.started.elapsed().as_secs_f64() / 60.0;
        let rate = if minutes > 0.0 {
            self.pages as f64 / minutes
        } else {
            0.0
        };
        let mut failed = String::new();
        if self.failed > 0 {
            failed.push_str(&format!(", {} failed", self.failed));
        }
        if self.empty > 0 {
            failed.push_str(&format!(", {} without text", self.empty));
        }
        self.bar
            .set_message(format!("{} pages, {rate:.1} pages/min{failed}", self.pages));
    }
}

impl Progress for BarProgress {
    fn start(&mut self, files: u64) {
        self.bar.set_length(files);
        self.bar
            .enable_steady_tick(std::time::Duration::from_millis(250));
    }
    fn page_done(&mut self) {
        self.pages += 1;
        self.update_message();
    }
    fn document_done(&mut self, summary: &IngestSummary) {
        self.bar.inc(1);
        self.failed = summary.documents_failed + summary.documents_partial;
        self.empty = summary.documents_empty;
        self.update_message();
    }
    fn failure(&mut self, failure: &Failure) {
        self.bar.suspend(|| eprintln!("sohoa: {failure}"));
    }
    fn finish(&mut self) {
        self.bar.finish_and_clear();
    }
}
