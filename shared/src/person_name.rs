//! Person names compared for duplicate detection: [`name_key`], [`name_similarity`],
//! [`is_probable_match`] and the precomputed [`NameKey`].
//!
//! The same villager is written "H. Moh. Soebardjo, S.Pd." on one form and "Muhammad Subarjo"
//! on another. The agent warns before saving a near match (same birth date, similar name, same
//! village) and the server reports probable duplicates (similar name, same birth date, same
//! district); both ask this module whether two names are probably the same person, so both
//! decide identically.
//!
//! # The key ([`name_key`])
//! 1. **Fold** with [`fold_name`]: lowercase, Latin accents removed, spaces collapsed.
//! 2. **Split**: commas separate *segments*, whitespace and any other punctuation separate
//!    *chunks*, dots split a chunk into *pieces* ("s.pd" → `s`, `pd`), apostrophes join
//!    (Ma'ruf = Maruf). Digits and letters of every script are kept.
//! 3. **Titles** are dropped by position, as Indonesian writes them: before the first name part
//!    (gelar depan: `h`, `hj`, `haji`, `hajjah`, `kh`, `dr`, `drs`, `dra`, `ir`, `prof`, `bapak`,
//!    `bpk`, `ibu`, `sdr`, `sdri`, `tn`, `ny`, `alm`, `almh`, `ust`, …), after it (gelar
//!    belakang, with or without dots or a comma: `s.pd`, `s.e.`, `s.h.`, `s.kom`, `a.md`, `s.t.`,
//!    `m.m.`, `m.pd`, `alm`, …), and in any comma segment after the name (both kinds). So
//!    "M.H. Thamrin" keeps its initials while "Thamrin, M.H." drops the master's degree; "H."
//!    before a name is Haji, after it an initial. Patronymic connectors (`bin`, `binti`, `bt`,
//!    and the Batak `br`/`boru`) are dropped after the first name part. A name made only of
//!    titles ("Ibu") keeps them, so no name with a letter has an empty key.
//! 4. **Respelling** of each ASCII name part, repeated until nothing changes:
//!    - *Old (pre-1972) spelling*, still common in the names of older villagers: `oe`→`u`
//!      (Soekarno = Sukarno, Oetomo = Utomo), `dj`→`j` (Djoko = Joko), `tj`→`c` (Tjipto =
//!      Cipto), `sj`→`sy` (Sjahrir = Syahrir), `nj`→`ny` at the start (Njoman = Nyoman). In a
//!      part that shows one of these markers, the old `j` was the sound *y*, so a lone `j`→`y`
//!      (Soerjadi = Suryadi, Djaja = Jaya, Joenoes = Yunus). Without a marker `j` is left alone:
//!      modern Marjono and Panji are spelled with *j* on purpose.
//!    - *Arabic and foreign digraphs* that modern spelling writes with one letter: `ch`→`kh`
//!      (Chairul = Khairul, Achmad = Akhmad; `chr` at the start → `kr`, Christina = Kristina),
//!      `dh`→`d` (Dhani = Dani, Ramadhan = Ramadan), `th`→`t` (Thamrin = Tamrin), `dz`→`z`
//!      (Dzikri = Zikri), `ph`→`f` (Stephanus = Stefanus), `q`→`k` (Taufiq = Taufik).
//!    - Doubled consonants collapse (Sitti = Siti, Hajjah = Hajah, Abdullah = Abdulah): doubling
//!      carries no distinction in Indonesian spelling. Doubled vowels are kept (Ma'arif).
//!    - A final `y` after a consonant is `i` in parts of three letters or more (Dedy = Dedi,
//!      Lestary = Lestari); "Ny" (Nyonya) is untouched.
//!
//!    Deliberately *not* merged in the key: `kh`/`h` (Khairul/Hairul), `u`/`o`, `ai`/`ae`
//!    (Zainal/Zaenal), `f`/`p` (Arifin/Aripin): they are left to the similarity's typo
//!    tolerance below, so they lower the score a little instead of making names identical.
//! 5. **Spelling variants of frequent names** become one form: Muhammad (Mohammad, Mohamad,
//!    Muhamad, Mochammad, Mohamed, Mohd, Moch, Moh, Muh, Mhd, and `M` as the *first* name
//!    part), Ahmad (Achmad, Akhmad, Ahmat, Ahmed), Abdul (Abd, Abdoel), Nur (Noor, Noer,
//!    Nurul: "light of", written both ways), Yusuf (Jusuf), Yahya (Jahja), Yunus (Junus), Candra
//!    (Chandra, which `ch`→`kh` would misread), `St` as the first name part → Siti, and the
//!    Balinese abbreviations Gst, Ngr, Md, Nym, Wyn, Kt, Kd, Kmg, Ngh. Balinese, Javanese, Bugis and Butonese name parts (I, Ni, Gusti, Made,
//!    Raden, Andi, La, Wa, …) are real parts of the name and are kept.
//!
//! # The similarity ([`name_similarity`], 0.0 to 1.0)
//! Parts are matched regardless of order, first identical parts, then near parts (best first),
//! then one part against two adjacent parts written together (Nuraini = Nur Aini).
//! - **Near parts** must agree on the first letter (a leading `kh` may meet `h`: Khairul,
//!   Hairul) and on the last (a final `d`/`t` counts as the same, Rahmat = Rahmad); two parts
//!   of the same length must also agree on the second-to-last letter. The ending is where Indonesian names differ: Yanti/Yanto,
//!   Wahyuni/Wahyudi, Kurniawan/Kurniawati, Hidayat/Hidayah are different people. Within that,
//!   the edit distance (insertion, deletion, substitution, adjacent swap) may be 0 for parts of
//!   up to 4 letters (Dedi/Dodi, Rina/Rini differ), 1 up to 7 letters (Rahmat/Rachmat,
//!   Suryani/Suryanti) and 2 from 8 letters; each edit costs 0.1.
//! - **An initial** matches a part with that first letter at 0.9 (Rizki A. = Rizki Ananda).
//! - **Weights**: initials and very frequent parts (Muhammad, Ahmad, Abdul, Siti, Nur, Sri, the
//!   Balinese birth-order and caste names, Raden, Andi, …) weigh 0.5, other parts 1.
//! - **Unmatched parts**: when only one name has them, they are *missing* (Siti Aminah vs Siti
//!   Aminah Lubis) and cost 0.2 of their weight; when both names have them, they *conflict*
//!   (Made vs Nyoman, Fauzi vs Fauzan) and cost their full weight. The score is the weighted
//!   sum of the matched similarities over the matched weight plus these costs. Names matched
//!   only by initials standing for longer parts (A vs Ahmad) score at most 0.5.
//!
//! # The threshold ([`PROBABLE_MATCH`] = 0.85)
//! The table of 85 name pairs in `person_name/tests.rs` separates at 0.85: the lowest pair of
//! the same person scores 0.88, the highest pair of different people 0.83 (a test keeps both
//! margins). Above it: identical keys, any reordering, a typo in one part of a longer name
//! (0.95), a missing surname or middle name behind two matching parts (Siti Aminah vs Siti
//! Aminah Lubis: 0.88), a missing frequent prefix (Aminah vs Siti Aminah: 0.91), a single typo
//! in a one-part name (0.9). Below it: any conflicting part (at most 0.6 in the table, from I
//! Made Sari vs Ni Made Sari; twins share a birth date and usually all but one name part), one
//! distinctive part against a longer name (Budi vs Budi Santoso, Aminah vs Aminah Lubis: 0.83
//! — one shared name is too weak on its own), a frequent part alone (Siti vs Siti Aminah:
//! 0.71). The agent shows a probable match as a warning the officer must confirm, so erring
//! towards a warning costs a click; below the threshold nothing is shown.
//!
//! # Cost
//! The comparison itself allocates nothing (fixed arrays on the stack: up to 16 parts of up to
//! 64 letters; longer parts only match exactly, further parts are ignored); building a key
//! allocates a few small strings. For many comparisons, build each [`NameKey`] once.
//!
//! Measured with the ignored test `measure_similarity_throughput` (release build, 200,000
//! random pairs of 2,000 generated names of two to four parts, on the shared 2-core build VM
//! while other builds ran): [`name_similarity`] about 0.27 M calls/s (3.8 µs, mostly building
//! the two keys), [`name_key`] 0.7–0.9 M keys/s, [`NameKey::similarity`] 1.2 M calls/s
//! (0.85 µs).

