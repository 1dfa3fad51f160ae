//! dockside: one process that watches Docker (or a routes file), obtains certificates over
//! ACME, terminates TLS and forwards to backends over HTTP, HTTPS or uwsgi, reading the same
//! settings as nginx-proxy + acme-companion.
//!
//! ```text
//! Docker engine ─events─► discovery ─(re)list─► settings::build (pure) ─┐
//! routes file ──watch───► discovery::file ─────► settings::build (pure) ─┤
//!                                                                        ▼
//!                                   DesiredState (plain data, Eq) — published only when changed
//!                 ┌──────────────────────────────────┼──────────────────────────┐
//!                 ▼                                  ▼                          ▼
//!   RouteTable::build → ArcSwap<RouteTable>   acme reconciler → certs (write, watch) → ArcSwap<CertMap>
//!                 ▼                                                             ▼
//! TCP accept ─► TLS (SNI → cert resolver) ─► proxy service: ACME challenge? → HTTPS policy
//!            → route lookup → forward: http | https | uwsgi
//! ```
//!
//! Three planes: the control plane (discovery, ACME) may be slow and fail; the data plane
//! (proxy, tls) only reads the latest snapshots; the pure cores (settings, routing, codecs)
//! do no IO.
#![forbid(unsafe_code)]

pub mod acme;
pub mod admin;
pub mod app;
pub mod certs;
pub mod config;
pub mod discovery;
pub mod error_chain;
pub mod exchange;
pub mod live;
pub mod model;
pub mod routing;
pub mod server;
pub mod service;
pub mod settings;
pub mod tls;
pub mod upstream;
