//! The ACME HTTP-01 step, first in the pipeline.

use http::{Request, Response, StatusCode};

use super::answer::text;
use super::https;
use super::state::ServiceState;
use crate::acme::{Http01Answer, SiteChallenge, http01_answer};
use crate::exchange::{ConnInfo, ProxyBody, Scheme};
use crate::live::Snapshot;

const ACME_PREFIX: &str = "/.well-known/acme-challenge/";

/// `/.well-known/acme-challenge/<token>`: our own pending HTTP-01 token for this Host (port
/// ignored) is answered on either scheme (a CA follows an HTTP→HTTPS redirect made by a proxy in
/// front); on plain HTTP the site's `ACME_HTTP_CHALLENGE_LOCATION`, effective `HTTPS_METHOD` and
/// `ACME_HTTP_CHALLENGE_ACCEPT_UNKNOWN_HOST` decide between a 404 and the normal pipeline
/// (`acme::http01_answer`).
pub(super) fn acme_challenge<B>(
    state: &ServiceState,
    live: &Snapshot,
    conn: &ConnInfo,
    host: &str,
    req: &Request<B>,
) -> Option<Response<ProxyBody>> {
    let token = req.uri().path().strip_prefix(ACME_PREFIX)?;
    let own = state.challenges.http01_for(host, token);
    if own.is_none() && conn.scheme != Scheme::Http {
        return None;
    }
    let site = state
        .hosts(conn, live)
        .and_then(|h| h.lookup(host))
        .map(|site| SiteChallenge {
            location: site.acme_http_challenge,
            method: https::effective_method(state, live, conn, site),
        });
    match http01_answer(own, site, state.challenges.accept_unknown_host()) {
        Http01Answer::Own(key_authorization) => Some(text(StatusCode::OK, key_authorization)),
        Http01Answer::NotFound => Some(text(StatusCode::NOT_FOUND, "404 Not Found\n")),
        Http01Answer::PassThrough => None,
    }
}
