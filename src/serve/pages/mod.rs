//! The pages records staff use all day (search, document, correction, audit log), the
//! sign-in pages, and the public verification page. Vietnamese throughout.

mod document;
mod procedures;
mod reports;
mod search;
mod signin;
mod verify;

pub(super) use document::PAGE_CACHE_BYTES;
pub use document::{correct_classification, document, page_image};
pub use procedures::{public_procedures, staff_procedures};
pub use reports::staff_reports;
pub use search::search;
pub use signin::{login, login_form, logout, require_staff};
pub use verify::{verify_code, verify_file, verify_form};

use super::html::{error_page, esc, layout};
use super::request::Staff;
use super::{AppState, HttpError};
use axum::Extension;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use std::sync::Arc;

fn page_error(staff: &Staff) -> impl Fn(HttpError) -> Response + '_ {
    move |e| error_page(e.status, &e.message, Some(&staff.viewer()))
}

// ---------------------------------------------------------------- audit

#[derive(Deserialize)]
pub struct AuditParams {
    offset: Option<usize>,
}

pub async fn audit(
    State(state): State<Arc<AppState>>,
    Extension(staff): Extension<Staff>,
    Query(p): Query<AuditParams>,
) -> Response {
    if !staff.user.role.may_read_audit() {
        return page_error(&staff)(HttpError::new(
            StatusCode::FORBIDDEN,
            "Chỉ quản trị viên xem được nhật ký truy cập.",
        ));
    }
    let offset = p.offset.unwrap_or(0);
    let scope = staff.scope.clone();
    let entries = match state
        .with_store(move |s| Ok(s.audit_log(&scope, 100, offset)?))
        .await
    {
        Ok(e) => e,
        Err(e) => return page_error(&staff)(e),
    };
    let rows: String = entries
        .iter()
        .map(|e| {
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&e.at),
                esc(&e.user),
                esc(&e.action),
                e.document_id.map_or(String::new(), |d| format!(
                    r#"<a href="/documents/{d}">{d}</a>"#
                )),
                esc(&e.detail)
            )
        })
        .collect();
    let more = if entries.len() == 100 {
        format!(
            r#"<p><a href="/admin/audit?offset={}">Cũ hơn →</a></p>"#,
            offset + 100
        )
    } else {
        String::new()
    };
    layout(
        "Nhật ký truy cập",
        Some(&staff.viewer()),
        &format!(
            r#"<section class="panel"><h1>Nhật ký truy cập</h1><table class="audit"><tr><th>Thời điểm (UTC)</th><th>Cán bộ</th><th>Thao tác</th><th>Văn bản</th><th>Chi tiết</th></tr>{rows}</table>{more}</section>"#
        ),
    )
}
