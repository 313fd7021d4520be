//! The HTML of every page, with maud (every value is escaped). No inline
//! script or style (the Content-Security-Policy forbids them): behaviour is
//! in `assets/app.js`, looks in `assets/app.css`.
//!
//! Stable hooks for browser tests: every form, input, error message and
//! result region has an `id` (inputs are named like
//! [`RegistrationInput`]'s fields; an input's errors are in `#NAME-error`),
//! and repeated rows carry a `data-testid`.

use lindung_shared::lang::{Lang, Message, format_date, format_rupiah};
use lindung_shared::protocol::DuplicateHolder;
use lindung_shared::region::regions;
use lindung_shared::registration::{Category, ConsentMethod, PayerKind, Status};
use lindung_shared::validation::RegistrationInput;
use maud::{DOCTYPE, Markup, html};

use super::session::Session;
use super::worker::{LastAttempt, SyncView};
use crate::actions::ImportReport;
use crate::store::{
    Enrollment, LastExport, ListedRegistration, OutboxEntry, StoreStatus, SyncState,
    VillageProgress,
};

/// What every page needs: the language, the session (for its CSRF token),
/// who is working, and where we are.
#[derive(Debug)]
pub struct Ctx {
    /// The chosen language.
    pub lang: Lang,
    /// The browser session.
    pub session: Session,
    /// The officer, once unlocked.
    pub officer: Option<String>,
    /// The current path (for the language links).
    pub path: String,
}

impl Ctx {
    /// The Indonesian or English text.
    pub fn t<'a>(&self, id: &'a str, en: &'a str) -> &'a str {
        match self.lang {
            Lang::Id => id,
            Lang::En => en,
        }
    }

    fn csrf(&self) -> Markup {
        html! { input type="hidden" name="csrf" value=(self.session.csrf); }
    }
}

/// A registration in a list: the NIK masked.
#[derive(Debug, Clone)]
pub struct Brief {
    /// Its id.
    pub id: String,
    /// The NIK, masked.
    pub nik_masked: String,
    /// The name.
    pub full_name: String,
    /// The village's name.
    pub village: String,
    /// The village's code.
    pub village_code: String,
    /// The category, in the page's language.
    pub category: String,
    /// Active or withdrawn, in the page's language.
    pub status: String,
    /// Where it stands with the server, in the page's language.
    pub sync: String,
    /// Where it stands with the server.
    pub sync_state: SyncState,
}

impl Brief {
    /// The brief form of a listed registration.
    pub fn of(listed: &ListedRegistration, lang: Lang) -> Brief {
        let r = &listed.registration;
        Brief {
            id: r.id.to_string(),
            nik_masked: r.nik.masked(),
            full_name: r.full_name.clone(),
            village: regions()
                .get(&r.village_code)
                .map(|v| v.name.to_owned())
                .unwrap_or_default(),
            village_code: r.village_code.clone(),
            category: r.category.label(lang).to_owned(),
            status: status_text(&r.status, lang),
            sync: sync_text(listed.sync, lang).to_owned(),
            sync_state: listed.sync,
        }
    }
}

fn status_text(status: &Status, lang: Lang) -> String {
    match (status, lang) {
        (Status::Active, Lang::Id) => "aktif".to_owned(),
        (Status::Active, Lang::En) => "active".to_owned(),
        (Status::Withdrawn { reason }, Lang::Id) => format!("ditarik: {reason}"),
        (Status::Withdrawn { reason }, Lang::En) => format!("withdrawn: {reason}"),
    }
}

fn sync_text(sync: SyncState, lang: Lang) -> &'static str {
    match (sync, lang) {
        (SyncState::Pending, Lang::Id) => "belum terkirim",
        (SyncState::Pending, Lang::En) => "not sent yet",
        (SyncState::Rejected, Lang::Id) => "ditolak server",
        (SyncState::Rejected, Lang::En) => "refused by the server",
        (SyncState::Synced, Lang::Id) => "terkirim",
        (SyncState::Synced, Lang::En) => "synced",
    }
}

/// The page the language links reload: the current one, or for a page
/// shown in answer to a POST-only address, the page it belongs to.
fn lang_target(path: &str) -> &str {
    if path == "/progress/positions" {
        return "/progress";
    }
    path.strip_suffix("/withdraw").unwrap_or(path)
}

fn layout(ctx: &Ctx, title: &str, body: Markup) -> Markup {
    let unlocked = ctx.session.unlocked && ctx.officer.is_some();
    let here = lang_target(&ctx.path);
    let nav: [(&str, &str, &str, &str); 6] = [
        (
            "/register",
            "nav-register",
            "Daftarkan pekerja",
            "Register a worker",
        ),
        (
            "/registrations",
            "nav-registrations",
            "Pendaftaran",
            "Registrations",
        ),
        (
            "/progress",
            "nav-progress",
            "Kemajuan desa",
            "Village progress",
        ),
        (
            "/import",
            "nav-import",
            "Impor spreadsheet",
            "Import a spreadsheet",
        ),
        ("/sync", "nav-sync", "Sinkron", "Sync"),
        ("/enroll", "nav-enroll", "Server", "Server"),
    ];
    html! {
        (DOCTYPE)
        html lang=(ctx.lang.as_str()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " — Lindung" }
                link rel="icon" href="/assets/icon.svg" type="image/svg+xml";
                link rel="stylesheet" href="/assets/app.css";
                script src="/assets/app.js" defer {}
            }
            body {
                a.skip href="#main" { (ctx.t("Langsung ke isi", "Skip to content")) }
                header.top {
                    span.brand { "Lindung" }
                    @if unlocked {
                        nav aria-label=(ctx.t("Menu utama", "Main menu")) {
                            ul {
                                @for (href, id, label_id, label_en) in nav {
                                    li {
                                        a id=(id) href=(href) aria-current=[ctx.path.starts_with(href).then_some("page")] {
                                            (ctx.t(label_id, label_en))
                                        }
                                    }
                                }
                            }
                        }
                    }
                    div.tools {
                        @if let Some(officer) = &ctx.officer {
                            span #officer { (officer) }
                        }
                        span.lang {
                            a #lang-id href={ (here) "?lang=id" } lang="id" aria-current=[(ctx.lang == Lang::Id).then_some("true")] { "Bahasa Indonesia" }
                            " · "
                            a #lang-en href={ (here) "?lang=en" } lang="en" aria-current=[(ctx.lang == Lang::En).then_some("true")] { "English" }
                        }
                        @if unlocked {
                            form.inline method="post" action="/lock" {
                                (ctx.csrf())
                                button #lock type="submit" { (ctx.t("Kunci", "Lock")) }
                            }
                        }
                    }
                }
                main #main tabindex="-1" {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

fn field_errors<'a>(problems: &'a [Message], name: &str) -> Vec<&'a Message> {
    problems
        .iter()
        .filter(|m| {
            let field = m.field.as_deref().unwrap_or("");
            field == name
                || (name == "jht" && field == "programmes")
                || (name == "consent_method" && field == "consent")
        })
        .collect()
}

fn errors_markup(ctx: &Ctx, name: &str, errors: &[&Message]) -> Markup {
    html! {
        @if !errors.is_empty() {
            div.error id={ (name) "-error" } data-testid={ "error-" (name) } {
                @for error in errors {
                    p { (error.text(ctx.lang)) }
                }
            }
        }
    }
}

