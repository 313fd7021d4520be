//! The staff web dashboard: server-rendered pages (maud, so every value is
//! escaped) over the same functions as the CLI and the staff API.
//!
//! | route | what |
//! |---|---|
//! | `GET /` | redirects to `/coverage` (which redirects to `/login` without a session) |
//! | `GET /login`, `POST /login`, `POST /logout` | sessions ([`auth`]) |
//! | `GET /lang/{id,en}?next=PATH` | language cookie, back to the page |
//! | `GET /assets/{name}` | the stylesheet and script, embedded in the binary |
//! | `GET /coverage?region&year&baseline` | coverage drill-down ([`coverage`]) |
//! | `GET /duplicates`, `POST /duplicates/merge`, `GET /merges`, `POST /merges/{id}/undo` | duplicate queue ([`queues`]) |
//! | `GET /conflicts`, `POST /conflicts/{id}/resolve` | conflict queue |
//! | `GET /records/{id}` | one record: full NIK, history of values |
//! | `GET /officers`, `POST /officers`, `POST /officers/{id}/enroll-code`, `POST /devices/{id}/revoke` | officers and devices ([`admin`]) |
//! | `GET /reference`, `POST /reference` | reference data (CSV upload) and contribution rates |
//! | `GET /exports`, `POST /exports` | coverage / registrations downloads (audited, NIK masked) |
//! | `GET /audit?action` | the audit log |
//!
//! **Invariants.** Every page carries the security headers of
//! [`security_headers`] (CSP `default-src 'self'`: no inline script or
//! style; assets are served from the binary). Every POST but `/login`
//! needs a session and its CSRF token ([`auth::Posted`]); `/login` needs the
//! pre-session token of its own form. Every handler checks the account's
//! role ([`crate::access`]) on the server. Lists show masked NIKs; only a
//! record's own page shows the full NIK (and that view is audited).

pub mod admin;
pub mod auth;
pub mod bundles;
pub mod coverage;
pub mod queues;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, Request};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use lindung_shared::lang::Lang;
use maud::{DOCTYPE, Markup, html};
use serde::Deserialize;

use crate::api::AppState;
use crate::storage::{Role, StaffAccount};

pub use auth::Ctx;

/// The dashboard's routes, merged into [`crate::api::router`].
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/coverage") }))
        .route("/login", get(auth::login_page).post(auth::login))
        .route("/logout", post(auth::logout))
        .route("/lang/{code}", get(switch_language))
        .route("/assets/{name}", get(asset))
        .route("/coverage", get(coverage::page))
        .route("/duplicates", get(queues::duplicates))
        .route("/duplicates/merge", post(queues::merge))
        .route("/merges", get(queues::merges))
        .route("/merges/{id}/undo", post(queues::undo))
        .route("/conflicts", get(queues::conflicts))
        .route("/conflicts/{id}/resolve", post(queues::resolve))
        .route("/records/{id}", get(queues::record))
        .route("/officers", get(admin::officers).post(admin::add_officer))
        .route("/officers/{id}/enroll-code", post(admin::enroll_code))
        .route("/devices/{id}/revoke", post(admin::revoke_device))
        .route(
            "/reference",
            get(admin::reference).post(admin::import_reference),
        )
        .route("/exports", get(admin::exports).post(admin::export))
        .route(
            "/bundles",
            get(bundles::page)
                .post(bundles::upload)
                .layer(axum::extract::DefaultBodyLimit::max(
                    crate::bundle::MAX_UPLOAD_BYTES,
                )),
        )
        .route("/bundles/{id}/receipt", get(bundles::receipt))
        .route("/audit", get(admin::audit))
        .layer(middleware::from_fn(security_headers))
}

