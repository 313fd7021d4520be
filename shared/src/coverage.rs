//! Coverage arithmetic: contribution rates, coverage against a denominator,
//! the gap to a target, what closing it costs, and when the current pace
//! reaches it. Pure integer arithmetic (rupiah, persons, basis points), so
//! every replica and both storage backends compute the same figures.
//!
//! **Formula** (Universal Coverage Jamsostek):
//!
//! ```text
//! covered      = baseline (participants already covered outside Lindung, when included)
//!              + persons  (distinct persons with an active registration in Lindung)
//! coverage %   = covered / working population × 100
//! target       = ⌈working population × target % / 100⌉ persons
//! gap          = max(0, target − covered) persons
//! cost / year  = gap × 12 × monthly JKK+JKM contribution (the minimum bracket,
//!                or the payer's declared income)
//! pace         = persons registered in the last 30 days / 30 per day
//! target date  = today + ⌈gap / pace⌉ days (none at a pace of zero)
//! ```
//!
//! A region without a working-population figure has no coverage: it reports
//! its registered persons and says the denominator is missing, never a number.

use serde::{Deserialize, Serialize};
use time::{Date, Duration};

/// Basis points in one percent (16.97 % = 1,697 bp).
pub const BP_PER_PERCENT: u64 = 100;
const BP_WHOLE: u64 = 100 * BP_PER_PERCENT;

/// Monthly contribution rates of the informal-worker (BPU) scheme, valid from a date.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContributionRates {
    /// First day these rates apply.
    pub effective_from: Date,
    /// JKK rate on declared monthly income, in basis points (1 % = 100).
    pub jkk_rate_bp: u32,
    /// JKK minimum per month, rupiah.
    pub jkk_min: u64,
    /// JKK maximum per month, rupiah.
    pub jkk_max: u64,
    /// JKM per month, rupiah (flat).
    pub jkm_flat: u64,
    /// JHT rate on declared monthly income, in basis points.
    pub jht_rate_bp: u32,
}

impl ContributionRates {
    /// PP 44/2015 as amended (see `../shared/domain.md`): JKK 1 % of declared
    /// income, at least Rp 10,000 and at most Rp 207,000; JKM Rp 6,800; JHT 2 %.
    pub fn pp44_2015(effective_from: Date) -> ContributionRates {
        ContributionRates {
            effective_from,
            jkk_rate_bp: 100,
            jkk_min: 10_000,
            jkk_max: 207_000,
            jkm_flat: 6_800,
            jht_rate_bp: 200,
        }
    }

    /// What one person pays a month at a declared income.
    pub fn monthly(&self, declared_income: u64, with_jht: bool) -> MonthlyContribution {
        let share = |rate_bp: u32| declared_income.saturating_mul(u64::from(rate_bp)) / BP_WHOLE;
        let jkk = share(self.jkk_rate_bp).clamp(self.jkk_min, self.jkk_max.max(self.jkk_min));
        let jht = if with_jht { share(self.jht_rate_bp) } else { 0 };
        MonthlyContribution {
            jkk,
            jkm: self.jkm_flat,
            jht,
        }
    }

    /// The JKK+JKM minimum a month (the lowest bracket).
    pub fn minimum_monthly(&self) -> u64 {
        self.monthly(0, false).total()
    }
}

/// One month's contribution, rupiah.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonthlyContribution {
    /// Work-accident cover.
    pub jkk: u64,
    /// Death cover.
    pub jkm: u64,
    /// Old-age savings (0 when not chosen).
    pub jht: u64,
}

impl MonthlyContribution {
    /// All programmes together.
    pub fn total(&self) -> u64 {
        self.jkk + self.jkm + self.jht
    }
}

/// Rates over time; the one in force on a date is the latest that started by then.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateTable {
    entries: Vec<ContributionRates>,
}

impl RateTable {
    /// A table from entries in any order; a later entry for the same date replaces an earlier one.
    pub fn new(entries: impl IntoIterator<Item = ContributionRates>) -> RateTable {
        let mut table = RateTable::default();
        for entry in entries {
            table.set(entry);
        }
        table
    }

    /// Adds or replaces the rates starting on `rates.effective_from`.
    pub fn set(&mut self, rates: ContributionRates) {
        match self
            .entries
            .binary_search_by_key(&rates.effective_from, |e| e.effective_from)
        {
            Ok(i) => self.entries[i] = rates,
            Err(i) => self.entries.insert(i, rates),
        }
    }

    /// The rates in force on `date`.
    pub fn at(&self, date: Date) -> Option<&ContributionRates> {
        self.entries.iter().rev().find(|e| e.effective_from <= date)
    }

    /// Every entry, oldest first.
    pub fn entries(&self) -> &[ContributionRates] {
        &self.entries
    }
}

