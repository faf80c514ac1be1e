//! The JSON API (described in `openapi.json`, served at `/api/openapi.json`). Search and
//! documents use the same schemas as `sohoa search --json` and `sohoa show --json`.

use super::public::{answer_for_code, answer_for_file};
use super::request::{SearchParams, Staff};
use super::{AppState, HttpError, check_csrf, json_error};
use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

pub const OPENAPI: &str = include_str!("openapi.json");

fn reply<T: Serialize>(result: Result<T, HttpError>) -> Response {
    match result {
        Ok(body) => Json(body).into_response(),
        Err(e) => json_error(e),
    }
}

pub async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

pub async fn search(
    State(state): State<Arc<AppState>>,
    Extension(staff): Extension<Staff>,
    Query(p): Query<SearchParams>,
) -> Response {
    let mut request = match p.request(&state, 20) {
        Ok(r) => r,
        Err(e) => return json_error(e),
    };
    request.scope = staff.scope.clone();
    let (request, response) = match state.search(request).await {
        Ok(r) => r,
        Err(e) => return json_error(e),
    };
    Json(crate::search::SearchOutput::new(
        crate::export::OUTPUT_SCHEMA_VERSION,
        &request,
        &response,
    ))
    .into_response()
}

#[derive(Deserialize)]
pub struct DocumentParams {
    /// Also each page's words with their boxes, as `export --words`.
    #[serde(default)]
    words: bool,
}

pub async fn document(
    State(state): State<Arc<AppState>>,
    Extension(staff): Extension<Staff>,
    Path(id): Path<i64>,
    Query(params): Query<DocumentParams>,
) -> Response {
    reply(
        state
            .with_store(move |store| {
                let (doc, code) = super::viewed_document(store, &staff, id, "api")?;
                let layout = if params.words {
                    Some(crate::ocr_xml::page_words(&doc, store.page_words(id)?))
                } else {
                    None
                };
                let mut exported = crate::export::ExportedDocument::new(doc);
                exported.verification_code = code;
                exported.layout = layout;
                Ok(serde_json::to_value(exported)?)
            })
            .await,
    )
}

/// One page's layout as ALTO XML 4 (`format` "alto") or hOCR ("hocr").
pub async fn page_layout(
    State(state): State<Arc<AppState>>,
    Extension(staff): Extension<Staff>,
    Path((id, page, format)): Path<(i64, u32, String)>,
) -> Response {
    let (content_type, alto) = match format.as_str() {
        "alto" => ("application/xml; charset=utf-8", true),
        "hocr" => ("application/xhtml+xml; charset=utf-8", false),
        _ => {
            return (
                StatusCode::NOT_FOUND,
                "layout formats: alto, hocr".to_string(),
            )
                .into_response();
        }
    };
    let written = state
        .with_store(move |store| {
            let (doc, _) = super::viewed_document(store, &staff, id, "api")?;
            let words = store.page_words(id)?;
            let pages = crate::ocr_xml::document_pages(&doc, &words);
            let page = pages
                .iter()
                .find(|p| p.page == page)
                .ok_or_else(|| HttpError::not_found(format!("document {id} has no page {page}")))?;
            Ok(if alto {
                crate::ocr_xml::alto(page)
            } else {
                crate::ocr_xml::hocr(page)
            })
        })
        .await;
    match written {
        Ok(text) => ([(header::CONTENT_TYPE, content_type)], text).into_response(),
        Err(e) => (e.status, e.message).into_response(),
    }
}

#[derive(Deserialize)]
pub struct Correction {
    sector: String,
    procedure: Option<String>,
}

pub async fn correct_classification(
    State(state): State<Arc<AppState>>,
    Extension(staff): Extension<Staff>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    Json(body): Json<Correction>,
) -> Response {
    let given = headers
        .get(super::auth::CSRF_HEADER)
        .and_then(|v| v.to_str().ok());
    if let Err(e) = check_csrf(&staff, given) {
        return json_error(e);
    }
    let done = super::correct(&state, &staff, id, body.sector, body.procedure).await;
    reply(done.map(|c| serde_json::json!({ "id": id, "classification": c })))
}

#[derive(Deserialize)]
pub struct ProcedureQuestion {
    #[serde(default)]
    q: String,
    limit: Option<usize>,
}

