//! `sohoa serve`: the archive on the web. Records staff search and read documents and
//! correct classifications in the browser (server-rendered pages, `pages`); other systems
//! use the JSON API (`api`, described by `openapi.json`); anyone may check a certified
//! copy on the public verification page.
//!
//! The service reads the database the nightly ingest writes (SQLite in WAL mode: readers
//! never wait for the writer). Request handlers run on tokio; everything touching the
//! store runs on tokio's blocking threads with a handle from a small pool, because a
//! store handle is `Send` but not `Sync`. The service never keeps the search index's
//! writer: a correction takes a fresh handle, writes, tries to update the index, and drops
//! it, so the ingest's writer is never locked out for long (if the ingest holds it, the
//! change waits in the index queue for the ingest's next flush).

mod api;
pub mod auth;
mod cache;
mod html;
mod limits;
mod pages;
mod public;
mod request;

use crate::classify::Taxonomy;
use crate::store::{Archive, StoreError};
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use ed25519_dalek::VerifyingKey;
pub use limits::{Cidr, ConnectionConfig};
use limits::{ConnectionLimits, RateLimiter};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use thiserror::Error;

/// Forms and JSON bodies are small; anything larger is refused before it is read.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// A scan uploaded for verification: scanner PDFs of a few dozen pages fit.
pub const MAX_UPLOAD_BYTES: usize = 50 * 1024 * 1024;
/// A URL's query string (the search box and filters) may not exceed this.
pub const MAX_QUERY_BYTES: usize = 4096;
/// No request holds a worker longer than this (a page rendered from a 600 dpi scan
/// takes about a second; anything slower is stuck).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Store work running at once, and idle handles kept. More would only queue on two
/// cores, and a handle beyond the pool would be opened (index readers and all) and
/// thrown away for every request under load.
const POOL_SIZE: usize = 8;
/// Search responses remembered. Valid while the index is unchanged (its generation),
/// and at most `SEARCH_CACHE_SECONDS`, since a document's fields shown in a hit can
/// change without the index (a file moved).
const SEARCH_CACHE_ENTRIES: usize = 2_000;
const SEARCH_CACHE_SECONDS: u64 = 60;
/// A unit added while the service runs counts within this many seconds (grants and
/// revocations are read with the account, at once).
pub(crate) const UNITS_CACHE_SECONDS: u64 = 5;

#[derive(Debug, Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Keys(#[from] crate::authenticity::AuthError),
}

pub struct ServeConfig {
    pub addr: SocketAddr,
    pub db: PathBuf,
    /// The archive's signing keys: corrections are signed; verification trusts them.
    pub keys: PathBuf,
    pub taxonomy: Taxonomy,
    pub connections: ConnectionConfig,
}

/// What every handler shares.
pub struct AppState {
    db: PathBuf,
    keys: PathBuf,
    taxonomy: Taxonomy,
    /// The taxonomy's procedures, indexed once for the finder (names only: public).
    procedures: crate::store::procedures::ProcedureFinder,
    trusted: Vec<VerifyingKey>,
    idle: Mutex<Vec<Box<dyn Archive>>>,
    busy: tokio::sync::Semaphore,
    searches: Mutex<SearchCache>,
    pages: Mutex<PageImages>,
    sign_in_limit: RateLimiter,
    public_limit: RateLimiter,
    /// Proxies whose forwarding headers name the client (`limits::client_address`).
    trusted_proxies: Vec<Cidr>,
    /// The archive's units, with when they were read (`pages::state_units`).
    units: Mutex<Option<(std::time::Instant, Arc<Vec<crate::store::Unit>>)>>,
}

/// A failure as the client sees it: a status and a message that names the problem.
#[derive(Debug)]
pub struct HttpError {
    pub status: StatusCode,
    pub message: String,
}

