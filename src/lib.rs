//! dockside: one process that watches Docker (or a routes file), obtains certificates over
//! ACME, terminates TLS and forwards to backends over HTTP, HTTPS or uwsgi, reading the same
//! settings as nginx-proxy + acme-companion.
//!
//! ```text
//! Docker engine ─events─► discovery ─(re)list─► settings (pure) ─┐
//! routes file ──watch───► discovery::file ────► settings (pure) ─┤
//! vhost.d/ htpasswd/ conf.d/ html/ ─watch─► discovery::nginx_files ─► settings::nginx (pure) ─┤
//!                                                                ▼
//!                           DesiredState (plain data, Eq) — published only when changed
//!              ┌─────────────────────────────────┼──────────────────────────┐
//!              ▼                                 ▼                          ▼
//!   RouteTable::build (routing)        acme reconciler ──writes──► certs/ (x509, store,
//!              │                                                   companion layout, watcher)
//!              ▼                                                            │ CertMap
//!   live::Live — ONE ArcSwap<Snapshot>: routes + which sites have a certificate + SNI view
//!              │ one load per request / handshake
//!              ▼
//! server/  (workers, accept, permit, one connection, idle watchdogs, WebSocket splice)
//!   ├─ tls/ (handshake only: SNI → cert resolver reads live; returns tls::Session)
//!   ▼
//! service/ (ACME challenge → route → HTTPS policy → location → site policy (policy/) →
//!           headers → dispatch → response headers, compression, error pages; answers)
//!   ▼
//! upstream/ (one exchange: order, retry, passive health, timeouts → pool + h1/ | tls | uwsgi/)
//! ```
//!
//! `policy/` is a site policy: plain data the settings build (`Policy`), compiled once per route
//! table into what a request runs (access, auth with its credential cache, rate limits,
//! compression), kept across rebuilds while unchanged.
//!
//! `exchange/` holds what the three data-plane rooms pass each other (body, connection and
//! request facts, the error that becomes an answer, the hop-by-hop rule). Dependencies point one
//! way: `server → tls, service`; `service → live, upstream`; `live, acme, tls → certs`; all of
//! them → `exchange`, `routing`, `model`.
//!
//! `store/` shares ACME state between replicas through etcd (`--store`): `acme → store → certs`;
//! it mirrors the store into the local certificate directory, which stays what TLS serves from.
//!
//! `metrics/` counts the data plane per worker thread (one shard each, no shared atomic per
//! request) and merges the shards when the admin listener's `/metrics` is scraped.
//!
//! Three planes: the control plane (discovery, ACME) may be slow and fail; the data plane
//! (server, tls, service, upstream) only reads the latest snapshot; the pure cores (settings,
//! routing, codecs) do no IO.
#![forbid(unsafe_code)]

pub mod acme;
pub mod admin;
pub mod app;
pub mod certs;
pub mod config;
pub mod discovery;
pub(crate) mod error_chain;
pub mod exchange;
pub mod live;
pub(crate) mod metrics;
pub mod model;
pub mod policy;
pub mod routing;
pub(crate) mod server;
pub(crate) mod service;
pub(crate) mod settings;
pub mod store;
pub mod telemetry;
pub mod test_support;
pub mod tls;
pub mod upstream;
