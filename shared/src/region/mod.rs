//! The official Kemendagri region-code index (kode wilayah): 38 provinces, 514 regencies and
//! cities, 7,285 districts, 83,762 villages, plus 594 retired district codes, embedded in the
//! binary, with lookups and a type-ahead name search.
//!
//! Data: Kepmendagri No 300.2.2-2138 Tahun 2025 via `cahyadsn/wilayah` (MIT); provenance and
//! derivation are in `shared/data/wilayah/SOURCE.md`. These are Kemendagri codes (district = 6
//! digits), not BPS codes (district = 7 digits); do not mix them.
//!
//! # Embedding
//! `build.rs` validates the CSVs and writes a compact text (children grouped under their parent,
//! only the code's own digits, consecutive village numbers elided) of 1,161,342 bytes,
//! compressed with zlib (miniz_oxide level 10, Adler-32 checked on decode) to **425,415 bytes**
//! (`WILAYAH_COMPRESSED_LEN`; a test keeps it under 450 KB). It is inflated once, on first use
//! of [`regions`]; the inflated text is freed right after decoding.
//!
//! # Memory and speed
//! The decoded [`Regions`] holds no per-region allocation: one arena of code digits (fixed width
//! per level, so no offsets), one arena of names with a `u32` end offset each, one arena of
//! folded names laid out on the same offsets (padded, so it needs no offsets of its own), and a
//! `u16` parent index per region. Heap: **3,310,123 bytes** (3.2 MiB, [`Regions::heap_bytes`],
//! the sum of all capacities, printed by the ignored test `measure_decode_and_search`); the
//! process RSS grows by about 3.6 MB when it is decoded.
//!
//! Measured with that test in a release build on the shared 2-core build VM: decode 11–13 ms
//! (3.3 ms of it inflating); search over 1,354 type-ahead queries (village-name prefixes, first
//! words, full names, name + regency, `within` a regency, district names, code prefixes,
//! one- and two-letter queries), median of 5 runs each: p50 0.09 ms, p90 0.3 ms, p99 0.65 ms,
//! worst 2.8 ms (the query "a", which matches most names).
//!
//! # Codes
//! A [`Region`]'s `code` is a `&str` of 2, 4, 6 or 10 ASCII digits without dots, borrowed from the
//! index. Every function taking a code accepts the dotted form too (`"13.11.01.2001"`).

mod decode;
mod fold;
mod search;
#[cfg(test)]
mod tests;

use std::fmt;
use std::ops::Range;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::lang::{Lang, Problem, Severity};

pub use fold::{fold_name, normalize_code};
pub use search::{SearchHit, SearchOptions};

use fold::Digits;

include!(concat!(env!("OUT_DIR"), "/wilayah_meta.rs"));

/// The compact region index written by `build.rs`, zlib-compressed.
static WILAYAH: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/wilayah.zlib"));

/// Size of the compressed region data embedded in every binary, in bytes.
pub fn embedded_data_bytes() -> usize {
    WILAYAH.len()
}

/// The level of a region in the administrative hierarchy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Provinsi: 2-digit code, e.g. `13` Sumatera Barat.
    Province,
    /// Kabupaten or kota: 4-digit code, e.g. `1311` Kabupaten Solok Selatan.
    Regency,
    /// Kecamatan: 6-digit code, e.g. `131101` Sangir.
    District,
    /// Desa or kelurahan: 10-digit code, e.g. `1311012001` Lubuk Gadang.
    Village,
}

impl Level {
    /// All levels, from the top.
    pub const ALL: [Level; 4] = [
        Level::Province,
        Level::Regency,
        Level::District,
        Level::Village,
    ];

    /// The level whose codes have `len` digits (2, 4, 6 or 10).
    pub fn of_code_len(len: usize) -> Option<Level> {
        match len {
            2 => Some(Level::Province),
            4 => Some(Level::Regency),
            6 => Some(Level::District),
            10 => Some(Level::Village),
            _ => None,
        }
    }

