//! `sohoa classify ...`, the taxonomy and classifier as the other commands load them,
//! search filters resolved against the taxonomy, and the analysis part of `show`.

use crate::classify::metrics::{Evaluation, FIELD_NAMES, LabeledDocument};
use crate::classify::{Classifier, ClassifyConfig, DEFAULT_REVIEW_BELOW, Taxonomy, Training};
use crate::fields::Zones;
use crate::ocr::Word;
use crate::pipeline::{analyze, document_text};
use crate::store::{Store, StoredDocument};
use anyhow::{Context, bail};
use clap::Subcommand;
use serde::Serialize;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Subcommand, Debug)]
pub enum ClassifyCommand {
    /// Correct a document's sector (and procedure); the model learns it at the next train.
    Set {
        id: i64,
        /// Sector id or name ("dat-dai", "Đất đai").
        sector: String,
        /// Procedure code or part of its name.
        procedure: Option<String>,
        /// Who made the correction (default: $USER).
        #[arg(long)]
        by: Option<String>,
    },
    /// Retrain from staff corrections and/or labeled files, then re-file every
    /// document not set by staff.
    Train {
        /// Learn from every document staff corrected.
        #[arg(long)]
        from_corrections: bool,
        /// Learn from a JSON-lines file of {"text", "sector"} (repeatable).
        #[arg(long, value_name = "FILE.jsonl")]
        labeled: Vec<PathBuf>,
        #[arg(long, value_name = "CONFIDENCE", default_value_t = DEFAULT_REVIEW_BELOW)]
        review_below: f32,
    },
    /// Measure the classifier and field extraction on a labeled JSON-lines file.
    Eval {
        file: PathBuf,
        /// Ignore what the archive's classifier learned: the taxonomy alone.
        #[arg(long)]
        untrained: bool,
        #[arg(long, value_name = "CONFIDENCE", default_value_t = DEFAULT_REVIEW_BELOW)]
        review_below: f32,
        /// Also list every mistake (document id, expected, found).
        #[arg(long)]
        mistakes: bool,
        #[arg(long)]
        json: bool,
    },
    /// Re-read fields and re-file every document with the current taxonomy and model
    /// (staff corrections stay).
    Run {
        #[arg(long, value_name = "CONFIDENCE", default_value_t = DEFAULT_REVIEW_BELOW)]
        review_below: f32,
    },
}

pub fn load_taxonomy(path: Option<&Path>) -> anyhow::Result<Taxonomy> {
    let Some(path) = path else {
        return Ok(Taxonomy::builtin());
    };
    let json = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read taxonomy {}", path.display()))?;
    Ok(Taxonomy::parse(&json, &path.display().to_string())?)
}

fn check_threshold(review_below: f32) -> anyhow::Result<ClassifyConfig> {
    if !(0.0..=1.0).contains(&review_below) {
        bail!("--review-below must be between 0 and 1 (got {review_below})");
    }
    Ok(ClassifyConfig { review_below })
}

/// The taxonomy plus what the archive's classifier learned.
pub fn build_classifier(
    taxonomy: &Taxonomy,
    store: &dyn Store,
    review_below: f32,
) -> anyhow::Result<Classifier> {
    let config = check_threshold(review_below)?;
    let training = store.training()?;
    Ok(Classifier::new(taxonomy, training.as_ref(), config))
}