/// An error summary at the top of a form, each problem linking to its field.
fn error_summary(ctx: &Ctx, problems: &[Message]) -> Markup {
    html! {
        @if !problems.is_empty() {
            div.summary #error-summary role="alert" tabindex="-1" {
                h2 { (ctx.t("Belum disimpan; periksa isian berikut:", "Not saved yet; check these fields:")) }
                ul {
                    @for problem in problems {
                        li {
                            @match problem.field.as_deref() {
                                Some(field) => {
                                    a href={ "#" (form_field(field)) } { (problem.text(ctx.lang)) }
                                }
                                None => { (problem.text(ctx.lang)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn form_field(field: &str) -> &str {
    match field {
        "programmes" => "jht",
        "consent" => "consent_method",
        other => other,
    }
}

struct Input<'a> {
    name: &'a str,
    label: &'a str,
    value: &'a str,
    kind: &'a str,
    hint: Option<&'a str>,
    required: bool,
    autocomplete: &'a str,
    /// Shown after the input (the live NIK verdict).
    after: Option<Markup>,
}

fn input(ctx: &Ctx, problems: &[Message], spec: Input<'_>) -> Markup {
    let errors = field_errors(problems, spec.name);
    let hint_id = format!("{}-hint", spec.name);
    let error_id = format!("{}-error", spec.name);
    let described = match (spec.hint.is_some(), errors.is_empty()) {
        (true, true) => Some(hint_id.clone()),
        (true, false) => Some(format!("{hint_id} {error_id}")),
        (false, false) => Some(error_id),
        (false, true) => None,
    };
    html! {
        div.field.invalid[!errors.is_empty()] {
            label for=(spec.name) {
                (spec.label)
                @if spec.required { " " abbr title=(ctx.t("wajib", "required")) { "*" } }
            }
            input id=(spec.name) name=(spec.name) type=(spec.kind) value=(spec.value)
                autocomplete=(spec.autocomplete) required[spec.required]
                aria-invalid=[(!errors.is_empty()).then_some("true")]
                aria-describedby=[described];
            @if let Some(hint) = spec.hint {
                p.hint id=(hint_id) { (hint) }
            }
            @if let Some(after) = &spec.after { (after) }
            (errors_markup(ctx, spec.name, &errors))
        }
    }
}

fn select(
    ctx: &Ctx,
    problems: &[Message],
    name: &str,
    label: &str,
    options: &[(String, String, bool)],
    required: bool,
) -> Markup {
    let errors = field_errors(problems, name);
    html! {
        div.field.invalid[!errors.is_empty()] {
            label for=(name) {
                (label)
                @if required { " " abbr title=(ctx.t("wajib", "required")) { "*" } }
            }
            select id=(name) name=(name) required[required]
                aria-invalid=[(!errors.is_empty()).then_some("true")]
                aria-describedby=[(!errors.is_empty()).then(|| format!("{name}-error"))] {
                option value="" { (ctx.t("— pilih —", "— choose —")) }
                @for (value, text, selected) in options {
                    option value=(value) selected[*selected] { (text) }
                }
            }
            (errors_markup(ctx, name, &errors))
        }
    }
}

/// Whether a registration form creates or edits.
#[derive(Debug)]
pub enum Mode {
    /// A new registration.
    New,
    /// An edit of this registration.
    Edit(lindung_shared::ids::RecordId),
}

/// A registration form as it stands: what was typed and what is wrong.
#[derive(Debug)]
pub struct FormView {
    /// The values, as typed.
    pub input: RegistrationInput,
    /// Every problem, by field.
    pub problems: Vec<Message>,
    /// Registrations already here that this one may duplicate.
    pub existing: Vec<Brief>,
    /// Those are probable duplicates the officer may confirm.
    pub probable_duplicate: bool,
}

impl FormView {
    /// An empty form.
    pub fn blank() -> FormView {
        FormView {
            input: RegistrationInput::default(),
            problems: Vec::new(),
            existing: Vec::new(),
            probable_duplicate: false,
        }
    }
}

/// The warning codes this form shows a confirmation box for: those a problem
/// asks to confirm, and those already confirmed.
fn confirmations(view: &FormView) -> Vec<(&'static str, bool)> {
    let mut codes: Vec<&'static str> = Vec::new();
    for problem in &view.problems {
        if problem.code == "needs_confirmation" {
            match problem.field.as_deref() {
                Some("sex") => codes.push("nik_sex_mismatch"),
                Some("birth_date") => codes.push("nik_birth_date_mismatch"),
                _ => {}
            }
        }
    }
    if view.probable_duplicate {
        codes.push(crate::store::POSSIBLE_DUPLICATE);
    }
    for code in [
        "nik_sex_mismatch",
        "nik_birth_date_mismatch",
        crate::store::POSSIBLE_DUPLICATE,
    ] {
        if view.input.confirmed_warnings.iter().any(|c| c == code) {
            codes.push(code);
        }
    }
    codes.sort_unstable();
    codes.dedup();
    codes
        .into_iter()
        .map(|code| {
            let checked = view.input.confirmed_warnings.iter().any(|c| c == code);
            (code, checked)
        })
        .collect()
}

fn confirmation_label(ctx: &Ctx, code: &str) -> String {
    match code {
        "nik_sex_mismatch" => ctx
            .t(
                "Jenis kelamin memang berbeda dari NIK; tetap simpan.",
                "The sex really differs from the NIK; save anyway.",
            )
            .to_owned(),
        "nik_birth_date_mismatch" => ctx
            .t(
                "Tanggal lahir memang berbeda dari NIK; tetap simpan.",
                "The birth date really differs from the NIK; save anyway.",
            )
            .to_owned(),
        _ => ctx
            .t(
                "Ini orang lain, bukan yang sudah terdaftar; tetap simpan.",
                "This is someone else, not the one already registered; save anyway.",
            )
            .to_owned(),
    }
}

fn vocabulary<T: Copy + PartialEq>(
    all: &[T],
    value: &str,
    code: impl Fn(T) -> &'static str,
    label: impl Fn(T) -> &'static str,
    parse: impl Fn(&str) -> Option<T>,
) -> Vec<(String, String, bool)> {
    let chosen = parse(value);
    all.iter()
        .map(|&item| {
            (
                code(item).to_owned(),
                label(item).to_owned(),
                chosen == Some(item),
            )
        })
        .collect()
}

/// The registration form (new or edit).
pub fn registration_form(ctx: &Ctx, mode: &Mode, view: &FormView) -> Markup {
    let v = &view.input;
    let p = &view.problems;
    let lang = ctx.lang;
    let (title, action, exclude) = match mode {
        Mode::New => (
            ctx.t("Daftarkan pekerja", "Register a worker").to_owned(),
            "/register".to_owned(),
            String::new(),
        ),
        Mode::Edit(id) => (
            ctx.t("Ubah pendaftaran", "Edit registration").to_owned(),
            format!("/registrations/{id}/edit"),
            id.to_string(),
        ),
    };
    let sexes = [
        (
            "L".to_owned(),
            ctx.t("Laki-laki (L)", "Male (L)").to_owned(),
            lindung_shared::validation::parse_sex(&v.sex) == Some(lindung_shared::nik::Sex::Male),
        ),
        (
            "P".to_owned(),
            ctx.t("Perempuan (P)", "Female (P)").to_owned(),
            lindung_shared::validation::parse_sex(&v.sex) == Some(lindung_shared::nik::Sex::Female),
        ),
    ];
    let categories = vocabulary(
        Category::ALL,
        &v.category,
        Category::code,
        |c| c.label(lang),
        Category::parse_loose,
    );
    let payers = vocabulary(
        PayerKind::ALL,
        &v.payer,
        PayerKind::code,
        |c| c.label(lang),
        PayerKind::parse_loose,
    );
    let consents = vocabulary(
        ConsentMethod::ALL,
        &v.consent_method,
        ConsentMethod::code,
        |c| c.label(lang),
        ConsentMethod::parse_loose,
    );
    let jht = matches!(
        v.jht.trim().to_lowercase().as_str(),
        "ya" | "yes" | "1" | "true" | "y" | "jht"
    );
    let body = html! {
        (error_summary(ctx, p))
        @if !view.existing.is_empty() {
            div.notice #duplicates role="alert" {
                h2 {
                    @if view.probable_duplicate {
                        (ctx.t("Mungkin orang yang sama sudah terdaftar (desa dan tanggal lahir sama, nama mirip):", "Probably the same person is already registered (same village and birth date, similar name):"))
                    } @else {
                        (ctx.t("Sudah terdaftar di laptop ini:", "Already registered on this laptop:"))
                    }
                }
                (brief_table(ctx, &view.existing, "duplicate-row"))
            }
        }
        form #registration-form method="post" action=(action) novalidate data-exclude=(exclude) {
            (ctx.csrf())
            fieldset {
                legend { (ctx.t("Identitas", "Identity")) }
                (input(ctx, p, Input { name: "nik", label: "NIK", value: &v.nik, kind: "text", hint: Some(ctx.t("16 angka, sesuai KTP.", "16 digits, as on the KTP.")), required: true, autocomplete: "off", after: Some(html! { p.verdict #nik-verdict aria-live="polite" {} }) }))
                (input(ctx, p, Input { name: "full_name", label: ctx.t("Nama lengkap", "Full name"), value: &v.full_name, kind: "text", hint: Some(ctx.t("Sesuai KTP.", "As on the KTP.")), required: true, autocomplete: "off", after: None }))
                (input(ctx, p, Input { name: "birth_date", label: ctx.t("Tanggal lahir", "Birth date"), value: &v.birth_date, kind: "text", hint: Some(ctx.t("Diambil dari NIK bila kosong; tulis 31-01-1990.", "Taken from the NIK when empty; write 31-01-1990.")), required: false, autocomplete: "off", after: None }))
                (select(ctx, p, "sex", ctx.t("Jenis kelamin", "Sex"), &sexes, false))
                (input(ctx, p, Input { name: "phone", label: ctx.t("Nomor telepon", "Phone number"), value: &v.phone, kind: "tel", hint: None, required: false, autocomplete: "off", after: None }))
            }
            fieldset {
                legend { (ctx.t("Tempat", "Place")) }
                (village_input(ctx, p, "village_code", &v.village_code))
                (input(ctx, p, Input { name: "rt", label: "RT", value: &v.rt, kind: "text", hint: None, required: false, autocomplete: "off", after: None }))
                (input(ctx, p, Input { name: "rw", label: "RW", value: &v.rw, kind: "text", hint: None, required: false, autocomplete: "off", after: None }))
                (input(ctx, p, Input { name: "address", label: ctx.t("Alamat", "Address"), value: &v.address, kind: "text", hint: None, required: false, autocomplete: "off", after: None }))
            }
            fieldset {
                legend { (ctx.t("Kepesertaan", "Membership")) }
                (select(ctx, p, "category", ctx.t("Kategori pekerja", "Worker category"), &categories, true))
                div.field.check {
                    input #jht type="checkbox" name="jht" value="ya" checked[jht];
                    label for="jht" { (ctx.t("Ikut JHT (jaminan hari tua)", "Add JHT (old-age savings)")) }
                    (errors_markup(ctx, "jht", &field_errors(p, "jht")))
                }
                (input(ctx, p, Input { name: "monthly_income", label: ctx.t("Penghasilan per bulan (Rp)", "Monthly income (Rp)"), value: &v.monthly_income, kind: "text", hint: Some(ctx.t("Kosong: Rp 1.000.000.", "Empty: Rp 1,000,000.")), required: false, autocomplete: "off", after: None }))
                (select(ctx, p, "payer", ctx.t("Penanggung iuran", "Who pays"), &payers, true))
                (input(ctx, p, Input { name: "payer_name", label: ctx.t("Nama penanggung (perusahaan/lembaga)", "Payer's name (company or office)"), value: &v.payer_name, kind: "text", hint: Some(ctx.t("Wajib untuk CSR, Baznas dan lainnya.", "Required for CSR, Baznas and other.")), required: false, autocomplete: "off", after: None }))
            }
            fieldset {
                legend { (ctx.t("Persetujuan", "Consent")) }
                (select(ctx, p, "consent_method", ctx.t("Cara persetujuan diberikan", "How consent was given"), &consents, true))
                (input(ctx, p, Input { name: "consent_reference", label: ctx.t("Bukti persetujuan (nomor formulir, saksi)", "Consent reference (form number, witness)"), value: &v.consent_reference, kind: "text", hint: None, required: false, autocomplete: "off", after: None }))
            }
            div.notice #duplicate-warning aria-live="polite" hidden {}
            @let confirms = confirmations(view);
            @if !confirms.is_empty() {
                fieldset #confirmations {
                    legend { (ctx.t("Konfirmasi", "Confirm")) }
                    @for (code, checked) in confirms {
                        div.field.check {
                            input type="checkbox" id={ "confirm-" (code) } name="confirm" value=(code) checked[checked];
                            label for={ "confirm-" (code) } { (confirmation_label(ctx, code)) }
                        }
                    }
                }
            }
            button #save type="submit" { (ctx.t("Simpan", "Save")) }
        }
    };
    layout(ctx, &title, body)
}

/// A village field with type-ahead (a `<datalist>` the script fills, so
/// arrow keys and Enter work as in any list).
fn village_input(ctx: &Ctx, problems: &[Message], name: &str, value: &str) -> Markup {
    let errors = field_errors(problems, name);
    let place =
        lindung_shared::region::normalize_code(value).and_then(|code| regions().full_name(&code));
    html! {
        div.field.invalid[!errors.is_empty()] {
            label for=(name) {
                (ctx.t("Desa/kelurahan", "Village"))
                " " abbr title=(ctx.t("wajib", "required")) { "*" }
            }
            input id=(name) name=(name) type="text" value=(value) autocomplete="off"
                list={ (name) "-options" } data-village-search
                aria-describedby={ (name) "-hint " (name) "-name" @if !errors.is_empty() { " " (name) "-error" } }
                aria-invalid=[(!errors.is_empty()).then_some("true")];
            datalist id={ (name) "-options" } {}
            p.hint id={ (name) "-hint" } { (ctx.t("Ketik nama atau kode desa, lalu pilih dari daftar.", "Type the village's name or code, then choose from the list.")) }
            p.place id={ (name) "-name" } aria-live="polite" { @if let Some(place) = place { (place) } }
            (errors_markup(ctx, name, &errors))
        }
    }
}

fn brief_table(ctx: &Ctx, rows: &[Brief], testid: &str) -> Markup {
    html! {
        table {
            thead {
                tr {
                    th scope="col" { "NIK" }
                    th scope="col" { (ctx.t("Nama", "Name")) }
                    th scope="col" { (ctx.t("Desa", "Village")) }
                    th scope="col" { (ctx.t("Kategori", "Category")) }
                    th scope="col" { (ctx.t("Status", "Status")) }
                    th scope="col" { (ctx.t("Sinkron", "Sync")) }
                }
            }
            tbody {
                @for row in rows {
                    tr data-testid=(testid) data-id=(row.id) {
                        td.nik { (row.nik_masked) }
                        td { a href={ "/registrations/" (row.id) } { (row.full_name) } }
                        td { (row.village) }
                        td { (row.category) }
                        td { (row.status) }
                        td.sync-rejected[row.sync_state == SyncState::Rejected] { (row.sync) }
                    }
                }
            }
        }
    }
}

/// The list of registrations, with its search form.
pub fn list(ctx: &Ctx, text: &str, status: &str, rows: &[Brief]) -> Markup {
    let statuses = [
        ("", ctx.t("Semua", "All")),
        ("active", ctx.t("Aktif", "Active")),
        ("withdrawn", ctx.t("Ditarik", "Withdrawn")),
    ];
    let body = html! {
        form #search-form.search method="get" action="/registrations" role="search" {
            div.field {
                label for="q" { (ctx.t("Cari nama atau awal NIK", "Search a name or the start of a NIK")) }
                input #q type="search" name="q" value=(text);
            }
            div.field {
                label for="status" { (ctx.t("Status", "Status")) }
                select #status name="status" {
                    @for (value, label) in statuses {
                        option value=(value) selected[status == value] { (label) }
                    }
                }
            }
            button #search type="submit" { (ctx.t("Cari", "Search")) }
        }
        p #count { (rows.len()) " " (ctx.t("pendaftaran", "registrations")) }
        @if rows.is_empty() {
            p #empty {
                (ctx.t("Belum ada pendaftaran yang cocok. ", "No registration matches yet. "))
                a href="/register" { (ctx.t("Daftarkan pekerja", "Register a worker")) }
                " · "
                a href="/import" { (ctx.t("Impor spreadsheet", "Import a spreadsheet")) }
            }
        } @else {
            div #registrations { (brief_table(ctx, rows, "registration-row")) }
        }
    };
    layout(ctx, ctx.t("Pendaftaran", "Registrations"), body)
}

/// One earlier value of a record.
#[derive(Debug)]
pub struct HistoryLine {
    /// The field's label.
    pub field: String,
    /// The value it had.
    pub value: String,
    /// When it was written.
    pub at: String,
    /// Written on this laptop.
    pub this_laptop: bool,
}

/// What a record page shows.
#[derive(Debug)]
pub struct RecordView<'a> {
    /// The registration.
    pub listed: &'a ListedRegistration,
    /// Its earlier values.
    pub history: Vec<HistoryLine>,
    /// Others with the same NIK, as the server told.
    pub notices: Vec<DuplicateHolder>,
    /// Its changes the server refused.
    pub rejected: Vec<OutboxEntry>,
    /// A message after an action.
    pub flash: Option<&'a str>,
    /// What is wrong with a withdrawal just tried.
    pub withdraw_problem: Option<Message>,
}

/// A record's own page: the full NIK, every field, earlier values.
pub fn record(ctx: &Ctx, view: &RecordView<'_>) -> Markup {
    let r = &view.listed.registration;
    let lang = ctx.lang;
    let rt_rw = |n: Option<u16>| n.map(|n| format!("{n:03}")).unwrap_or_else(|| "-".into());
    let payer = match &r.payer.name {
        Some(name) => format!("{} ({name})", r.payer.kind.label(lang)),
        None => r.payer.kind.label(lang).to_owned(),
    };
    let consent = match &r.consent.reference {
        Some(reference) => format!(
            "{} — {reference} — {}",
            r.consent.method.label(lang),
            crate::store::utc_date_text(r.consent.recorded_at)
        ),
        None => format!(
            "{} — {}",
            r.consent.method.label(lang),
            crate::store::utc_date_text(r.consent.recorded_at)
        ),
    };
    let rows: Vec<(&str, &str, String)> = vec![
        ("record-nik", "NIK", r.nik.as_str().to_owned()),
        (
            "record-name",
            ctx.t("Nama lengkap", "Full name"),
            r.full_name.clone(),
        ),
        (
            "record-birth-date",
            ctx.t("Tanggal lahir", "Birth date"),
            format_date(r.birth_date, lang),
        ),
        (
            "record-sex",
            ctx.t("Jenis kelamin", "Sex"),
            r.sex.name(lang).to_owned(),
        ),
        (
            "record-phone",
            ctx.t("Nomor telepon", "Phone number"),
            r.phone
                .as_ref()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_else(|| "-".into()),
        ),
        (
            "record-village",
            ctx.t("Desa/kelurahan", "Village"),
            format!(
                "{} {}",
                r.village_code,
                regions().full_name(&r.village_code).unwrap_or_default()
            ),
        ),
        ("record-rt", "RT", rt_rw(r.rt)),
        ("record-rw", "RW", rt_rw(r.rw)),
        (
            "record-address",
            ctx.t("Alamat", "Address"),
            r.address.clone().unwrap_or_else(|| "-".into()),
        ),
        (
            "record-category",
            ctx.t("Kategori pekerja", "Worker category"),
            r.category.label(lang).to_owned(),
        ),
        (
            "record-programmes",
            ctx.t("Program", "Programmes"),
            r.programmes
                .list()
                .iter()
                .map(|p| p.code().to_uppercase())
                .collect::<Vec<_>>()
                .join(" + "),
        ),
        (
            "record-income",
            ctx.t("Penghasilan per bulan", "Monthly income"),
            format_rupiah(r.monthly_income),
        ),
        ("record-payer", ctx.t("Penanggung iuran", "Who pays"), payer),
        ("record-consent", ctx.t("Persetujuan", "Consent"), consent),
        (
            "record-status",
            ctx.t("Status", "Status"),
            status_text(&r.status, lang),
        ),
        (
            "record-registered",
            ctx.t("Didaftarkan", "Registered"),
            crate::store::utc_date_text(r.origin.registered_at),
        ),
        (
            "record-sync",
            ctx.t("Sinkron", "Sync"),
            sync_text(view.listed.sync, lang).to_owned(),
        ),
    ];
    let body = html! {
        @if let Some(flash) = view.flash {
            p.flash #flash role="status" { (flash) }
        }
        dl #record {
            @for (id, label, value) in &rows {
                div { dt { (label) } dd id=(id) { (value) } }
            }
        }
        p.actions {
            a #edit.button href={ "/registrations/" (r.id) "/edit" } { (ctx.t("Ubah", "Edit")) }
        }
        @if !view.rejected.is_empty() {
            section #record-rejected {
                h2 { (ctx.t("Ditolak server", "Refused by the server")) }
                ul {
                    @for entry in &view.rejected {
                        li data-testid="record-rejected" {
                            @if let Some(field) = &entry.error_field { strong { (field) ": " } }
                            (entry.reason(lang))
                        }
                    }
                }
                p { (ctx.t("Perbaiki dengan tombol Ubah; perbaikannya dikirim sebagai perubahan baru.", "Fix it with Edit; the fix is sent as a new change.")) }
            }
        }
        @if !view.notices.is_empty() {
            section #record-duplicates {
                h2 { (ctx.t("NIK ini juga didaftarkan di server oleh (staf akan memeriksa):", "This NIK was also registered on the server by (staff will review):")) }
                ul {
                    @for other in &view.notices {
                        li { (other.officer_name.as_deref().unwrap_or("-")) " — " (other.village_code) " " (regions().full_name(&other.village_code).unwrap_or_default()) }
                    }
                }
            }
        }
        section #history {
            h2 { (ctx.t("Nilai lama (tidak pernah dihapus)", "Earlier values (never deleted)")) }
            @if view.history.is_empty() {
                p { (ctx.t("Belum ada perubahan.", "No changes yet.")) }
            } @else {
                table {
                    thead { tr {
                        th scope="col" { (ctx.t("Isian", "Field")) }
                        th scope="col" { (ctx.t("Nilai", "Value")) }
                        th scope="col" { (ctx.t("Waktu", "When")) }
                        th scope="col" { (ctx.t("Oleh", "By")) }
                    } }
                    tbody {
                        @for line in &view.history {
                            tr data-testid="history-row" {
                                td { (line.field) }
                                td { (line.value) }
                                td { (line.at) }
                                td { @if line.this_laptop { (ctx.t("laptop ini", "this laptop")) } @else { (ctx.t("perangkat lain", "another device")) } }
                            }
                        }
                    }
                }
            }
        }
        @if r.is_active() {
            section #withdraw-section {
                h2 { (ctx.t("Tarik pendaftaran", "Withdraw the registration")) }
                form #withdraw-form method="post" action={ "/registrations/" (r.id) "/withdraw" } {
                    (ctx.csrf())
                    @let errors: Vec<&Message> = view.withdraw_problem.iter().collect();
                    div.field.invalid[!errors.is_empty()] {
                        label for="reason" { (ctx.t("Alasan (meninggal, pindah, terdaftar di tempat lain…)", "Reason (deceased, moved away, registered elsewhere…)")) }
                        textarea #reason name="reason" rows="2" required aria-invalid=[(!errors.is_empty()).then_some("true")] {}
                        (errors_markup(ctx, "reason", &errors))
                    }
                    button #withdraw type="submit" { (ctx.t("Tarik", "Withdraw")) }
                }
            }
        }
    };
    layout(ctx, &r.full_name, body)
}

