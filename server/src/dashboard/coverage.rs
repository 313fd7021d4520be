//! The coverage drill-down: the nation, then provinces, regencies,
//! districts and villages; each level's table with a bar against the target
//! per row and a chart, computed by [`crate::report`] like
//! `lindung-server coverage`.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use lindung_shared::coverage::Coverage;
use lindung_shared::lang::Lang;
use lindung_shared::region::{Level, regions};
use maud::{Markup, html};
use serde::Deserialize;
use time::OffsetDateTime;

use super::{Ctx, PageResult, Section, int, layout, maud_html, percent, rupiah, t};
use crate::api::AppState;
use crate::report::RegionCoverage;

/// The query of `/coverage`.
#[derive(Debug, Deserialize)]
pub struct CoverageQuery {
    region: Option<String>,
    year: Option<i32>,
    baseline: Option<String>,
}

/// The level listed below a region ("" is the country).
pub fn level_below(code: &str) -> Option<Level> {
    match code.len() {
        0 => Some(Level::Province),
        2 => Some(Level::Regency),
        4 => Some(Level::District),
        6 => Some(Level::Village),
        _ => None,
    }
}

fn level_name(lang: Lang, level: Level) -> &'static str {
    match level {
        Level::Province => t(lang, "Provinsi", "Province"),
        Level::Regency => t(lang, "Kabupaten/kota", "Regency/city"),
        Level::District => t(lang, "Kecamatan", "District"),
        Level::Village => t(lang, "Desa/kelurahan", "Village"),
    }
}

/// `GET /coverage`.
pub async fn page(
    State(state): State<Arc<AppState>>,
    ctx: Ctx,
    Query(query): Query<CoverageQuery>,
) -> PageResult {
    let lang = ctx.lang;
    let code = crate::reconcile::region_prefix(query.region.as_deref()).map_err(|_| {
        ctx.refuse(
            StatusCode::BAD_REQUEST,
            "Kode wilayah tidak dikenal.",
            "Unknown region code.",
        )
    })?;
    let code = crate::access::scoped(&ctx.account, Some(&code)).map_err(|d| ctx.denied(&d))?;
    let now = OffsetDateTime::now_utc();
    let year = query.year.unwrap_or(now.year());
    if !(2000..=2100).contains(&year) {
        return Err(ctx.refuse(
            StatusCode::BAD_REQUEST,
            "Tahun harus antara 2000 dan 2100.",
            "The year must be between 2000 and 2100.",
        ));
    }
    let baseline = query.baseline.as_deref() != Some("0");
    let storage = state.storage.as_ref();
    let report = crate::report::region_coverage(storage, &code, year, baseline, now)
        .await
        .map_err(|e| ctx.internal(&e))?;
    let level = level_below(&code);
    let rows = match level {
        Some(level) => crate::report::regions_coverage(storage, &code, level, year, baseline, now)
            .await
            .map_err(|e| ctx.internal(&e))?,
        None => Vec::new(),
    };
    let link = |region: &str| {
        format!(
            "/coverage?region={region}&year={year}&baseline={}",
            if baseline { 1 } else { 0 }
        )
    };
    let title = format!(
        "{} · {}",
        t(lang, "Cakupan", "Coverage"),
        report.row.region_name
    );
    let content = html! {
        (breadcrumbs(&ctx, &code, &link))
        form.filters method="get" action="/coverage" id="coverage-filters" {
            input type="hidden" name="region" value=(code);
            label for="year" { (t(lang, "Tahun", "Year")) }
            select id="year" name="year" data-autosubmit {
                @for y in (now.year() - 3)..=(now.year() + 1) {
                    option value=(y) selected[y == year] { (y) }
                }
            }
            label for="baseline" { (t(lang, "Peserta di luar Lindung", "Participants outside Lindung")) }
            select id="baseline" name="baseline" data-autosubmit {
                option value="1" selected[baseline] { (t(lang, "dihitung", "included")) }
                option value="0" selected[!baseline] { (t(lang, "tidak dihitung", "left out")) }
            }
            button type="submit" id="coverage-apply" { (t(lang, "Tampilkan", "Show")) }
        }
        section id="summary" data-testid="coverage-summary" aria-labelledby="summary-title" {
            h2 id="summary-title" { (report.row.region_name) }
            (summary(lang, &report.row, year))
        }
        @if let Some(level) = level {
            section aria-labelledby="listing-title" {
                h2 id="listing-title" { (level_name(lang, level)) " (" (rows.len()) ")" }
                (chart(lang, &rows))
                (table(lang, &rows, &link))
            }
        }
    };
    Ok(maud_html(layout(&ctx, Section::Coverage, &title, content)))
}

