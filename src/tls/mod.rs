//! TLS termination: the certificate store (nginx-proxy / acme-companion layout) kept current by a
//! watcher, nginx-proxy's certificate selection, one SNI table behind one `ArcSwap`, SSL_POLICY
//! configs built once, and the acceptor that ties them together per connection.
//!
//! Wiring (see `acceptor.rs`):
//! ```text
//! certs = watch::load_initial(dir)            state = TlsState::new(routes, certs, policy, h2)
//! watch::spawn_cert_watcher(dir, state, cancel)   route publisher → state.set_routes(table)
//! acceptor = TlsAcceptor::new(state, challenges, timeout)
//! per connection: acceptor.accept(tcp, client, local) → Accepted { stream, conn, cert, site }
//! ```

pub mod acceptor;
pub mod certs;
pub mod policy;
pub mod resolver;
pub mod select;
pub mod store;
pub mod watch;

pub use acceptor::{Accepted, TlsAcceptor, TlsError};
pub use certs::{CertEntry, CertError};
pub use resolver::{Decision, SniTable, TlsState};
pub use store::{CertMap, write_pair};
pub use watch::{load_initial, spawn_cert_watcher};
