//! `sohoa report` (figures for a period, grouped, in five formats) and `sohoa rescan`
//! (pages marked for scanning again, which the reports count).

use super::open_existing;
use crate::report::{self, GroupBy, Period, ReportFormat, ReportSpec};
use crate::store::Scope;
use anyhow::{Context, bail};
use clap::Subcommand;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    /// 2024-Q3, 2024-H1, 2024, 2024-07, or days FROM..TO (2024-01-15..2024-03-31, both in).
    #[arg(long)]
    pub period: String,
    /// One row per unit, sector, procedure or month.
    #[arg(long, default_value = "unit")]
    pub by: String,
    /// table, csv, json, xlsx or pdf [default: table; from -o's extension when given].
    #[arg(long)]
    pub format: Option<String>,
    /// Write to FILE instead of standard output (xlsx and pdf need one).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Only these units' documents (repeat; default: every unit).
    #[arg(long = "unit", value_name = "CODE")]
    pub units: Vec<String>,
}

#[derive(Subcommand, Debug)]
pub enum RescanCommand {
    /// Mark a page to be scanned again (blurred, cut off, missing a part).
    Mark {
        document: i64,
        page: u32,
        #[arg(long)]
        reason: String,
        /// Who asks (recorded).
        #[arg(long, env = "USER", default_value = "staff")]
        by: String,
    },
    /// Clear a page's mark (scanned again, or marked by mistake).
    Clear { document: i64, page: u32 },
    /// Pages still waiting to be scanned again.
    List {
        #[arg(long)]
        json: bool,
    },
}

fn format_of(args: &ReportArgs) -> anyhow::Result<ReportFormat> {
    if let Some(format) = &args.format {
        return Ok(ReportFormat::parse(format)?);
    }
    let by_extension = args
        .output
        .as_deref()
        .and_then(Path::extension)
        .and_then(|e| e.to_str())
        .and_then(|e| ReportFormat::parse(e).ok());
    Ok(by_extension.unwrap_or(ReportFormat::Table))
}

pub fn report_command(db: &Path, args: ReportArgs) -> anyhow::Result<ExitCode> {
    let period = Period::parse(&args.period)?;
    let by = GroupBy::parse(&args.by)?;
    let format = format_of(&args)?;
    if matches!(format, ReportFormat::Xlsx | ReportFormat::Pdf) && args.output.is_none() {
        bail!("a {format:?} report is a file: give it one with -o FILE");
    }
    let store = open_existing(db)?;
    let units = store.units()?;
    for code in &args.units {
        if !units.iter().any(|u| &u.code == code) {
            bail!("no unit '{code}' (see `sohoa units list`)");
        }
    }
    let scope = if args.units.is_empty() {
        Scope::All
    } else {
        Scope::Units(args.units.clone())
    };
    let spec = ReportSpec { period, by, scope };
    let built = report::build(&*store, &units, &spec, &report::now_text())?;
    let bytes = report::render(&built, format)?;
    match &args.output {
        Some(path) => {
            std::fs::write(path, &bytes)
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!(
                "sohoa: wrote {} ({} report {}, {} rows)",
                path.display(),
                format!("{format:?}").to_lowercase(),
                built.period,
                built.rows.len()
            );
        }
        None => {
            use std::io::Write;
            std::io::stdout().write_all(&bytes)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn rescan_command(db: &Path, command: RescanCommand) -> anyhow::Result<ExitCode> {
    let mut store = open_existing(db)?;
    match command {
        RescanCommand::Mark {
            document,
            page,
            reason,
            by,
        } => {
            if reason.trim().is_empty() {
                bail!("say why the page must be scanned again (--reason)");
            }
            if !store.mark_rescan(document, page, reason.trim(), &by)? {
                bail!("document {document} has no page {page}");
            }
            println!("document {document} page {page}: marked for re-scan");
        }
        RescanCommand::Clear { document, page } => {
            if !store.clear_rescan(document, page)? {
                bail!("document {document} page {page} is not marked for re-scan");
            }
            println!("document {document} page {page}: mark cleared");
        }
        RescanCommand::List { json } => {
            let marks = store.rescans()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&marks)?);
            } else if marks.is_empty() {
                println!("no page is waiting to be scanned again");
            } else {
                for m in marks {
                    println!(
                        "{:>8} p.{:<3} {}  {} ({})",
                        m.document_id, m.page, m.marked_at, m.reason, m.by
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