/// `/api/procedures?q=`: the procedures that answer a question (public: names, codes
/// and sectors of the taxonomy, no archive content).
pub async fn procedures(
    State(state): State<Arc<AppState>>,
    Query(p): Query<ProcedureQuestion>,
) -> Response {
    let limit = p.limit.unwrap_or(10);
    if !(1..=50).contains(&limit) {
        return json_error(HttpError::bad_request("limit must be between 1 and 50"));
    }
    match state.procedures.find(&p.q, limit, false) {
        Ok(answer) => Json(serde_json::json!({
            "schema_version": crate::export::OUTPUT_SCHEMA_VERSION,
            "question": p.q,
            "read_as_question": answer.question,
            "procedures": answer.procedures,
        }))
        .into_response(),
        Err(e) => json_error(HttpError::bad_request(e.to_string())),
    }
}

pub async fn sectors(State(state): State<Arc<AppState>>) -> Response {
    let sectors: Vec<_> = state
        .taxonomy
        .sectors
        .iter()
        .map(|s| serde_json::json!({ "id": s.id, "name": s.name }))
        .collect();
    Json(sectors).into_response()
}

#[derive(Deserialize)]
pub struct Paging {
    limit: Option<usize>,
    offset: Option<usize>,
}

pub async fn audit(
    State(state): State<Arc<AppState>>,
    Extension(staff): Extension<Staff>,
    Query(p): Query<Paging>,
) -> Response {
    if !staff.user.role.may_read_audit() {
        return json_error(HttpError::new(
            StatusCode::FORBIDDEN,
            "unit and archive admins only",
        ));
    }
    let (limit, offset) = (p.limit.unwrap_or(100).min(1000), p.offset.unwrap_or(0));
    let scope = staff.scope.clone();
    reply(
        state
            .with_store(move |s| Ok(s.audit_log(&scope, limit, offset)?))
            .await,
    )
}

#[derive(Deserialize)]
pub struct ReportParams {
    period: String,
    by: Option<String>,
    format: Option<String>,
}

/// The periodic report over the documents this account sees (its units'; an archive
/// admin's: all), as JSON by default or as csv, xlsx, pdf or a text table.
pub async fn reports(
    State(state): State<Arc<AppState>>,
    Extension(staff): Extension<Staff>,
    Query(p): Query<ReportParams>,
) -> Response {
    use crate::report::{GroupBy, Period, ReportError, ReportFormat, ReportSpec};
    let parsed = (|| -> Result<_, ReportError> {
        Ok((
            Period::parse(&p.period)?,
            GroupBy::parse(p.by.as_deref().unwrap_or("unit"))?,
            ReportFormat::parse(p.format.as_deref().unwrap_or("json"))?,
        ))
    })();
    let (period, by, format) = match parsed {
        Ok(parsed) => parsed,
        Err(e) => return json_error(HttpError::bad_request(e.to_string())),
    };
    let scope = staff.scope.clone();
    let rendered = state
        .with_store(move |store| {
            let units = store.units()?;
            let spec = ReportSpec { period, by, scope };
            let report = crate::report::build(&*store, &units, &spec, &crate::report::now_text())?;
            crate::report::render(&report, format)
                .map_err(|e| HttpError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
        })
        .await;
    match rendered {
        Ok(bytes) => ([(header::CONTENT_TYPE, format.content_type())], bytes).into_response(),
        Err(e) => json_error(e),
    }
}

pub async fn me(Extension(staff): Extension<Staff>) -> Response {
    Json(serde_json::json!({
        "name": staff.user.name,
        "role": staff.user.role,
        "units": staff.scope,
        "csrf_token": staff.csrf,
    }))
    .into_response()
}

pub async fn verify_code(State(state): State<Arc<AppState>>, Path(code): Path<String>) -> Response {
    reply(answer_for_code(&state, code).await)
}

pub async fn verify_file(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    if body.is_empty() {
        return json_error(HttpError::bad_request(
            "send the file's bytes as the request body",
        ));
    }
    reply(answer_for_file(&state, body.to_vec()).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openapi_is_valid_json_with_every_route() {
        let spec: serde_json::Value = serde_json::from_str(OPENAPI).unwrap();
        assert_eq!(spec["openapi"].as_str().map(|v| &v[..2]), Some("3."));
        for path in [
            "/api/search",
            "/api/documents/{id}",
            "/api/documents/{id}/pages/{page}/image",
            "/api/documents/{id}/pages/{page}/{format}",
            "/api/documents/{id}/classification",
            "/api/sectors",
            "/api/audit",
            "/api/reports",
            "/api/me",
            "/api/verify/{code}",
            "/api/verify/file",
        ] {
            assert!(spec["paths"][path].is_object(), "{path} not documented");
        }
    }
}