fn breadcrumbs(ctx: &Ctx, code: &str, link: &dyn Fn(&str) -> String) -> Markup {
    let index = regions();
    let mut trail = vec![(String::new(), "Indonesia".to_owned())];
    for len in [2, 4, 6, 10] {
        if code.len() >= len
            && let Some(prefix) = code.get(..len)
            && let Some(region) = index.get(prefix)
        {
            trail.push((prefix.to_owned(), region.name.to_owned()));
        }
    }
    html! {
        nav.breadcrumbs aria-label=(t(ctx.lang, "Jejak wilayah", "Breadcrumbs")) id="breadcrumbs" {
            ol {
                @for (i, (prefix, name)) in trail.iter().enumerate() {
                    li {
                        @if i + 1 == trail.len() {
                            span aria-current="page" { (name) }
                        } @else if ctx.account.sees(prefix) {
                            a href=(link(prefix)) data-region=(prefix) { (name) }
                        } @else {
                            span { (name) }
                        }
                    }
                }
            }
        }
    }
}

fn summary(lang: Lang, row: &RegionCoverage, year: i32) -> Markup {
    html! {
        dl.figures {
            @match row.coverage {
                Coverage::NoDenominator { persons } => {
                    dt { (t(lang, "Terdaftar lewat Lindung", "Persons via Lindung")) }
                    dd id="summary-persons" { (int(lang, persons)) }
                    dt { (t(lang, "Cakupan", "Coverage")) }
                    dd id="summary-coverage" {
                        (t(lang, "tanpa penyebut: belum ada data penduduk bekerja tahun ", "no denominator: no working-population figure for "))
                        (year)
                    }
                }
                Coverage::Measured(f) => {
                    dt { (t(lang, "Penduduk bekerja", "Working population")) }
                    dd id="summary-working-population" { (int(lang, f.working_population)) }
                    dt { (t(lang, "Terdaftar lewat Lindung", "Persons via Lindung")) }
                    dd id="summary-persons" { (int(lang, f.persons)) }
                    dt { (t(lang, "Tercakup", "Covered")) }
                    dd id="summary-covered" { (int(lang, f.covered)) }
                    dt { (t(lang, "Cakupan", "Coverage")) }
                    dd id="summary-coverage" { (percent(lang, f.coverage_bp)) }
                    dt { (t(lang, "Target", "Target")) }
                    dd id="summary-target" { (f.target_bp.map_or("-".into(), |bp| percent(lang, u64::from(bp)))) }
                    dt { (t(lang, "Kekurangan (orang)", "Gap (persons)")) }
                    dd id="summary-gap" { (f.gap_persons.map_or("-".into(), |n| int(lang, n))) }
                    dt { (t(lang, "Biaya menutup kekurangan per tahun", "Yearly cost to close the gap")) }
                    dd id="summary-cost" { (f.gap_cost_per_year.map_or("-".into(), |n| rupiah(lang, n))) }
                    dt { (t(lang, "Laju per 30 hari", "Pace per 30 days")) }
                    dd id="summary-pace" { (int(lang, f.pace_per_30_days)) }
                    dt { (t(lang, "Target tercapai", "Target date")) }
                    dd id="summary-target-date" { (target_date(lang, &f)) }
                }
            }
        }
    }
}

fn target_date(lang: Lang, f: &lindung_shared::coverage::CoverageFigures) -> String {
    match (f.target_bp, f.target_reached_on) {
        (None, _) => "-".into(),
        (Some(_), Some(date)) => date.to_string(),
        (Some(_), None) => t(lang, "tidak tercapai pada laju ini", "not at this pace").into(),
    }
}

/// A bar of coverage (0–100 %) with the target as a marker: SVG attributes,
/// not inline styles, so the CSP holds.
fn bar(lang: Lang, coverage_bp: u64, target_bp: Option<u32>) -> Markup {
    let width = (coverage_bp.min(10_000) as f64) / 100.0;
    let reached = target_bp.is_none_or(|target| coverage_bp >= u64::from(target));
    html! {
        svg.bar viewBox="0 0 100 10" width="120" height="14" role="img"
            aria-label=(format!("{} {}{}", t(lang, "cakupan", "coverage"), percent(lang, coverage_bp),
                target_bp.map_or(String::new(), |bp| format!(", target {}", percent(lang, u64::from(bp))))))
        {
            rect.track x="0" y="1" width="100" height="8" {}
            rect class=(if reached { "fill reached" } else { "fill" }) x="0" y="1" width=(format!("{width:.2}")) height="8" {}
            @if let Some(target) = target_bp {
                line.target x1=(format!("{:.2}", f64::from(target.min(10_000)) / 100.0))
                    x2=(format!("{:.2}", f64::from(target.min(10_000)) / 100.0)) y1="0" y2="10" {}
            }
        }
    }
}

