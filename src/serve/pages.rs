//! The pages records staff use all day (search, document, correction, audit log), the
//! sign-in pages, and the public verification page. Vietnamese throughout.

use super::html::{error_page, esc, layout, url};
use super::request::{SearchParams, Staff};
use super::{AppState, HttpError, auth, check_csrf};
use crate::search::{Hit, SearchResponse};
use crate::store::{Archive, SignInPolicy};
use axum::Extension;
use axum::extract::{Form, FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use std::sync::Arc;

/// Results per page in the browser.
const PAGE_SIZE: usize = 20;
/// Page images are scaled down to this width: sharp on a screen, a few hundred KB.
const IMAGE_WIDTH: u32 = 1400;
/// Rendered page images kept in memory; a document is read page after page.
pub(super) const PAGE_CACHE_BYTES: usize = 96 * 1024 * 1024;

/// The archive's units, read at most every `UNITS_CACHE_SECONDS`: every request needs
/// them, they change a few times a year.
fn state_units(
    state: &AppState,
    store: &dyn Archive,
) -> Result<Arc<Vec<crate::store::Unit>>, HttpError> {
    if let Ok(cache) = state.units.lock()
        && let Some((at, units)) = cache.as_ref()
        && at.elapsed() < std::time::Duration::from_secs(super::UNITS_CACHE_SECONDS)
    {
        return Ok(Arc::clone(units));
    }
    let units = Arc::new(store.units()?);
    if let Ok(mut cache) = state.units.lock() {
        *cache = Some((std::time::Instant::now(), Arc::clone(&units)));
    }
    Ok(units)
}

/// Who sent the request: a bearer API token, else the session cookie.
async fn identify(state: &Arc<AppState>, headers: &HeaderMap) -> Result<Option<Staff>, HttpError> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .map(auth::token_hash);
    let session = headers
        .get(header::COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|c| auth::cookie(c, auth::SESSION_COOKIE))
        .map(auth::token_hash);
    if bearer.is_none() && session.is_none() {
        return Ok(None);
    }
    let shared = Arc::clone(state);
    state
        .with_store(move |store| {
            let (user, csrf) = if let Some(hash) = bearer {
                match store.token_user(&hash)? {
                    Some(user) => (user, None),
                    None => return Ok(None),
                }
            } else {
                let hash = session.unwrap_or_default();
                match store.session(&hash, auth::now_unix())? {
                    Some(s) => (s.user, Some(s.csrf)),
                    None => return Ok(None),
                }
            };
            let units = state_units(&shared, store)?;
            let scope = crate::units::scope_for(user.role, &user.units, &units);
            Ok(Some(Staff { user, csrf, scope }))
        })
        .await
}

/// Lets signed-in staff through; sends browsers to the sign-in page and API clients
/// a 401.
pub async fn require_staff(
    State(state): State<Arc<AppState>>,
    mut request: Request,
    next: Next,
) -> Response {
    let api = request.uri().path().starts_with("/api/");
    match identify(&state, request.headers()).await {
        Ok(Some(staff)) => {
            request.extensions_mut().insert(staff);
            next.run(request).await
        }
        Ok(None) if api => super::json_error(HttpError::new(
            StatusCode::UNAUTHORIZED,
            "sign in first: send 'Authorization: Bearer <token>' (sohoa tokens create) or a session cookie",
        )),
        Ok(None) => {
            let target = request
                .uri()
                .path_and_query()
                .map_or("/".to_owned(), |p| p.as_str().to_owned());
            Redirect::to(&format!("/login?next={}", url(&target))).into_response()
        }
        Err(e) if api => super::json_error(e),
        Err(e) => error_page(e.status, &e.message, None),
    }
}

fn page_error(staff: &Staff) -> impl Fn(HttpError) -> Response + '_ {
    move |e| error_page(e.status, &e.message, Some(&staff.viewer()))
}

// ---------------------------------------------------------------- sign-in

#[derive(Deserialize)]
pub struct NextParam {
    next: Option<String>,
}

/// Only paths on this site: `next=//evil.example` must not redirect away.
fn local_target(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_owned(),
        _ => "/".to_owned(),
    }
}

