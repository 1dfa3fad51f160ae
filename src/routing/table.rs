//! The route table: an immutable snapshot built from a `DesiredState`, looked up once per request.

use std::sync::Arc;

use http::{HeaderValue, StatusCode};

use super::host::{HostPattern, normalize_host};
use super::path::{self, PathPattern};
use super::upstream::Upstream;
use crate::model::{AcmeChallengeLocation, DesiredState, HttpsMethod, Policy, Site, VerifyClient};
use crate::policy::SitePolicy;

/// The proxy container's own settings that give per-host values their defaults (nginx-proxy §1.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteDefaults {
    /// `DEFAULT_HOST`: the site that answers requests for unknown hosts.
    pub default_host: Option<String>,
    /// `DEFAULT_ROOT`: answer for hosts without a `/` location; `None` for `none`.
    pub default_root: Option<DefaultRoot>,
    pub https_method: HttpsMethod,
    /// `None` when `HSTS=off`.
    pub hsts: Option<String>,
    pub ssl_policy: String,
    pub trust_default_cert: bool,
    pub http2: bool,
    pub non_get_redirect: u16,
    pub enable_http_on_missing_cert: bool,
    pub acme_http_challenge: AcmeChallengeLocation,
}

impl Default for SiteDefaults {
    fn default() -> Self {
        SiteDefaults {
            default_host: None,
            default_root: Some(DefaultRoot {
                status: StatusCode::NOT_FOUND,
                text: None,
            }),
            https_method: HttpsMethod::Redirect,
            hsts: Some("max-age=31536000".to_owned()),
            ssl_policy: "Mozilla-Intermediate".to_owned(),
            trust_default_cert: true,
            http2: true,
            non_get_redirect: 301,
            enable_http_on_missing_cert: true,
            acme_http_challenge: AcmeChallengeLocation::Enabled,
        }
    }
}

/// nginx `return CODE [TEXT|URL]`, as `DEFAULT_ROOT` takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefaultRoot {
    pub status: StatusCode,
    /// A body, or for 3xx the `Location`.
    pub text: Option<String>,
}

impl DefaultRoot {
    /// Parses `DEFAULT_ROOT`; `none` disables the generated `/` location.
    pub fn parse(value: &str) -> Result<Option<DefaultRoot>, String> {
        let value = value.trim();
        if value.eq_ignore_ascii_case("none") {
            return Ok(None);
        }
        let (code, text) = match value.split_once(char::is_whitespace) {
            Some((c, t)) => (c, Some(t.trim().trim_matches('"').to_owned())),
            None => (value, None),
        };
        let status = code
            .parse::<u16>()
            .ok()
            .and_then(|c| StatusCode::from_u16(c).ok())
            .ok_or_else(|| format!("DEFAULT_ROOT={value:?}: expected `none` or `CODE [text or URL]`, e.g. `404` or `301 https://example.com/`"))?;
        Ok(Some(DefaultRoot { status, text }))
    }
}

/// What a matched location does.
#[derive(Debug)]
pub enum Action {
    Forward(Arc<Upstream>),
    /// The `DEFAULT_ROOT` answer.
    Return(DefaultRoot),
}

/// One location of a site, compiled.
#[derive(Debug)]
pub struct LocationRoute {
    pub path: PathPattern,
    /// `VIRTUAL_PATH` as the user wrote it (logs, diagnostics).
    pub raw_path: String,
    pub dest: String,
    pub action: Action,
    /// `None` when the location has no policy: the data plane skips every policy step.
    pub policy: Option<Arc<SitePolicy>>,
}

