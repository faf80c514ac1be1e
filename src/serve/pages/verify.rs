//! The public verification pages: by code, or by uploading the file itself.

use crate::serve::AppState;
use crate::serve::html::{error_page, esc, layout};
use axum::extract::{Form, Multipart, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use std::sync::Arc;

// ---------------------------------------------------------------- public verification

fn verify_page(result: &str) -> Response {
    layout(
        "Xác thực văn bản",
        None,
        &format!(
            r#"<section class="panel narrow"><h1>Xác thực văn bản</h1>
<p>Nhập mã xác thực in trên bản sao, hoặc tải lên tệp bản sao điện tử, để biết văn bản có khớp với hồ sơ lưu trữ còn nguyên vẹn hay không.</p>
<form method="post" action="/verify"><label>Mã xác thực<input name="code" placeholder="XXXX-XXXX-XXXX-X" required></label><button type="submit">Kiểm tra mã</button></form>
<form method="post" action="/verify/file" enctype="multipart/form-data"><label>Tệp bản sao (PDF, ảnh)<input type="file" name="file" required></label><button type="submit">Kiểm tra tệp</button></form>
</section>{result}<section class="panel narrow">{}</section>"#,
            super::procedures::procedure_form("/procedures", "")
        ),
    )
}

pub async fn verify_form() -> Response {
    verify_page("")
}

fn answer_html(answer: &crate::serve::public::PublicAnswer) -> String {
    let (label, class) = match answer.status {
        "intact" => (
            "Văn bản khớp với hồ sơ lưu trữ, còn nguyên vẹn.",
            "status-intact",
        ),
        "superseded" => (
            "Văn bản đã có phiên bản mới hơn trong hồ sơ lưu trữ.",
            "status-bad",
        ),
        "altered" => (
            "CẢNH BÁO: hồ sơ lưu trữ của mã này đã bị thay đổi.",
            "status-bad",
        ),
        "deleted" => ("Văn bản đã bị xóa khỏi hồ sơ lưu trữ.", "status-bad"),
        _ => (
            "Không tìm thấy văn bản nào với mã hoặc tệp này.",
            "status-bad",
        ),
    };
    let row = |l: &str, v: Option<&str>| {
        format!(
            "<tr><th>{}</th><td>{}</td></tr>",
            esc(l),
            esc(v.unwrap_or("—"))
        )
    };
    let details = if answer.status == "not-found" {
        String::new()
    } else {
        format!(
            r#"<table class="fields">{}{}{}{}{}{}{}</table>"#,
            row("Loại văn bản", answer.document_type.as_deref()),
            row("Số, ký hiệu", answer.number.as_deref()),
            row("Ngày ban hành", answer.date.as_deref()),
            row("Cơ quan ban hành", answer.agency.as_deref()),
            row("SHA-256 tệp gốc", answer.source_sha256.as_deref()),
            row("Mã xác thực", answer.code.as_deref()),
            row("Khóa ký", answer.signed_by.as_deref()),
        )
    };
    format!(r#"<section class="panel narrow"><h2 class="{class}">{label}</h2>{details}</section>"#)
}

#[derive(Deserialize)]
pub struct CodeForm {
    code: String,
}

pub async fn verify_code(
    State(state): State<Arc<AppState>>,
    Form(form): Form<CodeForm>,
) -> Response {
    match crate::serve::public::answer_for_code(&state, form.code).await {
        Ok(answer) => verify_page(&answer_html(&answer)),
        Err(e) => {
            let mut r = verify_page(&format!(
                r#"<section class="panel narrow error"><p>{}</p></section>"#,
                esc(&e.message)
            ));
            *r.status_mut() = e.status;
            r
        }
    }
}

pub async fn verify_file(State(state): State<Arc<AppState>>, mut multipart: Multipart) -> Response {
    let mut bytes = None;
    while let Ok(Some(field)) = multipart.next_field().await {
        if field.name() == Some("file") {
            match field.bytes().await {
                Ok(b) => bytes = Some(b),
                Err(e) => {
                    return error_page(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        &format!("Không đọc được tệp: {e}"),
                        None,
                    );
                }
            }
        }
    }
    let Some(bytes) = bytes.filter(|b| !b.is_empty()) else {
        return error_page(StatusCode::BAD_REQUEST, "Chưa chọn tệp.", None);
    };
    match crate::serve::public::answer_for_file(&state, bytes.to_vec()).await {
        Ok(answer) => verify_page(&answer_html(&answer)),
        Err(e) => error_page(e.status, &e.message, None),
    }
}
