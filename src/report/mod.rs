//! Periodic reports (`sohoa report`, `/staff/reports`, `/api/reports`): what each unit
//! digitized in a quarter, half-year, year or any range of days, and how well, with the
//! change against the period before. The counts come from the store in a few aggregate
//! queries (`store::reports`); this module turns them into figures and writes them as a
//! table, CSV or JSON (`xlsx` and `pdf` beside it write the files units attach).

pub mod pdf;
pub mod xlsx;

use crate::store::reports::{
    GroupCounts, REPORT_UTC_OFFSET_HOURS, ReportCounts, ReportGroup, ReportQuery, Reports,
};
use crate::store::{Scope, StoreError, Unit};
use serde::Serialize;
use std::fmt::Write as _;
use thiserror::Error;

#[derive(Debug, Error, PartialEq)]
pub enum ReportError {
    #[error(
        "period '{0}': expected a year (2024), a half (2024-H1), a quarter (2024-Q3), a month (2024-07) or days FROM..TO (2024-01-15..2024-03-31)"
    )]
    Period(String),
    #[error("period '{0}': it ends before it starts")]
    Backwards(String),
    #[error("group '{0}': expected unit, sector, procedure or month")]
    Group(String),
    #[error("format '{0}': expected table, csv, json, xlsx or pdf")]
    Format(String),
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