/// A site with every per-host setting resolved against the defaults.
#[derive(Debug)]
pub struct SiteRoute {
    pub host: String,
    pub pattern: HostPattern,
    pub locations: Vec<LocationRoute>,
    patterns: Vec<PathPattern>,
    pub https_method: HttpsMethod,
    /// `Strict-Transport-Security`, parsed once per table build (not per response); `None`
    /// when off or not a valid header value.
    pub hsts: Option<HeaderValue>,
    pub ssl_policy: String,
    pub cert_name: Option<String>,
    pub trust_default_cert: bool,
    pub http2: bool,
    pub non_get_redirect: u16,
    pub enable_http_on_missing_cert: bool,
    pub acme_http_challenge: AcmeChallengeLocation,
    pub client_max_body_size: Option<u64>,
    /// `ssl_verify_client` (label, default `on`): applies only when a CA file exists for the site.
    pub ssl_verify_client: VerifyClient,
    /// The server-level policy, for answers no location gives (no `VIRTUAL_PATH` matched).
    pub policy: Option<Arc<SitePolicy>>,
}

impl SiteRoute {
    /// The location serving `path` (nginx precedence), if any.
    pub fn location(&self, path: &str) -> Option<&LocationRoute> {
        path::select(&self.patterns, path).map(|i| &self.locations[i])
    }

    fn build(site: &Site, defaults: &SiteDefaults, reuse: &Reuse) -> Result<SiteRoute, String> {
        let pattern = HostPattern::parse(&site.host).map_err(|e| e.to_string())?;
        let policy = compile(&site.policy, &site.host, "", reuse)?;
        let mut locations = Vec::with_capacity(site.locations.len() + 1);
        for loc in &site.locations {
            locations.push(LocationRoute {
                path: PathPattern::parse(&loc.path).map_err(|e| e.to_string())?,
                raw_path: loc.path.clone(),
                dest: loc.dest.clone(),
                action: Action::Forward(Arc::new(Upstream::new(
                    loc.proto,
                    loc.backends.clone(),
                    loc.keepalive,
                ))),
                policy: compile(&loc.policy, &site.host, &loc.path, reuse)?,
            });
        }
        if let Some(root) = &defaults.default_root
            && !locations.iter().any(|l| l.path.is_root())
        {
            locations.push(LocationRoute {
                path: PathPattern::parse("/").expect("`/` is a valid prefix"),
                raw_path: "/".to_owned(),
                dest: String::new(),
                action: Action::Return(root.clone()),
                policy: policy.clone(),
            });
        }
        let hsts = match &site.hsts {
            Some(v) if v.eq_ignore_ascii_case("off") => None,
            Some(v) => Some(v.clone()),
            None => defaults.hsts.clone(),
        }
        .and_then(|v| HeaderValue::from_str(&v).ok());
        Ok(SiteRoute {
            host: site.host.clone(),
            pattern,
            patterns: locations.iter().map(|l| l.path.clone()).collect(),
            locations,
            https_method: site.https_method.unwrap_or(defaults.https_method),
            hsts,
            ssl_policy: site
                .ssl_policy
                .clone()
                .unwrap_or_else(|| defaults.ssl_policy.clone()),
            cert_name: site.cert_name.clone(),
            trust_default_cert: site
                .trust_default_cert
                .unwrap_or(defaults.trust_default_cert),
            http2: site.http2.unwrap_or(defaults.http2),
            non_get_redirect: site.non_get_redirect.unwrap_or(defaults.non_get_redirect),
            enable_http_on_missing_cert: site
                .enable_http_on_missing_cert
                .unwrap_or(defaults.enable_http_on_missing_cert),
            acme_http_challenge: site
                .acme_http_challenge
                .unwrap_or(defaults.acme_http_challenge),
            client_max_body_size: site.client_max_body_size,
            ssl_verify_client: site.ssl_verify_client.unwrap_or_default(),
            policy,
        })
    }
}

/// The compiled policies of the table being replaced: an unchanged policy keeps its runtime
/// state (verified credentials, rate-limit buckets) across a rebuild for an unrelated change.
type Reuse = Vec<Arc<SitePolicy>>;

fn compile(
    policy: &Policy,
    host: &str,
    path: &str,
    reuse: &Reuse,
) -> Result<Option<Arc<SitePolicy>>, String> {
    if policy.is_empty() {
        return Ok(None);
    }
    if let Some(kept) = reuse.iter().find(|p| p.spec() == policy) {
        return Ok(Some(kept.clone()));
    }
    SitePolicy::compile(policy)
        .map(|p| p.map(Arc::new))
        .map_err(|why| format!("policy of {host}{path}: {why}"))
}

