//! A site's effective settings for the admin model: each per-host setting's value in force
//! (the route table's, defaults applied) and the item that set it, or `default`.

use super::model::Setting;
use crate::model::{AcmeChallengeLocation, HttpsMethod, Site};
use crate::routing::SiteRoute;
use crate::settings::names::*;

/// The per-site settings in force (the route's resolved values) and which item set each;
/// a value no item set is the global default.
pub(crate) fn settings(site: &Site, route: &SiteRoute) -> Vec<Setting> {
    let on = |b: bool| if b { "on" } else { "off" }.to_owned();
    let mut list: Vec<(&str, &[&str], String)> = vec![
        (
            HTTPS_METHOD,
            &[HTTPS_METHOD],
            https_method(route.https_method).to_owned(),
        ),
        (
            HSTS,
            &[HSTS],
            route
                .hsts
                .as_ref()
                .and_then(|h| h.to_str().ok())
                .unwrap_or("off")
                .to_owned(),
        ),
        (SSL_POLICY, &[SSL_POLICY], route.ssl_policy.clone()),
        (
            CERT_NAME,
            &[CERT_NAME],
            route
                .cert_name
                .clone()
                .unwrap_or_else(|| "(by host name)".to_owned()),
        ),
        (
            LABEL_TRUST_DEFAULT_CERT,
            &[LABEL_TRUST_DEFAULT_CERT],
            on(route.trust_default_cert),
        ),
        (LABEL_HTTP2, &[LABEL_HTTP2], on(route.http2)),
        (LABEL_HTTP3, &[LABEL_HTTP3], on(route.http3)),
        (
            LABEL_NON_GET_REDIRECT,
            &[LABEL_NON_GET_REDIRECT],
            route.non_get_redirect.to_string(),
        ),
        (
            ENABLE_HTTP_ON_MISSING_CERT,
            &[ENABLE_HTTP_ON_MISSING_CERT],
            on(route.enable_http_on_missing_cert),
        ),
        (
            ACME_HTTP_CHALLENGE_LOCATION,
            &[ACME_HTTP_CHALLENGE_LOCATION],
            challenge(route.acme_http_challenge).to_owned(),
        ),
        (
            CLIENT_MAX_BODY_SIZE,
            &[CLIENT_MAX_BODY_SIZE],
            match route.client_max_body_size {
                None | Some(u64::MAX) => "unlimited".to_owned(),
                Some(n) => format!("{n} bytes"),
            },
        ),
        (
            LABEL_SSL_VERIFY_CLIENT,
            &[LABEL_SSL_VERIFY_CLIENT],
            route.ssl_verify_client.as_str().to_owned(),
        ),
        (
            LABEL_DEBUG_ENDPOINT,
            &[LABEL_DEBUG_ENDPOINT],
            on(route.debug_endpoint),
        ),
    ];
    let port = |p: Option<u16>| p.map_or("(default listener)".to_owned(), |p| p.to_string());
    list.push((
        EXTERNAL_HTTP_PORT,
        &[EXTERNAL_HTTP_PORT, MULTIPORTS_EXTERNAL_HTTP_PORT],
        port(route.external_http_port),
    ));
    list.push((
        EXTERNAL_HTTPS_PORT,
        &[EXTERNAL_HTTPS_PORT, MULTIPORTS_EXTERNAL_HTTPS_PORT],
        port(route.external_https_port),
    ));
    list.push((
        SERVER_TOKENS,
        &[SERVER_TOKENS],
        match route.server_tokens {
            None => "(unchanged)".to_owned(),
            Some(crate::model::ServerTokens::On) => "on".to_owned(),
            Some(crate::model::ServerTokens::Off) => "off".to_owned(),
        },
    ));
    if let Some(root) = &site.root {
        list.push((VIRTUAL_ROOT, &[VIRTUAL_ROOT], root.clone()));
    }
    list.into_iter()
        .map(|(name, keys, value)| {
            let source = keys.iter().find_map(|k| site.set_by.get(*k)).cloned();
            Setting {
                name: name.to_owned(),
                value,
                source_kind: source.as_deref().map_or("default", source_kind).to_owned(),
                source,
            }
        })
        .collect()
}

/// What kind of item a source name is: routes-file entries are named `<file> site #N`,
/// nginx-proxy files `path:line` or a path; everything else is a container.
pub(crate) fn source_kind(name: &str) -> &'static str {
    if name.contains(" site #") {
        "routes file"
    } else if name.starts_with('/') || name.contains(".d/") || name.contains("htpasswd") {
        "nginx file"
    } else {
        "container"
    }
}

/// The user's spelling of `HTTPS_METHOD`.
fn https_method(m: HttpsMethod) -> &'static str {
    match m {
        HttpsMethod::Redirect => "redirect",
        HttpsMethod::NoRedirect => "noredirect",
        HttpsMethod::NoHttp => "nohttp",
        HttpsMethod::NoHttps => "nohttps",
    }
}

fn challenge(c: AcmeChallengeLocation) -> &'static str {
    match c {
        AcmeChallengeLocation::Enabled => "true",
        AcmeChallengeLocation::Disabled => "false",
        AcmeChallengeLocation::Legacy => "legacy",
    }
}
