//! The command line: argument parsing and output. `anyhow` lives here and nowhere else.

pub(crate) mod auth;
mod classify;
mod pdf;
mod serve;

use crate::classify::DEFAULT_REVIEW_BELOW;
use crate::filters::Filters;
use crate::load::{Limits, OcrMode};
use crate::pipeline::{self, Failure, IngestConfig, IngestError, IngestSummary, Progress};
use crate::search::SearchRequest;
use crate::store::{
    Archive, FailureFilter, FailureRecord, RunRecord, SortOrder, Store, StoredDocument,
};
use anyhow::{Context, bail};
use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

pub use crate::export::{ExportedDocument, OUTPUT_SCHEMA_VERSION};

#[derive(Parser, Debug)]
#[command(
    name = "sohoa",
    version,
    about = "Scanned administrative records in, searchable archive out"
)]
pub struct Cli {
    /// The archive database.
    #[arg(long, global = true, env = "SOHOA_DB", default_value = "sohoa.db")]
    pub db: PathBuf,
    /// A procedure taxonomy (JSON) replacing the built-in one (see README).
    #[arg(long, global = true, env = "SOHOA_TAXONOMY", value_name = "FILE")]
    pub taxonomy: Option<PathBuf>,
    /// The directory of the archive's private signing keys [default: <db>.keys].
    #[arg(long, global = true, env = "SOHOA_KEYS", value_name = "DIR")]
    pub keys: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// OCR and store scans (files or directories, walked recursively).
    Ingest {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// OCR worker threads (default: number of cores).
        #[arg(long, short = 'j')]
        jobs: Option<usize>,
        /// Tesseract languages.
        #[arg(long, default_value = "vie+eng")]
        lang: String,
        /// auto: OCR pages without a visible text layer; force: OCR every page image; skip: no OCR.
        #[arg(long, value_enum, default_value_t = OcrMode::Auto)]
        ocr: OcrMode,
        /// No progress bar, only the final summary.
        #[arg(long, short = 'q')]
        quiet: bool,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
        /// Also write the run's report (the JSON summary) to FILE, for monitoring.
        #[arg(long, value_name = "FILE")]
        report: Option<PathBuf>,
        /// Read again every file whose last attempt failed, even if unchanged.
        #[arg(long)]
        retry_failed: bool,
        /// Refuse images larger than this many pixels (checked before decoding).
        #[arg(long, value_name = "PIXELS", default_value_t = Limits::default().max_pixels)]
        max_pixels: u64,
        /// Refuse documents with more pages than this.
        #[arg(long, value_name = "PAGES", default_value_t = Limits::default().max_pages)]
        max_pages: usize,
        /// Refuse files larger than this many MiB (checked before reading).
        #[arg(long, value_name = "MIB", default_value_t = Limits::default().max_file_bytes >> 20)]
        max_file_mib: u64,
        /// Seconds a page may spend in OCR before it is recorded as failed.
        #[arg(long, value_name = "SECONDS", default_value_t = pipeline::DEFAULT_PAGE_TIME_LIMIT.as_secs_f64())]
        page_timeout: f64,
        /// Flag documents classified with less confidence than this for review.
        #[arg(long, value_name = "CONFIDENCE", default_value_t = DEFAULT_REVIEW_BELOW)]
        review_below: f32,
        /// Page preparation before OCR: orientation, deskew, resolution, clean-up of poor
        /// scans, blank pages (off: pages go to OCR as decoded).
        #[arg(long, value_enum, default_value_t = Switch::On)]
        prepare: Switch,
        /// Also write a searchable PDF of every stored document into DIR.
        #[arg(long, value_name = "DIR")]
        pdf_out: Option<PathBuf>,
        /// The unit owning every document of this run (else found from each issuer).
        #[arg(long, value_name = "CODE")]
        unit: Option<String>,
    },
    /// List recent ingest runs.
    Runs {
        #[arg(long, default_value_t = 20)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// List failed files and pages, documents with no readable text, and content lost,
    /// with their reasons.
    Failures {
        /// Only this run's failures.
        #[arg(long)]
        run: Option<i64>,
        /// Also list repairs: files read in full after their structure was rebuilt.
        #[arg(long)]
        warnings: bool,
        #[arg(long)]
        json: bool,
    },
    /// Search the archive; words match with or without Vietnamese marks.
    Search {
        /// Words, "exact phrases", prefix*, a OR b, -excluded, and filters written inline:
        /// sector: procedure: type: number: agency: id: date:FROM..TO (may be left out
        /// when filters are given: the filtered documents are listed, newest first).
        #[arg(num_args = 0..)]
        query: Vec<String>,
        #[command(flatten)]
        filters: Filters,
        /// relevance (default; filters alone list newest first) or date (newest first).
        #[arg(long, value_enum, default_value_t = SortArg::Relevance)]
        sort: SortArg,
        #[arg(long, default_value_t = 10)]
        limit: usize,
        #[arg(long, default_value_t = 0)]
        offset: usize,
        #[arg(long)]
        json: bool,
    },
    /// Documents most like document ID.
    Similar {
        id: i64,
        #[arg(long, default_value_t = 10)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// Rebuild the search index from the database (after restoring or moving files).
    Reindex,
    /// Show one document with every page's text.
    Show {
        id: i64,
        #[arg(long)]
        json: bool,
    },
    /// Write a searchable PDF of a document: its original page images under an
    /// invisible text layer at the OCR words' positions (PDF/A-2b).
    Pdf {
        id: i64,
        /// The PDF to write.
        #[arg(long, short = 'o', value_name = "FILE")]
        output: PathBuf,
    },
    /// The archive's signing keys: create, show, rotate.
    Keys {
        #[command(subcommand)]
        command: auth::KeysCommand,
    },
    /// Serve the web interface for records staff, the JSON API and public verification.
    Serve {
        /// Address to listen on (port 0 picks a free one; the address is printed).
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: std::net::SocketAddr,
        /// Reverse proxies (addresses or CIDR networks) whose Forwarded or
        /// X-Forwarded-For header names the client; from anyone else it is ignored.
        #[arg(long = "trusted-proxy", value_name = "CIDR", num_args = 1..)]
        trusted_proxies: Vec<crate::serve::Cidr>,
        /// Seconds a client has to send a request's headers.
        #[arg(long, value_name = "SECONDS", default_value_t = crate::serve::ConnectionConfig::default().header_read_timeout.as_secs())]
        header_timeout: u64,
        /// Connections open at once, in all.
        #[arg(long, value_name = "N", default_value_t = crate::serve::ConnectionConfig::default().max_connections)]
        max_connections: usize,
        /// Connections open at once from one address (trusted proxies excepted).
        #[arg(long, value_name = "N", default_value_t = crate::serve::ConnectionConfig::default().max_connections_per_address)]
        max_connections_per_address: usize,
    },
    /// The province's units (departments, districts, communes) that own documents.
    Units {
        #[command(subcommand)]
        command: serve::UnitsCommand,
    },
    /// Staff accounts of the web service.
    Users {
        #[command(subcommand)]
        command: serve::UsersCommand,
    },
    /// API tokens for other systems.
    Tokens {
        #[command(subcommand)]
        command: serve::TokensCommand,
    },
    /// Check the whole archive against its signed log (or one verification code).
    Verify {
        /// Do not re-read and re-hash the source files.
        #[arg(long)]
        no_files: bool,
        /// Answer whether the record with this verification code exists and is intact.
        #[arg(long)]
        code: Option<String>,
        /// A tree head saved earlier (`sohoa tree-head`): the log must extend it.
        #[arg(long = "tree-head", value_name = "FILE")]
        tree_heads: Vec<PathBuf>,
        /// Also trust this public key (hex, or a .pub file).
        #[arg(long = "public-key", value_name = "KEY")]
        public_keys: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// Write a self-contained proof that document ID's record is in the signed log
    /// (or, with --since, that the log only grew since an older tree head).
    Proof {
        id: Option<i64>,
        #[arg(long, value_name = "TREE_HEAD.json")]
        since: Option<PathBuf>,
    },
    /// Check a proof offline, with nothing but the archive's public key.
    VerifyProof {
        proof: PathBuf,
        /// The archive's public key (hex, or its .pub file).
        #[arg(long = "public-key", value_name = "KEY")]
        public_key: String,
        /// The scan the proof is about: its bytes must be the archived source.
        #[arg(long)]
        file: Option<PathBuf>,
    },
    /// Print the latest signed tree head (keep it to audit the archive later).
    TreeHead,
    /// File documents by sector and procedure: correct, retrain, evaluate, re-run.
    Classify {
        #[command(subcommand)]
        command: classify::ClassifyCommand,
    },
    /// Write every document as one JSON line; or, as ALTO XML 4 or hOCR, one file per
    /// page into a directory (every current document, or one with --document)
    Export {
        #[arg(long, value_enum, default_value_t = ExportFormat::Jsonl)]
        format: ExportFormat,
        /// Where the ALTO or hOCR files go (created if missing): DOCID-PAGE.alto.xml or
        /// DOCID-PAGE.hocr.html
        #[arg(long, value_name = "DIR", required_if_eq_any = [("format", "alto"), ("format", "hocr")])]
        dir: Option<PathBuf>,
        /// Only this document's pages (ALTO and hOCR)
        #[arg(long, value_name = "ID")]
        document: Option<i64>,
        /// JSON lines: also each OCR'd page's words, in reading order, with their boxes
        /// (in the pixels of the image OCR read), confidences, block, line and table cell
        #[arg(long)]
        words: bool,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ExportFormat {
    /// One JSON line per document (every version), to stdout.
    Jsonl,
    /// ALTO XML 4.2, one file per page.
    Alto,
    /// hOCR 1.2 (XHTML), one file per page.
    Hocr,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Switch {
    On,
    Off,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SortArg {
    Relevance,
    Date,
}

/// Exit codes: 0 all good, 1 some files failed, 2 nothing could run.
pub fn run(cli: Cli) -> ExitCode {
    match dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            let hint = e
                .chain()
                .find_map(|cause| cause.downcast_ref::<crate::store::StoreError>())
                .and_then(|store| store.hint())
                .map_or(String::new(), |h| format!(" ({h})"));
            eprintln!("sohoa: error: {e:#}{hint}");
            ExitCode::from(2)
        }
    }
}

fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Ingest {
            paths,
            jobs,
            lang,
            ocr,
            quiet,
            json,
            report,
            retry_failed,
            max_pixels,
            max_pages,
            max_file_mib,
            page_timeout,
            review_below,
            prepare,
            pdf_out,
            unit,
        } => {
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
                command: std::env::args().collect::<Vec<_>>().join(" "),
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
            let output = IngestOutput {
                quiet,
                json,
                report,
                pdf_out,
            };
            let keys = auth::keys_dir(&cli.db, cli.keys.as_deref());
            ingest(&cli.db, &keys, &paths, &config, &output)
        }
        Command::Runs { limit, json } => {
            let store = open_existing(&cli.db)?;
            print_runs(&store.runs(limit)?, json)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Failures {
            run,
            warnings,
            json,
        } => {
            let store = open_existing(&cli.db)?;
            print_failures(&store.failures(&FailureFilter { run, warnings })?, json)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Search {
            query,
            filters,
            sort,
            limit,
            offset,
            json,
        } => {
            let mut store = open_existing(&cli.db)?;
            let taxonomy = classify::load_taxonomy(cli.taxonomy.as_deref())?;
            let mut request = SearchRequest::build(&query.join(" "), &filters, &taxonomy)?
                .paged(limit, offset)?;
            request.sort = match sort {
                SortArg::Relevance => SortOrder::Relevance,
                SortArg::Date => SortOrder::Date,
            };
            make_searchable(&mut *store);
            search(&*store, &request, json)
        }
        Command::Similar { id, limit, json } => {
            let mut store = open_existing(&cli.db)?;
            if store.document(id)?.is_none() {
                bail!("no document with id {id} in {}", cli.db.display());
            }
            make_searchable(&mut *store);
            let hits = crate::search::similar(&*store, id, limit)?;
            let mut out = std::io::stdout().lock();
            if json {
                serde_json::to_writer_pretty(
                    &mut out,
                    &serde_json::json!({"schema_version": OUTPUT_SCHEMA_VERSION, "id": id, "hits": hits}),
                )?;
                writeln!(out)?;
            } else {
                writeln!(out, "{} documents like {id}", hits.len())?;
                print_hits(&mut out, &hits, 0, true, ("«", "»"))?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Reindex => {
            let mut store = open_existing(&cli.db)?;
            let started = std::time::Instant::now();
            let documents = store.rebuild_index()?;
            println!(
                "search index rebuilt: {documents} documents in {:.1} s",
                started.elapsed().as_secs_f64()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Classify { command } => classify::run(
            &cli.db,
            &auth::keys_dir(&cli.db, cli.keys.as_deref()),
            cli.taxonomy.as_deref(),
            command,
        ),
        Command::Keys { command } => auth::keys_command(
            &cli.db,
            &auth::keys_dir(&cli.db, cli.keys.as_deref()),
            command,
        ),
        Command::Serve {
            addr,
            trusted_proxies,
            header_timeout,
            max_connections,
            max_connections_per_address,
        } => serve::serve_command(
            &cli.db,
            &auth::keys_dir(&cli.db, cli.keys.as_deref()),
            cli.taxonomy.as_deref(),
            addr,
            crate::serve::ConnectionConfig {
                trusted_proxies,
                header_read_timeout: std::time::Duration::from_secs(header_timeout.max(1)),
                max_connections: max_connections.max(1),
                max_connections_per_address: max_connections_per_address.max(1),
            },
        ),
        Command::Users { command } => serve::users_command(&cli.db, command),
        Command::Units { command } => serve::units_command(&cli.db, command),
        Command::Tokens { command } => serve::tokens_command(&cli.db, command),
        Command::Verify {
            no_files,
            code,
            tree_heads,
            public_keys,
            json,
        } => auth::verify_command(
            &cli.db,
            &auth::keys_dir(&cli.db, cli.keys.as_deref()),
            auth::VerifyArgs {
                no_files,
                code,
                tree_heads,
                public_keys,
                json,
            },
        ),
        Command::Proof { id, since } => auth::proof_command(
            &cli.db,
            &auth::keys_dir(&cli.db, cli.keys.as_deref()),
            id,
            since.as_deref(),
        ),
        Command::VerifyProof {
            proof,
            public_key,
            file,
        } => auth::verify_proof_command(&proof, &public_key, file.as_deref()),
        Command::TreeHead => auth::tree_head_command(&cli.db),
        Command::Show { id, json } => {
            let store = open_existing(&cli.db)?;
            let Some(doc) = store.document(id)? else {
                bail!("no document with id {id} in {}", cli.db.display());
            };
            let code = auth::current_code(&*store, id)?;
            let mut out = std::io::stdout().lock();
            if json {
                let mut exported = ExportedDocument::new(doc);
                exported.verification_code = code;
                serde_json::to_writer_pretty(&mut out, &exported)?;
                writeln!(out)?;
            } else {
                print_document(&mut out, &doc)?;
                writeln!(
                    out,
                    "  verification code: {}",
                    code.as_deref().unwrap_or("- (not signed yet)")
                )?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Pdf { id, output } => {
            let store = open_existing(&cli.db)?;
            pdf::write_document(&*store, id, &output)?;
            println!("sohoa: wrote {}", output.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Export {
            format: format @ (ExportFormat::Alto | ExportFormat::Hocr),
            dir,
            document,
            ..
        } => {
            let store = open_existing(&cli.db)?;
            let dir = dir.expect("clap requires --dir for alto and hocr");
            let written = write_layout_files(&*store, format, &dir, document)?;
            println!("sohoa: wrote {written} page files to {}", dir.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Export {
            format: ExportFormat::Jsonl,
            words,
            ..
        } => {
            let store = open_existing(&cli.db)?;
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            store.each_document(&mut |doc| {
                let layout = if words {
                    let words = store.page_words(doc.id).map_err(std::io::Error::other)?;
                    Some(crate::ocr_xml::page_words(&doc, words))
                } else {
                    None
                };
                let mut exported = ExportedDocument::new(doc);
                exported.layout = layout;
                serde_json::to_writer(&mut out, &exported).map_err(std::io::Error::from)?;
                writeln!(out)?;
                Ok(())
            })?;
            out.flush()?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Writes ALTO or hOCR files, one per page, for one document or every current one.
fn write_layout_files(
    store: &dyn Archive,
    format: ExportFormat,
    dir: &Path,
    document: Option<i64>,
) -> anyhow::Result<usize> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut written = 0;
    let mut write_document = |doc: &crate::store::StoredDocument| -> anyhow::Result<()> {
        let words = store.page_words(doc.id)?;
        for page in crate::ocr_xml::document_pages(doc, &words) {
            let (text, ext) = match format {
                ExportFormat::Alto => (crate::ocr_xml::alto(&page), "alto.xml"),
                _ => (crate::ocr_xml::hocr(&page), "hocr.html"),
            };
            let path = dir.join(format!("{}-{:04}.{ext}", doc.id, page.page));
            std::fs::write(&path, text)
                .with_context(|| format!("cannot write {}", path.display()))?;
            written += 1;
        }
        Ok(())
    };
    match document {
        Some(id) => {
            let doc = store
                .document(id)?
                .ok_or_else(|| anyhow::anyhow!("no document {id}"))?;
            write_document(&doc)?;
        }
        None => {
            let mut failed = None;
            store.each_document(&mut |doc| {
                if doc.current
                    && failed.is_none()
                    && let Err(e) = write_document(&doc)
                {
                    failed = Some(e);
                }
                Ok(())
            })?;
            if let Some(e) = failed {
                return Err(e);
            }
        }
    }
    Ok(written)
}

/// Applies stored changes the index has not seen yet (after a crash, or changes made
/// while another process held the index). Best effort: a search still runs on what is
/// indexed when another process is writing or the files are read-only.
fn make_searchable(store: &mut dyn Archive) {
    if let Err(e) = store.flush_index() {
        eprintln!(
            "sohoa: warning: search index not updated ({e}); results may miss recent documents"
        );
    }
}

pub(crate) fn open_existing(db: &Path) -> anyhow::Result<Box<dyn Archive>> {
    if !db.exists() {
        bail!(
            "no archive at {} (run `sohoa ingest` first, or pass --db)",
            db.display()
        );
    }
    Ok(crate::store::open(db)?)
}

struct IngestOutput {
    quiet: bool,
    json: bool,
    report: Option<PathBuf>,
    /// Searchable PDFs of the run's documents go here.
    pdf_out: Option<PathBuf>,
}

/// Ctrl-C and SIGTERM stop the run cleanly; a second one exits at once.
struct Signals {
    stop: Arc<AtomicBool>,
    sigint: Arc<AtomicBool>,
    sigterm: Arc<AtomicBool>,
}

impl Signals {
    fn install() -> anyhow::Result<Signals> {
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
    fn exit_code(&self) -> Option<ExitCode> {
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
        database: db.display().to_string(),
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

fn print_runs(runs: &[RunRecord], json: bool) -> anyhow::Result<()> {
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

fn print_failures(failures: &[FailureRecord], json: bool) -> anyhow::Result<()> {
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
    println!("  database: {}", db.display());
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

fn search(store: &dyn Store, request: &SearchRequest, json: bool) -> anyhow::Result<ExitCode> {
    let response = crate::search::run(store, request)?;
    let mut out = std::io::stdout().lock();
    if json {
        let body = crate::search::SearchOutput::new(OUTPUT_SCHEMA_VERSION, request, &response);
        serde_json::to_writer_pretty(&mut out, &body)?;
        writeln!(out)?;
        return Ok(ExitCode::SUCCESS);
    }
    let (open, close) = if std::io::stdout().is_terminal() {
        ("\x1b[1;33m", "\x1b[0m")
    } else {
        ("«", "»")
    };
    let shown = response.hits.len();
    writeln!(
        out,
        "{} document{} match {}{}{}",
        response.total,
        if response.total == 1 { "" } else { "s" },
        if request.query.is_none() {
            "the filters".to_owned()
        } else {
            format!("{:?}", request.text)
        },
        if response.total > shown + request.offset || request.offset > 0 {
            format!(
                " (showing {}–{})",
                request.offset + 1,
                request.offset + shown
            )
        } else {
            String::new()
        },
        approximate_note(&response.hits)
    )?;
    print_hits(
        &mut out,
        &response.hits,
        request.offset,
        request.query.is_some(),
        (open, close),
    )?;
    let facets = &response.facets;
    if response.total > 0 {
        let line = |counts: &std::collections::BTreeMap<String, u64>| {
            let mut v: Vec<(&String, &u64)> = counts.iter().collect();
            v.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            v.iter()
                .take(8)
                .map(|(k, n)| format!("{k} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        writeln!(out, "\nBy sector: {}", line(&facets.sector))?;
        writeln!(out, "By type:   {}", line(&facets.doc_type))?;
        writeln!(out, "By year:   {}", line(&facets.year))?;
        writeln!(out, "By agency: {}", line(&facets.agency))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Says how many results are approximate (words matched allowing OCR errors): exact
/// matches come first and are not marked.
fn approximate_note(hits: &[crate::search::Hit]) -> String {
    let approximate = hits.iter().filter(|h| h.approximate).count();
    match (hits.len() - approximate, approximate) {
        (_, 0) => String::new(),
        (0, _) => " — approximate: no exact match, words matched allowing OCR errors".into(),
        (exact, approximate) => format!(
            " — {exact} exact, then {approximate} approximate (words matched allowing OCR errors, ~)"
        ),
    }
}

fn print_hits(
    out: &mut impl Write,
    hits: &[crate::search::Hit],
    offset: usize,
    with_score: bool,
    (open, close): (&str, &str),
) -> std::io::Result<()> {
    for (i, hit) in hits.iter().enumerate() {
        let facts: Vec<String> = [
            hit.doc_type.clone(),
            hit.number.as_ref().map(|n| format!("số {n}")),
            hit.date.clone(),
            hit.sector_name.clone(),
            hit.needs_review.then(|| "needs review".to_owned()),
        ]
        .into_iter()
        .flatten()
        .collect();
        let score = if with_score {
            format!(", score {:.2}", hit.score)
        } else {
            String::new()
        };
        let score = if hit.approximate {
            format!("{score}, approximate ~")
        } else {
            score
        };
        writeln!(
            out,
            "{:>3}. [{}] {} (page {}{score})",
            offset + i + 1,
            hit.id,
            hit.path,
            hit.page,
        )?;
        if !facts.is_empty() {
            writeln!(out, "     {}", facts.join(" · "))?;
        }
        let s = crate::snippet::Snippet {
            text: hit.snippet.clone(),
            highlights: hit.highlights.clone(),
        };
        writeln!(out, "     {}", s.marked(open, close))?;
    }
    Ok(())
}

fn print_document(out: &mut impl Write, doc: &StoredDocument) -> std::io::Result<()> {
    writeln!(out, "Document {}: {}", doc.id, doc.path)?;
    writeln!(out, "  status:    {}", doc.status.as_str())?;
    if let Some(e) = &doc.error {
        writeln!(out, "  error:     {e}")?;
    }
    for warning in &doc.warnings {
        writeln!(out, "  warning:   {warning}")?;
    }
    if let Some(unit) = &doc.unit {
        writeln!(out, "  unit:      {unit}")?;
    }
    writeln!(out, "  format:    {}", doc.format.as_deref().unwrap_or("-"))?;
    writeln!(out, "  sha256:    {}", doc.sha256.as_deref().unwrap_or("-"))?;
    writeln!(
        out,
        "  size:      {} bytes",
        doc.size.map_or("-".into(), |s| s.to_string())
    )?;
    writeln!(out, "  pages:     {}", doc.page_count)?;
    writeln!(out, "  ingested:  {}", doc.ingested_at)?;
    writeln!(
        out,
        "  version:   {} of record {}{}",
        doc.version,
        doc.record_id,
        if doc.current {
            " (current)"
        } else {
            " (superseded: kept as history)"
        }
    )?;
    if doc.versions.len() > 1 {
        for v in &doc.versions {
            writeln!(
                out,
                "             v{} = document {} ingested {}{}",
                v.version,
                v.id,
                v.ingested_at,
                if v.current { ", current" } else { "" }
            )?;
        }
    }
    for location in &doc.locations {
        writeln!(out, "  location:  {location}")?;
    }
    classify::print_analysis(out, doc)?;
    for page in &doc.pages {
        let mut facts = vec![format!("text from {}", page.source.as_str())];
        if let Some(c) = page.confidence {
            facts.push(format!("confidence {c:.1}%"));
        }
        if let (Some(w), Some(h)) = (page.width, page.height) {
            facts.push(format!("{w}x{h} px"));
        }
        if let Some(d) = page.dpi {
            facts.push(format!("{d:.0} dpi"));
        }
        writeln!(out, "\n--- page {} ({}) ---", page.number, facts.join(", "))?;
        if let Some(e) = &page.error {
            writeln!(out, "[error: {e}]")?;
        }
        if let Some(n) = &page.note {
            writeln!(out, "[{n}]")?;
        }
        if let Some(p) = &page.preparation {
            writeln!(out, "[prepared: {}]", p.describe())?;
        }
        writeln!(out, "{}", page.text)?;
    }
    Ok(())
}
