//! The route table: an immutable snapshot built from a `DesiredState`, looked up once per request.

use std::collections::HashMap;
use std::sync::Arc;

use http::{HeaderValue, StatusCode};

use super::host::HostPattern;
use super::hosts::Hosts;
use super::path::{self, PathPattern};
use super::ports::{self, ExtraPort, ExtraPorts, ListenPorts, PortKind, SitePorts};
use super::upstream::Upstream;
use crate::model::{
    AcmeChallengeLocation, DesiredState, HttpsMethod, Policy, ServerTokens, Site, VerifyClient,
};
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
    /// `ENABLE_HTTP3`: every site is served over HTTP/3 unless its label says otherwise, and the
    /// QUIC endpoint is bound at start.
    pub http3: bool,
    pub non_get_redirect: u16,
    pub enable_http_on_missing_cert: bool,
    pub acme_http_challenge: AcmeChallengeLocation,
    /// `DEBUG_ENDPOINT`: `/nginx-proxy-debug` on every site unless its label says otherwise.
    pub debug_endpoint: bool,
    /// dockside's own listener ports, which sites' `EXTERNAL_*_PORT` are placed against.
    pub listen: ListenPorts,
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
            http3: false,
            non_get_redirect: 301,
            enable_http_on_missing_cert: true,
            acme_http_challenge: AcmeChallengeLocation::Enabled,
            debug_endpoint: false,
            listen: ListenPorts::default(),
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
    /// Served over HTTP/3 (label, else `ENABLE_HTTP3`): the QUIC endpoint takes its SNI and
    /// Host, and its answers over TLS carry `alt-svc` (one bool check per request).
    pub http3: bool,
    pub non_get_redirect: u16,
    pub enable_http_on_missing_cert: bool,
    pub acme_http_challenge: AcmeChallengeLocation,
    pub client_max_body_size: Option<u64>,
    /// `ssl_verify_client` (label, default `on`): applies only when a CA file exists for the site.
    pub ssl_verify_client: VerifyClient,
    /// The server-level policy, for answers no location gives (no `VIRTUAL_PATH` matched).
    pub policy: Option<Arc<SitePolicy>>,
    /// The extra port this site's HTTP server listens on instead of dockside's (`EXTERNAL_HTTP_PORT`).
    pub external_http_port: Option<u16>,
    /// The extra port of its TLS server (`EXTERNAL_HTTPS_PORT`), also where redirects point.
    pub external_https_port: Option<u16>,
    /// `SERVER_TOKENS`, as set (the debug endpoint and `dockside check` show it).
    pub server_tokens: Option<ServerTokens>,
    /// The `Server` header `SERVER_TOKENS` puts on every answer of this site; `None`: untouched.
    pub server_header: Option<HeaderValue>,
    /// Whether `/nginx-proxy-debug` answers (label, else `DEBUG_ENDPOINT`).
    pub debug_endpoint: bool,
    /// Where this site's counters are in each metrics shard: a dense id, kept by the host name
    /// across rebuilds (`RouteTable::metric_ids`), so a request finds its cells by index.
    pub metrics_id: u32,
}

impl SiteRoute {
    /// The location serving `path` (nginx precedence), if any.
    pub fn location(&self, path: &str) -> Option<&LocationRoute> {
        path::select(&self.patterns, path).map(|i| &self.locations[i])
    }

    fn build(
        site: &Site,
        defaults: &SiteDefaults,
        reuse: &Reuse<'_>,
        previous: Option<&SiteRoute>,
    ) -> Result<SiteRoute, String> {
        let pattern = HostPattern::parse(&site.host).map_err(|e| e.to_string())?;
        let policy = compile(&site.policy, &site.host, "", reuse)?;
        let mut locations = Vec::with_capacity(site.locations.len() + 1);
        for loc in &site.locations {
            let before = previous
                .and_then(|p| p.locations.iter().find(|l| l.raw_path == loc.path))
                .and_then(|l| match &l.action {
                    Action::Forward(up) => Some(up.as_ref()),
                    Action::Return(_) => None,
                });
            locations.push(LocationRoute {
                path: PathPattern::parse(&loc.path).map_err(|e| e.to_string())?,
                raw_path: loc.path.clone(),
                dest: loc.dest.clone(),
                action: Action::Forward(Arc::new(
                    Upstream::new(loc.proto, loc.backends.clone(), loc.keepalive)
                        .balanced(loc.balance)
                        .keeping_counts(before)
                        .rooted(site.root.as_deref()),
                )),
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
            http3: site.http3.unwrap_or(defaults.http3),
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
            // Placed against the listeners and the other sites by `RouteTable::rebuild`.
            external_http_port: None,
            external_https_port: None,
            server_tokens: site.server_tokens,
            server_header: site.server_tokens.map(server_header),
            debug_endpoint: site.debug_endpoint.unwrap_or(defaults.debug_endpoint),
            // Assigned by `RouteTable::rebuild`.
            metrics_id: 0,
        })
    }
}

/// nginx sends `Server: nginx/<version>` (`server_tokens on`) or `Server: nginx` (`off`).
fn server_header(tokens: ServerTokens) -> HeaderValue {
    match tokens {
        ServerTokens::On => {
            HeaderValue::from_static(concat!("dockside/", env!("CARGO_PKG_VERSION")))
        }
        ServerTokens::Off => HeaderValue::from_static("dockside"),
    }
}

/// The compiled policies of the table being replaced, by their spec (the first one in table
/// order for equal specs): an unchanged policy keeps its runtime state (verified credentials,
/// rate-limit buckets) across a rebuild for an unrelated change. Hashed: a scan of the list per
/// site made a rebuild of 10,000 sites with a policy each take 0.6 s (docs/benchmarks.md).
/// The previous table's compiled policies by what they were compiled from, gathered only once
/// a site that changed needs one: an update that compiles nothing does not pay a pass over
/// every site's policies.
struct Reuse<'a> {
    previous: &'a RouteTable,
    by_spec: std::cell::OnceCell<HashMap<&'a Policy, &'a Arc<SitePolicy>>>,
}