/// The current time as a report's stamp (UTC, ISO 8601, seconds).
pub fn now_text() -> String {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let rest = seconds.rem_euclid(86_400);
    format!(
        "{}T{:02}:{:02}:{:02}Z",
        date_text(seconds.div_euclid(86_400)),
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

fn date_text(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

fn parse_date(text: &str) -> Option<i64> {
    let mut parts = text.split('-');
    let y: i64 = parts.next()?.parse().ok()?;
    let m: u32 = parts.next()?.parse().ok()?;
    let d: u32 = parts.next()?.parse().ok()?;
    if parts.next().is_some() || !(1..=12).contains(&m) || d == 0 || !(1000..=9999).contains(&y) {
        return None;
    }
    let days = days_from_civil(y, m, d);
    // 2024-02-30 is not a date: it would come back as March 1st.
    (civil_from_days(days) == (y, m, d)).then_some(days)
}

/// What kind of period, for naming it and finding the one before.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PeriodKind {
    Year,
    Half,
    Quarter,
    Month,
    Days,
}

/// A span of local calendar days: `from` inclusive, `to` exclusive (days since 1970).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub kind: PeriodKind,
    pub from: i64,
    pub to: i64,
}

impl Period {
    /// `2024`, `2024-H1`, `2024-Q3`, `2024-07`, or `2024-01-15..2024-03-31` (both days in).
    pub fn parse(text: &str) -> Result<Period, ReportError> {
        let wrong = || ReportError::Period(text.to_owned());
        let text = text.trim();
        if let Some((from, to)) = text.split_once("..") {
            let from = parse_date(from.trim()).ok_or_else(wrong)?;
            let to = parse_date(to.trim()).ok_or_else(wrong)? + 1;
            if to <= from {
                return Err(ReportError::Backwards(text.to_owned()));
            }
            return Ok(Period {
                kind: PeriodKind::Days,
                from,
                to,
            });
        }
        let (year, part) = match text.split_once('-') {
            Some((y, p)) => (y, Some(p)),
            None => (text, None),
        };
        let year: i64 = year
            .parse()
            .ok()
            .filter(|y| (1000..=9999).contains(y))
            .ok_or_else(wrong)?;
        let months = |first: u32, count: u32, kind| {
            let from = days_from_civil(year, first, 1);
            let (end_year, end_month) = if first + count > 12 {
                (year + 1, first + count - 12)
            } else {
                (year, first + count)
            };
            Period {
                kind,
                from,
                to: days_from_civil(end_year, end_month, 1),
            }
        };
        let part = part.map(str::to_ascii_uppercase);
        Ok(match part.as_deref() {
            None => months(1, 12, PeriodKind::Year),
            Some("H1") => months(1, 6, PeriodKind::Half),
            Some("H2") => months(7, 6, PeriodKind::Half),
            Some(q) if q.len() == 2 && q.starts_with('Q') => {
                let n: u32 = q[1..]
                    .parse()
                    .ok()
                    .filter(|n| (1..=4).contains(n))
                    .ok_or_else(wrong)?;
                months(3 * n - 2, 3, PeriodKind::Quarter)
            }
            Some(m) if m.len() == 2 => {
                let n: u32 = m
                    .parse()
                    .ok()
                    .filter(|n| (1..=12).contains(n))
                    .ok_or_else(wrong)?;
                months(n, 1, PeriodKind::Month)
            }
            Some(_) => return Err(wrong()),
        })
    }

    /// The period just before, of the same kind (a quarter's is the quarter before; a
    /// range of days', as many days before it).
    pub fn previous(&self) -> Period {
        let (y, m, _) = civil_from_days(self.from);
        let back = |months: u32| {
            let total = y * 12 + i64::from(m) - 1 - i64::from(months);
            days_from_civil(total.div_euclid(12), (total.rem_euclid(12) + 1) as u32, 1)
        };
        let from = match self.kind {
            PeriodKind::Year => back(12),
            PeriodKind::Half => back(6),
            PeriodKind::Quarter => back(3),
            PeriodKind::Month => back(1),
            PeriodKind::Days => self.from - (self.to - self.from),
        };
        Period {
            kind: self.kind,
            from,
            to: self.from,
        }
    }

    /// The calendar months the period touches, each cut to the period.
    pub fn months(&self) -> Vec<Period> {
        let mut out = Vec::new();
        let mut start = self.from;
        while start < self.to {
            let (y, m, _) = civil_from_days(start);
            let next = if m == 12 {
                days_from_civil(y + 1, 1, 1)
            } else {
                days_from_civil(y, m + 1, 1)
            };
            out.push(Period {
                kind: PeriodKind::Month,
                from: start,
                to: next.min(self.to),
            });
            start = next;
        }
        out
    }

    pub fn first_day(&self) -> String {
        date_text(self.from)
    }

    pub fn last_day(&self) -> String {
        date_text(self.to - 1)
    }

    /// How people name it: `2024`, `2024-H1`, `2024-Q3`, `2024-07`, `2024-01-15..2024-03-31`.
    pub fn name(&self) -> String {
        let (y, m, _) = civil_from_days(self.from);
        match self.kind {
            PeriodKind::Year => format!("{y}"),
            PeriodKind::Half => format!("{y}-H{}", if m <= 6 { 1 } else { 2 }),
            PeriodKind::Quarter => format!("{y}-Q{}", m.div_ceil(3)),
            PeriodKind::Month if self.to - self.from >= 28 => format!("{y}-{m:02}"),
            _ => format!("{}..{}", self.first_day(), self.last_day()),
        }
    }

    /// The store's question for this period.
    fn query(&self, group: ReportGroup, scope: &Scope) -> ReportQuery {
        // Local midnight is 17:00 UTC of the day before.
        let instant = |days: i64| {
            let seconds = days * 86_400 - REPORT_UTC_OFFSET_HOURS * 3600;
            let day = seconds.div_euclid(86_400);
            let rest = seconds.rem_euclid(86_400);
            format!(
                "{}T{:02}:{:02}:00.000Z",
                date_text(day),
                rest / 3600,
                rest % 3600 / 60
            )
        };
        ReportQuery {
            from_instant: instant(self.from),
            to_instant: instant(self.to),
            from_date: date_text(self.from),
            to_date: date_text(self.to),
            group,
            scope: scope.clone(),
        }
    }
}

/// Rows of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GroupBy {
    Unit,
    Sector,
    Procedure,
    Month,
}

impl GroupBy {
    pub fn parse(text: &str) -> Result<GroupBy, ReportError> {
        Ok(match text.trim().to_ascii_lowercase().as_str() {
            "unit" | "units" => GroupBy::Unit,
            "sector" | "sectors" => GroupBy::Sector,
            "procedure" | "procedures" => GroupBy::Procedure,
            "month" | "months" => GroupBy::Month,
            _ => return Err(ReportError::Group(text.to_owned())),
        })
    }
}

/// How a report is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    Table,
    Csv,
    Json,
    Xlsx,
    Pdf,
}

impl ReportFormat {
    pub fn parse(text: &str) -> Result<ReportFormat, ReportError> {
        Ok(match text.trim().to_ascii_lowercase().as_str() {
            "table" | "text" => ReportFormat::Table,
            "csv" => ReportFormat::Csv,
            "json" => ReportFormat::Json,
            "xlsx" => ReportFormat::Xlsx,
            "pdf" => ReportFormat::Pdf,
            _ => return Err(ReportError::Format(text.to_owned())),
        })
    }

