//! Who may use the admin listener (docs/security.md, "The admin listener"): `/healthz` is open
//! to everyone (Docker's HEALTHCHECK, load balancers); a proxied request — one carrying
//! `X-Forwarded-For`, `X-Real-IP`, `Forwarded` or `Via`, as every request dockside forwards
//! does — is refused, so a site pointed at the admin port cannot open it up; `/metrics` is open
//! with `DOCKSIDE_METRICS_OPEN`; everything else needs `DOCKSIDE_ADMIN_TOKEN` (as a Bearer
//! token, or as the password of Basic auth, which browsers can send) or a user of
//! `DOCKSIDE_ADMIN_HTPASSWD`. A loopback peer needs no credential while no token is set, as
//! before (the host, `docker exec`); with no credential at all, other peers only get
//! `/healthz`.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use aws_lc_rs::constant_time::verify_slices_are_equal;
use http::{HeaderMap, HeaderValue, StatusCode, header};

use crate::policy::{AuthOutcome, Authenticator, BasicAuth, parse_htpasswd};

/// The headers a proxy adds; dockside's own forwards always carry the first two.
const PROXY_HEADERS: [&str; 4] = ["x-forwarded-for", "x-real-ip", "forwarded", "via"];

/// The realm both challenges name.
const REALM: &str = "dockside admin";

/// The admin listener's credentials and open paths, read once at start.
#[derive(Clone, Default)]
pub struct AdminAuth {
    token: Option<Arc<str>>,
    /// Where the token came from (`DOCKSIDE_ADMIN_TOKEN` or the file), for `dockside check`.
    token_source: Option<String>,
    htpasswd: Option<(PathBuf, Arc<Authenticator>)>,
    /// `DOCKSIDE_METRICS_OPEN`.
    pub metrics_open: bool,
}

/// The token never reaches a log line.
impl fmt::Debug for AdminAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdminAuth")
            .field("token", &self.token_source)
            .field("htpasswd", &self.htpasswd.as_ref().map(|(p, _)| p))
            .field("metrics_open", &self.metrics_open)
            .finish()
    }
}

/// What the gate says about one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    Allow,
    /// 401 with these `WWW-Authenticate` challenges.
    Challenge,
    /// 403 with this reason (the body).
    Forbidden(&'static str),
    /// 429: too many wrong passwords from this client.
    Throttled,
}

impl AdminAuth {
    /// `DOCKSIDE_ADMIN_TOKEN` or `DOCKSIDE_ADMIN_TOKEN_FILE` (not both; Docker secrets are
    /// files), `DOCKSIDE_ADMIN_HTPASSWD`, `DOCKSIDE_METRICS_OPEN`; `env` is the process
    /// environment in `main`, a map in tests.
    pub fn from_vars(env: impl Fn(&str) -> Option<String>) -> Result<AdminAuth, String> {
        let set = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        let (token, token_source) = match (
            set("DOCKSIDE_ADMIN_TOKEN"),
            set("DOCKSIDE_ADMIN_TOKEN_FILE"),
        ) {
            (Some(_), Some(_)) => {
                return Err(
                    "DOCKSIDE_ADMIN_TOKEN and DOCKSIDE_ADMIN_TOKEN_FILE are both set: keep one"
                        .into(),
                );
            }
            (Some(t), None) => (
                Some(checked_token(t.trim(), "DOCKSIDE_ADMIN_TOKEN")?),
                Some("DOCKSIDE_ADMIN_TOKEN".to_owned()),
            ),
            (None, Some(path)) => {
                let text = std::fs::read_to_string(path.trim()).map_err(|e| {
                    format!("DOCKSIDE_ADMIN_TOKEN_FILE={path}: cannot read it ({e})")
                })?;
                let source = format!("DOCKSIDE_ADMIN_TOKEN_FILE={path}");
                (Some(checked_token(text.trim(), &source)?), Some(source))
            }
            (None, None) => (None, None),
        };
        let htpasswd = match set("DOCKSIDE_ADMIN_HTPASSWD") {
            Some(path) => Some(htpasswd(Path::new(path.trim()))?),
            None => None,
        };
        let metrics_open = match set("DOCKSIDE_METRICS_OPEN") {
            Some(v) => crate::settings::parse_bool("DOCKSIDE_METRICS_OPEN", &v)?,
            None => false,
        };
        Ok(AdminAuth {
            token: token.map(Into::into),
            token_source,
            htpasswd,
            metrics_open,
        })
    }

