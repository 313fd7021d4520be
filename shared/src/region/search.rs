//! Type-ahead search over all region names (and code prefixes).
//!
//! # How it stays fast
//! Folded names sit in one contiguous arena, so each query word is found with one
//! `memchr::memmem` pass over it (0.97 MB for everything, SIMD-accelerated) instead of
//! 91,599 small comparisons. Each pass records, per region, three bits: the word occurs in the
//! name, occurs at the start of a word, occurs at the start of the name. Provinces, regencies and
//! districts (7,837 names, 88 KB) are always scanned because they are the ancestors that words may
//! match; villages are scanned only inside the `within` region. Candidates are then the regions
//! with at least one bit set, checked against the ancestor bits, scored from the bits (a string
//! comparison only where the name starts with the query), and the best `limit` kept in a small
//! heap. Nothing is precomputed beyond the folded arena, so this costs no extra idle memory.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::ops::Range;

use memchr::memmem;
use serde::{Deserialize, Serialize};

use super::fold::{Digits, fold_name};
use super::{Level, Region, Regions};

/// Filters and size of a [`Regions::search`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SearchOptions {
    /// Only regions of this level.
    pub level: Option<Level>,
    /// Only regions strictly inside this region (a code, dots allowed; `""` = no filter). A code
    /// that is not well formed matches nothing; a well-formed unknown code has nothing inside.
    pub within: Option<String>,
    /// At most this many hits (default 20); 0 gives none.
    pub limit: usize,
}

impl Default for SearchOptions {
    fn default() -> Self {
        SearchOptions {
            level: None,
            within: None,
            limit: 20,
        }
    }
}

/// One search result.
///
/// Hits come best first: by `score` (higher is better), then by level (provinces first), then by
/// code. Scores, best first:
/// - 450 the code equals a digit query; 350 the code starts with it;
/// - 400 the own name equals the query (for regencies also without "Kabupaten"/"Kota"
///   /"… Administrasi"), 300 it starts with the query, 200 a word of it starts with the first
///   query word, 100 the query words are only substrings;
/// - +50 when every query word is in the region's own name; without it, words that matched
///   only ancestors' names are left out when comparing the own name ("lubuk gadang solok" is an
///   exact 400 for Lubuk Gadang in Kabupaten Solok Selatan).
///
/// Only the order is meant to be relied on; the numbers may be retuned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct SearchHit<'a> {
    /// The region found.
    pub region: Region<'a>,
    /// How well it matches; higher is better.
    pub score: u32,
}

const CODE_EXACT: u32 = 450;
const CODE_PREFIX: u32 = 350;
const EXACT: u32 = 400;
const PREFIX: u32 = 300;
const WORD_PREFIX: u32 = 200;
const SUBSTRING: u32 = 100;
const ALL_WORDS_OWN: u32 = 50;

/// A query uses at most this many distinct words (one bit each in a mask); more are ignored.
const MAX_WORDS: usize = 64;

/// Regency name prefixes stripped when comparing a regency's name with the query, longest first.
const REGENCY_PREFIXES: [&[u8]; 4] = [
    b"kabupaten administrasi ",
    b"kota administrasi ",
    b"kabupaten ",
    b"kota ",
];

pub(super) fn search<'a>(
    regions: &'a Regions,
    query: &str,
    options: &SearchOptions,
) -> Vec<SearchHit<'a>> {
    if options.limit == 0 {
        return Vec::new();
    }
    let folded = fold_name(query);
    if folded.is_empty() {
        return Vec::new();
    }
    let within = match options.within.as_deref().map(Digits::strip) {
        None => None,
        Some(Some(d)) if d.is_empty() => None,
        Some(Some(d)) if Level::of_code_len(d.len()).is_some() => Some(d),
        Some(_) => return Vec::new(),
    };
    let scope = Level::ALL.map(|level| {
        let empty = regions.level_start[level.index()]..regions.level_start[level.index()];
        if options.level.is_some_and(|l| l != level) {
            return empty;
        }
        match within {
            None => regions.level_range(level),
            Some(w) if w.len() < level.code_len() => regions.prefix_range(level, w.as_bytes()),
            Some(_) => empty,
        }
    });
    let is_code = folded.bytes().any(|b| b.is_ascii_digit())
        && folded
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'.' || b == b' ');
    if is_code {
        return match Digits::strip(&folded) {
            Some(digits) => search_code(regions, &digits, &scope, options.limit),
            None => Vec::new(),
        };
    }
    search_names(regions, &folded, &scope, options.limit)
}