    pub fn content_type(self) -> &'static str {
        match self {
            ReportFormat::Table => "text/plain; charset=utf-8",
            ReportFormat::Csv => "text/csv; charset=utf-8",
            ReportFormat::Json => "application/json",
            ReportFormat::Xlsx => {
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            }
            ReportFormat::Pdf => "application/pdf",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            ReportFormat::Table => "txt",
            ReportFormat::Csv => "csv",
            ReportFormat::Json => "json",
            ReportFormat::Xlsx => "xlsx",
            ReportFormat::Pdf => "pdf",
        }
    }
}

/// The figures of one group in one period (README, "Reports", defines each).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Figures {
    pub documents: i64,
    pub pages: i64,
    pub issued_documents: i64,
    pub issued_pages: i64,
    /// Shares of the documents digitized, in [0, 1] (None without documents).
    pub complete_metadata: Option<f64>,
    pub with_number: Option<f64>,
    pub with_date: Option<f64>,
    pub with_agency: Option<f64>,
    pub with_subject: Option<f64>,
    pub with_sector: Option<f64>,
    pub ocr_pages: i64,
    pub mean_confidence: Option<f64>,
    pub low_confidence_pages: i64,
    pub rescan_marked: i64,
    pub rescan_pending: i64,
    pub partial_files: i64,
    pub failed_files: i64,
    pub empty_files: i64,
    /// The most frequent reasons: status, reason, files.
    pub problems: Vec<Problem>,
    pub reviews_opened: i64,
    pub reviews_closed: i64,
    pub reviews_pending: i64,
    pub oldest_pending_review: Option<String>,
    /// Days the oldest pending review had waited at the period's end.
    pub oldest_pending_days: Option<i64>,
    pub records_signed: i64,
    pub verifications_answered: i64,
    pub verifications_intact: i64,
    pub verifications_not_found: i64,
    pub searchable_median_seconds: Option<i64>,
    pub searchable_p95_seconds: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Problem {
    pub status: String,
    pub reason: String,
    pub files: i64,
}

