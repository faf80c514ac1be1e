//! What the periodic reports count (`crate::report`), asked of the store in a few
//! aggregate queries per period: never by reading page text.
//!
//! The SQL is written once for both backends. Each backend runs it through
//! `ReportSql` (statements with `?N` parameters, rows of `copy::Value`), and `Dialect`
//! spells the few things the two databases spell differently. Everything counted per
//! page was summed into the document's row when it was stored (`PageQuality`), so a
//! report over a million pages reads one narrow row per document.

use super::copy::{Kind, Value};
use super::{NewDocument, Scope, StoreError};
use crate::load::TextSource;
use std::collections::BTreeMap;

/// A page whose OCR mean word confidence is under this is counted as low quality:
/// upside-down or badly damaged pages read at ~60, clean typed pages at 90+. Summed per
/// document when it is stored (schema 15 filled in older documents with the same value).
pub const LOW_CONFIDENCE: f32 = 70.0;

/// Hours the reports' calendar is ahead of UTC: Vietnam keeps UTC+7 all year (no
/// daylight saving), and a quarter ends at local midnight, not at 07:00.
pub const REPORT_UTC_OFFSET_HOURS: i64 = 7;

/// What every report figure is grouped by, besides the calendar (months are separate
/// periods, see `crate::report`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportGroup {
    Total,
    Unit,
    Sector,
    Procedure,
}

/// One period asked of the store. Instants are UTC ISO 8601 text, as stored; dates are
/// the local calendar's (`YYYY-MM-DD`), as documents print them.
#[derive(Debug, Clone)]
pub struct ReportQuery {
    /// Local midnight at the start of the period, as a UTC instant (inclusive).
    pub from_instant: String,
    /// Local midnight after the period's last day, as a UTC instant (exclusive).
    pub to_instant: String,
    pub from_date: String,
    /// The day after the last (exclusive).
    pub to_date: String,
    pub group: ReportGroup,
    pub scope: Scope,
}

/// The counts of one group in one period (see README, "Reports", for each definition).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupCounts {
    /// What the store knows the group as (a unit's, sector's or procedure's name).
    pub label: Option<String>,
    pub documents: i64,
    pub pages: i64,
    pub issued_documents: i64,
    pub issued_pages: i64,
    pub with_number: i64,
    pub with_date: i64,
    pub with_agency: i64,
    pub with_subject: i64,
    pub with_sector: i64,
    pub complete: i64,
    pub ocr_pages: i64,
    pub confidence_sum: f64,
    pub low_confidence_pages: i64,
    pub rescan_marked: i64,
    pub rescan_pending: i64,
    pub partial: i64,
    pub failed: i64,
    pub empty: i64,
    /// (status, reason, files), every reason, most frequent first.
    pub problems: Vec<(String, String, i64)>,
    pub reviews_opened: i64,
    pub reviews_closed: i64,
    pub reviews_pending: i64,
    /// When the oldest review still open at the period's end was opened.
    pub oldest_pending_review: Option<String>,
    pub records_signed: i64,
    /// Public verifications answered, by answer (intact, altered, superseded, deleted,
    /// not-found).
    pub verifications: BTreeMap<String, i64>,
    /// Seconds from a file's arrival (its modification time) to its being searchable,
    /// one per document digitized in the period, ascending.
    pub searchable_after: Vec<i64>,
}