/// Village progress: the villages with registrations, and the chosen one's figures.
pub fn progress(
    ctx: &Ctx,
    typed: &str,
    villages: &[(String, u64)],
    progress: Option<&VillageProgress>,
    problem: Option<&Message>,
) -> Markup {
    let lang = ctx.lang;
    let errors: Vec<&Message> = problem
        .iter()
        .copied()
        .filter(|m| m.field.as_deref() == Some("village"))
        .collect();
    let position_errors: Vec<&Message> = problem
        .iter()
        .copied()
        .filter(|m| m.field.as_deref() == Some("positions"))
        .collect();
    let body = html! {
        form #village-form.search method="get" action="/progress" {
            div.field.invalid[!errors.is_empty()] {
                label for="village" { (ctx.t("Desa/kelurahan (nama atau kode)", "Village (name or code)")) }
                input #village type="text" name="village" value=(typed) list="village-options" data-village-search autocomplete="off";
                datalist #village-options {}
                p.place #village-name aria-live="polite" {}
                (errors_markup(ctx, "village", &errors))
            }
            button #show-progress type="submit" { (ctx.t("Tampilkan", "Show")) }
        }
        @if let Some(progress) = progress {
            @let count = |c: Category| progress.by_category.get(c.code()).copied().unwrap_or(0);
            section #progress {
                h2 { (progress.village_code) " " (regions().full_name(&progress.village_code).unwrap_or_default()) }
                @if progress.provisional {
                    p.notice #provisional { (ctx.t("Sementara: sebagian perubahan belum terkirim ke server.", "Provisional: some changes are not on the server yet.")) }
                }
                table #by-category {
                    thead { tr { th scope="col" { (ctx.t("Kategori", "Category")) } th scope="col" { (ctx.t("Aktif", "Active")) } } }
                    tbody {
                        @for category in Category::ALL {
                            @let n = count(*category);
                            @if n > 0 {
                                tr data-testid="category-row" data-category=(category.code()) { td { (category.label(lang)) } td.num { (n) } }
                            }
                        }
                        tr.total { th scope="row" { (ctx.t("Jumlah aktif", "Active in total")) } td.num #active-total { (progress.active) } }
                    }
                }
                h3 { (ctx.t("Ketua RT dan RW terhadap jumlah jabatan", "RT and RW heads against positions")) }
                ul #positions {
                    @for (category, positions, id) in [(Category::RtHead, progress.rt_positions, "rt-progress"), (Category::RwHead, progress.rw_positions, "rw-progress")] {
                        li id=(id) {
                            (category.label(lang)) ": "
                            @match positions {
                                Some(total) => {
                                    @let done = count(category);
                                    meter min="0" max=(total.max(1)) value=(done.min(total)) {}
                                    " " (done) " / " (total) " (" (total.saturating_sub(done)) " " (ctx.t("belum", "left")) ")"
                                }
                                None => { (ctx.t("jumlah jabatan belum dicatat", "positions not recorded yet")) }
                            }
                        }
                    }
                }
                form #positions-form method="post" action="/progress/positions" {
                    (ctx.csrf())
                    input type="hidden" name="village" value=(progress.village_code);
                    div.field {
                        label for="rt-count" { (ctx.t("Jumlah RT di desa ini", "Number of RT in this village")) }
                        input #rt-count type="number" name="rt" min="0" max="999" value=[progress.rt_positions];
                    }
                    div.field {
                        label for="rw-count" { (ctx.t("Jumlah RW di desa ini", "Number of RW in this village")) }
                        input #rw-count type="number" name="rw" min="0" max="999" value=[progress.rw_positions];
                    }
                    (errors_markup(ctx, "positions", &position_errors))
                    button #save-positions type="submit" { (ctx.t("Catat jumlah jabatan", "Record positions")) }
                }
            }
        }
        section #villages {
            h2 { (ctx.t("Desa dengan pendaftaran di laptop ini", "Villages with registrations on this laptop")) }
            @if villages.is_empty() {
                p { (ctx.t("Belum ada.", "None yet.")) }
            } @else {
                ul {
                    @for (code, active) in villages {
                        li data-testid="village-row" {
                            a href={ "/progress?village=" (code) } { (code) " " (regions().full_name(code).unwrap_or_default()) }
                            " — " (active) " " (ctx.t("aktif", "active"))
                        }
                    }
                }
            }
        }
    };
    layout(ctx, ctx.t("Kemajuan desa", "Village progress"), body)
}

