//! What each URL does. Pages are in [`super::pages`]; this module checks the
//! request (host, session, CSRF), calls the same store and [`crate::actions`]
//! functions as the command line, and picks the page.
//!
//! | route | what |
//! |---|---|
//! | `GET/POST /setup` | first run: officer name and passphrase (as `init`) |
//! | `GET/POST /unlock`, `POST /lock` | unlock with the passphrase; lock |
//! | `GET/POST /register` | a new registration |
//! | `GET /registrations?q=&status=` | list and search (NIK masked) |
//! | `GET /registrations/ID` | one record: full NIK, history, sync state |
//! | `GET/POST /registrations/ID/edit`, `POST /registrations/ID/withdraw` | edit; withdraw with a reason |
//! | `GET /progress?village=`, `POST /progress/positions` | village progress; RT/RW positions |
//! | `GET /sync`, `POST /sync/now` | sync status; sync now |
//! | `POST /bundle/export`, `POST /bundle/receipt` | no signal: the outbox as a USB bundle (a download); apply its receipt |
//! | `GET/POST /enroll` | enrol with a server |
//! | `GET/POST /import` | import a spreadsheet, with its row report |
//! | `GET /api/check/nik?nik=` | NIK verdict (JSON) |
//! | `GET /api/villages?q=` | village type-ahead (JSON) |
//! | `GET /api/check/duplicate?nik=&full_name=&birth_date=&village_code=` | duplicates (JSON) |
//! | `GET /assets/…` | CSS, script, icon (compiled in) |
//!
//! Any page takes `?lang=id|en`, which also sets the language cookie.

use std::path::Path;
use std::time::Instant;

use lindung_shared::lang::{Lang, Message, Problem, Severity};
use lindung_shared::nik::Sex;
use lindung_shared::region::{Level, SearchOptions, normalize_code, regions};
use lindung_shared::registration::Status;
use lindung_shared::validation::{RegistrationInput, parse_date};
use serde_json::json;

use super::App;
use super::http::{Form, Reply, Request, is_local_host};
use super::pages::{self, Ctx, FormView, Mode};
use super::session::{self, Session};
use crate::actions::{self, VillageChoice};
use crate::spreadsheet::{ImportDefaults, SheetFormat};
use crate::store::{ListFilter, Refusal, Store, StoreError};

/// The language cookie's name.
/// The language cookie (named apart from the server dashboard's, which may
/// run on the same host: cookies ignore ports).
const LANG_COOKIE: &str = "lindung_agent_lang";

const CSS: &str = include_str!("assets/app.css");
const JS: &str = include_str!("assets/app.js");
const ICON: &str = include_str!("assets/icon.svg");

/// Answers one request.
pub fn handle(app: &App, request: &Request, now: Instant) -> Reply {
    // DNS rebinding: another site's name pointed at 127.0.0.1 arrives with its own Host.
    if !request.header("host").is_some_and(is_local_host) {
        return Reply::text(
            403,
            "Host ditolak: buka http://127.0.0.1/ di laptop ini. / Host refused: open http://127.0.0.1/ on this laptop.",
        );
    }
    if let Some(asset) = request.path.strip_prefix("/assets/") {
        return serve_asset(asset);
    }
    let chosen_lang = request.query("lang").and_then(|l| l.parse::<Lang>().ok());
    let lang = chosen_lang
        .or_else(|| {
            request
                .cookie(LANG_COOKIE)
                .and_then(|l| l.parse::<Lang>().ok())
        })
        .unwrap_or(app.default_lang);
    let cookie = request.cookie(session::COOKIE);
    let visit = match app.sessions().visit(cookie.as_deref(), now) {
        Ok(visit) => visit,
        Err(_) => return Reply::text(500, "no randomness available"),
    };
    let mut ctx = Ctx {
        lang,
        session: visit.session,
        officer: None,
        path: request.path.clone(),
    };
    let mut reply = if visit.auto_locked {
        Reply::redirect("/unlock?locked=1")
    } else {
        route(app, request, &mut ctx, now)
    };
    if visit.new || ctx.session.id != cookie.unwrap_or_default() {
        reply = reply.with_header("Set-Cookie", session_cookie(&ctx.session.id));
    }
    if let Some(lang) = chosen_lang {
        reply = reply.with_header(
            "Set-Cookie",
            format!(
                "{LANG_COOKIE}={}; Path=/; SameSite=Strict; Max-Age=31536000",
                lang.as_str()
            ),
        );
    }
    reply
}

fn session_cookie(id: &str) -> String {
    format!(
        "{}={id}; Path=/; HttpOnly; SameSite=Strict",
        session::COOKIE
    )
}

