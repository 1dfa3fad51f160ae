//! DNS-01: publishing `_acme-challenge.<name>` TXT records, checking that the zone's servers
//! answer them, and removing them. One provider is built in, RFC 2136 dynamic updates signed
//! with TSIG (`nsupdate`, acme.sh's `dns_nsupdate`); `DnsProvider` is the extension point for
//! others (an HTTP API client implements the same three calls).
//!
//! Layout: `config` (pure: `ACMESH_DNS_API_CONFIG`, key files) → `message` (pure: UPDATE, NS and
//! query bytes, TSIG) → `nsupdate` (the sockets) with `propagation` (which servers to ask, and
//! what they said). `order` uses `provider` and `wait_visible`.

mod config;
mod message;
mod nsupdate;
mod propagation;

use std::time::Duration;

use futures_util::future::BoxFuture;

pub use config::{DnsConfig, DnsConfigError, KeySource, TsigAlg, TsigKey, parse};
pub use message::MessageError;

/// A DNS provider able to hold ACME challenge records. Implementations own their network
/// access and bound every call with a timeout; errors name the zone and the server.
pub trait DnsProvider: Send + Sync {
    /// Adds the TXT `value` at `owner` (`_acme-challenge.<name>`), keeping other values there.
    fn add_txt<'a>(&'a self, owner: &'a str, value: &'a str)
    -> BoxFuture<'a, Result<(), DnsError>>;
    /// Removes exactly that TXT value (a missing one is not an error).
    fn remove_txt<'a>(
        &'a self,
        owner: &'a str,
        value: &'a str,
    ) -> BoxFuture<'a, Result<(), DnsError>>;
    /// Which of the zone's authoritative servers do not answer `value` at `owner` yet.
    fn propagation<'a>(
        &'a self,
        owner: &'a str,
        value: &'a str,
    ) -> BoxFuture<'a, Result<Propagation, DnsError>>;
}

/// Where one challenge record stands on its zone's authoritative servers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Propagation {
    pub zone: String,
    /// The servers not answering the value yet, as errors name them; empty once all do.
    pub lagging: Vec<String>,
}

/// Why a DNS step failed; every variant says which zone or server, never the key's secret.
#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    #[error("TSIG key file {path}: {why}")]
    KeyFile { path: String, why: String },
    #[error("DNS server {server}: {source}")]
    Io {
        server: String,
        #[source]
        source: std::io::Error,
    },
    #[error("DNS server {server} did not answer within {}s", .after.as_secs())]
    Timeout { server: String, after: Duration },
    #[error("DNS UPDATE of zone {zone} at {server} was refused: {rcode}{detail}")]
    Refused {
        zone: String,
        server: String,
        rcode: String,
        detail: String,
    },
    #[error(
        "DNS UPDATE of zone {zone} at {server}: the answer carries no valid TSIG signature (wrong key, or not the server)"
    )]
    Unsigned { zone: String, server: String },
    #[error("cannot find the zone of {name} at {server}: {why} (set NSUPDATE_ZONE)")]
    NoZone {
        name: String,
        server: String,
        why: String,
    },
    #[error("{0}")]
    Message(#[from] MessageError),
    #[error(
        "TXT {owner} of zone {zone} not answered by {lagging} after {}s (the CA was not asked to validate)",
        .after.as_secs()
    )]
    NotPropagated {
        owner: String,
        zone: String,
        /// The lagging servers, comma-separated.
        lagging: String,
        after: Duration,
    },
}

/// The provider for a resolved DNS-01 configuration (loads the key file now).
pub async fn provider(config: &DnsConfig) -> Result<Box<dyn DnsProvider>, DnsError> {
    Ok(Box::new(nsupdate::Nsupdate::new(config).await?))
}

/// The owner name of the challenge record for an identifier (`*.` already stripped by the CA).
pub fn challenge_owner(identifier: &str) -> String {
    format!(
        "_acme-challenge.{}",
        identifier.trim_start_matches("*.").trim_end_matches('.')
    )
}

/// The pause between two looks at the zone's server. Flat, not doubling: a primary answers a
/// record within a few ms of accepting it, and a doubling pause turned a 20 ms miss into a
/// 200-400 ms wait (orders took 80 ms or 400-600 ms). One small TCP query every 50 ms, for at most
/// `max`, is no load on a DNS server.
const POLL: Duration = Duration::from_millis(50);

/// Polls until every `(owner, value)` is answered by every authoritative server of its zone,
/// up to `max`; then waits `extra` (`DNS_SLEEP`) for servers dockside cannot see (anycast nodes,
/// NS servers it cannot reach).
pub async fn wait_visible(
    provider: &dyn DnsProvider,
    records: &[(String, String)],
    max: Duration,
    extra: Option<Duration>,
) -> Result<(), DnsError> {
    let deadline = tokio::time::Instant::now() + max;
    for (owner, value) in records {
        loop {
            let seen = provider.propagation(owner, value).await?;
            if seen.lagging.is_empty() {
                break;
            }
            if tokio::time::Instant::now() + POLL > deadline {
                return Err(DnsError::NotPropagated {
                    owner: owner.clone(),
                    zone: seen.zone,
                    lagging: seen.lagging.join(", "),
                    after: max,
                });
            }
            tokio::time::sleep(POLL).await;
        }
    }
    if let Some(extra) = extra.filter(|d| !d.is_zero()) {
        tracing::info!(
            secs = extra.as_secs(),
            "DNS_SLEEP: waiting before asking the CA to validate"
        );
        tokio::time::sleep(extra).await;
    }
    Ok(())
}

#[cfg(test)]
#[path = "wait_tests.rs"]
mod tests;
