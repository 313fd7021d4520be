//! `GET /bundles`: the sneakernet upload screen. Staff upload the bundle an
//! officer brought on a USB stick; it is applied like a push
//! ([`crate::bundle::import`], which audits it), and the page offers the
//! receipt to copy back onto the stick. Every bundle applied is listed with
//! its receipt, so a receipt lost on the way can be downloaded again.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Multipart, Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use lindung_shared::ids::DeviceId;
use lindung_shared::lang::{Lang, Problem};
use maud::{Markup, html};
use uuid::Uuid;

use super::auth::{csrf_matches, csrf_refused};
use super::{
    Ctx, PageError, PageResult, Section, csrf_field, int, layout, maud_html, notice, sees_officer,
    t, time_text,
};
use crate::api::AppState;
use crate::bundle::{Imported, receipt_file_name};

/// Most imports listed.
const LISTED: u32 = 50;

/// `GET /bundles`.
pub async fn page(State(state): State<Arc<AppState>>, ctx: Ctx) -> PageResult {
    render(&state, &ctx, StatusCode::OK, None).await
}

async fn render(
    state: &AppState,
    ctx: &Ctx,
    status: StatusCode,
    outcome: Option<Markup>,
) -> PageResult {
    let lang = ctx.lang;
    let storage = state.storage.as_ref();
    let officers: HashMap<_, _> = storage
        .officers()
        .await
        .map_err(|e| ctx.internal(&e))?
        .into_iter()
        .map(|o| (o.id, o.regions))
        .collect();
    // A supervisor sees the bundles of the officers of their region only.
    let devices: HashMap<_, _> = storage
        .devices()
        .await
        .map_err(|e| ctx.internal(&e))?
        .into_iter()
        .filter(|d| {
            officers
                .get(&d.officer_id)
                .is_some_and(|regions| sees_officer(&ctx.account, regions))
        })
        .map(|d| (d.id, format!("{} · {}", d.officer_name, d.name)))
        .collect();
    let mut imports = storage
        .bundle_imports(LISTED)
        .await
        .map_err(|e| ctx.internal(&e))?;
    imports.retain(|import| devices.contains_key(&import.device_id));
    let may_import = crate::access::may_change(&ctx.account).is_ok();
    let content = html! {
        @if let Some(outcome) = outcome { (outcome) }
        p.help { (t(lang,
            "Laptop tanpa sinyal dapat mengirim perubahannya lewat flashdisk: petugas menjalankan «lindung-agent bundle export BERKAS», staf mengunggah berkas itu di sini, lalu menyalin tanda terimanya kembali ke flashdisk untuk «lindung-agent bundle import».",
            "A laptop without signal can send its changes on a USB stick: the officer runs «lindung-agent bundle export FILE», staff upload that file here, then copy its receipt back onto the stick for «lindung-agent bundle import».")) }
        @if may_import {
            section aria-labelledby="upload-title" {
                h2 id="upload-title" { (t(lang, "Unggah paket dari laptop", "Upload a bundle from a laptop")) }
                form method="post" action="/bundles" enctype="multipart/form-data" id="bundle-form" {
                    (csrf_field(ctx))
                    label for="bundle-file" { (t(lang, "Berkas paket", "Bundle file")) }
                    input id="bundle-file" name="file" type="file" accept=".lindung,application/octet-stream" required;
                    button type="submit" id="bundle-submit" { (t(lang, "Terapkan", "Apply")) }
                }
            }
        }
        section aria-labelledby="imports-title" {
            h2 id="imports-title" { (t(lang, "Paket yang sudah diterapkan", "Bundles applied")) }
            @if imports.is_empty() {
                p id="no-bundles" { (t(lang, "Belum ada.", "None yet.")) }
            } @else {
                div.table-wrap {
                    table id="bundles-table" data-testid="bundles-table" {
                        thead { tr {
                            th scope="col" { (t(lang, "Waktu", "When")) }
                            th scope="col" { (t(lang, "Petugas · perangkat", "Officer · device")) }
                            th scope="col" { (t(lang, "Perubahan", "Changes")) }
                            th scope="col" { (t(lang, "Diterima", "Accepted")) }
                            th scope="col" { (t(lang, "Sudah ada", "Already held")) }
                            th scope="col" { (t(lang, "Ditolak", "Rejected")) }
                            th scope="col" { (t(lang, "Oleh", "By")) }
                            th scope="col" { (t(lang, "Tanda terima", "Receipt")) }
                        } }
                        tbody {
                            @for import in &imports {
                                tr data-bundle=(import.bundle_id) {
                                    td { (time_text(import.imported_at)) }
                                    td { (devices.get(&import.device_id).map_or("-", String::as_str)) }
                                    td.num { (int(lang, import.operations)) }
                                    td.num { (int(lang, import.accepted)) }
                                    td.num { (int(lang, import.duplicates)) }
                                    td.num { (int(lang, import.rejected)) }
                                    td { (import.imported_by) }
                                    td { a href=(format!("/bundles/{}/receipt", import.bundle_id)) download=(receipt_file_name(import.bundle_id)) { (t(lang, "Unduh", "Download")) } }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    let mut response = maud_html(layout(
        ctx,
        Section::Bundles,
        t(lang, "Paket flashdisk", "USB bundles"),
        content,
    ));
    *response.status_mut() = status;
    Ok(response)
}

fn result(lang: Lang, imported: &Imported) -> Markup {
    let import = &imported.import;
    html! {
        div id="bundle-result" data-testid="bundle-result" data-again=(imported.again) {
            @if let Some(before) = imported.applied_before(lang) { (notice("warn", &before)) }
            (notice("ok", &imported.summary(lang)))
            p {
                a id="receipt-download" href=(format!("/bundles/{}/receipt", import.bundle_id)) download=(receipt_file_name(import.bundle_id)) {
                    (t(lang, "Unduh tanda terima", "Download the receipt"))
                }
                " "
                (t(lang, "Salin ke flashdisk, lalu di laptop: lindung-agent bundle import BERKAS", "Copy it onto the stick, then on the laptop: lindung-agent bundle import FILE"))
            }
        }
    }
}

/// `POST /bundles` (multipart: `csrf`, `file`).
pub async fn upload(
    State(state): State<Arc<AppState>>,
    ctx: Ctx,
    mut multipart: Multipart,
) -> PageResult {
    let lang = ctx.lang;
    let mut csrf = None;
    let mut file = None;
    let mut too_large = false;
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) => match field.name() {
                Some("csrf") => csrf = field.text().await.ok(),
                Some("file") => match field.bytes().await {
                    Ok(bytes) => file = Some(bytes),
                    Err(error) => too_large = error.status() == StatusCode::PAYLOAD_TOO_LARGE,
                },
                _ => {}
            },
            Ok(None) => break,
            Err(error) => {
                too_large = error.status() == StatusCode::PAYLOAD_TOO_LARGE;
                break;
            }
        }
    }
    if too_large {
        let mb = crate::bundle::MAX_BUNDLE_BYTES / (1024 * 1024);
        return Err(ctx
            .refuse(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("file: berkas lebih besar dari {mb} MB; ini bukan paket dari laptop."),
                &format!(
                    "file: the file is larger than {mb} MB; it is not a bundle from a laptop."
                ),
            )
            .back("/bundles"));
    }
    if !csrf_matches(&ctx, csrf.as_deref()) {
        return Err(csrf_refused(lang));
    }
    crate::access::may_change(&ctx.account).map_err(|d| ctx.denied(&d))?;
    let Some(bytes) = file.filter(|b| !b.is_empty()) else {
        return Err(ctx
            .refuse(
                StatusCode::BAD_REQUEST,
                "file: pilih berkas paket dari laptop.",
                "file: choose the bundle file from the laptop.",
            )
            .back("/bundles"));
    };
    // A supervisor applies the bundles of the officers of their region only.
    if let Ok(claimed) = lindung_shared::bundle::read_header(&bytes) {
        may_see_device(&state, &ctx, claimed.device_id).await?;
    }
    match crate::bundle::import(&state, &bytes, &ctx.account.name).await {
        Ok(imported) => render(&state, &ctx, StatusCode::OK, Some(result(lang, &imported))).await,
        Err(crate::bundle::ImportError::Storage(error)) => Err(ctx.internal(&error)),
        Err(refused) => {
            tracing::info!(code = refused.code(), "bundle refused");
            let text = format!("file: {}", refused.message(lang));
            let markup = html! {
                div id="bundle-refused" data-testid="bundle-refused" data-code=(refused.code()) {
                    (notice("error", &text))
                }
            };
            render(&state, &ctx, StatusCode::UNPROCESSABLE_ENTITY, Some(markup)).await
        }
    }
}

/// `GET /bundles/{id}/receipt`: the receipt of an applied bundle.
pub async fn receipt(
    State(state): State<Arc<AppState>>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> PageResult {
    crate::access::may_change(&ctx.account).map_err(|d| ctx.denied(&d))?;
    let not_found = || {
        ctx.refuse(
            StatusCode::NOT_FOUND,
            "Tidak ada paket dengan id itu.",
            "No bundle with that id.",
        )
        .back("/bundles")
    };
    let id = Uuid::parse_str(&id).map_err(|_| not_found())?;
    let import = state
        .storage
        .bundle_import(id)
        .await
        .map_err(|e| ctx.internal(&e))?
        .ok_or_else(not_found)?;
    may_see_device(&state, &ctx, import.device_id).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}\"", receipt_file_name(id)),
            ),
        ],
        import.receipt,
    )
        .into_response())
}

/// Refuses a supervisor a device whose officer works outside their region
/// (an unknown device is left to the import, which names it).
async fn may_see_device(state: &AppState, ctx: &Ctx, device: DeviceId) -> Result<(), PageError> {
    let found = state
        .storage
        .bundle_device(device)
        .await
        .map_err(|e| ctx.internal(&e))?;
    match found {
        Some(device) if !sees_officer(&ctx.account, &device.scope.regions) => {
            Err(ctx.denied(&crate::access::Denied::OutsideRegion {
                allowed: ctx.account.scope().to_owned(),
                asked: device.scope.officer_name,
            }))
        }
        _ => Ok(()),
    }
}
