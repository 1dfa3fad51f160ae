//! TLS termination: certificate store (nginx-proxy layout), SNI resolver over one swappable map,
//! and SSL_POLICY.
