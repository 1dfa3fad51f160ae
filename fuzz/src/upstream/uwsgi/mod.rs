//! Mirrors `dockside::upstream::uwsgi`: the codec and the vars, nothing that does IO.

#[path = "../../../../src/upstream/uwsgi/codec.rs"]
pub mod codec;
#[path = "../../../../src/upstream/uwsgi/vars.rs"]
pub mod vars;