/// What the sync page shows.
#[derive(Debug)]
pub struct SyncPage<'a> {
    /// The worker's state.
    pub view: &'a SyncView,
    /// Counts, pending changes, refusals.
    pub status: &'a StoreStatus,
    /// The server, once enrolled.
    pub enrollment: Option<&'a Enrollment>,
    /// Refused changes, newest first, with their record.
    pub rejected: Vec<(OutboxEntry, Option<Brief>)>,
    /// Records the server says share their NIK with others.
    pub notices: Vec<(Brief, Vec<DuplicateHolder>)>,
    /// "Sync now" was just pressed.
    pub requested: bool,
    /// The last USB bundle written.
    pub last_bundle: Option<LastExport>,
    /// What the last bundle action did: worked or refused, and why.
    pub bundle_notice: Option<(bool, String)>,
}

/// Sync status.
pub fn sync(ctx: &Ctx, page: &SyncPage<'_>) -> Markup {
    let lang = ctx.lang;
    let other = match lang {
        Lang::Id => Lang::En,
        Lang::En => Lang::Id,
    };
    let (state_class, state_text) = match (&page.view.last, page.enrollment) {
        (_, None) => (
            "offline",
            ctx.t(
                "Belum terdaftar ke server.",
                "Not enrolled with a server yet.",
            )
            .to_owned(),
        ),
        (None, _) => (
            "unknown",
            ctx.t(
                "Belum dicoba sejak aplikasi dibuka.",
                "Not tried since the UI started.",
            )
            .to_owned(),
        ),
        (Some((at, LastAttempt::Succeeded(_))), _) => (
            "online",
            format!(
                "{} {}",
                ctx.t(
                    "Terhubung; sinkron terakhir berhasil",
                    "Online; the last sync worked at"
                ),
                when(*at)
            ),
        ),
        (Some((at, attempt)), _) => (
            "offline",
            format!(
                "{} ({}): {}",
                ctx.t("Tidak terhubung", "Offline"),
                when(*at),
                attempt.failure(lang).unwrap_or_default()
            ),
        ),
    };
    let body = html! {
        @if page.requested {
            p.flash #flash role="status" { (ctx.t("Sinkron diminta; muat ulang halaman ini untuk melihat hasilnya.", "Sync requested; reload this page to see how it went.")) }
        }
        section #sync-status {
            p #connection class=(state_class) { (state_text) }
            @if page.view.running {
                p #running { (ctx.t("Sedang sinkron…", "Syncing now…")) }
            }
            @if let Some((_, LastAttempt::Succeeded(summary))) = &page.view.last {
                @if let Some(warning) = summary.clock_warning_text(lang) {
                    p #clock-warning .notice role="alert" { (warning) }
                }
            }
            dl {
                div { dt { (ctx.t("Server", "Server")) } dd #server {
                    @match page.enrollment {
                        Some(e) => { (e.server_url) " — " (e.officer.name) " [" (e.officer.regions.join(", ")) "]" }
                        None => { a href="/enroll" { (ctx.t("Daftarkan laptop ini ke server", "Enrol this laptop with a server")) } }
                    }
                } }
                div { dt { (ctx.t("Perubahan belum terkirim", "Changes not yet sent")) } dd #pending-count { (page.status.pending_changes) } }
                div { dt { (ctx.t("Sinkron terakhir", "Last sync")) } dd #last-sync { (page.status.last_sync_at.as_deref().unwrap_or(ctx.t("belum pernah", "never"))) } }
                @if let Some(next) = page.view.next_at {
                    div { dt { (ctx.t("Sinkron berikutnya", "Next sync")) } dd #next-sync { (when(next)) } }
                }
                div { dt { (ctx.t("Pendaftaran", "Registrations")) } dd #registration-count { (page.status.active) " " (ctx.t("aktif", "active")) ", " (page.status.withdrawn) " " (ctx.t("ditarik", "withdrawn")) } }
            }
            @if page.enrollment.is_some() {
                form #sync-form method="post" action="/sync/now" {
                    (ctx.csrf())
                    button #sync-now type="submit" { (ctx.t("Sinkron sekarang", "Sync now")) }
                }
            }
        }
        section #bundle aria-labelledby="bundle-title" {
            h2 #bundle-title { (ctx.t("Tanpa sinyal: kirim lewat flashdisk", "No signal: send by USB stick")) }
            @if let Some((worked, text)) = &page.bundle_notice {
                @if *worked {
                    p.flash #bundle-notice role="status" { (text) }
                } @else {
                    p.notice #bundle-notice role="alert" { (text) }
                }
            }
            p { (ctx.t("Unduh paket perubahan, simpan ke flashdisk dan bawa ke kantor. Perubahan tetap menunggu sampai tanda terima dari kantor diterapkan di sini.", "Download the bundle of changes, save it on a USB stick and take it to the office. The changes stay pending until the office's receipt is applied here.")) }
            @if let Some(bundle) = &page.last_bundle {
                p #last-bundle { (ctx.t("Paket terakhir: ", "Last bundle: ")) (bundle.written_at) ", " (bundle.operations) " " (ctx.t("perubahan", "changes")) ", " (bundle.file) }
            }
            @if page.enrollment.is_some() {
                form #bundle-export-form method="post" action="/bundle/export" {
                    (ctx.csrf())
                    button #bundle-export type="submit" { (ctx.t("Unduh paket perubahan", "Download the bundle of changes")) " (" (page.status.pending_changes) ")" }
                }
                form #bundle-receipt-form method="post" action="/bundle/receipt" enctype="multipart/form-data" {
                    (ctx.csrf())
                    div.field {
                        label for="receipt-file" { (ctx.t("Tanda terima dari kantor", "Receipt from the office")) }
                        input #receipt-file type="file" name="receipt" accept=".lindung" required;
                    }
                    button #bundle-receipt type="submit" { (ctx.t("Terapkan tanda terima", "Apply the receipt")) }
                }
            }
        }
        section #rejected {
            h2 { (ctx.t("Ditolak server", "Refused by the server")) " (" (page.rejected.len()) ")" }
            @if page.rejected.is_empty() {
                p { (ctx.t("Tidak ada.", "None.")) }
            } @else {
                p { (ctx.t("Perubahan yang ditolak tidak dikirim ulang dan tidak menghalangi yang lain. Perbaiki pendaftarannya; perbaikan dikirim sebagai perubahan baru.", "Refused changes are never sent again and do not block others. Fix the registration; the fix is sent as a new change.")) }
                table {
                    thead { tr {
                        th scope="col" { "#" }
                        th scope="col" { (ctx.t("Pendaftaran", "Registration")) }
                        th scope="col" { (ctx.t("Isian", "Field")) }
                        th scope="col" { (ctx.t("Alasan", "Reason")) }
                        th scope="col" { (ctx.t("Perbaiki", "Fix")) }
                    } }
                    tbody {
                        @for (entry, brief) in &page.rejected {
                            tr data-testid="rejected-row" {
                                td { (entry.seq) }
                                td { @if let Some(b) = brief { (b.nik_masked) " " (b.full_name) } @else { (entry.record_id) } }
                                td { (entry.error_field.as_deref().unwrap_or("-")) }
                                td {
                                    (entry.reason(lang))
                                    @let second = entry.reason(other);
                                    @if !second.is_empty() && second != entry.reason(lang) {
                                        br; small lang=(other.as_str()) { (second) }
                                    }
                                }
                                td {
                                    @if brief.as_ref().is_some_and(|b| b.sync_state != SyncState::Rejected) {
                                        span.fixed { (ctx.t("diperbaiki sesudahnya", "fixed since")) }
                                    } @else {
                                        a href={ "/registrations/" (entry.record_id) "/edit" } { (ctx.t("Ubah", "Edit")) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        section #duplicate-notices {
            h2 { (ctx.t("NIK terdaftar ganda (dari server)", "NIK registered twice (from the server)")) " (" (page.notices.len()) ")" }
            @if page.notices.is_empty() {
                p { (ctx.t("Tidak ada.", "None.")) }
            } @else {
                ul {
                    @for (brief, others) in &page.notices {
                        li data-testid="duplicate-notice" {
                            a href={ "/registrations/" (brief.id) } { (brief.nik_masked) " " (brief.full_name) }
                            " — " (ctx.t("juga didaftarkan oleh", "also registered by")) " "
                            (others.iter().map(|o| o.officer_name.clone().unwrap_or_else(|| "-".into())).collect::<Vec<_>>().join(", "))
                        }
                    }
                }
            }
        }
    };
    layout(ctx, ctx.t("Sinkron", "Sync"), body)
}

fn when(at: time::OffsetDateTime) -> String {
    super::routes::when_text(crate::output::unix_ms(at))
}

/// What the enrolment page shows.
#[derive(Debug)]
pub struct EnrollView<'a> {
    /// The server, once enrolled.
    pub enrollment: Option<&'a Enrollment>,
    /// The address typed.
    pub server: &'a str,
    /// The code typed.
    pub code: &'a str,
    /// The server certificate's fingerprint typed (to pin it), if any.
    pub fingerprint: &'a str,
    /// Why enrolment failed.
    pub problem: Option<&'a str>,
    /// Just after the first-run setup.
    pub welcome: bool,
}

/// Enrolment with a server.
pub fn enroll(ctx: &Ctx, view: &EnrollView<'_>) -> Markup {
    let (enrollment, server, code, problem) =
        (view.enrollment, view.server, view.code, view.problem);
    let body = html! {
        @if view.welcome {
            p.flash #flash role="status" { (ctx.t("Laptop siap. Daftarkan laptop ini ke server bila sudah punya kode dari staf, atau langsung mulai mendaftarkan pekerja: semuanya bekerja tanpa internet.", "This laptop is ready. Enrol it with a server once staff gave you a code, or start registering workers right away: everything works offline.")) " "
            a href="/register" { (ctx.t("Daftarkan pekerja", "Register a worker")) }
            }
        }
        @if let Some(e) = enrollment {
            p #enrolled {
                (ctx.t("Terdaftar di", "Enrolled with")) " " strong { (e.server_url) } " — "
                (e.officer.name) " [" (e.officer.regions.join(", ")) "]"
            }
            @if let Some(pinned) = &e.trust.pinned_certificate {
                p #pinned-certificate {
                    (ctx.t("Sertifikat server disematkan (SHA-256):", "Server certificate pinned (SHA-256):")) " " code { (pinned) }
                }
            }
            p { (ctx.t("Mendaftar lagi dengan kode baru memindahkan laptop ini ke server itu.", "Enrolling again with a new code moves this laptop to that server.")) }
        } @else {
            p { (ctx.t("Laptop ini belum terdaftar ke server. Minta kode pendaftaran kepada staf.", "This laptop is not enrolled with a server yet. Ask staff for an enrolment code.")) }
        }
        @if let Some(problem) = problem {
            div.summary #enroll-error role="alert" { p { (problem) } }
        }
        form #enroll-form method="post" action="/enroll" {
            (ctx.csrf())
            div.field {
                label for="server" { (ctx.t("Alamat server", "Server address")) }
                input #server type="url" name="server" value=(server) placeholder="http://10.0.0.5:8080" required autocomplete="off";
            }
            div.field {
                label for="code" { (ctx.t("Kode pendaftaran", "Enrolment code")) }
                input #code type="text" name="code" value=(code) placeholder="XXXX-XXXX-XXXX" required autocomplete="off";
            }
            div.field {
                label for="fingerprint" { (ctx.t("Sidik jari sertifikat server (opsional, dari staf; hanya https)", "Server certificate fingerprint (optional, from staff; https only)")) }
                input #fingerprint type="text" name="fingerprint" value=(view.fingerprint) placeholder="AB:CD:…" autocomplete="off";
            }
            button #enroll type="submit" { (ctx.t("Daftarkan laptop ini", "Enrol this laptop")) }
        }
    };
    layout(ctx, ctx.t("Server", "Server"), body)
}

