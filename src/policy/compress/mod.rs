//! Response compression (issue 14): gzip, brotli and zstd chosen by the client's
//! `Accept-Encoding`, for the media types a site lists, never over a backend's own encoding,
//! streamed as the backend sends. nginx's `gzip on` (with `gzip_vary on`) is the model; br and
//! zstd follow Caddy's `encode`. Off unless a site's `Policy::compression` is set.

mod negotiate;

pub use negotiate::negotiate;
