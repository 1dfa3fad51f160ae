//! ACME: certificates for LETSENCRYPT_HOST / ACME_HOST, obtained and renewed with instant-acme.
//! Only this module touches instant-acme; it shares nothing with the data plane but
//! `challenge::Challenges` and the files it writes to the certs dir.

pub mod alpn;
pub mod ari;
pub mod certinfo;
pub mod challenge;
pub mod client;
pub mod error;
pub mod options;
pub mod order;
pub mod reconciler;
pub mod schedule;
pub mod spec;
pub mod storage;
