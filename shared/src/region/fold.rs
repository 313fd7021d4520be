//! Text normalisation for region codes and names: [`normalize_code`] and [`fold_name`].
//!
//! Officers type codes as printed on documents ("13.11.01.2001") and names however the
//! keyboard allows ("LUBUK gádang", "Regapu'u" for "Regapu’u"); both forms are reduced here to
//! one canonical form that the index stores and compares.

/// Up to 10 ASCII digits on the stack: lookups normalise codes without allocating.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Digits {
    buf: [u8; 10],
    len: u8,
}

impl Digits {
    /// The digits of `input` with dots and whitespace removed: `None` if anything else is left
    /// or there are more than 10 digits. May be empty.
    pub(super) fn strip(input: &str) -> Option<Digits> {
        let mut out = Digits {
            buf: [0; 10],
            len: 0,
        };
        for c in input.chars() {
            if c == '.' || c.is_whitespace() {
                continue;
            }
            if !c.is_ascii_digit() || usize::from(out.len) == out.buf.len() {
                return None;
            }
            // `c` is an ASCII digit, so the cast keeps it exactly.
            out.buf[usize::from(out.len)] = c as u8;
            out.len += 1;
        }
        Some(out)
    }

    /// The digits of a code of a real level (2, 4, 6 or 10 digits), as [`normalize_code`].
    pub(super) fn code(input: &str) -> Option<Digits> {
        Digits::strip(input).filter(|d| matches!(d.len, 2 | 4 | 6 | 10))
    }

    pub(super) fn as_bytes(&self) -> &[u8] {
        &self.buf[..usize::from(self.len)]
    }

    pub(super) fn len(&self) -> usize {
        usize::from(self.len)
    }