fn serve_asset(name: &str) -> Reply {
    let (content_type, body) = match name {
        "app.css" => ("text/css; charset=utf-8", CSS),
        "app.js" => ("text/javascript; charset=utf-8", JS),
        "icon.svg" => ("image/svg+xml", ICON),
        _ => return Reply::text(404, "not found"),
    };
    Reply {
        status: 200,
        headers: vec![
            ("Content-Type".into(), content_type.into()),
            ("Cache-Control".into(), "no-cache".into()),
        ],
        body: body.as_bytes().to_vec(),
    }
}

/// Whether a POST carries this session's CSRF token (a form field, or the
/// `X-CSRF-Token` header) and, when the browser names it, comes from this UI.
fn csrf_ok(request: &Request, form: &Form, session: &Session) -> bool {
    let from_here = request
        .header("origin")
        .is_none_or(|origin| origin == "null" || origin_is_local(origin));
    let token = request
        .header("x-csrf-token")
        .unwrap_or_else(|| form.get("csrf"));
    from_here && session::same_token(token, &session.csrf)
}

fn origin_is_local(origin: &str) -> bool {
    origin
        .strip_prefix("http://")
        .is_some_and(|host| is_local_host(host.trim_end_matches('/')))
}

fn route(app: &App, request: &Request, ctx: &mut Ctx, now: Instant) -> Reply {
    let path = request.path.trim_end_matches('/');
    let method = request.method.as_str();
    let form = if method == "POST" {
        let form = request.form();
        if !csrf_ok(request, &form, &ctx.session) {
            return Reply::html(403, pages::refused(ctx));
        }
        Some(form)
    } else {
        None
    };
    if !app.initialised() {
        return match (method, path, form) {
            ("GET", "/setup", _) => Reply::html(200, pages::setup(ctx, "", &[])),
            ("POST", "/setup", Some(form)) => setup(app, ctx, &form, now),
            _ => Reply::redirect("/setup"),
        };
    }
    if !ctx.session.unlocked {
        return match (method, path, form) {
            ("GET", "/unlock", _) => Reply::html(
                200,
                pages::unlock(ctx, request.query("locked").is_some(), None),
            ),
            ("POST", "/unlock", Some(form)) => unlock(app, ctx, &form, now),
            _ if path.starts_with("/api/") => Reply::json(
                401,
                &json!({ "error": "locked", "message": ctx.t("Layar terkunci; buka dengan kata sandi.", "The screen is locked; unlock it with the passphrase.") }),
            ),
            _ => Reply::redirect("/unlock"),
        };
    }
    let mut guard = app.store();
    let Some(store) = guard.as_mut() else {
        return Reply::redirect("/unlock");
    };
    ctx.officer = Some(store.officer().1.to_owned());
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let result = match (method, segments.as_slice(), form) {
        ("GET", [""] | [], _) => Ok(Reply::redirect("/registrations")),
        ("GET", ["setup" | "unlock"], _) => Ok(Reply::redirect("/registrations")),
        ("POST", ["lock"], _) => {
            app.sessions().end(&ctx.session.id);
            Ok(Reply::redirect("/unlock"))
        }
        ("GET", ["register"], _) => Ok(Reply::html(
            200,
            pages::registration_form(ctx, &Mode::New, &FormView::blank()),
        )),
        ("POST", ["register"], Some(form)) => register(store, ctx, &form),
        ("GET", ["registrations"], _) => list(store, ctx, request),
        ("GET", ["registrations", id], _) => record(store, ctx, id, request, None),
        ("GET", ["registrations", id, "edit"], _) => edit_form(store, ctx, id),
        ("POST", ["registrations", id, "edit"], Some(form)) => edit(store, ctx, id, &form),
        ("POST", ["registrations", id, "withdraw"], Some(form)) => {
            withdraw(store, ctx, id, &form, request)
        }
        ("GET", ["progress"], _) => progress(store, ctx, request.query("village"), None),
        ("POST", ["progress", "positions"], Some(form)) => positions(store, ctx, &form),
        ("GET", ["sync"], _) => sync_page(app, store, ctx, request, None),
        ("POST", ["bundle", "export"], Some(_)) => bundle_export(app, store, ctx, request),
        ("POST", ["bundle", "receipt"], Some(form)) => {
            bundle_receipt(app, store, ctx, request, &form)
        }
        ("POST", ["sync", "now"], _) => {
            app.sync.wake();
            Ok(Reply::redirect("/sync?requested=1"))
        }
        ("GET", ["enroll"], _) => enroll_page(
            store,
            ctx,
            ("", "", ""),
            None,
            request.query("welcome").is_some(),
        ),
        ("POST", ["enroll"], Some(form)) => enroll(app, store, ctx, &form),
        ("GET", ["import"], _) => Ok(Reply::html(200, pages::import_form(ctx, None))),
        ("POST", ["import"], Some(form)) => import(store, ctx, &form),
        ("GET", ["api", "check", "nik"], _) => {
            Ok(check_nik(ctx, request.query("nik").unwrap_or("")))
        }
        ("GET", ["api", "villages"], _) => Ok(villages(request)),
        ("GET", ["api", "check", "duplicate"], _) => check_duplicate(store, ctx, request),
        _ => Ok(Reply::html(404, pages::not_found(ctx))),
    };
    result.unwrap_or_else(|error| {
        eprintln!(
            "lindung-agent UI: {} {}: {error}",
            request.method, request.path
        );
        Reply::html(500, pages::failure(ctx, &error.message(ctx.lang)))
    })
}