use std::cmp::Ordering;

use crate::region::fold_name;

/// The score from which two names are probably the same person (see the module documentation
/// for how the test table justifies it).
pub const PROBABLE_MATCH: f32 = 0.85;

/// The normalised comparison key of a person's name: folded, without titles, respelled, one
/// space between parts, in the original order. The key is for comparison only, never for
/// display; applying it twice changes nothing.
///
/// ```
/// use lindung_shared::person_name::name_key;
///
/// assert_eq!(name_key("H. Moch. Soebardjo, S.Pd."), "muhammad subarjo");
/// assert_eq!(name_key("Muhammad Subarjo"), "muhammad subarjo");
/// assert_eq!(name_key("I Gst. Ngr. Rai"), "i gusti ngurah rai");
/// ```
pub fn name_key(name: &str) -> String {
    let folded = fold_name(name);
    let mut builder = KeyBuilder::default();
    for (index, segment) in folded.split(',').enumerate() {
        builder.segment = index;
        for chunk in segment.split(|c: char| !(c.is_alphanumeric() || c == '.' || c == '\'')) {
            builder.chunk(chunk);
        }
    }
    builder.finish()
}

/// How similar two names are, from 0.0 (nothing in common) to 1.0 (the same key), comparing
/// their keys part by part regardless of order. Symmetric; 0.0 if either name has no letter or
/// digit. See the module documentation for the rules.
pub fn name_similarity(a: &str, b: &str) -> f32 {
    NameKey::new(a).similarity(&NameKey::new(b))
}

