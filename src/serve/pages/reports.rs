//! The staff reports page: a period and a grouping, the overview table of the account's
//! units, and the same report to download (`/api/reports`: xlsx, pdf, csv).

use crate::report::{GroupBy, Period, ReportSpec};
use crate::serve::html::{error_page, esc, layout, url};
use crate::serve::request::Staff;
use crate::serve::{AppState, HttpError};
use axum::Extension;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use std::sync::Arc;

#[derive(Deserialize, Default)]
pub struct Asked {
    period: Option<String>,
    by: Option<String>,
}

pub async fn staff_reports(
    State(state): State<Arc<AppState>>,
    Extension(staff): Extension<Staff>,
    Query(asked): Query<Asked>,
) -> Response {
    let viewer = staff.viewer();
    // This year's quarter so far, unless asked.
    let period_text = asked.period.clone().unwrap_or_else(|| {
        let today = &crate::report::now_text()[..10];
        let month: u32 = today[5..7].parse().unwrap_or(1);
        format!("{}-Q{}", &today[..4], month.div_ceil(3))
    });
    let by_text = asked.by.clone().unwrap_or_else(|| "unit".to_owned());
    let form = format!(
        r#"<form method="get" action="/staff/reports" class="procedures"><label>Kỳ báo cáo (2024-Q3, 2024-H1, 2024, 2024-07, hoặc 2024-01-15..2024-03-31)<input name="period" value="{}"></label><label>Theo <select name="by">{}</select></label><button type="submit">Lập báo cáo</button></form>"#,
        esc(&period_text),
        [
            ("unit", "đơn vị"),
            ("sector", "lĩnh vực"),
            ("procedure", "thủ tục"),
            ("month", "tháng")
        ]
        .iter()
        .map(|(v, l)| format!(
            r#"<option value="{v}"{}>{l}</option>"#,
            if *v == by_text { " selected" } else { "" }
        ))
        .collect::<String>()
    );
    let (period, by) = match (Period::parse(&period_text), GroupBy::parse(&by_text)) {
        (Ok(p), Ok(b)) => (p, b),
        (Err(e), _) | (_, Err(e)) => {
            return error_page(StatusCode::BAD_REQUEST, &e.to_string(), Some(&viewer));
        }
    };
    let scope = staff.scope.clone();
    let built = state
        .with_store(move |store| {
            let units = store.units()?;
            let spec = ReportSpec { period, by, scope };
            Ok(crate::report::build(
                &*store,
                &units,
                &spec,
                &crate::report::now_text(),
            )?)
        })
        .await;
    let report = match built {
        Ok(r) => r,
        Err(HttpError { status, message }) => return error_page(status, &message, Some(&viewer)),
    };
    let header = crate::report::pdf::overview_header(&report);
    let mut table = String::from("<table><thead><tr>");
    for h in &header {
        table.push_str(&format!("<th>{}</th>", esc(h)));
    }
    table.push_str("</tr></thead><tbody>");
    for row in report.rows.iter().chain(std::iter::once(&report.total)) {
        table.push_str("<tr>");
        for cell in crate::report::pdf::overview_row(row) {
            table.push_str(&format!("<td>{}</td>", esc(&cell)));
        }
        table.push_str("</tr>");
    }
    table.push_str("</tbody></table>");
    let query = format!("period={}&by={}", url(&period_text), url(&by_text));
    let downloads = ["xlsx", "pdf", "csv"]
        .iter()
        .map(|f| {
            format!(
                r#"<a href="/api/reports?{query}&format={f}">{}</a>"#,
                f.to_uppercase()
            )
        })
        .collect::<Vec<_>>()
        .join(" · ");
    layout(
        "Báo cáo số hóa",
        Some(&viewer),
        &format!(
            r#"<section class="panel"><h1>Báo cáo kết quả số hóa</h1>{form}<p>Kỳ {} (từ {} đến {}), so với kỳ {}. Tải về: {downloads}</p>{table}</section>"#,
            esc(&report.period),
            esc(&report.first_day),
            esc(&report.last_day),
            esc(&report.previous_period)
        ),
    )
}
