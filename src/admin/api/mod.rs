//! The admin JSON API (`/api/v1/…`, docs/admin-api.md): one model of what dockside serves and
//! why, built by pure functions from the snapshots (`build`), shared by the dashboard, the
//! control section of `/metrics` and `dockside check --json` / `dockside routes`.

mod build;
mod model;
mod settings;
#[cfg(test)]
pub(crate) mod test_support;
mod text;

pub(crate) use build::{AcmeInput, CLASSES, Inputs, overview};
pub use model::*;
pub use text::render as render_text;

use http::StatusCode;

/// The API's paths under this prefix; the version changes only with an incompatible schema.
pub(crate) const PREFIX: &str = "/api/v1/";

/// The JSON answer for an API `path` (after [`PREFIX`]), from one overview. Pure: the caller
/// builds `view` once per request.
pub(crate) fn answer(path: &str, view: &Overview) -> (StatusCode, String) {
    let json = |v: Result<String, serde_json::Error>| match v {
        Ok(body) => (StatusCode::OK, body),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, error(&e.to_string())),
    };
    match path.trim_end_matches('/') {
        "overview" => json(serde_json::to_string_pretty(view)),
        "sites" => json(serde_json::to_string_pretty(&view.sites)),
        "certificates" => json(serde_json::to_string_pretty(&view.certificates)),
        "acme" => json(serde_json::to_string_pretty(&view.acme)),
        "unrouted" => json(serde_json::to_string_pretty(&view.unrouted)),
        "docker" => json(serde_json::to_string_pretty(&view.docker)),
        other => match other.strip_prefix("sites/") {
            Some(host) => match view.sites.iter().find(|s| s.host == host) {
                Some(site) => json(serde_json::to_string_pretty(site)),
                None => (
                    StatusCode::NOT_FOUND,
                    error(&format!("no site {host:?} (see /api/v1/sites)")),
                ),
            },
            None => (
                StatusCode::NOT_FOUND,
                error(
                    "unknown API path: /api/v1/ has overview, sites, sites/<host>, certificates, acme, unrouted, docker",
                ),
            ),
        },
    }
}

/// `{"error": "..."}`, the body of every API error.
fn error(message: &str) -> String {
    serde_json::json!({ "error": message }).to_string()
}

#[cfg(test)]
#[path = "api_tests.rs"]
mod tests;