    /// Some credential is configured.
    pub fn has_credential(&self) -> bool {
        self.token.is_some() || self.htpasswd.is_some()
    }

    /// The token, for `dockside renew` (it sends it as the running instance expects).
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// The verdict on a request for `path` from `peer`, except a Basic credential that only a
    /// hash verification can settle (`None`: call [`verify`](Self::verify)).
    pub fn gate(&self, path: &str, headers: &HeaderMap, peer: SocketAddr) -> Option<Gate> {
        if path == "/healthz" {
            return Some(Gate::Allow);
        }
        if PROXY_HEADERS.iter().any(|h| headers.contains_key(*h)) {
            return Some(Gate::Forbidden(
                "the admin listener does not answer proxied requests (X-Forwarded-For, X-Real-IP, Forwarded or Via): reach it directly, never through a site\n",
            ));
        }
        if path == "/metrics" && self.metrics_open {
            return Some(Gate::Allow);
        }
        if peer.ip().to_canonical().is_loopback() && self.token.is_none() {
            return Some(Gate::Allow);
        }
        if !self.has_credential() {
            return Some(Gate::Forbidden(
                "this admin listener is reachable beyond loopback and has no credential: only /healthz is served; set DOCKSIDE_ADMIN_TOKEN (or DOCKSIDE_ADMIN_TOKEN_FILE, DOCKSIDE_ADMIN_HTPASSWD)\n",
            ));
        }
        let Some(authorization) = headers.get(header::AUTHORIZATION) else {
            return Some(Gate::Challenge);
        };
        if let Some(token) = &self.token
            && presents_token(authorization, token)
        {
            return Some(Gate::Allow);
        }
        match &self.htpasswd {
            Some((_, users)) => match users.check_cached(Some(authorization), peer.ip()) {
                Some(AuthOutcome::Allowed) => Some(Gate::Allow),
                Some(AuthOutcome::Throttled { .. }) => Some(Gate::Throttled),
                Some(AuthOutcome::Challenge) => Some(Gate::Challenge),
                None => None,
            },
            None => Some(Gate::Challenge),
        }
    }

    /// Settles a Basic credential against `DOCKSIDE_ADMIN_HTPASSWD` (bcrypt: run it on a
    /// blocking thread).
    pub fn verify(&self, headers: &HeaderMap, peer: SocketAddr) -> Gate {
        let Some((_, users)) = &self.htpasswd else {
            return Gate::Challenge;
        };
        match users.check(headers.get(header::AUTHORIZATION), peer.ip()) {
            AuthOutcome::Allowed => Gate::Allow,
            AuthOutcome::Throttled { .. } => Gate::Throttled,
            AuthOutcome::Challenge => Gate::Challenge,
        }
    }

    /// The `WWW-Authenticate` values of a 401: Basic always works from a browser (the token as
    /// the password); Bearer is named when a token is set.
    pub fn challenges(&self) -> Vec<HeaderValue> {
        let mut out = vec![HeaderValue::from_static("Basic realm=\"dockside admin\"")];
        if self.token.is_some() {
            out.push(HeaderValue::from_static("Bearer realm=\"dockside admin\""));
        }
        out
    }

    /// One line for `dockside check` (the token itself is never shown).
    pub fn describe(&self, admin: Option<SocketAddr>) -> String {
        let Some(addr) = admin else {
            return "admin listener: off".to_owned();
        };
        let mut creds = Vec::new();
        if let Some(source) = &self.token_source {
            creds.push(format!("token from {source}"));
        }
        if let Some((path, _)) = &self.htpasswd {
            creds.push(format!(
                "users from DOCKSIDE_ADMIN_HTPASSWD={}",
                path.display()
            ));
        }
        let access = match (creds.is_empty(), addr.ip().is_loopback()) {
            (true, true) => "loopback only, no credential".to_owned(),
            (true, false) => {
                "not loopback and no credential: other addresses get /healthz only".to_owned()
            }
            (false, _) => format!("credential required ({})", creds.join(", ")),
        };
        let metrics = if self.metrics_open {
            "; /metrics open (DOCKSIDE_METRICS_OPEN)"
        } else {
            ""
        };
        format!("admin listener: {addr}, {access}{metrics}; /healthz open")
    }
}