/// Whether two names are probably the same person: [`name_similarity`] ≥ [`PROBABLE_MATCH`].
pub fn is_probable_match(a: &str, b: &str) -> bool {
    name_similarity(a, b) >= PROBABLE_MATCH
}

/// A name's key, computed once and compared many times (the server compares every pair in a
/// group of candidates).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct NameKey {
    key: String,
    /// Bit `i` is set when part `i` weighs [`LOW_WEIGHT`], worked out once rather than on
    /// every comparison.
    low_weight: u16,
}

impl NameKey {
    /// The key of `name`, as [`name_key`].
    pub fn new(name: &str) -> Self {
        NameKey::from_key(name_key(name))
    }

    fn from_key(key: String) -> Self {
        let low_weight = key
            .split(' ')
            .take(MAX_PARTS)
            .enumerate()
            .filter(|(_, part)| weight(part) < 1.0)
            .fold(0u16, |mask, (i, _)| mask | 1 << i);
        NameKey { key, low_weight }
    }

    /// The key text.
    pub fn as_str(&self) -> &str {
        &self.key
    }

    /// Whether the name had no letter or digit at all.
    pub fn is_empty(&self) -> bool {
        self.key.is_empty()
    }

    /// [`name_similarity`] of the two names these keys were made from; allocates nothing.
    pub fn similarity(&self, other: &NameKey) -> f32 {
        if self.key.is_empty() || other.key.is_empty() {
            return 0.0;
        }
        if self.key == other.key {
            return 1.0;
        }
        // Always compare in the same order, so that every tie in the greedy matching below is
        // broken the same way whichever name came first: the result is exactly symmetric.
        let (first, second) = match self.key.cmp(&other.key) {
            Ordering::Greater => (other, self),
            _ => (self, other),
        };
        score(&Parts::of(first), &Parts::of(second))
    }

    /// Whether the two names are probably the same person, as [`is_probable_match`].
    pub fn is_probable_match(&self, other: &NameKey) -> bool {
        self.similarity(other) >= PROBABLE_MATCH
    }
}

// ---------------------------------------------------------------------------------------------
// Building the key
// ---------------------------------------------------------------------------------------------

/// Titles written before a name (gelar depan): of pilgrims and religious teachers (H., Hj.,
/// K.H., Ustadz), academic and professional (Dr., Drs., Dra., Ir., Prof.), forms of address
/// (Bapak, Ibu, Saudara/i, Tuan, Nyonya, Nona) and of the deceased (Alm., Almh.).
///
/// This and every word list below are sorted (looked up by binary search) and written in
/// respelled form; tests check both.
#[rustfmt::skip]
const PRENOMINAL: &[&str] = &[
    "alm", "almarhum", "almarhumah", "almh", "bapak", "bp", "bpk", "bu", "dr", "dra", "drg", "drs",
    "h", "hajah", "haji", "hj", "ibu", "ir", "kh", "kiai", "kyai", "nona", "ny", "nyonya", "pak",
    "prof", "saudara", "saudari", "sdr", "sdra", "sdri", "tn", "tuan", "ust", "ustaz", "ustazah",
];

/// Titles written after a name (gelar belakang), dots removed: bachelor's (S.Pd, S.E., S.H.,
/// S.Kom, S.T., …), diplomas (A.Md, Amd.Keb, …), master's (M.M., M.Pd, M.Si, M.H., …),
/// professions (Apt., Ns., Ak.) and the deceased (Alm.). Looked up as written and respelled,
/// since they are never kept.
#[rustfmt::skip]
const POSTNOMINAL: &[&str] = &[
    "ak", "alm", "almarhum", "almarhumah", "almh", "amd", "amdkeb", "amdkep", "amdkom", "amk",
    "amkeb", "amkep", "apt", "bsc", "mag", "mba", "mh", "mhum", "mkes", "mkm", "mkn", "mkom", "mm",
    "mpd", "mpdi", "msc", "msi", "mt", "ns", "sag", "sak", "se", "sei", "sfarm", "sh", "shi",
    "shum", "sikom", "sip", "sked", "skep", "skm", "skom", "sp", "spd", "spdi", "spsi", "spt",
    "ssi", "ssn", "ssos", "st", "stp",
];

