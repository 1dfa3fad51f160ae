//! The data plane: listeners, the proxy service, header rewriting and forwarding.

pub mod access_log;
pub mod body;
pub mod error;
pub mod forward;
pub mod h1_codec;
pub mod headers;
pub mod health;
pub mod idle;
pub mod listener;
pub mod log_throttle;
pub mod meta;
pub mod policy;
pub mod service;
pub mod upgrade;
pub mod upstream_pool;
pub mod upstream_tls;
pub mod upstream_wire;
pub mod uri_path;
pub mod uwsgi;
pub mod workers;
