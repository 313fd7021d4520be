//! Dashboard sessions: login (argon2id passwords, rate limited), the
//! session cookie, CSRF tokens, logout.
//!
//! **Invariants.**
//! - A session id is 128 random bits, sent only in the cookie
//!   `lindung_session` (`HttpOnly; SameSite=Strict; Path=/`, plus `Secure`
//!   when the server serves TLS itself or `LINDUNG_DASHBOARD_SECURE_COOKIE=1`,
//!   i.e. behind a TLS proxy) and stored
//!   only as its SHA-256. It ends after [`IDLE_TIMEOUT`] without a request,
//!   [`ABSOLUTE_TIMEOUT`] after login, at logout, when the account is
//!   revoked, or when its password changes.
//! - Every POST but `/login` carries the session's CSRF token in a hidden
//!   `csrf` field; a missing or wrong token is refused (403) before anything
//!   is done. The login form carries a pre-session token that must match
//!   its own cookie.
//! - After [`MAX_FAILURES`] failed logins for a login name or from a client
//!   address within [`FAILURE_WINDOW`], logins for it are refused (429),
//!   even with the right password, until the window has passed; a
//!   successful login forgets that name's and address's failures.
//! - Passwords are never logged, stored or echoed; an unknown login costs
//!   the same argon2id work as a wrong password.

use std::sync::{Arc, OnceLock};

use axum::extract::{Form, FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use lindung_shared::lang::Lang;
use maud::{DOCTYPE, html};
use time::{Duration, OffsetDateTime};

use super::{PageError, lang_of, language_link, maud_html, notice, t};
use crate::api::AppState;
use crate::secrets::{constant_time_eq, new_token, token_hash, verify_password};
use crate::storage::{NewStaffSession, StaffAccount};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "lindung_session";
/// The login form's pre-session CSRF cookie.
pub const LOGIN_COOKIE: &str = "lindung_login";
/// A session ends after this long without a request.
pub const IDLE_TIMEOUT: Duration = Duration::minutes(30);
/// A session ends this long after login, whatever happens.
pub const ABSOLUTE_TIMEOUT: Duration = Duration::hours(12);
/// Failed logins allowed per login name and per client address…
pub const MAX_FAILURES: u64 = 5;
/// …within this window.
pub const FAILURE_WINDOW: Duration = Duration::minutes(15);

/// The value of cookie `name` in the request.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

/// Set once when the server itself serves TLS: cookies are then `Secure`.
static SERVING_TLS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Marks this process as serving TLS itself (`serve --tls-cert`): every
/// cookie it sets from now on carries `Secure`.
pub fn serving_tls() {
    SERVING_TLS.store(true, std::sync::atomic::Ordering::Relaxed);
}

fn secure_cookies() -> bool {
    static SECURE: OnceLock<bool> = OnceLock::new();
    SERVING_TLS.load(std::sync::atomic::Ordering::Relaxed)
        || *SECURE.get_or_init(|| {
            std::env::var("LINDUNG_DASHBOARD_SECURE_COOKIE").is_ok_and(|v| v == "1" || v == "true")
        })
}

fn set_cookie(response: &mut Response, name: &str, value: &str, max_age: Option<i64>) {
    let mut text = format!("{name}={value}; HttpOnly; SameSite=Strict; Path=/");
    if let Some(seconds) = max_age {
        text.push_str(&format!("; Max-Age={seconds}"));
    }
    if secure_cookies() {
        text.push_str("; Secure");
    }
    if let Ok(value) = HeaderValue::from_str(&text) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

/// The signed-in staff member of a request, with what every page needs.
#[derive(Clone, Debug)]
pub struct Ctx {
    /// The account.
    pub account: StaffAccount,
    /// The session's CSRF token.
    pub csrf: String,
    /// The page language.
    pub lang: Lang,
    /// The request's path and query (to come back after a language switch).
    pub path: String,
    session_hash: [u8; 32],
}

impl Ctx {
    /// A role refusal as a page.
    pub fn denied(&self, denied: &crate::access::Denied) -> PageError {
        PageError::denied(self.lang, denied)
    }

    /// A failure of storage or of a shared function, as a 500 page.
    pub fn internal(&self, error: &dyn std::fmt::Display) -> PageError {
        PageError::internal(self.lang, error)
    }

    /// A 4xx page with a message in the page language.
    pub fn refuse(&self, status: StatusCode, indonesian: &str, english: &str) -> PageError {
        PageError::new(
            status,
            self.lang,
            match self.lang {
                Lang::Id => indonesian,
                Lang::En => english,
            },
        )
    }
}

/// Without a valid session: back to the login page.
fn to_login() -> Response {
    Redirect::to("/login").into_response()
}

impl FromRequestParts<Arc<AppState>> for Ctx {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let lang = lang_of(&parts.headers);
        let Some(id) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(to_login());
        };
        let hash = token_hash(&id);
        let storage = state.storage.as_ref();
        let session = match storage.staff_session(&hash).await {
            Ok(Some(session)) => session,
            Ok(None) => return Err(to_login()),
            Err(error) => return Err(PageError::internal(lang, &error).into_response()),
        };
        let now = OffsetDateTime::now_utc();
        if session.account.revoked_at.is_some()
            || now - session.created_at > ABSOLUTE_TIMEOUT
            || now - session.last_seen_at > IDLE_TIMEOUT
        {
            let _ = storage.delete_staff_session(&hash).await;
            return Err(to_login());
        }
        if let Err(error) = storage.touch_staff_session(&hash, now).await {
            return Err(PageError::internal(lang, &error).into_response());
        }
        let path = parts
            .uri
            .path_and_query()
            .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned());
        Ok(Ctx {
            account: session.account,
            csrf: session.csrf_token,
            lang,
            path,
            session_hash: hash,
        })
    }
}

