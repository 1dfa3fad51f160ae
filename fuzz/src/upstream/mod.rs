//! Mirrors `dockside::upstream`, with only the pure modules the fuzz targets exercise.

pub mod fastcgi;
pub mod h1;
pub mod uwsgi;
