//! Coverage figures per region, computed once for every way staff see them:
//! `lindung-server coverage` (text or JSON) and `lindung-server export
//! coverage` (CSV or XLSX). The arithmetic is `lindung_shared::coverage`'s;
//! this module gathers its inputs (reference row, persons, pace, rates).

use lindung_shared::coverage::{ContributionRates, Coverage, CoverageInput, RateTable, coverage};
use lindung_shared::region::{Level, regions};
use time::{Date, Duration, OffsetDateTime};

use crate::reference::ReferenceRow;
use crate::storage::{CoverageCounts, Result, Storage};

/// One region's coverage, as a row of a listing or an export.
#[derive(Clone, Debug, PartialEq)]
pub struct RegionCoverage {
    /// The region code ("" for the whole country).
    pub region_code: String,
    /// Its name.
    pub region_name: String,
    /// Its level (none for the whole country).
    pub level: Option<Level>,
    /// The working population of the reference year, when known.
    pub working_population: Option<u64>,
    /// Participants covered outside Lindung, when known.
    pub baseline: Option<u64>,
    /// The figures.
    pub coverage: Coverage,
}

/// One region's coverage with what `coverage --region` shows beside it.
#[derive(Clone, Debug, PartialEq)]
pub struct RegionReport {
    /// The figures.
    pub row: RegionCoverage,
    /// Persons by category and payer.
    pub counts: CoverageCounts,
    /// The minimum monthly contribution the cost is computed at.
    pub monthly_contribution: u64,
}

/// The contribution rates in force on `date`: the stored table, or the
/// built-in PP 44/2015 rates while none is stored.
pub async fn rates_on(storage: &dyn Storage, date: Date) -> Result<ContributionRates> {
    let table = RateTable::new(storage.contribution_rates().await?);
    Ok(table
        .at(date)
        .copied()
        .unwrap_or_else(|| ContributionRates::pp44_2015(time::macros::date!(2015 - 07 - 01))))
}

/// Every region of `level` inside `code` ("" for the country), in code order.
pub fn regions_at(code: &str, level: Level) -> Vec<(String, String)> {
    let index = regions();
    let mut frontier = vec![code.to_owned()];
    let mut found = Vec::new();
    while let Some(parent) = frontier.pop() {
        for child in index.children(&parent) {
            if child.level == level {
                found.push((child.code.to_owned(), child.name.to_owned()));
            } else if child.code.len() < level.code_len() {
                frontier.push(child.code.to_owned());
            }
        }
    }
    found.sort();
    found
}

/// The coverage of one region (`code`, "" for the country) in `year`, with
/// the pace of the last 30 days.
pub async fn region_coverage(
    storage: &dyn Storage,
    code: &str,
    year: i32,
    include_baseline: bool,
    now: OffsetDateTime,
) -> Result<RegionReport> {
    let reference = storage
        .reference(year)
        .await?
        .into_iter()
        .find(|row| row.region_code == code);
    let counts = storage
        .coverage_counts(code, crate::storage::ms(now - Duration::days(30)))
        .await?;
    let rates = rates_on(storage, now.date()).await?;
    let figures = coverage(&CoverageInput {
        working_population: reference.as_ref().and_then(|r| r.working_population),
        baseline: reference.as_ref().and_then(|r| r.baseline).unwrap_or(0),
        include_baseline,
        persons: counts.persons,
        target_bp: reference.as_ref().and_then(|r| r.target_bp),
        registered_last_30_days: counts.persons_since,
        yearly_cost_per_person: 12 * rates.minimum_monthly(),
        today: now.date(),
    });
    let region_name = if code.is_empty() {
        "Indonesia".to_owned()
    } else {
        regions().full_name(code).unwrap_or_else(|| code.to_owned())
    };
    Ok(RegionReport {
        row: RegionCoverage {
            region_code: code.to_owned(),
            region_name,
            level: Level::of_code_len(code.len()),
            working_population: reference.as_ref().and_then(|r| r.working_population),
            baseline: reference.as_ref().and_then(|r| r.baseline),
            coverage: figures,
        },
        counts,
        monthly_contribution: rates.minimum_monthly(),
    })
}

/// The coverage of every region of `level` inside `code` ("" for the
/// country), in code order, each with the pace of its last 30 days.
pub async fn regions_coverage(
    storage: &dyn Storage,
    code: &str,
    level: Level,
    year: i32,
    include_baseline: bool,
    now: OffsetDateTime,
) -> Result<Vec<RegionCoverage>> {
    let reference: std::collections::HashMap<String, ReferenceRow> = storage
        .reference(year)
        .await?
        .into_iter()
        .map(|row| (row.region_code.clone(), row))
        .collect();
    let persons = storage.persons_by_region(code, level.code_len()).await?;
    let pace = storage
        .pace_by_region(
            code,
            level.code_len(),
            crate::storage::ms(now - Duration::days(30)),
        )
        .await?;
    let rates = rates_on(storage, now.date()).await?;
    let mut rows = Vec::new();
    for (child, name) in regions_at(code, level) {
        let reference = reference.get(&child);
        let figures = coverage(&CoverageInput {
            working_population: reference.and_then(|r| r.working_population),
            baseline: reference.and_then(|r| r.baseline).unwrap_or(0),
            include_baseline,
            persons: persons.get(&child).copied().unwrap_or(0),
            target_bp: reference.and_then(|r| r.target_bp),
            registered_last_30_days: pace.get(&child).copied().unwrap_or(0),
            yearly_cost_per_person: 12 * rates.minimum_monthly(),
            today: now.date(),
        });
        rows.push(RegionCoverage {
            region_code: child,
            region_name: name,
            level: Some(level),
            working_population: reference.and_then(|r| r.working_population),
            baseline: reference.and_then(|r| r.baseline),
            coverage: figures,
        });
    }
    Ok(rows)
}

/// A listing as JSON (what `coverage --level … --json` prints and the staff
/// API returns): one object per region.
pub fn listing_json(rows: &[RegionCoverage]) -> serde_json::Value {
    rows.iter()
        .map(|row| {
            serde_json::json!({
                "region_code": row.region_code,
                "region": row.region_name,
                "coverage": row.coverage,
            })
        })
        .collect()
}

/// One region's report as JSON (what `coverage --region … --json` prints
/// and the staff API returns).
pub fn report_json(
    code: &str,
    year: i32,
    include_baseline: bool,
    report: &RegionReport,
) -> serde_json::Value {
    serde_json::json!({
        "region_code": code,
        "region": report.row.region_name,
        "year": year,
        "baseline_included": include_baseline,
        "coverage": report.row.coverage,
        "persons_by_category": report.counts.by_category,
        "persons_by_payer": report.counts.by_payer,
        "monthly_contribution_per_person": report.monthly_contribution,
    })
}
