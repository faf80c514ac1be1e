//! Public verification (`/verify`, `/api/verify/…`): what anyone may learn about a
//! record from its code or a copy's bytes, shared by the page and the JSON API.

use super::{AppState, HttpError};
use crate::authenticity::verify::check_code;
use crate::authenticity::{parse_code, sha256_hex};
use crate::store::Store;
use serde::Serialize;
use std::sync::Arc;

/// What the public learns about a record: enough to trust a copy, nothing personal.
/// No subject line, no names, no citizen ID numbers; digit runs that look like ID
/// numbers are masked even inside the fields shown.
#[derive(Debug, Serialize)]
pub struct PublicAnswer {
    /// intact, altered, superseded, deleted, not-found.
    pub status: &'static str,
    pub code: Option<String>,
    pub document_type: Option<String>,
    pub number: Option<String>,
    pub date: Option<String>,
    pub agency: Option<String>,
    pub source_sha256: Option<String>,
    pub record_hash: Option<String>,
    pub signed_by: Option<String>,
    /// For an uploaded file: true when its bytes are the archived original's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_matches: Option<bool>,
}

/// Replaces runs of 9 or more digits (CMND has 9, CCCD 12) with bullets.
pub fn mask_personal(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut digits = String::new();
    let flush = |digits: &mut String, out: &mut String| {
        if digits.len() >= 9 {
            out.extend(std::iter::repeat_n('•', digits.len()));
        } else {
            out.push_str(digits);
        }
        digits.clear();
    };
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
        } else {
            flush(&mut digits, &mut out);
            out.push(c);
        }
    }
    flush(&mut digits, &mut out);
    out
}

fn public_answer(
    store: &dyn Store,
    state: &AppState,
    code: &str,
) -> Result<PublicAnswer, HttpError> {
    let answer = check_code(store, code, &state.trusted)?;
    let fields = answer
        .record
        .as_ref()
        .and_then(|r| r.fields.clone())
        .unwrap_or_default();
    let masked = |v: Option<String>| v.map(|v| mask_personal(&v));
    Ok(PublicAnswer {
        status: answer.status,
        code: Some(answer.code),
        document_type: masked(fields.doc_type_name.or(fields.doc_type)),
        number: masked(fields.number),
        date: fields.date,
        agency: masked(fields.agency),
        source_sha256: answer.record.as_ref().and_then(|r| r.source_sha256.clone()),
        record_hash: answer.record_hash,
        signed_by: answer.signed_by,
        file_matches: None,
    })
}

fn not_found() -> PublicAnswer {
    PublicAnswer {
        status: "not-found",
        code: None,
        document_type: None,
        number: None,
        date: None,
        agency: None,
        source_sha256: None,
        record_hash: None,
        signed_by: None,
        file_matches: None,
    }
}

pub async fn answer_for_code(
    state: &Arc<AppState>,
    code: String,
) -> Result<PublicAnswer, HttpError> {
    let code = parse_code(&code).map_err(|e| HttpError::bad_request(e.to_string()))?;
    let shared = Arc::clone(state);
    state
        .with_store(move |store| {
            let answer = public_answer(store, &shared, &code)?;
            let document = store
                .log_entries_by_code(&code)
                .ok()
                .and_then(|entries| entries.last().map(|e| e.document_id));
            count(store, document, &answer);
            Ok(answer)
        })
        .await
}

/// Counts an answered verification for the reports. Never fails the answer: a count
/// lost to a busy database is a smaller harm than a citizen turned away.
fn count(store: &mut dyn crate::store::Archive, document: Option<i64>, answer: &PublicAnswer) {
    if let Err(e) = store.count_verification(document, answer.status) {
        eprintln!("sohoa serve: warning: verification not counted: {e}");
    }
}

/// The answer for a file's bytes: the archived document with exactly these bytes.
pub async fn answer_for_file(
    state: &Arc<AppState>,
    bytes: Vec<u8>,
) -> Result<PublicAnswer, HttpError> {
    let sha = sha256_hex(&bytes);
    let shared = Arc::clone(state);
    state
        .with_store(move |store| {
            let Some(known) = store.content(&sha)? else {
                let answer = not_found();
                count(store, None, &answer);
                return Ok(answer);
            };
            let Some(entry) = store.log_entries_of(known.document_id)?.pop() else {
                let answer = not_found();
                count(store, Some(known.document_id), &answer);
                return Ok(answer);
            };
            let mut answer = public_answer(store, &shared, &entry.code)?;
            answer.file_matches = Some(answer.source_sha256.as_deref() == Some(sha.as_str()));
            count(store, Some(known.document_id), &answer);
            Ok(answer)
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_id_numbers_only() {
        let check = |input: &str, expect: &str| assert_eq!(mask_personal(input), expect, "{input}");
        check("CCCD 040203001234 cấp", "CCCD •••••••••••• cấp");
        check("CMND 187654321", "CMND •••••••••");
        check("1906/SGDĐT-CTrTT", "1906/SGDĐT-CTrTT");
        check("ngày 2024-01-26", "ngày 2024-01-26");
    }
}