impl GroupCounts {
    /// The total of a period's groups (groups share no document), without asking the
    /// store again; kept in order once, at the end.
    pub fn total<'a>(groups: impl IntoIterator<Item = &'a GroupCounts>) -> GroupCounts {
        let mut total = GroupCounts::default();
        for group in groups {
            total.add(group);
        }
        total.restore_order();
        total
    }

    fn add(&mut self, other: &GroupCounts) {
        self.add_flows(other);
        self.reviews_pending += other.reviews_pending;
        self.rescan_pending += other.rescan_pending;
        self.oldest_pending_review = match (
            self.oldest_pending_review.take(),
            &other.oldest_pending_review,
        ) {
            (Some(a), Some(b)) => Some(a.min(b.clone())),
            (a, b) => a.or_else(|| b.clone()),
        };
    }

    /// Adds the counts of the period that follows this one (the months of a quarter,
    /// in order): what happened in either is summed; what is pending at the end is the
    /// later period's.
    pub fn then(&mut self, later: &GroupCounts) {
        self.add_flows(later);
        self.reviews_pending = later.reviews_pending;
        self.rescan_pending = later.rescan_pending;
        self.oldest_pending_review = later.oldest_pending_review.clone();
        self.restore_order();
    }

    /// Reasons most frequent first and times ascending, as the store returns them.
    fn restore_order(&mut self) {
        self.problems
            .sort_by(|a, b| b.2.cmp(&a.2).then_with(|| (&a.0, &a.1).cmp(&(&b.0, &b.1))));
        self.searchable_after.sort_unstable();
    }

    /// Everything but what is pending at the period's end.
    fn add_flows(&mut self, other: &GroupCounts) {
        if self.label.is_none() {
            self.label = other.label.clone();
        }
        for (mine, theirs) in [
            (&mut self.documents, other.documents),
            (&mut self.pages, other.pages),
            (&mut self.issued_documents, other.issued_documents),
            (&mut self.issued_pages, other.issued_pages),
            (&mut self.with_number, other.with_number),
            (&mut self.with_date, other.with_date),
            (&mut self.with_agency, other.with_agency),
            (&mut self.with_subject, other.with_subject),
            (&mut self.with_sector, other.with_sector),
            (&mut self.complete, other.complete),
            (&mut self.ocr_pages, other.ocr_pages),
            (&mut self.low_confidence_pages, other.low_confidence_pages),
            (&mut self.rescan_marked, other.rescan_marked),
            (&mut self.partial, other.partial),
            (&mut self.failed, other.failed),
            (&mut self.empty, other.empty),
            (&mut self.reviews_opened, other.reviews_opened),
            (&mut self.reviews_closed, other.reviews_closed),
            (&mut self.records_signed, other.records_signed),
        ] {
            *mine += theirs;
        }
        self.confidence_sum += other.confidence_sum;
        for (status, reason, files) in &other.problems {
            match self
                .problems
                .iter_mut()
                .find(|(s, r, _)| s == status && r == reason)
            {
                Some(problem) => problem.2 += files,
                None => self.problems.push((status.clone(), reason.clone(), *files)),
            }
        }
        for (answer, answered) in &other.verifications {
            *self.verifications.entry(answer.clone()).or_default() += answered;
        }
        self.searchable_after
            .extend_from_slice(&other.searchable_after);
    }
}

/// A period's counts by group key ("" for the total, a document without a unit, …).
pub type ReportCounts = BTreeMap<String, GroupCounts>;

/// The reports' questions to the store, and the marks they count.
pub trait Reports {
    fn report_counts(&self, query: &ReportQuery) -> Result<ReportCounts, StoreError>;
    /// Pages digitized in the period by local calendar month (`YYYY-MM`) and unit code
    /// ("" for none), for the chart: one query, whatever the period's length.
    fn report_monthly_pages(&self, query: &ReportQuery) -> Result<Vec<MonthlyPages>, StoreError>;
    /// Marks a page of a document for scanning again (blurred, cut, missing): counted
    /// by the reports until cleared. False when the document has no such page.
    fn mark_rescan(
        &mut self,
        document_id: i64,
        page: u32,
        reason: &str,
        by: &str,
    ) -> Result<bool, StoreError>;
    /// Clears a page's mark (scanned again, or marked by mistake); false if unmarked.
    fn clear_rescan(&mut self, document_id: i64, page: u32) -> Result<bool, StoreError>;
    /// Marked pages (document, page, reason, by, when) still waiting, oldest first.
    fn rescans(&self) -> Result<Vec<Rescan>, StoreError>;
    /// Counts one public verification answered today (local calendar), with the
    /// document it was about if any.
    fn count_verification(
        &mut self,
        document_id: Option<i64>,
        answer: &str,
    ) -> Result<(), StoreError>;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonthlyPages {
    pub month: String,
    pub unit: String,
    pub pages: i64,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Rescan {
    pub document_id: i64,
    pub page: u32,
    pub reason: String,
    pub by: String,
    pub marked_at: String,
}

/// What a document's pages add to its row when it is stored.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PageQuality {
    pub ocr_pages: i64,
    pub confidence_sum: f64,
    pub low_confidence_pages: i64,
}

impl PageQuality {
    pub fn of(doc: &NewDocument) -> PageQuality {
        let mut quality = PageQuality::default();
        for page in &doc.pages {
            if let (TextSource::Ocr, Some(confidence)) = (page.source, page.confidence) {
                quality.ocr_pages += 1;
                quality.confidence_sum += f64::from(confidence);
                if confidence < LOW_CONFIDENCE {
                    quality.low_confidence_pages += 1;
                }
            }
        }
        quality
    }
}

/// How the two databases spell what they spell differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::store) enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// `statement` with its `?N` parameters, `{NOW}`, `{TRUE}` and `{UNITS(?N)}` in this
    /// dialect's spelling.
    pub(in crate::store) fn spell(self, statement: &str) -> String {
        let (now, truth) = match self {
            Dialect::Sqlite => ("strftime('%Y-%m-%dT%H:%M:%fZ', 'now')", "1"),
            Dialect::Postgres => (super::pg::NOW, "TRUE"),
        };
        let mut out = statement.replace("{NOW}", now).replace("{TRUE}", truth);
        while let Some(start) = out.find("{UNITS(") {
            let end = start + out[start..].find(")}").expect("{UNITS(?N)} closed");
            let parameter = &out[start + "{UNITS(".len()..end];
            let units = match self {
                Dialect::Sqlite => format!("SELECT value FROM json_each({parameter})"),
                Dialect::Postgres => {
                    format!("SELECT jsonb_array_elements_text(CAST({parameter} AS TEXT)::jsonb)")
                }
            };
            out.replace_range(start..end + 2, &units);
        }
        if self == Dialect::Postgres {
            out = out.replace('?', "$");
        }
        out
    }
}