fn setup(app: &App, ctx: &mut Ctx, form: &Form, now: Instant) -> Reply {
    let officer = form.get("officer");
    let passphrase = form.get("passphrase");
    if passphrase != form.get("passphrase_again") {
        let problem = field_message(
            "passphrase_again",
            "passphrase_mismatch",
            "Kedua kata sandi tidak sama; tidak ada yang dibuat.",
            "The two passphrases differ; nothing was created.",
        );
        return Reply::html(400, pages::setup(ctx, officer, &[problem]));
    }
    let mut guard = app.store();
    let store = match Store::init(
        &app.dir,
        officer,
        passphrase,
        app.cost,
        crate::output::now(),
    ) {
        Ok(store) => store,
        Err(StoreError::AlreadyInitialised(_)) => return Reply::redirect("/unlock"),
        Err(error) => {
            let field = match error {
                StoreError::OfficerNameRequired => "officer",
                _ => "passphrase",
            };
            let mut message = error.to_message();
            message.field = Some(field.to_owned());
            return Reply::html(400, pages::setup(ctx, officer, &[message]));
        }
    };
    if let Err(error) = start_worker(app, &store) {
        return Reply::html(500, pages::failure(ctx, &error.message(ctx.lang)));
    }
    *guard = Some(store);
    unlock_session(app, ctx, now, "/enroll?welcome=1")
}

fn unlock(app: &App, ctx: &mut Ctx, form: &Form, now: Instant) -> Reply {
    let passphrase = form.get("passphrase");
    let mut guard = app.store();
    // The first unlock opens the store for this process; later ones check the
    // passphrase against the open store's key. A wrong one writes nothing.
    let opened = match guard.as_ref() {
        Some(store) => match store.passphrase_matches(passphrase) {
            Ok(true) => Ok(None),
            Ok(false) => Err(StoreError::WrongPassphrase),
            Err(error) => Err(error),
        },
        None => Store::open(&app.dir, passphrase).map(Some),
    };
    match opened {
        Ok(None) => {}
        Ok(Some(store)) => {
            if let Err(error) = start_worker(app, &store) {
                return Reply::html(500, pages::failure(ctx, &error.message(ctx.lang)));
            }
            *guard = Some(store);
        }
        Err(StoreError::WrongPassphrase) => {
            return Reply::html(
                401,
                pages::unlock(
                    ctx,
                    false,
                    Some(&StoreError::WrongPassphrase.message(ctx.lang)),
                ),
            );
        }
        Err(error) => {
            return Reply::html(
                500,
                pages::unlock(ctx, false, Some(&error.message(ctx.lang))),
            );
        }
    }
    drop(guard);
    unlock_session(app, ctx, now, "/registrations")
}

fn unlock_session(app: &App, ctx: &mut Ctx, now: Instant, to: &str) -> Reply {
    match app.sessions().unlock(&ctx.session.id, now) {
        Ok(session) => {
            ctx.session = session;
            Reply::redirect(to)
        }
        Err(_) => Reply::text(500, "no randomness available"),
    }
}

/// Opens the worker's own connection and starts the background sync.
fn start_worker(app: &App, ui_store: &Store) -> Result<(), StoreError> {
    let store = ui_store.another_connection()?;
    super::worker::start(store, app.sync_interval, std::sync::Arc::clone(&app.sync))
        .map_err(|e| StoreError::io(&app.dir, e))?;
    Ok(())
}

fn field_message(field: &str, code: &str, id: &str, en: &str) -> Message {
    Message {
        code: code.to_owned(),
        severity: Severity::Error,
        field: Some(field.to_owned()),
        message_id: id.to_owned(),
        message_en: en.to_owned(),
    }
}

/// The registration fields of a submitted form, exactly as typed.
fn input_from_form(form: &Form) -> RegistrationInput {
    let text = |name: &str| form.get(name).to_owned();
    RegistrationInput {
        nik: text("nik"),
        full_name: text("full_name"),
        birth_date: text("birth_date"),
        sex: text("sex"),
        phone: text("phone"),
        village_code: text("village_code"),
        rt: text("rt"),
        rw: text("rw"),
        address: text("address"),
        category: text("category"),
        jht: if form.get("jht").is_empty() {
            "tidak".to_owned()
        } else {
            "ya".to_owned()
        },
        monthly_income: text("monthly_income"),
        payer: text("payer"),
        payer_name: text("payer_name"),
        consent_method: text("consent_method"),
        consent_reference: text("consent_reference"),
        confirmed_warnings: form.all("confirm"),
    }
}