/// The import form.
pub fn import_form(ctx: &Ctx, problem: Option<&str>) -> Markup {
    let lang = ctx.lang;
    let payers = vocabulary(
        PayerKind::ALL,
        "",
        PayerKind::code,
        |c| c.label(lang),
        PayerKind::parse_loose,
    );
    let consents = vocabulary(
        ConsentMethod::ALL,
        "",
        ConsentMethod::code,
        |c| c.label(lang),
        ConsentMethod::parse_loose,
    );
    let categories = vocabulary(
        Category::ALL,
        "",
        Category::code,
        |c| c.label(lang),
        Category::parse_loose,
    );
    let body = html! {
        @if let Some(problem) = problem {
            div.summary #import-error role="alert" { p { (problem) } }
        }
        p { (ctx.t("Spreadsheet dari kantor desa (.csv, .xlsx, .xls, .ods). Setiap baris diperiksa seperti pendaftaran biasa; baris yang ditolak ditampilkan dengan alasannya.", "A village office's spreadsheet (.csv, .xlsx, .xls, .ods). Every row is checked like a registration; refused rows are listed with their reasons.")) }
        form #import-form method="post" action="/import" enctype="multipart/form-data" {
            (ctx.csrf())
            div.field {
                label for="file" { (ctx.t("Berkas", "File")) }
                input #file type="file" name="file" accept=".csv,.tsv,.xlsx,.xlsm,.xlsb,.xls,.ods" required;
            }
            fieldset {
                legend { (ctx.t("Nilai untuk baris yang kosong (boleh dilewati)", "Values for rows that leave them empty (optional)")) }
                (select(ctx, &[], "payer", ctx.t("Penanggung iuran", "Who pays"), &payers, false))
                div.field {
                    label for="payer_name" { (ctx.t("Nama penanggung", "Payer's name")) }
                    input #payer_name type="text" name="payer_name" autocomplete="off";
                }
                (select(ctx, &[], "consent_method", ctx.t("Cara persetujuan", "Consent method"), &consents, false))
                div.field {
                    label for="consent_reference" { (ctx.t("Bukti persetujuan", "Consent reference")) }
                    input #consent_reference type="text" name="consent_reference" autocomplete="off";
                }
                (village_input_optional(ctx))
                (select(ctx, &[], "category", ctx.t("Kategori pekerja", "Worker category"), &categories, false))
            }
            button #import type="submit" { (ctx.t("Impor", "Import")) }
        }
    };
    layout(
        ctx,
        ctx.t("Impor spreadsheet", "Import a spreadsheet"),
        body,
    )
}

