//! Setting names dockside reads from containers and routes-file entries, with the user's
//! spelling (nginx-proxy / acme-companion), so logs and docs never show internal field names.

pub const VIRTUAL_HOST: &str = "VIRTUAL_HOST";
pub const VIRTUAL_PORT: &str = "VIRTUAL_PORT";
pub const VIRTUAL_PROTO: &str = "VIRTUAL_PROTO";
pub const VIRTUAL_PATH: &str = "VIRTUAL_PATH";
pub const VIRTUAL_DEST: &str = "VIRTUAL_DEST";
pub const VIRTUAL_HOST_MULTIPORTS: &str = "VIRTUAL_HOST_MULTIPORTS";
pub const HTTPS_METHOD: &str = "HTTPS_METHOD";
pub const HSTS: &str = "HSTS";
pub const SSL_POLICY: &str = "SSL_POLICY";
pub const CERT_NAME: &str = "CERT_NAME";
pub const ENABLE_HTTP_ON_MISSING_CERT: &str = "ENABLE_HTTP_ON_MISSING_CERT";
pub const ACME_HTTP_CHALLENGE_LOCATION: &str = "ACME_HTTP_CHALLENGE_LOCATION";
pub const CLIENT_MAX_BODY_SIZE: &str = "CLIENT_MAX_BODY_SIZE";
pub const LABEL_KEEPALIVE: &str = "com.github.nginx-proxy.nginx-proxy.keepalive";
pub const LABEL_TRUST_DEFAULT_CERT: &str = "com.github.nginx-proxy.nginx-proxy.trust-default-cert";
pub const LABEL_HTTP2: &str = "com.github.nginx-proxy.nginx-proxy.http2.enable";
pub const LABEL_NON_GET_REDIRECT: &str = "com.github.nginx-proxy.nginx-proxy.non-get-redirect";

/// Per-host settings: containers of one host must agree; the oldest container wins otherwise.
pub const HOST_SETTINGS: &[&str] = &[
    HTTPS_METHOD,
    HSTS,
    SSL_POLICY,
    CERT_NAME,
    ENABLE_HTTP_ON_MISSING_CERT,
    ACME_HTTP_CHALLENGE_LOCATION,
    CLIENT_MAX_BODY_SIZE,
    LABEL_TRUST_DEFAULT_CERT,
    LABEL_HTTP2,
    LABEL_NON_GET_REDIRECT,
];

/// Per-path settings: containers of one (host, path) must agree; the oldest wins otherwise.
pub const PATH_SETTINGS: &[&str] = &[VIRTUAL_PROTO, VIRTUAL_DEST, LABEL_KEEPALIVE];

/// Names a routes-file entry may use besides `backends`; anything else is likely a typo.
pub fn is_known(name: &str) -> bool {
    [
        VIRTUAL_HOST,
        VIRTUAL_PORT,
        VIRTUAL_PATH,
        VIRTUAL_HOST_MULTIPORTS,
    ]
    .contains(&name)
        || HOST_SETTINGS.contains(&name)
        || PATH_SETTINGS.contains(&name)
        || name.starts_with("ACME_")
        || name.starts_with("LETSENCRYPT_")
}