/// Validates a form's registration; on failure, the form again with every problem.
fn validated(
    input: &mut RegistrationInput,
) -> Result<lindung_shared::validation::ValidRegistration, Vec<Message>> {
    let village_text = input.village_code.clone();
    let choice = actions::choose_village(&village_text);
    let village_problem = actions::village_choice_problem(village_text.trim(), &choice);
    if let VillageChoice::Code(code) = choice {
        input.village_code = code;
    }
    match (actions::validate(input), village_problem) {
        (Ok(valid), None) => Ok(valid),
        (Ok(_), Some(problem)) => Err(vec![problem]),
        (Err(invalid), village_problem) => {
            let mut messages = invalid.messages();
            if let Some(problem) = village_problem {
                messages.retain(|m| m.field.as_deref() != Some("village_code"));
                messages.push(problem);
            }
            Err(messages)
        }
    }
}

/// The form again (409) with what was typed and why saving was refused.
fn refused_form(ctx: &Ctx, mode: &Mode, typed: RegistrationInput, refusal: Refusal) -> Reply {
    let (problems, existing, probable) = refusal_view(refusal, ctx.lang);
    let view = FormView {
        input: typed,
        problems,
        existing,
        probable_duplicate: probable,
    };
    Reply::html(409, pages::registration_form(ctx, mode, &view))
}

fn refusal_view(refusal: Refusal, lang: Lang) -> (Vec<Message>, Vec<pages::Brief>, bool) {
    match refusal {
        Refusal::DuplicateNik(d) => (
            vec![field_message(
                "nik",
                "duplicate_nik",
                "NIK ini sudah terdaftar di laptop ini; tidak disimpan lagi.",
                "This NIK is already registered on this laptop; not saved again.",
            )],
            d.existing
                .iter()
                .map(|l| pages::Brief::of(l, lang))
                .collect(),
            false,
        ),
        Refusal::ProbableDuplicate(p) => (
            Vec::new(),
            p.candidates
                .iter()
                .map(|l| pages::Brief::of(l, lang))
                .collect(),
            true,
        ),
    }
}

fn register(store: &mut Store, ctx: &Ctx, form: &Form) -> Result<Reply, StoreError> {
    let mut input = input_from_form(form);
    let typed = input.clone();
    let valid = match validated(&mut input) {
        Ok(valid) => valid,
        Err(problems) => {
            let view = FormView {
                input: typed,
                problems,
                ..FormView::blank()
            };
            return Ok(Reply::html(
                422,
                pages::registration_form(ctx, &Mode::New, &view),
            ));
        }
    };
    match store.register(valid, crate::output::now())? {
        Ok(registration) => Ok(Reply::redirect(&format!(
            "/registrations/{}?saved=1",
            registration.id
        ))),
        Err(refusal) => Ok(refused_form(ctx, &Mode::New, typed, refusal)),
    }
}

fn list(store: &Store, ctx: &Ctx, request: &Request) -> Result<Reply, StoreError> {
    let text = request.query("q").unwrap_or("").trim().to_owned();
    let status = request.query("status").unwrap_or("");
    let village = request.query("village").and_then(normalize_code);
    let filter = ListFilter {
        text: Some(text.clone()).filter(|t| !t.is_empty()),
        active: match status {
            "active" => Some(true),
            "withdrawn" => Some(false),
            _ => None,
        },
        village_code: village,
        limit: Some(500),
        ..ListFilter::default()
    };
    let listed = store.list(&filter)?;
    let rows: Vec<pages::Brief> = listed
        .iter()
        .map(|l| pages::Brief::of(l, ctx.lang))
        .collect();
    Ok(Reply::html(200, pages::list(ctx, &text, status, &rows)))
}

fn find(store: &Store, id: &str) -> Result<Option<crate::store::ListedRegistration>, StoreError> {
    // Only full ids: a page address never holds a NIK.
    if uuid::Uuid::parse_str(id).is_err() {
        return Ok(None);
    }
    store.find(id)
}