impl HttpError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> HttpError {
        HttpError {
            status,
            message: message.into(),
        }
    }

    pub fn not_found(what: impl Into<String>) -> HttpError {
        HttpError::new(StatusCode::NOT_FOUND, what)
    }

    pub fn bad_request(what: impl Into<String>) -> HttpError {
        HttpError::new(StatusCode::BAD_REQUEST, what)
    }
}

impl From<StoreError> for HttpError {
    fn from(e: StoreError) -> HttpError {
        eprintln!("sohoa serve: {e}");
        HttpError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error (logged)")
    }
}

impl From<serde_json::Error> for HttpError {
    fn from(e: serde_json::Error) -> HttpError {
        HttpError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
    }
}

impl From<crate::search::SearchError> for HttpError {
    fn from(e: crate::search::SearchError) -> HttpError {
        match e {
            crate::search::SearchError::Store(e) => e.into(),
            other => HttpError::bad_request(other.to_string()),
        }
    }
}

impl AppState {
    pub fn new(config: ServeConfig) -> Result<AppState, ServeError> {
        // Opening once up front applies migrations and fails early on a bad path.
        let mut store = crate::store::open(&config.db)?;
        // Signing is set up here, once (the first key created, older documents
        // recorded), so a correction only resumes it. An archive that cannot sign is
        // still served for reading; corrections are then refused with the reason.
        match crate::authenticity::signing::start(&mut *store, &config.keys) {
            Ok(started) => {
                if let Some(key) = started.created_key {
                    eprintln!(
                        "sohoa serve: created the archive's signing key {key} in {}",
                        config.keys.display()
                    );
                }
            }
            Err(e) => eprintln!("sohoa serve: corrections will be refused: {e}"),
        }
        store.set_signer(None)?;
        // Keys that cannot be read are an error, not "no trusted keys": every public
        // verification would then fail for a reason no one is told.
        let trusted = crate::authenticity::keys::public_keys(&config.keys)?;
        let procedures = crate::store::procedures::ProcedureFinder::new(&config.taxonomy)?;
        Ok(AppState {
            db: config.db,
            keys: config.keys,
            procedures,
            taxonomy: config.taxonomy,
            trusted,
            idle: Mutex::new(vec![store]),
            busy: tokio::sync::Semaphore::new(POOL_SIZE),
            searches: Mutex::new(SearchCache::default()),
            pages: Mutex::new(cache::Lru::new(pages::PAGE_CACHE_BYTES, |png| png.len())),
            sign_in_limit: RateLimiter::new(limits::SIGN_IN_PER_MINUTE, limits::SIGN_IN_BURST),
            public_limit: RateLimiter::new(limits::PUBLIC_PER_MINUTE, limits::PUBLIC_BURST),
            trusted_proxies: config.connections.trusted_proxies,
            units: Mutex::new(None),
        })
    }

