//! The etcd values: one value per certificate bundle (chain and key together, so a replica never
//! sees a new chain with an old key), one per ACME account, one per challenge answer. JSON with
//! a version field; private keys and account credentials always go through the [`Sealer`].
//! Pure: values in, bytes out.

use serde::{Deserialize, Serialize};

use super::seal::{SealError, Sealer};

/// The wire version; a value of another version is refused with a clear error (a newer
/// replica's, read by an older one).
const VERSION: u32 = 1;

/// One certificate as `<certs>/<base>/` holds it.
#[derive(Clone, PartialEq, Eq)]
pub struct Bundle {
    /// The hosts it was ordered for (its `<host>.crt` links).
    pub hosts: Vec<String>,
    /// Leaf first, then intermediates (`fullchain.pem`).
    pub chain_pem: String,
    pub key_pem: String,
    /// The replica that wrote it (`--store-replica`), for logs.
    pub replica: String,
}

impl std::fmt::Debug for Bundle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bundle")
            .field("hosts", &self.hosts)
            .field("replica", &self.replica)
            .finish_non_exhaustive()
    }
}

/// A pending challenge answer, mirrored into every replica's challenge map.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum Answer {
    /// HTTP-01: served at `/.well-known/acme-challenge/<token>` for `host` only.
    Http01 {
        host: String,
        key_authorization: String,
    },
    /// TLS-ALPN-01: SHA-256 of the key authorization; each replica builds its own validation
    /// certificate from it, so no private key travels.
    TlsAlpn01 { digest: String },
}

/// Why a value could not be read back.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("not a dockside value: {0}")]
    Json(#[from] serde_json::Error),
    #[error("written in format version {0}, this dockside reads version {VERSION}: upgrade it")]
    Version(u32),
    #[error("its private part: {0}")]
    Seal(#[from] SealError),
    #[error("its private key is not text")]
    NotText,
}

#[derive(Serialize, Deserialize)]
struct BundleWire {
    v: u32,
    hosts: Vec<String>,
    chain: String,
    key: String,
    replica: String,
}

#[derive(Serialize, Deserialize)]
struct AccountWire {
    v: u32,
    credentials: String,
}

#[derive(Serialize, Deserialize)]
struct AnswerWire {
    v: u32,
    #[serde(flatten)]
    answer: Answer,
}

impl Bundle {
    /// The value stored under `name` (its etcd key, bound into the sealed key).
    pub fn encode(&self, sealer: &Sealer, name: &str) -> Result<Vec<u8>, CodecError> {
        let wire = BundleWire {
            v: VERSION,
            hosts: self.hosts.clone(),
            chain: self.chain_pem.clone(),
            key: sealer.seal(self.key_pem.as_bytes(), name)?,
            replica: self.replica.clone(),
        };
        Ok(serde_json::to_vec(&wire)?)
    }

    pub fn decode(bytes: &[u8], sealer: &Sealer, name: &str) -> Result<Bundle, CodecError> {
        let wire: BundleWire = serde_json::from_slice(bytes)?;
        check_version(wire.v)?;
        let key = sealer.open(&wire.key, name)?;
        Ok(Bundle {
            hosts: wire.hosts,
            chain_pem: wire.chain,
            key_pem: String::from_utf8(key).map_err(|_| CodecError::NotText)?,
            replica: wire.replica,
        })
    }
}

/// An ACME account's credentials (they hold its private key), sealed under `name`.
pub fn encode_account(
    credentials: &[u8],
    sealer: &Sealer,
    name: &str,
) -> Result<Vec<u8>, CodecError> {
    let wire = AccountWire {
        v: VERSION,
        credentials: sealer.seal(credentials, name)?,
    };
    Ok(serde_json::to_vec(&wire)?)
}

pub fn decode_account(bytes: &[u8], sealer: &Sealer, name: &str) -> Result<Vec<u8>, CodecError> {
    let wire: AccountWire = serde_json::from_slice(bytes)?;
    check_version(wire.v)?;
    Ok(sealer.open(&wire.credentials, name)?)
}

impl Answer {
    pub fn encode(&self) -> Result<Vec<u8>, CodecError> {
        let wire = AnswerWire {
            v: VERSION,
            answer: self.clone(),
        };
        Ok(serde_json::to_vec(&wire)?)
    }

    pub fn decode(bytes: &[u8]) -> Result<Answer, CodecError> {
        let wire: AnswerWire = serde_json::from_slice(bytes)?;
        check_version(wire.v)?;
        Ok(wire.answer)
    }
}

fn check_version(v: u32) -> Result<(), CodecError> {
    if v == VERSION {
        Ok(())
    } else {
        Err(CodecError::Version(v))
    }
}

#[cfg(test)]
#[path = "bundle_tests.rs"]
mod tests;