fn record(
    store: &Store,
    ctx: &Ctx,
    id: &str,
    request: &Request,
    withdraw_problem: Option<Message>,
) -> Result<Reply, StoreError> {
    let Some(found) = find(store, id)? else {
        return Ok(Reply::html(404, pages::not_found(ctx)));
    };
    let state = store.record_state(found.registration.id)?;
    // Earlier values, leaving out a version that the next one merely
    // repeated (a fix of a refused record re-sends every field).
    let current = found.registration.to_changes();
    let overwritten: Vec<_> = state.overwritten().collect();
    let history: Vec<pages::HistoryLine> = overwritten
        .iter()
        .enumerate()
        .filter(|(i, (field, version))| {
            let next = overwritten
                .get(i + 1)
                .filter(|(next_field, _)| next_field == field)
                .map(|(_, next)| &next.change)
                .or_else(|| current.iter().find(|c| c.field() == *field));
            next != Some(&version.change)
        })
        .map(|(_, (field, version))| pages::HistoryLine {
            field: field.label(ctx.lang).to_owned(),
            value: change_text(&version.change),
            at: when_text(version.stamp.hlc.wall_ms()),
            this_laptop: version.stamp.device_id == store.device_id(),
        })
        .collect();
    let notices = store.duplicate_notice(found.registration.id)?;
    let rejected: Vec<_> = store
        .status()?
        .rejected
        .into_iter()
        .filter(|r| r.record_id == found.registration.id)
        .collect();
    let flash = if request.query("saved").is_some() {
        Some(ctx.t("Tersimpan.", "Saved."))
    } else if request.query("unchanged").is_some() {
        Some(ctx.t("Tidak ada yang berubah.", "Nothing changed."))
    } else if request.query("withdrawn").is_some() {
        Some(ctx.t("Pendaftaran ditarik.", "Registration withdrawn."))
    } else {
        None
    };
    let status = if withdraw_problem.is_some() { 422 } else { 200 };
    Ok(Reply::html(
        status,
        pages::record(
            ctx,
            &pages::RecordView {
                listed: &found,
                history,
                notices,
                rejected,
                flash,
                withdraw_problem,
            },
        ),
    ))
}

/// A changed value as text: the `value` of `{"field": …, "value": …}`.
fn change_text(change: &lindung_shared::registration::Change) -> String {
    let value = serde_json::to_value(change).unwrap_or_default();
    match value.get("value").cloned().unwrap_or_default() {
        serde_json::Value::String(text) => text,
        serde_json::Value::Null => "-".to_owned(),
        other => other.to_string(),
    }
}

/// A moment (Unix milliseconds) as `YYYY-MM-DD HH:MM UTC`.
pub fn when_text(unix_ms: u64) -> String {
    let at = time::OffsetDateTime::from_unix_timestamp(i64::try_from(unix_ms / 1000).unwrap_or(0))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!("{} {:02}:{:02} UTC", at.date(), at.hour(), at.minute())
}

fn edit_form(store: &Store, ctx: &Ctx, id: &str) -> Result<Reply, StoreError> {
    let Some(found) = find(store, id)? else {
        return Ok(Reply::html(404, pages::not_found(ctx)));
    };
    let view = FormView {
        input: RegistrationInput::from_registration(&found.registration),
        ..FormView::blank()
    };
    Ok(Reply::html(
        200,
        pages::registration_form(ctx, &Mode::Edit(found.registration.id), &view),
    ))
}

fn edit(store: &mut Store, ctx: &Ctx, id: &str, form: &Form) -> Result<Reply, StoreError> {
    let Some(found) = find(store, id)? else {
        return Ok(Reply::html(404, pages::not_found(ctx)));
    };
    let current = found.registration;
    let mode = Mode::Edit(current.id);
    let mut input = input_from_form(form);
    let typed = input.clone();
    let edited = match validated(&mut input) {
        Ok(valid) => valid,
        Err(problems) => {
            let view = FormView {
                input: typed,
                problems,
                ..FormView::blank()
            };
            return Ok(Reply::html(
                422,
                pages::registration_form(ctx, &mode, &view),
            ));
        }
    };
    match store.edit(&current, &edited, crate::output::now())? {
        Ok(Some(_)) => Ok(Reply::redirect(&format!(
            "/registrations/{}?saved=1",
            current.id
        ))),
        Ok(None) => Ok(Reply::redirect(&format!(
            "/registrations/{}?unchanged=1",
            current.id
        ))),
        Err(refusal) => Ok(refused_form(ctx, &mode, typed, refusal)),
    }
}

fn withdraw(
    store: &mut Store,
    ctx: &Ctx,
    id: &str,
    form: &Form,
    request: &Request,
) -> Result<Reply, StoreError> {
    let Some(found) = find(store, id)? else {
        return Ok(Reply::html(404, pages::not_found(ctx)));
    };
    let reason = form
        .get("reason")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    if reason.is_empty() {
        let problem = field_message(
            "reason",
            "field_required",
            "Alasan penarikan wajib diisi.",
            "A reason for the withdrawal is required.",
        );
        return record(store, ctx, id, request, Some(problem));
    }
    store.set_status(
        found.registration.id,
        Status::Withdrawn { reason },
        crate::output::now(),
    )?;
    Ok(Reply::redirect(&format!(
        "/registrations/{}?withdrawn=1",
        found.registration.id
    )))
}

