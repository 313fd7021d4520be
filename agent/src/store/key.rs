//! The store's encryption key: derived from the officer's passphrase with argon2id.
//!
//! The database is a SQLCipher file; SQLCipher is given a raw 256-bit key, so
//! its own (PBKDF2) derivation is skipped and ours is memory-hard. The salt and
//! the argon2 parameters are not secret and live beside the database in
//! `agent.key.json`; without the passphrase they are useless.
//!
//! Changing the passphrase writes the new parameters to `agent.key.json.new`,
//! re-keys the database, then renames the file over the old one. If the laptop
//! dies in between, [`KeyFile::load_candidates`] offers both files and the
//! store opens with whichever one matches.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use argon2::{Algorithm, Argon2, Params, Version};
use serde::{Deserialize, Serialize};

use super::StoreError;

/// Name of the key parameter file in the data directory.
pub const KEY_FILE: &str = "agent.key.json";

/// Argon2id parameters and salt, stored beside the database.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyFile {
    /// Format version of this file.
    pub format: u32,
    /// Always `argon2id`.
    pub kdf: String,
    /// Memory cost in KiB.
    pub memory_kib: u32,
    /// Number of passes.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
    /// 16 random bytes, hex.
    pub salt: String,
}

/// How expensive the key derivation is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KdfCost {
    /// 19 MiB, 2 passes, 1 lane: the OWASP-recommended argon2id setting for
    /// memory-constrained machines (4 GB laptops that also run a browser);
    /// about 0.1 s here, once per session.
    Standard,
    /// 1 MiB, 1 pass: for automated tests only (`--insecure-fast-kdf`).
    InsecureFast,
}

impl KeyFile {
    /// New parameters with a fresh random salt.
    pub fn generate(cost: KdfCost) -> Result<KeyFile, StoreError> {
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt).map_err(|e| StoreError::Random(e.to_string()))?;
        let (memory_kib, iterations) = match cost {
            KdfCost::Standard => (19 * 1024, 2),
            KdfCost::InsecureFast => (1024, 1),
        };
        Ok(KeyFile {
            format: 1,
            kdf: "argon2id".into(),
            memory_kib,
            iterations,
            parallelism: 1,
            salt: hex(&salt),
        })
    }

    /// Derives the 256-bit database key from a passphrase.
    pub fn derive(&self, passphrase: &str) -> Result<DatabaseKey, StoreError> {
        let salt = unhex(&self.salt)
            .ok_or_else(|| StoreError::KeyFileDamaged("salt is not hex".into()))?;
        let params = Params::new(self.memory_kib, self.iterations, self.parallelism, Some(32))
            .map_err(|e| StoreError::KeyFileDamaged(format!("argon2 parameters: {e}")))?;
        let mut key = [0u8; 32];
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password_into(passphrase.as_bytes(), &salt, &mut key)
            .map_err(|e| StoreError::KeyFileDamaged(format!("argon2: {e}")))?;
        Ok(DatabaseKey(key))
    }

    /// Reads the key file of a data directory.
    pub fn load(path: &Path) -> Result<KeyFile, StoreError> {
        let text = fs::read_to_string(path).map_err(|e| StoreError::io(path, e))?;
        let file: KeyFile = serde_json::from_str(&text)
            .map_err(|e| StoreError::KeyFileDamaged(format!("{}: {e}", path.display())))?;
        if file.format != 1 || file.kdf != "argon2id" {
            return Err(StoreError::KeyFileDamaged(format!(
                "{}: unsupported format {} / kdf {}",
                path.display(),
                file.format,
                file.kdf
            )));
        }
        Ok(file)
    }

    /// The key files to try, in order: the current one, then one left by an
    /// interrupted passphrase change (with the path it must be renamed from).
    pub fn load_candidates(dir: &Path) -> Result<Vec<(KeyFile, Option<PathBuf>)>, StoreError> {
        let mut candidates = vec![(KeyFile::load(&dir.join(KEY_FILE))?, None)];
        let pending = pending_path(dir);
        if pending.exists()
            && let Ok(file) = KeyFile::load(&pending)
        {
            candidates.push((file, Some(pending)));
        }
        Ok(candidates)
    }

    /// Writes the file atomically (temporary file, fsync, rename).
    pub fn save(&self, path: &Path) -> Result<(), StoreError> {
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| StoreError::KeyFileDamaged(format!("cannot serialise key file: {e}")))?;
        write_atomically(path, text.as_bytes())
    }
}

/// Where a passphrase change writes the new parameters before re-keying.
pub fn pending_path(dir: &Path) -> PathBuf {
    dir.join(format!("{KEY_FILE}.new"))
}

/// A derived database key. Its `Debug` never shows the bytes.
pub struct DatabaseKey([u8; 32]);

impl DatabaseKey {
    /// The SQLCipher raw-key literal: `"x'<64 hex digits>'"`.
    pub fn pragma_literal(&self) -> String {
        format!("\"x'{}'\"", hex(&self.0))
    }
}

impl std::fmt::Debug for DatabaseKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DatabaseKey(…)")
    }
}

impl Drop for DatabaseKey {
    fn drop(&mut self) {
        // Best effort: do not leave the key in freed memory.
        self.0 = [0; 32];
    }
}

/// Writes a file so that a crash leaves either the old or the new content.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let temporary = path.with_extension("tmp");
    let mut file = fs::File::create(&temporary).map_err(|e| StoreError::io(&temporary, e))?;
    file.write_all(bytes)
        .map_err(|e| StoreError::io(&temporary, e))?;
    file.sync_all().map_err(|e| StoreError::io(&temporary, e))?;
    drop(file);
    fs::rename(&temporary, path).map_err(|e| StoreError::io(path, e))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_passphrase_and_salt_give_the_same_key_and_others_do_not() {
        let file = KeyFile::generate(KdfCost::InsecureFast).unwrap();
        let a = file.derive("rahasia desa").unwrap().pragma_literal();
        let b = file.derive("rahasia desa").unwrap().pragma_literal();
        let c = file.derive("rahasia kota").unwrap().pragma_literal();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.len(), r#""x''""#.len() + 64);
        let other_salt = KeyFile::generate(KdfCost::InsecureFast).unwrap();
        assert_ne!(
            other_salt.derive("rahasia desa").unwrap().pragma_literal(),
            a
        );
        assert_eq!(format!("{:?}", file.derive("x").unwrap()), "DatabaseKey(…)");
    }

    #[test]
    fn hex_round_trips() {
        assert_eq!(unhex(&hex(&[0, 1, 254, 255])), Some(vec![0, 1, 254, 255]));
        assert_eq!(unhex("abc"), None);
        assert_eq!(unhex("zz"), None);
    }
}