    /// The number of digits of a code at this level.
    pub fn code_len(self) -> usize {
        match self {
            Level::Province => 2,
            Level::Regency => 4,
            Level::District => 6,
            Level::Village => 10,
        }
    }

    /// The level above, if any.
    pub fn parent(self) -> Option<Level> {
        match self {
            Level::Province => None,
            Level::Regency => Some(Level::Province),
            Level::District => Some(Level::Regency),
            Level::Village => Some(Level::District),
        }
    }

    /// The level below, if any.
    pub fn child(self) -> Option<Level> {
        match self {
            Level::Province => Some(Level::Regency),
            Level::Regency => Some(Level::District),
            Level::District => Some(Level::Village),
            Level::Village => None,
        }
    }

    /// The Indonesian name: `provinsi`, `kabupaten/kota`, `kecamatan`, `desa/kelurahan`.
    pub fn name_id(self) -> &'static str {
        match self {
            Level::Province => "provinsi",
            Level::Regency => "kabupaten/kota",
            Level::District => "kecamatan",
            Level::Village => "desa/kelurahan",
        }
    }

    /// The English name: `province`, `regency or city`, `district`, `village`.
    pub fn name_en(self) -> &'static str {
        match self {
            Level::Province => "province",
            Level::Regency => "regency or city",
            Level::District => "district",
            Level::Village => "village",
        }
    }

    /// The name in the given language.
    pub fn name(self, lang: Lang) -> &'static str {
        match lang {
            Lang::Id => self.name_id(),
            Lang::En => self.name_en(),
        }
    }

    /// Position in [`Level::ALL`], used to index per-level tables.
    fn index(self) -> usize {
        self as usize
    }
}

/// Whether a village is a kelurahan, a desa or a desa adat (7th digit of its code: 1, 2, 3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VillageKind {
    /// Kelurahan: an urban village headed by an appointed lurah.
    Kelurahan,
    /// Desa: a village with its own elected government.
    Desa,
    /// Desa adat: a customary village (in the current data only in Kabupaten Jayapura, 9103).
    DesaAdat,
}

impl VillageKind {
    /// The kind of a 10-digit village code (dots allowed); `None` for other codes.
    pub fn of_code(code: &str) -> Option<VillageKind> {
        let digits = Digits::code(code)?;
        match digits.as_bytes() {
            [_, _, _, _, _, _, kind, _, _, _] => match kind {
                b'1' => Some(VillageKind::Kelurahan),
                b'2' => Some(VillageKind::Desa),
                b'3' => Some(VillageKind::DesaAdat),
                _ => None,
            },
            _ => None,
        }
    }

    /// The Indonesian name: `kelurahan`, `desa`, `desa adat`.
    pub fn name_id(self) -> &'static str {
        match self {
            VillageKind::Kelurahan => "kelurahan",
            VillageKind::Desa => "desa",
            VillageKind::DesaAdat => "desa adat",
        }
    }

    /// The English name: `urban village`, `village`, `customary village`.
    pub fn name_en(self) -> &'static str {
        match self {
            VillageKind::Kelurahan => "urban village",
            VillageKind::Desa => "village",
            VillageKind::DesaAdat => "customary village",
        }
    }
}

/// Whether a regency is a kabupaten or a kota (digits 3–4 of its code: 01–69, 71–99).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegencyKind {
    /// Kabupaten (regency).
    Kabupaten,
    /// Kota (city).
    Kota,
}

impl RegencyKind {
    /// The kind of a 4-digit regency code (dots allowed); `None` for other codes and for 70/00.
    pub fn of_code(code: &str) -> Option<RegencyKind> {
        let digits = Digits::code(code)?;
        match digits.as_bytes() {
            [_, _, a, b] => match (a - b'0') * 10 + (b - b'0') {
                1..=69 => Some(RegencyKind::Kabupaten),
                71..=99 => Some(RegencyKind::Kota),
                _ => None,
            },
            _ => None,
        }
    }