/// Patronymic connectors ("Ahmad bin Yusuf", "Siti br. Lubis"): dropped after the first name
/// part, kept as the first ("Binti" is also a given name in Java).
const CONNECTORS: &[&str] = &["bin", "binti", "boru", "br", "bt"];

/// Spelling variants of frequent names and common abbreviations of name parts (including the
/// Balinese ones of older documents, "I Gst. Ngr. Md. Rai"), from their respelled form to one
/// canonical form, sorted by the former; each canonical form respells to itself.
const VARIANTS: &[(&str, &str)] = &[
    ("abd", "abdul"),
    ("ahmat", "ahmad"),
    ("ahmed", "ahmad"),
    ("akhmad", "ahmad"),
    ("akhmat", "ahmad"),
    ("akhmed", "ahmad"),
    ("gst", "gusti"),
    ("jahja", "yahya"),
    ("junus", "yunus"),
    ("jusuf", "yusuf"),
    ("kd", "kadek"),
    ("khandra", "candra"),
    ("kmg", "komang"),
    ("kt", "ketut"),
    ("md", "made"),
    ("mhd", "muhammad"),
    ("mhmd", "muhammad"),
    ("moh", "muhammad"),
    ("mohamad", "muhammad"),
    ("mohamed", "muhammad"),
    ("mohd", "muhammad"),
    ("mokh", "muhammad"),
    ("mokhamad", "muhammad"),
    ("muh", "muhammad"),
    ("muhamad", "muhammad"),
    ("muhamed", "muhammad"),
    ("mukh", "muhammad"),
    ("mukhamad", "muhammad"),
    ("ngh", "nengah"),
    ("ngr", "ngurah"),
    ("noor", "nur"),
    ("nurul", "nur"),
    ("nym", "nyoman"),
    ("wyn", "wayan"),
];

/// Assembles a key chunk by chunk.
#[derive(Default)]
struct KeyBuilder {
    /// The key so far: name parts separated by one space.
    out: String,
    /// The comma-separated segment being read.
    segment: usize,
    /// The segment of the first name part, once one was seen.
    first_name_segment: Option<usize>,
    /// Titles dropped before the first name part, kept in case no name part follows.
    titles: String,
    /// The current piece or dotted chunk with dots and apostrophes removed.
    raw: String,
    /// Its canonical form.
    part: String,
    /// Respelling buffers.
    scratch: Scratch,
}

/// Where a chunk stands relative to the name, which decides which titles it may be.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Position {
    /// Before the first name part.
    Before,
    /// After the first name part, in its segment.
    After,
    /// In a comma segment after the one holding the first name part.
    Suffix,
}

impl KeyBuilder {
    fn position(&self) -> Position {
        match self.first_name_segment {
            None => Position::Before,
            Some(s) if s == self.segment => Position::After,
            Some(_) => Position::Suffix,
        }
    }

    /// Whether the current `raw`/`part` is a title where it stands. Before the name only the
    /// canonical form is looked up, because titles found there may be kept (see
    /// [`KeyBuilder::finish`]) and must be found again when the key is keyed again.
    fn is_title(&self) -> bool {
        let listed = |list: &[&str]| {
            is_listed(list, &self.part) || (self.raw != self.part && is_listed(list, &self.raw))
        };
        match self.position() {
            Position::Before => is_listed(PRENOMINAL, &self.part),
            Position::After => listed(POSTNOMINAL) || listed(CONNECTORS),
            Position::Suffix => listed(POSTNOMINAL) || listed(PRENOMINAL) || listed(CONNECTORS),
        }
    }

    /// Sets `raw` to `text` without dots and apostrophes and `part` to its canonical form.
    fn load(&mut self, text: &str) {
        self.raw.clear();
        self.raw
            .extend(text.chars().filter(|&c| c != '.' && c != '\''));
        self.scratch.canonical(&self.raw, &mut self.part);
    }

    /// Drops the loaded title, keeping it aside if it stands before the name.
    fn drop_title(&mut self) {
        if self.position() == Position::Before {
            push_part(&mut self.titles, &self.part);
        }
    }

