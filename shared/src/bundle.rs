//! Sneakernet bundles: a laptop's outbox, or the server's receipt for it,
//! as one file an officer carries on a USB stick when there is no signal.
//!
//! A bundle is **signed** (Ed25519: the laptop's key registered at
//! enrolment for an outbox, the server's key for a receipt), **encrypted**
//! (ChaCha20-Poly1305 with the secret the server gave that laptop, so a lost
//! stick reveals no NIK or name) and **compressed** (deflate). Its header
//! stays readable, so the importer can say whose bundle it is before it
//! checks anything, and it is bound to the contents twice: as the
//! encryption's associated data and under the signature.
//!
//! ```text
//! 0   8   magic "LINDUNGB"
//! 8   1   format (1)
//! 9   1   kind (1 outbox, 2 receipt)
//! 10  16  bundle id
//! 26  16  device id
//! 42  16  server store id (zeros: none)
//! 58  16  the bundle a receipt answers (zeros: none)
//! 74  8   created, Unix ms (little-endian)
//! 82  8   operations it carries or answers (little-endian)
//! 90  12  nonce
//! 102 …   ciphertext of the deflated payload, then its 16-byte tag
//! end 64  Ed25519 signature of every byte before it
//! ```
//!
//! What the payload is (a push request, a push response) is the caller's
//! business; this module only seals and opens. It does no I/O and reads no
//! clock or randomness: the caller passes the time, ids, nonce and keys.

use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey};
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use uuid::Uuid;

use crate::ids::{DeviceId, StoreId};
use crate::lang::{Lang, Problem, Severity};

/// The first bytes of every bundle.
pub const MAGIC: &[u8; 8] = b"LINDUNGB";
/// The layout this build writes and reads.
pub const FORMAT: u8 = 1;
/// Bytes of the readable header (the encryption's associated data).
pub const HEADER_LEN: usize = 90;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
const SIGNATURE_LEN: usize = 64;
/// Most bytes a payload may inflate to: as much as the server reads of a
/// push body after decompression, four times over (a bundle of 100,000
/// registrations inflates to about a fifth of it); a bundle beyond it is
/// refused rather than filling memory.
pub const MAX_PAYLOAD_BYTES: usize = 256 * 1024 * 1024;

/// Which way a bundle travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BundleKind {
    /// A laptop's pending changes, for the server.
    Outbox,
    /// The server's answer to an outbox bundle, for the laptop.
    Receipt,
}

impl BundleKind {
    fn byte(self) -> u8 {
        match self {
            BundleKind::Outbox => 1,
            BundleKind::Receipt => 2,
        }
    }

    fn from_byte(byte: u8) -> Option<BundleKind> {
        match byte {
            1 => Some(BundleKind::Outbox),
            2 => Some(BundleKind::Receipt),
            _ => None,
        }
    }
}

/// The readable part of a bundle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BundleHeader {
    /// Outbox or receipt.
    pub kind: BundleKind,
    /// This bundle's own id (an import is recognised by it).
    pub bundle_id: Uuid,
    /// The laptop it comes from (outbox) or is for (receipt).
    pub device_id: DeviceId,
    /// The server store: the one the laptop last synced with (outbox), or
    /// the one that applied it (receipt).
    pub store_id: Option<StoreId>,
    /// For a receipt, the outbox bundle it answers.
    pub answers: Option<Uuid>,
    /// When it was written, Unix milliseconds (the writer's clock).
    pub created_ms: u64,
    /// How many operations it carries (outbox) or answers (receipt).
    pub operations: u64,
}

/// An Ed25519 signing key, kept as its 32-byte seed.
pub struct SigningKey(Ed25519KeyPair);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("public_key", &hex(&self.public_key()))
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// The key made from a random 32-byte seed.
    pub fn from_seed(seed: &[u8; 32]) -> Result<SigningKey, BundleError> {
        Ed25519KeyPair::from_seed_unchecked(seed)
            .map(SigningKey)
            .map_err(|_| BundleError::BadKey)
    }

    /// The public half, which the other side keeps to verify.
    pub fn public_key(&self) -> [u8; 32] {
        let mut key = [0u8; 32];
        key.copy_from_slice(self.0.public_key().as_ref());
        key
    }
}

