//! One document for staff: its pages (rendered, cached images with the search's
//! words boxed), condition and classification, and the correction form.

use super::page_error;
use crate::serve::html::{esc, layout};
use crate::serve::request::Staff;
use crate::serve::{AppState, HttpError, check_csrf};
use crate::store::Archive;
use axum::Extension;
use axum::extract::{Form, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use std::sync::Arc;
/// Page images are scaled down to this width: sharp on a screen, a few hundred KB.
const IMAGE_WIDTH: u32 = 1400;
/// Rendered page images kept in memory; a document is read page after page.
pub(in crate::serve) const PAGE_CACHE_BYTES: usize = 96 * 1024 * 1024;

/// The boxes, in the original page image's pixels, of the page's OCR words that are one
/// of `highlight`'s words (compared folded: marks, case and `đ` aside). Boxes are read
/// in the pixels of the image OCR read and mapped back through the page's preparation
/// (turned, deskewed, rescaled), so they sit on the image the page view shows.
fn highlight_boxes(
    page: &crate::store::StoredPage,
    words: &[crate::ocr::Word],
    highlight: &str,
) -> Vec<[f32; 4]> {
    use crate::fold::fold_full;
    let key = |w: &str| fold_full(w.trim_matches(|c: char| !c.is_alphanumeric()));
    let wanted: Vec<String> = highlight
        .split_whitespace()
        .map(key)
        .filter(|w| !w.is_empty())
        .take(MAX_HIGHLIGHT_WORDS)
        .collect();
    let mut boxes = Vec::new();
    for word in words.iter().filter(|w| wanted.contains(&key(&w.text))) {
        let (x0, y0) = (word.x as f32, word.y as f32);
        let (x1, y1) = (x0 + word.w as f32, y0 + word.h as f32);
        let corners = [(x0, y0), (x1, y0), (x0, y1), (x1, y1)];
        let mapped: Vec<(f32, f32)> = match &page.preparation {
            Some(p) => corners.iter().map(|&(x, y)| p.to_original(x, y)).collect(),
            None => corners.to_vec(),
        };
        let left = mapped.iter().map(|c| c.0).fold(f32::INFINITY, f32::min);
        let top = mapped.iter().map(|c| c.1).fold(f32::INFINITY, f32::min);
        let right = mapped.iter().map(|c| c.0).fold(f32::NEG_INFINITY, f32::max);
        let bottom = mapped.iter().map(|c| c.1).fold(f32::NEG_INFINITY, f32::max);
        boxes.push([left, top, right - left, bottom - top]);
    }
    boxes
}

/// The original page image's size in pixels, which highlight boxes are given in.
fn original_size(page: &crate::store::StoredPage) -> Option<(u32, u32)> {
    match &page.preparation {
        Some(p) => Some((p.original_size[0], p.original_size[1])),
        None => Some((page.width?, page.height?)),
    }
}

/// An SVG laid over the page image with a rectangle per box: SVG attributes, not inline
/// styles, which the Content-Security-Policy (`style-src 'self'`) forbids.
fn highlight_overlay(size: (u32, u32), boxes: &[[f32; 4]]) -> String {
    if boxes.is_empty() {
        return String::new();
    }
    let rects: String = boxes
        .iter()
        .map(|[x, y, w, h]| {
            format!(r#"<rect x="{x:.0}" y="{y:.0}" width="{w:.0}" height="{h:.0}"/>"#)
        })
        .collect();
    format!(
        r#"<svg class="hl" viewBox="0 0 {} {}" preserveAspectRatio="none" aria-hidden="true">{rects}</svg>"#,
        size.0, size.1
    )
}

// ---------------------------------------------------------------- document

#[derive(Deserialize)]
pub struct PageParam {
    page: Option<u32>,
    /// Set after a correction was saved, to say so.
    saved: Option<u8>,
    /// Words to mark on the page image (the search's highlighted words).
    hl: Option<String>,
}

/// Words a page view marks at most: each is compared with every word of the page.
const MAX_HIGHLIGHT_WORDS: usize = 16;

pub async fn document(
    State(state): State<Arc<AppState>>,
    Extension(staff): Extension<Staff>,
    Path(id): Path<i64>,
    Query(param): Query<PageParam>,
) -> Response {
    let who = staff.clone();
    let loaded = state
        .with_store(move |store| crate::serve::viewed_document(store, &who, id, ""))
        .await;
    let (doc, code) = match loaded {
        Ok(v) => v,
        Err(e) if e.status == StatusCode::NOT_FOUND => {
            return page_error(&staff)(HttpError::not_found(format!("Không có văn bản số {id}.")));
        }
        Err(e) => return page_error(&staff)(e),
    };
    let page_number = param.page.unwrap_or(1).clamp(1, doc.page_count.max(1));
    let page = doc.pages.iter().find(|p| p.number == page_number);
    // The search's words marked where OCR found them on the page image.
    let overlay = match (param.hl.as_deref().filter(|h| !h.trim().is_empty()), page) {
        (Some(hl), Some(page)) => {
            // Without its words the page is still shown, unmarked.
            let words = state
                .with_store(move |store| Ok(store.page_words(id)?))
                .await
                .unwrap_or_else(|e| {
                    eprintln!(
                        "sohoa serve: words of document {id} not read: {}",
                        e.message
                    );
                    Vec::new()
                });
            let page_words = words.get(page_number as usize - 1).map_or(&[][..], |w| w);
            match original_size(page) {
                Some(size) => highlight_overlay(size, &highlight_boxes(page, page_words, hl)),
                None => String::new(),
            }
        }
        _ => String::new(),
    };
    let f = doc.fields.clone().unwrap_or_default();
    let row = |label: &str, value: Option<&str>| {
        format!(
            "<tr><th>{}</th><td>{}</td></tr>",
            esc(label),
            esc(value.unwrap_or("—"))
        )
    };
    let ids = f.citizen_ids.join(", ");
    let fields = [
        row("Số, ký hiệu", f.number.as_deref()),
        row("Số, ký hiệu (OCR đọc là)", f.number_read.as_deref()),
        row(
            "Loại văn bản",
            f.doc_type_name.as_deref().or(f.doc_type.as_deref()),
        ),
        row("Ngày ban hành", f.date.as_deref()),
        row("Cơ quan ban hành", f.agency.as_deref()),
        row("Trích yếu", f.subject.as_deref()),
        row("Người ký", f.signer.as_deref()),
        row("Số CCCD/CMND", (!ids.is_empty()).then_some(ids.as_str())),
        row("Đơn vị quản lý", doc.unit.as_deref()),
        row("Tệp gốc", Some(&doc.path)),
        row("SHA-256", doc.sha256.as_deref()),
    ]
    .concat();
    let class = doc.classification.as_ref();
    let mut sectors = String::new();
    for s in &state.taxonomy.sectors {
        sectors.push_str(&format!(
            r#"<option value="{}"{}>{}</option>"#,
            esc(&s.id),
            if class.is_some_and(|c| c.sector == s.id) {
                " selected"
            } else {
                ""
            },
            esc(&s.name)
        ));
    }
    let classification = format!(
        r#"<table class="fields">{}{}{}{}</table>
<form method="post" action="/documents/{id}/classification" class="search">
<input type="hidden" name="csrf" value="{csrf}">
<label>Lĩnh vực đúng<select name="sector">{sectors}</select></label>
<label>Mã thủ tục (không bắt buộc)<input name="procedure" size="14" value="{procedure}"></label>
<button type="submit">Lưu phân loại</button></form>"#,
        row("Lĩnh vực", class.map(|c| c.sector_name.as_str())),
        row(
            "Thủ tục",
            class.and_then(|c| c.procedure_name.as_deref().or(c.procedure_code.as_deref()))
        ),
        row(
            "Nguồn",
            class.map(|c| match c.source.as_str() {
                "staff" => "cán bộ chỉnh sửa",
                _ => "phân loại tự động",
            })
        ),
        row(
            "Độ tin cậy",
            class
                .map(|c| format!(
                    "{:.0}%{}",
                    c.confidence * 100.0,
                    if c.needs_review {
                        " — cần rà soát"
                    } else {
                        ""
                    }
                ))
                .as_deref()
        ),
        id = doc.id,
        csrf = esc(staff.csrf.as_deref().unwrap_or("")),
        procedure = esc(class
            .and_then(|c| c.procedure_code.as_deref())
            .unwrap_or("")),
    );
    let pages: String = (1..=doc.page_count)
        .map(|n| {
            format!(
                r#"<a href="/documents/{}?page={n}"{}>{n}</a>"#,
                doc.id,
                if n == page_number {
                    r#" class="current""#
                } else {
                    ""
                }
            )
        })
        .collect();
    let text = page.map_or("", |p| p.text.as_str());
    let condition = condition_panel(&doc);
    let title = match (&f.doc_type_name, &f.number) {
        (Some(t), Some(n)) => format!("{t} số {n}"),
        _ => format!("Văn bản {}", doc.id),
    };
    layout(
        &title,
        Some(&staff.viewer()),
        &format!(
            r#"<h1>{title_html}</h1>
<div class="doc"><section class="panel pageimg"><div class="pages">Trang: {pages}</div>
<div class="pageframe"><img src="/documents/{id}/pages/{page_number}/image" alt="Ảnh trang {page_number}">{overlay}</div></section>
<div>{condition}<section class="panel"><h2>Nội dung trang {page_number}</h2><div class="pagetext">{text}</div></section>
<section class="panel"><h2>Thông tin văn bản</h2><table class="fields">{fields}</table></section>
<section class="panel" id="classification"><h2>Phân loại</h2>{saved}{classification}</section>
<section class="panel"><h2>Mã xác thực</h2><p class="code">{code}</p><p class="meta">Công dân và cơ quan khác kiểm tra bản sao tại <a href="/verify">trang xác thực</a>.</p></section></div></div>"#,
            title_html = esc(&title),
            id = doc.id,
            text = esc(text),
            code = esc(code.as_deref().unwrap_or("chưa ký")),
            saved = if param.saved.is_some() {
                r#"<p class="status-intact">Đã lưu phân loại; bản ghi mới đã được ký.</p>"#
            } else {
                ""
            },
        ),
    )
}

/// What went wrong reading the file, for staff: nothing for a document read in full.
fn condition_panel(doc: &crate::store::StoredDocument) -> String {
    use crate::store::DocStatus;
    if doc.status == DocStatus::Ok && doc.warnings.is_empty() {
        return String::new();
    }
    let label = match doc.status {
        DocStatus::Ok => "Đọc đầy đủ sau khi sửa cấu trúc tệp",
        DocStatus::Partial => "Thiếu một phần: có trang hoặc phần trang không đọc được",
        DocStatus::Failed => "Không đọc được tệp",
        DocStatus::Empty => "Không có trang nào có chữ đọc được",
    };
    let class = if doc.status == DocStatus::Ok {
        "status-intact"
    } else {
        "status-bad"
    };
    let mut items: Vec<String> = Vec::new();
    if let Some(e) = &doc.error {
        items.push(e.clone());
    }
    items.extend(doc.warnings.iter().map(|w| w.to_string()));
    items.extend(
        doc.pages
            .iter()
            .filter_map(|p| p.error.as_ref().map(|e| format!("page {}: {e}", p.number))),
    );
    items.dedup();
    let list: String = items
        .iter()
        .map(|i| format!("<li>{}</li>", esc(i)))
        .collect();
    format!(
        r#"<section class="panel" id="condition"><h2>Tình trạng tệp</h2><p class="{class}" data-status="{status}">{label}</p><ul>{list}</ul></section>"#,
        status = doc.status.as_str(),
    )
}

#[derive(Deserialize)]
pub struct CorrectionForm {
    csrf: Option<String>,
    sector: String,
    procedure: Option<String>,
}

pub async fn correct_classification(
    State(state): State<Arc<AppState>>,
    Extension(staff): Extension<Staff>,
    Path(id): Path<i64>,
    Form(form): Form<CorrectionForm>,
) -> Response {
    if let Err(e) = check_csrf(&staff, form.csrf.as_deref()) {
        return page_error(&staff)(e);
    }
    match crate::serve::correct(&state, &staff, id, form.sector, form.procedure).await {
        Ok(_) => Redirect::to(&format!("/documents/{id}?saved=1#classification")).into_response(),
        Err(e) => page_error(&staff)(e),
    }
}

// ---------------------------------------------------------------- page images

/// The page as the archive holds it: decoded from the stored source file (checked
/// against its recorded SHA-256, so a replaced file is never shown as the original),
/// scaled to `IMAGE_WIDTH`, as PNG.
fn render_page(store: &dyn Archive, id: i64, page: u32) -> Result<Vec<u8>, HttpError> {
    let doc = store
        .document(id)?
        .ok_or_else(|| HttpError::not_found(format!("no document {id}")))?;
    if page == 0 || page > doc.page_count {
        return Err(HttpError::not_found(format!(
            "document {id} has {} pages",
            doc.page_count
        )));
    }
    let bytes = crate::authenticity::verify::verified_source(&doc).ok_or_else(|| {
        HttpError::new(
            StatusCode::GONE,
            format!(
                "the source file of document {id} is missing or no longer matches its archived hash"
            ),
        )
    })?;
    let limits = crate::load::Limits::default();
    let (_, mut source) = crate::load::open(Arc::new(bytes), &limits)
        .map_err(|e| HttpError::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))?;
    let loaded = source
        .load_page(page as usize - 1, crate::load::OcrMode::Force)
        .map_err(|e| HttpError::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))?;
    let crate::load::PageContent::Ocr(image) = loaded.content else {
        return Err(HttpError::not_found(format!(
            "page {page} of document {id} has no image (text only)"
        )));
    };
    let image = if image.width() > IMAGE_WIDTH {
        let height =
            (image.height() as u64 * IMAGE_WIDTH as u64 / image.width() as u64).max(1) as u32;
        image::imageops::resize(
            &image,
            IMAGE_WIDTH,
            height,
            image::imageops::FilterType::Triangle,
        )
    } else {
        image
    };
    let mut png = Vec::new();
    image
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .map_err(|e| HttpError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok(png)
}

pub async fn page_image(
    State(state): State<Arc<AppState>>,
    Extension(staff): Extension<Staff>,
    Path((id, page)): Path<(i64, u32)>,
) -> Response {
    // Checked before the cache: a page rendered for one unit is never served to another.
    let who = staff.clone();
    let allowed = state
        .with_store(move |store| crate::serve::may_see(store, &who, id, "page image"))
        .await;
    if let Err(e) = allowed {
        return (e.status, e.message).into_response();
    }
    let cached = state
        .pages
        .lock()
        .ok()
        .and_then(|mut c| c.get_mut(&(id, page)).map(|png| Arc::clone(png)));
    let png = match cached {
        Some(png) => png,
        None => match state
            .with_store(move |store| render_page(store, id, page))
            .await
        {
            Ok(png) => {
                let png = Arc::new(png);
                if let Ok(mut cache) = state.pages.lock() {
                    cache.put((id, page), Arc::clone(&png));
                }
                png
            }
            Err(e) => return (e.status, e.message).into_response(),
        },
    };
    (
        [
            (header::CONTENT_TYPE, "image/png"),
            (header::CACHE_CONTROL, "private, max-age=3600"),
        ],
        png.as_ref().clone(),
    )
        .into_response()
}