    /// Reads one chunk: letters, digits, dots and apostrophes.
    fn chunk(&mut self, chunk: &str) {
        let pieces = || {
            chunk
                .split('.')
                .filter(|p| p.chars().any(char::is_alphanumeric))
        };
        // A dotted abbreviation ("S.Pd.", "K.H.") is a title as a whole, not piece by piece.
        if pieces().nth(1).is_some() {
            self.load(chunk);
            if self.is_title() {
                self.drop_title();
                return;
            }
        }
        for piece in pieces() {
            self.piece(piece);
        }
    }

    /// Reads one name part or title.
    fn piece(&mut self, piece: &str) {
        self.load(piece);
        if self.is_title() {
            self.drop_title();
            return;
        }
        if self.first_name_segment.is_none() {
            self.first_name_segment = Some(self.segment);
            // Only as the first name part is "M." Muhammad and "St." Siti; later they are
            // initials of anything (Rizki M. = Rizki Maulana).
            let expanded = match self.part.as_str() {
                "m" => Some("muhammad"),
                "st" => Some("siti"),
                _ => None,
            };
            if let Some(expanded) = expanded {
                self.part.clear();
                self.part.push_str(expanded);
            }
        }
        push_part(&mut self.out, &self.part);
    }

    /// The key: the name parts, or if there were none, the titles standing for the name
    /// ("Ibu"), so that a name with a letter never has an empty key.
    fn finish(self) -> String {
        if self.out.is_empty() {
            self.titles
        } else {
            self.out
        }
    }
}

fn push_part(out: &mut String, part: &str) {
    if !out.is_empty() {
        out.push(' ');
    }
    out.push_str(part);
}

/// Two reusable buffers for respelling.
#[derive(Default)]
struct Scratch {
    current: Vec<u8>,
    next: Vec<u8>,
}

impl Scratch {
    /// Writes the canonical form of one name part (letters and digits, no dots) to `out`
    /// (cleared first): respelled until stable, then a frequent variant replaced by its
    /// canonical form. Parts with letters outside ASCII (other scripts) are kept as they are:
    /// the spelling rules are about Latin-written Indonesian names.
    fn canonical(&mut self, part: &str, out: &mut String) {
        out.clear();
        if !part.is_ascii() {
            out.push_str(part);
            return;
        }
        self.current.clear();
        self.current.extend_from_slice(part.as_bytes());
        // Every rule either shortens the part or, keeping its length, turns a j into y, a c or
        // q into k, or a y into i, so the passes end; most parts are stable after one or two.
        loop {
            respell_once(&self.current, &mut self.next);
            if self.next == self.current {
                break;
            }
            std::mem::swap(&mut self.current, &mut self.next);
        }
        let found =
            VARIANTS.binary_search_by(|(from, _)| from.bytes().cmp(self.current.iter().copied()));
        match found.ok().and_then(|i| VARIANTS.get(i)) {
            Some((_, to)) => out.push_str(to),
            None => out.extend(self.current.iter().map(|&b| char::from(b))),
        }
    }
}

/// Whether `word` is in the sorted `list`.
fn is_listed(list: &[&str], word: &str) -> bool {
    list.binary_search(&word).is_ok()
}

fn is_consonant(b: u8) -> bool {
    b"bcdfghjklmnpqrstvwxz".contains(&b)
}

/// Whether an ASCII part is written in the old (pre-1972) spelling.
fn has_old_spelling(part: &[u8]) -> bool {
    part.starts_with(b"nj")
        || part
            .windows(2)
            .any(|w| matches!(w, b"dj" | b"tj" | b"sj" | b"oe"))
}

/// One left-to-right pass of the spelling rules over an ASCII part.
fn respell_once(src: &[u8], dst: &mut Vec<u8>) {
    dst.clear();
    let old = has_old_spelling(src);
    let mut i = 0;
    while let Some(&c) = src.get(i) {
        let next = src.get(i + 1).copied();
        let (emit, consumed): (&[u8], usize) = match (c, next) {
            (b'o', Some(b'e')) => (b"u", 2),
            (b'd', Some(b'j')) => (b"j", 2),
            (b't', Some(b'j')) => (b"c", 2),
            (b's', Some(b'j')) => (b"sy", 2),
            (b'n', Some(b'j')) if i == 0 => (b"ny", 2),
            (b'c', Some(b'h')) if i == 0 && src.get(2) == Some(&b'r') => (b"k", 2),
            (b'c', Some(b'h')) => (b"kh", 2),
            (b'd', Some(b'h')) => (b"d", 2),
            (b't', Some(b'h')) => (b"t", 2),
            (b'p', Some(b'h')) => (b"f", 2),
            (b'd', Some(b'z')) => (b"z", 2),
            (b'j', _) if old => (b"y", 1),
            (b'q', _) => (b"k", 1),
            (b'y', None) if i >= 2 && src.get(i - 1).is_some_and(|&p| is_consonant(p)) => (b"i", 1),
            (x, Some(y)) if x == y && is_consonant(x) => {
                let run = src[i..].iter().take_while(|&&b| b == x).count();
                dst.push(x);
                i += run;
                continue;
            }
            _ => {
                dst.push(c);
                i += 1;
                continue;
            }
        };
        dst.extend_from_slice(emit);
        i += consumed;
    }
}

