//! Enrolment codes, device tokens and session ids: random, shown once,
//! stored only as SHA-256; and staff passwords, stored as argon2id hashes.
//!
//! Codes, tokens and session ids are high-entropy random values (not
//! passwords a person chose), so a plain SHA-256 is enough to make a stolen
//! database useless for logging in: the hash cannot be turned back into the
//! token. A password a person chose is guessable, so it is hashed with
//! argon2id (memory-hard, salted) and compared in constant time; it is never
//! logged or stored otherwise.

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

/// Argon2id memory in KiB, passes and lanes: OWASP's recommended minimum
/// (19 MiB, 2 passes, 1 lane), about 50 ms per login on one core.
const PASSWORD_COST: (u32, u32, u32) = (19 * 1024, 2, 1);

/// The shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 10;

/// Why a password could not be hashed.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// No random salt from the system.
    #[error("no random numbers from the system: {0}")]
    Random(#[from] getrandom::Error),
    /// The hash function refused its parameters.
    #[error("argon2: {0}")]
    Argon2(String),
}

/// The stored form of a password: `$argon2id$v=19$m=M,t=T,p=P$SALT$HASH`
/// (salt and hash in hexadecimal), so the parameters can grow later
/// without invalidating stored hashes.
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt)?;
    let (m, t, p) = PASSWORD_COST;
    let hash = argon2id(password, &salt, m, t, p)?;
    Ok(format!(
        "$argon2id$v=19$m={m},t={t},p={p}${}${}",
        lindung_shared::hex::encode(&salt),
        lindung_shared::hex::encode(&hash)
    ))
}

/// Whether `password` matches a stored [`hash_password`] result (false
/// for anything unreadable).
pub fn verify_password(password: &str, stored: &str) -> bool {
    let Some((m, t, p, salt, expected)) = parse_password_hash(stored) else {
        return false;
    };
    match argon2id(password, &salt, m, t, p) {
        Ok(hash) => constant_time_eq(&hash, &expected),
        Err(_) => false,
    }
}

fn argon2id(
    password: &str,
    salt: &[u8],
    m: u32,
    t: u32,
    p: u32,
) -> Result<[u8; 32], PasswordError> {
    use argon2::{Algorithm, Argon2, Params, Version};
    let params =
        Params::new(m, t, p, Some(32)).map_err(|e| PasswordError::Argon2(e.to_string()))?;
    let mut out = [0u8; 32];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(password.as_bytes(), salt, &mut out)
        .map_err(|e| PasswordError::Argon2(e.to_string()))?;
    Ok(out)
}

type ParsedHash = (u32, u32, u32, Vec<u8>, Vec<u8>);

fn parse_password_hash(stored: &str) -> Option<ParsedHash> {
    let mut parts = stored.strip_prefix("$argon2id$v=19$")?.split('$');
    let params = parts.next()?;
    let salt = lindung_shared::hex::decode(parts.next()?)?;
    let hash = lindung_shared::hex::decode(parts.next()?)?;
    if parts.next().is_some() || hash.len() != 32 || salt.len() < 8 {
        return None;
    }
    let mut values = [0u32; 3];
    for (slot, (name, value)) in values.iter_mut().zip(
        ["m", "t", "p"]
            .into_iter()
            .zip(params.split(',').map(|kv| kv.split_once('='))),
    ) {
        let (key, number) = value?;
        if key != name {
            return None;
        }
        *slot = number.parse().ok()?;
    }
    Some((values[0], values[1], values[2], salt, hash))
}

/// Equal bytes, in a time that does not depend on where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_verifies_only_against_its_own_hash() {
        let stored = hash_password("kata sandi panjang").expect("hashes");
        assert!(
            stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{stored}"
        );
        assert!(!stored.contains("kata sandi"));
        assert!(verify_password("kata sandi panjang", &stored));
        assert!(!verify_password("kata sandi panjanG", &stored));
        // Salted: the same password hashes differently each time.
        assert_ne!(stored, hash_password("kata sandi panjang").expect("hashes"));
        assert!(!verify_password("kata sandi panjang", "garbage"));
        assert!(!verify_password("x", &stored.replace("t=2", "t=x")));
    }

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