/// The fields of a posted form (repeated names kept), in order.
#[derive(Clone, Debug, Default)]
pub struct Fields(pub Vec<(String, String)>);

impl Fields {
    /// The first value of `name`, trimmed; `None` when absent or blank.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.trim())
            .filter(|value| !value.is_empty())
    }

    /// Every non-blank value of `name`.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(key, _)| key == name)
            .map(|(_, value)| value.trim())
            .filter(|value| !value.is_empty())
            .collect()
    }
}

/// A POSTed form from a signed-in account whose CSRF token matched.
#[derive(Debug)]
pub struct Posted {
    /// The session.
    pub ctx: Ctx,
    /// The form's fields.
    pub fields: Fields,
}

/// Whether a submitted CSRF token is the session's.
pub fn csrf_matches(ctx: &Ctx, submitted: Option<&str>) -> bool {
    submitted.is_some_and(|token| constant_time_eq(token.as_bytes(), ctx.csrf.as_bytes()))
}

/// The 403 page of a missing or wrong CSRF token.
pub fn csrf_refused(lang: Lang) -> PageError {
    PageError::new(
        StatusCode::FORBIDDEN,
        lang,
        t(
            lang,
            "Formulir ditolak: token keamanan (csrf) tidak ada atau salah. Muat ulang halaman lalu coba lagi.",
            "Form refused: the security token (csrf) is missing or wrong. Reload the page and try again.",
        ),
    )
}

impl FromRequest<Arc<AppState>> for Posted {
    type Rejection = Response;

    async fn from_request(request: Request, state: &Arc<AppState>) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        let ctx = Ctx::from_request_parts(&mut parts, state).await?;
        let request = Request::from_parts(parts, body);
        let fields = match Form::<Vec<(String, String)>>::from_request(request, state).await {
            Ok(Form(fields)) => Fields(fields),
            Err(_) => return Err(csrf_refused(ctx.lang).into_response()),
        };
        if !csrf_matches(&ctx, fields.get("csrf")) {
            return Err(csrf_refused(ctx.lang).into_response());
        }
        Ok(Posted { ctx, fields })
    }
}