/// The headers every dashboard response carries.
pub const SECURITY_HEADERS: &[(&str, &str)] = &[
    (
        "content-security-policy",
        "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    ),
    ("x-frame-options", "DENY"),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
];

async fn security_headers(request: Request, next: Next) -> Response {
    let is_asset = request.uri().path().starts_with("/assets/");
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    for (name, value) in SECURITY_HEADERS {
        headers.insert(*name, HeaderValue::from_static(value));
    }
    if !is_asset {
        // Pages hold personal data: never kept by the browser or a proxy.
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

async fn asset(Path(name): Path<String>) -> Response {
    let (body, kind) = match name.as_str() {
        "style.css" => (include_str!("assets/style.css"), "text/css; charset=utf-8"),
        "app.js" => (
            include_str!("assets/app.js"),
            "text/javascript; charset=utf-8",
        ),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        body,
    )
        .into_response()
}

/// The language cookie's name.
pub const LANG_COOKIE: &str = "lindung_lang";

/// The language of a request: its cookie, else Bahasa Indonesia.
pub fn lang_of(headers: &HeaderMap) -> Lang {
    match auth::cookie(headers, LANG_COOKIE).as_deref() {
        Some("en") => Lang::En,
        _ => Lang::Id,
    }
}

#[derive(Debug, Deserialize)]
struct NextQuery {
    next: Option<String>,
}

/// `GET /lang/{id|en}?next=/path`: remembers the language (a year) and goes
/// back to the page. Only local paths are followed.
async fn switch_language(Path(code): Path<String>, Query(query): Query<NextQuery>) -> Response {
    let lang = if code == "en" { "en" } else { "id" };
    let next = query
        .next
        .filter(|n| n.starts_with('/') && !n.starts_with("//") && !n.contains('\\'))
        .unwrap_or_else(|| "/".into());
    let cookie =
        format!("{LANG_COOKIE}={lang}; Path=/; Max-Age=31536000; SameSite=Strict; HttpOnly");
    let mut response = Redirect::to(&next).into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

/// Picks the text of the language.
pub fn t(lang: Lang, indonesian: &'static str, english: &'static str) -> &'static str {
    match lang {
        Lang::Id => indonesian,
        Lang::En => english,
    }
}

/// An integer with the language's thousands separator (`112.000` / `112,000`).
pub fn int(lang: Lang, n: u64) -> String {
    let digits = n.to_string();
    let separator = t(lang, ".", ",");
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push_str(separator);
        }
        out.push(c);
    }
    out
}

/// Basis points as a percentage with two decimals (`43,00 %` / `43.00 %`).
pub fn percent(lang: Lang, bp: u64) -> String {
    format!(
        "{}{}{:02} %",
        int(lang, bp / 100),
        t(lang, ",", "."),
        bp % 100
    )
}

/// Rupiah.
pub fn rupiah(lang: Lang, n: u64) -> String {
    format!("Rp {}", int(lang, n))
}

/// A role's name for people.
pub fn role_name(lang: Lang, role: Role) -> &'static str {
    match role {
        Role::Staff => t(lang, "staf", "staff"),
        Role::Supervisor => t(lang, "pengawas", "supervisor"),
        Role::Viewer => t(lang, "peninjau (hanya baca)", "viewer (read-only)"),
    }
}

/// A time for people: `2026-11-22 08:00 UTC`.
pub fn time_text(time: time::OffsetDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        time.year(),
        u8::from(time.month()),
        time.day(),
        time.hour(),
        time.minute()
    )
}

/// A region code with its name.
pub fn region_text(code: &str) -> String {
    if code.is_empty() {
        return "Indonesia".into();
    }
    match lindung_shared::region::regions().full_name(code) {
        Some(name) => format!("{code} {name}"),
        None => code.to_owned(),
    }
}

/// The hidden CSRF field every form carries.
pub fn csrf_field(ctx: &Ctx) -> Markup {
    html! { input type="hidden" name="csrf" value=(ctx.csrf); }
}

/// A message shown at the top of a page (`kind`: `ok` or `error`).
pub fn notice(kind: &str, text: &str) -> Markup {
    html! {
        p.notice.(kind) id="notice" data-testid="notice" role=(if kind == "error" { "alert" } else { "status" }) { (text) }
    }
}

