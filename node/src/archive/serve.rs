//! `debrief archive serve`: serves a built site over plain HTTP (meant for loopback behind a
//! TLS proxy; docs/archive.md "Hosting") and adds server-side search with SQLite FTS5, built
//! from the site's `export.jsonl`, at `/api/search?q=WORDS`, and reader feedback at
//! `POST /feedback` (the HTML form) and `POST /api/feedback` (JSON) (docs/archive.md
//! "Reader feedback").

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::{ConnectInfo, Query, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use debrief_protocol::Timestamp;
use debrief_protocol::publog::PublicContent;
use rusqlite::{Connection, params};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::net::TcpListener;

use super::ArchiveError;
use super::feedback::{FeedbackStore, MAX_BODY_BYTES, RateLimiter, Refusal, Submission};
use super::site::content_text;

/// Longest query accepted, in bytes.
pub const MAX_QUERY_BYTES: usize = 200;
/// Most results returned.
pub const MAX_RESULTS: usize = 20;

/// The running site.
#[derive(Debug)]
pub struct ArchiveServer {
    dir: PathBuf,
    /// The archive's name (from `export.jsonl`'s site, read from the index page title).
    name: String,
    db: Mutex<Connection>,
    /// Slugs of the live reports, the only ones feedback may name.
    slugs: BTreeSet<String>,
    feedback: Mutex<FeedbackStore>,
    limiter: Mutex<RateLimiter>,
    client_ip_header: Option<HeaderName>,
}

/// How `archive serve` takes reader feedback (docs/archive.md "Reader feedback").
#[derive(Debug, Clone)]
pub struct FeedbackOptions {
    /// The SQLite file feedback is stored in (created if missing).
    pub db: PathBuf,
    /// At most this many submissions per client address in any `window`.
    pub per_window: usize,
    pub window: Duration,
    /// A request header holding the client's address, set by a trusted reverse proxy (e.g.
    /// `X-Real-IP`); without it the connecting address is used.
    pub client_ip_header: Option<String>,
}

impl FeedbackOptions {
    /// The defaults: 5 submissions per address in 10 minutes, the connecting address.
    pub fn new(db: PathBuf) -> FeedbackOptions {
        FeedbackOptions {
            db,
            per_window: 5,
            window: Duration::from_secs(600),
            client_ip_header: None,
        }
    }
}

fn sql(path: &Path) -> impl Fn(rusqlite::Error) -> ArchiveError + '_ {
    move |e| ArchiveError::Search(format!("{}: {e}", path.display()))
}

/// Builds the FTS5 index at `db_path` (replacing it) from `dir/export.jsonl`; returns how many
/// reports it holds.
pub fn build_search_db(dir: &Path, db_path: &Path) -> Result<(Connection, usize), ArchiveError> {
    build_search_db_slugs(dir, db_path).map(|(c, slugs)| {
        let n = slugs.len();
        (c, n)
    })
}

fn build_search_db_slugs(
    dir: &Path,
    db_path: &Path,
) -> Result<(Connection, BTreeSet<String>), ArchiveError> {
    let export = dir.join("export.jsonl");
    let text = std::fs::read_to_string(&export).map_err(|e| ArchiveError::Io {
        path: export.clone(),
        source: e,
    })?;
    if db_path.exists() {
        std::fs::remove_file(db_path).map_err(|e| ArchiveError::Io {
            path: db_path.to_path_buf(),
            source: e,
        })?;
    }
    let err = sql(db_path);
    let mut conn = Connection::open(db_path).map_err(&err)?;
    conn.execute_batch(
        "CREATE VIRTUAL TABLE docs USING fts5(slug UNINDEXED, url UNINDEXED, title, body, tokenize = 'unicode61');",
    )
    .map_err(&err)?;
    let tx = conn.transaction().map_err(&err)?;
    let mut slugs = BTreeSet::new();
    for (i, line) in text.lines().enumerate() {
        let v: Value = serde_json::from_str(line).map_err(|e| {
            ArchiveError::Search(format!("{} line {}: {e}", export.display(), i + 1))
        })?;
        let Some(content) = v.get("content").filter(|c| !c.is_null()) else {
            continue; // retracted: not searchable
        };
        let content: PublicContent = serde_json::from_value(content.clone()).map_err(|e| {
            ArchiveError::Search(format!("{} line {}: {e}", export.display(), i + 1))
        })?;
        let url = v.get("url").and_then(Value::as_str).unwrap_or("");
        tx.execute(
            "INSERT INTO docs (slug, url, title, body) VALUES (?1, ?2, ?3, ?4)",
            params![content.slug, url, content.title, content_text(&content)],
        )
        .map_err(&err)?;
        slugs.insert(content.slug);
    }
    tx.commit().map_err(&err)?;
    Ok((conn, slugs))
}

