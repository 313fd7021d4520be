//! Enrolment codes and device tokens: random, shown once, stored only as SHA-256.
//!
//! Both are high-entropy random values (not passwords a person chose), so a
//! plain SHA-256 is enough to make a stolen database useless for logging in:
//! the hash cannot be turned back into the token.

use sha2::{Digest, Sha256};

/// Symbols of an enrolment code: Crockford's base 32 (no I, L, O or U), so a
/// code read over the phone survives; O is read as 0 and I or L as 1.
const CODE_ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A fresh enrolment code, `XXXX-XXXX-XXXX` (60 random bits).
pub fn new_enrollment_code() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 12];
    getrandom::fill(&mut bytes)?;
    let letters: Vec<char> = bytes
        .iter()
        .map(|b| char::from(CODE_ALPHABET[usize::from(b % 32)]))
        .collect();
    Ok(letters
        .chunks(4)
        .map(|chunk| chunk.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-"))
}

/// The hash under which a code is stored: case, spaces and dashes do not
/// matter, and the look-alikes O, I and L count as 0, 1 and 1.
pub fn enrollment_code_hash(code: &str) -> [u8; 32] {
    let normal: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            other => other,
        })
        .collect();
    Sha256::digest(normal.as_bytes()).into()
}

/// A fresh device token: 128 random bits as 32 hexadecimal digits.
pub fn new_token() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The hash under which a token is stored and looked up.
pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.trim().as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_readable_and_their_hash_ignores_case_and_dashes() {
        let code = new_enrollment_code().expect("random");
        assert_eq!(code.len(), 14);
        assert!(
            code.chars()
                .all(|c| c == '-' || CODE_ALPHABET.contains(&(c as u8)))
        );
        let sloppy = code.to_lowercase().replace('-', " ");
        assert_eq!(enrollment_code_hash(&sloppy), enrollment_code_hash(&code));
        assert_eq!(
            enrollment_code_hash("O1L0-AAAA-BBBB"),
            enrollment_code_hash("0110-aaaa-bbbb")
        );
        assert_ne!(new_enrollment_code().expect("random"), code);
    }

    #[test]
    fn tokens_are_random_and_hashed() {
        let token = new_token().expect("random");
        assert_eq!(token.len(), 32);
        assert_ne!(
            token_hash(&token),
            token_hash(&new_token().expect("random"))
        );
    }
}
