//! Decoding of the embedded region index written by `build.rs`.
//!
//! # Format (after inflating; UTF-8, `\n`-terminated lines, `\t`-separated fields)
//! ```text
//! wilayah 1 <provinces> <regencies> <districts> <villages> <retired> <name bytes>   (tabs)
//! <code>\t<name>                           one line per province, sorted by code
//! then for regencies, districts, villages in turn, for each parent in code order:
//! <number of children>
//! <own digits>\t<name>                     one per child, sorted; the digits are left empty
//!                                          when they are the previous child's plus one
//! <code>\t<name>\t<last listed in>\t<successor or empty>   one per retired district
//! ```
//! Nothing here trusts the text beyond what it checks: counts, digit widths, sort order and
//! parent sizes are verified, and any mismatch is a [`RegionDataError`], never a panic.

use super::fold::fold_into;
use super::{Level, RegionDataError, Regions, RetiredTable};

/// Inflates (zlib) and decodes the embedded index; `raw_len` is the inflated size recorded by
/// `build.rs`.
pub(super) fn decode(compressed: &[u8], raw_len: usize) -> Result<Regions, RegionDataError> {
    // Inflating straight into a buffer of the known size avoids the regrow-and-copy steps of
    // `decompress_to_vec`; the zlib wrapper's Adler-32 checksum catches damaged bytes that
    // would otherwise still parse.
    let mut raw = vec![0; raw_len];
    let written = miniz_oxide::inflate::decompress_slice_iter_to_slice(
        &mut raw,
        std::iter::once(compressed),
        true,
        false,
    )
    .map_err(|status| RegionDataError::new(format!("cannot inflate it ({status:?})")))?;
    if written != raw_len {
        return Err(RegionDataError::new(format!(
            "it inflates to {written} bytes instead of {raw_len}"
        )));
    }
    let text = std::str::from_utf8(&raw)
        .map_err(|e| RegionDataError::new(format!("it is not UTF-8: {e}")))?;
    decode_text(text)
}

/// Line reader that knows its line number for error messages. Splits with `memchr`, which is
/// several times faster here than `str::split` over 92k short lines.
struct Lines<'a> {
    text: &'a str,
    /// Start of the next line; `None` once the last (unterminated) piece was returned.
    at: Option<usize>,
    number: usize,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str) -> Self {
        Lines {
            text,
            at: Some(0),
            number: 0,
        }
    }

    fn next_line(&mut self) -> Option<&'a str> {
        let start = self.at?;
        let rest = self.text.get(start..)?;
        match memchr::memchr(b'\n', rest.as_bytes()) {
            Some(end) => {
                self.at = Some(start + end + 1);
                rest.get(..end)
            }
            None => {
                self.at = None;
                Some(rest)
            }
        }
    }

    fn next(&mut self) -> Result<&'a str, RegionDataError> {
        self.number += 1;
        self.next_line()
            .ok_or_else(|| RegionDataError::new(format!("it ends early at line {}", self.number)))
    }

    fn error(&self, what: &str) -> RegionDataError {
        RegionDataError::new(format!("line {}: {what}", self.number))
    }

    /// The next line split at its first tab: `(digits, name)`.
    fn pair(&mut self) -> Result<(&'a str, &'a str), RegionDataError> {
        let line = self.next()?;
        memchr::memchr(b'\t', line.as_bytes())
            .and_then(|tab| Some((line.get(..tab)?, line.get(tab + 1..)?)))
            .filter(|(_, name)| !name.is_empty())
            .ok_or_else(|| self.error("expected digits, a tab and a name"))
    }
}

/// The decoded index under construction.
struct Builder {
    codes: String,
    names: String,
    name_ends: Vec<u32>,
    folded: Vec<u8>,
    parents: Vec<u16>,
    /// Reused for folding each name, so folding allocates nothing per name.
    scratch: String,
}

impl Builder {
    /// Appends one region whose code digits were already appended to `codes`.
    fn push(&mut self, name: &str, parent: usize, lines: &Lines) -> Result<(), RegionDataError> {
        let parent = u16::try_from(parent).map_err(|_| lines.error("parent index over 65535"))?;
        self.names.push_str(name);
        let end = u32::try_from(self.names.len()).map_err(|_| lines.error("names over 4 GiB"))?;
        self.name_ends.push(end);
        self.parents.push(parent);
        self.scratch.clear();
        fold_into(name, &mut self.scratch);
        // The folded arena reuses the name offsets, which needs folded ≤ original length.
        if self.scratch.len() > name.len() {
            return Err(lines.error("a name folds to something longer than itself"));
        }
        self.folded.extend_from_slice(self.scratch.as_bytes());
        let padded = self.folded.len() + (name.len() - self.scratch.len()) + 1;
        self.folded.resize(padded, 0);
        Ok(())
    }
}

fn parse_count(field: Option<&str>, lines: &Lines) -> Result<usize, RegionDataError> {
    field
        .and_then(|f| f.parse().ok())
        .ok_or_else(|| lines.error("expected a count"))
}

fn is_digits(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_digit())
}