    /// The Indonesian name: `kabupaten`, `kota`.
    pub fn name_id(self) -> &'static str {
        match self {
            RegencyKind::Kabupaten => "kabupaten",
            RegencyKind::Kota => "kota",
        }
    }

    /// The English name: `regency`, `city`.
    pub fn name_en(self) -> &'static str {
        match self {
            RegencyKind::Kabupaten => "regency",
            RegencyKind::Kota => "city",
        }
    }
}

/// One current region, borrowed from the index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Region<'a> {
    /// The code: 2, 4, 6 or 10 ASCII digits, no dots.
    pub code: &'a str,
    /// The official name as published (regencies carry their "Kabupaten"/"Kota" prefix).
    pub name: &'a str,
    /// The level, which always matches the code's length.
    pub level: Level,
}

impl<'a> Region<'a> {
    /// Kelurahan, desa or desa adat, for a village; `None` for other levels.
    pub fn village_kind(&self) -> Option<VillageKind> {
        VillageKind::of_code(self.code)
    }

    /// Kabupaten or kota, for a regency; `None` for other levels.
    pub fn regency_kind(&self) -> Option<RegencyKind> {
        RegencyKind::of_code(self.code)
    }

    /// The parent's code (the code without its last part); `None` for a province.
    pub fn parent_code(&self) -> Option<&'a str> {
        let len = self.level.parent()?.code_len();
        self.code.get(..len)
    }
}

/// A district code that was valid in an earlier edition of the regulation but is not any more.
///
/// All 594 are in Papua (91) and Papua Barat (92), renumbered when new provinces were created in
/// 2022 and 2025. NIKs issued before keep the old prefix for life, so the NIK check needs them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct RetiredDistrict<'a> {
    /// The retired 6-digit code.
    pub code: &'a str,
    /// The regency it belonged to (its first 4 digits; that regency may itself be retired).
    pub regency_code: &'a str,
    /// The name it had.
    pub name: &'a str,
    /// The last edition listing it, e.g. `Permendagri 58/2021`.
    pub last_listed_in: &'a str,
    /// The current district with the same name in the matching regency: an inference by name,
    /// not an official crosswalk. `None` for the 5 without an exact match.
    pub successor_code: Option<&'a str>,
}

/// How many regions of each kind the index holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegionCounts {
    /// Provinces (38).
    pub provinces: usize,
    /// Regencies and cities (514).
    pub regencies: usize,
    /// Districts (7,285).
    pub districts: usize,
    /// Villages (83,762).
    pub villages: usize,
    /// Retired district codes (594).
    pub retired_districts: usize,
}

/// The embedded region index could not be decoded: the binary is damaged.
///
/// `build.rs` validates the data and a unit test decodes it, so this is not expected in a
/// correctly built binary.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the built-in region code index is damaged: {detail}")]
pub struct RegionDataError {
    detail: String,
}

impl RegionDataError {
    fn new(detail: impl Into<String>) -> Self {
        RegionDataError {
            detail: detail.into(),
        }
    }
}

impl Problem for RegionDataError {
    fn code(&self) -> &'static str {
        "region_data_damaged"
    }

    fn severity(&self) -> Severity {
        Severity::Error
    }

    fn message(&self, lang: Lang) -> String {
        match lang {
            Lang::Id => format!(
                "Data kode wilayah bawaan aplikasi rusak ({}); pasang ulang aplikasi.",
                self.detail
            ),
            Lang::En => format!(
                "The built-in region code data is damaged ({}); reinstall the application.",
                self.detail
            ),
        }
    }
}