fn village_input_optional(ctx: &Ctx) -> Markup {
    html! {
        div.field {
            label for="village_code" { (ctx.t("Kode desa", "Village code")) }
            input #village_code type="text" name="village_code" list="village_code-options" data-village-search autocomplete="off";
            datalist #village_code-options {}
            p.place #village_code-name aria-live="polite" {}
        }
    }
}

/// The result of an import: counts and every refused row's reason.
pub fn import_report(ctx: &Ctx, filename: &str, report: &ImportReport) -> Markup {
    let lang = ctx.lang;
    let body = html! {
        p #import-summary role="status" {
            (filename) ": " (report.read) " " (ctx.t("baris dibaca", "rows read")) "; "
            span #created { (report.created) } " " (ctx.t("baru disimpan", "new saved")) ", "
            span #updated { (report.updated) } " " (ctx.t("diperbarui", "updated")) ", "
            span #unchanged { (report.unchanged) } " " (ctx.t("sudah ada tanpa perubahan", "already here unchanged")) ", "
            span #refused { (report.refused) } " " (ctx.t("ditolak", "refused")) "."
        }
        @if !report.unknown_columns.is_empty() {
            p #unknown-columns { (ctx.t("Kolom tidak dikenal (diabaikan): ", "Unknown columns (ignored): ")) (report.unknown_columns.join(", ")) }
        }
        @if !report.problems.is_empty() {
            table #import-report {
                caption { (ctx.t("Alasan setiap baris yang ditolak", "Why each refused row was refused")) }
                thead { tr {
                    th scope="col" { (ctx.t("Baris", "Row")) }
                    th scope="col" { (ctx.t("Kolom", "Column")) }
                    th scope="col" { (ctx.t("Alasan", "Reason")) }
                } }
                tbody {
                    @for problem in &report.problems {
                        tr data-testid="import-problem" data-code=(problem.code) {
                            td.num { (problem.line) }
                            td { (problem.field.as_deref().unwrap_or("-")) }
                            td { (match lang { Lang::Id => &problem.message_id, Lang::En => &problem.message_en }) }
                        }
                    }
                }
            }
        }
        p.actions {
            a href="/registrations" { (ctx.t("Lihat pendaftaran", "See the registrations")) }
            " · "
            a href="/import" { (ctx.t("Impor berkas lain", "Import another file")) }
        }
    };
    layout(ctx, ctx.t("Hasil impor", "Import result"), body)
}