/// Why a file could not be opened as a bundle.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    /// It does not start like a bundle.
    #[error("this file is not a Lindung bundle")]
    NotABundle,
    /// A layout from a newer (or unknown) version.
    #[error("bundle format {0} is not supported by this version")]
    UnsupportedFormat(u8),
    /// Shorter than its header and signature: cut off while copying.
    #[error("the bundle is cut short")]
    Truncated,
    /// The signature does not match: altered after it was written, or not
    /// written with the key it claims.
    #[error("the bundle's signature does not match: it was altered or damaged")]
    SignatureMismatch,
    /// The contents could not be decrypted with the device's secret: sealed
    /// before the device's keys were renewed, or damaged.
    #[error(
        "the bundle could not be decrypted with this device's key (written before its keys were renewed, or damaged): export it again"
    )]
    DecryptionFailed,
    /// The decrypted contents are not valid compressed data, or too large.
    #[error("the bundle's contents are damaged: {0}")]
    Damaged(String),
    /// The contents inflate beyond [`MAX_PAYLOAD_BYTES`].
    #[error("the bundle's contents are larger than any bundle can be")]
    TooLarge,
    /// A key of the wrong length or form.
    #[error("a bundle key is malformed")]
    BadKey,
}

impl Problem for BundleError {
    fn code(&self) -> &'static str {
        match self {
            BundleError::NotABundle => "bundle_not_a_bundle",
            BundleError::UnsupportedFormat(_) => "bundle_unsupported_format",
            BundleError::Truncated => "bundle_truncated",
            BundleError::SignatureMismatch => "bundle_tampered",
            BundleError::DecryptionFailed => "bundle_undecryptable",
            BundleError::Damaged(_) => "bundle_damaged",
            BundleError::TooLarge => "bundle_too_large",
            BundleError::BadKey => "bundle_bad_key",
        }
    }

    fn severity(&self) -> Severity {
        Severity::Error
    }

    fn message(&self, lang: Lang) -> String {
        match lang {
            Lang::En => format!("{self}; nothing was applied"),
            Lang::Id => match self {
                BundleError::NotABundle => {
                    "berkas ini bukan paket Lindung; tidak ada yang diterapkan".into()
                }
                BundleError::UnsupportedFormat(format) => format!(
                    "format paket {format} tidak didukung versi ini; perbarui aplikasi; tidak ada yang diterapkan"
                ),
                BundleError::Truncated => {
                    "paket terpotong (salin ulang dari laptop); tidak ada yang diterapkan".into()
                }
                BundleError::SignatureMismatch => {
                    "tanda tangan paket tidak cocok: paket diubah atau rusak; tidak ada yang diterapkan"
                        .into()
                }
                BundleError::DecryptionFailed => {
                    "paket tidak dapat dibuka dengan kunci laptop ini (dibuat sebelum kunci diperbarui, atau rusak): ekspor ulang dari laptop; tidak ada yang diterapkan"
                        .into()
                }
                BundleError::TooLarge => {
                    "isi paket lebih besar dari batas sebuah paket; tidak ada yang diterapkan".into()
                }
                BundleError::Damaged(_) => {
                    "isi paket rusak; tidak ada yang diterapkan".into()
                }
                BundleError::BadKey => {
                    "kunci paket tidak valid; tidak ada yang diterapkan".into()
                }
            },
        }
    }
}

fn uuid_or_zero(id: Option<Uuid>) -> [u8; 16] {
    id.map(|id| *id.as_bytes()).unwrap_or([0; 16])
}

fn zero_is_none(bytes: &[u8]) -> Option<Uuid> {
    let id = Uuid::from_slice(bytes).ok()?;
    (!id.is_nil()).then_some(id)
}

impl BundleHeader {
    fn encode(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[0..8].copy_from_slice(MAGIC);
        out[8] = FORMAT;
        out[9] = self.kind.byte();
        out[10..26].copy_from_slice(self.bundle_id.as_bytes());
        out[26..42].copy_from_slice(self.device_id.0.as_bytes());
        out[42..58].copy_from_slice(&uuid_or_zero(self.store_id.map(|s| s.0)));
        out[58..74].copy_from_slice(&uuid_or_zero(self.answers));
        out[74..82].copy_from_slice(&self.created_ms.to_le_bytes());
        out[82..90].copy_from_slice(&self.operations.to_le_bytes());
        out
    }