// ---------------------------------------------------------------------------------------------
// Comparing keys
// ---------------------------------------------------------------------------------------------

/// Parts compared per name; further parts are ignored (no real name has this many).
const MAX_PARTS: usize = 16;
/// Letters per part for the edit distance; longer parts only match exactly.
const MAX_PART_CHARS: usize = 64;
/// Similarity lost per edit between two near parts.
const EDIT_COST: f32 = 0.1;
/// Similarity of an initial and a part starting with that letter.
const INITIAL_SIMILARITY: f32 = 0.9;
/// Weight of an initial or a very frequent part, against 1 for any other part.
const LOW_WEIGHT: f32 = 0.5;
/// Share of its weight an unmatched part costs when the other name has nothing left over.
const MISSING_COST: f32 = 0.2;
/// Share of its weight an unmatched part costs when the other name has a different part.
const CONFLICT_COST: f32 = 1.0;
/// Highest score of two names matched only by initials standing for longer parts.
const INITIALS_ONLY_CAP: f32 = 0.5;

/// Parts so frequent, or so tied to birth order, gender or rank, that sharing them says little
/// about being the same person (while differing in them still says a lot: Made vs Nyoman):
/// Arabic name elements (Muhammad, Siti, Nur, …), Balinese gender markers, birth-order and caste
/// names (I, Ni, Wayan, Made, Nyoman, Ketut, Gusti, Ngurah, …), and Javanese, Bugis, Acehnese
/// and Butonese nobility (Raden, Mas, Andi, Teuku, Cut, La, Wa, Ode).
#[rustfmt::skip]
const FREQUENT_PARTS: &[&str] = &[
    "abdul", "agung", "ahmad", "anak", "andi", "ayu", "bagus", "cut", "desak", "dewa", "gede",
    "gusti", "i", "ida", "kadek", "ketut", "komang", "la", "made", "mas", "muhammad", "nengah",
    "ngurah", "ni", "nur", "nyoman", "ode", "putu", "raden", "siti", "sri", "tengku", "teuku", "wa",
    "wayan",
];

/// The parts of a key and their weights, on the stack.
struct Parts<'a> {
    items: [&'a str; MAX_PARTS],
    weights: [f32; MAX_PARTS],
    len: usize,
}

impl<'a> Parts<'a> {
    fn of(key: &'a NameKey) -> Self {
        let mut parts = Parts {
            items: [""; MAX_PARTS],
            weights: [0.0; MAX_PARTS],
            len: 0,
        };
        for (i, part) in key.key.split(' ').take(MAX_PARTS).enumerate() {
            parts.items[i] = part;
            parts.weights[i] = if key.low_weight & (1 << i) != 0 {
                LOW_WEIGHT
            } else {
                1.0
            };
            parts.len = i + 1;
        }
        parts
    }

    fn text(&self) -> &[&'a str] {
        &self.items[..self.len]
    }

    /// The total weight of the parts not `used`.
    fn unused_weight(&self, used: &[bool; MAX_PARTS]) -> f32 {
        (0..self.len)
            .filter(|&i| !used[i])
            .map(|i| self.weights[i])
            .sum()
    }
}

/// An initial: one ASCII letter ("A." in "Rizki A.").
fn is_initial(part: &str) -> bool {
    part.len() == 1 && part.as_bytes()[0].is_ascii_alphabetic()
}

fn weight(part: &str) -> f32 {
    if is_initial(part) || is_listed(FREQUENT_PARTS, part) {
        LOW_WEIGHT
    } else {
        1.0
    }
}

/// The weighted sum of matched similarities and the weight they stand on.
#[derive(Default)]
struct Tally {
    matched: f32,
    weight: f32,
    /// Whether some match is more than an initial standing for a longer part.
    full: bool,
}

impl Tally {
    fn add(&mut self, similarity: f32, weight: f32, full: bool) {
        self.matched += similarity * weight;
        self.weight += weight;
        self.full |= full;
    }
}