/// What a region's figures are computed from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CoverageInput {
    /// Working population (the denominator), when known.
    pub working_population: Option<u64>,
    /// Participants covered outside Lindung.
    pub baseline: u64,
    /// Whether to count the baseline (switchable, to see Lindung's own share).
    pub include_baseline: bool,
    /// Distinct persons with an active registration in Lindung.
    pub persons: u64,
    /// The year's target, in basis points, when set.
    pub target_bp: Option<u32>,
    /// Persons registered in the last 30 days.
    pub registered_last_30_days: u64,
    /// Yearly cost of covering one more person (12 × monthly JKK+JKM).
    pub yearly_cost_per_person: u64,
    /// Today.
    pub today: Date,
}

/// A region's coverage.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Coverage {
    /// No working-population figure for this region and year.
    NoDenominator {
        /// Persons registered through Lindung.
        persons: u64,
    },
    /// Coverage against the denominator.
    Measured(CoverageFigures),
}

/// The figures of a region with a denominator.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct CoverageFigures {
    /// Baseline (when included) plus persons registered through Lindung.
    pub covered: u64,
    /// Persons registered through Lindung.
    pub persons: u64,
    /// The denominator.
    pub working_population: u64,
    /// Coverage in basis points, rounded half up (1,697 = 16.97 %).
    pub coverage_bp: u64,
    /// Coverage as a percentage with two decimals, for display.
    pub coverage_percent: f64,
    /// The target in basis points, when set.
    pub target_bp: Option<u32>,
    /// Persons the target requires.
    pub target_persons: Option<u64>,
    /// Persons still missing to reach the target (0 when reached).
    pub gap_persons: Option<u64>,
    /// Yearly cost of covering the gap, rupiah.
    pub gap_cost_per_year: Option<u64>,
    /// Registrations per 30 days at the current pace.
    pub pace_per_30_days: u64,
    /// When the target is reached at that pace (today when reached; none when the pace is zero).
    pub target_reached_on: Option<Date>,
}

/// Computes a region's coverage.
pub fn coverage(input: &CoverageInput) -> Coverage {
    let Some(working_population) = input.working_population.filter(|wp| *wp > 0) else {
        return Coverage::NoDenominator {
            persons: input.persons,
        };
    };
    let baseline = if input.include_baseline {
        input.baseline
    } else {
        0
    };
    let covered = baseline.saturating_add(input.persons);
    let coverage_bp = ratio_bp(covered, working_population);
    let target_persons = input
        .target_bp
        .map(|bp| ceil_div(working_population.saturating_mul(u64::from(bp)), BP_WHOLE));
    let gap_persons = target_persons.map(|target| target.saturating_sub(covered));
    let gap_cost_per_year = gap_persons.map(|gap| gap.saturating_mul(input.yearly_cost_per_person));
    let target_reached_on = match gap_persons {
        Some(0) => Some(input.today),
        Some(gap) if input.registered_last_30_days > 0 => {
            let days = ceil_div(gap.saturating_mul(30), input.registered_last_30_days);
            i64::try_from(days)
                .ok()
                .and_then(|days| input.today.checked_add(Duration::days(days)))
        }
        _ => None,
    };
    Coverage::Measured(CoverageFigures {
        covered,
        persons: input.persons,
        working_population,
        coverage_bp,
        coverage_percent: coverage_bp as f64 / BP_PER_PERCENT as f64,
        target_bp: input.target_bp,
        target_persons,
        gap_persons,
        gap_cost_per_year,
        pace_per_30_days: input.registered_last_30_days,
        target_reached_on,
    })
}

/// `part / whole` in basis points, rounded half up.
pub fn ratio_bp(part: u64, whole: u64) -> u64 {
    if whole == 0 {
        return 0;
    }
    let scaled = u128::from(part) * u128::from(BP_WHOLE);
    let whole = u128::from(whole);
    u64::try_from((scaled * 2 + whole) / (whole * 2)).unwrap_or(u64::MAX)
}

fn ceil_div(a: u64, b: u64) -> u64 {
    if b == 0 { 0 } else { a.div_ceil(b) }
}

