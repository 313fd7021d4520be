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

/// SQLCipher's page size, and that of every store made before schema version 4.
pub const LEGACY_PAGE_SIZE: u32 = 4096;

/// The page size of new stores. Each page written costs a random IV, an AES
/// pass and an HMAC, plus the page's share of every WAL frame; with 16 KiB
/// pages an import spends about a tenth less CPU than with 4 KiB pages
/// (BENCHMARKS.md). SQLCipher cannot read the page size from the encrypted
/// file, so it is recorded here; an existing store keeps the size it has.
pub const NEW_STORE_PAGE_SIZE: u32 = 16384;

/// Argon2id parameters and salt, stored beside the database.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyFile {
    /// Format version of this file: 1 (the database has 4,096-byte pages) or
    /// 2 (its page size is `cipher_page_size`). An agent that knows only
    /// format 1 refuses format 2 as unsupported rather than misreading the
    /// database as a wrong passphrase.
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
    /// The database's SQLCipher page size in bytes (absent in format 1: 4,096).
    #[serde(default = "legacy_page_size")]
    pub cipher_page_size: u32,
}

fn legacy_page_size() -> u32 {
    LEGACY_PAGE_SIZE
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
            format: 2,
            kdf: "argon2id".into(),
            memory_kib,
            iterations,
            parallelism: 1,
            salt: lindung_shared::hex::encode(&salt),
            cipher_page_size: NEW_STORE_PAGE_SIZE,
        }
        .with_page_size(NEW_STORE_PAGE_SIZE))
    }

    /// The same parameters for a database with this page size (a passphrase
    /// change keeps the store's size). Format 1 when it is 4,096 bytes, so
    /// such stores stay readable by agents that know only format 1.
    pub fn with_page_size(mut self, page_size: u32) -> KeyFile {
        self.cipher_page_size = page_size;
        self.format = if page_size == LEGACY_PAGE_SIZE { 1 } else { 2 };
        self
    }

    /// The statements that unlock the database with `key`: the key, then the
    /// page size, before anything reads the file.
    pub fn unlock_sql(&self, key: &DatabaseKey) -> String {
        format!(
            "PRAGMA key = {}; PRAGMA cipher_page_size = {};",
            key.pragma_literal(),
            self.cipher_page_size
        )
    }

    /// Derives the 256-bit database key from a passphrase.
    pub fn derive(&self, passphrase: &str) -> Result<DatabaseKey, StoreError> {
        let salt = lindung_shared::hex::decode(&self.salt)
            .ok_or_else(|| StoreError::KeyFileDamaged("salt is not hex".into()))?;
        let params = Params::new(self.memory_kib, self.iterations, self.parallelism, Some(32))
            .map_err(|e| StoreError::KeyFileDamaged(format!("argon2 parameters: {e}")))?;
        // The argon2 memory is allocated with room for ALLOCATION_BLOCKS, of
        // which only the blocks argon2 needs are touched. glibc serves an
        // allocation that large with an mmap of its own and unmaps it on
        // free without raising its mmap threshold (it adapts only up to
        // 32 MiB); an allocation of just the needed 19 MiB would come from
        // the heap after the first one and stay resident for the life of
        // the process (the UI derives again at every unlock attempt).
        const ALLOCATION_BLOCKS: usize = 33 * 1024;
        let needed = params.block_count();
        let mut blocks: Vec<argon2::Block> = Vec::with_capacity(needed.max(ALLOCATION_BLOCKS));
        blocks.resize(needed, argon2::Block::default());
        let mut key = [0u8; 32];
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password_into_with_memory(passphrase.as_bytes(), &salt, &mut key, &mut blocks[..])
            .map_err(|e| StoreError::KeyFileDamaged(format!("argon2: {e}")))?;
        Ok(DatabaseKey(key))
    }

    /// Reads the key file of a data directory.
    pub fn load(path: &Path) -> Result<KeyFile, StoreError> {
        let text = fs::read_to_string(path).map_err(|e| StoreError::io(path, e))?;
        let file: KeyFile = serde_json::from_str(&text)
            .map_err(|e| StoreError::KeyFileDamaged(format!("{}: {e}", path.display())))?;
        let page_size_ok = match file.format {
            1 => file.cipher_page_size == LEGACY_PAGE_SIZE,
            2 => {
                file.cipher_page_size.is_power_of_two()
                    && (512..=65536).contains(&file.cipher_page_size)
            }
            _ => false,
        };
        if !page_size_ok || file.kdf != "argon2id" {
            return Err(StoreError::KeyFileDamaged(format!(
                "{}: unsupported format {} / kdf {} / page size {}",
                path.display(),
                file.format,
                file.kdf,
                file.cipher_page_size
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
#[derive(Clone)]
pub struct DatabaseKey([u8; 32]);

impl DatabaseKey {
    /// Whether two keys are the same (compared in constant time).
    pub fn same_as(&self, other: &DatabaseKey) -> bool {
        self.0
            .iter()
            .zip(other.0.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }

    /// The SQLCipher raw-key literal: `"x'<64 hex digits>'"`.
    pub fn pragma_literal(&self) -> String {
        format!("\"x'{}'\"", lindung_shared::hex::encode(&self.0))
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
    fn a_format_1_key_file_means_4096_byte_pages_and_format_2_names_its_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEY_FILE);
        fs::write(
            &path,
            r#"{"format": 1, "kdf": "argon2id", "memory_kib": 1024, "iterations": 1,
                "parallelism": 1, "salt": "000102030405060708090a0b0c0d0e0f"}"#,
        )
        .unwrap();
        let old = KeyFile::load(&path).unwrap();
        assert_eq!(old.cipher_page_size, LEGACY_PAGE_SIZE);
        assert!(
            old.unlock_sql(&old.derive("x").unwrap())
                .ends_with("PRAGMA cipher_page_size = 4096;")
        );

        let new = KeyFile::generate(KdfCost::InsecureFast).unwrap();
        assert_eq!((new.format, new.cipher_page_size), (2, NEW_STORE_PAGE_SIZE));
        new.save(&path).unwrap();
        assert_eq!(KeyFile::load(&path).unwrap(), new);
        let kept = new.clone().with_page_size(LEGACY_PAGE_SIZE);
        assert_eq!((kept.format, kept.cipher_page_size), (1, LEGACY_PAGE_SIZE));

        for bad in [
            r#""format": 1, "cipher_page_size": 16384"#,
            r#""format": 2, "cipher_page_size": 5000"#,
            r#""format": 3, "cipher_page_size": 4096"#,
        ] {
            fs::write(
                &path,
                format!(
                    r#"{{{bad}, "kdf": "argon2id", "memory_kib": 1024, "iterations": 1,
                        "parallelism": 1, "salt": "000102030405060708090a0b0c0d0e0f"}}"#
                ),
            )
            .unwrap();
            assert!(KeyFile::load(&path).is_err(), "{bad}");
        }
    }
}