fn share(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// Nearest-rank percentile of ascending values.
fn percentile(sorted: &[i64], p: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

impl Figures {
    fn from_counts(g: &GroupCounts, period_end: i64) -> Figures {
        let oldest_pending_days = g.oldest_pending_review.as_deref().and_then(|at| {
            let opened = parse_date(at.get(..10)?)?;
            Some((period_end - opened).max(0))
        });
        let answered: i64 = g.verifications.values().sum();
        Figures {
            documents: g.documents,
            pages: g.pages,
            issued_documents: g.issued_documents,
            issued_pages: g.issued_pages,
            complete_metadata: share(g.complete, g.documents),
            with_number: share(g.with_number, g.documents),
            with_date: share(g.with_date, g.documents),
            with_agency: share(g.with_agency, g.documents),
            with_subject: share(g.with_subject, g.documents),
            with_sector: share(g.with_sector, g.documents),
            ocr_pages: g.ocr_pages,
            mean_confidence: (g.ocr_pages > 0).then(|| g.confidence_sum / g.ocr_pages as f64),
            low_confidence_pages: g.low_confidence_pages,
            rescan_marked: g.rescan_marked,
            rescan_pending: g.rescan_pending,
            partial_files: g.partial,
            failed_files: g.failed,
            empty_files: g.empty,
            problems: g
                .problems
                .iter()
                .take(PROBLEM_REASONS)
                .map(|(status, reason, files)| Problem {
                    status: status.clone(),
                    reason: reason.clone(),
                    files: *files,
                })
                .collect(),
            reviews_opened: g.reviews_opened,
            reviews_closed: g.reviews_closed,
            reviews_pending: g.reviews_pending,
            oldest_pending_review: g.oldest_pending_review.clone(),
            oldest_pending_days,
            records_signed: g.records_signed,
            verifications_answered: answered,
            verifications_intact: g.verifications.get("intact").copied().unwrap_or(0),
            verifications_not_found: g.verifications.get("not-found").copied().unwrap_or(0),
            searchable_median_seconds: percentile(&g.searchable_after, 0.5),
            searchable_p95_seconds: percentile(&g.searchable_after, 0.95),
        }
    }
}

/// A figure against the period before: the difference, and the ratio when it has one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub documents: i64,
    pub documents_percent: Option<f64>,
    pub pages: i64,
    pub pages_percent: Option<f64>,
    /// Points of the complete-metadata share (0.05 = 5 points).
    pub complete_metadata: Option<f64>,
    pub mean_confidence: Option<f64>,
    pub failed_files: i64,
    pub reviews_pending: i64,
}

impl Change {
    fn between(now: &Figures, before: &Figures) -> Change {
        let percent = |a: i64, b: i64| (b > 0).then(|| (a - b) as f64 / b as f64 * 100.0);
        let difference = |a: Option<f64>, b: Option<f64>| Some(a? - b?);
        Change {
            documents: now.documents - before.documents,
            documents_percent: percent(now.documents, before.documents),
            pages: now.pages - before.pages,
            pages_percent: percent(now.pages, before.pages),
            complete_metadata: difference(now.complete_metadata, before.complete_metadata),
            mean_confidence: difference(now.mean_confidence, before.mean_confidence),
            failed_files: now.failed_files - before.failed_files,
            reviews_pending: now.reviews_pending - before.reviews_pending,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportRow {
    /// The unit's or sector's code, the procedure's code, or the month (`2024-07`); ""
    /// for documents without one.
    pub key: String,
    pub label: String,
    pub figures: Figures,
    /// The same figures for the period before (for a month: the month before).
    pub previous: Figures,
    pub change: Change,
}

impl ReportRow {
    /// Code and name (`STP – Sở Tư pháp`), or the name alone when they are the same.
    pub fn name(&self) -> String {
        if self.key.is_empty() || self.key == self.label {
            self.label.clone()
        } else {
            format!("{} – {}", self.key, self.label)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub period: String,
    pub first_day: String,
    pub last_day: String,
    pub previous_period: String,
    pub by: GroupBy,
    /// The units it covers; None for the whole archive.
    pub units: Option<Vec<String>>,
    pub generated_at: String,
    pub rows: Vec<ReportRow>,
    pub total: ReportRow,
    /// Pages digitized in each month of the period, by unit (for the charts).
    pub monthly: Vec<MonthPages>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MonthPages {
    pub month: String,
    /// By unit code ("" for documents of no unit).
    pub pages: std::collections::BTreeMap<String, i64>,
}

/// What to report.
#[derive(Debug, Clone)]
pub struct ReportSpec {
    pub period: Period,
    pub by: GroupBy,
    pub scope: Scope,
}

/// The calendar month a period starts in, as the store names months (`YYYY-MM`).
fn month_key(period: &Period) -> String {
    let (y, m, _) = civil_from_days(period.from);
    format!("{y:04}-{m:02}")
}

/// Failure reasons shown per group (the rest are in the counts).
const PROBLEM_REASONS: usize = 5;

fn no_key_label(by: GroupBy) -> &'static str {
    match by {
        GroupBy::Unit => "(không thuộc đơn vị nào)",
        GroupBy::Sector => "(chưa phân loại)",
        GroupBy::Procedure => "(không gắn thủ tục)",
        GroupBy::Month => "",
    }
}

/// Builds the report from the store's counts: one set of aggregate queries for the
/// period and one for the period before (a month report: one per month), and one for
/// the chart. Totals are summed from the groups, never asked again (a report over a
/// million pages: `scripts/bench-report`).
pub fn build(
    store: &dyn Reports,
    units: &[Unit],
    spec: &ReportSpec,
    generated_at: &str,
) -> Result<Report, StoreError> {
    let period = spec.period;
    let previous = period.previous();
    let counts_of =
        |p: &Period, group: ReportGroup| store.report_counts(&p.query(group, &spec.scope));
    let sum = |counts: &ReportCounts| GroupCounts::total(counts.values());
    let row = |key: String, label: String, figures: Figures, previous: Figures| ReportRow {
        change: Change::between(&figures, &previous),
        key,
        label,
        figures,
        previous,
    };
    let mut rows = Vec::new();
    let (total_now, total_before);
    if spec.by == GroupBy::Month {
        let months = period.months();
        let mut before = sum(&counts_of(&months[0].previous(), ReportGroup::Total)?);
        let mut whole: Option<GroupCounts> = None;
        for month in months {
            let counts = sum(&counts_of(&month, ReportGroup::Total)?);
            rows.push(row(
                month.name(),
                month.name(),
                Figures::from_counts(&counts, month.to),
                Figures::from_counts(&before, month.previous().to),
            ));
            match &mut whole {
                Some(whole) => whole.then(&counts),
                None => whole = Some(counts.clone()),
            }
            before = counts;
        }
        total_now = whole.unwrap_or_default();
        total_before = sum(&counts_of(&previous, ReportGroup::Total)?);
    } else {
        let group = match spec.by {
            GroupBy::Unit => ReportGroup::Unit,
            GroupBy::Sector => ReportGroup::Sector,
            _ => ReportGroup::Procedure,
        };
        let now = counts_of(&period, group)?;
        let before = counts_of(&previous, group)?;
        let mut keys: Vec<&String> = now.keys().chain(before.keys()).collect();
        keys.sort();
        keys.dedup();
        for key in keys {
            let label = if key.is_empty() {
                no_key_label(spec.by).to_owned()
            } else if spec.by == GroupBy::Unit {
                units
                    .iter()
                    .find(|u| &u.code == key)
                    .map_or_else(|| key.clone(), |u| u.name.clone())
            } else {
                now.get(key)
                    .and_then(|g| g.label.clone())
                    .or_else(|| before.get(key).and_then(|g| g.label.clone()))
                    .unwrap_or_else(|| key.clone())
            };
            let empty = GroupCounts::default();
            rows.push(row(
                key.clone(),
                label,
                Figures::from_counts(now.get(key).unwrap_or(&empty), period.to),
                Figures::from_counts(before.get(key).unwrap_or(&empty), previous.to),
            ));
        }
        // Most digitized first; the unowned and unclassified last.
        rows.sort_by(|a, b| {
            (a.key.is_empty(), -a.figures.pages, &a.key).cmp(&(
                b.key.is_empty(),
                -b.figures.pages,
                &b.key,
            ))
        });
        total_now = sum(&now);
        total_before = sum(&before);
    }
    let chart = store.report_monthly_pages(&period.query(ReportGroup::Unit, &spec.scope))?;
    let monthly = period
        .months()
        .iter()
        .map(|month| {
            let key = month_key(month);
            MonthPages {
                month: month.name(),
                pages: chart
                    .iter()
                    .filter(|m| m.month == key && m.pages > 0)
                    .map(|m| (m.unit.clone(), m.pages))
                    .collect(),
            }
        })
        .collect();
    let total = row(
        String::new(),
        "Tổng cộng".to_owned(),
        Figures::from_counts(&total_now, period.to),
        Figures::from_counts(&total_before, previous.to),
    );
    Ok(Report {
        period: period.name(),
        first_day: period.first_day(),
        last_day: period.last_day(),
        previous_period: previous.name(),
        by: spec.by,
        units: match &spec.scope {
            Scope::All => None,
            Scope::Units(units) => Some(units.clone()),
        },
        generated_at: generated_at.to_owned(),
        rows,
        total,
        monthly,
    })
}

/// A duration for people: `45 s`, `12 min`, `3.5 h`, `4.2 d`.
pub fn duration_text(seconds: Option<i64>) -> String {
    let Some(s) = seconds else {
        return "–".to_owned();
    };
    let s = s as f64;
    if s < 120.0 {
        format!("{s:.0} s")
    } else if s < 7200.0 {
        format!("{:.0} min", s / 60.0)
    } else if s < 172_800.0 {
        format!("{:.1} h", s / 3600.0)
    } else {
        format!("{:.1} d", s / 86_400.0)
    }
}

pub fn percent_text(share: Option<f64>) -> String {
    share.map_or_else(|| "–".to_owned(), |s| format!("{:.1}%", s * 100.0))
}

pub fn change_text(difference: i64, percent: Option<f64>) -> String {
    match percent {
        Some(p) => format!("{difference:+} ({p:+.0}%)"),
        None if difference == 0 => "0".to_owned(),
        None => format!("{difference:+} (new)"),
    }
}

fn confidence_text(confidence: Option<f64>) -> String {
    confidence.map_or_else(|| "–".to_owned(), |c| format!("{c:.1}"))
}

/// The report as a terminal table: one line per group, then the reasons files failed.
pub fn table(report: &Report) -> String {
    let mut out = String::new();
    let scope = report
        .units
        .as_ref()
        .map_or_else(|| "all units".to_owned(), |u| u.join(", "));
    let _ = writeln!(
        out,
        "Report {} ({} – {}), by {:?}, {scope}; change against {}",
        report.period, report.first_day, report.last_day, report.by, report.previous_period
    );
    // The same cells as the printed report's overview, under English headings.
    let header = [
        "group",
        "docs",
        "pages",
        "pages change",
        "issued",
        "complete",
        "conf",
        "low pages",
        "rescan",
        "failed / partial / empty",
        "reviews open (oldest, days)",
        "signed",
        "verified",
        "searchable median / p95",
    ];
    let mut lines: Vec<Vec<String>> = vec![header.iter().map(|h| (*h).to_owned()).collect()];
    lines.extend(
        report
            .rows
            .iter()
            .chain(std::iter::once(&report.total))
            .map(pdf::overview_row),
    );
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            lines
                .iter()
                .map(|l| l[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for (n, line) in lines.iter().enumerate() {
        let cells: Vec<String> = line
            .iter()
            .enumerate()
            .map(|(i, cell)| {
                let pad = widths[i] - cell.chars().count();
                if i == 0 {
                    format!("{cell}{}", " ".repeat(pad))
                } else {
                    format!("{}{cell}", " ".repeat(pad))
                }
            })
            .collect();
        let _ = writeln!(out, "{}", cells.join("  ").trim_end());
        if n == 0 || n == lines.len() - 2 {
            let _ = writeln!(
                out,
                "{}",
                "-".repeat(widths.iter().sum::<usize>() + 2 * (widths.len() - 1))
            );
        }
    }
    let problems: Vec<_> = report
        .rows
        .iter()
        .filter(|r| !r.figures.problems.is_empty())
        .collect();
    if !problems.is_empty() {
        let _ = writeln!(out, "\nFiles not fully digitized, most frequent reasons:");
        for row in problems {
            let _ = writeln!(
                out,
                "  {}:",
                if row.key.is_empty() {
                    &row.label
                } else {
                    &row.key
                }
            );
            for p in &row.figures.problems {
                let _ = writeln!(out, "    {:>5} {:<8} {}", p.files, p.status, p.reason);
            }
        }
    }
    out
}

/// One CSV line per group and the total, every figure a column (and the period before).
pub fn csv(report: &Report) -> String {
    let columns = [
        "period",
        "group_by",
        "key",
        "label",
        "documents",
        "pages",
        "issued_documents",
        "issued_pages",
        "complete_metadata",
        "with_number",
        "with_date",
        "with_agency",
        "with_subject",
        "with_sector",
        "ocr_pages",
        "mean_confidence",
        "low_confidence_pages",
        "rescan_marked",
        "rescan_pending",
        "failed_files",
        "partial_files",
        "empty_files",
        "reviews_opened",
        "reviews_closed",
        "reviews_pending",
        "oldest_pending_days",
        "records_signed",
        "verifications_answered",
        "verifications_intact",
        "verifications_not_found",
        "searchable_median_seconds",
        "searchable_p95_seconds",
        "previous_documents",
        "previous_pages",
        "change_documents",
        "change_pages",
    ];
    let mut out = columns.join(",");
    out.push('\n');
    let option = |v: Option<f64>| v.map_or_else(String::new, |v| format!("{v:.4}"));
    let int_option = |v: Option<i64>| v.map_or_else(String::new, |v| v.to_string());
    for row in report.rows.iter().chain(std::iter::once(&report.total)) {
        let f = &row.figures;
        let by = if row.key.is_empty() && std::ptr::eq(row, &report.total) {
            "total".to_owned()
        } else {
            format!("{:?}", report.by).to_lowercase()
        };
        let cells = [
            report.period.clone(),
            by,
            row.key.clone(),
            row.label.clone(),
            f.documents.to_string(),
            f.pages.to_string(),
            f.issued_documents.to_string(),
            f.issued_pages.to_string(),
            option(f.complete_metadata),
            option(f.with_number),
            option(f.with_date),
            option(f.with_agency),
            option(f.with_subject),
            option(f.with_sector),
            f.ocr_pages.to_string(),
            option(f.mean_confidence),
            f.low_confidence_pages.to_string(),
            f.rescan_marked.to_string(),
            f.rescan_pending.to_string(),
            f.failed_files.to_string(),
            f.partial_files.to_string(),
            f.empty_files.to_string(),
            f.reviews_opened.to_string(),
            f.reviews_closed.to_string(),
            f.reviews_pending.to_string(),
            int_option(f.oldest_pending_days),
            f.records_signed.to_string(),
            f.verifications_answered.to_string(),
            f.verifications_intact.to_string(),
            f.verifications_not_found.to_string(),
            int_option(f.searchable_median_seconds),
            int_option(f.searchable_p95_seconds),
            row.previous.documents.to_string(),
            row.previous.pages.to_string(),
            row.change.documents.to_string(),
            row.change.pages.to_string(),
        ];
        let quoted: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
        out.push_str(&quoted.join(","));
        out.push('\n');
    }
    out
}

fn csv_cell(cell: &str) -> String {
    if cell.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", cell.replace('"', "\"\""))
    } else {
        cell.to_owned()
    }
}

/// The report in the asked format, as bytes to write or send.
pub fn render(report: &Report, format: ReportFormat) -> Result<Vec<u8>, RenderError> {
    Ok(match format {
        ReportFormat::Table => table(report).into_bytes(),
        ReportFormat::Csv => csv(report).into_bytes(),
        ReportFormat::Json => {
            let mut bytes =
                serde_json::to_vec_pretty(report).map_err(|e| RenderError::Write(e.to_string()))?;
            bytes.push(b'\n');
            bytes
        }
        ReportFormat::Xlsx => xlsx::write(report)?,
        ReportFormat::Pdf => pdf::write(report)?,
    })
}

#[derive(Debug, Error)]
pub enum RenderError {
    #[error(
        "no font for the PDF report: {0} (install fonts-dejavu-core, or set SOHOA_REPORT_FONT to a TrueType file with Vietnamese letters)"
    )]
    Font(String),
    #[error("cannot write the report: {0}")]
    Write(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_periods() {
        let check = |text: &str, expect: Result<(&str, &str, &str), ReportError>| {
            let got =
                Period::parse(text).map(|p| (p.first_day(), p.last_day(), p.previous().name()));
            let expect = expect.map(|(a, b, c)| (a.to_owned(), b.to_owned(), c.to_owned()));
            assert_eq!(got, expect, "{text}");
        };
        check("2024", Ok(("2024-01-01", "2024-12-31", "2023")));
        check("2024-H1", Ok(("2024-01-01", "2024-06-30", "2023-H2")));
        check("2024-h2", Ok(("2024-07-01", "2024-12-31", "2024-H1")));
        check("2024-Q1", Ok(("2024-01-01", "2024-03-31", "2023-Q4")));
        check("2024-Q3", Ok(("2024-07-01", "2024-09-30", "2024-Q2")));
        check("2024-02", Ok(("2024-02-01", "2024-02-29", "2024-01")));
        check("2024-01", Ok(("2024-01-01", "2024-01-31", "2023-12")));
        check(
            "2024-03-01..2024-03-10",
            Ok(("2024-03-01", "2024-03-10", "2024-02-20..2024-02-29")),
        );
        check("2024-Q5", Err(ReportError::Period("2024-Q5".into())));
        check("2024-13", Err(ReportError::Period("2024-13".into())));
        check("24", Err(ReportError::Period("24".into())));
        check(
            "2024-02-30..2024-03-01",
            Err(ReportError::Period("2024-02-30..2024-03-01".into())),
        );
        check(
            "2024-03-10..2024-03-01",
            Err(ReportError::Backwards("2024-03-10..2024-03-01".into())),
        );
    }

    #[test]
    fn local_midnight_is_utc_evening_before() {
        let q = Period::parse("2024-Q3")
            .unwrap()
            .query(ReportGroup::Total, &Scope::All);
        assert_eq!(q.from_instant, "2024-06-30T17:00:00.000Z");
        assert_eq!(q.to_instant, "2024-09-30T17:00:00.000Z");
        assert_eq!(
            (q.from_date.as_str(), q.to_date.as_str()),
            ("2024-07-01", "2024-10-01")
        );
    }

    #[test]
    fn months_of_a_range() {
        let p = Period::parse("2024-01-15..2024-03-10").unwrap();
        let names: Vec<String> = p.months().iter().map(Period::name).collect();
        assert_eq!(
            names,
            [
                "2024-01-15..2024-01-31",
                "2024-02",
                "2024-03-01..2024-03-10"
            ]
        );
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        let values: Vec<i64> = (1..=20).collect();
        assert_eq!(percentile(&values, 0.5), Some(10));
        assert_eq!(percentile(&values, 0.95), Some(19));
        assert_eq!(percentile(&[7], 0.95), Some(7));
        assert_eq!(percentile(&[], 0.5), None);
    }
}
