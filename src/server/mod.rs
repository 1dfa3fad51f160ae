//! The downstream side: worker threads (one runtime and one set of `SO_REUSEPORT` sockets per
//! core), the accept loop with its connection permit and TLS handshake, serving one connection
//! (hyper-util, HTTP/1.1 and h2c), the idle and header watchdogs, and the WebSocket splice. A
//! request is handed to `service` and nothing here looks inside it. The PROXY protocol and
//! HTTP/3 listeners land here.

mod accept;
mod connection;
mod extra;
mod idle;
mod upgrade;
mod workers;

pub(crate) use connection::http_builder;
pub(crate) use extra::{ExtraListeners, StateFor, TlsFor};
pub(crate) use workers::{Workers, bind};