fn decode_text(text: &str) -> Result<Regions, RegionDataError> {
    let mut lines = Lines::new(text);
    let header = lines.next()?;
    let mut fields = header.split('\t');
    if fields.next() != Some("wilayah") || fields.next() != Some("1") {
        return Err(lines.error("unknown format (expected \"wilayah 1\")"));
    }
    let mut counts = [0; 4];
    for count in &mut counts {
        *count = parse_count(fields.next(), &lines)?;
    }
    let retired_count = parse_count(fields.next(), &lines)?;
    let name_bytes = parse_count(fields.next(), &lines)?;

    let mut level_start = [0; 5];
    let mut code_start = [0; 4];
    for level in Level::ALL {
        let l = level.index();
        level_start[l + 1] = level_start[l] + counts[l];
        if l + 1 < code_start.len() {
            code_start[l + 1] = code_start[l] + counts[l] * level.code_len();
        }
    }
    let total = level_start[4];
    let code_bytes = code_start[3] + counts[3] * Level::Village.code_len();
    let mut b = Builder {
        codes: String::with_capacity(code_bytes),
        names: String::with_capacity(name_bytes),
        name_ends: Vec::with_capacity(total),
        folded: Vec::with_capacity(name_bytes + total),
        parents: Vec::with_capacity(total),
        scratch: String::with_capacity(128),
    };

    let mut last = None;
    for _ in 0..counts[0] {
        let (code, name) = lines.pair()?;
        if !is_digits(code, 2) {
            return Err(lines.error("a province code must be 2 digits"));
        }
        push_sorted_code(&mut b.codes, code.as_bytes(), &mut last, &lines)?;
        b.push(name, 0, &lines)?;
    }

    for level in [Level::Regency, Level::District, Level::Village] {
        let Some(parent_level) = level.parent() else {
            continue;
        };
        let (width, parent_width) = (level.code_len(), parent_level.code_len());
        let own_width = width - parent_width;
        let limit = 10u32.pow(own_width as u32);
        let mut last = None;
        let before = b.name_ends.len();
        for parent in 0..counts[parent_level.index()] {
            let mut code = [0u8; 10];
            let at = code_start[parent_level.index()] + parent * parent_width;
            code[..parent_width].copy_from_slice(&b.codes.as_bytes()[at..at + parent_width]);
            let children = parse_count(Some(lines.next()?), &lines)?;
            let mut previous: Option<u32> = None;
            for _ in 0..children {
                let (own, name) = lines.pair()?;
                let value = if own.is_empty() {
                    previous.map(|p| p + 1)
                } else if is_digits(own, own_width) {
                    own.parse().ok()
                } else {
                    None
                };
                let value = value
                    .filter(|&v| v < limit)
                    .ok_or_else(|| lines.error("bad code digits"))?;
                previous = Some(value);
                let mut rest = value;
                for digit in code[parent_width..width].iter_mut().rev() {
                    // `rest % 10` is a single digit, so the cast keeps it exactly.
                    *digit = b'0' + (rest % 10) as u8;
                    rest /= 10;
                }
                push_sorted_code(&mut b.codes, &code[..width], &mut last, &lines)?;
                b.push(name, parent, &lines)?;
            }
        }
        if b.name_ends.len() - before != counts[level.index()] {
            return Err(lines.error(&format!("wrong number of {}s", level.name_en())));
        }
    }

    let mut retired = RetiredTable {
        codes: String::with_capacity(retired_count * 6),
        text: String::new(),
        ends: Vec::with_capacity(retired_count),
    };
    let mut last_code = None;
    for _ in 0..retired_count {
        let line = lines.next()?;
        let mut f = line.split('\t');
        let (Some(code), Some(name), Some(last), Some(successor), None) =
            (f.next(), f.next(), f.next(), f.next(), f.next())
        else {
            return Err(lines.error("a retired district needs 4 fields"));
        };
        if !is_digits(code, 6)
            || name.is_empty()
            || last.is_empty()
            || !(successor.is_empty() || is_digits(successor, 6))
        {
            return Err(lines.error("malformed retired district"));
        }
        push_sorted_code(&mut retired.codes, code.as_bytes(), &mut last_code, &lines)?;
        let mut ends = [0u32; 3];
        for (end, field) in ends.iter_mut().zip([name, last, successor]) {
            retired.text.push_str(field);
            *end = u32::try_from(retired.text.len()).map_err(|_| lines.error("text too long"))?;
        }
        retired.ends.push(ends);
    }
    retired.text.shrink_to_fit();

    if !lines.next()?.is_empty() || lines.next_line().is_some() {
        return Err(lines.error("unexpected data after the last record"));
    }
    Ok(Regions {
        codes: b.codes,
        names: b.names,
        name_ends: b.name_ends,
        folded: b.folded,
        parents: b.parents,
        level_start,
        code_start,
        retired,
    })
}

/// Appends a code to a fixed-width code arena, checking it sorts strictly after the previous
/// code of the same arena (`last`, as a number; equal width makes numeric order the string
/// order): lookups binary-search these arenas.
fn push_sorted_code(
    codes: &mut String,
    code: &[u8],
    last: &mut Option<u64>,
    lines: &Lines,
) -> Result<(), RegionDataError> {
    let value = code
        .iter()
        .fold(0u64, |v, &d| v * 10 + u64::from(d.wrapping_sub(b'0')));
    if last.is_some_and(|l| l >= value) {
        return Err(lines.error("codes are not strictly increasing"));
    }
    *last = Some(value);
    let text = std::str::from_utf8(code).map_err(|_| lines.error("code is not ASCII"))?;
    codes.push_str(text);
    Ok(())
}
