//! Private keys at rest in etcd: AES-256-GCM under a key the user provides
//! (`--store-encryption-key-file`), or stored plain (one warning at startup; docs/shared-store.md says so).
//! The etcd key name is the associated data, so a sealed value moved under another name (another
//! certificate's) does not open. Pure: bytes in, text out; the key file is read once at startup.

use std::path::Path;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

/// Marks a value stored without encryption (no key file).
const PLAIN: &str = "plain:";
/// Marks `base64(nonce ‖ ciphertext ‖ tag)`.
const AES: &str = "aes-256-gcm:";

/// Seals and opens private keys; cheap to share (`Arc` it).
pub struct Sealer {
    key: Option<LessSafeKey>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key itself.
        f.debug_struct("Sealer")
            .field("encrypted", &self.key.is_some())
            .finish()
    }
}

/// Why a key file or a sealed value is unusable. Messages name the fix; none carries key bytes.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("reading the store key file {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the store key file {path} must hold 32 random bytes: raw, 64 hex digits, or base64 (make one with `openssl rand -base64 32`)"
    )]
    BadKeyFile { path: String },
    #[error(
        "a private key in the store is encrypted but this replica has no --store-encryption-key-file (DOCKSIDE_STORE_ENCRYPTION_KEY_FILE): give every replica the same key file"
    )]
    NoKey,
    #[error(
        "a private key in the store does not decrypt with this replica's --store-encryption-key-file: every replica needs the same key file"
    )]
    WrongKey,
    #[error(
        "a private key in the store is not in a format dockside wrote (neither plain: nor aes-256-gcm:)"
    )]
    Format,
    #[error("the system random source failed while sealing a key")]
    Random,
}

impl Sealer {
    /// No encryption: keys are stored as they are on disk.
    pub fn plain() -> Sealer {
        Sealer { key: None }
    }

    /// AES-256-GCM with these 32 bytes.
    pub fn with_key(key: &[u8; 32]) -> Sealer {
        let key = UnboundKey::new(&AES_256_GCM, key).expect("AES-256-GCM takes any 32-byte key");
        Sealer {
            key: Some(LessSafeKey::new(key)),
        }
    }

    /// Reads a key file: 32 raw bytes, 64 hex digits or base64 of 32 bytes (whitespace trimmed).
    pub fn from_file(path: &Path) -> Result<Sealer, SealError> {
        let shown = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|source| SealError::Read {
            path: shown.clone(),
            source,
        })?;
        parse_key(&bytes)
            .map(|k| Sealer::with_key(&k))
            .ok_or(SealError::BadKeyFile { path: shown })
    }

    /// Whether keys are encrypted (the startup warning says so when they are not).
    pub fn encrypts(&self) -> bool {
        self.key.is_some()
    }

    /// `secret` as text for an etcd value named `name`.
    pub fn seal(&self, secret: &[u8], name: &str) -> Result<String, SealError> {
        let Some(key) = &self.key else {
            return Ok(format!("{PLAIN}{}", B64.encode(secret)));
        };
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce).map_err(|_| SealError::Random)?;
        let mut out = secret.to_vec();
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(name.as_bytes()),
            &mut out,
        )
        .map_err(|_| SealError::Random)?;
        let mut all = nonce.to_vec();
        all.extend_from_slice(&out);
        Ok(format!("{AES}{}", B64.encode(all)))
    }

    /// The secret sealed under `name`. A plain value opens with or without a key (encryption
    /// can be turned on later: the next issuance seals); an encrypted one needs the same key.
    pub fn open(&self, sealed: &str, name: &str) -> Result<Vec<u8>, SealError> {
        if let Some(plain) = sealed.strip_prefix(PLAIN) {
            return B64.decode(plain).map_err(|_| SealError::Format);
        }
        let body = sealed.strip_prefix(AES).ok_or(SealError::Format)?;
        let key = self.key.as_ref().ok_or(SealError::NoKey)?;
        let mut all = B64.decode(body).map_err(|_| SealError::Format)?;
        if all.len() < NONCE_LEN {
            return Err(SealError::Format);
        }
        let mut data = all.split_off(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(&all).map_err(|_| SealError::Format)?;
        let plain = key
            .open_in_place(nonce, Aad::from(name.as_bytes()), &mut data)
            .map_err(|_| SealError::WrongKey)?;
        Ok(plain.to_vec())
    }
}

/// 32 key bytes from a file's content, in any of the three accepted spellings.
fn parse_key(bytes: &[u8]) -> Option<[u8; 32]> {
    let text = std::str::from_utf8(bytes).ok().map(str::trim);
    let decoded = match text {
        Some(t) if t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()) => (0..32)
            .map(|i| u8::from_str_radix(&t[2 * i..2 * i + 2], 16).ok())
            .collect::<Option<Vec<u8>>>(),
        Some(t) if bytes.len() != 32 => B64.decode(t).ok(),
        _ => Some(bytes.to_vec()),
    }?;
    decoded.try_into().ok()
}

#[cfg(test)]
#[path = "seal_tests.rs"]
mod tests;