    fn decode(bytes: &[u8]) -> Result<BundleHeader, BundleError> {
        if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
            return Err(BundleError::NotABundle);
        }
        if bytes.len() < 9 {
            return Err(BundleError::Truncated);
        }
        if bytes[8] != FORMAT {
            return Err(BundleError::UnsupportedFormat(bytes[8]));
        }
        if bytes.len() < HEADER_LEN + NONCE_LEN + TAG_LEN + SIGNATURE_LEN {
            return Err(BundleError::Truncated);
        }
        let kind = BundleKind::from_byte(bytes[9]).ok_or(BundleError::SignatureMismatch)?;
        let word = |at: usize| {
            let mut le = [0u8; 8];
            le.copy_from_slice(&bytes[at..at + 8]);
            u64::from_le_bytes(le)
        };
        Ok(BundleHeader {
            kind,
            bundle_id: Uuid::from_slice(&bytes[10..26]).map_err(|_| BundleError::NotABundle)?,
            device_id: DeviceId(
                Uuid::from_slice(&bytes[26..42]).map_err(|_| BundleError::NotABundle)?,
            ),
            store_id: zero_is_none(&bytes[42..58]).map(StoreId),
            answers: zero_is_none(&bytes[58..74]),
            created_ms: word(74),
            operations: word(82),
        })
    }
}

fn cipher(secret: &[u8; 32]) -> Result<LessSafeKey, BundleError> {
    UnboundKey::new(&CHACHA20_POLY1305, secret)
        .map(LessSafeKey::new)
        .map_err(|_| BundleError::BadKey)
}

/// Writes a bundle: `payload` deflated, encrypted with `secret` under a
/// fresh random `nonce` (never reuse one with the same secret), and the
/// whole signed with `signer`.
pub fn seal(
    header: &BundleHeader,
    payload: &[u8],
    secret: &[u8; 32],
    nonce: [u8; 12],
    signer: &SigningKey,
) -> Result<Vec<u8>, BundleError> {
    let head = header.encode();
    let mut body = miniz_oxide::deflate::compress_to_vec(payload, 6);
    cipher(secret)?
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(&head),
            &mut body,
        )
        .map_err(|_| BundleError::BadKey)?;
    let mut out = Vec::with_capacity(HEADER_LEN + NONCE_LEN + body.len() + SIGNATURE_LEN);
    out.extend_from_slice(&head);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&body);
    let signature = signer.0.sign(&out);
    out.extend_from_slice(signature.as_ref());
    Ok(out)
}

/// The header of `bytes`, unverified: who the bundle claims to come from,
/// so the importer can find the key to check it with.
pub fn read_header(bytes: &[u8]) -> Result<BundleHeader, BundleError> {
    BundleHeader::decode(bytes)
}

/// Checks the signature of `bytes` against `signer_public_key` (nothing
/// else is looked at before it holds), then decrypts and inflates the
/// payload with `secret`.
pub fn open(
    bytes: &[u8],
    signer_public_key: &[u8; 32],
    secret: &[u8; 32],
) -> Result<(BundleHeader, Vec<u8>), BundleError> {
    let header = BundleHeader::decode(bytes)?;
    let (signed, signature) = bytes.split_at(bytes.len() - SIGNATURE_LEN);
    UnparsedPublicKey::new(&ED25519, signer_public_key)
        .verify(signed, signature)
        .map_err(|_| BundleError::SignatureMismatch)?;
    let (head, rest) = signed.split_at(HEADER_LEN);
    let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
    let mut nonce_bytes = [0u8; NONCE_LEN];
    nonce_bytes.copy_from_slice(nonce);
    let mut body = ciphertext.to_vec();
    let plain = cipher(secret)?
        .open_in_place(
            Nonce::assume_unique_for_key(nonce_bytes),
            Aad::from(head),
            &mut body,
        )
        .map_err(|_| BundleError::DecryptionFailed)?;
    let payload = miniz_oxide::inflate::decompress_to_vec_with_limit(plain, MAX_PAYLOAD_BYTES)
        .map_err(|e| match e.status {
            miniz_oxide::inflate::TINFLStatus::HasMoreOutput => BundleError::TooLarge,
            status => BundleError::Damaged(format!("{status:?}")),
        })?;
    Ok((header, payload))
}

