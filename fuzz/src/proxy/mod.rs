//! Mirrors `dockside::proxy`, with only the pure modules the fuzz targets exercise.

#[path = "../../../src/proxy/meta.rs"]
pub mod meta;
pub mod uwsgi;