/// What a backend offers the reports: statements run with parameters, rows read by kind.
pub(in crate::store) trait ReportSql {
    fn dialect(&self) -> Dialect;
    fn report_rows(
        &self,
        statement: &str,
        parameters: &[Value],
        kinds: &[Kind],
    ) -> Result<Vec<Vec<Value>>, StoreError>;
    fn report_execute(&mut self, statement: &str, parameters: &[Value]) -> Result<u64, StoreError>;
}

/// Schema 15 of SQLite archives: per-document page quality and the time a document
/// became searchable (older documents: from their pages, and their ingest time), the
/// review queue's history, re-scan marks, public verifications per day. The threshold
/// in the backfill is `LOW_CONFIDENCE`.
pub(in crate::store) const SQLITE_SCHEMA: &str = r#"
    ALTER TABLE documents ADD COLUMN ocr_pages INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE documents ADD COLUMN confidence_sum REAL NOT NULL DEFAULT 0;
    ALTER TABLE documents ADD COLUMN low_confidence_pages INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE documents ADD COLUMN searchable_at TEXT;
    UPDATE documents SET
        ocr_pages = (SELECT count(*) FROM pages p WHERE p.document_id = documents.id
                     AND p.text_source = 'ocr' AND p.confidence IS NOT NULL),
        confidence_sum = (SELECT COALESCE(sum(p.confidence), 0) FROM pages p
                          WHERE p.document_id = documents.id AND p.text_source = 'ocr'),
        low_confidence_pages = (SELECT count(*) FROM pages p WHERE p.document_id = documents.id
                                AND p.text_source = 'ocr' AND p.confidence < 70),
        searchable_at = CASE WHEN status IN ('ok', 'partial') THEN ingested_at END;
    CREATE INDEX documents_ingested ON documents(ingested_at);
    CREATE TABLE reviews (
        document_id INTEGER PRIMARY KEY REFERENCES documents(id) ON DELETE CASCADE,
        opened_at TEXT NOT NULL,
        closed_at TEXT
    );
    INSERT INTO reviews (document_id, opened_at)
        SELECT document_id, classified_at FROM classifications WHERE needs_review = 1;
    INSERT OR IGNORE INTO reviews (document_id, opened_at, closed_at)
        SELECT k.document_id, d.ingested_at, min(k.at)
        FROM corrections k JOIN documents d ON d.id = k.document_id GROUP BY k.document_id;
    CREATE TABLE rescans (
        document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
        page INTEGER NOT NULL,
        reason TEXT NOT NULL,
        by_user TEXT NOT NULL,
        marked_at TEXT NOT NULL,
        cleared_at TEXT,
        PRIMARY KEY (document_id, page)
    );
    -- Counts per local day: bounded by days x documents asked about, whatever the traffic.
    CREATE TABLE public_verifications (
        day TEXT NOT NULL,
        -- 0 when nothing was found.
        document_id INTEGER NOT NULL,
        answer TEXT NOT NULL,
        answered INTEGER NOT NULL,
        PRIMARY KEY (day, document_id, answer)
    );
