//! The duplicate and conflict queues, merges with undo, and a record's own
//! page. Decisions go through [`crate::reconcile`] (the same functions as
//! `lindung-server duplicates|conflicts` and the staff API), which audits them.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use lindung_shared::ids::RecordId;
use lindung_shared::lang::Lang;
use lindung_shared::registration::{Category, Change, ConsentMethod, Field, PayerKind, Status};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::Value;

use super::auth::Posted;
use super::{
    Ctx, PageError, PageResult, Section, csrf_field, layout, maud_html, notice, region_text,
    see_other, t,
};
use crate::api::AppState;
use crate::reconcile::{How, ReconcileError};

/// The fields staff may take from another record when merging.
const MERGE_FIELDS: &[Field] = &[
    Field::FullName,
    Field::BirthDate,
    Field::VillageCode,
    Field::Rt,
    Field::Rw,
    Field::Phone,
    Field::Category,
];

/// The query of the queue pages.
#[derive(Debug, Deserialize)]
pub struct QueueQuery {
    kind: Option<String>,
    region: Option<String>,
    all: Option<String>,
    done: Option<String>,
}

fn reconcile_error(ctx: &Ctx, error: ReconcileError, back: &str) -> PageError {
    let status = match &error {
        ReconcileError::NotFound(_) => StatusCode::NOT_FOUND,
        ReconcileError::Stale(_) => StatusCode::CONFLICT,
        ReconcileError::Invalid(_) | ReconcileError::Refused { .. } => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
        ReconcileError::Storage(e) => return ctx.internal(e),
    };
    // The messages carry both languages ("Indonesian / English").
    PageError::new(status, ctx.lang, error.to_string()).back(back)
}