/// Regions whose code starts with `digits`: the exact code first, then by level and code.
fn search_code<'a>(
    regions: &'a Regions,
    digits: &Digits,
    scope: &[Range<usize>; 4],
    limit: usize,
) -> Vec<SearchHit<'a>> {
    let mut hits = Vec::new();
    for level in Level::ALL {
        let matching = regions.prefix_range(level, digits.as_bytes());
        let allowed = &scope[level.index()];
        for i in matching.start.max(allowed.start)..matching.end.min(allowed.end) {
            if hits.len() == limit {
                return hits;
            }
            let score = if digits.len() == level.code_len() {
                CODE_EXACT
            } else {
                CODE_PREFIX
            };
            let region = regions.region_at(i);
            hits.push(SearchHit { region, score });
        }
    }
    hits
}

/// A fixed-size bit set over region numbers.
struct Bits(Vec<u64>);

impl Bits {
    fn new(n: usize) -> Self {
        Bits(vec![0; n.div_ceil(64)])
    }

    fn set(&mut self, i: usize) {
        self.0[i / 64] |= 1 << (i % 64);
    }

    fn get(&self, i: usize) -> bool {
        self.0[i / 64] & (1 << (i % 64)) != 0
    }
}

/// Where one query word occurs in own names.
struct WordHits {
    /// Somewhere in the name.
    any: Bits,
    /// At the start of a word of the name.
    word: Bits,
    /// At the start of the name.
    start: Bits,
}

fn search_names<'a>(
    regions: &'a Regions,
    folded: &str,
    scope: &[Range<usize>; 4],
    limit: usize,
) -> Vec<SearchHit<'a>> {
    let mut words: Vec<&str> = Vec::new();
    for w in folded.split(' ') {
        if !words.contains(&w) && words.len() < MAX_WORDS {
            words.push(w);
        }
    }
    let all_words: u64 = if words.len() == 64 {
        u64::MAX
    } else {
        (1 << words.len()) - 1
    };

    // Ancestors live in the first three levels, which are always scanned; villages only where
    // the scope needs them.
    let scans = [
        0..regions.level_start[Level::Village.index()],
        scope[Level::Village.index()].clone(),
    ];
    let hits: Vec<WordHits> = words
        .iter()
        .map(|w| scan_word(regions, w.as_bytes(), &scans))
        .collect();

    let mut best: BinaryHeap<Reverse<(u32, Reverse<usize>)>> =
        BinaryHeap::with_capacity(limit.min(1024) + 1);
    for range in scope.iter().filter(|r| !r.is_empty()) {
        for_each_candidate(&hits, range.clone(), |i| {
            let own = own_mask(&hits, i);
            if own & all_words != all_words && !ancestors_cover(regions, &hits, i, own, all_words) {
                return;
            }
            let score = score(regions, &words, &hits, i, own, all_words);
            let key = Reverse((score, Reverse(i)));
            // Regions are visited in (level, code) order, so a later equal score loses the tie.
            if best.len() < limit {
                best.push(key);
            } else if best.peek().is_some_and(|worst| key < *worst) {
                best.pop();
                best.push(key);
            }
        });
    }
    let mut ranked: Vec<(u32, usize)> = best
        .into_iter()
        .map(|Reverse((score, Reverse(i)))| (score, i))
        .collect();
    ranked.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    ranked
        .into_iter()
        .map(|(score, i)| SearchHit {
            region: regions.region_at(i),
            score,
        })
        .collect()
}