/// Lower-case hexadecimal of a key (see [`crate::hex`]).
pub fn hex(bytes: &[u8]) -> String {
    crate::hex::encode(bytes)
}

/// A 32-byte key from 64 hexadecimal digits.
pub fn parse_key(text: &str) -> Result<[u8; 32], BundleError> {
    crate::hex::decode(text.trim())
        .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
        .ok_or(BundleError::BadKey)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn header(kind: BundleKind) -> BundleHeader {
        BundleHeader {
            kind,
            bundle_id: Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef),
            device_id: DeviceId(Uuid::from_u128(7)),
            store_id: Some(StoreId(Uuid::from_u128(9))),
            answers: None,
            created_ms: 1_780_000_000_000,
            operations: 3,
        }
    }

    fn keys() -> (SigningKey, [u8; 32]) {
        (
            SigningKey::from_seed(&[1; 32]).expect("a seed makes a key"),
            [2; 32],
        )
    }

    #[test]
    fn a_sealed_bundle_opens_with_the_right_keys_and_keeps_its_header() {
        let (signer, secret) = keys();
        let payload = br#"{"operations":[1,2,3]}"#.repeat(50);
        let sealed = seal(
            &header(BundleKind::Outbox),
            &payload,
            &secret,
            [3; 12],
            &signer,
        )
        .expect("sealed");
        assert_eq!(read_header(&sealed), Ok(header(BundleKind::Outbox)));
        let (opened, contents) = open(&sealed, &signer.public_key(), &secret).expect("opens");
        assert_eq!(opened, header(BundleKind::Outbox));
        assert_eq!(contents, payload);
        // Compressed and encrypted: the text does not appear.
        assert!(!sealed.windows(12).any(|w| w == b"\"operations\""));
        assert!(sealed.len() < payload.len());
    }

    #[test]
    fn another_signer_or_secret_is_refused() {
        let (signer, secret) = keys();
        let sealed = seal(
            &header(BundleKind::Receipt),
            b"x",
            &secret,
            [0; 12],
            &signer,
        )
        .expect("sealed");
        let other = SigningKey::from_seed(&[5; 32]).expect("key");
        assert_eq!(
            open(&sealed, &other.public_key(), &secret),
            Err(BundleError::SignatureMismatch)
        );
        assert_eq!(
            open(&sealed, &signer.public_key(), &[9; 32]),
            Err(BundleError::DecryptionFailed)
        );
    }

    #[test]
    fn not_a_bundle_and_cut_short_are_told_apart() {
        let (signer, secret) = keys();
        assert_eq!(
            read_header(b"PK\x03\x04 a zip"),
            Err(BundleError::NotABundle)
        );
        let sealed =
            seal(&header(BundleKind::Outbox), b"x", &secret, [0; 12], &signer).expect("sealed");
        assert_eq!(read_header(&sealed[..40]), Err(BundleError::Truncated));
        let mut newer = sealed.clone();
        newer[8] = 9;
        assert_eq!(read_header(&newer), Err(BundleError::UnsupportedFormat(9)));
    }

    #[test]
    fn keys_round_trip_through_hex() {
        let key = [0xab; 32];
        assert_eq!(parse_key(&hex(&key)), Ok(key));
        assert_eq!(parse_key("abc"), Err(BundleError::BadKey));
        assert_eq!(parse_key(&"zz".repeat(32)), Err(BundleError::BadKey));
    }

    proptest! {
        /// Whatever byte is changed, wherever, the bundle does not open.
        #[test]
        fn any_altered_byte_is_refused(at in 0usize..400, flip in 1u8..=255) {
            let (signer, secret) = keys();
            let payload = b"nik 3201010101010001 name Siti".repeat(10);
            let sealed = seal(&header(BundleKind::Outbox), &payload, &secret, [4; 12], &signer)
                .expect("sealed");
            let at = at % sealed.len();
            let mut altered = sealed.clone();
            altered[at] ^= flip;
            prop_assert!(open(&altered, &signer.public_key(), &secret).is_err());
        }
    }
}
