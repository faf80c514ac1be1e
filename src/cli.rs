//! The command line: argument parsing and output. `anyhow` lives here and nowhere else.

use crate::load::OcrMode;
use crate::pipeline::{self, Failure, IngestConfig, IngestSummary, Progress};
use crate::query::Query;
use crate::snippet::snippet;
use crate::store::{SqliteStore, Store, StoredDocument};
use anyhow::{Context, bail};
use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Version of the `export` and `--json` output schemas; bumped on incompatible change.
pub const OUTPUT_SCHEMA_VERSION: u32 = 1;

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
    },
    /// Search the archive; words match with or without Vietnamese marks.
    Search {
        /// Words, "exact phrases", prefix*, a OR b, -excluded.
        #[arg(required = true, num_args = 1..)]
        query: Vec<String>,
        #[arg(long, default_value_t = 10)]
        limit: usize,
        #[arg(long, default_value_t = 0)]
        offset: usize,
        #[arg(long)]
        json: bool,
    },
    /// Show one document with every page's text.
    Show {
        id: i64,
        #[arg(long)]
        json: bool,
    },
    /// Write every document as one JSON line.
    Export {
        #[arg(long, value_enum, default_value_t = ExportFormat::Jsonl)]
        format: ExportFormat,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ExportFormat {
    Jsonl,
}

/// Exit codes: 0 all good, 1 some files failed, 2 nothing could run.
pub fn run(cli: Cli) -> ExitCode {
    match dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("sohoa: error: {e:#}");
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
        } => {
            let mut config = IngestConfig {
                lang,
                ocr,
                command: std::env::args().collect::<Vec<_>>().join(" "),
                ..IngestConfig::default()
            };
            if let Some(jobs) = jobs {
                if jobs == 0 {
                    bail!("--jobs must be at least 1");
                }
                config.jobs = jobs;
            }
            ingest(&cli.db, &paths, &config, quiet, json)
        }
        Command::Search {
            query,
            limit,
            offset,
            json,
        } => {
            let store = open_existing(&cli.db)?;
            search(&store, &query.join(" "), limit, offset, json)
        }
        Command::Show { id, json } => {
            let store = open_existing(&cli.db)?;
            let Some(doc) = store.document(id)? else {
                bail!("no document with id {id} in {}", cli.db.display());
            };
            let mut out = std::io::stdout().lock();
            if json {
                serde_json::to_writer_pretty(&mut out, &ExportedDocument::new(doc))?;
                writeln!(out)?;
            } else {
                print_document(&mut out, &doc)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Export {
            format: ExportFormat::Jsonl,
        } => {
            let store = open_existing(&cli.db)?;
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            store.each_document(&mut |doc| {
                serde_json::to_writer(&mut out, &ExportedDocument::new(doc))
                    .map_err(std::io::Error::from)?;
                writeln!(out)?;
                Ok(())
            })?;
            out.flush()?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn open_existing(db: &Path) -> anyhow::Result<SqliteStore> {
    if !db.exists() {
        bail!(
            "no archive at {} (run `sohoa ingest` first, or pass --db)",
            db.display()
        );
    }
    Ok(SqliteStore::open(db)?)
}

fn ingest(
    db: &Path,
    paths: &[PathBuf],
    config: &IngestConfig,
    quiet: bool,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let mut store = SqliteStore::open(db)?;
    let show_bar = !quiet && !json && std::io::stderr().is_terminal();
    let summary = if show_bar {
        pipeline::ingest(paths, &mut store, config, &mut BarProgress::new())?
    } else {
        pipeline::ingest(paths, &mut store, config, &mut pipeline::SilentProgress)?
    };
    if json {
        #[derive(Serialize)]
        struct JsonSummary<'a> {
            schema_version: u32,
            database: String,
            #[serde(flatten)]
            summary: &'a IngestSummary,
        }
        let out = JsonSummary {
            schema_version: OUTPUT_SCHEMA_VERSION,
            database: db.display().to_string(),
            summary: &summary,
        };
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print_summary(db, &summary);
    }
    Ok(if summary.has_failures() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn print_summary(db: &Path, s: &IngestSummary) {
    let documents = s.documents_ok + s.documents_partial + s.documents_failed;
    println!(
        "Ingested {documents} documents, {} pages ({} OCR, {} text layer, {} empty, {} failed) in {:.1} s: {:.1} pages/min",
        s.pages,
        s.pages_ocr,
        s.pages_text_layer,
        s.pages_empty,
        s.pages_failed,
        s.elapsed_seconds,
        s.pages_per_minute
    );
    print!(
        "  ok {}, partial {}, failed {}",
        s.documents_ok, s.documents_partial, s.documents_failed
    );
    if s.skipped_not_scans > 0 {
        print!(", skipped {} files that are not scans", s.skipped_not_scans);
    }
    println!();
    if let Some(c) = s.mean_confidence {
        println!("  mean OCR confidence {c:.1}%");
    }
    for f in &s.failures {
        println!("  failed: {}: {}", f.path, f.reason);
    }
    println!("  database: {}", db.display());
}

/// The indicatif bar on a terminal.
struct BarProgress {
    bar: ProgressBar,
    pages: u64,
    failed: u64,
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
        let failed = if self.failed > 0 {
            format!(", {} failed", self.failed)
        } else {
            String::new()
        };
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
        self.update_message();
    }
    fn failure(&mut self, failure: &Failure) {
        self.bar
            .suspend(|| eprintln!("sohoa: {}: {}", failure.path, failure.reason));
    }
    fn finish(&mut self) {
        self.bar.finish_and_clear();
    }
}

#[derive(Serialize)]
struct JsonHit {
    id: i64,
    path: String,
    page: u32,
    score: f64,
    snippet: String,
    /// Character offsets of highlighted words in `snippet`.
    highlights: Vec<(usize, usize)>,
}

fn search(
    store: &dyn Store,
    text: &str,
    limit: usize,
    offset: usize,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let query = Query::parse(text).with_context(|| format!("cannot search for {text:?}"))?;
    let results = store.search(&query, limit, offset)?;
    let terms = query.highlight_terms();
    let mut out = std::io::stdout().lock();
    if json {
        #[derive(Serialize)]
        struct JsonResults {
            schema_version: u32,
            query: String,
            total: usize,
            offset: usize,
            hits: Vec<JsonHit>,
        }
        let hits = results
            .hits
            .into_iter()
            .map(|h| {
                let s = snippet(&h.page_text, &terms);
                JsonHit {
                    id: h.document_id,
                    path: h.path,
                    page: h.page,
                    score: h.score,
                    snippet: s.text,
                    highlights: s.highlights,
                }
            })
            .collect();
        let body = JsonResults {
            schema_version: OUTPUT_SCHEMA_VERSION,
            query: text.to_owned(),
            total: results.total,
            offset,
            hits,
        };
        serde_json::to_writer_pretty(&mut out, &body)?;
        writeln!(out)?;
        return Ok(ExitCode::SUCCESS);
    }
    let (open, close) = if std::io::stdout().is_terminal() {
        ("\x1b[1;33m", "\x1b[0m")
    } else {
        ("«", "»")
    };
    writeln!(
        out,
        "{} document{} match {text:?}{}",
        results.total,
        if results.total == 1 { "" } else { "s" },
        if results.total > results.hits.len() + offset || offset > 0 {
            format!(" (showing {}–{})", offset + 1, offset + results.hits.len())
        } else {
            String::new()
        }
    )?;
    for (i, hit) in results.hits.iter().enumerate() {
        let s = snippet(&hit.page_text, &terms);
        writeln!(
            out,
            "{:>3}. [{}] {} (page {}, score {:.2})\n     {}",
            offset + i + 1,
            hit.document_id,
            hit.path,
            hit.page,
            hit.score,
            s.marked(open, close)
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// A document as `export` and `show --json` write it. Documented in README; add
/// fields freely, never rename or remove them without bumping the schema version.
#[derive(Serialize)]
struct ExportedDocument {
    schema_version: u32,
    #[serde(flatten)]
    doc: StoredDocument,
}

impl ExportedDocument {
    fn new(doc: StoredDocument) -> ExportedDocument {
        ExportedDocument {
            schema_version: OUTPUT_SCHEMA_VERSION,
            doc,
        }
    }
}

fn print_document(out: &mut impl Write, doc: &StoredDocument) -> std::io::Result<()> {
    writeln!(out, "Document {}: {}", doc.id, doc.path)?;
    writeln!(out, "  status:    {}", doc.status.as_str())?;
    if let Some(e) = &doc.error {
        writeln!(out, "  error:     {e}")?;
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
        writeln!(out, "{}", page.text)?;
    }
    Ok(())
}