/// Which menu entry a page belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Section {
    /// Coverage.
    Coverage,
    /// Duplicates and merges.
    Duplicates,
    /// Conflicts.
    Conflicts,
    /// Officers and devices.
    Officers,
    /// Reference data and rates.
    Reference,
    /// Exports.
    Exports,
    /// Sneakernet bundles.
    Bundles,
    /// Audit log.
    Audit,
    /// None (records, errors).
    None,
}

/// A whole page: header with menu, account, language switch and logout;
/// the content in `main`.
pub fn layout(ctx: &Ctx, section: Section, title: &str, content: Markup) -> Markup {
    let lang = ctx.lang;
    let menu: [(Section, &str, &str, &str); 8] = [
        (
            Section::Coverage,
            "/coverage",
            t(lang, "Cakupan", "Coverage"),
            "nav-coverage",
        ),
        (
            Section::Duplicates,
            "/duplicates",
            t(lang, "Data ganda", "Duplicates"),
            "nav-duplicates",
        ),
        (
            Section::Conflicts,
            "/conflicts",
            t(lang, "Konflik", "Conflicts"),
            "nav-conflicts",
        ),
        (
            Section::Officers,
            "/officers",
            t(lang, "Petugas & perangkat", "Officers & devices"),
            "nav-officers",
        ),
        (
            Section::Reference,
            "/reference",
            t(lang, "Data acuan", "Reference data"),
            "nav-reference",
        ),
        (
            Section::Exports,
            "/exports",
            t(lang, "Ekspor", "Exports"),
            "nav-exports",
        ),
        (
            Section::Bundles,
            "/bundles",
            t(lang, "Paket flashdisk", "USB bundles"),
            "nav-bundles",
        ),
        (
            Section::Audit,
            "/audit",
            t(lang, "Log audit", "Audit log"),
            "nav-audit",
        ),
    ];
    html! {
        (DOCTYPE)
        html lang=(lang.as_str()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Lindung" }
                link rel="stylesheet" href="/assets/style.css";
                script src="/assets/app.js" defer {}
            }
            body {
                a.skip href="#main" id="skip-link" { (t(lang, "Langsung ke isi", "Skip to content")) }
                header.top {
                    span.brand { "Lindung" }
                    nav aria-label=(t(lang, "Menu utama", "Main menu")) {
                        ul {
                            @for (s, href, label, id) in menu {
                                li {
                                    a href=(href) id=(id) aria-current=[(s == section).then_some("page")] { (label) }
                                }
                            }
                        }
                    }
                    div.account {
                        span id="account" data-role=(ctx.account.role.as_str()) {
                            (ctx.account.name) " · " (role_name(lang, ctx.account.role))
                            @if let Some(region) = &ctx.account.region { " · " (region_text(region)) }
                        }
                        " "
                        (language_link(lang, &ctx.path))
                        form.inline method="post" action="/logout" {
                            (csrf_field(ctx))
                            button type="submit" id="logout" { (t(lang, "Keluar", "Log out")) }
                        }
                    }
                }
                main id="main" tabindex="-1" {
                    h1 { (title) }
                    (content)
                }
            }
        }
    }
}

/// The link to the other language, back to the same page.
pub fn language_link(lang: Lang, path: &str) -> Markup {
    let (code, label) = match lang {
        Lang::Id => ("en", "English"),
        Lang::En => ("id", "Bahasa Indonesia"),
    };
    let next: String = form_urlencode(path);
    html! {
        a id="lang-switch" hreflang=(code) href=(format!("/lang/{code}?next={next}")) { (label) }
    }
}

/// Percent-encodes a query value.
pub fn form_urlencode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(char::from(byte));
            }
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

/// A page-level failure shown as a page in the user's language.
#[derive(Debug)]
pub struct PageError {
    status: StatusCode,
    lang: Lang,
    message: String,
    /// The path to offer as a way back.
    back: Option<String>,
}

