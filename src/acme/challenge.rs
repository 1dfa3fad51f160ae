//! The only state ACME shares with the data plane: pending HTTP-01 answers (served on the HTTP
//! listener) and TLS-ALPN-01 validation certificates (served on the HTTPS listener).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use rustls::sign::CertifiedKey;

/// Pending challenges, written by the ACME reconciler, read per request / handshake.
/// Critical sections are a map lookup, so a std lock is enough.
#[derive(Default)]
pub struct Challenges {
    /// HTTP-01: token → key authorization.
    http01: RwLock<HashMap<String, String>>,
    /// TLS-ALPN-01: lower-case host → validation certificate.
    tls_alpn01: RwLock<HashMap<String, Arc<CertifiedKey>>>,
}

impl std::fmt::Debug for Challenges {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Challenges")
            .field("http01", &read(&self.http01).len())
            .field("tls_alpn01", &read(&self.tls_alpn01).len())
            .finish()
    }
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Challenges {
    /// The key authorization for `token`, if a validation is pending.
    pub fn http01(&self, token: &str) -> Option<String> {
        read(&self.http01).get(token).cloned()
    }

    pub fn set_http01(&self, token: &str, key_authorization: &str) {
        write(&self.http01).insert(token.to_owned(), key_authorization.to_owned());
    }

    pub fn remove_http01(&self, token: &str) {
        write(&self.http01).remove(token);
    }

    /// The validation certificate for `host` (any case), if a TLS-ALPN-01 validation is pending.
    pub fn tls_alpn01(&self, host: &str) -> Option<Arc<CertifiedKey>> {
        read(&self.tls_alpn01)
            .get(&host.to_ascii_lowercase())
            .cloned()
    }

    pub fn set_tls_alpn01(&self, host: &str, key: Arc<CertifiedKey>) {
        write(&self.tls_alpn01).insert(host.to_ascii_lowercase(), key);
    }

    pub fn remove_tls_alpn01(&self, host: &str) {
        write(&self.tls_alpn01).remove(&host.to_ascii_lowercase());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http01_tokens_come_and_go() {
        let c = Challenges::default();
        assert_eq!(c.http01("t"), None);
        c.set_http01("t", "t.thumb");
        assert_eq!(c.http01("t").as_deref(), Some("t.thumb"));
        c.remove_http01("t");
        assert_eq!(c.http01("t"), None);
    }
}
