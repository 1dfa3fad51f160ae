//! ACME: certificates for `LETSENCRYPT_HOST` / `ACME_HOST`, obtained and renewed with
//! instant-acme. Only this module touches instant-acme; it shares nothing with the data plane
//! but `challenge::Challenges` and the certificate directory (`crate::certs`).
//!
//! Wiring (see `spawn`, from `reconciler`):
//! - `spec::AcmeGlobals` (`Config.acme`, read once with `from_vars`) holds acme-companion's
//!   proxy-level variables; every `CertRequest` in `DesiredState::certificates` is resolved against them.
//! - `acme::spawn(ReconcilerConfig::new(globals, certs_dir, challenges, on_issued), rx,
//!   cancel)` runs the loop; `on_issued(base)` fires right after `<certs>/<base>/` was written.
//! - The HTTP listener answers `GET /.well-known/acme-challenge/<token>` with
//!   `Challenges::http01(token)` (any Host, port ignored); the TLS acceptor answers ClientHellos
//!   offering only `alpn::ACME_TLS_ALPN` with `Challenges::tls_alpn01(sni)`, then closes.
//! - With `ON_DEMAND_TLS`, `OnDemand` (from `on_demand`) obtains certificates for names no site
//!   serves during their first handshake; the reconciler renews them (`ReconcilerConfig::on_demand`).
//! - `ReconcilerConfig::restart` (from the Docker provider) restarts a container whose
//!   certificate changed (`ACME_RESTART_CONTAINER`); `hooks` runs `ACME_PRE_HOOK`/`ACME_POST_HOOK`
//!   around each order.
//!
//! Layout: `spec` (pure settings) → `schedule` (pure timing), `budget` (pure order rate bound)
//! → `orders` (the one issuer and budget set, shared with on-demand TLS) → `reconciler` (task) → `order` (one order; its DNS-01 arm in `dns01`, the DNS provider in
//! `dns/`, the newOrder request in `new_order`, EAB in `eab`, alternate chains in `chain`) →
//! `ari` (RFC 9773) / `client` (HTTP); files are read and written through
//! `crate::certs` (`CertsDir`, `CertInfo`).
//!
//! With `--store` (`ReconcilerConfig::shared`), `shared` runs each order task under the
//! certificate's lock in `crate::store` and publishes accounts, answers and certificates there;
//! `Challenges` is the store mirror's target (`store::AnswerSink`).

mod alpn;
mod ari;
mod budget;
mod chain;
mod challenge;
mod client;
mod dns;
mod dns01;
mod eab;
mod error;
mod hooks;
mod keys;
mod new_order;
mod on_demand;
mod options;
mod order;
mod orders;
mod reconciler;
mod renew;
mod report;
mod schedule;
mod shared;
mod spec;

pub use alpn::ACME_TLS_ALPN;
pub use ari::renewal_info_url;
pub use challenge::Challenges;
pub(crate) use challenge::{Http01Answer, SiteChallenge, http01_answer};
pub use client::AcmeHttp;
pub use dns::{DnsConfig, DnsConfigError, DnsError, DnsProvider, KeySource, TsigAlg, TsigKey};
pub use error::Step;
pub use hooks::{Hook, Hooks};
pub use on_demand::{
    OnDemand, OnDemandParts, OnDemandSettings, Refusal, SettingsError as OnDemandSettingsError,
};
pub use options::{CertStatus, OnIssued, ReconcilerConfig, RestartContainer, Stats};
pub use order::Issuer;
pub use orders::Orders;
pub use reconciler::spawn;
pub use renew::{RenewError, RenewInbox, RenewOutcome, Renewer, renew_channel};
pub use report::describe;
pub use schedule::Backoff;
pub use spec::{
    AcmeGlobals, ChallengeKind, Eab, KeyType, OrderSpec, ZeroSslEab, ZeroSslEndpoints, ZeroSslKey,
};
