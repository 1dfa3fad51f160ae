//! The downstream side: worker threads (one runtime and one set of `SO_REUSEPORT` sockets per
//! core), the accept loop with its connection permit and TLS handshake, serving one connection
//! (hyper-util, HTTP/1.1 and h2c), the idle and header watchdogs, and the WebSocket splice. A
//! request is handed to `service` and nothing here looks inside it. `ENABLE_PROXY_PROTOCOL`'s
//! header is read here (`proxy_header`), before TLS. HTTP/3 (QUIC, UDP) has its own endpoint and
//! thread (`quic`) feeding the same service.

mod accept;
mod connection;
mod extra;
mod idle;
mod listen;
mod proxy_header;
mod quic;
mod upgrade;
mod workers;

pub(crate) use connection::http_builder;
pub(crate) use extra::{ExtraListeners, StateFor, TlsFor};
pub(crate) use listen::{Bound, bind_error, bind_with_twin, describe as describe_listeners};
pub(crate) use quic::{QuicServer, QuicSockets, bind_udp as bind_quic, quic_addrs};
pub(crate) use workers::{Listener, Workers};
