//! Mirrors `dockside::exchange`: the request facts the uwsgi vars read and the hop-by-hop rule.

#[allow(dead_code)]
#[path = "../../../src/exchange/hop.rs"]
pub mod hop;
#[allow(dead_code)]
#[path = "../../../src/exchange/meta.rs"]
mod meta;

pub use meta::{ConnInfo, RequestMeta, Scheme};
