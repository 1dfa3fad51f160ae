//! nginx-proxy's debug endpoint (§1.6.12): `GET /nginx-proxy-debug` on a site with
//! `DEBUG_ENDPOINT` (or its label) answers `200 application/json` with the global settings, the
//! request and the site as dockside resolved them. The JSON's shape is nginx-proxy's; the values
//! are dockside's. Pure: the serde types and `render`; the pipeline supplies the facts.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::model::{AcmeChallengeLocation, HttpsMethod, ServerTokens};
use crate::routing::{Action, HostPattern, SiteDefaults, SiteRoute};

/// The path nginx-proxy's `location /nginx-proxy-debug` matches (a prefix, as in nginx).
pub(super) const PATH: &str = "/nginx-proxy-debug";

/// nginx's `return 200 '…'` must fit a 4096-byte line: past this the paths are dropped.
const MAX_LEN: usize = 4000;
const STRIPPED: &str = "Virtual paths configuration for this hostname is too large and has been stripped from response.";
const REGEX_HOST: &str = "Hostname is a regexp and unsafe to include in the debug response.";

/// Whether a (normalised) request path is the debug location.
pub(super) fn wanted(path: &str) -> bool {
    path.starts_with(PATH)
}

/// What the answer is built from, gathered by the pipeline.
pub(super) struct Facts<'a> {
    pub site: &'a SiteRoute,
    pub defaults: &'a SiteDefaults,
    /// `$host`.
    pub host: &'a str,
    pub https: bool,
    /// `$http2`: `h2` over TLS, `h2c` in clear, empty for HTTP/1.
    pub http2: &'static str,
    /// The certificate selection's name and `cert_ok`.
    pub cert: Option<&'a str>,
    pub cert_ok: bool,
    pub default_cert_ok: bool,
    pub trust_downstream: bool,
    /// dockside's own listener ports (`HTTP_PORT`, `HTTPS_PORT`).
    pub http_port: u16,
    pub https_port: Option<u16>,
}

#[derive(Serialize)]
struct Answer<'a> {
    global: Global<'a>,
    request: Request<'a>,
    vhost: Vhost<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    warning: Option<&'static str>,
}

/// nginx-proxy's `$config` map: the proxy's own settings, as strings where it keeps them so.
#[derive(Serialize)]
struct Global<'a> {
    acme_http_challenge: &'static str,
    default_cert_ok: bool,
    default_host: &'a str,
    default_root_response: String,
    dockside_version: &'static str,
    enable_debug_endpoint: &'static str,
    enable_http2: &'static str,
    enable_http_on_missing_cert: &'static str,
    external_http_port: String,
    external_https_port: String,
    hsts: &'a str,
    https_method: &'static str,
    non_get_redirect: String,
    ssl_policy: &'a str,
    trust_default_cert: &'static str,
    trust_downstream_proxy: bool,
}

#[derive(Serialize)]
struct Request<'a> {
    host: &'a str,
    https: &'static str,
    http2: &'static str,
    http3: &'static str,
    /// Not known to the HTTP layer (the handshake keeps it): empty.
    ssl_cipher: &'static str,
    ssl_protocol: &'static str,
}

#[derive(Serialize)]
struct Vhost<'a> {
    acme_http_challenge_enabled: bool,
    acme_http_challenge_legacy: bool,
    cert: &'a str,
    cert_ok: bool,
    default: bool,
    enable_debug_endpoint: bool,
    /// The port the site's HTTP server listens on (`EXTERNAL_HTTP_PORT`, else `HTTP_PORT`).
    external_http_port: u16,
    /// Its TLS port (`EXTERNAL_HTTPS_PORT`, else `HTTPS_PORT`); 0 with HTTPS off.
    external_https_port: u16,
    hostname: &'a str,
    hsts: &'a str,
    http2_enabled: bool,
    http3_enabled: bool,
    https_method: &'static str,
    is_regexp: bool,
    non_get_redirect: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    paths: Option<BTreeMap<&'a str, Path<'a>>>,
    server_tokens: &'static str,
    ssl_policy: &'a str,
    ssl_verify_client: &'static str,
    trust_default_cert: bool,
    upstream_name: String,
    vhost_root: &'static str,
}

#[derive(Serialize)]
struct Path<'a> {
    dest: &'a str,
    keepalive: &'static str,
    loadbalance: &'static str,
    network_tag: &'static str,
    /// Backend port → the containers (routes-file entries) listening there.
    ports: BTreeMap<String, Vec<Container<'a>>>,
    proto: &'static str,
    upstream: String,
}

#[derive(Serialize)]
struct Container<'a> {
    #[serde(rename = "Name")]
    name: &'a str,
}

/// The JSON body (with nginx-proxy's trailing newline). Past 4000 characters `vhost.paths` is
/// dropped and a top-level `warning` says so; a regex host is never echoed.
pub(super) fn render(facts: &Facts<'_>) -> String {
    let mut answer = Answer {
        global: global(facts),
        request: Request {
            host: facts.host,
            https: if facts.https { "on" } else { "" },
            http2: facts.http2,
            http3: "",
            ssl_cipher: "",
            ssl_protocol: "",
        },
        vhost: vhost(facts),
        warning: None,
    };
    let mut text = to_json(&answer);
    if text.len() > MAX_LEN {
        answer.vhost.paths = None;
        answer.warning = Some(STRIPPED);
        text = to_json(&answer);
    }
    text.push('\n');
    text
}

fn to_json(answer: &Answer<'_>) -> String {
    // Plain structs of strings, numbers and maps with string keys: serialising cannot fail.
    serde_json::to_string(answer).unwrap_or_default()
}