pub fn run(
    db: &Path,
    keys: &Path,
    taxonomy: Option<&Path>,
    command: ClassifyCommand,
) -> anyhow::Result<ExitCode> {
    let taxonomy = load_taxonomy(taxonomy)?;
    match command {
        ClassifyCommand::Set {
            id,
            sector,
            procedure,
            by,
        } => {
            let mut store = super::auth::open_signing(db, keys, true)?;
            if store.document(id)?.is_none() {
                bail!(
                    "no document with id {id} in {}",
                    crate::location::display(db)
                );
            }
            let by = by
                .or_else(|| std::env::var("USER").ok())
                .unwrap_or_else(|| "unknown".into());
            let classification = crate::classify::staff_classification(
                &taxonomy,
                &sector,
                procedure.as_deref(),
                &by,
            )?;
            store.correct(id, &classification, &by)?;
            store.flush_index()?;
            super::auth::seal(&mut *store, db)?;
            println!(
                "document {id}: {}{}",
                classification.sector_name,
                classification
                    .procedure_code
                    .as_ref()
                    .zip(classification.procedure_name.as_ref())
                    .map_or(String::new(), |(code, name)| format!(" / {code} {name}"))
            );
            Ok(ExitCode::SUCCESS)
        }
        ClassifyCommand::Train {
            from_corrections,
            labeled,
            review_below,
        } => {
            let config = check_threshold(review_below)?;
            if !from_corrections && labeled.is_empty() {
                bail!("say what to learn from: --from-corrections and/or --labeled FILE.jsonl");
            }
            // Training before the first ingest is fine: the archive starts with it.
            let mut store = super::auth::open_signing(db, keys, false)?;
            let started = std::time::Instant::now();
            let mut training = Training::default();
            let mut sources = Vec::new();
            if from_corrections {
                let corrections = store.corrections()?;
                for c in &corrections {
                    if let Some(doc) = store.document(c.document_id)? {
                        let text = document_text(doc.pages.iter().map(|p| p.text.as_str()));
                        training.add(&c.sector, &text);
                    }
                }
                sources.push(format!("{} staff corrections", corrections.len()));
            }
            for file in &labeled {
                let mut n = 0;
                for_each_labeled(file, &taxonomy, |doc, sector| {
                    training.add(sector, &doc.text);
                    n += 1;
                })?;
                sources.push(format!("{n} documents of {}", file.display()));
            }
            training.description = sources.join(", ");
            let learned = started.elapsed();
            store.put_training(&training)?;
            let classifier = Classifier::new(&taxonomy, Some(&training), config);
            let (documents, changed) = reanalyze_all(&mut *store, &classifier)?;
            super::auth::seal(&mut *store, db)?;
            println!(
                "trained on {} in {:.2} s; re-filed {documents} documents, {changed} changed sector or procedure",
                training.description,
                learned.as_secs_f64()
            );
            Ok(ExitCode::SUCCESS)
        }
        ClassifyCommand::Run { review_below } => {
            let mut store = super::auth::open_signing(db, keys, true)?;
            let classifier = build_classifier(&taxonomy, &*store, review_below)?;
            let (documents, changed) = reanalyze_all(&mut *store, &classifier)?;
            super::auth::seal(&mut *store, db)?;
            println!("re-filed {documents} documents, {changed} changed sector or procedure");
            Ok(ExitCode::SUCCESS)
        }
        ClassifyCommand::Eval {
            file,
            untrained,
            review_below,
            mistakes,
            json,
        } => {
            let config = check_threshold(review_below)?;
            let training = if untrained || !db.exists() {
                None
            } else {
                crate::store::open(db)?.training()?
            };
            let classifier = Classifier::new(&taxonomy, training.as_ref(), config);
            let mut evaluation = Evaluation::default();
            for_each_labeled(&file, &taxonomy, |doc, sector| {
                evaluation.add(&classifier, doc, sector);
            })?;
            if evaluation.sectors.total() == 0 {
                bail!("{}: no labeled documents", file.display());
            }
            let model = match &training {
                Some(t) => format!("taxonomy + {} trained documents", t.document_count()),
                None => "taxonomy only".to_owned(),
            };
            print_evaluation(&file, &model, &evaluation, json)?;
            if mistakes && !json {
                println!("\nmistakes:");
                for m in &evaluation.mistakes {
                    println!("  {m}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Reads a labeled JSON-lines file; every line must parse and name a known sector.
fn for_each_labeled(
    file: &Path,
    taxonomy: &Taxonomy,
    mut visit: impl FnMut(&LabeledDocument, &str),
) -> anyhow::Result<()> {
    let reader = std::io::BufReader::new(
        std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?,
    );
    for (n, line) in reader.lines().enumerate() {
        let line = line.with_context(|| format!("cannot read {}", file.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let doc: LabeledDocument = serde_json::from_str(&line).with_context(|| {
            format!("{} line {}: not a labeled document", file.display(), n + 1)
        })?;
        let sector = taxonomy.find_sector(&doc.sector).with_context(|| {
            format!(
                "{} line {}: no sector {:?} in the taxonomy",
                file.display(),
                n + 1,
                doc.sector
            )
        })?;
        visit(&doc, &sector.id);
    }
    Ok(())
}

/// Re-reads fields and re-files every document; staff classifications stay.
fn reanalyze_all(store: &mut dyn Store, classifier: &Classifier) -> anyhow::Result<(u64, u64)> {
    let ids = store.readable_document_ids()?;
    let (mut documents, mut changed) = (0, 0);
    for id in ids {
        let Some(doc) = store.document(id)? else {
            continue;
        };
        let text = document_text(doc.pages.iter().map(|p| p.text.as_str()));
        let words = store.page_words(id)?;
        let pages: Vec<&[Word]> = words.iter().map(Vec::as_slice).collect();
        let analysis = analyze(classifier, &text, &Zones::of_pages(&pages));
        documents += 1;
        changed += u64::from(store.set_analysis(id, &analysis)?);
    }
    store.flush_index()?;
    Ok((documents, changed))
}

#[derive(Serialize)]
struct EvalJson<'a> {
    file: String,
    model: &'a str,
    documents: u64,
    accuracy: f64,
    macro_f1: f64,
    procedure_accuracy: Option<f64>,
    flagged_for_review: u64,
    flagged_wrong: u64,
    unflagged_wrong: u64,
    fields: std::collections::BTreeMap<&'static str, f64>,
    per_sector: Vec<crate::classify::metrics::ClassScore>,
}

fn print_evaluation(file: &Path, model: &str, e: &Evaluation, json: bool) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    let procedure_accuracy =
        (e.procedures_total > 0).then(|| e.procedures_right as f64 / e.procedures_total as f64);
    let field_rates: std::collections::BTreeMap<&'static str, f64> = e
        .fields
        .iter()
        .map(|(k, (right, total))| (*k, *right as f64 / (*total).max(1) as f64))
        .collect();
    if json {
        let body = EvalJson {
            file: file.display().to_string(),
            model,
            documents: e.sectors.total(),
            accuracy: e.sectors.accuracy(),
            macro_f1: e.sectors.macro_f1(),
            procedure_accuracy,
            flagged_for_review: e.flagged_for_review,
            flagged_wrong: e.flagged_wrong,
            unflagged_wrong: e.unflagged_wrong,
            fields: field_rates,
            per_sector: e.sectors.per_class(),
        };
        serde_json::to_writer_pretty(&mut out, &body)?;
        writeln!(out)?;
        return Ok(());
    }
    writeln!(
        out,
        "{}: {} documents; model: {model}",
        file.display(),
        e.sectors.total()
    )?;
    writeln!(
        out,
        "sector: accuracy {:.3}, macro-F1 {:.3}",
        e.sectors.accuracy(),
        e.sectors.macro_f1()
    )?;
    if let Some(a) = procedure_accuracy {
        writeln!(
            out,
            "procedure: {}/{} right ({a:.3})",
            e.procedures_right, e.procedures_total
        )?;
    }
    writeln!(
        out,
        "flagged for review: {} ({} of them wrong); wrong and not flagged: {}",
        e.flagged_for_review, e.flagged_wrong, e.unflagged_wrong
    )?;
    if !e.fields.is_empty() {
        writeln!(out, "fields, exact match:")?;
        for name in FIELD_NAMES {
            if let Some((right, total)) = e.fields.get(name) {
                writeln!(
                    out,
                    "  {name:<13} {:.3} ({right}/{total})",
                    *right as f64 / (*total).max(1) as f64
                )?;
            }
        }
    }
    let per_class = e.sectors.per_class();
    writeln!(
        out,
        "\n  #  {:<24} {:>7} {:>9} {:>6} {:>6}",
        "sector", "support", "precision", "recall", "F1"
    )?;
    for (i, c) in per_class.iter().enumerate() {
        writeln!(
            out,
            "{:>3}  {:<24} {:>7} {:>9.3} {:>6.3} {:>6.3}",
            i + 1,
            c.label,
            c.support,
            c.precision,
            c.recall,
            c.f1
        )?;
    }
    writeln!(
        out,
        "\nconfusion (rows: true sector #, columns: predicted sector #)"
    )?;
    let labels = e.sectors.labels();
    write!(out, "    ")?;
    for i in 0..labels.len() {
        write!(out, "{:>4}", i + 1)?;
    }
    writeln!(out)?;
    for (i, truth) in labels.iter().enumerate() {
        write!(out, "{:>3} ", i + 1)?;
        for predicted in &labels {
            let n = e.sectors.count(truth, predicted);
            if n == 0 {
                write!(out, "{:>4}", ".")?;
            } else {
                write!(out, "{n:>4}")?;
            }
        }
        writeln!(out)?;
    }
    Ok(())
}

/// The fields and classification part of `show`.
pub fn print_analysis(out: &mut impl Write, doc: &StoredDocument) -> std::io::Result<()> {
    match &doc.classification {
        Some(c) => {
            writeln!(
                out,
                "  sector:    {} ({}), confidence {:.2}, by {}{}",
                c.sector_name,
                c.sector,
                c.confidence,
                c.source.as_str(),
                if c.needs_review { ", NEEDS REVIEW" } else { "" }
            )?;
            if let (Some(code), Some(name)) = (&c.procedure_code, &c.procedure_name) {
                writeln!(out, "  procedure: {code} {name}")?;
            }
            for reason in &c.reasons {
                writeln!(out, "    because: {reason}")?;
            }
        }
        None if doc.status.is_searchable() => {
            writeln!(
                out,
                "  sector:    not classified yet (run `sohoa classify run`)"
            )?;
        }
        None => {}
    }
    if let Some(f) = &doc.fields {
        let rows: [(&str, Option<String>); 8] = [
            (
                "type",
                f.doc_type
                    .as_ref()
                    .map(|t| format!("{t} ({})", f.doc_type_name.as_deref().unwrap_or(""))),
            ),
            (
                "number",
                f.number.as_ref().map(|n| {
                    let parts: Vec<String> = [
                        f.serial.as_ref().map(|s| format!("serial {s}")),
                        f.type_code.as_ref().map(|t| format!("type {t}")),
                        f.issuer_code.as_ref().map(|i| format!("issuer {i}")),
                        f.number_read.as_ref().map(|r| format!("OCR read {r}")),
                    ]
                    .into_iter()
                    .flatten()
                    .collect();
                    format!("{n} ({})", parts.join(", "))
                }),
            ),
            ("date", f.date.clone()),
            ("place", f.place.clone()),
            ("agency", f.agency.clone()),
            ("subject", f.subject.clone()),
            ("signer", f.signer.clone()),
            (
                "ids",
                (!f.citizen_ids.is_empty()).then(|| f.citizen_ids.join(", ")),
            ),
        ];
        for (name, value) in rows {
            if let Some(v) = value {
                writeln!(out, "  {:<10} {v}", format!("{name}:"))?;
            }
        }
        if !f.land_parcels.is_empty() {
            let parcels: Vec<String> = f
                .land_parcels
                .iter()
                .map(|(p, s)| format!("thửa {p}, tờ {s}"))
                .collect();
            writeln!(out, "  parcels:   {}", parcels.join("; "))?;
        }
    }
    Ok(())
}