/// Parses a percentage as people write it (`28.30`, `28,3`, `28.30 %`) into basis points.
pub fn parse_percent_bp(text: &str) -> Option<u32> {
    let cleaned: String = text.trim().trim_end_matches('%').trim().replace(',', ".");
    let (whole, fraction) = match cleaned.split_once('.') {
        Some((whole, fraction)) => (whole, fraction),
        None => (cleaned.as_str(), ""),
    };
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    if !whole.bytes().all(|b| b.is_ascii_digit()) || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if fraction.len() > 2 {
        return None;
    }
    let whole: u32 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let fraction: u32 = match fraction.len() {
        0 => 0,
        1 => fraction.parse::<u32>().ok()? * 10,
        _ => fraction.parse().ok()?,
    };
    let bp = whole.checked_mul(100)?.checked_add(fraction)?;
    (bp <= 10_000).then_some(bp)
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;

    fn rates() -> ContributionRates {
        ContributionRates::pp44_2015(date!(2015 - 07 - 01))
    }

    fn input(working_population: Option<u64>, persons: u64, target: &str) -> CoverageInput {
        CoverageInput {
            working_population,
            baseline: 0,
            include_baseline: true,
            persons,
            target_bp: parse_percent_bp(target),
            registered_last_30_days: 0,
            yearly_cost_per_person: 12 * rates().minimum_monthly(),
            today: date!(2025 - 06 - 01),
        }
    }

    fn measured(coverage: Coverage) -> CoverageFigures {
        match coverage {
            Coverage::Measured(figures) => figures,
            other => panic!("expected figures, got {other:?}"),
        }
    }

    #[test]
    fn the_minimum_bracket_is_rp_16_800_a_month_and_36_800_with_jht() {
        let rates = rates();
        assert_eq!(rates.minimum_monthly(), 16_800);
        assert_eq!(rates.monthly(1_000_000, true).total(), 36_800);
        assert_eq!(rates.monthly(5_000_000, false).jkk, 50_000);
        assert_eq!(
            rates.monthly(50_000_000, false).jkk,
            207_000,
            "JKK is capped"
        );
    }

    #[test]
    fn the_rate_in_force_is_the_latest_started() {
        let normal = rates();
        let relief = ContributionRates {
            effective_from: date!(2020 - 08 - 01),
            jkm_flat: 68,
            jkk_min: 100,
            ..normal
        };
        let back = ContributionRates {
            effective_from: date!(2021 - 02 - 01),
            ..normal
        };
        let table = RateTable::new([back, normal, relief]);
        assert_eq!(table.at(date!(2015 - 01 - 01)), None);
        assert_eq!(table.at(date!(2019 - 01 - 01)), Some(&normal));
        assert_eq!(
            table.at(date!(2020 - 12 - 31)).map(|r| r.jkm_flat),
            Some(68)
        );
        assert_eq!(table.at(date!(2025 - 01 - 01)), Some(&back));
    }

    #[test]
    fn solok_selatan_at_16_97_percent_against_28_30() {
        // 16.97 % of a working population of 100,000 is 16,970 people covered.
        let mut case = input(Some(100_000), 2_970, "28.30");
        case.baseline = 14_000;
        let figures = measured(coverage(&case));
        assert_eq!(figures.covered, 16_970);
        assert_eq!(figures.coverage_bp, 1_697);
        assert_eq!(figures.target_persons, Some(28_300));
        assert_eq!(figures.gap_persons, Some(11_330));
        assert_eq!(figures.gap_cost_per_year, Some(11_330 * 12 * 16_800));
        // Without the baseline: Lindung's own share.
        case.include_baseline = false;
        assert_eq!(measured(coverage(&case)).coverage_bp, 297);
    }

    #[test]
    fn sarolangun_43_percent_of_112_000_wanting_65() {
        let mut case = input(Some(112_000), 48_160, "65");
        case.registered_last_30_days = 2_464;
        let figures = measured(coverage(&case));
        assert_eq!(figures.coverage_percent, 43.0);
        assert_eq!(figures.gap_persons, Some(24_640));
        assert_eq!(figures.gap_cost_per_year, Some(4_967_424_000));
        // 2,464 a month closes 24,640 in 300 days.
        assert_eq!(figures.target_reached_on, Some(date!(2026 - 03 - 28)));
    }

    #[test]
    fn a_region_without_a_denominator_says_so_and_a_reached_target_has_no_gap() {
        assert_eq!(
            coverage(&input(None, 12, "50")),
            Coverage::NoDenominator { persons: 12 }
        );
        assert_eq!(
            coverage(&input(Some(0), 12, "50")),
            Coverage::NoDenominator { persons: 12 }
        );
        let kaur = measured(coverage(&input(Some(1_000), 750, "50")));
        assert_eq!(
            (kaur.gap_persons, kaur.target_reached_on),
            (Some(0), Some(date!(2025 - 06 - 01)))
        );
        let no_target = measured(coverage(&input(Some(1_000), 170, "")));
        assert_eq!(
            (no_target.gap_persons, no_target.target_reached_on),
            (None, None)
        );
        let no_pace = measured(coverage(&input(Some(1_000), 170, "50")));
        assert_eq!(no_pace.target_reached_on, None);
    }

    #[test]
    fn percentages_are_read_as_people_write_them() {
        assert_eq!(parse_percent_bp("28.30"), Some(2_830));
        assert_eq!(parse_percent_bp("28,3 %"), Some(2_830));
        assert_eq!(parse_percent_bp("65"), Some(6_500));
        assert_eq!(parse_percent_bp("0.5"), Some(50));
        assert_eq!(parse_percent_bp("100"), Some(10_000));
        for bad in ["", "%", "101", "12.345", "-5", "abc", "1.2.3"] {
            assert_eq!(parse_percent_bp(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn ratios_round_half_up_and_never_divide_by_zero() {
        assert_eq!(ratio_bp(1, 3), 3_333);
        assert_eq!(ratio_bp(2, 3), 6_667);
        assert_eq!(ratio_bp(1, 0), 0);
        assert_eq!(ratio_bp(u64::MAX, 1), u64::MAX);
    }
}