    /// Runs `work` with a pooled store handle on a blocking thread.
    pub async fn with_store<T, F>(self: &Arc<Self>, work: F) -> Result<T, HttpError>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn Archive) -> Result<T, HttpError> + Send + 'static,
    {
        let state = Arc::clone(self);
        let _permit = self.busy.acquire().await.map_err(|e| {
            HttpError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("shutting down: {e}"),
            )
        })?;
        tokio::task::spawn_blocking(move || {
            // A handle whose connection was cut (the database restarted) is dropped,
            // and a new one connects.
            let pooled = state.idle.lock().map(|mut v| v.pop()).unwrap_or(None);
            let mut store = match pooled.filter(|s| s.connected()) {
                Some(s) => s,
                None => crate::store::open(&state.db)?,
            };
            let result = work(&mut *store);
            if let Ok(mut idle) = state.idle.lock()
                && idle.len() < POOL_SIZE
                && store.connected()
            {
                idle.push(store);
            }
            result
        })
        .await
        .map_err(join_failed)?
    }

    /// Runs a search, or answers from the cache when the same request was answered on
    /// the same index generation.
    pub async fn search(
        self: &Arc<Self>,
        request: crate::search::SearchRequest,
    ) -> Result<
        (
            crate::search::SearchRequest,
            Arc<crate::search::SearchResponse>,
        ),
        HttpError,
    > {
        let state = Arc::clone(self);
        self.with_store(move |store| {
            // The scope is part of the key: one unit's results never answer another's.
            let key = format!(
                "{}|{:?}|{}|{}|{:?}|{:?}",
                request.text,
                request.filters,
                request.limit,
                request.offset,
                request.sort,
                request.scope
            );
            let generation = store.search_generation()?;
            let cached = state
                .searches
                .lock()
                .ok()
                .and_then(|mut c| c.lookup(&key, generation));
            match cached {
                Some(Lookup::Fresh(response)) | Some(Lookup::BeingRefreshed(response)) => {
                    return Ok((request, response));
                }
                Some(Lookup::Stale) | None => {}
            }
            let response = crate::search::run(store, &request).map(Arc::new);
            if let Ok(mut cache) = state.searches.lock() {
                match &response {
                    Ok(r) => cache.put(key, generation, Arc::clone(r)),
                    Err(_) => cache.refreshed(&key),
                }
            }
            let response = response?;
            Ok((request, response))
        })
        .await
    }

    /// A handle of its own for a change that is signed and indexed, dropped afterwards
    /// so it never keeps the index writer (see the module comment).
    pub fn writer(&self) -> Result<Box<dyn Archive>, HttpError> {
        let mut store = crate::store::open(&self.db)?;
        crate::authenticity::signing::resume(&mut *store, &self.keys).map_err(|e| {
            HttpError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("cannot sign changes: {e}"),
            )
        })?;
        Ok(store)
    }

    pub fn db(&self) -> &std::path::Path {
        &self.db
    }
}

/// Rendered page images (PNG) by document and page number.
type PageImages = cache::Lru<(i64, u32), Arc<Vec<u8>>>;

/// Search responses by request. After the index changes (an ingest committed), the
/// first request for a query recomputes it while the others are answered from the
/// previous generation for that moment, instead of all recomputing at once: a commit
/// under load was a latency spike of several hundred milliseconds.
struct SearchCache {
    entries: cache::Lru<String, CachedSearch>,
}

impl Default for SearchCache {
    fn default() -> SearchCache {
        SearchCache {
            entries: cache::Lru::new(SEARCH_CACHE_ENTRIES, |_| 1),
        }
    }
}

struct CachedSearch {
    generation: u64,
    at: std::time::Instant,
    response: Arc<crate::search::SearchResponse>,
    refreshing: bool,
}

enum Lookup {
    Fresh(Arc<crate::search::SearchResponse>),
    /// Outdated, and another request is computing the new answer: use this one.
    BeingRefreshed(Arc<crate::search::SearchResponse>),
    /// Outdated: the caller computes the new answer (and is now marked as doing so).
    Stale,
}

impl SearchCache {
    fn lookup(&mut self, key: &str, generation: u64) -> Option<Lookup> {
        let entry = self.entries.get_mut(&key.to_owned())?;
        let young = entry.at.elapsed() < Duration::from_secs(SEARCH_CACHE_SECONDS);
        Some(if entry.generation == generation && young {
            Lookup::Fresh(Arc::clone(&entry.response))
        } else if entry.refreshing && young {
            Lookup::BeingRefreshed(Arc::clone(&entry.response))
        } else {
            entry.refreshing = true;
            Lookup::Stale
        })
    }

    /// The refresh failed: let the next request try.
    fn refreshed(&mut self, key: &str) {
        if let Some(entry) = self.entries.get_mut(&key.to_owned()) {
            entry.refreshing = false;
        }
    }

    fn put(&mut self, key: String, generation: u64, response: Arc<crate::search::SearchResponse>) {
        let entry = CachedSearch {
            generation,
            at: std::time::Instant::now(),
            response,
            refreshing: false,
        };
        self.entries.put(key, entry);
    }
}