/// The decoded region index. Get it with [`regions`].
///
/// Regions are numbered level by level (provinces, then regencies, districts, villages), each
/// level sorted by code; so a level is an index range, children are a contiguous sub-range, and
/// numbering order is the search tie-break order (level, then code).
pub struct Regions {
    /// Code digits, level by level; within a level every code has the level's width.
    codes: String,
    /// Every name, concatenated in numbering order.
    names: String,
    /// `name_ends[i]`: end of region `i`'s name in `names` (its start is `name_ends[i - 1]`).
    name_ends: Vec<u32>,
    /// Folded names: region `i` occupies `names`' byte range shifted by `i`, holding its folded
    /// name padded with NUL to the original length, then one NUL separator. Folding never
    /// lengthens a name in this data (checked when decoding), so no second offset table is
    /// needed, and a search token (never containing NUL) cannot match across two names.
    folded: Vec<u8>,
    /// `parents[i]`: region `i`'s parent as an index within the level above (0 for provinces).
    parents: Vec<u16>,
    /// First region number of each level, and the total count at the end.
    level_start: [usize; 5],
    /// Start of each level in `codes`.
    code_start: [usize; 4],
    /// Retired district codes.
    retired: RetiredTable,
}

/// Retired districts: fixed-width codes plus one text arena for the other fields.
struct RetiredTable {
    /// 6-digit codes, sorted.
    codes: String,
    /// Name, last edition and successor of every entry, concatenated.
    text: String,
    /// Per entry: ends of name, last edition and successor in `text`.
    ends: Vec<[u32; 3]>,
}

impl fmt::Debug for Regions {
    // The derived form would print megabytes of arenas.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Regions")
            .field("counts", &self.counts())
            .field("heap_bytes", &self.heap_bytes())
            .finish()
    }
}

/// The embedded region index, decoded on first use (≈ 12 ms) and kept for the process lifetime.
///
/// # Panics
/// If the embedded data cannot be decoded, which means the binary itself is damaged (the data is
/// validated at build time and decoded by a unit test). Use [`try_regions`] to handle that case.
pub fn regions() -> &'static Regions {
    match try_regions() {
        Ok(regions) => regions,
        Err(e) => panic!("{e}"),
    }
}

/// The embedded region index, or why it cannot be decoded. Decoded once; later calls are free.
pub fn try_regions() -> Result<&'static Regions, &'static RegionDataError> {
    static INDEX: OnceLock<Result<Regions, RegionDataError>> = OnceLock::new();
    INDEX
        .get_or_init(|| decode::decode(WILAYAH, WILAYAH_RAW_LEN))
        .as_ref()
}

impl Regions {
    /// How many regions of each level, and retired district codes, the index holds.
    pub fn counts(&self) -> RegionCounts {
        let n = |l: Level| self.level_range(l).len();
        RegionCounts {
            provinces: n(Level::Province),
            regencies: n(Level::Regency),
            districts: n(Level::District),
            villages: n(Level::Village),
            retired_districts: self.retired.ends.len(),
        }
    }

    /// Bytes this index holds on the heap (allocated capacity of all its tables).
    pub fn heap_bytes(&self) -> usize {
        self.codes.capacity()
            + self.names.capacity()
            + self.name_ends.capacity() * size_of::<u32>()
            + self.folded.capacity()
            + self.parents.capacity() * size_of::<u16>()
            + self.retired.codes.capacity()
            + self.retired.text.capacity()
            + self.retired.ends.capacity() * size_of::<[u32; 3]>()
    }

