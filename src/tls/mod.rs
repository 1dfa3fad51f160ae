//! TLS termination: nginx-proxy's certificate selection over the map `certs` keeps current, one
//! SNI table behind one `ArcSwap`, SSL_POLICY configs built once, and the acceptor that ties them
//! together per connection.
//!
//! Wiring (see `acceptor.rs`):
//! ```text
//! certs = certs::load_initial(dir)            state = TlsState::new(routes, certs, policy, h2)
//! certs::spawn_watcher(dir, state, cancel)     route publisher → state.set_routes(table)
//! acceptor = TlsAcceptor::new(state, challenges, timeout)
//! per connection: acceptor.accept(tcp, client) → Accepted { stream, session }
//! ```

pub mod acceptor;
pub mod policy;
pub mod resolver;
pub mod select;

pub use acceptor::{Accepted, Session, TlsAcceptor, TlsError};
pub use resolver::{Decision, SniTable, TlsState};
