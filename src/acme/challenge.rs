//! The only state ACME shares with the data plane: pending HTTP-01 answers (served on the HTTP
//! listener) and TLS-ALPN-01 validation certificates (served on the HTTPS listener).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use rustls::sign::CertifiedKey;

use crate::model::{AcmeChallengeLocation, HttpsMethod};

/// Pending challenges, written by the ACME reconciler, read per request / handshake.
/// Critical sections are a map lookup, so a std lock is enough.
#[derive(Default)]
pub struct Challenges {
    /// HTTP-01: token → (lower-case host it was published for, key authorization).
    http01: RwLock<HashMap<String, (String, String)>>,
    /// TLS-ALPN-01: lower-case host → validation certificate.
    tls_alpn01: RwLock<HashMap<String, Arc<CertifiedKey>>>,
    /// `ACME_HTTP_CHALLENGE_ACCEPT_UNKNOWN_HOST`: the challenge path of hosts no site serves is
    /// answered (404 for a token that is not ours) instead of going to the fallback (503).
    accept_unknown_host: bool,
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
    /// An empty map with the proxy's `ACME_HTTP_CHALLENGE_ACCEPT_UNKNOWN_HOST`.
    pub fn new(accept_unknown_host: bool) -> Challenges {
        Challenges {
            accept_unknown_host,
            ..Challenges::default()
        }
    }

    /// `ACME_HTTP_CHALLENGE_ACCEPT_UNKNOWN_HOST`, for the HTTP listener's decision.
    pub fn accept_unknown_host(&self) -> bool {
        self.accept_unknown_host
    }

    /// The key authorization for `token`, if a validation is pending (whatever the host).
    pub fn http01(&self, token: &str) -> Option<String> {
        read(&self.http01).get(token).map(|(_, ka)| ka.clone())
    }

    /// The key authorization for `token` when it was published for `host` (lower-case, no
    /// port): what the HTTP listener answers, so a token is only ever served for its own name.
    pub fn http01_for(&self, host: &str, token: &str) -> Option<String> {
        read(&self.http01)
            .get(token)
            .filter(|(h, _)| h.eq_ignore_ascii_case(host))
            .map(|(_, ka)| ka.clone())
    }

    /// Publishes the answer to `token` for `host` (the authorization's identifier).
    pub fn set_http01(&self, host: &str, token: &str, key_authorization: &str) {
        let value = (host.to_ascii_lowercase(), key_authorization.to_owned());
        write(&self.http01).insert(token.to_owned(), value);
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

/// What the HTTP listener does with `GET /.well-known/acme-challenge/<token>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Http01Answer {
    /// A validation dockside itself is running for this host: 200 with the key authorization,
    /// whatever the site's `HTTPS_METHOD` or `ACME_HTTP_CHALLENGE_LOCATION` (else dockside would
    /// fail its own orders).
    Own(String),
    /// The ACME location applies but the token is not ours: 404 from dockside (nginx-proxy's
    /// `try_files $uri =404` on an empty webroot). Never forwarded, never redirected.
    NotFound,
    /// No ACME location for this request: it goes on through the normal pipeline (redirect,
    /// backend, 503 for unknown hosts).
    PassThrough,
}

/// The site's side of the decision: its `ACME_HTTP_CHALLENGE_LOCATION` and its *effective*
/// `HTTPS_METHOD` (after `ENABLE_HTTP_ON_MISSING_CERT` turned redirect/nohttp into noredirect).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SiteChallenge {
    pub location: AcmeChallengeLocation,
    pub method: HttpsMethod,
}

/// nginx-proxy's ACME location semantics (§1.6.6, §1.6.8), with one addition: our own pending
/// token for this host is always answered. Otherwise: `true` answers (404) on the site's HTTP
/// server; `legacy` only when the effective method is `redirect`; `false` never; `nohttps` has no
/// ACME location (the backend answers); `nohttp` has no HTTP server, so its name is treated like
/// an unknown host, answered only with `ACME_HTTP_CHALLENGE_ACCEPT_UNKNOWN_HOST`.
pub fn http01_answer(
    own: Option<String>,
    site: Option<SiteChallenge>,
    accept_unknown_host: bool,
) -> Http01Answer {
    if let Some(key_authorization) = own {
        return Http01Answer::Own(key_authorization);
    }
    let answered = match site {
        None
        | Some(SiteChallenge {
            method: HttpsMethod::NoHttp,
            ..
        }) => accept_unknown_host,
        Some(SiteChallenge {
            method: HttpsMethod::NoHttps,
            ..
        }) => false,
        Some(SiteChallenge { location, method }) => match location {
            AcmeChallengeLocation::Enabled => true,
            AcmeChallengeLocation::Legacy => method == HttpsMethod::Redirect,
            AcmeChallengeLocation::Disabled => false,
        },
    };
    if answered {
        Http01Answer::NotFound
    } else {
        Http01Answer::PassThrough
    }
}

#[cfg(test)]
#[path = "challenge_tests.rs"]
mod tests;