/// The score of two keys' parts (see the module documentation).
fn score(a: &Parts<'_>, b: &Parts<'_>) -> f32 {
    let (text_a, text_b) = (a.text(), b.text());
    let mut used_a = [false; MAX_PARTS];
    let mut used_b = [false; MAX_PARTS];
    let mut tally = Tally::default();

    // Identical parts first: they are certain, and most pairs are mostly identical.
    for (i, x) in text_a.iter().enumerate() {
        if let Some(j) = (0..text_b.len()).find(|&j| !used_b[j] && text_b[j] == *x) {
            used_a[i] = true;
            used_b[j] = true;
            // Identical parts are certain evidence even when they are initials ("S. E." and
            // "E. S."); only an initial standing for a longer part is weak.
            tally.add(1.0, a.weights[i], true);
        }
    }

    // Then near parts and initials, best pair first.
    let mut sims = [[None::<f32>; MAX_PARTS]; MAX_PARTS];
    let mut any_near = false;
    for (i, x) in text_a.iter().enumerate().filter(|&(i, _)| !used_a[i]) {
        for (j, y) in text_b.iter().enumerate().filter(|&(j, _)| !used_b[j]) {
            sims[i][j] = part_similarity(x, y);
            any_near |= sims[i][j].is_some();
        }
    }
    // (Most pairs of different people have no near part at all: skip the search.)
    if any_near {
        loop {
            let mut best: Option<(usize, usize, f32)> = None;
            for (i, row) in sims.iter().enumerate().take(text_a.len()) {
                for (j, sim) in row.iter().enumerate().take(text_b.len()) {
                    if let Some(s) = *sim
                        && !used_a[i]
                        && !used_b[j]
                        && best.is_none_or(|(_, _, t)| s > t)
                    {
                        best = Some((i, j, s));
                    }
                }
            }
            let Some((i, j, s)) = best else { break };
            used_a[i] = true;
            used_b[j] = true;
            let full = !is_initial(text_a[i]) && !is_initial(text_b[j]);
            tally.add(s, (a.weights[i] + b.weights[j]) / 2.0, full);
        }
    }

    // Then one part written as two ("Nuraini" and "Nur Aini"), in either direction.
    match_joined(a, text_b, &mut used_a, &mut used_b, &mut tally);
    match_joined(b, text_a, &mut used_b, &mut used_a, &mut tally);

    let left_a = a.unused_weight(&used_a);
    let left_b = b.unused_weight(&used_b);
    let cost = if left_a > 0.0 && left_b > 0.0 {
        CONFLICT_COST
    } else {
        MISSING_COST
    };
    let total = tally.weight + cost * (left_a + left_b);
    if tally.matched <= 0.0 || total <= 0.0 {
        return 0.0;
    }
    let score = (tally.matched / total).clamp(0.0, 1.0);
    if tally.full {
        score
    } else {
        score.min(INITIALS_ONLY_CAP)
    }
}

/// Matches each unused part of `one` with two adjacent unused parts of `two` written together.
fn match_joined(
    one: &Parts<'_>,
    two: &[&str],
    used_one: &mut [bool; MAX_PARTS],
    used_two: &mut [bool; MAX_PARTS],
    tally: &mut Tally,
) {
    for (i, x) in one.text().iter().enumerate() {
        if used_one[i] || is_initial(x) {
            continue;
        }
        for j in 0..two.len().saturating_sub(1) {
            if used_two[j] || used_two[j + 1] {
                continue;
            }
            if let Some(s) = joined_similarity(x, two[j], two[j + 1]) {
                used_one[i] = true;
                used_two[j] = true;
                used_two[j + 1] = true;
                tally.add(s, one.weights[i], true);
                break;
            }
        }
    }
}

/// The similarity of `one` to the parts `first` and `second` written together, if near.
fn joined_similarity(one: &str, first: &str, second: &str) -> Option<f32> {
    if is_initial(first) || is_initial(second) {
        return None;
    }
    if one.is_ascii() && first.is_ascii() && second.is_ascii() {
        let mut buf = [0u8; 2 * MAX_PART_CHARS];
        let joined = buf.get_mut(..first.len() + second.len())?;
        let (head, tail) = joined.split_at_mut(first.len());
        head.copy_from_slice(first.as_bytes());
        tail.copy_from_slice(second.as_bytes());
        return near(one.as_bytes(), joined);
    }
    let mut buf_one = ['\0'; MAX_PART_CHARS];
    let mut buf_joined = ['\0'; MAX_PART_CHARS];
    near(
        chars_into(one.chars(), &mut buf_one)?,
        chars_into(first.chars().chain(second.chars()), &mut buf_joined)?,
    )
}