    pub(super) fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Normalises a region code: removes dots and whitespace and checks that what is left is a
/// province (2), regency (4), district (6) or village (10) code of ASCII digits.
///
/// `"13.11.01.2001"` and `" 1311012001 "` both give `Some("1311012001")`; `"13.1"`, `"13a1"`
/// and `""` give `None`. Whether the code exists is a separate question: see
/// [`Regions::get`](super::Regions::get).
pub fn normalize_code(input: &str) -> Option<String> {
    let digits = Digits::code(input)?;
    // Only ASCII digits were stored, so every byte is its own char.
    Some(digits.as_bytes().iter().map(|&b| char::from(b)).collect())
}

/// Folds a name for case- and accent-insensitive comparison: lowercase, Latin accents removed
/// (`é`→`e`, `ü`→`u`, `ß`→`ss`, `æ`→`ae`), combining marks dropped (so decomposed input folds
/// like precomposed), typographic apostrophes and backticks (`’ ‘ ʼ ´ ` `) → `'`, typographic
/// quotes → `"`, dashes → `-`, control characters treated as spaces, runs of whitespace → one
/// space, trimmed.
///
/// `fold_name("  LUBUK   gádang ")` is `"lubuk gadang"`; `fold_name("Regapu’u")` is
/// `"regapu'u"`. The region index stores every name folded this way, and
/// [`Regions::search`](super::Regions::search) folds the query the same way.
pub fn fold_name(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    fold_into(input, &mut out);
    out
}

/// [`fold_name`] appending to `out`, so the index can fold 91,599 names into one buffer.
pub(super) fn fold_into(input: &str, out: &mut String) {
    if input.is_ascii() {
        fold_ascii(input, out);
        return;
    }
    let start = out.len();
    // A space is written only before the next kept character, which both collapses runs and
    // trims the end; none is written before the first character, which trims the start.
    let mut space = false;
    let push = |out: &mut String, c: char, space: &mut bool| {
        if *space && out.len() > start {
            out.push(' ');
        }
        *space = false;
        out.push(c);
    };
    for c in input.chars() {
        if c.is_ascii() {
            if c.is_ascii_whitespace() || c.is_ascii_control() {
                space = true;
            } else if c == '`' {
                // Typed on many keyboards in place of an apostrophe.
                push(out, '\'', &mut space);
            } else {
                push(out, c.to_ascii_lowercase(), &mut space);
            }
            continue;
        }
        if c.is_whitespace() || c.is_control() {
            space = true;
            continue;
        }
        if is_combining_mark(c) {
            continue;
        }
        match fold_char(c) {
            Folded::One(f) => push(out, f, &mut space),
            Folded::Two(a, b) => {
                push(out, a, &mut space);
                push(out, b, &mut space);
            }
            Folded::Lower => {
                for l in c.to_lowercase() {
                    // Lowercasing can emit a combining mark (İ → i + U+0307), dropped as above,
                    // or a letter the table folds (ẞ → ß → ss), folded so that folding twice
                    // changes nothing.
                    if is_combining_mark(l) {
                        continue;
                    }
                    match fold_char(l) {
                        Folded::One(f) => push(out, f, &mut space),
                        Folded::Two(a, b) => {
                            push(out, a, &mut space);
                            push(out, b, &mut space);
                        }
                        Folded::Lower => push(out, l, &mut space),
                    }
                }
            }
        }
    }
}

/// [`fold_into`] for ASCII input (all but 3 of the 91,599 names). The common case, a name that
/// is already single-spaced and trimmed, is copied and lowercased in bulk, which makes folding
/// the whole index several times faster than going char by char.
fn fold_ascii(input: &str, out: &mut String) {
    // Tidy: only graphic characters (no backtick) and single inner spaces. One pass, since
    // this runs for every name when the index is decoded.
    let mut previous = b' ';
    let mut tidy = true;
    for &b in input.as_bytes() {
        tidy &= if b == b' ' {
            previous != b' '
        } else {
            b.is_ascii_graphic() && b != b'`'
        };
        previous = b;
    }
    tidy &= previous != b' ';
    let start = out.len();
    if tidy {
        out.push_str(input);
        out[start..].make_ascii_lowercase();
        return;
    }
    let mut space = false;
    for b in input.bytes() {
        if b.is_ascii_whitespace() || b.is_ascii_control() {
            space = true;
            continue;
        }
        if space && out.len() > start {
            out.push(' ');
        }
        space = false;
        out.push(match b {
            b'`' => '\'',
            _ => char::from(b.to_ascii_lowercase()),
        });
    }
}

/// Combining diacritical marks (U+0300–U+036F), what remains of an accent in decomposed text.
fn is_combining_mark(c: char) -> bool {
    matches!(c, '\u{0300}'..='\u{036F}')
}

/// What one non-ASCII character folds to.
enum Folded {
    One(char),
    Two(char, char),
    /// No special rule: use Unicode lowercase.
    Lower,
}

/// Accent and punctuation folding for Latin-1 Supplement and Latin Extended-A, which covers
/// every accented letter an Indonesian keyboard or a copied Dutch-era spelling produces.
fn fold_char(c: char) -> Folded {
    use Folded::{Lower, One, Two};
    match c {
        'À'..='Å' | 'à'..='å' | '\u{0100}'..='\u{0105}' => One('a'),
        'Æ' | 'æ' => Two('a', 'e'),
        'Ç' | 'ç' | '\u{0106}'..='\u{010D}' => One('c'),
        'Ð' | 'ð' | '\u{010E}'..='\u{0111}' => One('d'),
        'È'..='Ë' | 'è'..='ë' | '\u{0112}'..='\u{011B}' => One('e'),
        '\u{011C}'..='\u{0123}' => One('g'),
        '\u{0124}'..='\u{0127}' => One('h'),
        'Ì'..='Ï' | 'ì'..='ï' | '\u{0128}'..='\u{0131}' => One('i'),
        '\u{0132}' | '\u{0133}' => Two('i', 'j'),
        '\u{0134}' | '\u{0135}' => One('j'),
        '\u{0136}'..='\u{0138}' => One('k'),
        '\u{0139}'..='\u{0142}' => One('l'),
        'Ñ' | 'ñ' | '\u{0143}'..='\u{014B}' => One('n'),
        'Ò'..='Ö' | 'ò'..='ö' | 'Ø' | 'ø' | '\u{014C}'..='\u{0151}' => One('o'),
        '\u{0152}' | '\u{0153}' => Two('o', 'e'),
        '\u{0154}'..='\u{0159}' => One('r'),
        '\u{015A}'..='\u{0161}' | '\u{017F}' => One('s'),
        'ß' => Two('s', 's'),
        '\u{0162}'..='\u{0167}' => One('t'),
        'Þ' | 'þ' => Two('t', 'h'),
        'Ù'..='Ü' | 'ù'..='ü' | '\u{0168}'..='\u{0173}' => One('u'),
        '\u{0174}' | '\u{0175}' => One('w'),
        'Ý' | 'ý' | 'ÿ' | '\u{0176}'..='\u{0178}' => One('y'),
        '\u{0179}'..='\u{017E}' => One('z'),
        // Apostrophe look-alikes: the data spells Regapu’u with U+2019, keyboards type '.
        '\u{2018}' | '\u{2019}' | '\u{201B}' | '\u{02BC}' | '\u{00B4}' | '\u{2032}' => One('\''),
        '\u{201C}' | '\u{201D}' | '\u{201F}' | '\u{2033}' => One('"'),
        '\u{2010}'..='\u{2015}' | '\u{2212}' => One('-'),
        _ => Lower,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_normalise_from_dotted_and_spaced_input() {
        assert_eq!(
            normalize_code("13.11.01.2001").as_deref(),
            Some("1311012001")
        );
        assert_eq!(
            normalize_code(" 1311012001 ").as_deref(),
            Some("1311012001")
        );
        assert_eq!(normalize_code("13").as_deref(), Some("13"));
        assert_eq!(normalize_code("13.11").as_deref(), Some("1311"));
        assert_eq!(normalize_code("13.11.01").as_deref(), Some("131101"));
        for bad in [
            "",
            "1",
            "131",
            "13110",
            "13.11.01.200",
            "13a1",
            "１３",
            "13110120011",
        ] {
            assert_eq!(normalize_code(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn names_fold_case_accents_apostrophes_and_spaces() {
        assert_eq!(fold_name("  LUBUK   gádang "), "lubuk gadang");
        assert_eq!(fold_name("Regapu’u"), "regapu'u");
        assert_eq!(fold_name("Regapu`u"), "regapu'u");
        assert_eq!(fold_name("Müller Straße"), "muller strasse");
        assert_eq!(fold_name("Cafe\u{301}\tÆ\u{a0}ŁÓDŹ"), "cafe ae lodz");
        assert_eq!(fold_name("İstanbul"), "istanbul");
        assert_eq!(fold_name("a\u{0}b"), "a b");
        assert_eq!(fold_name(" \t "), "");
        assert_eq!(fold_name("Kota  Solok"), "kota solok");
        assert_eq!(fold_name("Kota\tSolok "), "kota solok");
        assert_eq!(fold_name("Kota Solok"), "kota solok");
        assert_eq!(fold_name("GROẞ"), "gross");
    }

    proptest::proptest! {
        #[test]
        fn folding_is_idempotent_and_tidy(input in "\\PC{0,24}|[ \t\u{a0}A-Za-zÀ-ſ’`\u{300}-\u{36f}]{0,24}") {
            let once = fold_name(&input);
            proptest::prop_assert_eq!(fold_name(&once), once.clone());
            proptest::prop_assert!(!once.starts_with(' ') && !once.ends_with(' '));
            proptest::prop_assert!(!once.contains("  ") && !once.contains('\0'));
            // Lowercase wherever Unicode has a lowercase form.
            proptest::prop_assert!(once.chars().all(|c| c.to_lowercase().eq([c])));
        }

        #[test]
        fn normalised_codes_are_digits_of_a_level(input in "[0-9. ]{0,14}") {
            if let Some(code) = normalize_code(&input) {
                proptest::prop_assert!(matches!(code.len(), 2 | 4 | 6 | 10));
                proptest::prop_assert!(code.bytes().all(|b| b.is_ascii_digit()));
                let digits: String = input.chars().filter(char::is_ascii_digit).collect();
                proptest::prop_assert_eq!(code, digits);
            }
        }
    }
}
