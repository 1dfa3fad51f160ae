//! The data plane: listeners, the proxy service, header rewriting and forwarding.

pub mod body;
pub mod error;
pub mod meta;
pub mod uwsgi;
