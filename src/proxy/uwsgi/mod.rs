//! Forwarding to uWSGI backends (`VIRTUAL_PROTO=uwsgi`) over the uwsgi binary protocol.

pub mod codec;
pub mod framing;
pub mod vars;
