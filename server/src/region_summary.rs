//! A summary of the region index built into the binary, so operators can see
//! which edition of the Kemendagri codes a server runs.

use std::fmt;

use lindung_shared::region::{Level, RegencyKind, Regions, VillageKind};
use serde::Serialize;

/// Counts of the embedded region codes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RegionSummary {
    /// The regulation the codes follow.
    pub source: &'static str,
    /// Provinces.
    pub provinces: usize,
    /// Regencies (kabupaten).
    pub kabupaten: usize,
    /// Cities (kota).
    pub kota: usize,
    /// Districts (kecamatan).
    pub districts: usize,
    /// Urban villages (kelurahan).
    pub kelurahan: usize,
    /// Rural villages (desa).
    pub desa: usize,
    /// Customary villages (desa adat).
    pub desa_adat: usize,
    /// Retired district codes kept for old NIKs.
    pub retired_districts: usize,
}

impl RegionSummary {
    /// Walks the whole hierarchy once and counts every level and kind.
    pub fn of(regions: &Regions) -> RegionSummary {
        let mut summary = RegionSummary {
            source: "Kepmendagri No 300.2.2-2138 Tahun 2025",
            retired_districts: regions.counts().retired_districts,
            ..RegionSummary::default()
        };
        let mut stack: Vec<String> = vec![String::new()];
        while let Some(code) = stack.pop() {
            for child in regions.children(&code) {
                match (child.level, child.regency_kind(), child.village_kind()) {
                    (Level::Province, _, _) => summary.provinces += 1,
                    (Level::Regency, Some(RegencyKind::Kota), _) => summary.kota += 1,
                    (Level::Regency, _, _) => summary.kabupaten += 1,
                    (Level::District, _, _) => summary.districts += 1,
                    (Level::Village, _, Some(VillageKind::Kelurahan)) => summary.kelurahan += 1,
                    (Level::Village, _, Some(VillageKind::DesaAdat)) => summary.desa_adat += 1,
                    (Level::Village, _, _) => summary.desa += 1,
                }
                if child.level != Level::Village {
                    stack.push(child.code.to_string());
                }
            }
        }
        summary
    }
}

impl fmt::Display for RegionSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Kode wilayah / region codes: {}", self.source)?;
        writeln!(f, "  provinsi / provinces           {:>6}", self.provinces)?;
        writeln!(f, "  kabupaten / regencies          {:>6}", self.kabupaten)?;
        writeln!(f, "  kota / cities                  {:>6}", self.kota)?;
        writeln!(f, "  kecamatan / districts          {:>6}", self.districts)?;
        writeln!(f, "  kelurahan / urban villages     {:>6}", self.kelurahan)?;
        writeln!(f, "  desa / rural villages          {:>6}", self.desa)?;
        writeln!(f, "  desa adat / customary villages {:>6}", self.desa_adat)?;
        writeln!(
            f,
            "  kecamatan lama / retired       {:>6}",
            self.retired_districts
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_edition_has_the_published_counts() {
        let summary = RegionSummary::of(lindung_shared::region::regions());
        assert_eq!(
            (
                summary.provinces,
                summary.kabupaten,
                summary.kota,
                summary.districts
            ),
            (38, 416, 98, 7_285)
        );
        assert_eq!(
            (summary.kelurahan, summary.desa, summary.desa_adat),
            (8_496, 75_252, 14)
        );
        assert_eq!(summary.retired_districts, 594);
    }
}
