//! The command line: argument parsing and output. `anyhow` lives here and nowhere else.

pub(crate) mod auth;
mod classify;
mod export;
mod find;
mod ingest;
mod migrate;
mod pdf;
mod queue;
mod report;
mod serve;

use crate::store::{Archive, FailureFilter};
use anyhow::bail;
use clap::{Parser, Subcommand, ValueEnum};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

pub use crate::export::{ExportedDocument, OUTPUT_SCHEMA_VERSION};

#[derive(Parser, Debug)]
#[command(
    name = "sohoa",
    version,
    about = "Scanned administrative records in, searchable archive out"
)]
pub struct Cli {
    #[command(flatten)]
    pub archive: ArchiveArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Which archive, taxonomy and keys: flags every command takes.
#[derive(clap::Args, Debug)]
pub struct ArchiveArgs {
    /// The archive database.
    #[arg(long, global = true, env = "SOHOA_DB", default_value = "sohoa.db")]
    pub db: PathBuf,
    /// A procedure taxonomy (JSON) replacing the built-in one (see README).
    #[arg(long, global = true, env = "SOHOA_TAXONOMY", value_name = "FILE")]
    pub taxonomy: Option<PathBuf>,
    /// The directory of the archive's private signing keys [default: <db>.keys].
    #[arg(long, global = true, env = "SOHOA_KEYS", value_name = "DIR")]
    pub keys: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// OCR and store scans (files or directories, walked recursively).
    Ingest(ingest::IngestArgs),
    /// Queue scans (files or directories, walked) as jobs for `sohoa worker`s
    /// (PostgreSQL archives: many machines share one queue).
    Enqueue {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Work the queue: claim jobs, ingest them, repeat (one per machine). SIGTERM stops
    /// it cleanly: what it stored is kept, its unfinished jobs are queued again.
    Worker(queue::WorkerArgs),
    /// Show the queue: pending, running (by worker), done, failed with reasons.
    Queue {
        /// Failures listed (the latest).
        #[arg(long, default_value_t = 20)]
        failures: usize,
        #[arg(long)]
        json: bool,
    },
    /// Move an archive between SQLite and PostgreSQL (either way), with its keys and
    /// kept tree head, and verify the copy.
    Migrate(migrate::MigrateArgs),
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
    Search(find::SearchArgs),
    /// Which procedures answer a question (or keywords): the taxonomy's procedures,
    /// ranked as search ranks documents; no archive is needed.
    Procedures {
        #[arg(num_args = 1..)]
        question: Vec<String>,
        #[arg(long, default_value_t = 10)]
        limit: usize,
        #[arg(long)]
        json: bool,
        /// Show why each procedure ranked where it did.
        #[arg(long)]
        explain: bool,
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
    Serve(serve::ServeArgs),
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
    Verify(auth::VerifyArgs),
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
    Export(export::ExportArgs),
    /// Figures for a quarter, half-year, year or range of days: what was digitized, by
    /// unit, sector, procedure or month, and how well (see README, "Reports").
    Report(report::ReportArgs),
    /// Pages marked to be scanned again (the reports count them).
    Rescan {
        #[command(subcommand)]
        command: report::RescanCommand,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Switch {
    On,
    Off,
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
    let Cli { archive, command } = cli;
    match command {
        Command::Ingest(args) => ingest::run(&archive, args),
        Command::Migrate(args) => migrate::run(args),
        Command::Enqueue { paths } => queue::enqueue_command(&archive, &paths),
        Command::Worker(args) => queue::worker_command(&archive, args),
        Command::Queue { failures, json } => queue::queue_command(&archive, failures, json),
        Command::Search(args) => find::search_command(&archive, args),
        Command::Procedures {
            question,
            limit,
            json,
            explain,
        } => find::procedures_command(&archive, &question.join(" "), limit, json, explain),
        Command::Similar { id, limit, json } => find::similar_command(&archive.db, id, limit, json),
        Command::Show { id, json } => find::show_command(&archive.db, id, json),
        Command::Serve(args) => serve::serve_command(&archive, args),
        Command::Verify(args) => auth::verify_command(&archive.db, &keys_dir(&archive), args),
        Command::Export(args) => export::run(&archive.db, args),
        Command::Runs { limit, json } => {
            let store = open_existing(&archive.db)?;
            ingest::print_runs(&store.runs(limit)?, json)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Failures {
            run,
            warnings,
            json,
        } => {
            let store = open_existing(&archive.db)?;
            ingest::print_failures(&store.failures(&FailureFilter { run, warnings })?, json)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Reindex => {
            let mut store = open_existing(&archive.db)?;
            let started = std::time::Instant::now();
            let documents = store.rebuild_index()?;
            println!(
                "search index rebuilt: {documents} documents in {:.1} s",
                started.elapsed().as_secs_f64()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Classify { command } => classify::run(
            &archive.db,
            &keys_dir(&archive),
            archive.taxonomy.as_deref(),
            command,
        ),
        Command::Keys { command } => auth::keys_command(&archive.db, &keys_dir(&archive), command),
        Command::Users { command } => serve::users_command(&archive.db, command),
        Command::Units { command } => serve::units_command(&archive.db, command),
        Command::Tokens { command } => serve::tokens_command(&archive.db, command),
        Command::Proof { id, since } => {
            auth::proof_command(&archive.db, &keys_dir(&archive), id, since.as_deref())
        }
        Command::VerifyProof {
            proof,
            public_key,
            file,
        } => auth::verify_proof_command(&proof, &public_key, file.as_deref()),
        Command::TreeHead => auth::tree_head_command(&archive.db),
        Command::Report(args) => report::report_command(&archive.db, args),
        Command::Rescan { command } => report::rescan_command(&archive.db, command),
        Command::Pdf { id, output } => {
            let store = open_existing(&archive.db)?;
            pdf::write_document(&*store, id, &output)?;
            println!("sohoa: wrote {}", output.display());
            Ok(ExitCode::SUCCESS)
        }
    }
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
    if !crate::location::is_database_url(db) && !db.exists() {
        bail!(
            "no archive at {} (run `sohoa ingest` first, or pass --db)",
            crate::location::display(db)
        );
    }
    Ok(crate::store::open(db)?)
}

/// Where the archive's private signing keys are.
fn keys_dir(archive: &ArchiveArgs) -> PathBuf {
    auth::keys_dir(&archive.db, archive.keys.as_deref())
}