fn login_form(lang: Lang, token: &str, login: &str, message: Option<&str>) -> maud::Markup {
    html! {
        (DOCTYPE)
        html lang=(lang.as_str()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (t(lang, "Masuk", "Log in")) " · Lindung" }
                link rel="stylesheet" href="/assets/style.css";
            }
            body.login {
                a.skip href="#main" id="skip-link" { (t(lang, "Langsung ke isi", "Skip to content")) }
                main id="main" tabindex="-1" {
                    h1 { "Lindung · " (t(lang, "Dasbor staf", "Staff dashboard")) }
                    p { (language_link(lang, "/login")) }
                    @if let Some(message) = message { (notice("error", message)) }
                    form method="post" action="/login" id="login-form" {
                        input type="hidden" name="csrf" value=(token);
                        p {
                            label for="login" { (t(lang, "Nama login", "Login name")) }
                            input id="login" name="login" type="text" autocomplete="username" required value=(login) autofocus;
                        }
                        p {
                            label for="password" { (t(lang, "Kata sandi", "Password")) }
                            input id="password" name="password" type="password" autocomplete="current-password" required;
                        }
                        button type="submit" id="login-submit" { (t(lang, "Masuk", "Log in")) }
                    }
                }
            }
        }
    }
}

/// A login page with a fresh pre-session token (cookie and hidden field).
fn login_response(status: StatusCode, lang: Lang, login: &str, message: Option<&str>) -> Response {
    let token = match new_token() {
        Ok(token) => token,
        Err(error) => return PageError::internal(lang, &error).into_response(),
    };
    let mut response =
        (status, maud_html(login_form(lang, &token, login, message))).into_response();
    set_cookie(&mut response, LOGIN_COOKIE, &token, None);
    response
}

/// `GET /login`.
pub async fn login_page(headers: HeaderMap) -> Response {
    login_response(StatusCode::OK, lang_of(&headers), "", None)
}

/// An argon2id hash to check unknown logins against, so they cost the same.
fn decoy_hash() -> Option<&'static str> {
    static DECOY: OnceLock<Option<String>> = OnceLock::new();
    DECOY
        .get_or_init(|| crate::secrets::hash_password("decoy password, never valid").ok())
        .as_deref()
}

/// `POST /login`.
pub async fn login(
    State(state): State<Arc<AppState>>,
    crate::api::ClientAddress(address): crate::api::ClientAddress,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let lang = lang_of(&headers);
    let fields = Fields(form);
    let expected = cookie(&headers, LOGIN_COOKIE);
    let submitted = fields.get("csrf");
    if !matches!((expected.as_deref(), submitted), (Some(a), Some(b)) if constant_time_eq(a.as_bytes(), b.as_bytes()))
    {
        return csrf_refused(lang).into_response();
    }
    let login = fields.get("login").unwrap_or("").to_lowercase();
    let password = fields
        .0
        .iter()
        .find(|(k, _)| k == "password")
        .map_or("", |(_, v)| v.as_str());
    if login.is_empty() || password.is_empty() {
        return login_response(
            StatusCode::BAD_REQUEST,
            lang,
            &login,
            Some(t(
                lang,
                "Isi nama login dan kata sandi.",
                "Enter the login name and the password.",
            )),
        );
    }
    match try_login(&state, &login, password, &address).await {
        Ok(Ok((account, session_id))) => {
            tracing::info!(login = %login, "dashboard login");
            if let Err(error) = crate::audit::audit(
                state.storage.as_ref(),
                &account.name,
                crate::audit::action::STAFF_LOGIN,
                &account.id.to_string(),
                serde_json::json!({ "login": login }),
            )
            .await
            {
                tracing::error!(error = %format!("{error:#}"), "audit entry not written");
            }
            let mut response = Redirect::to("/coverage").into_response();
            set_cookie(&mut response, SESSION_COOKIE, &session_id, None);
            set_cookie(&mut response, LOGIN_COOKIE, "", Some(0));
            response
        }
        Ok(Err(LoginRefusal::TooMany)) => {
            tracing::warn!(login = %login, "dashboard login refused: too many failures");
            login_response(
                StatusCode::TOO_MANY_REQUESTS,
                lang,
                &login,
                Some(t(
                    lang,
                    "Terlalu banyak percobaan masuk yang gagal. Tunggu 15 menit lalu coba lagi.",
                    "Too many failed login attempts. Wait 15 minutes and try again.",
                )),
            )
        }
        Ok(Err(LoginRefusal::Wrong)) => login_response(
            StatusCode::UNAUTHORIZED,
            lang,
            &login,
            Some(t(
                lang,
                "Nama login atau kata sandi salah.",
                "Wrong login name or password.",
            )),
        ),
        Err(error) => PageError::internal(lang, &error).into_response(),
    }
}