impl ArchiveServer {
    /// Opens the site in `dir`, builds its search index at `db_path` and opens (or creates)
    /// the feedback store.
    pub fn open(
        dir: &Path,
        db_path: &Path,
        feedback: &FeedbackOptions,
    ) -> Result<(ArchiveServer, usize), ArchiveError> {
        if !dir.join("index.html").is_file() {
            return Err(ArchiveError::Out(format!(
                "{}: no index.html; build the site first with `debrief archive build`",
                dir.display()
            )));
        }
        let (conn, slugs) = build_search_db_slugs(dir, db_path)?;
        let n = slugs.len();
        let store =
            FeedbackStore::open(&feedback.db).map_err(|e| ArchiveError::Out(e.to_string()))?;
        let client_ip_header = match &feedback.client_ip_header {
            None => None,
            Some(h) => Some(HeaderName::from_bytes(h.as_bytes()).map_err(|_| {
                ArchiveError::Out(format!("{h:?} is not a valid HTTP header name"))
            })?),
        };
        if feedback.per_window == 0 {
            return Err(ArchiveError::Out(
                "the feedback limit must allow at least one submission per window".into(),
            ));
        }
        // The archive's name as the built index page states it ("<title>Reports — NAME</title>").
        let index = std::fs::read_to_string(dir.join("index.html")).unwrap_or_default();
        let name = index
            .split_once("<title>Reports — ")
            .and_then(|(_, rest)| rest.split_once("</title>"))
            .map_or_else(|| "Archive".to_owned(), |(n, _)| html_unescape(n));
        Ok((
            ArchiveServer {
                dir: dir.to_path_buf(),
                name,
                db: Mutex::new(conn),
                slugs,
                feedback: Mutex::new(store),
                limiter: Mutex::new(RateLimiter::new(feedback.per_window, feedback.window)),
                client_ip_header,
            },
            n,
        ))
    }

    /// FTS5 search: every word must occur (prefix match), best rank first.
    pub fn search(&self, q: &str) -> Result<Vec<Value>, ArchiveError> {
        let words: Vec<String> = q
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(|w| format!("\"{}\"*", w.to_lowercase()))
            .collect();
        if words.is_empty() {
            return Ok(Vec::new());
        }
        let query = words.join(" ");
        let conn = self
            .db
            .lock()
            .map_err(|_| ArchiveError::Search("search index lock poisoned".into()))?;
        let err = |e: rusqlite::Error| ArchiveError::Search(e.to_string());
        let mut stmt = conn
            .prepare(
                "SELECT slug, url, title, snippet(docs, 3, '', '', '…', 16) FROM docs \
                 WHERE docs MATCH ?1 ORDER BY rank, slug LIMIT ?2",
            )
            .map_err(err)?;
        let rows = stmt
            .query_map(params![query, MAX_RESULTS as i64], |row| {
                Ok(json!({
                    "slug": row.get::<_, String>(0)?,
                    "url": row.get::<_, String>(1)?,
                    "title": row.get::<_, String>(2)?,
                    "snippet": row.get::<_, String>(3)?,
                }))
            })
            .map_err(err)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(err)
    }

    pub fn router(self: Arc<Self>) -> Router {
        Router::new()
            .route("/api/search", get(api_search))
            .route("/search/server", get(html_search))
            .route("/api/feedback", post(api_feedback))
            .route("/feedback", post(form_feedback).get(static_file))
            .fallback(get(static_file))
            .with_state(self)
    }
}

/// Serves until the process is stopped.
pub async fn run(server: Arc<ArchiveServer>, listener: TcpListener) -> Result<(), ArchiveError> {
    // The client address reaches the handlers only for the feedback rate limiter.
    axum::serve(
        listener,
        server
            .router()
            .into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await
    .map_err(|e| ArchiveError::Search(format!("server: {e}")))
}

#[derive(Debug, Deserialize)]
struct SearchParams {
    q: Option<String>,
}

fn json_response(status: StatusCode, v: Value) -> Response {
    let mut r = (status, axum::Json(v)).into_response();
    security_headers(&mut r);
    r
}

async fn api_search(
    State(app): State<Arc<ArchiveServer>>,
    Query(p): Query<SearchParams>,
) -> Response {
    let q = p.q.unwrap_or_default();
    if q.trim().is_empty() {
        return json_response(
            StatusCode::BAD_REQUEST,
            json!({"error": "missing-query", "message": "give the words to find as ?q=WORDS"}),
        );
    }
    if q.len() > MAX_QUERY_BYTES {
        return json_response(
            StatusCode::BAD_REQUEST,
            json!({"error": "query-too-long", "message": format!("a query is at most {MAX_QUERY_BYTES} bytes")}),
        );
    }
    let app2 = app.clone();
    let q2 = q.clone();
    match tokio::task::spawn_blocking(move || app2.search(&q2)).await {
        Ok(Ok(results)) => json_response(
            StatusCode::OK,
            json!({"query": q, "count": results.len(), "results": results}),
        ),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "archive search failed");
            json_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"error": "search-failed", "message": "the search index could not answer"}),
            )
        }
        Err(_) => json_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"error": "search-failed", "message": "the search index could not answer"}),
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// Reader feedback (docs/archive.md "Reader feedback")