impl PageError {
    /// A failure with a status and a message already in the right language.
    pub fn new(status: StatusCode, lang: Lang, message: impl Into<String>) -> PageError {
        PageError {
            status,
            lang,
            message: message.into(),
            back: None,
        }
    }

    /// Offers a link back to `path`.
    pub fn back(mut self, path: impl Into<String>) -> PageError {
        self.back = Some(path.into());
        self
    }

    /// 403 for a role refusal.
    pub fn denied(lang: Lang, denied: &crate::access::Denied) -> PageError {
        let message = match lang {
            Lang::Id => format!("Ditolak: {}", denied.indonesian()),
            Lang::En => format!("Refused: {denied}"),
        };
        PageError::new(StatusCode::FORBIDDEN, lang, message)
    }

    /// 500, logged; the page says only that it failed.
    pub fn internal(lang: Lang, error: &dyn std::fmt::Display) -> PageError {
        tracing::error!(%error, "dashboard request failed");
        PageError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            lang,
            t(
                lang,
                "Server gagal memproses permintaan; coba lagi nanti.",
                "The server could not complete the request; try again later.",
            ),
        )
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let lang = self.lang;
        let title = match self.status {
            StatusCode::FORBIDDEN => t(lang, "Tidak diizinkan", "Not allowed"),
            StatusCode::NOT_FOUND => t(lang, "Tidak ditemukan", "Not found"),
            StatusCode::TOO_MANY_REQUESTS => {
                t(lang, "Terlalu banyak percobaan", "Too many attempts")
            }
            status if status.is_client_error() => {
                t(lang, "Permintaan tidak bisa diproses", "Request refused")
            }
            _ => t(lang, "Kesalahan server", "Server error"),
        };
        let back = self.back.unwrap_or_else(|| "/coverage".into());
        let page = html! {
            (DOCTYPE)
            html lang=(lang.as_str()) {
                head {
                    meta charset="utf-8";
                    title { (title) " · Lindung" }
                    link rel="stylesheet" href="/assets/style.css";
                }
                body {
                    main id="main" {
                        h1 { (title) }
                        p.notice.error id="error-message" data-testid="error-message" role="alert" data-status=(self.status.as_u16()) { (self.message) }
                        p { a href=(back) id="error-back" { (t(lang, "Kembali", "Back")) } }
                    }
                }
            }
        };
        (self.status, maud_html(page)).into_response()
    }
}

impl From<crate::storage::StorageError> for PageError {
    fn from(error: crate::storage::StorageError) -> Self {
        PageError::internal(Lang::Id, &error)
    }
}

/// A rendered page as a response.
pub fn maud_html(markup: Markup) -> Response {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        markup.into_string(),
    )
        .into_response()
}

/// A page's result.
pub type PageResult = Result<Response, PageError>;

/// Redirect after a POST (303: the browser follows with GET).
pub fn see_other(path: &str) -> Response {
    Redirect::to(path).into_response()
}

/// Whether the account may see anything of the officer (a supervisor: an
/// officer with a region inside theirs).
pub fn sees_officer(account: &StaffAccount, regions: &[String]) -> bool {
    account.scope().is_empty() || regions.iter().any(|r| account.sees(r))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_written_the_way_each_language_reads_them() {
        assert_eq!(int(Lang::Id, 112_000), "112.000");
        assert_eq!(int(Lang::En, 1_234_567), "1,234,567");
        assert_eq!(int(Lang::Id, 7), "7");
        assert_eq!(percent(Lang::Id, 4300), "43,00 %");
        assert_eq!(percent(Lang::En, 1697), "16.97 %");
        assert_eq!(rupiah(Lang::Id, 201_600), "Rp 201.600");
        assert_eq!(
            form_urlencode("/coverage?region=13&year=2026"),
            "/coverage%3Fregion%3D13%26year%3D2026"
        );
    }
}
