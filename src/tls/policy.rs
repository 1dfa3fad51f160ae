//! `SSL_POLICY` → TLS versions and cipher suites, and the small fixed set of `ServerConfig`s.
//!
//! rustls picks the protocol version before it resolves a certificate, so a per-host policy
//! cannot live in the resolver. dockside therefore builds, once at start, one `ServerConfig` per
//! (policy, HTTP/2 on/off) pair — four in all — and chooses one per connection after reading the
//! SNI from the ClientHello (`acceptor.rs`). All of them share the same certificate resolver,
//! session cache and ticketer, so certificates stay data and resumption works across configs and
//! across certificate changes.
//!
//! rustls implements only TLS 1.2/1.3 with ECDHE and AEAD suites; policies asking for TLS
//! 1.0/1.1, CBC, 3DES or DHE are mapped to the nearest safe policy with one warning per host.

use std::sync::Arc;

use rustls::crypto::{CryptoProvider, aws_lc_rs};
use rustls::server::danger::ClientCertVerifier;
use rustls::server::{ProducesTickets, ResolvesServerCert, StoresServerSessions};
use rustls::{ServerConfig, SupportedProtocolVersion};

/// The policies rustls can honour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Policy {
    /// TLS 1.3 only (`Mozilla-Modern`).
    Modern,
    /// TLS 1.2 (ECDHE + AEAD) and 1.3 (`Mozilla-Intermediate`, the default).
    Intermediate,
}

/// How an `SSL_POLICY` value maps onto a [`Policy`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mapping {
    /// The policy is honoured as written.
    Exact(Policy),
    /// The policy asks for something rustls refuses (old versions, CBC, DHE) or is unknown:
    /// the nearest safe policy is used instead, and the user is warned.
    Nearest(Policy),
}

impl Mapping {
    /// The policy actually applied.
    pub fn policy(self) -> Policy {
        match self {
            Mapping::Exact(p) | Mapping::Nearest(p) => p,
        }
    }
}

/// Maps an `SSL_POLICY` value (nginx-proxy §1.6.7's table; case-sensitive, like the template).
pub fn map(name: &str) -> Mapping {
    match name {
        "Mozilla-Modern" | "AWS-TLS13-1-3-2021-06" => Mapping::Exact(Policy::Modern),
        "Mozilla-Intermediate" | "AWS-TLS13-1-2-Res-2021-06" => {
            Mapping::Exact(Policy::Intermediate)
        }
        // TLS 1.2-only AWS policies: also offering 1.3 is strictly safer, but not what was asked.
        // The rest need TLS 1.0/1.1, CBC or 3DES (`Mozilla-Old`, older AWS), or are unknown.
        _ => Mapping::Nearest(Policy::Intermediate),
    }
}

/// Warns (once per call; callers dedupe per host) that `policy` of `host` is approximated.
pub fn warn_nearest(host: &str, policy: &str, applied: Policy) {
    tracing::warn!(
        host,
        SSL_POLICY = policy,
        applied = ?applied,
        "SSL_POLICY={policy:?} for {host} needs TLS 1.0/1.1, CBC, 3DES or DHE (which rustls refuses) \
         or is unknown; serving {} instead",
        match applied {
            Policy::Modern => "Mozilla-Modern",
            Policy::Intermediate => "Mozilla-Intermediate",
        }
    );
}

/// The aws-lc-rs provider restricted to a policy's cipher suites.
pub fn provider(policy: Policy) -> CryptoProvider {
    let mut provider = aws_lc_rs::default_provider();
    provider.cipher_suites = aws_lc_rs::DEFAULT_CIPHER_SUITES
        .iter()
        .filter(|s| policy == Policy::Intermediate || s.version() == &rustls::version::TLS13)
        .copied()
        .collect();
    provider
}

static TLS13_ONLY: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13];
static TLS12_AND_13: &[&SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];

fn versions(policy: Policy) -> &'static [&'static SupportedProtocolVersion] {
    match policy {
        Policy::Modern => TLS13_ONLY,
        Policy::Intermediate => TLS12_AND_13,
    }
}

/// What every config shares, so resumption and certificates do not depend on which is used.
#[derive(Clone)]
pub struct Shared {
    pub resolver: Arc<dyn ResolvesServerCert>,
    pub sessions: Arc<dyn StoresServerSessions>,
    pub ticketer: Arc<dyn ProducesTickets>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").finish_non_exhaustive()
    }
}

/// Builds the config for one policy; `h2` adds `h2` before `http/1.1` in ALPN.
pub fn server_config(
    policy: Policy,
    h2: bool,
    shared: &Shared,
) -> Result<Arc<ServerConfig>, rustls::Error> {
    config_with(policy, h2, shared, None)
}

/// A config; `client_auth` asks clients for a certificate (mTLS sites, `client_auth.rs`).
fn config_with(
    policy: Policy,
    h2: bool,
    shared: &Shared,
    client_auth: Option<Arc<dyn ClientCertVerifier>>,
) -> Result<Arc<ServerConfig>, rustls::Error> {
    let builder = ServerConfig::builder_with_provider(Arc::new(provider(policy)))
        .with_protocol_versions(versions(policy))?;
    let builder = match client_auth {
        None => builder.with_no_client_auth(),
        Some(verifier) => builder.with_client_cert_verifier(verifier),
    };
    let mut config = builder.with_cert_resolver(shared.resolver.clone());
    config.alpn_protocols = if h2 {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    config.session_storage = shared.sessions.clone();
    config.ticketer = shared.ticketer.clone();
    config.send_tls13_tickets = 2;
    Ok(Arc::new(config))
}

/// The four prebuilt configs, indexed by policy and HTTP/2.
#[derive(Debug, Clone)]
pub struct Configs {
    configs: [Arc<ServerConfig>; 4],
}

impl Configs {
    /// Builds every (policy, h2) combination over the same shared state.
    pub fn new(shared: &Shared) -> Result<Configs, rustls::Error> {
        Configs::build(shared, None)
    }

    /// The same four, asking clients for a certificate through `verifier`.
    pub fn with_client_auth(
        shared: &Shared,
        verifier: Arc<dyn ClientCertVerifier>,
    ) -> Result<Configs, rustls::Error> {
        Configs::build(shared, Some(verifier))
    }

    fn build(
        shared: &Shared,
        verifier: Option<Arc<dyn ClientCertVerifier>>,
    ) -> Result<Configs, rustls::Error> {
        let build = |p, h2| config_with(p, h2, shared, verifier.clone());
        Ok(Configs {
            configs: [
                build(Policy::Modern, false)?,
                build(Policy::Modern, true)?,
                build(Policy::Intermediate, false)?,
                build(Policy::Intermediate, true)?,
            ],
        })
    }

    /// The config for a connection.
    pub fn get(&self, policy: Policy, h2: bool) -> &Arc<ServerConfig> {
        let base = match policy {
            Policy::Modern => 0,
            Policy::Intermediate => 2,
        };
        &self.configs[base + usize::from(h2)]
    }
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
