//! One backend exchange, for every protocol a location can name: which backend to try (the
//! rotation, passive health), the retry on a refused connect, the timeouts, and the protocol
//! itself — HTTP/1.1 over the worker's pool (`pool`, with the pure codec and wire exchange in
//! `h1/`), the same over TLS (`tls`), the uwsgi binary protocol (`uwsgi/`), FastCGI
//! (`fastcgi/`, PHP-FPM) or gRPC (`grpc/`, HTTP/2 to the backend): each one arm of
//! `Forwarder::forward` and one folder here.

pub mod fastcgi;
mod forward;
mod grpc;
mod h1;
mod health;
mod pool;
mod send_timeout;
mod tls;
pub mod uwsgi;

pub(crate) use forward::{Failed, Forwarded, Forwarder};
pub(crate) use health::PassiveHealth;
