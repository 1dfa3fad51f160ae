//! nginx-proxy's HTTPS policies (§1.6.6) as pure decisions: given the scheme, the request method,
//! a site's resolved settings and whether it has a usable certificate, say whether the request
//! proceeds (and with which `Strict-Transport-Security` value), is redirected to HTTPS, or is
//! answered like an unknown host. The service pipeline calls [`decide`] between route lookup and
//! location; [`misdirected`] is the 421 check for HTTPS requests. No IO here.

use http::{Method, StatusCode};

use crate::exchange::Scheme;
use crate::model::HttpsMethod;
use crate::routing::SiteRoute;

/// The request facts a policy looks at.
#[derive(Debug, Clone, Copy)]
pub struct Ask<'a> {
    pub scheme: Scheme,
    pub method: &'a Method,
    /// `$host`: the Host without port, lower-cased.
    pub host: &'a str,
    /// `$request_uri`: the original target (path and query).
    pub request_uri: &'a str,
}

/// The site's resolved settings that decide the policy.
#[derive(Debug, Clone, Copy)]
pub struct SitePolicy<'a> {
    pub method: HttpsMethod,
    /// `None` when `HSTS=off`.
    pub hsts: Option<&'a str>,
    pub non_get_redirect: u16,
    pub enable_http_on_missing_cert: bool,
    /// nginx-proxy's `cert_ok`: the site has a certificate and key it may serve.
    pub cert_ok: bool,
}

impl<'a> SitePolicy<'a> {
    /// The policy inputs of a compiled site; `cert_ok` comes from the TLS state.
    pub fn of(site: &'a SiteRoute, cert_ok: bool) -> SitePolicy<'a> {
        SitePolicy {
            method: site.https_method,
            hsts: site.hsts.as_ref().and_then(|h| h.to_str().ok()),
            non_get_redirect: site.non_get_redirect,
            enable_http_on_missing_cert: site.enable_http_on_missing_cert,
            cert_ok,
        }
    }
}

/// How dockside listens: whether HTTPS is on at all, and the port redirects point to.
#[derive(Debug, Clone, Copy)]
pub struct Listeners {
    pub https: bool,
    /// The HTTPS port clients reach (`:port` is added to the Location when it is not 443).
    pub https_port: u16,
}

/// What to do with the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict<'a> {
    /// Serve it; add `Strict-Transport-Security: <value>` to the response (errors included).
    Proceed { hsts: Option<&'a str> },
    /// `HTTPS_METHOD=redirect` over HTTP: answer `status` with this `Location`.
    Redirect {
        status: StatusCode,
        location: String,
    },
    /// The site has no server for this scheme (`nohttp` over HTTP, `nohttps` over HTTPS): answer
    /// like an unknown host.
    NotServed,
}

/// nginx-proxy's effective method: `redirect`/`nohttp` without a usable certificate become
/// `noredirect` when `ENABLE_HTTP_ON_MISSING_CERT` holds (a missing certificate never takes a
/// site off the air), and everything is `noredirect` when HTTPS is off entirely.
pub fn effective_method(site: &SitePolicy<'_>, listeners: Listeners) -> HttpsMethod {
    match site.method {
        _ if !listeners.https => HttpsMethod::NoRedirect,
        HttpsMethod::Redirect | HttpsMethod::NoHttp
            if !site.cert_ok && site.enable_http_on_missing_cert =>
        {
            HttpsMethod::NoRedirect
        }
        m => m,
    }
}

/// The policy decision for one request to `site`.
pub fn decide<'a>(ask: Ask<'_>, site: &SitePolicy<'a>, listeners: Listeners) -> Verdict<'a> {
    let method = effective_method(site, listeners);
    match (ask.scheme, method) {
        (Scheme::Http, HttpsMethod::Redirect) => Verdict::Redirect {
            status: redirect_status(ask.method, site.non_get_redirect),
            location: location(ask.host, ask.request_uri, listeners.https_port),
        },
        (Scheme::Http, HttpsMethod::NoHttp) | (Scheme::Https, HttpsMethod::NoHttps) => {
            Verdict::NotServed
        }
        (Scheme::Http, _) | (Scheme::Https, HttpsMethod::NoRedirect) => {
            Verdict::Proceed { hsts: None }
        }
        (Scheme::Https, _) => Verdict::Proceed {
            hsts: site.hsts.filter(|_| site.cert_ok),
        },
    }
}

/// 301 for GET, HEAD and anything nginx-proxy's `if ($request_method ~ ...)` does not list;
/// `NON_GET_REDIRECT` for OPTIONS, POST, PUT, PATCH and DELETE.
fn redirect_status(method: &Method, non_get: u16) -> StatusCode {
    let listed = matches!(
        *method,
        Method::OPTIONS | Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    );
    if listed {
        StatusCode::from_u16(non_get).unwrap_or(StatusCode::MOVED_PERMANENTLY)
    } else {
        StatusCode::MOVED_PERMANENTLY
    }
}

/// `https://$host[:port]$request_uri`.
fn location(host: &str, request_uri: &str, port: u16) -> String {
    if port == 443 {
        format!("https://{host}{request_uri}")
    } else {
        format!("https://{host}:{port}{request_uri}")
    }
}

/// The 421 check for an HTTPS request: the Host's site is not the one the handshake chose for
/// the SNI (`sni_site`) and the certificate presented does not cover the Host either. A
/// certificate that covers both names (one SAN certificate for several sites) is not misdirected
/// — unless the Host's site verifies client certificates (mTLS), which the handshake did not do
/// for it (nginx: "client attempted to request the server name different from the one that was
/// negotiated"). Both closures are only asked when the sites differ (`covers` normalizes the
/// Host, which allocates).
pub fn misdirected(
    sni_site: Option<&str>,
    host_site: &str,
    cert_covers_host: impl FnOnce() -> bool,
    host_site_verifies_clients: impl FnOnce() -> bool,
) -> bool {
    sni_site != Some(host_site) && (!cert_covers_host() || host_site_verifies_clients())
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