"#;

/// Schema 4 of PostgreSQL archives: the same as SQLite's 15.
pub(in crate::store) const POSTGRES_SCHEMA: &str = r#"
    ALTER TABLE documents ADD COLUMN ocr_pages BIGINT NOT NULL DEFAULT 0;
    ALTER TABLE documents ADD COLUMN confidence_sum DOUBLE PRECISION NOT NULL DEFAULT 0;
    ALTER TABLE documents ADD COLUMN low_confidence_pages BIGINT NOT NULL DEFAULT 0;
    ALTER TABLE documents ADD COLUMN searchable_at TEXT;
    UPDATE documents d SET
        ocr_pages = q.ocr_pages, confidence_sum = q.confidence_sum,
        low_confidence_pages = q.low_pages
    FROM (SELECT document_id, count(*) AS ocr_pages, COALESCE(sum(confidence), 0) AS confidence_sum,
                 count(*) FILTER (WHERE confidence < 70) AS low_pages
          FROM pages WHERE text_source = 'ocr' AND confidence IS NOT NULL
          GROUP BY document_id) q
    WHERE q.document_id = d.id;
    UPDATE documents SET searchable_at = ingested_at WHERE status IN ('ok', 'partial');
    CREATE INDEX documents_ingested ON documents(ingested_at);
    CREATE TABLE reviews (
        document_id BIGINT PRIMARY KEY REFERENCES documents(id) ON DELETE CASCADE,
        opened_at TEXT NOT NULL,
        closed_at TEXT
    );
    INSERT INTO reviews (document_id, opened_at)
        SELECT document_id, classified_at FROM classifications WHERE needs_review;
    INSERT INTO reviews (document_id, opened_at, closed_at)
        SELECT k.document_id, min(d.ingested_at), min(k.at)
        FROM corrections k JOIN documents d ON d.id = k.document_id GROUP BY k.document_id
        ON CONFLICT (document_id) DO NOTHING;
    CREATE TABLE rescans (
        document_id BIGINT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
        page BIGINT NOT NULL,
        reason TEXT NOT NULL,
        by_user TEXT NOT NULL,
        marked_at TEXT NOT NULL,
        cleared_at TEXT,
        PRIMARY KEY (document_id, page)
    );
    CREATE TABLE public_verifications (
        day TEXT NOT NULL,
        document_id BIGINT NOT NULL,
        answer TEXT NOT NULL,
        answered BIGINT NOT NULL,
        PRIMARY KEY (day, document_id, answer)
    );
"#;

/// SQLite schema 16 and PostgreSQL 5: the periods of the two figures that are not
/// dated by the documents' ingest time are found by index (a report over a million
/// pages scanned every record and every document's fields, once per period asked).
pub(in crate::store) const REPORT_INDEXES: &str = r#"
    CREATE INDEX records_logged ON records(logged_at);
    CREATE INDEX document_fields_issued ON document_fields(issue_date);
"#;

/// Review bookkeeping after a classification is written (in the same transaction): a
/// model's classification asking for review opens the document's review (again, if it
/// had been closed), any other closes it.
pub(in crate::store) fn review_statement(needs_review: bool) -> &'static str {
    if needs_review {
        "INSERT INTO reviews (document_id, opened_at) VALUES (?1, {NOW})
         ON CONFLICT (document_id) DO UPDATE SET
             opened_at = CASE WHEN reviews.closed_at IS NULL THEN reviews.opened_at
                              ELSE excluded.opened_at END,
             closed_at = NULL"
    } else {
        "UPDATE reviews SET closed_at = {NOW} WHERE document_id = ?1 AND closed_at IS NULL"
    }
}

/// Marks documents searchable when the index applied their changes (up to `?1`).
pub(in crate::store) const MARK_SEARCHABLE: &str = "UPDATE documents SET searchable_at = {NOW}
    WHERE searchable_at IS NULL AND status IN ('ok', 'partial')
      AND id IN (SELECT document_id FROM search_changes WHERE seq <= ?1)";

