//! ACME: certificates for `LETSENCRYPT_HOST` / `ACME_HOST`, obtained and renewed with
//! instant-acme. Only this module touches instant-acme; it shares nothing with the data plane
//! but `challenge::Challenges` and the certificate directory (`crate::certs`).
//!
//! Wiring (see `reconciler::spawn`):
//! - `spec::AcmeGlobals` (`Config.acme`, read once with `from_vars`) holds acme-companion's
//!   proxy-level variables; every `CertRequest` in `DesiredState::certificates` is resolved against them.
//! - `reconciler::spawn(ReconcilerConfig::new(globals, certs_dir, challenges, on_issued), rx,
//!   cancel)` runs the loop; `on_issued(base)` fires right after `<certs>/<base>/` was written.
//! - The HTTP listener answers `GET /.well-known/acme-challenge/<token>` with
//!   `Challenges::http01(token)` (any Host, port ignored); the TLS acceptor answers ClientHellos
//!   offering only `alpn::ACME_TLS_ALPN` with `Challenges::tls_alpn01(sni)`, then closes.
//!
//! Layout: `spec` (pure settings) → `schedule` (pure timing) → `reconciler` (task) → `order`
//! (one order) → `ari` (RFC 9773) / `client` (HTTP); files are read and written through
//! `crate::certs` (`CertsDir`, `CertInfo`).

pub mod alpn;
pub mod ari;
pub mod challenge;
pub mod client;
pub mod error;
pub mod keys;
pub mod options;
pub mod order;
pub mod reconciler;
pub mod schedule;
pub mod spec;
