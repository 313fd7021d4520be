//! Officers and devices, reference data and contribution rates, exports and
//! the audit log. Actions call the CLI's own functions
//! ([`crate::cli::create_officer`], [`crate::cli::issue_enrollment_code`],
//! [`crate::cli::revoke_device`], [`crate::reference::import`],
//! [`crate::cli::export_coverage_file`],
//! [`crate::cli::export_registrations_file`]), which audit them.

use std::sync::Arc;

use axum::extract::{Multipart, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use lindung_shared::ids::{DeviceId, OfficerId};
use lindung_shared::lang::Lang;
use maud::html;
use serde::Deserialize;
use time::OffsetDateTime;

use super::auth::{Posted, csrf_matches, csrf_refused};
use super::{
    Ctx, PageResult, Section, csrf_field, int, layout, maud_html, notice, percent, region_text,
    rupiah, see_other, sees_officer, t, time_text,
};
use crate::api::AppState;
use crate::export::ExportFormat;

/// `GET /officers`.
pub async fn officers(State(state): State<Arc<AppState>>, ctx: Ctx) -> PageResult {
    let lang = ctx.lang;
    let storage = state.storage.as_ref();
    let officers: Vec<_> = storage
        .officers()
        .await
        .map_err(|e| ctx.internal(&e))?
        .into_iter()
        .filter(|o| sees_officer(&ctx.account, &o.regions))
        .collect();
    let devices: Vec<_> = storage
        .devices()
        .await
        .map_err(|e| ctx.internal(&e))?
        .into_iter()
        .filter(|d| officers.iter().any(|o| o.id == d.officer_id))
        .collect();
    let may_change = ctx.account.may_change();
    let content = html! {
        section aria-labelledby="officers-title" {
            h2 id="officers-title" { (t(lang, "Petugas", "Officers")) }
            div.table-wrap {
                table id="officers-table" {
                    thead { tr {
                        th scope="col" { (t(lang, "Nama", "Name")) }
                        th scope="col" { (t(lang, "Wilayah", "Regions")) }
                        th scope="col" { (t(lang, "Dibuat", "Created")) }
                        th scope="col" { (t(lang, "Kode pendaftaran", "Enrolment code")) }
                    } }
                    tbody {
                        @for officer in &officers {
                            tr id=(format!("officer-{}", officer.id)) {
                                td { (officer.name) }
                                td { @for code in &officer.regions { (region_text(code)) br; } }
                                td { (time_text(officer.created_at)) }
                                td {
                                    @if may_change {
                                        form.inline method="post" action=(format!("/officers/{}/enroll-code", officer.id)) {
                                            (csrf_field(&ctx))
                                            button type="submit" id=(format!("enroll-code-{}", officer.id)) { (t(lang, "Buat kode (72 jam)", "Issue code (72 hours)")) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if may_change {
            section aria-labelledby="add-officer-title" {
                h2 id="add-officer-title" { (t(lang, "Tambah petugas", "Add an officer")) }
                form method="post" action="/officers" id="add-officer-form" {
                    (csrf_field(&ctx))
                    p {
                        label for="officer-name" { (t(lang, "Nama", "Name")) }
                        input id="officer-name" name="name" type="text" required minlength="2";
                    }
                    p {
                        label for="officer-regions" { (t(lang, "Wilayah (kode, dipisah koma)", "Regions (codes, comma-separated)")) }
                        input id="officer-regions" name="regions" type="text" required placeholder="13.11.01, 1311012001";
                    }
                    button type="submit" id="add-officer-submit" { (t(lang, "Tambah", "Add")) }
                }
            }
        }
        section aria-labelledby="devices-title" {
            h2 id="devices-title" { (t(lang, "Perangkat", "Devices")) }
            div.table-wrap {
                table id="devices-table" {
                    thead { tr {
                        th scope="col" { (t(lang, "Perangkat", "Device")) }
                        th scope="col" { (t(lang, "Petugas", "Officer")) }
                        th scope="col" { (t(lang, "Terdaftar", "Enrolled")) }
                        th scope="col" { (t(lang, "Terakhir terlihat", "Last seen")) }
                        th scope="col" { (t(lang, "Status", "Status")) }
                    } }
                    tbody {
                        @for device in &devices {
                            tr id=(format!("device-{}", device.id)) {
                                td { (device.name) br; span.code { (device.id) } }
                                td { (device.officer_name) }
                                td { (time_text(device.enrolled_at)) }
                                td { (device.last_seen_at.map(time_text).unwrap_or_else(|| "-".into())) }
                                td {
                                    @if let Some(at) = device.revoked_at {
                                        (t(lang, "dicabut ", "revoked ")) (time_text(at))
                                    } @else if may_change {
                                        form.inline method="post" action=(format!("/devices/{}/revoke", device.id)) {
                                            (csrf_field(&ctx))
                                            button type="submit" id=(format!("revoke-{}", device.id)) data-confirm=(t(lang, "Cabut perangkat ini? Perangkat tidak bisa sinkron lagi.", "Revoke this device? It can no longer sync.")) {
                                                (t(lang, "Cabut", "Revoke"))
                                            }
                                        }
                                    } @else { (t(lang, "aktif", "active")) }
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
        Section::Officers,
        t(lang, "Petugas & perangkat", "Officers & devices"),
        content,
    )))
}

/// `POST /officers`: `name`, `regions` (comma-separated codes).
pub async fn add_officer(State(state): State<Arc<AppState>>, posted: Posted) -> PageResult {
    let Posted { ctx, fields } = posted;
    crate::access::may_change(&ctx.account).map_err(|d| ctx.denied(&d))?;
    let name = fields.get("name").unwrap_or("");
    if name.chars().count() < 2 {
        return Err(ctx
            .refuse(
                StatusCode::BAD_REQUEST,
                "name: nama petugas minimal 2 huruf.",
                "name: the officer's name needs at least 2 letters.",
            )
            .back("/officers"));
    }
    let mut codes = Vec::new();
    for input in fields
        .get("regions")
        .unwrap_or("")
        .split([',', ';', ' '])
        .filter(|s| !s.trim().is_empty())
    {
        let code = crate::reconcile::region_prefix(Some(input)).map_err(|_| {
            ctx.refuse(
                StatusCode::BAD_REQUEST,
                "regions: kode wilayah tidak dikenal.",
                "regions: unknown region code.",
            )
            .back("/officers")
        })?;
        crate::access::may_see(&ctx.account, &code).map_err(|d| ctx.denied(&d))?;
        codes.push(code);
    }
    if codes.is_empty() {
        return Err(ctx
            .refuse(
                StatusCode::BAD_REQUEST,
                "regions: isi minimal satu kode wilayah.",
                "regions: enter at least one region code.",
            )
            .back("/officers"));
    }
    let officer =
        crate::cli::create_officer(state.storage.as_ref(), &ctx.account.name, name, &codes)
            .await
            .map_err(|e| ctx.internal(&format!("{e:#}")))?;
    Ok(see_other(&format!("/officers#officer-{}", officer.id)))
}

/// `POST /officers/{id}/enroll-code`: the code is shown once, on this page.
pub async fn enroll_code(
    State(state): State<Arc<AppState>>,
    Path(id): Path<uuid::Uuid>,
    posted: Posted,
) -> PageResult {
    let ctx = posted.ctx;
    let lang = ctx.lang;
    crate::access::may_change(&ctx.account).map_err(|d| ctx.denied(&d))?;
    let storage = state.storage.as_ref();
    let officer = storage
        .officer(OfficerId(id))
        .await
        .map_err(|e| ctx.internal(&e))?
        .ok_or_else(|| {
            ctx.refuse(
                StatusCode::NOT_FOUND,
                "Petugas tidak ditemukan.",
                "No such officer.",
            )
        })?;
    if !sees_officer(&ctx.account, &officer.regions) {
        return Err(ctx.denied(&crate::access::Denied::OutsideRegion {
            allowed: ctx.account.scope().to_owned(),
            asked: officer.name.clone(),
        }));
    }
    let (officer, code, expires_at) =
        crate::cli::issue_enrollment_code(storage, &ctx.account.name, officer.id, 72)
            .await
            .map_err(|e| ctx.internal(&format!("{e:#}")))?;
    let content = html! {
        p { (t(lang, "Kode pendaftaran untuk ", "Enrolment code for ")) strong { (officer.name) } ":" }
        p.code-once id="enroll-code" data-testid="enroll-code" { (code) }
        p {
            (t(lang, "Berlaku sampai ", "Valid until ")) (time_text(expires_at)) ", "
            (t(lang, "sekali pakai. Kode ini hanya ditampilkan sekali.", "single use. This code is shown only once."))
        }
        p { code { "lindung-agent enroll --server URL --code " (code) } }
        p { a href="/officers" { (t(lang, "Kembali ke petugas", "Back to officers")) } }
    };
    Ok(maud_html(layout(
        &ctx,
        Section::Officers,
        t(lang, "Kode pendaftaran", "Enrolment code"),
        content,
    )))
}

/// `POST /devices/{id}/revoke`.
pub async fn revoke_device(
    State(state): State<Arc<AppState>>,
    Path(id): Path<uuid::Uuid>,
    posted: Posted,
) -> PageResult {
    let ctx = posted.ctx;
    crate::access::may_change(&ctx.account).map_err(|d| ctx.denied(&d))?;
    let storage = state.storage.as_ref();
    let devices = storage.devices().await.map_err(|e| ctx.internal(&e))?;
    let device = devices
        .iter()
        .find(|d| d.id == DeviceId(id))
        .ok_or_else(|| {
            ctx.refuse(
                StatusCode::NOT_FOUND,
                "Perangkat tidak ditemukan.",
                "No such device.",
            )
        })?;
    if !ctx.account.scope().is_empty() {
        let officer = storage
            .officer(device.officer_id)
            .await
            .map_err(|e| ctx.internal(&e))?;
        if !officer.is_some_and(|o| sees_officer(&ctx.account, &o.regions)) {
            return Err(ctx.denied(&crate::access::Denied::OutsideRegion {
                allowed: ctx.account.scope().to_owned(),
                asked: device.name.clone(),
            }));
        }
    }
    crate::cli::revoke_device(storage, &ctx.account.name, DeviceId(id))
        .await
        .map_err(|e| ctx.internal(&format!("{e:#}")))?;
    Ok(see_other(&format!("/officers#device-{id}")))
}

/// The query of `/reference`.
#[derive(Debug, Deserialize)]
pub struct YearQuery {
    year: Option<i32>,
}

/// `GET /reference?year=`: the year's rows (a supervisor: their region's)
/// and the contribution rates; the upload form for staff.
pub async fn reference(
    State(state): State<Arc<AppState>>,
    ctx: Ctx,
    Query(query): Query<YearQuery>,
) -> PageResult {
    reference_page(&state, &ctx, query.year, None).await
}

async fn reference_page(
    state: &AppState,
    ctx: &Ctx,
    year: Option<i32>,
    outcome: Option<maud::Markup>,
) -> PageResult {
    let lang = ctx.lang;
    let now = OffsetDateTime::now_utc();
    let year = year.unwrap_or(now.year());
    let storage = state.storage.as_ref();
    let mut rows = storage
        .reference(year)
        .await
        .map_err(|e| ctx.internal(&e))?;
    rows.retain(|row| ctx.account.sees(&row.region_code));
    let rates = storage
        .contribution_rates()
        .await
        .map_err(|e| ctx.internal(&e))?;
    let in_force = crate::report::rates_on(storage, now.date())
        .await
        .map_err(|e| ctx.internal(&e))?;
    let may_import = crate::access::staff_only(&ctx.account).is_ok();
    let content = html! {
        @if let Some(outcome) = outcome { (outcome) }
        form.filters method="get" action="/reference" {
            label for="ref-year" { (t(lang, "Tahun", "Year")) }
            input id="ref-year" name="year" type="number" min="2000" max="2100" value=(year);
            button type="submit" { (t(lang, "Tampilkan", "Show")) }
        }
        @if may_import {
            section aria-labelledby="import-title" {
                h2 id="import-title" { (t(lang, "Impor data acuan (CSV)", "Import reference data (CSV)")) }
                p.help { (t(lang, "Disimpan hanya jika semua baris sah; mengganti data tahun yang ada di berkas. Kolom: docs/reference.md.", "Stored only when every row is valid; replaces the years the file holds. Columns: docs/reference.md.")) }
                form method="post" action="/reference" enctype="multipart/form-data" id="reference-form" {
                    (csrf_field(ctx))
                    label for="reference-file" { (t(lang, "Berkas", "File")) }
                    input id="reference-file" name="file" type="file" accept=".csv,text/csv" required;
                    button type="submit" id="reference-submit" { (t(lang, "Impor", "Import")) }
                }
            }
        }
        section aria-labelledby="rows-title" {
            h2 id="rows-title" { (t(lang, "Data acuan ", "Reference values ")) (year) " (" (rows.len()) ")" }
            div.table-wrap {
                table id="reference-table" {
                    thead { tr {
                        th scope="col" { (t(lang, "Wilayah", "Region")) }
                        th scope="col" { (t(lang, "Penduduk bekerja", "Working population")) }
                        th scope="col" { (t(lang, "Peserta di luar Lindung", "Baseline")) }
                        th scope="col" { "Target" }
                    } }
                    tbody {
                        @for row in &rows {
                            tr data-region=(row.region_code) {
                                td { (region_text(&row.region_code)) }
                                td.num { (row.working_population.map_or("-".into(), |n| int(lang, n))) }
                                td.num { (row.baseline.map_or("-".into(), |n| int(lang, n))) }
                                td.num { (row.target_bp.map_or("-".into(), |bp| percent(lang, u64::from(bp)))) }
                            }
                        }
                    }
                }
            }
        }
        section aria-labelledby="rates-title" {
            h2 id="rates-title" { (t(lang, "Iuran", "Contribution rates")) }
            p id="rate-in-force" {
                (t(lang, "Iuran minimum per orang per bulan yang berlaku: ", "Minimum monthly contribution per person in force: "))
                (rupiah(lang, in_force.minimum_monthly()))
                @if rates.is_empty() { " (" (t(lang, "bawaan PP 44/2015", "built-in PP 44/2015")) ")" }
            }
            @if !rates.is_empty() {
                ul id="rates-list" {
                    @for rate in &rates {
                        li { (rate.effective_from.to_string()) ": " (rupiah(lang, rate.minimum_monthly())) }
                    }
                }
            }
            p.help { (t(lang, "Ubah iuran: lindung-server rates set.", "Change rates: lindung-server rates set.")) }
        }
    };
    Ok(maud_html(layout(
        ctx,
        Section::Reference,
        t(lang, "Data acuan", "Reference data"),
        content,
    )))
}

/// `POST /reference` (multipart: `csrf`, `file`).
pub async fn import_reference(
    State(state): State<Arc<AppState>>,
    ctx: Ctx,
    mut multipart: Multipart,
) -> PageResult {
    let lang = ctx.lang;
    let mut csrf = None;
    let mut file = None;
    let mut file_name = String::from("upload.csv");
    while let Ok(Some(field)) = multipart.next_field().await {
        match field.name() {
            Some("csrf") => csrf = field.text().await.ok(),
            Some("file") => {
                if let Some(name) = field.file_name() {
                    file_name = name.chars().filter(|c| !c.is_control()).take(100).collect();
                }
                file = field.bytes().await.ok();
            }
            _ => {}
        }
    }
    if !csrf_matches(&ctx, csrf.as_deref()) {
        return Err(csrf_refused(lang));
    }
    crate::access::may_change(&ctx.account).map_err(|d| ctx.denied(&d))?;
    crate::access::staff_only(&ctx.account).map_err(|d| ctx.denied(&d))?;
    let Some(bytes) = file else {
        return Err(ctx
            .refuse(
                StatusCode::BAD_REQUEST,
                "file: pilih berkas CSV.",
                "file: choose a CSV file.",
            )
            .back("/reference"));
    };
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return Err(ctx
            .refuse(
                StatusCode::BAD_REQUEST,
                "file: berkas harus CSV UTF-8.",
                "file: the file must be a UTF-8 CSV.",
            )
            .back("/reference"));
    };
    let outcome = crate::reference::import(
        state.storage.as_ref(),
        &ctx.account.name,
        text,
        &format!("dashboard:{file_name}"),
    )
    .await;
    let (status, markup) = match outcome {
        Ok(Ok(replaced)) => (
            StatusCode::OK,
            notice(
                "ok",
                &match lang {
                    Lang::Id => format!(
                        "Data acuan tahun {:?} diganti: {} baris (sebelumnya {}).",
                        replaced.years, replaced.stored, replaced.removed
                    ),
                    Lang::En => format!(
                        "Reference values for {:?} replaced: {} rows (before: {}).",
                        replaced.years, replaced.stored, replaced.removed
                    ),
                },
            ),
        ),
        Ok(Err(problems)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            html! {
                (notice("error", &match lang {
                    Lang::Id => format!("{} baris bermasalah: tidak ada yang disimpan.", problems.len()),
                    Lang::En => format!("{} row problem(s): nothing was imported.", problems.len()),
                }))
                table id="reference-problems" data-testid="reference-problems" {
                    thead { tr {
                        th scope="col" { (t(lang, "Baris", "Line")) }
                        th scope="col" { (t(lang, "Kolom", "Column")) }
                        th scope="col" { (t(lang, "Masalah", "Problem")) }
                    } }
                    tbody {
                        @for problem in &problems {
                            tr {
                                td { (problem.line) }
                                td { (problem.column) }
                                td { (match lang { Lang::Id => &problem.message_id, Lang::En => &problem.message }) }
                            }
                        }
                    }
                }
            },
        ),
        Err(crate::reference::ImportError::File(error)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            notice(
                "error",
                &format!(
                    "{}: {error}",
                    t(lang, "Berkas tidak bisa dibaca", "The file cannot be read")
                ),
            ),
        ),
        Err(crate::reference::ImportError::Storage(error)) => return Err(ctx.internal(&error)),
    };
    let page = reference_page(&state, &ctx, None, Some(markup)).await?;
    Ok((status, page).into_response())
}

/// `GET /exports`.
pub async fn exports(ctx: Ctx) -> PageResult {
    let lang = ctx.lang;
    let year = OffsetDateTime::now_utc().year();
    let region = ctx.account.scope().to_owned();
    let content = html! {
        p.help { (t(lang, "Setiap ekspor dicatat di log audit. NIK selalu disamarkan.", "Every export is recorded in the audit log. NIKs are always masked.")) }
        form method="post" action="/exports" id="export-form" {
            (csrf_field(&ctx))
            p {
                label for="export-kind" { (t(lang, "Isi", "Contents")) }
                select id="export-kind" name="kind" {
                    option value="coverage" { (t(lang, "cakupan per wilayah", "coverage per region")) }
                    option value="registrations" { (t(lang, "pendaftaran (NIK disamarkan)", "registrations (NIK masked)")) }
                }
            }
            p {
                label for="export-region" { (t(lang, "Kode wilayah (kosong: seluruh Indonesia)", "Region code (empty: all Indonesia)")) }
                input id="export-region" name="region" type="text" value=(region);
            }
            p {
                label for="export-level" { (t(lang, "Rinci per (cakupan)", "Broken down by (coverage)")) }
                select id="export-level" name="level" {
                    option value="" { (t(lang, "wilayah itu saja", "that region only")) }
                    option value="province" { (t(lang, "provinsi", "province")) }
                    option value="regency" { (t(lang, "kabupaten/kota", "regency/city")) }
                    option value="district" { (t(lang, "kecamatan", "district")) }
                    option value="village" { (t(lang, "desa/kelurahan", "village")) }
                }
            }
            p {
                label for="export-year" { (t(lang, "Tahun (cakupan)", "Year (coverage)")) }
                input id="export-year" name="year" type="number" min="2000" max="2100" value=(year);
            }
            p {
                label for="export-format" { (t(lang, "Format", "Format")) }
                select id="export-format" name="format" {
                    option value="xlsx" { "Excel (.xlsx)" }
                    option value="csv" { "CSV" }
                }
            }
            button type="submit" id="export-submit" { (t(lang, "Unduh", "Download")) }
        }
    };
    Ok(maud_html(layout(
        &ctx,
        Section::Exports,
        t(lang, "Ekspor", "Exports"),
        content,
    )))
}

/// `POST /exports`: `kind`, `region`, `level`, `year`, `format` → the file.
pub async fn export(State(state): State<Arc<AppState>>, posted: Posted) -> PageResult {
    let Posted { ctx, fields } = posted;
    let bad = |id: &str, en: &str| ctx.refuse(StatusCode::BAD_REQUEST, id, en).back("/exports");
    let code = crate::reconcile::region_prefix(fields.get("region")).map_err(|_| {
        bad(
            "region: kode wilayah tidak dikenal.",
            "region: unknown region code.",
        )
    })?;
    crate::access::may_see(&ctx.account, &code).map_err(|d| ctx.denied(&d))?;
    let format = match fields.get("format") {
        Some("csv") => ExportFormat::Csv,
        Some("xlsx") | None => ExportFormat::Xlsx,
        Some(_) => return Err(bad("format: csv atau xlsx.", "format: csv or xlsx.")),
    };
    let dir = tempfile::tempdir().map_err(|e| ctx.internal(&e))?;
    let file_stem = if code.is_empty() {
        "indonesia".to_owned()
    } else {
        code.clone()
    };
    let storage = state.storage.as_ref();
    let (name, path) = match fields.get("kind") {
        Some("registrations") => {
            let name = format!("pendaftaran-{file_stem}.{}", format.name());
            let path = dir.path().join(&name);
            crate::cli::export_registrations_file(storage, &ctx.account.name, &code, format, &path)
                .await
                .map_err(|e| ctx.internal(&format!("{e:#}")))?;
            (name, path)
        }
        Some("coverage") | None => {
            let level =
                match fields.get("level") {
                    Some(text) => Some(crate::cli::parse_level(text).map_err(|_| {
                        bad("level: tingkat tidak dikenal.", "level: unknown level.")
                    })?),
                    None => None,
                };
            if let Some(level) = level
                && level.code_len() <= code.len()
            {
                return Err(bad(
                    "level: harus di bawah wilayah.",
                    "level: must be below the region.",
                ));
            }
            let year = match fields.get("year") {
                Some(text) => text
                    .parse::<i32>()
                    .ok()
                    .filter(|y| (2000..=2100).contains(y))
                    .ok_or_else(|| {
                        bad(
                            "year: tahun antara 2000 dan 2100.",
                            "year: a year between 2000 and 2100.",
                        )
                    })?,
                None => OffsetDateTime::now_utc().year(),
            };
            let name = format!("cakupan-{file_stem}-{year}.{}", format.name());
            let path = dir.path().join(&name);
            crate::cli::export_coverage_file(
                storage,
                &ctx.account.name,
                &code,
                level,
                year,
                true,
                format,
                &path,
            )
            .await
            .map_err(|e| ctx.internal(&format!("{e:#}")))?;
            (name, path)
        }
        Some(_) => {
            return Err(bad(
                "kind: cakupan atau pendaftaran.",
                "kind: coverage or registrations.",
            ));
        }
    };
    let bytes = std::fs::read(&path).map_err(|e| ctx.internal(&e))?;
    let content_type = match format {
        ExportFormat::Csv => "text/csv; charset=utf-8",
        ExportFormat::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    };
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        bytes,
    )
        .into_response())
}

/// The query of `/audit`.
#[derive(Debug, Deserialize)]
pub struct AuditQuery {
    action: Option<String>,
}

/// `GET /audit?action=`: newest first (not for supervisors: it spans every region).
pub async fn audit(
    State(state): State<Arc<AppState>>,
    ctx: Ctx,
    Query(query): Query<AuditQuery>,
) -> PageResult {
    let lang = ctx.lang;
    if ctx.account.role == crate::storage::Role::Supervisor {
        return Err(ctx.denied(&crate::access::Denied::StaffOnly));
    }
    let action = query.action.filter(|a| !a.trim().is_empty());
    let entries = state
        .storage
        .audit_entries(&crate::storage::AuditFilter {
            limit: 200,
            action: action.clone(),
            since_ms: None,
        })
        .await
        .map_err(|e| ctx.internal(&e))?;
    let actions = [
        "duplicates.merge",
        "duplicates.unmerge",
        "conflict.resolve",
        "reference.import",
        "export.coverage",
        "export.registrations",
        "officer.add",
        "enroll_code.create",
        "device.revoke",
        "staff.add",
        "staff.login",
        "staff.logout",
        "record.view",
    ];
    let content = html! {
        form.filters method="get" action="/audit" id="audit-filters" {
            label for="audit-action" { (t(lang, "Tindakan", "Action")) }
            input id="audit-action" name="action" type="text" list="audit-actions" value=(action.clone().unwrap_or_default());
            datalist id="audit-actions" { @for a in actions { option value=(a) {} } }
            button type="submit" id="audit-apply" { (t(lang, "Saring", "Filter")) }
        }
        div.table-wrap {
            table id="audit-table" data-testid="audit-table" {
                thead { tr {
                    th scope="col" { (t(lang, "Waktu", "When")) }
                    th scope="col" { (t(lang, "Siapa", "Who")) }
                    th scope="col" { (t(lang, "Tindakan", "Action")) }
                    th scope="col" { (t(lang, "Sasaran", "Subject")) }
                    th scope="col" { (t(lang, "Rincian", "Details")) }
                } }
                tbody {
                    @for entry in &entries {
                        tr data-action=(entry.action) {
                            td { (time_text(entry.at)) }
                            td { (entry.actor) }
                            td { (entry.action) }
                            td { (entry.subject) }
                            td.details { (entry.details.to_string()) }
                        }
                    }
                }
            }
        }
    };
    Ok(maud_html(layout(
        &ctx,
        Section::Audit,
        t(lang, "Log audit", "Audit log"),
        content,
    )))
}