fn text(value: &str) -> Value {
    Value::Text(value.to_owned())
}

fn int(value: &Value) -> i64 {
    match value {
        Value::Int(i) => *i,
        Value::Real(r) => *r as i64,
        _ => 0,
    }
}

fn real(value: &Value) -> f64 {
    match value {
        Value::Real(r) => *r,
        Value::Int(i) => *i as f64,
        _ => 0.0,
    }
}

fn string(value: &Value) -> Option<String> {
    match value {
        Value::Text(t) => Some(t.clone()),
        _ => None,
    }
}

/// The counts of the group a result row's first column names (the empty key: none).
fn group_of<'a>(counts: &'a mut ReportCounts, row: &[Value]) -> &'a mut GroupCounts {
    counts
        .entry(string(&row[0]).unwrap_or_default())
        .or_default()
}

/// The group key of a document `d` with fields `f` and classification `c`, its label's
/// column, and the joins both need.
fn group_columns(group: ReportGroup) -> (&'static str, &'static str, &'static str) {
    const FIELDS_AND_CLASS: &str = "LEFT JOIN document_fields f ON f.document_id = d.id
                     LEFT JOIN classifications c ON c.document_id = d.id";
    match group {
        ReportGroup::Total => ("''", "CAST(NULL AS TEXT)", FIELDS_AND_CLASS),
        ReportGroup::Unit => (
            "COALESCE(d.unit, '')",
            "u.name",
            "LEFT JOIN document_fields f ON f.document_id = d.id
             LEFT JOIN classifications c ON c.document_id = d.id
             LEFT JOIN units u ON u.code = d.unit",
        ),
        ReportGroup::Sector => ("COALESCE(c.sector, '')", "c.sector_name", FIELDS_AND_CLASS),
        ReportGroup::Procedure => (
            "COALESCE(c.procedure_code, '')",
            "c.procedure_name",
            FIELDS_AND_CLASS,
        ),
    }
}

/// The documents of the scope `?3` (every unit when NULL).
const IN_SCOPE: &str = "(CAST(?3 AS TEXT) IS NULL OR d.unit IN ({UNITS(?3)}))";