/// The whole service: routes, sign-in, limits and headers.
pub fn router(state: Arc<AppState>) -> Router {
    let public = Router::new()
        .route("/verify", get(pages::verify_form).post(pages::verify_code))
        .route(
            "/verify/file",
            post(pages::verify_file).layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES)),
        )
        .route("/api/verify/{code}", get(api::verify_code))
        .route("/procedures", get(pages::public_procedures))
        .route("/api/procedures", get(api::procedures))
        .route(
            "/api/verify/file",
            post(api::verify_file).layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES)),
        )
        .layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            limits::public_rate,
        ));
    let staff = Router::new()
        .route("/", get(pages::search))
        .route("/documents/{id}", get(pages::document))
        .route("/documents/{id}/pages/{page}/image", get(pages::page_image))
        .route(
            "/documents/{id}/classification",
            post(pages::correct_classification),
        )
        .route("/admin/audit", get(pages::audit))
        .route("/staff/procedures", get(pages::staff_procedures))
        .route("/staff/reports", get(pages::staff_reports))
        .route("/api/search", get(api::search))
        .route("/api/documents/{id}", get(api::document))
        .route(
            "/api/documents/{id}/pages/{page}/image",
            get(pages::page_image),
        )
        .route(
            "/api/documents/{id}/pages/{page}/{format}",
            get(api::page_layout),
        )
        .route(
            "/api/documents/{id}/classification",
            post(api::correct_classification),
        )
        .route("/api/sectors", get(api::sectors))
        .route("/api/audit", get(api::audit))
        .route("/api/reports", get(api::reports))
        .route("/api/me", get(api::me))
        .layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            pages::require_staff,
        ));
    Router::new()
        .merge(public)
        .merge(staff)
        .route("/login", get(pages::login_form).post(pages::login))
        .route("/logout", post(pages::logout))
        .route("/api/openapi.json", get(api::openapi))
        .route("/static/style.css", get(html::stylesheet))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn(limits::guard))
        .with_state(state)
}

async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "not found").into_response()
}

/// Security headers on every response; pages are never framed, sniffed or cached.
pub(crate) fn secure(response: &mut Response) {
    let headers = response.headers_mut();
    let set =
        |headers: &mut axum::http::HeaderMap, name: header::HeaderName, value: &'static str| {
            headers.insert(name, HeaderValue::from_static(value));
        };
    set(
        headers,
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; img-src 'self'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    );
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(headers, header::X_FRAME_OPTIONS, "DENY");
    set(headers, header::REFERRER_POLICY, "no-referrer");
    if !headers.contains_key(header::CACHE_CONTROL) {
        set(headers, header::CACHE_CONTROL, "no-store");
    }
}

/// Serves until Ctrl-C or SIGTERM. Prints the address it listens on first (port 0
/// picks a free one), so scripts and tests can find it.
pub fn serve(config: ServeConfig) -> Result<(), ServeError> {
    let addr = config.addr;
    let connections = ConnectionLimits::new(config.connections.clone());
    let state = Arc::new(AppState::new(config)?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| ServeError::Bind { addr, source })?;
        let bound = listener.local_addr()?;
        println!(
            "sohoa: serving {} on http://{bound}/",
            crate::location::display(state.db())
        );
        use std::io::Write;
        let _ = std::io::stdout().flush();
        accept_all(listener, router(state), connections).await;
        Ok(())
    })
}

