//! ACME: certificates for LETSENCRYPT_HOST / ACME_HOST, obtained and renewed with instant-acme.

pub mod challenge;
