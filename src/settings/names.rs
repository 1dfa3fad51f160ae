//! Setting names dockside reads from containers and routes-file entries, with the user's
//! spelling (nginx-proxy / acme-companion), so logs and docs never show internal field names.

pub const VIRTUAL_HOST: &str = "VIRTUAL_HOST";

/// A container's ZeroSSL API key (acme-companion reads it per container too); a secret.
pub const ZEROSSL_API_KEY: &str = "ZEROSSL_API_KEY";

/// The settings a certificate request carries to the ACME side (`acme::spec`): the `ACME_`,
/// `LETSENCRYPT_` and `ACMESH_` families, and `ZEROSSL_API_KEY`.
pub fn is_certificate_setting(key: &str) -> bool {
    key == ZEROSSL_API_KEY
        || ["ACME_", "LETSENCRYPT_", "ACMESH_"]
            .iter()
            .any(|p| key.starts_with(p))
}
/// Set by the routes file on its `[[certificate]]` entries (acme-companion's standalone
/// certificates): an item that only asks for a certificate, for names nothing routes.
pub const STANDALONE_CERTIFICATE: &str = "DOCKSIDE_STANDALONE_CERTIFICATE";
pub const VIRTUAL_PORT: &str = "VIRTUAL_PORT";
pub const VIRTUAL_PROTO: &str = "VIRTUAL_PROTO";
pub const VIRTUAL_PATH: &str = "VIRTUAL_PATH";
pub const VIRTUAL_DEST: &str = "VIRTUAL_DEST";
pub const VIRTUAL_ROOT: &str = "VIRTUAL_ROOT";
pub const VIRTUAL_HOST_MULTIPORTS: &str = "VIRTUAL_HOST_MULTIPORTS";
pub const HTTPS_METHOD: &str = "HTTPS_METHOD";
pub const HSTS: &str = "HSTS";
pub const SSL_POLICY: &str = "SSL_POLICY";
pub const CERT_NAME: &str = "CERT_NAME";
pub const ENABLE_HTTP_ON_MISSING_CERT: &str = "ENABLE_HTTP_ON_MISSING_CERT";
pub const ACME_HTTP_CHALLENGE_LOCATION: &str = "ACME_HTTP_CHALLENGE_LOCATION";
pub const CLIENT_MAX_BODY_SIZE: &str = "CLIENT_MAX_BODY_SIZE";
pub const NETWORK_ACCESS: &str = "NETWORK_ACCESS";
pub const IP_ALLOW: &str = "IP_ALLOW";
pub const IP_DENY: &str = "IP_DENY";
pub const BASIC_AUTH: &str = "BASIC_AUTH";
pub const BASIC_AUTH_REALM: &str = "BASIC_AUTH_REALM";
pub const RATE_LIMIT: &str = "RATE_LIMIT";
pub const PROXY_CONNECT_TIMEOUT: &str = "PROXY_CONNECT_TIMEOUT";
pub const PROXY_READ_TIMEOUT: &str = "PROXY_READ_TIMEOUT";
pub const PROXY_SEND_TIMEOUT: &str = "PROXY_SEND_TIMEOUT";
pub const RETURN: &str = "RETURN";
pub const REDIRECT_TO_HOST: &str = "REDIRECT_TO_HOST";
pub const REQUEST_HEADERS: &str = "REQUEST_HEADERS";
pub const RESPONSE_HEADERS: &str = "RESPONSE_HEADERS";
pub const COMPRESSION: &str = "COMPRESSION";
pub const COMPRESSION_LEVEL: &str = "COMPRESSION_LEVEL";
pub const COMPRESSION_MIN_LENGTH: &str = "COMPRESSION_MIN_LENGTH";
pub const COMPRESSION_TYPES: &str = "COMPRESSION_TYPES";
pub const LABEL_KEEPALIVE: &str = "com.github.nginx-proxy.nginx-proxy.keepalive";
pub const LABEL_TRUST_DEFAULT_CERT: &str = "com.github.nginx-proxy.nginx-proxy.trust-default-cert";
pub const LABEL_HTTP2: &str = "com.github.nginx-proxy.nginx-proxy.http2.enable";
/// HTTP/3 for one site (else `ENABLE_HTTP3`): QUIC on the HTTPS port and `alt-svc` on its answers.
pub const LABEL_HTTP3: &str = "com.github.nginx-proxy.nginx-proxy.http3.enable";
pub const LABEL_NON_GET_REDIRECT: &str = "com.github.nginx-proxy.nginx-proxy.non-get-redirect";
pub const LABEL_LOADBALANCE: &str = "com.github.nginx-proxy.nginx-proxy.loadbalance";