    /// The current region with this code, at any level; dotted codes are accepted.
    /// `None` for malformed codes, unknown codes and retired codes (see
    /// [`retired_district`](Self::retired_district)).
    pub fn get(&self, code: &str) -> Option<Region<'_>> {
        let digits = Digits::code(code)?;
        self.find(&digits).map(|i| self.region_at(i))
    }

    /// The ancestors of a region, province first, without the region itself; empty if the code
    /// is unknown or a province.
    pub fn ancestors(&self, code: &str) -> Vec<Region<'_>> {
        let Some(mut i) = Digits::code(code).and_then(|d| self.find(&d)) else {
            return Vec::new();
        };
        let mut out = Vec::with_capacity(3);
        while let Some(p) = self.parent_index(i) {
            out.push(self.region_at(p));
            i = p;
        }
        out.reverse();
        out
    }

    /// The direct children of a region, sorted by code. An empty code (or only dots and spaces)
    /// gives the 38 provinces; an unknown code, a malformed one or a village gives nothing.
    pub fn children(&self, code: &str) -> Vec<Region<'_>> {
        let Some(digits) = Digits::strip(code) else {
            return Vec::new();
        };
        let range = if digits.is_empty() {
            self.level_range(Level::Province)
        } else {
            match Level::of_code_len(digits.len()).and_then(Level::child) {
                Some(child) => self.prefix_range(child, digits.as_bytes()),
                None => return Vec::new(),
            }
        };
        range.map(|i| self.region_at(i)).collect()
    }

    /// The 38 provinces, sorted by code.
    pub fn provinces(&self) -> impl Iterator<Item = Region<'_>> {
        self.level_range(Level::Province).map(|i| self.region_at(i))
    }

    /// A retired district code (dots allowed), or `None` if it was never retired here
    /// (including current codes: use [`get`](Self::get) for those).
    pub fn retired_district(&self, code: &str) -> Option<RetiredDistrict<'_>> {
        let digits = Digits::code(code)?;
        let t = &self.retired;
        let n = t.ends.len();
        let k = fixed_width_find(&t.codes, 6, 0..n, digits.as_bytes())?;
        Some(self.retired_at(k))
    }

    /// All retired district codes, sorted by code.
    pub fn retired_districts(&self) -> impl Iterator<Item = RetiredDistrict<'_>> {
        (0..self.retired.ends.len()).map(|k| self.retired_at(k))
    }

    /// The full name from the region up to its province, comma-separated, districts prefixed
    /// "Kec.": `"Lubuk Gadang, Kec. Sangir, Kabupaten Solok Selatan, Sumatera Barat"`.
    /// `None` if the code is not a current region.
    pub fn full_name(&self, code: &str) -> Option<String> {
        let mut i = Digits::code(code).and_then(|d| self.find(&d))?;
        let mut out = String::with_capacity(96);
        loop {
            let region = self.region_at(i);
            if !out.is_empty() {
                out.push_str(", ");
            }
            if region.level == Level::District {
                out.push_str("Kec. ");
            }
            out.push_str(region.name);
            match self.parent_index(i) {
                Some(p) => i = p,
                None => return Some(out),
            }
        }
    }

    /// Type-ahead search by name or code prefix; see [`SearchOptions`] for the filters and
    /// [`SearchHit`] for the ranking.
    ///
    /// The query is folded with [`fold_name`] and split into words. A region matches when at
    /// least one word occurs in its own name and every word occurs in its own name or in an
    /// ancestor's ("lubuk gadang solok" finds Lubuk Gadang in Kabupaten Solok Selatan). A
    /// query of only digits (dots and spaces allowed) matches code prefixes instead. An empty
    /// query, or a `within` that is not a well-formed code, gives no results.
    pub fn search(&self, query: &str, options: &SearchOptions) -> Vec<SearchHit<'_>> {
        search::search(self, query, options)
    }

    // ---- internal access by region number ----

    /// Total number of current regions.
    fn len(&self) -> usize {
        self.level_start[4]
    }

    fn level_range(&self, level: Level) -> Range<usize> {
        self.level_start[level.index()]..self.level_start[level.index() + 1]
    }

    fn level_of(&self, i: usize) -> Level {
        if i < self.level_start[1] {
            Level::Province
        } else if i < self.level_start[2] {
            Level::Regency
        } else if i < self.level_start[3] {
            Level::District
        } else {
            Level::Village
        }
    }

    fn code_at(&self, i: usize) -> &str {
        let level = self.level_of(i);
        let width = level.code_len();
        let start = self.code_start[level.index()] + (i - self.level_start[level.index()]) * width;
        &self.codes[start..start + width]
    }

    fn name_span(&self, i: usize) -> Range<usize> {
        let start = if i == 0 {
            0
        } else {
            self.name_ends[i - 1] as usize
        };
        start..self.name_ends[i] as usize
    }

    fn name_at(&self, i: usize) -> &str {
        &self.names[self.name_span(i)]
    }

    /// Region `i`'s slot in `folded`: the folded name plus NUL padding, without the separator.
    fn folded_slot(&self, i: usize) -> &[u8] {
        let span = self.name_span(i);
        &self.folded[span.start + i..span.end + i]
    }

    /// Region `i`'s folded name, without padding.
    fn folded_name(&self, i: usize) -> &[u8] {
        let slot = self.folded_slot(i);
        match memchr::memchr(0, slot) {
            Some(end) => &slot[..end],
            None => slot,
        }
    }

    fn region_at(&self, i: usize) -> Region<'_> {
        Region {
            code: self.code_at(i),
            name: self.name_at(i),
            level: self.level_of(i),
        }
    }

    fn parent_index(&self, i: usize) -> Option<usize> {
        let parent = self.level_of(i).parent()?;
        Some(self.level_start[parent.index()] + usize::from(self.parents[i]))
    }

    /// The region number of a code.
    fn find(&self, digits: &Digits) -> Option<usize> {
        let level = Level::of_code_len(digits.len())?;
        let code_start = self.code_start[level.index()];
        let range = self.level_range(level);
        let first = range.start;
        let width = level.code_len();
        let local = fixed_width_find(
            &self.codes[code_start..code_start + range.len() * width],
            width,
            0..range.len(),
            digits.as_bytes(),
        )?;
        Some(first + local)
    }

    /// The region numbers at `level` whose code starts with `prefix`.
    fn prefix_range(&self, level: Level, prefix: &[u8]) -> Range<usize> {
        let width = level.code_len();
        let range = self.level_range(level);
        if prefix.len() > width {
            return range.start..range.start;
        }
        let code_start = self.code_start[level.index()];
        let code = |k: usize| {
            let at = code_start + k * width;
            &self.codes.as_bytes()[at..at + prefix.len()]
        };
        let n = range.len();
        let lo = partition_point(n, |k| code(k) < prefix);
        let hi = lo + partition_point(n - lo, |k| code(lo + k) <= prefix);
        range.start + lo..range.start + hi
    }

    fn retired_at(&self, k: usize) -> RetiredDistrict<'_> {
        let t = &self.retired;
        let code = &t.codes[k * 6..k * 6 + 6];
        let start = if k == 0 { 0 } else { t.ends[k - 1][2] as usize };
        let [name_end, last_end, successor_end] = t.ends[k].map(|e| e as usize);
        let successor = &t.text[last_end..successor_end];
        RetiredDistrict {
            code,
            regency_code: &code[..4],
            name: &t.text[start..name_end],
            last_listed_in: &t.text[name_end..last_end],
            successor_code: (!successor.is_empty()).then_some(successor),
        }
    }
}

/// Binary search for `needle` among `range` of the fixed-width, sorted codes in `codes`.
fn fixed_width_find(
    codes: &str,
    width: usize,
    range: Range<usize>,
    needle: &[u8],
) -> Option<usize> {
    if needle.len() != width {
        return None;
    }
    let bytes = codes.as_bytes();
    let at = |k: usize| bytes.get(k * width..k * width + width).unwrap_or_default();
    let n = range.len();
    let k = range.start + partition_point(n, |k| at(range.start + k) < needle);
    (k < range.end && at(k) == needle).then_some(k)
}

/// The first `k` in `0..n` for which `pred` is false (`pred` must be true, then false).
fn partition_point(n: usize, pred: impl Fn(usize) -> bool) -> usize {
    let (mut lo, mut hi) = (0, n);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if pred(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}