impl<T: ReportSql> Reports for T {
    fn report_counts(&self, query: &ReportQuery) -> Result<ReportCounts, StoreError> {
        let dialect = self.dialect();
        let (key, label, joins) = group_columns(query.group);
        let units = query.scope.units_json().map_or(Value::Null, Value::Text);
        let instants = [
            text(&query.from_instant),
            text(&query.to_instant),
            units.clone(),
        ];
        let dates = [text(&query.from_date), text(&query.to_date), units.clone()];
        let mut counts = ReportCounts::new();
        let filled = |column: &str| {
            format!(
                "CAST(SUM(CASE WHEN {column} IS NOT NULL AND {column} != '' THEN 1 ELSE 0 END) AS BIGINT)"
            )
        };
        let sum = |column: &str| format!("CAST(SUM({column}) AS BIGINT)");
        let when = |condition: &str| {
            format!("CAST(SUM(CASE WHEN {condition} THEN 1 ELSE 0 END) AS BIGINT)")
        };

        // Digitized: current documents (not failed or empty) stored in the period.
        let digitized = format!(
            "SELECT {key}, MAX({label}), COUNT(*), {pages}, {number}, {date}, {agency}, {subject},
                    {sector}, {complete}, {ocr}, CAST(SUM(d.confidence_sum) AS DOUBLE PRECISION),
                    {low}, {partial}
             FROM documents d {joins}
             WHERE d.current = {{TRUE}} AND d.status IN ('ok', 'partial')
               AND d.ingested_at >= ?1 AND d.ingested_at < ?2 AND {IN_SCOPE}
             GROUP BY 1",
            pages = sum("d.page_count"),
            number = filled("f.number"),
            date = filled("f.issue_date"),
            agency = filled("f.agency"),
            subject = filled("f.subject"),
            sector = filled("c.sector"),
            complete = when(
                "f.number != '' AND f.issue_date != '' AND f.agency != '' AND f.subject != '' AND c.sector != ''"
            ),
            ocr = sum("d.ocr_pages"),
            low = sum("d.low_confidence_pages"),
            partial = when("d.status = 'partial'"),
        );
        use Kind::{Int, Real, Text};
        let kinds = [
            Text, Text, Int, Int, Int, Int, Int, Int, Int, Int, Int, Real, Int, Int,
        ];
        for row in self.report_rows(&dialect.spell(&digitized), &instants, &kinds)? {
            let g = group_of(&mut counts, &row);
            g.label = string(&row[1]);
            g.documents = int(&row[2]);
            g.pages = int(&row[3]);
            g.with_number = int(&row[4]);
            g.with_date = int(&row[5]);
            g.with_agency = int(&row[6]);
            g.with_subject = int(&row[7]);
            g.with_sector = int(&row[8]);
            g.complete = int(&row[9]);
            g.ocr_pages = int(&row[10]);
            g.confidence_sum = real(&row[11]);
            g.low_confidence_pages = int(&row[12]);
            g.partial = int(&row[13]);
        }

        // Issued: current documents dated (by their own issue date) in the period.
        let issued = format!(
            "SELECT {key}, MAX({label}), COUNT(*), {pages}
             FROM documents d {joins}
             WHERE d.current = {{TRUE}} AND d.status IN ('ok', 'partial')
               AND f.issue_date >= ?1 AND f.issue_date < ?2 AND {IN_SCOPE}
             GROUP BY 1",
            pages = sum("d.page_count"),
        );
        for row in self.report_rows(&dialect.spell(&issued), &dates, &[Text, Text, Int, Int])? {
            let g = group_of(&mut counts, &row);
            g.label = g.label.take().or_else(|| string(&row[1]));
            g.issued_documents = int(&row[2]);
            g.issued_pages = int(&row[3]);
        }

        // Problems: current files stored in the period that failed, are empty or partial.
        let problems = format!(
            "SELECT {key}, d.status, COALESCE(d.error, ''), COUNT(*)
             FROM documents d {joins}
             WHERE d.current = {{TRUE}} AND d.status IN ('failed', 'empty', 'partial')
               AND d.ingested_at >= ?1 AND d.ingested_at < ?2 AND {IN_SCOPE}
             GROUP BY 1, 2, 3
             ORDER BY 4 DESC, 2, 3"
        );
        for row in self.report_rows(
            &dialect.spell(&problems),
            &instants,
            &[Text, Text, Text, Int],
        )? {
            let g = group_of(&mut counts, &row);
            let status = string(&row[1]).unwrap_or_default();
            let files = int(&row[3]);
            match status.as_str() {
                "failed" => g.failed += files,
                "empty" => g.empty += files,
                _ => {}
            }
            let reason = string(&row[2])
                .filter(|r| !r.is_empty())
                .unwrap_or_else(|| match status.as_str() {
                    "empty" => "no readable page".to_owned(),
                    "partial" => "some pages could not be read".to_owned(),
                    _ => "no reason recorded".to_owned(),
                });
            g.problems.push((status, reason, files));
        }

        // Time to searchable, per document digitized in the period.
        let epoch = match dialect {
            Dialect::Sqlite => "CAST(unixepoch(d.searchable_at) AS BIGINT)",
            Dialect::Postgres => {
                "CAST(extract(epoch FROM CAST(d.searchable_at AS TIMESTAMPTZ)) AS BIGINT)"
            }
        };
        let searchable = format!(
            "SELECT {key}, {epoch} - d.file_mtime
             FROM documents d {joins}
             WHERE d.current = {{TRUE}} AND d.status IN ('ok', 'partial')
               AND d.searchable_at IS NOT NULL AND d.file_mtime IS NOT NULL
               AND d.ingested_at >= ?1 AND d.ingested_at < ?2 AND {IN_SCOPE}"
        );
        for row in self.report_rows(&dialect.spell(&searchable), &instants, &[Text, Int])? {
            let g = group_of(&mut counts, &row);
            // A file dated in the future (a wrong scanner clock) waited no time.
            g.searchable_after.push(int(&row[1]).max(0));
        }
        for g in counts.values_mut() {
            g.searchable_after.sort_unstable();
        }

        // Reviews opened or closed in the period, and those still open at its end.
        let reviews = format!(
            "SELECT {key}, MAX({label}),
                    {opened}, {closed}, {pending},
                    MIN(CASE WHEN {is_pending} THEN r.opened_at END)
             FROM reviews r JOIN documents d ON d.id = r.document_id {joins}
             WHERE r.opened_at < ?2 AND (r.closed_at IS NULL OR r.closed_at >= ?1) AND {IN_SCOPE}
             GROUP BY 1",
            opened = when("r.opened_at >= ?1"),
            closed = when("r.closed_at >= ?1 AND r.closed_at < ?2"),
            pending = when("d.current = {TRUE} AND (r.closed_at IS NULL OR r.closed_at >= ?2)"),
            is_pending = "d.current = {TRUE} AND (r.closed_at IS NULL OR r.closed_at >= ?2)",
        );
        for row in self.report_rows(
            &dialect.spell(&reviews),
            &instants,
            &[Text, Text, Int, Int, Int, Text],
        )? {
            let g = group_of(&mut counts, &row);
            g.label = g.label.take().or_else(|| string(&row[1]));
            g.reviews_opened = int(&row[2]);
            g.reviews_closed = int(&row[3]);
            g.reviews_pending = int(&row[4]);
            g.oldest_pending_review = string(&row[5]);
        }

        // Pages marked for re-scan in the period, and marks still waiting at its end.
        let rescans = format!(
            "SELECT {key}, MAX({label}), {marked}, {pending}
             FROM rescans s JOIN documents d ON d.id = s.document_id {joins}
             WHERE s.marked_at < ?2 AND (s.cleared_at IS NULL OR s.cleared_at >= ?1) AND {IN_SCOPE}
             GROUP BY 1",
            marked = when("s.marked_at >= ?1"),
            pending = when("s.cleared_at IS NULL OR s.cleared_at >= ?2"),
        );
        for row in self.report_rows(&dialect.spell(&rescans), &instants, &[Text, Text, Int, Int])? {
            let g = group_of(&mut counts, &row);
            g.label = g.label.take().or_else(|| string(&row[1]));
            g.rescan_marked = int(&row[2]);
            g.rescan_pending = int(&row[3]);
        }

        // Records signed in the period (records outlive deleted documents: those have
        // no group, and only the whole archive's scope counts them).
        let signed = format!(
            "SELECT {key}, COUNT(*)
             FROM records r LEFT JOIN documents d ON d.id = r.document_id {joins}
             WHERE r.logged_at >= ?1 AND r.logged_at < ?2
               AND (CAST(?3 AS TEXT) IS NULL OR d.unit IN ({{UNITS(?3)}}))
             GROUP BY 1"
        );
        for row in self.report_rows(&dialect.spell(&signed), &instants, &[Text, Int])? {
            let g = group_of(&mut counts, &row);
            g.records_signed = int(&row[1]);
        }

        // Public verifications answered on the period's days.
        let verifications = format!(
            "SELECT {key}, v.answer, CAST(SUM(v.answered) AS BIGINT)
             FROM public_verifications v LEFT JOIN documents d ON d.id = v.document_id {joins}
             WHERE v.day >= ?1 AND v.day < ?2
               AND (CAST(?3 AS TEXT) IS NULL OR d.unit IN ({{UNITS(?3)}}))
             GROUP BY 1, 2"
        );
        for row in self.report_rows(&dialect.spell(&verifications), &dates, &[Text, Text, Int])? {
            let g = group_of(&mut counts, &row);
            *g.verifications
                .entry(string(&row[1]).unwrap_or_default())
                .or_default() += int(&row[2]);
        }
        Ok(counts)
    }

