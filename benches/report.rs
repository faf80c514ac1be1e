//! Reports at scale (issue 24: a report over a million pages in ≤ 2 s). Builds a
//! synthetic archive (default 1,000,000 pages from a seed, through the store API, no
//! OCR, every record signed), spreads its ingest times over 2025-01-01 … 2026-11-30
//! (the store stamps "now"; the dates are moved afterwards in SQL, which only this
//! benchmark does), then times `report::build` and the file renderers for the periods
//! and groupings staff ask for. Run by `scripts/bench-report [PAGES]`; prints figures,
//! asserts nothing but that the report counted the archive.

use sohoa::load::TextSource;
use sohoa::report::{self, GroupBy, Period, ReportFormat, ReportSpec};
use sohoa::store::{DocStatus, Scope, Unit};
use sohoa::synth::{self, Rng};
use std::path::PathBuf;
use std::time::Instant;

/// Characters per synthetic page, as `benches/search.rs`: the pages table is as large
/// as a real archive's although no report reads it.
const PAGE_CHARS: usize = 1500;
/// Units of a province's archive: departments and districts.
const UNITS: usize = 24;
/// Procedures the documents are filed under.
const PROCEDURES: usize = 400;
/// First and last second of the ingest times (2025-01-01T00:00Z, 2026-11-30T00:00Z).
const FIRST_INGEST: i64 = 1_735_689_600;
const LAST_INGEST: i64 = 1_796_083_200;

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn main() {
    let pages: usize = arg("--pages").map_or(1_000_000, |p| p.parse().expect("--pages N"));
    let seed: u64 = arg("--seed").map_or(11, |s| s.parse().expect("--seed N"));
    let rounds: usize = arg("--rounds").map_or(3, |r| r.parse().expect("--rounds N"));
    let dir = PathBuf::from(arg("--dir").unwrap_or_else(|| "target/bench-report".into()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join(format!("archive-{pages}-{seed}.db"));
    let marker = dir.join(format!("archive-{pages}-{seed}.done"));
    if !marker.exists() {
        build(&dir, &db, pages, seed);
        std::fs::write(&marker, "built\n").unwrap();
    }
    let store = sohoa::store::open(&db).unwrap();
    let units = store.units().unwrap();
    let one_unit = Scope::Units(vec![units[0].code.clone()]);
    let cases: Vec<(&str, GroupBy, Scope)> = vec![
        ("2026-Q3", GroupBy::Unit, Scope::All),
        ("2026-H1", GroupBy::Unit, Scope::All),
        ("2025", GroupBy::Unit, Scope::All),
        ("2025", GroupBy::Sector, Scope::All),
        ("2025", GroupBy::Procedure, Scope::All),
        ("2025", GroupBy::Month, Scope::All),
        ("2025", GroupBy::Unit, one_unit),
        ("2025-01-01..2026-11-30", GroupBy::Unit, Scope::All),
    ];
    println!("report latency ({rounds} rounds each after one warm-up; median and worst):");
    let mut worst_overall: f64 = 0.0;
    for (period, by, scope) in &cases {
        let spec = ReportSpec {
            period: Period::parse(period).unwrap(),
            by: *by,
            scope: scope.clone(),
        };
        let generated = report::now_text();
        let warm = report::build(&*store, &units, &spec, &generated).unwrap();
        assert!(
            warm.total.figures.pages > 0 || warm.total.previous.pages > 0,
            "{period}: the report counted nothing"
        );
        let mut times: Vec<f64> = (0..rounds)
            .map(|_| {
                let started = Instant::now();
                report::build(&*store, &units, &spec, &generated).unwrap();
                started.elapsed().as_secs_f64() * 1000.0
            })
            .collect();
        times.sort_by(f64::total_cmp);
        let worst = *times.last().unwrap();
        worst_overall = worst_overall.max(worst);
        println!(
            "  {period:<24} by {:<9} {:<10} {:>8.0} ms  (worst {worst:.0} ms; {} rows, {} pages digitized)",
            format!("{by:?}"),
            if *scope == Scope::All {
                "all units"
            } else {
                "one unit"
            },
            times[times.len() / 2],
            warm.rows.len(),
            warm.total.figures.pages,
        );
    }
    let spec = ReportSpec {
        period: Period::parse("2025").unwrap(),
        by: GroupBy::Unit,
        scope: Scope::All,
    };
    let built = report::build(&*store, &units, &spec, &report::now_text()).unwrap();
    for format in [ReportFormat::Pdf, ReportFormat::Xlsx, ReportFormat::Csv] {
        let started = Instant::now();
        let bytes = report::render(&built, format).unwrap();
        println!(
            "  render 2025 by unit as {:<5} {:>8.0} ms  ({} KB)",
            format!("{format:?}"),
            started.elapsed().as_secs_f64() * 1000.0,
            bytes.len() / 1024
        );
    }
    println!("worst report: {worst_overall:.0} ms");
}

/// Writes the archive: documents of `UNITS` units (a few unowned), 4% failed and 2%
/// empty files, 8% flagged for review, OCR confidences around 85, then back-dates.
fn build(dir: &std::path::Path, db: &std::path::Path, pages: usize, seed: u64) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    println!("building {pages} pages (seed {seed}) into {}", db.display());
    let started = Instant::now();
    let mut store = sohoa::store::open(db).unwrap();
    let keys = dir.join("keys");
    let _ = std::fs::remove_dir_all(&keys);
    store
        .set_signer(Some(sohoa::authenticity::keys::create(&keys).unwrap()))
        .unwrap();
    let codes: Vec<String> = (0..UNITS).map(|u| format!("DV{u:02}")).collect();
    for (u, code) in codes.iter().enumerate() {
        store
            .put_unit(&Unit {
                code: code.clone(),
                name: format!("Đơn vị số {}", u + 1),
                parent: None,
                issuers: Vec::new(),
            })
            .unwrap();
    }
    let run = store.begin_run("bench-report build").unwrap();
    let mut rng = Rng::new(seed);
    let (mut written, mut index) = (0usize, 0u64);
    let mut batch = Vec::new();
    while written < pages {
        let mut doc = synth::document(&mut rng, index, PAGE_CHARS);
        doc.pages.truncate(pages - written);
        // Units differ in size: the first few hold most of the archive.
        let unit = rng.below(UNITS * 2).min(rng.below(UNITS * 2));
        doc.unit = codes.get(unit).cloned();
        doc.file_mtime = Some(0);
        match rng.below(100) {
            0..=3 => {
                doc.status = DocStatus::Failed;
                doc.error = Some(
                    rng.pick(&[
                        "PDF: damaged cross-reference table",
                        "TIFF: unsupported compression",
                        "image: truncated JPEG data",
                    ])
                    .to_string(),
                );
                doc.pages.clear();
                doc.analysis = None;
            }
            4..=5 => doc.status = DocStatus::Empty,
            _ => {}
        }
        for page in &mut doc.pages {
            page.source = TextSource::Ocr;
            page.confidence = Some(55.0 + rng.below(42) as f32);
        }
        if let Some(analysis) = &mut doc.analysis {
            analysis.classification.needs_review = rng.below(100) < 8;
            // A province's catalog holds about 1,900 procedures; an archive's papers
            // are filed under a few hundred of them.
            let procedure = rng.below(PROCEDURES);
            analysis.classification.procedure_code = Some(format!("1.{procedure:06}"));
            analysis.classification.procedure_name = Some(format!("Thủ tục số {procedure}"));
        }
        written += doc
            .pages
            .len()
            .max(usize::from(doc.status == DocStatus::Failed));
        index += 1;
        batch.push(doc);
        if batch.len() == 500 || written >= pages {
            store.put_documents(run, &batch).unwrap();
            batch.clear();
        }
    }
    for id in (1..index as i64).step_by(97) {
        store.mark_rescan(id, 1, "blurred", "bench").unwrap();
    }
    store
        .finish_run(
            run,
            sohoa::store::RunStatus::Completed,
            &serde_json::json!({}),
        )
        .unwrap();
    drop(store);
    println!(
        "  {index} documents written in {:.0} s; back-dating",
        started.elapsed().as_secs_f64()
    );
    back_date(db, index as i64);
    println!("  built in {:.0} s", started.elapsed().as_secs_f64());
}

/// Spreads the ingest times evenly over the two years by document id, and moves every
/// time that follows from them: arrival (minutes to days before), searchable (a minute
/// after), reviews (opened at ingest, most closed within three weeks), re-scan marks
/// (half cleared), signed records, and a public verification history.
fn back_date(db: &std::path::Path, documents: i64) {
    let sql = rusqlite::Connection::open(db).unwrap();
    let span = LAST_INGEST - FIRST_INGEST;
    sql.execute_batch(&format!(
        "BEGIN;
         UPDATE documents SET
             ingested_at = strftime('%Y-%m-%dT%H:%M:%fZ', {FIRST_INGEST} + id * {span} / {documents}, 'unixepoch'),
             file_mtime = {FIRST_INGEST} + id * {span} / {documents} - (id * 7919) % 172800,
             searchable_at = CASE WHEN status IN ('ok', 'partial')
                 THEN strftime('%Y-%m-%dT%H:%M:%fZ', {FIRST_INGEST} + id * {span} / {documents} + 60 + id % 300, 'unixepoch') END;
         UPDATE reviews SET
             opened_at = (SELECT ingested_at FROM documents d WHERE d.id = reviews.document_id),
             closed_at = CASE WHEN document_id % 5 != 0
                 THEN strftime('%Y-%m-%dT%H:%M:%fZ', unixepoch((SELECT ingested_at FROM documents d WHERE d.id = reviews.document_id)) + 86400 * (document_id % 21), 'unixepoch') END;
         UPDATE rescans SET
             marked_at = (SELECT ingested_at FROM documents d WHERE d.id = rescans.document_id),
             cleared_at = CASE WHEN document_id % 2 = 0
                 THEN strftime('%Y-%m-%dT%H:%M:%fZ', unixepoch((SELECT ingested_at FROM documents d WHERE d.id = rescans.document_id)) + 86400 * 10, 'unixepoch') END;
         UPDATE records SET
             logged_at = (SELECT ingested_at FROM documents d WHERE d.id = records.document_id);
         WITH RECURSIVE day(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM day WHERE n < 1062)
         INSERT OR IGNORE INTO public_verifications (day, document_id, answer, answered)
             SELECT date({FIRST_INGEST} + n * 86400, 'unixepoch'), 1 + (n * 131 + k) % {documents},
                    CASE WHEN k % 9 = 0 THEN 'not-found' ELSE 'intact' END, 1 + k % 4
             FROM day, (SELECT 0 AS k UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3
                        UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 9 UNION ALL SELECT 18);
         COMMIT;
         ANALYZE;"
    ))
    .unwrap();
}
