//! Reading the archive from the command line: `search`, `similar`, `show`, and how
//! hits and documents are printed.

use super::{ArchiveArgs, auth, classify, make_searchable, open_existing};
use crate::export::{ExportedDocument, OUTPUT_SCHEMA_VERSION};
use crate::filters::Filters;
use crate::search::SearchRequest;
use crate::store::{SortOrder, Store, StoredDocument};
use anyhow::bail;
use clap::ValueEnum;
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

/// `sohoa search`'s words and flags.
#[derive(clap::Args, Debug)]
pub struct SearchArgs {
    /// Words, "exact phrases", prefix*, a OR b, -excluded, and filters written inline:
    /// sector: procedure: type: number: agency: id: date:FROM..TO (may be left out
    /// when filters are given: the filtered documents are listed, newest first).
    #[arg(num_args = 0..)]
    pub query: Vec<String>,
    #[command(flatten)]
    pub filters: Filters,
    /// relevance (default; filters alone list newest first) or date (newest first).
    #[arg(long, value_enum, default_value_t = SortArg::Relevance)]
    pub sort: SortArg,
    #[arg(long, default_value_t = 10)]
    pub limit: usize,
    #[arg(long, default_value_t = 0)]
    pub offset: usize,
    #[arg(long)]
    pub json: bool,
    /// Show why each result ranked where it did: the syllables, syllable pairs and exact
    /// marks it matched, with their scores.
    #[arg(long)]
    pub explain: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SortArg {
    Relevance,
    Date,
}

pub(super) fn search_command(cli: &ArchiveArgs, args: SearchArgs) -> anyhow::Result<ExitCode> {
    let SearchArgs {
        query,
        filters,
        sort,
        limit,
        offset,
        json,
        explain,
    } = args;
    let mut store = open_existing(&cli.db)?;
    let taxonomy = classify::load_taxonomy(cli.taxonomy.as_deref())?;
    let mut request =
        SearchRequest::build(&query.join(" "), &filters, &taxonomy)?.paged(limit, offset)?;
    request.sort = match sort {
        SortArg::Relevance => SortOrder::Relevance,
        SortArg::Date => SortOrder::Date,
    };
    request.explain = explain;
    make_searchable(&mut *store);
    search(&*store, &request, json)
}

/// `sohoa procedures QUESTION`: the procedures that answer it, best first, each with
/// its code and sector, and the search that lists the archive's documents filed under it.
pub(super) fn procedures_command(
    cli: &ArchiveArgs,
    question: &str,
    limit: usize,
    json: bool,
    explain: bool,
) -> anyhow::Result<ExitCode> {
    if !(1..=crate::search::MAX_LIMIT).contains(&limit) {
        bail!("--limit must be between 1 and {}", crate::search::MAX_LIMIT);
    }
    let taxonomy = classify::load_taxonomy(cli.taxonomy.as_deref())?;
    let finder = crate::store::procedures::ProcedureFinder::new(&taxonomy)?;
    let answer = finder.find(question, limit, explain)?;
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(
            &mut out,
            &serde_json::json!({
                "schema_version": OUTPUT_SCHEMA_VERSION,
                "question": question,
                "read_as_question": answer.question,
                "procedures": answer.procedures,
            }),
        )?;
        writeln!(out)?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(
        out,
        "{} procedures for {question:?}{}",
        answer.procedures.len(),
        if answer.question {
            " (read as a question)"
        } else {
            ""
        }
    )?;
    for (i, p) in answer.procedures.iter().enumerate() {
        writeln!(out, "{:>3}. {} [{}]", i + 1, p.name, p.code)?;
        writeln!(
            out,
            "     {} · documents: sohoa search procedure:{}",
            p.sector_name, p.code
        )?;
        print_why(&mut out, &p.why)?;
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn similar_command(
    db: &Path,
    id: i64,
    limit: usize,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let mut store = open_existing(db)?;
    if store.document(id)?.is_none() {
        bail!(
            "no document with id {id} in {}",
            crate::location::display(db)
        );
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

pub(super) fn show_command(db: &Path, id: i64, json: bool) -> anyhow::Result<ExitCode> {
    let store = open_existing(db)?;
    let Some(doc) = store.document(id)? else {
        bail!(
            "no document with id {id} in {}",
            crate::location::display(db)
        );
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
    if response.question {
        writeln!(
            out,
            "(read as a question: ranked by the words and word pairs matched, not all of them required)"
        )?;
    }
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
        print_why(out, &hit.why)?;
    }
    Ok(())
}

/// `--explain`'s line: the parts of the query matched, with their scores.
fn print_why(out: &mut impl Write, why: &[crate::search::Reason]) -> std::io::Result<()> {
    if why.is_empty() {
        return Ok(());
    }
    let parts: Vec<String> = why
        .iter()
        .map(|r| format!("{} {:.2}", r.part, r.score))
        .collect();
    writeln!(out, "     why: {}", parts.join("; "))
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