fn progress(
    store: &Store,
    ctx: &Ctx,
    village: Option<&str>,
    problem: Option<Message>,
) -> Result<Reply, StoreError> {
    let villages = store.villages()?;
    let typed = village.unwrap_or("").trim();
    let code = match actions::choose_village(typed) {
        VillageChoice::Code(code) => Some(code),
        VillageChoice::AsTyped => normalize_code(typed),
        _ => None,
    };
    let chosen = code
        .and_then(|c| regions().get(&c))
        .filter(|r| r.level == Level::Village)
        .map(|r| r.code.to_owned());
    let problem = problem.or_else(|| {
        (!typed.is_empty() && chosen.is_none()).then(|| {
            field_message(
                "village",
                "village_unknown",
                "Desa/kelurahan itu tidak dikenal; pilih dari daftar atau ketik kodenya.",
                "That village is not known; choose it from the list or type its code.",
            )
        })
    });
    let progress = match &chosen {
        Some(code) => Some(store.progress(code)?),
        None => None,
    };
    let status = if problem.is_some() { 422 } else { 200 };
    Ok(Reply::html(
        status,
        pages::progress(ctx, typed, &villages, progress.as_ref(), problem.as_ref()),
    ))
}

fn positions(store: &mut Store, ctx: &Ctx, form: &Form) -> Result<Reply, StoreError> {
    let village = form.get("village");
    let number = |name: &str| {
        form.get(name)
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|n| *n <= 999)
    };
    let valid_village = normalize_code(village)
        .and_then(|c| regions().get(&c))
        .filter(|r| r.level == Level::Village)
        .map(|r| r.code.to_owned());
    match (valid_village, number("rt"), number("rw")) {
        (Some(code), Some(rt), Some(rw)) => {
            store.set_positions(&code, rt, rw, crate::output::now())?;
            Ok(Reply::redirect(&format!("/progress?village={code}")))
        }
        _ => {
            let problem = field_message(
                "positions",
                "positions_invalid",
                "Jumlah RT dan RW harus berupa angka 0 sampai 999.",
                "The numbers of RT and RW must be numbers from 0 to 999.",
            );
            progress(store, ctx, Some(village), Some(problem))
        }
    }
}

/// What the last bundle action did, shown on the sync page: whether it
/// worked, and the sentence.
type BundleNotice = (bool, String);

fn sync_page(
    app: &App,
    store: &Store,
    ctx: &Ctx,
    request: &Request,
    bundle_notice: Option<BundleNotice>,
) -> Result<Reply, StoreError> {
    let view = app.sync.view();
    let status = store.status()?;
    let enrollment = store.enrollment()?;
    let mut rejected = Vec::new();
    for entry in status.rejected.iter().rev() {
        let found = store.find(&entry.record_id.to_string())?;
        rejected.push((entry.clone(), found.map(|l| pages::Brief::of(&l, ctx.lang))));
    }
    let mut notices = Vec::new();
    for id in store.records_with_duplicate_notice()? {
        if let Some(found) = store.find(&id.to_string())? {
            notices.push((
                pages::Brief::of(&found, ctx.lang),
                store.duplicate_notice(id)?,
            ));
        }
    }
    let code = match &bundle_notice {
        Some((false, _)) => 422,
        _ => 200,
    };
    Ok(Reply::html(
        code,
        pages::sync(
            ctx,
            &pages::SyncPage {
                view: &view,
                status: &status,
                enrollment: enrollment.as_ref(),
                rejected,
                notices,
                requested: request.query("requested").is_some(),
                last_bundle: store.last_export()?,
                bundle_notice,
            },
        ),
    ))
}

/// `POST /bundle/export`: every pending change as a bundle file to save on
/// a USB stick (the browser's download); the outbox is unchanged.
fn bundle_export(
    app: &App,
    store: &mut Store,
    ctx: &Ctx,
    request: &Request,
) -> Result<Reply, StoreError> {
    use crate::bundle::BundleFailure;
    let now = crate::output::now();
    let sealed = match crate::bundle::seal_outbox(store, now) {
        Ok(Some(sealed)) => sealed,
        Ok(None) => {
            let text = ctx.t(
                "Tidak ada perubahan yang menunggu; tidak ada paket yang dibuat.",
                "Nothing is waiting to be sent; no bundle was made.",
            );
            return sync_page(app, store, ctx, request, Some((true, text.to_owned())));
        }
        Err(BundleFailure::Store(error)) => return Err(error),
        Err(failure) => {
            let text = failure.message(ctx.lang);
            return sync_page(app, store, ctx, request, Some((false, text)));
        }
    };
    let name = crate::bundle::file_name(now);
    let noted = format!("{name} ({})", ctx.t("diunduh", "downloaded"));
    match crate::bundle::note_written(store, &sealed, &noted, now) {
        Ok(()) => {}
        Err(BundleFailure::Store(error)) => return Err(error),
        Err(failure) => {
            let text = failure.message(ctx.lang);
            return sync_page(app, store, ctx, request, Some((false, text)));
        }
    }
    Ok(Reply {
        status: 200,
        headers: vec![
            ("Content-Type".into(), "application/octet-stream".into()),
            (
                "Content-Disposition".into(),
                format!("attachment; filename=\"{name}\""),
            ),
            ("Cache-Control".into(), "no-store".into()),
        ],
        body: sealed.bytes,
    })
}