/// Accepts connections until Ctrl-C or SIGTERM, each under the connection caps and the
/// header-read timeout, then lets requests in flight finish (up to `REQUEST_TIMEOUT`).
async fn accept_all(
    listener: tokio::net::TcpListener,
    app: Router,
    connections: Arc<ConnectionLimits>,
) {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut open = tokio::task::JoinSet::new();
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                // Out of file descriptors or a connection reset before accept: go on.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        while open.try_join_next().is_some() {}
        // Over a cap: close at once, before reading a byte.
        let Some(permit) = connections.admit(peer.ip()) else {
            drop(stream);
            continue;
        };
        let app = app.clone();
        let mut stop = stop_rx.clone();
        let header_timeout = connections.config().header_read_timeout;
        open.spawn(async move {
            let _permit = permit;
            let service = hyper::service::service_fn(
                move |mut request: hyper::Request<hyper::body::Incoming>| {
                    request
                        .extensions_mut()
                        .insert(axum::extract::ConnectInfo(peer));
                    tower::ServiceExt::oneshot(app.clone(), request.map(axum::body::Body::new))
                },
            );
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(header_timeout);
            let connection =
                builder.serve_connection(hyper_util::rt::TokioIo::new(stream), service);
            tokio::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                _ = stop.changed() => {
                    connection.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(REQUEST_TIMEOUT, connection).await;
                }
            }
        });
    }
    let _ = stop_tx.send(true);
    while open.join_next().await.is_some() {}
}

async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async {
            match term.as_mut() {
                Some(t) => { t.recv().await; }
                None => std::future::pending::<()>().await,
            }
        } => {}
    }
}

/// An error as the JSON API answers it: `{"error": "..."}` with the status.
pub fn json_error(e: HttpError) -> Response {
    (e.status, Json(serde_json::json!({ "error": e.message }))).into_response()
}

/// Checks a request's CSRF token against the session's (browser sessions only).
pub(crate) fn check_csrf(staff: &request::Staff, given: Option<&str>) -> Result<(), HttpError> {
    match &staff.csrf {
        None => Ok(()),
        Some(expected) if given.is_some_and(|g| auth::same_secret(g, expected)) => Ok(()),
        Some(_) => Err(HttpError::new(
            StatusCode::FORBIDDEN,
            "missing or wrong CSRF token: reload the page and try again",
        )),
    }
}

/// Whether `staff` may see document `id`: a missing document and one of another unit
/// get the same answer (nothing learned of the other unit), and the refusal is audited.
pub(crate) fn may_see(
    store: &mut dyn Archive,
    staff: &request::Staff,
    id: i64,
    what: &str,
) -> Result<(), HttpError> {
    match store.visibility(id, &staff.scope)? {
        crate::store::Visibility::Visible => Ok(()),
        crate::store::Visibility::Hidden => {
            store.audit(&staff.user.name, "view-denied", Some(id), what)?;
            Err(HttpError::not_found(format!("no document {id}")))
        }
        crate::store::Visibility::Missing => Err(HttpError::not_found(format!("no document {id}"))),
    }
}

/// A document as staff see it, with its current verification code; the view is
/// written to the audit log (`via` says through what: "" for the page, "api").
pub(crate) fn viewed_document(
    store: &mut dyn Archive,
    staff: &request::Staff,
    id: i64,
    via: &str,
) -> Result<(crate::store::StoredDocument, Option<String>), HttpError> {
    may_see(
        store,
        staff,
        id,
        if via.is_empty() { "document" } else { via },
    )?;
    let doc = store
        .document(id)?
        .ok_or_else(|| HttpError::not_found(format!("no document {id}")))?;
    let code = store.log_entries_of(id)?.pop().map(|e| e.code);
    store.audit(&staff.user.name, "view-document", Some(id), via)?;
    Ok((doc, code))
}

/// Applies a staff correction on a blocking thread, counted against the store work
/// allowed at once (`correct_now` says how).
pub(crate) async fn correct(
    state: &Arc<AppState>,
    staff: &request::Staff,
    id: i64,
    sector: String,
    procedure: Option<String>,
) -> Result<crate::classify::Classification, HttpError> {
    let _permit = state.busy.acquire().await.map_err(|e| {
        HttpError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("shutting down: {e}"),
        )
    })?;
    let (state, staff) = (Arc::clone(state), staff.clone());
    tokio::task::spawn_blocking(move || {
        correct_now(&state, &staff, id, &sector, procedure.as_deref())
    })
    .await
    .map_err(join_failed)?
}

