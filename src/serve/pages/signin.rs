//! Who is asking: API tokens and session cookies (the sign-in middleware), the
//! login and logout pages, and the archive's units cached for every request.

use crate::serve::html::{error_page, esc, layout, url};
use crate::serve::request::Staff;
use crate::serve::{AppState, HttpError, auth, check_csrf};
use crate::store::{Archive, SignInPolicy};
use axum::extract::{Form, FromRequest, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use std::sync::Arc;

/// The archive's units, read at most every `UNITS_CACHE_SECONDS`: every request needs
/// them, they change a few times a year.
fn state_units(
    state: &AppState,
    store: &dyn Archive,
) -> Result<Arc<Vec<crate::store::Unit>>, HttpError> {
    if let Ok(cache) = state.units.lock()
        && let Some((at, units)) = cache.as_ref()
        && at.elapsed() < std::time::Duration::from_secs(crate::serve::UNITS_CACHE_SECONDS)
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
        Ok(None) if api => crate::serve::json_error(HttpError::new(
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
        Err(e) if api => crate::serve::json_error(e),
        Err(e) => error_page(e.status, &e.message, None),
    }
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
    let ip = crate::serve::limits::client_ip(&state, &request);
    if !state.sign_in_limit.allow(ip) {
        return crate::serve::limits::too_many();
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