enum LoginRefusal {
    Wrong,
    TooMany,
}

/// Checks the rate limit, then the password; on success makes a session
/// and returns its id (for the cookie).
async fn try_login(
    state: &AppState,
    login: &str,
    password: &str,
    address: &str,
) -> Result<Result<(StaffAccount, String), LoginRefusal>, crate::storage::StorageError> {
    let storage = state.storage.as_ref();
    let now = OffsetDateTime::now_utc();
    let keys = [format!("login:{login}"), format!("ip:{address}")];
    for key in &keys {
        if storage.login_failures(key, now - FAILURE_WINDOW).await? >= MAX_FAILURES {
            return Ok(Err(LoginRefusal::TooMany));
        }
    }
    let found = storage.staff_account_by_login(login).await?;
    let verified = match &found {
        Some((account, Some(hash))) if account.revoked_at.is_none() => {
            verify_password(password, hash)
        }
        _ => {
            // The same work as a real check: no hint that the login exists.
            if let Some(decoy) = decoy_hash() {
                let _ = verify_password(password, decoy);
            }
            false
        }
    };
    let Some((account, _)) = found.filter(|_| verified) else {
        storage.record_login_failure(&keys, now).await?;
        return Ok(Err(LoginRefusal::Wrong));
    };
    for key in &keys {
        storage
            .clear_login_failures(key, now - FAILURE_WINDOW)
            .await?;
    }
    storage
        .delete_expired_staff_sessions(now - ABSOLUTE_TIMEOUT, now - IDLE_TIMEOUT)
        .await?;
    let random = |()| new_token().map_err(|e| crate::storage::StorageError::Random(e.to_string()));
    let session_id = random(())?;
    storage
        .create_staff_session(&NewStaffSession {
            id_hash: token_hash(&session_id),
            account_id: account.id,
            csrf_token: random(())?,
            created_at: now,
        })
        .await?;
    Ok(Ok((account, session_id)))
}

/// `POST /logout`: ends the session (CSRF-checked like every POST).
pub async fn logout(State(state): State<Arc<AppState>>, posted: Posted) -> Response {
    let ctx = posted.ctx;
    if let Err(error) = state.storage.delete_staff_session(&ctx.session_hash).await {
        return ctx.internal(&error).into_response();
    }
    if let Err(error) = crate::audit::audit(
        state.storage.as_ref(),
        &ctx.account.name,
        crate::audit::action::STAFF_LOGOUT,
        &ctx.account.id.to_string(),
        serde_json::json!({}),
    )
    .await
    {
        tracing::error!(error = %format!("{error:#}"), "audit entry not written");
    }
    let mut response = Redirect::to("/login").into_response();
    set_cookie(&mut response, SESSION_COOKIE, "", Some(0));
    response
}