impl<'a> Reuse<'a> {
    fn new(previous: &'a RouteTable) -> Reuse<'a> {
        Reuse {
            previous,
            by_spec: std::cell::OnceCell::new(),
        }
    }

    fn get(&self, policy: &Policy) -> Option<&'a Arc<SitePolicy>> {
        let by_spec = self.by_spec.get_or_init(|| {
            let mut by_spec = HashMap::new();
            for kept in self
                .previous
                .sites()
                .flat_map(|s| s.locations.iter().map(|l| &l.policy).chain([&s.policy]))
                .flatten()
            {
                by_spec.entry(kept.spec()).or_insert(kept);
            }
            by_spec
        });
        by_spec.get(policy).copied()
    }
}

fn compile(
    policy: &Policy,
    host: &str,
    path: &str,
    reuse: &Reuse<'_>,
) -> Result<Option<Arc<SitePolicy>>, String> {
    if policy.is_empty() {
        return Ok(None);
    }
    if let Some(kept) = reuse.get(policy) {
        return Ok(Some(kept.clone()));
    }
    SitePolicy::compile(policy)
        .map(|p| p.map(Arc::new))
        .map_err(|why| format!("policy of {host}{path}: {why}"))
}

/// All sites, split by the listener that serves them (nginx `listen`): the default HTTP and
/// HTTPS listeners, and each extra port a site asked for. A request on a default listener only
/// ever looks at its own group.
#[derive(Debug, Default)]
pub struct RouteTable {
    /// The default listeners' sites, `[HTTP, HTTPS]`: indexed by `https as usize`, no branch.
    default: [Hosts; 2],
    /// The sites of each extra port (`EXTERNAL_HTTP_PORT` / `EXTERNAL_HTTPS_PORT`).
    extra: std::collections::HashMap<u16, Hosts>,
    /// The extra ports this table serves and who asked: what the extra listeners must be.
    pub extra_ports: ExtraPorts,
    /// Every compiled site once, sorted by host.
    all: Vec<Arc<SiteRoute>>,
    /// Sites that could not be compiled, with the reason (shown by `dockside check`).
    pub rejected: Vec<(String, String)>,
    /// Pages for answers that belong to no site (nginx-proxy's `errors/50x.html`).
    pub fallback_policy: Option<Arc<SitePolicy>>,
    /// Every host name a table of this process has served, with its metrics id: a name that
    /// leaves and comes back keeps its id, so ids stay dense and bounded by names, not churn.
    metric_ids: std::collections::HashMap<String, u32>,
    /// The state and defaults this table was compiled from (`update` only): the next update
    /// keeps the sites that compare equal.
    source: Option<(Arc<DesiredState>, SiteDefaults)>,
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
        RouteTable::assemble(state, defaults, previous, None)
    }

    /// As `rebuild`, and a site equal to the one `previous` was built from is not compiled
    /// again: its compiled route (upstream counts and health included) is kept as it is. What
    /// one changed container costs is then its own sites' compilation plus a comparison per
    /// site, not a compilation per site (docs/benchmarks.md, "10,000 sites"). The table keeps
    /// `state` (an `Arc`, no copy) for the next update to compare with.
    pub fn update(
        state: &Arc<DesiredState>,
        defaults: &SiteDefaults,
        previous: &RouteTable,
    ) -> RouteTable {
        let source = (state.clone(), defaults.clone());
        RouteTable::assemble(state, defaults, previous, Some(source))
    }

    fn assemble(
        state: &DesiredState,
        defaults: &SiteDefaults,
        previous: &RouteTable,
        source: Option<(Arc<DesiredState>, SiteDefaults)>,
    ) -> RouteTable {
        let reuse = Reuse::new(previous);
        let mut table = RouteTable {
            metric_ids: previous.metric_ids.clone(),
            ..RouteTable::default()
        };
        let fallback = Policy {
            error_pages: state.fallback_pages.clone(),
            ..Policy::default()
        };
        match compile(&fallback, "(unknown host)", "", &reuse) {
            Ok(policy) => table.fallback_policy = policy,
            Err(why) => table.rejected.push(("(fallback pages)".to_owned(), why)),
        }
        // The previous table's sites by host, for the in-flight counts of their upstreams, and
        // what they were compiled from when the defaults are the same.
        let before: HashMap<&str, &Arc<SiteRoute>> =
            previous.sites().map(|s| (s.host.as_str(), s)).collect();
        let compiled_from: HashMap<&str, &Arc<Site>> = match (&previous.source, &source) {
            (Some((last, then)), Some(_)) if then == defaults => {
                last.sites.iter().map(|s| (s.host.as_str(), s)).collect()
            }
            _ => HashMap::new(),
        };
        for site in &state.sites {
            let previous = before.get(site.host.as_str()).copied();
            let wanted = SitePorts {
                http: site.external_http_port,
                https: site.external_https_port,
            };
            let default = defaults.default_host.as_deref() == Some(site.host.as_str());
            if let Some(kept) = previous
                && compiled_from.get(site.host.as_str()) == Some(&site)
                && let Ok(placed) = ports::place(wanted, defaults.listen, &table.extra_ports)
                && (placed.http, placed.https)
                    == (kept.external_http_port, kept.external_https_port)
            {
                table.insert(kept, default);
                continue;
            }
            let built = SiteRoute::build(site, defaults, &reuse, previous.map(Arc::as_ref))
                .and_then(|route| {
                    let placed = ports::place(wanted, defaults.listen, &table.extra_ports)?;
                    Ok((route, placed))
                });
            let route = match built {
                Ok((mut route, placed)) => {
                    route.external_http_port = placed.http;
                    route.external_https_port = placed.https;
                    route.metrics_id = table.metrics_id(&site.host);
                    Arc::new(route)
                }
                Err(why) => {
                    table.rejected.push((site.host.clone(), why));
                    continue;
                }
            };
            table.insert(&route, default);
        }
        for hosts in table.default.iter_mut().chain(table.extra.values_mut()) {
            hosts.finish();
        }
        table.source = source;
        table
    }

    /// The metrics id of `host`: its old one, else the next free one.
    fn metrics_id(&mut self, host: &str) -> u32 {
        if let Some(id) = self.metric_ids.get(host) {
            return *id;
        }
        let id = u32::try_from(self.metric_ids.len()).unwrap_or(u32::MAX);
        self.metric_ids.insert(host.to_owned(), id);
        id
    }

    /// Files a site under the listeners it is served on.
    fn insert(&mut self, route: &Arc<SiteRoute>, default: bool) {
        let placed = [
            (route.external_http_port, PortKind::Http),
            (route.external_https_port, PortKind::Https),
        ];
        for (port, kind) in placed {
            match port {
                None => self.default[(kind == PortKind::Https) as usize].insert(route, default),
                Some(port) => {
                    self.extra.entry(port).or_default().insert(route, default);
                    self.extra_ports
                        .entry(port)
                        .or_insert_with(|| ExtraPort {
                            kind,
                            hosts: Vec::new(),
                        })
                        .hosts
                        .push(route.host.clone());
                }
            }
        }
        self.all.push(route.clone());
    }

    /// The sites of the listener a request came in on: a default one (`extra` is `None`;
    /// HTTP or HTTPS by `https`), or an extra port (`None` once no site asks for it).
    pub fn hosts(&self, https: bool, extra: Option<u16>) -> Option<&Hosts> {
        match extra {
            None => Some(&self.default[https as usize]),
            Some(port) => self.extra.get(&port),
        }
    }

    /// The default HTTP (`false`) or HTTPS (`true`) listener's sites.
    pub fn default_hosts(&self, https: bool) -> &Hosts {
        &self.default[https as usize]
    }

    /// Every compiled site once, for diagnostics and per-site facts (certificates).
    pub fn sites(&self) -> impl Iterator<Item = &Arc<SiteRoute>> {
        self.all.iter()
    }

    /// Whether some site asks for HTTP/3: the QUIC endpoint is bound once one does.
    pub fn http3_anywhere(&self) -> bool {
        self.all.iter().any(|s| s.http3)
    }
}

#[cfg(test)]
#[path = "table_tests.rs"]
mod tests;
