//! Mirrors `dockside::server`: only the PROXY protocol header codec, which does no IO.

#[path = "../../../src/server/proxy_header/codec.rs"]
pub mod proxy_header;