/// `POST /bundle/receipt` (multipart `receipt`): applies a receipt from the office.
fn bundle_receipt(
    app: &App,
    store: &mut Store,
    ctx: &Ctx,
    request: &Request,
    form: &Form,
) -> Result<Reply, StoreError> {
    use crate::bundle::BundleFailure;
    let Some(upload) = form
        .files
        .iter()
        .find(|f| f.field == "receipt" && !f.data.is_empty())
    else {
        let text = ctx.t(
            "Pilih berkas tanda terima dari kantor dulu.",
            "Choose the receipt file from the office first.",
        );
        return sync_page(app, store, ctx, request, Some((false, text.to_owned())));
    };
    let notice = match crate::bundle::apply_receipt(store, &upload.data, crate::output::now()) {
        Ok(applied) => (true, applied.summary(ctx.lang)),
        Err(BundleFailure::Store(error)) => return Err(error),
        Err(failure) => (false, failure.message(ctx.lang)),
    };
    sync_page(app, store, ctx, request, Some(notice))
}

fn enroll_page(
    store: &Store,
    ctx: &Ctx,
    (server, code, fingerprint): (&str, &str, &str),
    problem: Option<String>,
    welcome: bool,
) -> Result<Reply, StoreError> {
    let enrollment = store.enrollment()?;
    let status = if problem.is_some() { 422 } else { 200 };
    Ok(Reply::html(
        status,
        pages::enroll(
            ctx,
            &pages::EnrollView {
                enrollment: enrollment.as_ref(),
                server,
                code,
                fingerprint,
                problem: problem.as_deref(),
                welcome,
            },
        ),
    ))
}

fn enroll(app: &App, store: &mut Store, ctx: &Ctx, form: &Form) -> Result<Reply, StoreError> {
    let server = form.get("server");
    let code = form.get("code");
    // A fingerprint from staff pins the server's certificate (a CA file is
    // for the command line: lindung-agent enroll --ca-file).
    let fingerprint = form.get("fingerprint").trim();
    let tls = actions::EnrollTls {
        ca_pem: None,
        pin: (!fingerprint.is_empty()).then(|| fingerprint.to_owned()),
    };
    match actions::enroll(store, server, code, &tls) {
        Ok(_) => {
            app.sync.wake();
            Ok(Reply::redirect("/sync?requested=1"))
        }
        Err(error) => enroll_page(
            store,
            ctx,
            (server, code, fingerprint),
            Some(error.text(ctx.lang)),
            false,
        ),
    }
}

fn import(store: &mut Store, ctx: &Ctx, form: &Form) -> Result<Reply, StoreError> {
    let fail = |message: String| Ok(Reply::html(422, pages::import_form(ctx, Some(&message))));
    let Some(upload) = form
        .files
        .iter()
        .find(|f| f.field == "file" && !f.data.is_empty())
    else {
        return fail(
            ctx.t(
                "Pilih berkas spreadsheet dulu.",
                "Choose a spreadsheet file first.",
            )
            .to_owned(),
        );
    };
    // The format comes from the name the file had on the officer's disk.
    let format_check = SheetFormat::of_path(Path::new(&upload.filename));
    if let Err(error) = format_check {
        return fail(error.message(ctx.lang));
    }
    let extension = Path::new(&upload.filename)
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("csv")
        .to_ascii_lowercase();
    let Ok(token) = session::random_token() else {
        return fail("no randomness available".to_owned());
    };
    let temp = std::env::temp_dir().join(format!("lindung-import-{token}.{extension}"));
    std::fs::write(&temp, &upload.data).map_err(|e| StoreError::io(&temp, e))?;
    let defaults = ImportDefaults {
        payer: Some(form.get("payer").to_owned()),
        payer_name: Some(form.get("payer_name").to_owned()),
        consent_method: Some(form.get("consent_method").to_owned()),
        consent_reference: Some(form.get("consent_reference").to_owned()),
        village_code: Some(form.get("village_code").to_owned()),
        category: Some(form.get("category").to_owned()),
    };
    let result = actions::import_file(store, &temp, &defaults, &|| {});
    // The uploaded copy holds personal data: it goes as soon as it is read.
    let _ = std::fs::remove_file(&temp);
    match result {
        Ok(report) => Ok(Reply::html(
            200,
            pages::import_report(ctx, &upload.filename, &report),
        )),
        Err(crate::actions::ImportError::Store(error)) => Err(error),
        Err(error) => fail(error.message(ctx.lang)),
    }
}