/// The similarity of two name parts, or `None` when they are different names.
fn part_similarity(a: &str, b: &str) -> Option<f32> {
    if a == b {
        return Some(1.0);
    }
    match (is_initial(a), is_initial(b)) {
        (true, true) => return None,
        (true, false) => return b.starts_with(a).then_some(INITIAL_SIMILARITY),
        (false, true) => return a.starts_with(b).then_some(INITIAL_SIMILARITY),
        (false, false) => {}
    }
    if a.is_ascii() && b.is_ascii() {
        return near(a.as_bytes(), b.as_bytes());
    }
    let mut buf_a = ['\0'; MAX_PART_CHARS];
    let mut buf_b = ['\0'; MAX_PART_CHARS];
    near(
        chars_into(a.chars(), &mut buf_a)?,
        chars_into(b.chars(), &mut buf_b)?,
    )
}

/// `chars` in `buf`, or `None` if there are more than fit.
fn chars_into(
    chars: impl Iterator<Item = char>,
    buf: &mut [char; MAX_PART_CHARS],
) -> Option<&[char]> {
    let mut len = 0;
    for c in chars {
        *buf.get_mut(len)? = c;
        len += 1;
    }
    Some(&buf[..len])
}

/// The similarity of two non-initial parts if they are equal or one is a slip for the other.
fn near<T: Copy + PartialEq + From<u8>>(a: &[T], b: &[T]) -> Option<f32> {
    if a.len() > MAX_PART_CHARS || b.len() > MAX_PART_CHARS {
        return None;
    }
    // The first letter must agree; a leading kh and h are the same Arabic letter written two
    // ways (Khairul, Hairul), so "kh…" may meet "h…", at the cost of the k.
    let (k, h) = (T::from(b'k'), T::from(b'h'));
    let kh_h = |x: &[T], y: &[T]| x.len() >= 2 && x[0] == k && x[1] == h && y[0] == h;
    if a.first()? != b.first()? && !kh_h(a, b) && !kh_h(b, a) {
        return None;
    }
    let (last_a, last_b) = (*a.last()?, *b.last()?);
    let (d, t) = (T::from(b'd'), T::from(b't'));
    // A final d and t sound alike and are written either way (Rahmat, Rahmad): one edit,
    // allowed even in short parts; compare the rest.
    let final_dt = last_a != last_b && (last_a == d || last_a == t) && (last_b == d || last_b == t);
    if last_a != last_b && !final_dt {
        return None;
    }
    if a.len() == b.len() && a.len() >= 2 && a[a.len() - 2] != b[b.len() - 2] {
        return None;
    }
    let (a_rest, b_rest) = if final_dt {
        (&a[..a.len() - 1], &b[..b.len() - 1])
    } else {
        (a, b)
    };
    let allowed = match a.len().min(b.len()) {
        0..=4 => 0,
        5..=7 => 1,
        _ => 2,
    };
    if a_rest.len().abs_diff(b_rest.len()) > allowed {
        return None;
    }
    let edits = if a_rest == b_rest {
        0
    } else {
        edit_distance(a_rest, b_rest)
    };
    if edits > allowed {
        return None;
    }
    let edits = edits + usize::from(final_dt);
    Some(1.0 - EDIT_COST * edits as f32)
}

/// Optimal string alignment distance (Levenshtein plus adjacent transpositions) of two slices
/// of at most [`MAX_PART_CHARS`], with three rows on the stack.
fn edit_distance<T: PartialEq>(a: &[T], b: &[T]) -> usize {
    let mut before = [0u8; MAX_PART_CHARS + 1];
    let mut previous = [0u8; MAX_PART_CHARS + 1];
    let mut current = [0u8; MAX_PART_CHARS + 1];
    // Lengths are at most 64 (checked by the caller), so every distance fits in a byte.
    for (j, cell) in previous.iter_mut().enumerate().take(b.len() + 1) {
        *cell = j as u8;
    }
    for i in 1..=a.len() {
        current[0] = i as u8;
        for j in 1..=b.len() {
            let substitution = previous[j - 1] + u8::from(a[i - 1] != b[j - 1]);
            let mut best = substitution.min(previous[j] + 1).min(current[j - 1] + 1);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(before[j - 2] + 1);
            }
            current[j] = best;
        }
        std::mem::swap(&mut before, &mut previous);
        std::mem::swap(&mut previous, &mut current);
    }
    usize::from(previous[b.len()])
}

#[cfg(test)]
mod tests;