/// A `VIRTUAL_HOST_MULTIPORTS` host's `external_http_port` / `external_https_port`: claimed per
/// host like the other per-host settings (the oldest container wins), under names that say in
/// logs where the value came from. They win over `EXTERNAL_*_PORT` (nginx-proxy §1.6.1).
pub const MULTIPORTS_EXTERNAL_HTTP_PORT: &str = "VIRTUAL_HOST_MULTIPORTS external_http_port";
pub const MULTIPORTS_EXTERNAL_HTTPS_PORT: &str = "VIRTUAL_HOST_MULTIPORTS external_https_port";
pub const LABEL_DEBUG_ENDPOINT: &str = "com.github.nginx-proxy.nginx-proxy.debug-endpoint";
pub const EXTERNAL_HTTP_PORT: &str = "EXTERNAL_HTTP_PORT";
pub const EXTERNAL_HTTPS_PORT: &str = "EXTERNAL_HTTPS_PORT";
pub const SERVER_TOKENS: &str = "SERVER_TOKENS";
pub const LABEL_SSL_VERIFY_CLIENT: &str = "com.github.nginx-proxy.nginx-proxy.ssl_verify_client";

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
    LABEL_HTTP3,
    LABEL_NON_GET_REDIRECT,
    LABEL_DEBUG_ENDPOINT,
    EXTERNAL_HTTP_PORT,
    EXTERNAL_HTTPS_PORT,
    SERVER_TOKENS,
    LABEL_SSL_VERIFY_CLIENT,
    VIRTUAL_ROOT,
];

/// Site-policy settings (issue 14), per path like nginx-proxy's `<host>_<sha1(path)>` files;
/// in the order they are applied (a deny list before an allow list, a coding list before its
/// level).
pub const POLICY_SETTINGS: &[&str] = &[
    NETWORK_ACCESS,
    IP_DENY,
    IP_ALLOW,
    BASIC_AUTH,
    BASIC_AUTH_REALM,
    RATE_LIMIT,
    PROXY_CONNECT_TIMEOUT,
    PROXY_READ_TIMEOUT,
    PROXY_SEND_TIMEOUT,
    RETURN,
    REDIRECT_TO_HOST,
    REQUEST_HEADERS,
    RESPONSE_HEADERS,
    COMPRESSION,
    COMPRESSION_LEVEL,
    COMPRESSION_MIN_LENGTH,
    COMPRESSION_TYPES,
];

/// Per-path settings: containers of one (host, path) must agree; the oldest wins otherwise.
/// The site-policy settings (`POLICY_SETTINGS`) are per path too.
pub const PATH_SETTINGS: &[&str] = &[
    VIRTUAL_PROTO,
    VIRTUAL_DEST,
    LABEL_KEEPALIVE,
    LABEL_LOADBALANCE,
];

/// Every per-path setting: `PATH_SETTINGS`, then `POLICY_SETTINGS`.
pub fn path_settings() -> impl Iterator<Item = &'static str> {
    PATH_SETTINGS.iter().chain(POLICY_SETTINGS).copied()
}

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
        || path_settings().any(|n| n == name)
        || name.starts_with("ACME_")
        || name.starts_with("LETSENCRYPT_")
}