/// Why a feedback request was refused, as the status and stable code both answers carry.
struct FeedbackRefusal {
    status: StatusCode,
    code: &'static str,
    message: String,
    retry_after: Option<u64>,
}

impl FeedbackRefusal {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        FeedbackRefusal {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }
}

impl From<Refusal> for FeedbackRefusal {
    fn from(r: Refusal) -> Self {
        let (status, code) = match &r {
            Refusal::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "too-large"),
            Refusal::Empty => (StatusCode::BAD_REQUEST, "empty"),
            Refusal::ControlCharacters(_) => (StatusCode::BAD_REQUEST, "control-characters"),
            Refusal::UnknownReport(_) => (StatusCode::BAD_REQUEST, "unknown-report"),
            Refusal::Malformed { .. } => (StatusCode::BAD_REQUEST, "malformed"),
        };
        FeedbackRefusal::new(status, code, r.to_string())
    }
}

/// The address the limiter counts: the trusted proxy's header when configured, else the
/// connecting address. Never stored (docs/archive.md "Privacy").
fn client_addr(app: &ArchiveServer, req: &Request) -> IpAddr {
    // The last address of a list (X-Forwarded-For): the one the nearest proxy appended, which
    // the client cannot choose.
    if let Some(h) = &app.client_ip_header
        && let Some(ip) = req
            .headers()
            .get(h)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .and_then(|v| v.trim().parse::<IpAddr>().ok())
    {
        return ip;
    }
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip())
}

fn wall_clock() -> Timestamp {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    Timestamp::from_unix(secs)
}

/// Rate limit, content type, size, parse, check, store: in that order, and nothing is stored
/// unless every step passed. Returns the stored id and the report it was about.
async fn accept_feedback(
    app: &Arc<ArchiveServer>,
    req: Request,
    json: bool,
) -> Result<(i64, Option<String>), FeedbackRefusal> {
    let addr = client_addr(app, &req);
    {
        let mut limiter = app.limiter.lock().map_err(|_| {
            FeedbackRefusal::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "limiter lock",
            )
        })?;
        if let Err(wait) = limiter.check(addr, Instant::now()) {
            let mut r = FeedbackRefusal::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate-limited",
                format!("too much feedback from your address; try again in {wait} seconds"),
            );
            r.retry_after = Some(wait);
            return Err(r);
        }
    }
    let expected = if json {
        "application/json"
    } else {
        "application/x-www-form-urlencoded"
    };
    let given = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = given.split(';').next().unwrap_or("").trim();
    if !mime.eq_ignore_ascii_case(expected) {
        return Err(FeedbackRefusal::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            format!("send the feedback as {expected}, not {given:?}"),
        ));
    }
    let body = axum::body::to_bytes(req.into_body(), MAX_BODY_BYTES)
        .await
        .map_err(|_| {
            FeedbackRefusal::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too-large",
                format!("the request body is larger than {MAX_BODY_BYTES} bytes"),
            )
        })?;
    let submission = if json {
        Submission::from_json(&body)?
    } else {
        Submission::from_form(&body)?
    };
    let checked = submission.check(&app.slugs)?;
    let app2 = app.clone();
    let via = if json { "json" } else { "form" };
    let report = checked.report.clone();
    let stored = tokio::task::spawn_blocking(move || {
        let mut store = app2
            .feedback
            .lock()
            .map_err(|_| "feedback store lock poisoned".to_owned())?;
        store
            .insert(&checked, via, wall_clock())
            .map_err(|e| e.to_string())
    })
    .await;
    match stored {
        Ok(Ok(id)) => Ok((id, report)),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "storing feedback failed");
            Err(FeedbackRefusal::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "store-failed",
                "the feedback could not be stored; please try again later",
            ))
        }
        Err(_) => Err(FeedbackRefusal::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "store-failed",
            "the feedback could not be stored; please try again later",
        )),
    }
}

