//! The procedure finder's pages: public (procedure names, codes and sectors only, no
//! archive content) and staff (each procedure with a link to the archive's documents
//! filed under it).

use crate::serve::AppState;
use crate::serve::html::{esc, layout, url};
use crate::serve::request::Staff;
use axum::Extension;
use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;
use std::sync::Arc;

/// Procedures shown for a question.
const SHOWN: usize = 10;

#[derive(Deserialize, Default)]
pub struct Asked {
    #[serde(default)]
    q: String,
}

/// The question box, posting to `action`.
pub(crate) fn procedure_form(action: &str, q: &str) -> String {
    format!(
        r#"<form method="get" action="{action}" class="procedures"><label>Tìm thủ tục hành chính: hỏi bằng lời của bạn<input name="q" value="{}" placeholder="Tôi muốn xin giấy phép xây dựng nhà ở thì làm thế nào?"></label><button type="submit">Tìm thủ tục</button></form>"#,
        esc(q)
    )
}

/// The answers to `q`, as a list (with links to the archive's documents for staff).
fn answers(state: &AppState, q: &str, staff: bool) -> String {
    if q.trim().is_empty() {
        return String::new();
    }
    let answer = match state.procedures.find(q, SHOWN, false) {
        Ok(a) => a,
        Err(e) => return format!(r#"<p class="status-bad">{}</p>"#, esc(&e.to_string())),
    };
    if answer.procedures.is_empty() {
        return "<p>Không tìm thấy thủ tục nào phù hợp. Hãy thử diễn đạt khác.</p>".into();
    }
    let items: String = answer
        .procedures
        .iter()
        .map(|p| {
            let documents = match staff {
                true => format!(
                    r#" · <a href="/?procedure={}">văn bản trong kho lưu trữ</a>"#,
                    url(&p.code)
                ),
                false => String::new(),
            };
            format!(
                r#"<li><b>{}</b><br><span class="facts">Mã {} · Lĩnh vực {}{documents}</span></li>"#,
                esc(&p.name),
                esc(&p.code),
                esc(&p.sector_name)
            )
        })
        .collect();
    format!(r#"<ol class="procedures">{items}</ol>"#)
}

pub async fn public_procedures(
    State(state): State<Arc<AppState>>,
    Query(asked): Query<Asked>,
) -> Response {
    layout(
        "Tìm thủ tục hành chính",
        None,
        &format!(
            r#"<section class="panel narrow"><h1>Tìm thủ tục hành chính</h1>{}{}</section>"#,
            procedure_form("/procedures", &asked.q),
            answers(&state, &asked.q, false)
        ),
    )
}

pub async fn staff_procedures(
    State(state): State<Arc<AppState>>,
    Extension(staff): Extension<Staff>,
    Query(asked): Query<Asked>,
) -> Response {
    layout(
        "Tìm thủ tục hành chính",
        Some(&staff.viewer()),
        &format!(
            r#"<section class="panel"><h1>Tìm thủ tục hành chính</h1>{}{}</section>"#,
            procedure_form("/staff/procedures", &asked.q),
            answers(&state, &asked.q, true)
        ),
    )
}