/// Finds every occurrence of `word` in the folded names of the regions in `scans`.
fn scan_word(regions: &Regions, word: &[u8], scans: &[Range<usize>]) -> WordHits {
    let n = regions.len();
    let mut hits = WordHits {
        any: Bits::new(n),
        word: Bits::new(n),
        start: Bits::new(n),
    };
    let finder = memmem::Finder::new(word);
    for range in scans.iter().filter(|r| !r.is_empty()) {
        // Slot of region i in `folded` starts at name start + i; a slot ends with one separator.
        let slot_start = |i: usize| regions.name_span(i).start + i;
        let base = slot_start(range.start);
        let end = regions.name_span(range.end - 1).end + range.end;
        let haystack = &regions.folded[base..end];
        let mut region = range.start;
        for pos in finder.find_iter(haystack) {
            let at = base + pos;
            // Hits come in increasing order, so the owning region only moves forward.
            while regions.name_ends[region] as usize + region < at {
                region += 1;
            }
            hits.any.set(region);
            if at == slot_start(region) {
                hits.start.set(region);
                hits.word.set(region);
            } else if !regions.folded[at - 1].is_ascii_alphanumeric()
                && regions.folded[at - 1] < 0x80
            {
                hits.word.set(region);
            }
        }
    }
    hits
}

/// Calls `f` for each region in `range` whose own name contains at least one query word.
fn for_each_candidate(hits: &[WordHits], range: Range<usize>, mut f: impl FnMut(usize)) {
    let first_word = range.start / 64;
    let last_word = (range.end - 1) / 64;
    for w in first_word..=last_word {
        let mut bits = hits.iter().fold(0u64, |acc, h| acc | h.any.0[w]);
        if w == first_word {
            bits &= u64::MAX << (range.start % 64);
        }
        if w == last_word && !range.end.is_multiple_of(64) {
            bits &= u64::MAX >> (64 - range.end % 64);
        }
        while bits != 0 {
            let bit = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            f(w * 64 + bit);
        }
    }
}

/// Bit k set when query word k occurs in region `i`'s own name.
fn own_mask(hits: &[WordHits], i: usize) -> u64 {
    hits.iter()
        .enumerate()
        .fold(0, |m, (k, h)| if h.any.get(i) { m | 1 << k } else { m })
}

/// Whether every query word missing from region `i`'s own name occurs in an ancestor's name.
fn ancestors_cover(regions: &Regions, hits: &[WordHits], i: usize, own: u64, all: u64) -> bool {
    let mut found = own;
    let mut at = i;
    while let Some(parent) = regions.parent_index(at) {
        found |= own_mask(hits, parent);
        if found & all == all {
            return true;
        }
        at = parent;
    }
    false
}

/// The score of region `i` (see [`SearchHit`]), comparing its own name with the query words
/// that occur in it.
fn score(
    regions: &Regions,
    words: &[&str],
    hits: &[WordHits],
    i: usize,
    own: u64,
    all: u64,
) -> u32 {
    let bonus = if own & all == all { ALL_WORDS_OWN } else { 0 };
    let first = own.trailing_zeros() as usize;
    let is_regency = regions.level_of(i) == Level::Regency;
    let mut tier = SUBSTRING;
    if hits[first].word.get(i) {
        tier = WORD_PREFIX;
    }
    // Equal to or starting with the query is only possible if the name starts with its first
    // word; regencies are also compared without their "Kabupaten"/"Kota" prefix.
    if hits[first].start.get(i) || is_regency {
        let name = regions.folded_name(i);
        let mut candidates = [Some(name), None];
        if is_regency {
            candidates[1] = REGENCY_PREFIXES.iter().find_map(|p| name.strip_prefix(*p));
        }
        for name in candidates.into_iter().flatten() {
            match compare_joined(name, words, own) {
                Joined::Equal => tier = EXACT,
                Joined::Prefix => tier = tier.max(PREFIX),
                Joined::Neither => {}
            }
        }
    }
    tier + bonus
}

enum Joined {
    Equal,
    Prefix,
    Neither,
}

/// Compares `name` with the words selected by `mask`, joined by single spaces, without building
/// the joined string.
fn compare_joined(name: &[u8], words: &[&str], mask: u64) -> Joined {
    let mut rest = name;
    let mut first = true;
    for (k, w) in words.iter().enumerate() {
        if mask & (1 << k) == 0 {
            continue;
        }
        if !first {
            match rest.strip_prefix(b" ") {
                Some(r) => rest = r,
                None => return Joined::Neither,
            }
        }
        first = false;
        match rest.strip_prefix(w.as_bytes()) {
            Some(r) => rest = r,
            None => return Joined::Neither,
        }
    }
    if rest.is_empty() {
        Joined::Equal
    } else {
        Joined::Prefix
    }
}