/// `Bearer <token>`, or Basic with the token as the password (any user name), compared in
/// constant time.
fn presents_token(value: &HeaderValue, token: &str) -> bool {
    let Ok(text) = value.to_str() else {
        return false;
    };
    let Some((scheme, rest)) = text.trim().split_once([' ', '\t']) else {
        return false;
    };
    let rest = rest.trim_start();
    if scheme.eq_ignore_ascii_case("bearer") {
        return verify_slices_are_equal(rest.as_bytes(), token.as_bytes()).is_ok();
    }
    if !scheme.eq_ignore_ascii_case("basic") {
        return false;
    }
    use base64::Engine;
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(rest) else {
        return false;
    };
    let decoded = zeroize::Zeroizing::new(decoded);
    let Some(colon) = decoded.iter().position(|&b| b == b':') else {
        return false;
    };
    verify_slices_are_equal(&decoded[colon + 1..], token.as_bytes()).is_ok()
}

/// A token must be header text (it travels in `Authorization`) and long enough not to guess.
fn checked_token(token: &str, source: &str) -> Result<String, String> {
    if token.len() < 16 || !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(format!(
            "{source}: the admin token must be at least 16 printable ASCII characters without spaces (e.g. `openssl rand -hex 32`)"
        ));
    }
    Ok(token.to_owned())
}

fn htpasswd(path: &Path) -> Result<(PathBuf, Arc<Authenticator>), String> {
    let name = format!("DOCKSIDE_ADMIN_HTPASSWD={}", path.display());
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("{name}: cannot read it ({e})"))?;
    let users = parse_htpasswd(&text, &name)?;
    if users.is_empty() {
        return Err(format!("{name}: no users in the file"));
    }
    let auth = BasicAuth {
        realm: REALM.to_owned(),
        users,
    };
    Ok((path.to_owned(), Arc::new(Authenticator::new(&auth))))
}

/// The admin listener's gate for one request: `None` lets it through, else the refusal to
/// send (a 401 carries the challenges).
pub(crate) async fn admit<B>(
    auth: &Arc<AdminAuth>,
    req: &http::Request<B>,
    peer: SocketAddr,
) -> Option<http::Response<crate::exchange::ProxyBody>> {
    let gate = match auth.gate(req.uri().path(), req.headers(), peer) {
        Some(gate) => gate,
        None => {
            let (auth, headers) = (auth.clone(), req.headers().clone());
            tokio::task::spawn_blocking(move || auth.verify(&headers, peer))
                .await
                .unwrap_or(Gate::Challenge)
        }
    };
    let body = match &gate {
        Gate::Allow => return None,
        Gate::Challenge => {
            "a credential is required: Authorization: Bearer <DOCKSIDE_ADMIN_TOKEN>, or Basic auth\n"
        }
        Gate::Forbidden(why) => why,
        Gate::Throttled => "too many failed logins from this address: wait a minute\n",
    };
    if !matches!(gate, Gate::Challenge) {
        tracing::debug!(%peer, path = req.uri().path(), "admin listener refused a request: {}", body.trim_end());
    }
    let mut resp = http::Response::builder()
        .status(status(&gate))
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8");
    if gate == Gate::Challenge {
        for challenge in auth.challenges() {
            resp = resp.header(header::WWW_AUTHENTICATE, challenge);
        }
    }
    if gate == Gate::Throttled {
        resp = resp.header(header::RETRY_AFTER, "60");
    }
    Some(resp.body(crate::exchange::full(body)).unwrap_or_default())
}

/// The status of a refusal.
pub fn status(gate: &Gate) -> StatusCode {
    match gate {
        Gate::Allow => StatusCode::OK,
        Gate::Challenge => StatusCode::UNAUTHORIZED,
        Gate::Forbidden(_) => StatusCode::FORBIDDEN,
        Gate::Throttled => StatusCode::TOO_MANY_REQUESTS,
    }
}

#[cfg(test)]
#[path = "auth_tests.rs"]
mod tests;