/// First run: set up this laptop.
pub fn setup(ctx: &Ctx, officer: &str, problems: &[Message]) -> Markup {
    let body = html! {
        p { (ctx.t("Laptop ini belum disiapkan. Data pendaftaran disimpan terenkripsi dengan kata sandi ini; tanpa kata sandi data tidak dapat dibuka, jadi ingat baik-baik.", "This laptop is not set up yet. Registrations are stored encrypted with this passphrase; without it the data cannot be opened, so remember it well.")) }
        (error_summary(ctx, problems))
        form #setup-form method="post" action="/setup" {
            (ctx.csrf())
            (input(ctx, problems, Input { name: "officer", label: ctx.t("Nama petugas", "Officer's name"), value: officer, kind: "text", hint: None, required: true, autocomplete: "name", after: None }))
            (input(ctx, problems, Input { name: "passphrase", label: ctx.t("Kata sandi baru", "New passphrase"), value: "", kind: "password", hint: Some(ctx.t("Paling sedikit 8 karakter.", "At least 8 characters.")), required: true, autocomplete: "new-password", after: None }))
            (input(ctx, problems, Input { name: "passphrase_again", label: ctx.t("Ulangi kata sandi", "Repeat the passphrase"), value: "", kind: "password", hint: None, required: true, autocomplete: "new-password", after: None }))
            button #setup type="submit" { (ctx.t("Siapkan laptop", "Set up this laptop")) }
        }
    };
    layout(ctx, ctx.t("Siapkan laptop ini", "Set up this laptop"), body)
}

