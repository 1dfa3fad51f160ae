//! Mirrors `dockside::upstream::h1`: the pure client codec, and the yardstick its tests and the
//! `h1_response` target hold it to (`codec_check`, test code in the main crate).

#[path = "../../../../src/upstream/h1/codec.rs"]
pub mod codec;
#[path = "../../../../src/upstream/h1/codec_check.rs"]
pub mod codec_check;
