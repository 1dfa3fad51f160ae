//! Mirrors `dockside::upstream::fastcgi`: the record and name-value codec, nothing that does IO.

#[path = "../../../../src/upstream/fastcgi/codec.rs"]
pub mod codec;