fn login_page(next: &str, message: Option<&str>, status: StatusCode) -> Response {
    let csrf = match auth::new_token() {
        Ok(t) => t,
        Err(e) => return error_page(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string(), None),
    };
    let mut response = layout(
        "Đăng nhập",
        None,
        &format!(
            r#"<section class="panel narrow"><h1>Đăng nhập cán bộ</h1>{message}
<form method="post" action="/login">
<input type="hidden" name="csrf" value="{csrf}"><input type="hidden" name="next" value="{next}">
<label>Tên đăng nhập<input name="name" autocomplete="username" required autofocus></label>
<label>Mật khẩu<input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">Đăng nhập</button></form></section>"#,
            message = message.map_or(String::new(), |m| format!(
                r#"<p class="status-bad">{}</p>"#,
                esc(m)
            )),
            next = esc(next),
        ),
    );
    *response.status_mut() = status;
    if let Ok(v) = auth::session_cookie(auth::LOGIN_CSRF_COOKIE, &csrf, 3600).parse() {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

pub async fn login_form(Query(p): Query<NextParam>) -> Response {
    login_page(&local_target(p.next.as_deref()), None, StatusCode::OK)
}

#[derive(Deserialize)]
pub struct LoginForm {
    name: String,
    password: String,
    csrf: String,
    next: Option<String>,
}

pub async fn login(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    request: Request,
) -> Response {
    let ip = super::limits::client_ip(&state, &request);
    if !state.sign_in_limit.allow(ip) {
        return super::limits::too_many();
    }
    let Ok(Form(form)) = Form::<LoginForm>::from_request(request, &()).await else {
        return login_page("/", Some("Biểu mẫu không hợp lệ."), StatusCode::BAD_REQUEST);
    };
    let next = local_target(form.next.as_deref());
    let cookie_csrf = headers
        .get(header::COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|c| auth::cookie(c, auth::LOGIN_CSRF_COOKIE))
        .unwrap_or("");
    if cookie_csrf.is_empty() || !auth::same_secret(cookie_csrf, &form.csrf) {
        return login_page(
            &next,
            Some("Phiên đăng nhập đã hết hạn, vui lòng thử lại."),
            StatusCode::FORBIDDEN,
        );
    }
    let name = form.name.trim().to_owned();
    let password = form.password;
    let result = state
        .with_store(move |store| {
            let now = auth::now_unix();
            let address = ip.to_string();
            // A locked account is refused before its password is checked: no answer
            // to learn from while the lock lasts.
            if let Some(until) = store.sign_in_locked(&name, &address, now)? {
                store.audit(&name, "sign-in-locked", None, &format!("from {ip}"))?;
                return Ok(SignIn::Locked(until - now));
            }
            let user = store.user(&name)?;
            let stored = user
                .as_ref()
                .map_or(auth::decoy_hash(), |u| u.password_hash.as_str());
            let matches = auth::password_matches(&password, stored);
            let Some(user) = user.filter(|_| matches) else {
                store.audit(&name, "sign-in-failed", None, &format!("from {ip}"))?;
                return Ok(
                    match store.sign_in_failed(&name, &SignInPolicy::default(), now)? {
                        Some(until) => SignIn::Locked(until - now),
                        None => SignIn::Refused,
                    },
                );
            };
            store.sign_in_succeeded(&name, &address, now)?;
            let token = auth::new_token()?;
            let csrf = auth::new_token()?;
            store.create_session(
                &auth::token_hash(&token),
                user.id,
                &csrf,
                now + auth::SESSION_SECONDS,
            )?;
            store.audit(&user.name, "sign-in", None, &format!("from {ip}"))?;
            Ok(SignIn::Session(token))
        })
        .await;
    match result {
        Ok(SignIn::Session(token)) => {
            let mut response = Redirect::to(&next).into_response();
            let headers = response.headers_mut();
            for cookie in [
                auth::session_cookie(auth::SESSION_COOKIE, &token, auth::SESSION_SECONDS),
                auth::session_cookie(auth::LOGIN_CSRF_COOKIE, "", 0),
            ] {
                if let Ok(v) = cookie.parse() {
                    headers.append(header::SET_COOKIE, v);
                }
            }
            response
        }
        Ok(SignIn::Refused) => login_page(
            &next,
            Some("Sai tên đăng nhập hoặc mật khẩu."),
            StatusCode::UNAUTHORIZED,
        ),
        Ok(SignIn::Locked(seconds)) => {
            let minutes = (seconds.max(1) + 59) / 60;
            let mut response = login_page(
                &next,
                Some(&format!(
                    "Tài khoản tạm khóa đăng nhập vì nhập sai mật khẩu nhiều lần. \
                     Thử lại sau {minutes} phút, hoặc nhờ quản trị viên mở khóa \
                     (sohoa users unlock)."
                )),
                StatusCode::TOO_MANY_REQUESTS,
            );
            if let Ok(v) = seconds.max(1).to_string().parse() {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
            response
        }
        Err(e) => error_page(e.status, &e.message, None),
    }
}

/// How a sign-in attempt ended.
enum SignIn {
    /// Signed in: the session token for the cookie.
    Session(String),
    /// Wrong name or password.
    Refused,
    /// The account is locked for this many more seconds.
    Locked(i64),
}

impl From<std::io::Error> for HttpError {
    fn from(e: std::io::Error) -> HttpError {
        HttpError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: Option<String>,
}

pub async fn logout(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Ok(Some(staff)) = identify(&state, &headers).await {
        if let Err(e) = check_csrf(&staff, form.csrf.as_deref()) {
            return error_page(e.status, &e.message, Some(&staff.viewer()));
        }
        let session = headers
            .get(header::COOKIE)
            .and_then(|v| v.to_str().ok())
            .and_then(|c| auth::cookie(c, auth::SESSION_COOKIE))
            .map(auth::token_hash);
        let name = staff.user.name.clone();
        let _ = state
            .with_store(move |store| {
                if let Some(hash) = session {
                    store.end_session(&hash)?;
                }
                store.audit(&name, "sign-out", None, "")?;
                Ok(())
            })
            .await;
    }
    let mut response = Redirect::to("/login").into_response();
    if let Ok(v) = auth::session_cookie(auth::SESSION_COOKIE, "", 0).parse() {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

// ---------------------------------------------------------------- search

/// `&hl=WORDS` (escaped for an attribute) for a hit's link: the words its snippet highlights, which the page view
/// marks on the page image. Empty when it highlights none.
fn highlight_param(hit: &Hit) -> String {
    let chars: Vec<char> = hit.snippet.chars().collect();
    let mut words: Vec<String> = Vec::new();
    for &(start, end) in &hit.highlights {
        let word: String = chars.get(start..end).unwrap_or_default().iter().collect();
        if !word.trim().is_empty() && !words.contains(&word) {
            words.push(word);
        }
    }
    if words.is_empty() {
        return String::new();
    }
    format!("&amp;hl={}", url(&words.join(" ")))
}

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

/// A snippet with its highlighted words in `<mark>`, everything escaped.
fn marked_snippet(hit: &Hit) -> String {
    let mut out = String::with_capacity(hit.snippet.len() + 16);
    let mut ranges = hit.highlights.iter().peekable();
    let mut buf = [0u8; 4];
    for (i, c) in hit.snippet.chars().enumerate() {
        if ranges.peek().is_some_and(|r| r.0 == i) {
            out.push_str("<mark>");
        }
        out.push_str(&esc(c.encode_utf8(&mut buf)));
        if ranges.peek().is_some_and(|r| r.1 == i + 1) {
            out.push_str("</mark>");
            ranges.next();
        }
    }
    out
}

fn search_form(state: &AppState, p: &SearchParams) -> String {
    let selected = |a: Option<&str>, b: &str| if a == Some(b) { " selected" } else { "" };
    let mut sectors = String::from(r#"<option value="">Tất cả lĩnh vực</option>"#);
    for s in &state.taxonomy.sectors {
        sectors.push_str(&format!(
            r#"<option value="{}"{}>{}</option>"#,
            esc(&s.id),
            selected(p.filters.sector.as_deref(), &s.id),
            esc(&s.name)
        ));
    }
    let value = |v: &Option<String>| esc(v.as_deref().unwrap_or(""));
    format!(
        r#"<form class="search panel" method="get" action="/">
<label class="q">Từ khóa (có dấu hoặc không dấu, "cụm từ", -loại trừ, tiền tố*)<input name="q" value="{q}" placeholder="vd: dat dai thua 125" autofocus></label>
<label>Lĩnh vực<select name="sector">{sectors}</select></label>
<label>Loại văn bản<input name="type" value="{doc_type}" size="5" placeholder="QĐ, CV"></label>
<label>Số hiệu<input name="number" value="{number}" size="12"></label>
<label>Cơ quan<input name="agency" value="{agency}" size="14"></label>
<label>Từ ngày<input name="from" value="{from}" size="10" placeholder="2024-01"></label>
<label>Đến ngày<input name="to" value="{to}" size="10" placeholder="2024-06"></label>
<label>Sắp xếp<select name="sort"><option value="relevance">Phù hợp nhất</option><option value="date"{by_date}>Mới nhất</option></select></label>
<button type="submit">Tìm kiếm</button></form>"#,
        q = esc(&p.q),
        doc_type = value(&p.filters.doc_type),
        number = value(&p.filters.number),
        agency = value(&p.filters.agency),
        from = value(&p.filters.from),
        to = value(&p.filters.to),
        by_date = selected(p.sort.as_deref(), "date"),
    )
}

fn facets_html(state: &AppState, p: &SearchParams, response: &SearchResponse) -> String {
    let mut out = String::from(r#"<aside class="facets panel"><h2>Thu hẹp kết quả</h2>"#);
    let sector_name = |id: &str| {
        state
            .taxonomy
            .sectors
            .iter()
            .find(|s| s.id == id)
            .map_or(id.to_owned(), |s| s.name.clone())
    };
    let mut group = |title: &str,
                     counts: &std::collections::BTreeMap<String, u64>,
                     link: &dyn Fn(&str) -> String,
                     label: &dyn Fn(&str) -> String| {
        if counts.is_empty() {
            return;
        }
        let mut sorted: Vec<(&String, &u64)> = counts.iter().collect();
        sorted.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        out.push_str(&format!("<h3>{}</h3><ul>", esc(title)));
        for (key, n) in sorted.into_iter().take(12) {
            out.push_str(&format!(
                r#"<li><a href="{}">{}</a><span class="count">{n}</span></li>"#,
                esc(&link(key)),
                esc(&label(key))
            ));
        }
        out.push_str("</ul>");
    };
    let facets = &response.facets;
    group(
        "Lĩnh vực",
        &facets.sector,
        &|k| p.link(&[("sector", Some(k.to_owned())), ("offset", None)]),
        &|k| sector_name(k),
    );
    group(
        "Loại văn bản",
        &facets.doc_type,
        &|k| p.link(&[("type", Some(k.to_owned()))]),
        &|k| k.to_owned(),
    );
    group(
        "Năm",
        &facets.year,
        &|k| p.link(&[("from", Some(k.to_owned())), ("to", Some(k.to_owned()))]),
        &|k| k.to_owned(),
    );
    group(
        "Cơ quan ban hành",
        &facets.agency,
        &|k| p.link(&[("agency", Some(k.to_owned()))]),
        &|k| k.to_owned(),
    );
    out.push_str("</aside>");
    out
}

fn hit_html(hit: &Hit) -> String {
    let title = match (&hit.doc_type, &hit.number) {
        (Some(t), Some(n)) => format!("{t} số {n}"),
        (None, Some(n)) => format!("Văn bản số {n}"),
        (Some(t), None) => t.clone(),
        (None, None) => hit.path.rsplit('/').next().unwrap_or(&hit.path).to_owned(),
    };
    let mut badges = String::new();
    if let Some(name) = hit.sector_name.as_deref().or(hit.sector.as_deref()) {
        badges.push_str(&format!(r#"<span class="badge">{}</span> "#, esc(name)));
    }
    if hit.needs_review {
        badges.push_str(r#"<span class="badge review">cần rà soát</span> "#);
    }
    if hit.approximate {
        badges.push_str(r#"<span class="badge approx">gần đúng</span> "#);
    }
    format!(
        r#"<article class="hit"><h2><a href="/documents/{id}?page={page}{hl}">{title}</a></h2>
<div class="meta">{badges}{date}{agency} · trang {page}</div><p class="snippet">{snippet}</p></article>"#,
        id = hit.id,
        page = hit.page,
        hl = highlight_param(hit),
        title = esc(&title),
        date = hit
            .date
            .as_deref()
            .map_or(String::new(), |d| format!("ngày {} ", esc(d))),
        agency = hit
            .agency
            .as_deref()
            .map_or(String::new(), |a| format!("· {}", esc(a))),
        snippet = marked_snippet(hit),
    )
}

pub async fn search(
    State(state): State<Arc<AppState>>,
    Extension(staff): Extension<Staff>,
    Query(p): Query<SearchParams>,
) -> Response {
    let form = search_form(&state, &p);
    if p.is_empty() {
        return layout(
            "Tìm kiếm",
            Some(&staff.viewer()),
            &format!(
                r#"{form}<section class="panel"><p>Nhập từ khóa hoặc chọn bộ lọc. Từ không dấu khớp mọi cách viết có dấu (<b>dat dai</b> → <b>đất đai</b>); từ có dấu ưu tiên văn bản viết đúng dấu.</p></section>"#
            ),
        );
    }
    let mut request = match p.request(&state, PAGE_SIZE) {
        Ok(r) => r,
        Err(e) => {
            let mut r = layout(
                "Tìm kiếm",
                Some(&staff.viewer()),
                &format!(
                    r#"{form}<section class="panel error"><p>{}</p></section>"#,
                    esc(&e.message)
                ),
            );
            *r.status_mut() = e.status;
            return r;
        }
    };
    request.scope = staff.scope.clone();
    let searched = state.search(request).await;
    let (request, response) = match searched {
        Ok(r) => r,
        Err(e) => return page_error(&staff)(e),
    };
    let summary = if response.approximate {
        format!(
            "{} văn bản; không đủ kết quả khớp chính xác nên có thêm kết quả <b>gần đúng</b> (lỗi nhận dạng chữ).",
            response.total
        )
    } else {
        format!("{} văn bản phù hợp.", response.total)
    };
    let hits: String = response.hits.iter().map(hit_html).collect();
    let active: String = [
        ("sector", "Lĩnh vực", &p.filters.sector),
        ("type", "Loại", &p.filters.doc_type),
        ("procedure", "Thủ tục", &p.filters.procedure),
        ("number", "Số", &p.filters.number),
        ("agency", "Cơ quan", &p.filters.agency),
        ("id", "CCCD", &p.filters.citizen_id),
        ("from", "Từ", &p.filters.from),
        ("to", "Đến", &p.filters.to),
    ]
    .iter()
    .filter_map(|(key, label, value)| {
        let value = value.as_deref().map(str::trim).filter(|v| !v.is_empty())?;
        let shown = match *key {
            "sector" => state
                .taxonomy
                .sectors
                .iter()
                .find(|s| s.id == value)
                .map_or(value.to_owned(), |s| s.name.clone()),
            _ => value.to_owned(),
        };
        Some(format!(
            r#"<a class="badge" href="{}" title="Bỏ bộ lọc">{}: {} ✕</a> "#,
            esc(&p.link(&[(key, None)])),
            esc(label),
            esc(&shown)
        ))
    })
    .collect();
    let mut pager = String::new();
    if request.offset > 0 {
        pager.push_str(&format!(
            r#"<a href="{}">← Trang trước</a>"#,
            esc(&p.link(&[(
                "offset",
                Some(request.offset.saturating_sub(PAGE_SIZE).to_string())
            )]))
        ));
    }
    if request.offset + response.hits.len() < response.total {
        pager.push_str(&format!(
            r#"<a href="{}">Trang sau →</a>"#,
            esc(&p.link(&[("offset", Some((request.offset + PAGE_SIZE).to_string()))]))
        ));
    }
    layout(
        "Tìm kiếm",
        Some(&staff.viewer()),
        &format!(
            r#"{form}<div class="layout">{facets}<section class="panel"><p class="summary">{summary} {active}</p>{hits}<div class="pager">{pager}</div></section></div>"#,
            facets = facets_html(&state, &p, &response),
        ),
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
        .with_store(move |store| super::viewed_document(store, &who, id, ""))
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
    match super::correct(&state, &staff, id, form.sector, form.procedure).await {
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
        .with_store(move |store| super::may_see(store, &who, id, "page image"))
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
</section>{result}"#
        ),
    )
}

pub async fn verify_form() -> Response {
    verify_page("")
}

fn answer_html(answer: &super::public::PublicAnswer) -> String {
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
    match super::public::answer_for_code(&state, form.code).await {
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
    match super::public::answer_for_file(&state, bytes.to_vec()).await {
        Ok(answer) => verify_page(&answer_html(&answer)),
        Err(e) => error_page(e.status, &e.message, None),
    }
}