fn check_nik(ctx: &Ctx, nik: &str) -> Reply {
    let verdict = actions::nik_verdict(nik);
    let lang = ctx.lang;
    let message = match verdict.errors.first() {
        Some(error) => error.text(lang).to_owned(),
        None => match (verdict.sex, verdict.birth_date) {
            (Some(sex), Some(birth)) => {
                let place = verdict
                    .district
                    .as_ref()
                    .and_then(|d| d.full_name.clone().or_else(|| d.name.clone()))
                    .unwrap_or_default();
                match lang {
                    Lang::Id => format!(
                        "NIK sah: {}, lahir {}; kecamatan {place}.",
                        sex.name(lang),
                        lindung_shared::lang::format_date(birth, lang)
                    ),
                    Lang::En => format!(
                        "Valid NIK: {}, born {}; district {place}.",
                        sex.name(lang),
                        lindung_shared::lang::format_date(birth, lang)
                    ),
                }
            }
            _ => ctx.t("NIK sah.", "Valid NIK.").to_owned(),
        },
    };
    let warnings: Vec<&str> = verdict.warnings.iter().map(|w| w.text(lang)).collect();
    Reply::json(
        200,
        &json!({
            "valid": verdict.valid,
            "normalized": verdict.normalized,
            "sex": verdict.sex,
            "sex_code": verdict.sex.map(|s| match s { Sex::Male => "L", Sex::Female => "P" }),
            "birth_date": verdict.birth_date.map(|d| d.to_string()),
            "age": verdict.age,
            "district": verdict.district,
            "errors": verdict.errors,
            "warnings": verdict.warnings,
            "message": message,
            "warning_messages": warnings,
        }),
    )
}

fn villages(request: &Request) -> Reply {
    let query = request.query("q").unwrap_or("").trim();
    let limit = request
        .query("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(10)
        .min(50);
    let hits = if query.chars().count() < 2 {
        Vec::new()
    } else {
        regions().search(
            query,
            &SearchOptions {
                level: Some(Level::Village),
                within: None,
                limit,
            },
        )
    };
    let villages: Vec<_> = hits
        .iter()
        .map(|hit| {
            json!({
                "code": hit.region.code,
                "name": hit.region.name,
                "full_name": regions().full_name(hit.region.code).unwrap_or_default(),
            })
        })
        .collect();
    Reply::json(200, &json!({ "villages": villages }))
}

fn check_duplicate(store: &Store, ctx: &Ctx, request: &Request) -> Result<Reply, StoreError> {
    let verdict = actions::nik_verdict(request.query("nik").unwrap_or(""));
    let Ok(nik) = verdict.normalized.parse::<lindung_shared::nik::Nik>() else {
        return Ok(Reply::json(
            200,
            &json!({ "checked": false, "same_nik": [], "probable": [] }),
        ));
    };
    let brief = |l: &crate::store::ListedRegistration| {
        let b = pages::Brief::of(l, ctx.lang);
        json!({ "id": b.id, "nik": b.nik_masked, "full_name": b.full_name, "village": b.village, "status": b.status })
    };
    let exclude = request.query("exclude").unwrap_or("");
    let same_nik: Vec<_> = store
        .find_by_nik(&nik)?
        .iter()
        .filter(|l| l.registration.id.to_string() != exclude)
        .map(brief)
        .collect();
    let birth_date = request
        .query("birth_date")
        .and_then(parse_date)
        .or(verdict.birth_date);
    let village = match actions::choose_village(request.query("village_code").unwrap_or("")) {
        VillageChoice::Code(code) => Some(code),
        VillageChoice::AsTyped => request.query("village_code").and_then(normalize_code),
        _ => None,
    };
    let name = request.query("full_name").unwrap_or("").trim();
    let probable: Vec<_> = match (birth_date, village) {
        (Some(birth_date), Some(village)) if !name.is_empty() => store
            .similar_persons(&nik, name, &village, birth_date)?
            .iter()
            .filter(|l| l.registration.id.to_string() != exclude)
            .map(brief)
            .collect(),
        _ => Vec::new(),
    };
    let message = if !same_nik.is_empty() {
        Some(ctx.t(
            "NIK ini sudah terdaftar di laptop ini; menyimpan akan ditolak.",
            "This NIK is already registered on this laptop; saving will be refused.",
        ))
    } else if !probable.is_empty() {
        Some(ctx.t(
            "Mungkin orang yang sama sudah terdaftar (desa dan tanggal lahir sama, nama mirip); saat menyimpan Anda diminta memastikan.",
            "Probably the same person is already registered (same village and birth date, similar name); saving will ask you to confirm.",
        ))
    } else {
        None
    };
    Ok(Reply::json(
        200,
        &json!({ "checked": true, "same_nik": same_nik, "probable": probable, "message": message }),
    ))
}
