//! The HTTPS policy step of the service pipeline (between route lookup and location): applies
//! the pure decisions of `policy` to a request — redirect, not served (like an unknown
//! host), 421, or the site to serve with its HSTS value.

use std::sync::Arc;

use http::header::{self, HeaderValue};
use http::{Request, Response};

use super::answer::{Failure, no_site, text};
use super::policy::{self, Verdict};
use super::state::ServiceState;
use crate::exchange::{ClientCert, ConnInfo, ProxyBody, ProxyError};
use crate::live::Snapshot;
use crate::model::HttpsMethod;
use crate::routing::SiteRoute;

/// The outcome of the HTTPS policy step.
pub(super) enum Policed<'t> {
    /// Go on with this site (the `DEFAULT_HOST` site when `nohttp` refused the Host's own).
    Serve(&'t Arc<SiteRoute>, Option<HeaderValue>),
    /// A redirect, answered here.
    Answer(Response<ProxyBody>),
}

/// nginx-proxy §1.6.6 (see `policy.rs`) plus the 421 check: a redirect to HTTPS, a site that has
/// no server for this scheme (answered like an unknown host: `DEFAULT_HOST` or 503), or the
/// site to serve and its HSTS value.
pub(super) fn https_policy<'t, B>(
    state: &ServiceState,
    live: &'t Snapshot,
    conn: &ConnInfo,
    site: &'t Arc<SiteRoute>,
    host: &str,
    req: &Request<B>,
) -> Result<Policed<'t>, Failure> {
    if let Some(tls) = &conn.tls {
        // `default.crt` answered a name no site serves over TLS (unknown, no SNI, `nohttps`).
        if tls.site.is_none() {
            return Err(no_site(host));
        }
        if policy::misdirected(
            tls.site.as_deref(),
            &site.host,
            || crate::certs::covers(&tls.cert_names, host),
            || live.site_tls(site).is_some_and(|t| t.client_auth.is_some()),
        ) {
            let sni = conn.sni.clone().unwrap_or_default();
            let host = host.to_owned();
            return Err((ProxyError::Misdirected { host, sni }, None));
        }
    }
    let request_uri = req.uri().path_and_query().map_or("/", |p| p.as_str());
    let ask = policy::Ask {
        scheme: conn.scheme,
        method: req.method(),
        host,
        request_uri,
    };
    let mut candidate = site;
    loop {
        let facts = policy::SitePolicy::of(candidate, cert_ok(live, conn, candidate));
        match policy::decide(ask, &facts, listeners(state, candidate)) {
            Verdict::Proceed { hsts } => {
                let value = hsts.and_then(|_| candidate.hsts.clone());
                return Ok(Policed::Serve(candidate, value));
            }
            Verdict::Redirect { status, location } => {
                let mut resp = text(status, "");
                if let Ok(v) = HeaderValue::from_str(&location) {
                    resp.headers_mut().insert(header::LOCATION, v);
                }
                return Ok(Policed::Answer(resp));
            }
            // Like an unknown Host: the DEFAULT_HOST site (if it serves this scheme), else 503.
            Verdict::NotServed => match state.hosts(conn, live).and_then(|h| h.lookup("")) {
                Some(default)
                    if !Arc::ptr_eq(default, candidate) && Arc::ptr_eq(candidate, site) =>
                {
                    candidate = default;
                }
                _ => return Err(no_site(host)),
            },
        }
    }
}

/// mTLS: the connection's client certificate when the request's site is the one whose handshake
/// asked for it, or nginx's 400 when the site's `ssl_verify_client` refuses it. Costs one branch
/// on connections without a client-certificate verdict.
pub(super) fn client_cert<'c>(
    conn: &'c ConnInfo,
    site: &SiteRoute,
    host: &str,
) -> Result<Option<&'c ClientCert>, Failure> {
    let Some(tls) = &conn.tls else {
        return Ok(None);
    };
    let Some(client) = &tls.client else {
        return Ok(None);
    };
    // Another site covered by the same certificate and asking for nothing (see `misdirected`).
    if tls.site.as_deref() != Some(site.host.as_str()) {
        return Ok(None);
    }
    match client.refusal {
        Some(refusal) => {
            let host = host.to_owned();
            Err((ProxyError::ClientCert { host, refusal }, None))
        }
        None => Ok(Some(client)),
    }
}

/// nginx-proxy's `cert_ok`: an HTTPS connection whose handshake chose this site has it; else
/// ask the live snapshot (which follows the certificate directory).
fn cert_ok(live: &Snapshot, conn: &ConnInfo, site: &SiteRoute) -> bool {
    if conn
        .tls
        .as_ref()
        .is_some_and(|t| t.site.as_deref() == Some(site.host.as_str()))
    {
        return true;
    }
    live.cert_ok(site)
}

/// nginx-proxy's effective `HTTPS_METHOD` for `site` (`policy::effective_method`), for the steps
/// before the policy itself (the ACME challenge).
pub(super) fn effective_method(
    state: &ServiceState,
    live: &Snapshot,
    conn: &ConnInfo,
    site: &SiteRoute,
) -> HttpsMethod {
    let facts = policy::SitePolicy::of(site, cert_ok(live, conn, site));
    policy::effective_method(&facts, listeners(state, site))
}

/// Whether HTTPS is on, and the port `site`'s redirects point to: its `EXTERNAL_HTTPS_PORT`,
/// else the HTTPS listener's.
fn listeners(state: &ServiceState, site: &SiteRoute) -> policy::Listeners {
    policy::Listeners {
        https: state.https,
        https_port: site.external_https_port.unwrap_or(state.https_port),
    }
}
