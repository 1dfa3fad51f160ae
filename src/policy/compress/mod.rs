//! Response compression (issue 14): gzip, brotli and zstd chosen by the client's
//! `Accept-Encoding`, for the media types a site lists, never over a backend's own encoding,
//! streamed as the backend sends. nginx's `gzip on` (with `gzip_vary on`) is the model; br and
//! zstd follow Caddy's `encode`. Off unless a site's `Policy::compression` is set.
//!
//! The pipeline takes `CompressFacts` before forwarding and calls `compress` on the response
//! after the response-header step.

mod body;
mod coder;
mod negotiate;
mod response;

pub use negotiate::negotiate;
pub use response::{CompressFacts, compress};

#[cfg(test)]
mod body_tests;
#[cfg(test)]
mod hyper_tests;
#[cfg(test)]
mod test_body;
