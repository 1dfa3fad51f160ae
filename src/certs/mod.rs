//! The certificate directory, read and written, in nginx-proxy's and acme-companion's layout so
//! either tool can share or take over the volume. The TLS handshake reads it (through the
//! watcher's published [`CertMap`]); ACME writes it (through [`CertsDir`]) and asks the watcher
//! to look again ([`Rescan`]); nothing here knows about either.
//!
//! Inside: `x509` (the one reader of a leaf's names and dates), `pair` (a `.crt`/`.key` pair
//! made servable), `store` (a scan of the directory that keeps the last good pair), `companion`
//! (acme-companion's `<base>/` folders, symlinks and ACME accounts), `perms` (`FILES_UID`,
//! `FILES_PERMS`, ...), `default_cert` (`CREATE_DEFAULT_CERTIFICATE`), `client_ca` (mTLS CA and CRL
//! files), `watch` (inotify, periodic
//! and on-demand rescans), `atomic` (no file is ever seen half-written).

mod atomic;
mod client_ca;
mod companion;
mod default_cert;
mod pair;
mod perms;
mod store;
mod watch;
mod x509;

pub use client_ca::{ClientCa, ClientCas};
pub use companion::{CertsDir, ON_DEMAND_NAMES};
pub use default_cert::{DefaultCert, ensure_default};
pub(crate) use pair::{CertEntry, covers};
pub use perms::FileModes;
pub use store::{CertMap, write_pair};
pub(crate) use watch::Rescan;
pub use watch::{load_initial, spawn_watcher};
pub use x509::{CertInfo, issuer_dn, subject_dn};