fn table(lang: Lang, rows: &[RegionCoverage], link: &dyn Fn(&str) -> String) -> Markup {
    let drill = rows.first().is_some_and(|r| r.region_code.len() < 10);
    html! {
        div.table-wrap {
            table id="coverage-table" data-testid="coverage-table" {
                thead {
                    tr {
                        th scope="col" { (t(lang, "Wilayah", "Region")) }
                        th scope="col" { (t(lang, "Terdaftar", "Persons")) }
                        th scope="col" { (t(lang, "Tercakup", "Covered")) }
                        th scope="col" { (t(lang, "Cakupan", "Coverage")) }
                        th scope="col" { "Target" }
                        th scope="col" { (t(lang, "Bagan", "Bar")) }
                        th scope="col" { (t(lang, "Kekurangan (orang)", "Gap (persons)")) }
                        th scope="col" { (t(lang, "Biaya/tahun", "Cost/year")) }
                        th scope="col" { (t(lang, "Laju/30 hari", "Pace/30 days")) }
                        th scope="col" { (t(lang, "Target tercapai", "Target date")) }
                    }
                }
                tbody {
                    @for row in rows {
                        tr data-region=(row.region_code) id=(format!("region-{}", row.region_code)) {
                            th scope="row" {
                                @if drill {
                                    a href=(link(&row.region_code)) { (row.region_name) }
                                } @else {
                                    (row.region_name)
                                }
                                " " span.code { (row.region_code) }
                            }
                            @match row.coverage {
                                Coverage::NoDenominator { persons } => {
                                    td.num data-field="persons" { (int(lang, persons)) }
                                    td.muted colspan="8" data-field="coverage" { (t(lang, "tanpa penyebut", "no denominator")) }
                                }
                                Coverage::Measured(f) => {
                                    td.num data-field="persons" { (int(lang, f.persons)) }
                                    td.num data-field="covered" { (int(lang, f.covered)) }
                                    td.num data-field="coverage" { (percent(lang, f.coverage_bp)) }
                                    td.num data-field="target" { (f.target_bp.map_or("-".into(), |bp| percent(lang, u64::from(bp)))) }
                                    td { (bar(lang, f.coverage_bp, f.target_bp)) }
                                    td.num data-field="gap" { (f.gap_persons.map_or("-".into(), |n| int(lang, n))) }
                                    td.num data-field="cost" { (f.gap_cost_per_year.map_or("-".into(), |n| rupiah(lang, n))) }
                                    td.num data-field="pace" { (int(lang, f.pace_per_30_days)) }
                                    td data-field="target-date" { (target_date(lang, &f)) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A column chart of coverage per region (those with a denominator, at
/// most 60), each with its target as a marker.
fn chart(lang: Lang, rows: &[RegionCoverage]) -> Markup {
    let measured: Vec<(&str, &str, u64, Option<u32>)> = rows
        .iter()
        .filter_map(|row| match row.coverage {
            Coverage::Measured(f) => Some((
                row.region_code.as_str(),
                row.region_name.as_str(),
                f.coverage_bp,
                f.target_bp,
            )),
            Coverage::NoDenominator { .. } => None,
        })
        .take(60)
        .collect();
    if measured.is_empty() {
        return html! {
            p.muted id="coverage-chart-empty" {
                (t(lang, "Belum ada wilayah dengan penyebut untuk digambar.", "No region with a denominator to chart yet."))
            }
        };
    }
    let column = 20.0;
    let width = column * measured.len() as f64 + 40.0;
    let y = |bp: u64| 110.0 - (bp.min(10_000) as f64) / 100.0;
    html! {
        figure.chart {
            svg id="coverage-chart" data-testid="coverage-chart" viewBox=(format!("0 0 {width} 130")) role="img"
                aria-label=(t(lang, "Bagan cakupan per wilayah terhadap target", "Chart of coverage per region against target"))
            {
                line.axis x1="30" x2=(width) y1="110" y2="110" {}
                @for (tick, label) in [(0u64, "0"), (5_000, "50"), (10_000, "100")] {
                    line.grid x1="30" x2=(width) y1=(y(tick)) y2=(y(tick)) {}
                    text.tick x="2" y=(y(tick) + 3.0) { (label) "%" }
                }
                @for (i, (code, name, bp, target)) in measured.iter().enumerate() {
                    @let x = 34.0 + column * i as f64;
                    g data-region=(code) {
                        title { (name) ": " (percent(lang, *bp)) }
                        rect class=(if target.is_none_or(|t| *bp >= u64::from(t)) { "fill reached" } else { "fill" })
                            x=(x) y=(y(*bp)) width=(column - 6.0) height=(110.0 - y(*bp)) {}
                        @if let Some(target) = target {
                            line.target x1=(x - 1.0) x2=(x + column - 5.0) y1=(y(u64::from(*target))) y2=(y(u64::from(*target))) {}
                        }
                        text.label x=(x) y="124" { (code.get(code.len().saturating_sub(2)..).unwrap_or(code)) }
                    }
                }
            }
            figcaption { (t(lang, "Batang: cakupan; garis: target.", "Bars: coverage; lines: target.")) }
        }
    }
}