fn text(value: &Value) -> String {
    match value {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn scoped_region(ctx: &Ctx, region: Option<&str>) -> Result<String, PageError> {
    let code = crate::reconcile::region_prefix(region).map_err(|_| {
        ctx.refuse(
            StatusCode::BAD_REQUEST,
            "Kode wilayah tidak dikenal.",
            "Unknown region code.",
        )
    })?;
    crate::access::scoped(&ctx.account, Some(&code)).map_err(|d| ctx.denied(&d))
}

fn region_filter(ctx: &Ctx, action: &str, region: &str, extra: Markup) -> Markup {
    let lang = ctx.lang;
    html! {
        form.filters method="get" action=(action) id="queue-filters" {
            label for="region" { (t(lang, "Kode wilayah", "Region code")) }
            input id="region" name="region" type="text" inputmode="numeric" value=(region) placeholder="13.11";
            (extra)
            button type="submit" id="queue-apply" { (t(lang, "Tampilkan", "Show")) }
        }
    }
}

/// `GET /duplicates?kind=certain|probable&region=`.
pub async fn duplicates(
    State(state): State<Arc<AppState>>,
    ctx: Ctx,
    Query(query): Query<QueueQuery>,
) -> PageResult {
    let lang = ctx.lang;
    let region = scoped_region(&ctx, query.region.as_deref())?;
    let probable = query.kind.as_deref() == Some("probable");
    let listed = crate::reconcile::duplicate_groups_json(
        state.storage.as_ref(),
        Some(&region),
        probable,
        50,
    )
    .await
    .map_err(|e| reconcile_error(&ctx, e, "/duplicates"))?;
    let groups = listed["groups"].as_array().cloned().unwrap_or_default();
    let extra = html! {
        label for="kind" { (t(lang, "Jenis", "Kind")) }
        select id="kind" name="kind" {
            option value="certain" selected[!probable] { (t(lang, "pasti (NIK sama)", "certain (same NIK)")) }
            option value="probable" selected[probable] { (t(lang, "mungkin (nama mirip, tgl lahir sama)", "probable (similar name, same birth date)")) }
        }
    };
    let content = html! {
        p { a href="/merges" id="merges-link" { (t(lang, "Daftar penggabungan (dan pembatalan)", "Merges (and undo)")) } }
        (region_filter(&ctx, "/duplicates", &region, extra))
        p id="duplicates-total" data-total=(text(&listed["total"])) {
            (text(&listed["total"])) " " (t(lang, "kelompok", "groups"))
        }
        @for (index, group) in groups.iter().enumerate() {
            (group_view(&ctx, index, group))
        }
    };
    Ok(maud_html(layout(
        &ctx,
        Section::Duplicates,
        t(lang, "Data ganda", "Duplicates"),
        content,
    )))
}

fn group_view(ctx: &Ctx, index: usize, group: &Value) -> Markup {
    let lang = ctx.lang;
    let members = group["records"].as_array().cloned().unwrap_or_default();
    let rows: [(&str, &str, &str); 12] = [
        ("full_name", "Nama", "Name"),
        ("nik_masked", "NIK", "NIK"),
        ("birth_date", "Tanggal lahir", "Birth date"),
        ("village_code", "Desa", "Village"),
        ("rt", "RT", "RT"),
        ("rw", "RW", "RW"),
        ("category", "Kategori", "Category"),
        ("payer", "Penanggung iuran", "Payer"),
        ("consent", "Cara persetujuan", "Consent method"),
        ("active", "Status", "Status"),
        ("officer", "Petugas", "Officer"),
        ("registered_at", "Didaftarkan", "Registered"),
    ];
    let cell = |key: &str, member: &Value| match key {
        "village_code" => region_text(&text(&member[key])),
        "category" => vocabulary_label(lang, &member[key], Category::parse_loose, Category::label),
        "payer" => vocabulary_label(lang, &member[key], PayerKind::parse_loose, PayerKind::label),
        "consent" => vocabulary_label(
            lang,
            &member[key],
            ConsentMethod::parse_loose,
            ConsentMethod::label,
        ),
        "active" if member[key] == Value::Bool(true) => t(lang, "aktif", "active").to_owned(),
        "active" => t(lang, "ditarik", "withdrawn").to_owned(),
        _ => text(&member[key]),
    };
    let may_merge = ctx.account.may_change();
    html! {
        section.group id=(format!("group-{index}")) data-testid="duplicate-group" {
            h2 { (t(lang, "Kelompok", "Group")) " " (index + 1) }
            form method="post" action="/duplicates/merge" {
                (csrf_field(ctx))
                div.table-wrap {
                    table.side-by-side {
                        thead {
                            tr {
                                th scope="col" { }
                                @for member in &members {
                                    @let id = text(&member["record_id"]);
                                    th scope="col" {
                                        a href=(format!("/records/{id}")) data-record=(id) { (id.get(..8).unwrap_or(&id)) "…" }
                                        @if member["active"] != Value::Bool(true) { " (" (t(lang, "ditarik", "withdrawn")) ")" }
                                        input type="hidden" name="member" value=(id);
                                    }
                                }
                            }
                        }
                        tbody {
                            @for (key, id_label, en_label) in rows {
                                tr {
                                    th scope="row" { (t(lang, id_label, en_label)) }
                                    @for member in &members {
                                        td data-field=(key) { (cell(key, member)) }
                                    }
                                }
                            }
                            @if may_merge {
                                tr.choice {
                                    th scope="row" { (t(lang, "Pertahankan data ini", "Keep this record")) }
                                    @for (i, member) in members.iter().enumerate() {
                                        @let id = text(&member["record_id"]);
                                        td {
                                            input type="radio" name="keep" value=(id) id=(format!("keep-{index}-{i}")) checked[i == 0];
                                            label for=(format!("keep-{index}-{i}")) { (t(lang, "pertahankan", "keep")) }
                                        }
                                    }
                                }
                                @for field in MERGE_FIELDS {
                                    tr.choice {
                                        th scope="row" { (t(lang, "Ambil nilai: ", "Take value: ")) (field.label(lang)) }
                                        @for (i, member) in members.iter().enumerate() {
                                            @let id = text(&member["record_id"]);
                                            @let input_id = format!("take-{index}-{}-{i}", field.as_str());
                                            td {
                                                input type="radio" name=(format!("take.{}", field.as_str())) value=(id) id=(input_id);
                                                label for=(input_id) { (t(lang, "dari data ini", "from this record")) }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                @if may_merge {
                    p.help { (t(lang, "Tanpa pilihan, nilai data yang dipertahankan tetap berlaku.", "Without a choice, the kept record's value stays.")) }
                    button type="submit" id=(format!("merge-{index}")) data-testid="merge-button" data-confirm=(t(lang, "Gabungkan data ini?", "Merge these records?")) {
                        (t(lang, "Gabungkan", "Merge"))
                    }
                }
            }
        }
    }
}

/// `POST /duplicates/merge`: `keep`, `member`…, `take.FIELD`=record.
pub async fn merge(State(state): State<Arc<AppState>>, posted: Posted) -> PageResult {
    let Posted { ctx, fields } = posted;
    crate::access::may_change(&ctx.account).map_err(|d| ctx.denied(&d))?;
    let parse = |text: &str| {
        uuid::Uuid::parse_str(text).map(RecordId).map_err(|_| {
            ctx.refuse(
                StatusCode::BAD_REQUEST,
                "keep/member: bukan id data yang sah.",
                "keep/member: not a valid record id.",
            )
        })
    };
    let keep = parse(fields.get("keep").ok_or_else(|| {
        ctx.refuse(
            StatusCode::BAD_REQUEST,
            "keep: pilih data yang dipertahankan.",
            "keep: choose the record to keep.",
        )
    })?)?;
    let mut others = Vec::new();
    for member in fields.all("member") {
        let id = parse(member)?;
        if id != keep && !others.contains(&id) {
            others.push(id);
        }
    }
    if others.is_empty() {
        return Err(ctx.refuse(
            StatusCode::BAD_REQUEST,
            "member: tidak ada data lain untuk digabungkan.",
            "member: no other record to merge.",
        ));
    }
    let mut take = Vec::new();
    for (key, value) in &fields.0 {
        if let Some(field) = key.strip_prefix("take.")
            && !value.trim().is_empty()
        {
            take.push((field.to_owned(), parse(value)?));
        }
    }
    let storage = state.storage.as_ref();
    let mut touched = others.clone();
    touched.push(keep);
    crate::access::may_touch_records(storage, &ctx.account, &touched)
        .await
        .map_err(|e| ctx.internal(&e))?
        .map_err(|d| ctx.denied(&d))?;
    let done = crate::reconcile::merge_duplicates(storage, &ctx.account.name, keep, &others, &take)
        .await
        .map_err(|e| reconcile_error(&ctx, e, "/duplicates"))?;
    Ok(see_other(&format!("/merges?done=merged-{}", done.merge_id)))
}

/// `GET /merges`.
pub async fn merges(
    State(state): State<Arc<AppState>>,
    ctx: Ctx,
    Query(query): Query<QueueQuery>,
) -> PageResult {
    let lang = ctx.lang;
    let storage = state.storage.as_ref();
    let listed = crate::reconcile::merges_json(storage, 100)
        .await
        .map_err(|e| reconcile_error(&ctx, e, "/duplicates"))?;
    let listed = crate::staff_api::visible_merges(storage, &ctx.account, listed)
        .await
        .map_err(|e| ctx.internal(&e))?;
    let message = query.done.as_deref().and_then(|done| {
        let (what, id) = done.split_once('-')?;
        Some(match (what, lang) {
            ("merged", Lang::Id) => format!("Penggabungan #{id} disimpan."),
            ("merged", Lang::En) => format!("Merge #{id} saved."),
            ("undone", Lang::Id) => format!("Penggabungan #{id} dibatalkan."),
            (_, _) => format!("Merge #{id} undone."),
        })
    });
    let content = html! {
        @if let Some(message) = message { (notice("ok", &message)) }
        div.table-wrap {
            table id="merges-table" {
                thead { tr {
                    th scope="col" { "#" }
                    th scope="col" { (t(lang, "Waktu", "When")) }
                    th scope="col" { (t(lang, "Oleh", "By")) }
                    th scope="col" { (t(lang, "Data dipertahankan", "Kept record")) }
                    th scope="col" { (t(lang, "Data", "Records")) }
                    th scope="col" { (t(lang, "Status", "Status")) }
                } }
                tbody {
                    @for merge in listed.as_array().into_iter().flatten() {
                        @let id = text(&merge["id"]);
                        @let kept = text(&merge["kept"]);
                        tr id=(format!("merge-{id}")) {
                            td { (id) }
                            td { (text(&merge["created_at"])) }
                            td { (text(&merge["actor"])) }
                            td { a href=(format!("/records/{kept}")) { (kept) } }
                            td { (merge["records"].as_array().map_or(0, Vec::len)) }
                            td {
                                @if merge["undone_at"].is_null() {
                                    @if ctx.account.may_change() {
                                        form.inline method="post" action=(format!("/merges/{id}/undo")) {
                                            (csrf_field(&ctx))
                                            button type="submit" id=(format!("undo-{id}")) data-confirm=(t(lang, "Batalkan penggabungan ini?", "Undo this merge?")) {
                                                (t(lang, "Batalkan", "Undo"))
                                            }
                                        }
                                    } @else { (t(lang, "berlaku", "in force")) }
                                } @else {
                                    (t(lang, "dibatalkan ", "undone ")) (text(&merge["undone_at"])) " · " (text(&merge["undone_by"]))
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(maud_html(layout(
        &ctx,
        Section::Duplicates,
        t(lang, "Penggabungan", "Merges"),
        content,
    )))
}

/// `POST /merges/{id}/undo`.
pub async fn undo(
    State(state): State<Arc<AppState>>,
    Path(id): Path<i64>,
    posted: Posted,
) -> PageResult {
    let ctx = posted.ctx;
    crate::access::may_change(&ctx.account).map_err(|d| ctx.denied(&d))?;
    let storage = state.storage.as_ref();
    if let Some(merge) = storage.merge(id).await.map_err(|e| ctx.internal(&e))? {
        crate::access::may_touch_records(storage, &ctx.account, &merge.members)
            .await
            .map_err(|e| ctx.internal(&e))?
            .map_err(|d| ctx.denied(&d))?;
    }
    crate::reconcile::undo_merge(storage, &ctx.account.name, id)
        .await
        .map_err(|e| reconcile_error(&ctx, e, "/merges"))?;
    Ok(see_other(&format!("/merges?done=undone-{id}")))
}

/// `GET /conflicts?region=&all=1`.
pub async fn conflicts(
    State(state): State<Arc<AppState>>,
    ctx: Ctx,
    Query(query): Query<QueueQuery>,
) -> PageResult {
    let region = scoped_region(&ctx, query.region.as_deref())?;
    let all = query.all.as_deref() == Some("1");
    let done = query.done.as_deref().map(|id| match ctx.lang {
        Lang::Id => format!("Konflik #{id} diselesaikan."),
        Lang::En => format!("Conflict #{id} resolved."),
    });
    conflicts_page(&state, &ctx, &region, all, done, None).await
}

/// A new value refused when resolving a conflict: shown next to its field.
struct RefusedValue {
    conflict: i64,
    /// What was typed (kept in the field, so it can be corrected).
    value: String,
    /// Why, in the reader's language, each problem naming its field.
    reasons: Vec<String>,
}

async fn conflicts_page(
    state: &AppState,
    ctx: &Ctx,
    region: &str,
    all: bool,
    done: Option<String>,
    refused: Option<RefusedValue>,
) -> PageResult {
    let lang = ctx.lang;
    let listed = crate::reconcile::conflicts_listed(
        state.storage.as_ref(),
        Some(region),
        all,
        100,
        &|change| value_text(lang, change, false),
    )
    .await
    .map_err(|e| reconcile_error(ctx, e, "/conflicts"))?;
    let extra = html! {
        label for="all" { (t(lang, "Tampilkan", "Show")) }
        select id="all" name="all" {
            option value="0" selected[!all] { (t(lang, "yang terbuka", "open ones")) }
            option value="1" selected[all] { (t(lang, "semua", "all")) }
        }
    };
    let entries = listed.as_array().cloned().unwrap_or_default();
    let content = html! {
        @if let Some(message) = done { (notice("ok", &message)) }
        @if refused.is_some() {
            (notice("error", t(lang, "Nilai baru ditolak; lihat alasannya di konflik itu.", "The new value was refused; see why at that conflict.")))
        }
        (region_filter(ctx, "/conflicts", region, extra))
        @if entries.is_empty() {
            p id="conflicts-empty" { (t(lang, "Tidak ada konflik.", "No conflicts.")) }
        }
        @for conflict in &entries {
            (conflict_view(ctx, conflict, refused.as_ref()))
        }
    };
    let page = maud_html(layout(
        ctx,
        Section::Conflicts,
        t(lang, "Konflik", "Conflicts"),
        content,
    ));
    Ok(match refused {
        Some(_) => (StatusCode::UNPROCESSABLE_ENTITY, page).into_response(),
        None => page,
    })
}

fn conflict_view(ctx: &Ctx, conflict: &Value, refused: Option<&RefusedValue>) -> Markup {
    let lang = ctx.lang;
    let id = text(&conflict["id"]);
    let refused = refused.filter(|r| conflict["id"].as_i64() == Some(r.conflict));
    let record = text(&conflict["record_id"]);
    let field = conflict["field"]
        .as_str()
        .and_then(Field::from_name)
        .map_or_else(|| text(&conflict["field"]), |f| f.label(lang).to_owned());
    html! {
        section.conflict id=(format!("conflict-{id}")) data-testid="conflict" {
            h2 { "#" (id) " · " (field) }
            p {
                a href=(format!("/records/{record}")) { (t(lang, "Data ", "Record ")) (record) }
                " · " (region_text(&text(&conflict["village_code"])))
                " · " (t(lang, "ditemukan ", "found ")) (text(&conflict["detected_at"]))
            }
            table.side-by-side {
                thead { tr {
                    th scope="col" { }
                    th scope="col" { (t(lang, "Nilai", "Value")) }
                    th scope="col" { (t(lang, "Petugas (perangkat)", "Officer (device)")) }
                    th scope="col" { (t(lang, "Waktu", "Time")) }
                } }
                tbody {
                    tr {
                        th scope="row" { (t(lang, "Berlaku", "Current")) }
                        td data-field="kept" { (text(&conflict["kept"]["value"])) }
                        td { (text(&conflict["kept"]["by"])) }
                        td { (text(&conflict["kept"]["at"])) }
                    }
                    tr {
                        th scope="row" { (t(lang, "Tertimpa", "Overwritten")) }
                        td data-field="overwritten" { (text(&conflict["overwritten"]["value"])) }
                        td { (text(&conflict["overwritten"]["by"])) }
                        td { (text(&conflict["overwritten"]["at"])) }
                    }
                }
            }
            @if let Some(resolved) = conflict["resolved"].as_object() {
                p.muted {
                    (t(lang, "Diselesaikan ", "Resolved "))
                    (resolved.get("at").map(text).unwrap_or_default()) " · "
                    (resolved.get("by").map(text).unwrap_or_default()) " · "
                    (resolved.get("how").map(text).unwrap_or_default())
                }
            } @else if ctx.account.may_change() {
                form method="post" action=(format!("/conflicts/{id}/resolve")) id=(format!("resolve-{id}")) {
                    (csrf_field(ctx))
                    fieldset {
                        legend { (t(lang, "Selesaikan", "Resolve")) }
                        input type="radio" name="how" value="keep" id=(format!("how-keep-{id}")) checked[refused.is_none()];
                        label for=(format!("how-keep-{id}")) { (t(lang, "pertahankan nilai yang berlaku", "keep the current value")) }
                        input type="radio" name="how" value="other" id=(format!("how-other-{id}"));
                        label for=(format!("how-other-{id}")) { (t(lang, "ambil nilai yang tertimpa", "take the overwritten value")) }
                        input type="radio" name="how" value="new" id=(format!("how-new-{id}")) checked[refused.is_some()];
                        label for=(format!("how-new-{id}")) { (t(lang, "nilai baru:", "a new value:")) }
                        @let error_id = format!("value-error-{id}");
                        input type="text" name="value" id=(format!("value-{id}")) aria-label=(t(lang, "Nilai baru", "New value"))
                            value=[refused.map(|r| r.value.as_str())]
                            aria-invalid=[refused.map(|_| "true")]
                            aria-describedby=[refused.map(|_| error_id.as_str())];
                        @if let Some(refused) = refused {
                            ul.field-error id=(error_id) data-testid="value-error" role="alert" {
                                @for reason in &refused.reasons { li { (reason) } }
                            }
                        }
                    }
                    button type="submit" id=(format!("resolve-submit-{id}")) { (t(lang, "Simpan", "Save")) }
                }
            }
        }
    }
}

/// `POST /conflicts/{id}/resolve`: `how` = keep | other | new (+ `value`).
pub async fn resolve(
    State(state): State<Arc<AppState>>,
    Path(id): Path<i64>,
    posted: Posted,
) -> PageResult {
    let Posted { mut ctx, fields } = posted;
    crate::access::may_change(&ctx.account).map_err(|d| ctx.denied(&d))?;
    let storage = state.storage.as_ref();
    if let Some(conflict) = storage.conflict(id).await.map_err(|e| ctx.internal(&e))? {
        crate::access::may_see(&ctx.account, &conflict.village_code).map_err(|d| ctx.denied(&d))?;
    }
    let how = match (fields.get("how"), fields.get("value")) {
        (Some("keep"), _) => How::Keep,
        (Some("other"), _) => How::TakeOther,
        (Some("new"), Some(value)) => How::New(value.to_owned()),
        (Some("new"), None) => {
            return Err(ctx
                .refuse(
                    StatusCode::BAD_REQUEST,
                    "value: isi nilai baru.",
                    "value: enter the new value.",
                )
                .back("/conflicts"));
        }
        _ => {
            return Err(ctx.refuse(
                StatusCode::BAD_REQUEST,
                "how: pilih cara menyelesaikan.",
                "how: choose how to resolve.",
            ));
        }
    };
    match crate::reconcile::resolve_conflict(storage, &ctx.account.name, id, how).await {
        Ok(_) => Ok(see_other(&format!("/conflicts?done={id}"))),
        // The form again, the typed value kept and the reasons next to it.
        Err(ReconcileError::Refused { value, problems }) => {
            // The page shown is the queue's (its language link leads there).
            ctx.path = "/conflicts".into();
            let region = ctx.account.scope().to_owned();
            // Each message names its field already ("Nama lengkap wajib diisi.").
            let reasons = problems
                .iter()
                .map(|problem| problem.text(ctx.lang).to_owned())
                .collect();
            let refused = RefusedValue {
                conflict: id,
                value,
                reasons,
            };
            conflicts_page(&state, &ctx, &region, false, None, Some(refused)).await
        }
        Err(error) => Err(reconcile_error(&ctx, error, "/conflicts")),
    }
}

/// A field's value for people, vocabularies by their label in the reader's
/// language (never a code). `full` shows the NIK and phone number in full
/// (a record's own page); lists get them masked.
pub fn value_text(lang: Lang, change: &Change, full: bool) -> String {
    let optional = |value: Option<String>| value.unwrap_or_else(|| "-".into());
    match change {
        Change::Origin(origin) => super::time_text(origin.registered_at),
        Change::Nik(nik) if full => nik.as_str().to_owned(),
        Change::Nik(nik) => nik.masked(),
        Change::FullName(name) => name.clone(),
        Change::BirthDate(date) => date.to_string(),
        Change::Sex(sex) => sex.name(lang).to_owned(),
        Change::Phone(Some(phone)) if full => phone.as_str().to_owned(),
        Change::Phone(phone) => optional(phone.as_ref().map(|p| p.masked())),
        Change::VillageCode(code) => region_text(code),
        Change::Rt(n) | Change::Rw(n) => optional(n.map(|n| n.to_string())),
        Change::Address(address) => optional(address.clone()),
        Change::Category(category) => category.label(lang).to_owned(),
        Change::Programmes(programmes) => programmes
            .list()
            .iter()
            .map(|p| p.label(lang))
            .collect::<Vec<_>>()
            .join(", "),
        Change::MonthlyIncome(income) => super::rupiah(lang, *income),
        Change::Payer(payer) => match &payer.name {
            Some(name) => format!("{} ({name})", payer.kind.label(lang)),
            None => payer.kind.label(lang).to_owned(),
        },
        Change::Consent(consent) => {
            let mut text = format!(
                "{} · {}",
                consent.method.label(lang),
                super::time_text(consent.recorded_at)
            );
            if let Some(reference) = &consent.reference {
                text.push_str(&format!(" · {reference}"));
            }
            text
        }
        Change::Status(Status::Active) => t(lang, "aktif", "active").into(),
        Change::Status(Status::Withdrawn { reason }) => {
            format!("{}: {reason}", t(lang, "ditarik", "withdrawn"))
        }
        Change::ConfirmedWarnings(codes) if codes.is_empty() => "-".into(),
        Change::ConfirmedWarnings(codes) => codes.join(", "),
    }
}

/// A vocabulary code from the queue's JSON as its label (the code itself
/// if it is not one).
fn vocabulary_label<V>(
    lang: Lang,
    value: &Value,
    parse: fn(&str) -> Option<V>,
    label: fn(V, Lang) -> &'static str,
) -> String {
    match value.as_str() {
        Some(code) => parse(code).map_or_else(|| code.to_owned(), |v| label(v, lang).to_owned()),
        None => text(value),
    }
}

/// `GET /records/{id}`: the full NIK and every field's history (audited:
/// the full NIK is personal data).
pub async fn record(
    State(state): State<Arc<AppState>>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> PageResult {
    let lang = ctx.lang;
    let not_found = || {
        ctx.refuse(
            StatusCode::NOT_FOUND,
            "Data tidak ditemukan.",
            "No such record.",
        )
    };
    let id = uuid::Uuid::parse_str(&id)
        .map(RecordId)
        .map_err(|_| not_found())?;
    let storage = state.storage.as_ref();
    let stored = storage
        .record(id)
        .await
        .map_err(|e| ctx.internal(&e))?
        .ok_or_else(not_found)?;
    let village = match stored.state.current(Field::VillageCode) {
        Some(Change::VillageCode(code)) => code.clone(),
        _ => String::new(),
    };
    crate::access::may_see(&ctx.account, &village).map_err(|d| ctx.denied(&d))?;
    let devices: std::collections::HashMap<_, _> = storage
        .devices()
        .await
        .map_err(|e| ctx.internal(&e))?
        .into_iter()
        .map(|d| (d.id, format!("{} ({})", d.officer_name, d.name)))
        .collect();
    let staff_device = storage.staff_device().await.map_err(|e| ctx.internal(&e))?;
    let writer = |device| {
        if device == staff_device {
            t(lang, "staf pusat", "central staff").to_owned()
        } else {
            devices
                .get(&device)
                .cloned()
                .unwrap_or_else(|| device.to_string())
        }
    };
    if let Err(error) = crate::audit::audit(
        storage,
        &ctx.account.name,
        crate::audit::action::RECORD_VIEW,
        &id.to_string(),
        serde_json::json!({ "village": village }),
    )
    .await
    {
        tracing::error!(error = %format!("{error:#}"), "audit entry not written");
    }
    let content = html! {
        p.notice.warn { (t(lang, "Halaman ini menampilkan NIK lengkap (data pribadi, UU 27/2022). Jangan disalin ke luar sistem.", "This page shows the full NIK (personal data, UU 27/2022). Do not copy it out of the system.")) }
        div.table-wrap {
            table id="record-table" {
                thead { tr {
                    th scope="col" { (t(lang, "Kolom", "Field")) }
                    th scope="col" { (t(lang, "Nilai sekarang", "Current value")) }
                    th scope="col" { (t(lang, "Riwayat (nilai sebelumnya)", "History (earlier values)")) }
                } }
                tbody {
                    @for field in Field::ALL {
                        @if let Some(current) = stored.state.current(*field) {
                            tr data-field=(field.as_str()) {
                                th scope="row" { (field.label(lang)) }
                                td id=(format!("field-{}", field.as_str())) { (value_text(lang, current, true)) }
                                td {
                                    @let history = stored.state.history(*field);
                                    @if history.len() > 1 {
                                        ul.history {
                                            @for version in history.iter().rev() {
                                                li {
                                                    (value_text(lang, &version.change, true)) " · "
                                                    (writer(version.stamp.device_id)) " · "
                                                    (hlc_time(version.stamp.hlc.wall_ms()))
                                                }
                                            }
                                        }
                                    } @else { "-" }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(maud_html(layout(
        &ctx,
        Section::None,
        &format!("{} {id}", t(lang, "Data", "Record")),
        content,
    )))
}

fn hlc_time(ms: u64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map(super::time_text)
        .unwrap_or_else(|_| "?".into())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used, clippy::unwrap_used)]
    use lindung_shared::nik::Nik;
    use lindung_shared::registration::{Consent, Payer};

    use super::*;

    #[test]
    fn vocabularies_are_shown_by_their_label_never_their_code() {
        let category = Change::Category(Category::StreetVendor);
        assert_eq!(value_text(Lang::Id, &category, false), "Pedagang kaki lima");
        assert_eq!(value_text(Lang::En, &category, false), "Street vendor");
        let payer = Change::Payer(Payer {
            kind: PayerKind::Csr,
            name: Some("PT Semen Padang".into()),
        });
        assert_eq!(
            value_text(Lang::Id, &payer, false),
            "CSR perusahaan (PT Semen Padang)"
        );
        let consent = Change::Consent(Consent {
            method: ConsentMethod::Verbal,
            recorded_at: time::OffsetDateTime::UNIX_EPOCH,
            reference: None,
        });
        assert_eq!(
            value_text(Lang::En, &consent, false),
            "Verbal, witnessed by the officer · 1970-01-01 00:00 UTC"
        );
        let withdrawn = Change::Status(Status::Withdrawn {
            reason: "pindah".into(),
        });
        assert_eq!(value_text(Lang::Id, &withdrawn, false), "ditarik: pindah");
        assert_eq!(
            value_text(Lang::En, &Change::Status(Status::Active), false),
            "active"
        );
        // Lists mask the NIK; only a record's own page shows it whole.
        let nik = Change::Nik(Nik::from_digits("1311014101900003").expect("nik"));
        assert_eq!(value_text(Lang::Id, &nik, false), "1311********0003");
        assert_eq!(value_text(Lang::Id, &nik, true), "1311014101900003");
    }
}
