//! Mirrors `dockside::proxy::uwsgi`: the codec and the vars, nothing that does IO.

#[path = "../../../../src/proxy/uwsgi/codec.rs"]
pub mod codec;
#[path = "../../../../src/proxy/uwsgi/vars.rs"]
pub mod vars;