fn with_retry_after(mut r: Response, retry_after: Option<u64>) -> Response {
    if let Some(s) = retry_after
        && let Ok(v) = HeaderValue::from_str(&s.to_string())
    {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

async fn api_feedback(State(app): State<Arc<ArchiveServer>>, req: Request) -> Response {
    match accept_feedback(&app, req, true).await {
        Ok((id, report)) => json_response(
            StatusCode::CREATED,
            json!({"stored": true, "id": id, "report": report}),
        ),
        Err(r) => with_retry_after(
            json_response(r.status, json!({"error": r.code, "message": r.message})),
            r.retry_after,
        ),
    }
}

async fn form_feedback(State(app): State<Arc<ArchiveServer>>, req: Request) -> Response {
    let (status, ok, message, back, retry) = match accept_feedback(&app, req, false).await {
        Ok((_, report)) => {
            let back = report.map_or_else(|| "/".to_owned(), |s| format!("/reports/{s}/"));
            (
                StatusCode::OK,
                true,
                "The maintainers read every message.".to_owned(),
                back,
                None,
            )
        }
        Err(r) => (
            r.status,
            false,
            r.message,
            "/feedback/".to_owned(),
            r.retry_after,
        ),
    };
    let html = super::site::Site::feedback_answer_page(&app.name, ok, &message, &back);
    let mut r = (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        html,
    )
        .into_response();
    security_headers(&mut r);
    with_retry_after(r, retry)
}

/// Reverses `html::esc` for the archive name read back from a page.
fn html_unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// Search without JavaScript: the FTS5 results as an HTML page.
async fn html_search(
    State(app): State<Arc<ArchiveServer>>,
    Query(p): Query<SearchParams>,
) -> Response {
    let q = p.q.unwrap_or_default();
    let q: String = q.chars().take(MAX_QUERY_BYTES).collect();
    let app2 = app.clone();
    let q2 = q.clone();
    let results = match tokio::task::spawn_blocking(move || app2.search(&q2)).await {
        Ok(Ok(r)) => r,
        _ => Vec::new(),
    };
    let rows: Vec<(String, String, String)> = results
        .iter()
        .map(|v| {
            let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
            (s("url"), s("title"), s("snippet"))
        })
        .collect();
    let html = super::site::Site::server_results_page(&app.name, &q, &rows);
    let mut r = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        html,
    )
        .into_response();
    security_headers(&mut r);
    r
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("json") => "application/json",
        Some("jsonl") => "application/jsonl; charset=utf-8",
        Some("atom") => "application/atom+xml; charset=utf-8",
        Some("png") => "image/png",
        Some("svg") => "image/svg+xml",
        Some("md") | Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn security_headers(r: &mut Response) {
    let h = r.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // Only our own script and style; nothing from elsewhere (docs/archive.md "Safety").
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
        ),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

fn not_found() -> Response {
    let mut r = (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "not found\n",
    )
        .into_response();
    security_headers(&mut r);
    r
}

/// Maps a request path to a file of the site: no `..`, no hidden files (the manifest).
fn site_path(dir: &Path, uri_path: &str) -> Option<PathBuf> {
    let rel = uri_path.trim_start_matches('/');
    let mut path = dir.to_path_buf();
    for comp in Path::new(rel).components() {
        match comp {
            Component::Normal(part) => {
                let s = part.to_str()?;
                if s.starts_with('.') || s.contains('\\') || s.contains('%') {
                    return None;
                }
                path.push(s);
            }
            _ => return None,
        }
    }
    Some(path)
}

async fn static_file(State(app): State<Arc<ArchiveServer>>, uri: Uri) -> Response {
    let Some(mut path) = site_path(&app.dir, uri.path()) else {
        return not_found();
    };
    if path.is_dir() {
        if !uri.path().ends_with('/') {
            let mut r = (
                StatusCode::MOVED_PERMANENTLY,
                [(header::LOCATION, format!("{}/", uri.path()))],
            )
                .into_response();
            security_headers(&mut r);
            return r;
        }
        path.push("index.html");
    }
    let read_path = path.clone();
    let bytes = match tokio::task::spawn_blocking(move || std::fs::read(read_path)).await {
        Ok(Ok(b)) => b,
        _ => return not_found(),
    };
    let mut r = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, content_type(&path))],
        bytes,
    )
        .into_response();
    security_headers(&mut r);
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn site_paths_stay_inside_and_skip_hidden_files() {
        let d = Path::new("/srv/site");
        assert_eq!(site_path(d, "/"), Some(PathBuf::from("/srv/site")));
        assert_eq!(
            site_path(d, "/reports/x/index.html"),
            Some(PathBuf::from("/srv/site/reports/x/index.html"))
        );
        assert_eq!(site_path(d, "/../etc/passwd"), None);
        assert_eq!(site_path(d, "/.archive-manifest.json"), None);
        assert_eq!(site_path(d, "/a/%2e%2e/b"), None);
    }
}