/// All sites, grouped by match kind so a lookup follows nginx `server_name` precedence.
#[derive(Debug, Default)]
pub struct RouteTable {
    exact: std::collections::HashMap<String, Arc<SiteRoute>>,
    /// Leading wildcards, longest suffix first.
    leading: Vec<Arc<SiteRoute>>,
    /// Trailing wildcards, longest prefix first.
    trailing: Vec<Arc<SiteRoute>>,
    regex: Vec<Arc<SiteRoute>>,
    default_site: Option<Arc<SiteRoute>>,
    /// Sites that could not be compiled, with the reason (shown by `dockside check`).
    pub rejected: Vec<(String, String)>,
    /// Pages for answers that belong to no site (nginx-proxy's `errors/50x.html`).
    pub fallback_policy: Option<Arc<SitePolicy>>,
}

impl RouteTable {
    /// Compiles a snapshot. A site whose host or path does not compile is left out and listed
    /// in `rejected`; every other site is served.
    pub fn build(state: &DesiredState, defaults: &SiteDefaults) -> RouteTable {
        RouteTable::rebuild(state, defaults, &RouteTable::default())
    }

    /// As `build`, keeping the compiled policies of `previous` that did not change.
    pub fn rebuild(
        state: &DesiredState,
        defaults: &SiteDefaults,
        previous: &RouteTable,
    ) -> RouteTable {
        let reuse: Reuse = previous
            .sites()
            .flat_map(|s| s.locations.iter().map(|l| &l.policy).chain([&s.policy]))
            .flatten()
            .cloned()
            .collect();
        let mut table = RouteTable::default();
        let fallback = Policy {
            error_pages: state.fallback_pages.clone(),
            ..Policy::default()
        };
        match compile(&fallback, "(unknown host)", "", &reuse) {
            Ok(policy) => table.fallback_policy = policy,
            Err(why) => table.rejected.push(("(fallback pages)".to_owned(), why)),
        }
        for site in &state.sites {
            let route = match SiteRoute::build(site, defaults, &reuse) {
                Ok(r) => Arc::new(r),
                Err(why) => {
                    table.rejected.push((site.host.clone(), why));
                    continue;
                }
            };
            if defaults.default_host.as_deref() == Some(site.host.as_str()) {
                table.default_site = Some(route.clone());
            }
            match &route.pattern {
                HostPattern::Exact(name) => {
                    table.exact.insert(name.clone(), route.clone());
                }
                HostPattern::Leading { .. } => table.leading.push(route.clone()),
                HostPattern::Trailing(_) => table.trailing.push(route.clone()),
                HostPattern::Regex(_) => table.regex.push(route.clone()),
            }
        }
        let key = |r: &Arc<SiteRoute>| std::cmp::Reverse(r.host.len());
        table.leading.sort_by_key(key);
        table.trailing.sort_by_key(key);
        table
    }

    /// The site for a Host header (port and case ignored), without the `DEFAULT_HOST` fallback.
    pub fn site(&self, host_header: &str) -> Option<&Arc<SiteRoute>> {
        let host = normalize_host(host_header);
        if let Some(site) = self.exact.get(host.as_ref()) {
            return Some(site);
        }
        [&self.leading, &self.trailing, &self.regex]
            .into_iter()
            .flat_map(|group| group.iter())
            .find(|s| s.pattern.matches(&host))
    }

    /// The site for a Host header, falling back to `DEFAULT_HOST`; `None` means 503.
    pub fn lookup(&self, host_header: &str) -> Option<&Arc<SiteRoute>> {
        self.site(host_header).or(self.default_site.as_ref())
    }

    /// Every compiled site, for diagnostics.
    pub fn sites(&self) -> impl Iterator<Item = &Arc<SiteRoute>> {
        self.exact
            .values()
            .chain(&self.leading)
            .chain(&self.trailing)
            .chain(&self.regex)
    }
}

#[cfg(test)]
#[path = "table_tests.rs"]
mod tests;