/// A blocking task that panicked or was cancelled: the request fails, the service goes on.
fn join_failed(e: tokio::task::JoinError) -> HttpError {
    HttpError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        format!("request failed: {e}"),
    )
}

/// Applies a staff correction: signed, sealed, and indexed unless the ingest holds the
/// index (then at its next flush). Returns the document's new classification.
fn correct_now(
    state: &AppState,
    staff: &request::Staff,
    id: i64,
    sector: &str,
    procedure: Option<&str>,
) -> Result<crate::classify::Classification, HttpError> {
    let classification =
        crate::classify::staff_classification(&state.taxonomy, sector, procedure, &staff.user.name)
            .map_err(|e| HttpError::bad_request(e.to_string()))?;
    if !staff.user.role.may_correct() {
        return Err(HttpError::new(
            StatusCode::FORBIDDEN,
            "viewers cannot correct a classification",
        ));
    }
    let mut store = state.writer()?;
    may_see(&mut *store, staff, id, "correction")?;
    store.correct(id, &classification, &staff.user.name)?;
    store.audit(
        &staff.user.name,
        "correct-classification",
        Some(id),
        &format!(
            "{}{}",
            classification.sector,
            classification
                .procedure_code
                .as_deref()
                .map_or(String::new(), |p| format!(" / {p}"))
        ),
    )?;
    if let Err(e) = store.flush_index() {
        eprintln!("sohoa serve: correction of {id} waits for the next index flush ({e})");
    }
    if let Err(e) = crate::authenticity::signing::seal(&mut *store, &state.db) {
        eprintln!("sohoa serve: tree head not written after correcting {id}: {e}");
    }
    Ok(classification)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(total: usize) -> Arc<crate::search::SearchResponse> {
        Arc::new(crate::search::SearchResponse {
            total,
            approximate: false,
            question: false,
            hits: Vec::new(),
            facets: Default::default(),
        })
    }

    fn kind(lookup: Option<Lookup>) -> (&'static str, Option<usize>) {
        match lookup {
            None => ("miss", None),
            Some(Lookup::Fresh(r)) => ("fresh", Some(r.total)),
            Some(Lookup::BeingRefreshed(r)) => ("being-refreshed", Some(r.total)),
            Some(Lookup::Stale) => ("stale", None),
        }
    }

    #[test]
    fn search_cache_recomputes_once_per_index_change() {
        let mut cache = SearchCache::default();
        assert_eq!(kind(cache.lookup("q", 1)), ("miss", None));
        cache.put("q".into(), 1, response(10));
        assert_eq!(kind(cache.lookup("q", 1)), ("fresh", Some(10)));
        // The index changed: the first caller recomputes, the others get the old answer.
        assert_eq!(kind(cache.lookup("q", 2)), ("stale", None));
        assert_eq!(kind(cache.lookup("q", 2)), ("being-refreshed", Some(10)));
        cache.put("q".into(), 2, response(11));
        assert_eq!(kind(cache.lookup("q", 2)), ("fresh", Some(11)));
        // A failed recomputation lets the next caller try again.
        assert_eq!(kind(cache.lookup("q", 3)), ("stale", None));
        cache.refreshed("q");
        assert_eq!(kind(cache.lookup("q", 3)), ("stale", None));
    }

    #[test]
    fn search_cache_forgets_the_oldest_beyond_its_size() {
        let mut cache = SearchCache::default();
        for i in 0..=SEARCH_CACHE_ENTRIES {
            cache.put(format!("q{i}"), 1, response(i));
        }
        assert_eq!(kind(cache.lookup("q0", 1)), ("miss", None));
        assert_eq!(kind(cache.lookup("q1", 1)), ("fresh", Some(1)));
    }
}
