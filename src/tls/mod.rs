//! The TLS handshake only: nginx-proxy's certificate selection (`select`, pure), SSL_POLICY
//! configs built once (`policy`), client-certificate configs and verdicts for sites with a CA
//! file (`client_auth`, mTLS), the certificate resolver reading the live snapshot, and the
//! acceptor that ties them together per connection and returns its own [`Session`]; the QUIC
//! endpoint's one config (`quic`, HTTP/3) shares the resolver's rules.
//!
//! Wiring (see `acceptor.rs`):
//! ```text
//! live = Live::new(routes, certs, policy, h2)      (crate::live: the one snapshot)
//! acceptor = TlsAcceptor::new(live, challenges, timeout)
//! per connection: acceptor.accept(tcp, client) → Accepted { stream, session }
//! ```

mod acceptor;
pub(crate) mod client_auth;
pub(crate) mod policy;
mod quic;
mod resolver;
pub(crate) mod select;

pub use acceptor::TlsAcceptor;
pub(crate) use acceptor::{Accepted, Session, TlsError};
pub(crate) use client_auth::{ClientVerdict, Refusal};
pub(crate) use quic::quic_config;