fn global<'a>(f: &Facts<'a>) -> Global<'a> {
    let d = f.defaults;
    Global {
        acme_http_challenge: challenge(d.acme_http_challenge),
        default_cert_ok: f.default_cert_ok,
        default_host: d.default_host.as_deref().unwrap_or(""),
        default_root_response: d.default_root.as_ref().map_or("none".to_owned(), |r| {
            match &r.text {
                Some(t) => format!("{} {t}", r.status.as_u16()),
                None => r.status.as_u16().to_string(),
            }
        }),
        dockside_version: env!("CARGO_PKG_VERSION"),
        enable_debug_endpoint: bool_str(d.debug_endpoint),
        enable_http2: bool_str(d.http2),
        enable_http_on_missing_cert: bool_str(d.enable_http_on_missing_cert),
        external_http_port: f.http_port.to_string(),
        external_https_port: f
            .https_port
            .map_or_else(|| "off".to_owned(), |p| p.to_string()),
        hsts: d.hsts.as_deref().unwrap_or("off"),
        https_method: method(d.https_method),
        non_get_redirect: d.non_get_redirect.to_string(),
        ssl_policy: &d.ssl_policy,
        trust_default_cert: bool_str(d.trust_default_cert),
        trust_downstream_proxy: f.trust_downstream,
    }
}

fn vhost<'a>(f: &Facts<'a>) -> Vhost<'a> {
    let site = f.site;
    let is_regexp = matches!(site.pattern, HostPattern::Regex(_));
    let name = upstream_name(site, is_regexp);
    Vhost {
        acme_http_challenge_enabled: site.acme_http_challenge != AcmeChallengeLocation::Disabled,
        acme_http_challenge_legacy: site.acme_http_challenge == AcmeChallengeLocation::Legacy,
        cert: f.cert.unwrap_or(""),
        cert_ok: f.cert_ok,
        default: f.defaults.default_host.as_deref() == Some(site.host.as_str()),
        enable_debug_endpoint: site.debug_endpoint,
        external_http_port: site.external_http_port.unwrap_or(f.http_port),
        external_https_port: site.external_https_port.or(f.https_port).unwrap_or(0),
        hostname: if is_regexp { REGEX_HOST } else { &site.host },
        hsts: site
            .hsts
            .as_ref()
            .and_then(|h| h.to_str().ok())
            .unwrap_or("off"),
        http2_enabled: site.http2,
        http3_enabled: false,
        https_method: method(site.https_method),
        is_regexp,
        non_get_redirect: site.non_get_redirect,
        paths: Some(paths(site, &name)),
        server_tokens: match site.server_tokens {
            None => "",
            Some(ServerTokens::On) => "on",
            Some(ServerTokens::Off) => "off",
        },
        ssl_policy: &site.ssl_policy,
        ssl_verify_client: "",
        trust_default_cert: site.trust_default_cert,
        upstream_name: name,
        vhost_root: "/var/www/public",
    }
}

/// nginx-proxy's upstream names: the host, `sha1(host)` for a regex; `<name>-<sha1(path)>` for a
/// path other than `/`.
fn upstream_name(site: &SiteRoute, is_regexp: bool) -> String {
    if is_regexp {
        crate::settings::nginx::sha1_hex(&site.host)
    } else {
        site.host.clone()
    }
}

fn paths<'a>(site: &'a SiteRoute, name: &str) -> BTreeMap<&'a str, Path<'a>> {
    site.locations
        .iter()
        .filter_map(|loc| {
            let Action::Forward(up) = &loc.action else {
                return None;
            };
            let mut ports: BTreeMap<String, Vec<Container<'a>>> = BTreeMap::new();
            for b in up.backends.iter().chain(&up.excluded) {
                let port = match &b.addr {
                    crate::model::BackendAddr::Tcp(a) => a.port().to_string(),
                    crate::model::BackendAddr::Name { port, .. } => port.to_string(),
                    crate::model::BackendAddr::Unix(_) => "unix".to_owned(),
                };
                ports
                    .entry(port)
                    .or_default()
                    .push(Container { name: &b.source });
            }
            let upstream = match loc.raw_path.as_str() {
                "/" => name.to_owned(),
                p => format!("{name}-{}", crate::settings::nginx::sha1_hex(p)),
            };
            let internal = loc.policy.as_ref().is_some_and(|p| {
                p.spec()
                    .origins
                    .iter()
                    .any(|o| o.from.contains("NETWORK_ACCESS"))
            });
            let path = Path {
                dest: &loc.dest,
                keepalive: if up.keepalive { "auto" } else { "disabled" },
                loadbalance: "",
                network_tag: if internal { "internal" } else { "external" },
                ports,
                proto: up.proto.as_str(),
                upstream,
            };
            Some((loc.raw_path.as_str(), path))
        })
        .collect()
}

fn bool_str(b: bool) -> &'static str {
    if b { "true" } else { "false" }
}

fn challenge(c: AcmeChallengeLocation) -> &'static str {
    match c {
        AcmeChallengeLocation::Enabled => "true",
        AcmeChallengeLocation::Disabled => "false",
        AcmeChallengeLocation::Legacy => "legacy",
    }
}

fn method(m: HttpsMethod) -> &'static str {
    match m {
        HttpsMethod::Redirect => "redirect",
        HttpsMethod::NoRedirect => "noredirect",
        HttpsMethod::NoHttp => "nohttp",
        HttpsMethod::NoHttps => "nohttps",
    }
}

#[cfg(test)]
#[path = "debug_tests.rs"]
mod tests;