    fn report_monthly_pages(&self, query: &ReportQuery) -> Result<Vec<MonthlyPages>, StoreError> {
        let offset = REPORT_UTC_OFFSET_HOURS;
        let month = match self.dialect() {
            Dialect::Sqlite => format!("strftime('%Y-%m', d.ingested_at, '+{offset} hours')"),
            Dialect::Postgres => format!(
                "to_char((CAST(d.ingested_at AS TIMESTAMPTZ) AT TIME ZONE 'UTC') + interval '{offset} hours', 'YYYY-MM')"
            ),
        };
        let statement = format!(
            "SELECT {month}, COALESCE(d.unit, ''), CAST(SUM(d.page_count) AS BIGINT)
             FROM documents d
             WHERE d.current = {{TRUE}} AND d.status IN ('ok', 'partial')
               AND d.ingested_at >= ?1 AND d.ingested_at < ?2 AND {IN_SCOPE}
             GROUP BY 1, 2
             ORDER BY 1, 2"
        );
        let units = query.scope.units_json().map_or(Value::Null, Value::Text);
        let rows = self.report_rows(
            &self.dialect().spell(&statement),
            &[text(&query.from_instant), text(&query.to_instant), units],
            &[Kind::Text, Kind::Text, Kind::Int],
        )?;
        Ok(rows
            .iter()
            .map(|r| MonthlyPages {
                month: string(&r[0]).unwrap_or_default(),
                unit: string(&r[1]).unwrap_or_default(),
                pages: int(&r[2]),
            })
            .collect())
    }