/// The unlock screen.
pub fn unlock(ctx: &Ctx, auto_locked: bool, problem: Option<&str>) -> Markup {
    let body = html! {
        @if auto_locked {
            p.flash #locked role="status" { (ctx.t("Layar dikunci karena tidak ada kegiatan.", "The screen was locked after a period without activity.")) }
        }
        form #unlock-form method="post" action="/unlock" {
            (ctx.csrf())
            div.field.invalid[problem.is_some()] {
                label for="passphrase" { (ctx.t("Kata sandi", "Passphrase")) }
                input #passphrase type="password" name="passphrase" required autofocus autocomplete="current-password"
                    aria-invalid=[problem.map(|_| "true")] aria-describedby=[problem.map(|_| "passphrase-error")];
                @if let Some(problem) = problem {
                    div.error #passphrase-error data-testid="error-passphrase" role="alert" { p { (problem) } }
                }
            }
            button #unlock type="submit" { (ctx.t("Buka", "Unlock")) }
        }
    };
    layout(ctx, ctx.t("Buka Lindung", "Unlock Lindung"), body)
}

/// A POST without this session's token.
pub fn refused(ctx: &Ctx) -> Markup {
    layout(
        ctx,
        ctx.t("Permintaan ditolak", "Request refused"),
        html! {
            p #refused { (ctx.t("Formulir ini tidak membawa token sesi yang benar (mungkin halaman sudah lama terbuka atau layar sudah terkunci). Muat ulang halaman lalu coba lagi; tidak ada yang disimpan.", "This form did not carry the right session token (the page may have been open a long time, or the screen was locked). Reload the page and try again; nothing was saved.")) }
            p { a href="/" { (ctx.t("Kembali", "Back")) } }
        },
    )
}

/// Not found.
pub fn not_found(ctx: &Ctx) -> Markup {
    layout(
        ctx,
        ctx.t("Tidak ditemukan", "Not found"),
        html! { p { a href="/registrations" { (ctx.t("Ke daftar pendaftaran", "To the registrations")) } } },
    )
}

/// Something failed on this laptop.
pub fn failure(ctx: &Ctx, message: &str) -> Markup {
    layout(
        ctx,
        ctx.t("Terjadi galat", "Something went wrong"),
        html! { p #failure role="alert" { (message) } },
    )
}

#[cfg(test)]
mod tests {
    use lindung_shared::lang::Severity;

    use super::*;

    fn problem(field: &str, code: &str) -> Message {
        Message {
            code: code.into(),
            severity: Severity::Error,
            field: Some(field.into()),
            message_id: format!("{field} salah"),
            message_en: format!("{field} wrong"),
        }
    }

    #[test]
    fn problems_of_programmes_and_consent_show_at_their_inputs() {
        let problems = [
            problem("programmes", "unknown_word"),
            problem("consent", "field_required"),
            problem("nik", "nik_length"),
        ];
        assert_eq!(field_errors(&problems, "jht").len(), 1);
        assert_eq!(field_errors(&problems, "consent_method").len(), 1);
        assert_eq!(field_errors(&problems, "nik")[0].code, "nik_length");
        assert!(field_errors(&problems, "full_name").is_empty());
        assert_eq!(form_field("consent"), "consent_method");
    }

    #[test]
    fn language_links_of_a_post_only_address_reload_its_page() {
        assert_eq!(
            lang_target("/registrations/abc/withdraw"),
            "/registrations/abc"
        );
        assert_eq!(lang_target("/progress/positions"), "/progress");
        assert_eq!(lang_target("/register"), "/register");
    }

    #[test]
    fn a_confirmation_box_appears_for_each_warning_to_confirm_and_stays_ticked() {
        let mut view = FormView::blank();
        assert!(confirmations(&view).is_empty());
        view.problems = vec![
            problem("sex", "needs_confirmation"),
            problem("nik", "nik_length"),
        ];
        assert_eq!(confirmations(&view), vec![("nik_sex_mismatch", false)]);
        view.probable_duplicate = true;
        view.input.confirmed_warnings = vec!["nik_birth_date_mismatch".into()];
        assert_eq!(
            confirmations(&view),
            vec![
                ("nik_birth_date_mismatch", true),
                ("nik_sex_mismatch", false),
                ("possible_duplicate", false)
            ]
        );
    }
}