    fn mark_rescan(
        &mut self,
        document_id: i64,
        page: u32,
        reason: &str,
        by: &str,
    ) -> Result<bool, StoreError> {
        let statement = self.dialect().spell(
            "INSERT INTO rescans (document_id, page, reason, by_user, marked_at)
             SELECT p.document_id, p.number, CAST(?3 AS TEXT), CAST(?4 AS TEXT), {NOW}
             FROM pages p
             WHERE p.document_id = ?1 AND p.number = ?2
             ON CONFLICT (document_id, page) DO UPDATE SET reason = excluded.reason,
                 by_user = excluded.by_user, marked_at = excluded.marked_at, cleared_at = NULL",
        );
        let marked = self.report_execute(
            &statement,
            &[
                Value::Int(document_id),
                Value::Int(i64::from(page)),
                text(reason),
                text(by),
            ],
        )?;
        Ok(marked > 0)
    }

    fn clear_rescan(&mut self, document_id: i64, page: u32) -> Result<bool, StoreError> {
        let statement = self.dialect().spell(
            "UPDATE rescans SET cleared_at = {NOW}
             WHERE document_id = ?1 AND page = ?2 AND cleared_at IS NULL",
        );
        let cleared = self.report_execute(
            &statement,
            &[Value::Int(document_id), Value::Int(i64::from(page))],
        )?;
        Ok(cleared > 0)
    }

    fn rescans(&self) -> Result<Vec<Rescan>, StoreError> {
        let rows = self.report_rows(
            "SELECT document_id, page, reason, by_user, marked_at FROM rescans
             WHERE cleared_at IS NULL ORDER BY marked_at, document_id, page",
            &[],
            &[Kind::Int, Kind::Int, Kind::Text, Kind::Text, Kind::Text],
        )?;
        Ok(rows
            .iter()
            .map(|r| Rescan {
                document_id: int(&r[0]),
                page: int(&r[1]) as u32,
                reason: string(&r[2]).unwrap_or_default(),
                by: string(&r[3]).unwrap_or_default(),
                marked_at: string(&r[4]).unwrap_or_default(),
            })
            .collect())
    }

    fn count_verification(
        &mut self,
        document_id: Option<i64>,
        answer: &str,
    ) -> Result<(), StoreError> {
        let day = local_day_now();
        self.report_execute(
            "INSERT INTO public_verifications (day, document_id, answer, answered)
             VALUES (?1, ?2, ?3, 1)
             ON CONFLICT (day, document_id, answer)
             DO UPDATE SET answered = public_verifications.answered + 1",
            &[
                text(&day),
                Value::Int(document_id.unwrap_or(0)),
                text(answer),
            ],
        )
        .map(|_| ())
    }
}

/// Today in the reports' calendar (`REPORT_UTC_OFFSET_HOURS`), `YYYY-MM-DD`.
fn local_day_now() -> String {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let days = (seconds + REPORT_UTC_OFFSET_HOURS * 3600).div_euclid(86_400);
    let (y, m, d) = crate::report::civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spells_each_dialect() {
        let statement = "SELECT 1 WHERE a = {TRUE} AND b IN ({UNITS(?3)}) AND c = ?1";
        assert_eq!(
            Dialect::Sqlite.spell(statement),
            "SELECT 1 WHERE a = 1 AND b IN (SELECT value FROM json_each(?3)) AND c = ?1"
        );
        assert_eq!(
            Dialect::Postgres.spell(statement),
            "SELECT 1 WHERE a = TRUE AND b IN (SELECT jsonb_array_elements_text(CAST($3 AS TEXT)::jsonb)) AND c = $1"
        );
    }
}
