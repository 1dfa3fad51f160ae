//! The one snapshot the data plane reads: the route table, the certificate map, and what they
//! decide together — which sites have a usable certificate (`cert_ok`, for the HTTPS policy) and
//! which certificate answers an SNI (for the handshake). One [`Snapshot`] per (route table,
//! certificate map) pair, held in ONE `ArcSwap` by [`Live`] and rebuilt whenever either input
//! changes, so a request or a handshake does one atomic load and never sees routes of one
//! moment with certificates judged against another's.
//!
//! Rules (nginx-proxy §1.6.7, §1.6.8): a known site (exact, wildcard, regex, else the
//! `DEFAULT_HOST` site) with `cert_ok` gets its certificate; a known site without one is refused
//! (`ssl_reject_handshake on` in its server block — with `TRUST_DEFAULT_CERT` selection already
//! picked `default`). An unknown name (no SNI, no site, or a site with `HTTPS_METHOD=nohttps`)
//! gets `default.crt` when it exists (the HTTP layer answers 503), else the handshake is refused
//! with `unrecognized_name`. Never another site's certificate.
//!
//! With on-demand TLS (`ON_DEMAND_TLS`), an SNI that no site matches by its own name is served
//! its own certificate when the directory has one (`<sni>.crt`), with the `DEFAULT_HOST` site's
//! policy (requests for it route there); without one, the decision is [`Decision::OnDemand`] and
//! the acceptor asks `acme::OnDemand` for a certificate. Names a site matches never get there.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use crate::certs::{CertEntry, CertMap};
use crate::model::HttpsMethod;
use crate::routing::{RouteTable, SiteRoute};
use crate::tls::client_auth::{self, ClientAuth};
use crate::tls::policy::{self, Policy};
use crate::tls::select::{self, Selection, SiteCertInputs};
use arc_swap::ArcSwap;

/// Per-site TLS facts, computed once per table build.
#[derive(Debug, Clone)]
pub struct SiteTls {
    pub selection: Selection,
    pub policy: Policy,
    pub http2: bool,
    /// Served over HTTP/3: the site asks for it and asks no client certificate (QUIC's one
    /// TLS config cannot pick a CA per SNI, so mTLS sites stay on TCP).
    pub http3: bool,
    /// The client-certificate check (mTLS) when a CA file applies; `None` asks for nothing.
    pub client_auth: Option<Arc<ClientAuth>>,
}

/// What to do with a ClientHello for a given SNI.
#[derive(Debug, Clone)]
pub enum Decision {
    /// Serve `cert` with this policy and ALPN. `site` is `None` when it is the default cert for an
    /// unknown name (the HTTP layer answers 503).
    Serve {
        cert: Arc<CertEntry>,
        policy: Policy,
        http2: bool,
        site: Option<String>,
        /// The site's client-certificate check; `None` (every site without a CA file, and
        /// `default.crt`) uses the shared configs.
        client_auth: Option<Arc<ClientAuth>>,
    },
    /// No certificate may be served: send `unrecognized_name`.
    Refuse,
    /// On-demand TLS is on and no site and no certificate has this SNI: a certificate may be
    /// obtained for it during the handshake (the acceptor decides again once it is live).
    OnDemand,
}

/// An immutable view joining routes and certificates, swapped as a whole.
#[derive(Debug)]
pub struct Snapshot {
    routes: Arc<RouteTable>,
    certs: Arc<CertMap>,
    /// Keyed by the `VIRTUAL_HOST` item (`SiteRoute::host`).
    sites: HashMap<String, SiteTls>,
    default_policy: Policy,
    default_http2: bool,
    /// Some site asks for client certificates (mTLS): only then are clients' copies of the
    /// `X-SSL-Client-*` headers removed on every request (a request pays nothing otherwise).
    client_auth_anywhere: bool,
    /// On-demand TLS (`ON_DEMAND_TLS`): unknown names may get certificates of their own.
    on_demand: bool,
}

impl Snapshot {
    /// Joins `routes` and `certs`; `defaults` gives the policy/ALPN used with `default.crt` for
    /// unknown names. Policy approximations are reported through `warn` (host, policy, applied).
    pub fn build(
        routes: Arc<RouteTable>,
        certs: Arc<CertMap>,
        defaults: (Policy, bool),
        warn: &mut dyn FnMut(&str, &str, Policy),
    ) -> Snapshot {
        let sites = routes
            .sites()
            .map(|site| {
                let mapping = policy::map(&site.ssl_policy);
                if let policy::Mapping::Nearest(p) = mapping {
                    warn(&site.host, &site.ssl_policy, p);
                }
                let selection = select::select(inputs(site), &certs);
                let vh = crate::settings::nginx::file_host(&site.host);
                let client_auth =
                    client_auth::select(site.ssl_verify_client, &vh, certs.client_cas());
                let tls = SiteTls {
                    selection,
                    policy: mapping.policy(),
                    http2: site.http2,
                    http3: site.http3 && client_auth.is_none(),
                    client_auth,
                };
                (site.host.clone(), tls)
            })
            .collect::<HashMap<String, SiteTls>>();
        let client_auth_anywhere = sites.values().any(|t| t.client_auth.is_some());
        Snapshot {
            routes,
            certs,
            sites,
            default_policy: defaults.0,
            default_http2: defaults.1,
            client_auth_anywhere,
            on_demand: false,
        }
    }

    /// The route table this view was built from (same snapshot as the certificates).
    pub fn routes(&self) -> &Arc<RouteTable> {
        &self.routes
    }

    /// Whether any site asks for client certificates (`X-SSL-Client-*` are then dockside's own).
    pub fn client_auth_anywhere(&self) -> bool {
        self.client_auth_anywhere
    }

    /// The certificate map this view was built from.
    pub fn certs(&self) -> &Arc<CertMap> {
        &self.certs
    }

    /// nginx-proxy's `cert_ok` for a site: decides `ENABLE_HTTP_ON_MISSING_CERT` and redirects.
    pub fn cert_ok(&self, site: &SiteRoute) -> bool {
        self.site_tls(site).is_some_and(|t| t.selection.cert_ok())
    }

    /// Selection, policy and ALPN for a site of this table's route snapshot.
    pub fn site_tls(&self, site: &SiteRoute) -> Option<&SiteTls> {
        self.sites.get(&site.host)
    }

    /// The decision for a ClientHello's SNI (`None`: the client sent none) on the default HTTPS
    /// listener (`extra` is `None`) or on an extra `EXTERNAL_HTTPS_PORT` one: only the sites
    /// served there are known.
    pub fn decide(&self, extra: Option<u16>, sni: Option<&str>) -> Decision {
        let hosts = self.routes.hosts(true, extra);
        let own = hosts.and_then(|hosts| hosts.site(sni.unwrap_or("")));
        if own.is_none()
            && self.on_demand
            && extra.is_none()
            && let Some(name) = sni
        {
            return self.decide_on_demand(hosts.and_then(|h| h.default_site()), name);
        }
        // No SNI goes where an unknown name goes: the DEFAULT_HOST site (nginx `default_server`).
        let site = own
            .or_else(|| hosts.and_then(|h| h.default_site()))
            .filter(|s| s.https_method != HttpsMethod::NoHttps);
        self.decide_for(site, |_| true)
    }

    /// What `decide` answers for `sni` without on-demand TLS: the `DEFAULT_HOST` site's
    /// certificate, `default.crt`, or a refusal. For a name on-demand TLS refused.
    #[cold]
    pub fn decide_without_on_demand(&self, extra: Option<u16>, sni: Option<&str>) -> Decision {
        let hosts = self.routes.hosts(true, extra);
        let site = hosts
            .and_then(|hosts| hosts.lookup(sni.unwrap_or("")))
            .filter(|s| s.https_method != HttpsMethod::NoHttps);
        self.decide_for(site, |_| true)
    }

    /// An SNI no site matches, with on-demand TLS on: its own certificate (obtained on demand
    /// earlier, or put there by hand) with the `DEFAULT_HOST` site's TLS facts, where its
    /// requests go; else [`Decision::OnDemand`]. Kept out of `decide` so a known name's path
    /// stays as it was.
    #[cold]
    fn decide_on_demand(&self, default: Option<&Arc<SiteRoute>>, name: &str) -> Decision {
        let Some(cert) = self.certs.get(name).filter(|c| c.covers(name)) else {
            return Decision::OnDemand;
        };
        let default = default
            .filter(|s| s.https_method != HttpsMethod::NoHttps)
            .and_then(|s| Some((s, self.sites.get(&s.host)?)));
        match default {
            Some((site, tls)) => Decision::Serve {
                cert: cert.clone(),
                policy: tls.policy,
                http2: tls.http2,
                site: Some(site.host.clone()),
                client_auth: tls.client_auth.clone(),
            },
            // No DEFAULT_HOST site: the HTTP layer answers 503, as for any unknown name.
            None => Decision::Serve {
                cert: cert.clone(),
                policy: self.default_policy,
                http2: self.default_http2,
                site: None,
                client_auth: None,
            },
        }
    }

    /// The decision for a QUIC ClientHello (HTTP/3, default HTTPS port only): a site that is not
    /// served over HTTP/3 counts as an unknown name, as in nginx, where only the server blocks
    /// of HTTP/3 sites listen on the QUIC socket (`default.crt`, else refused).
    ///
    /// With on-demand TLS, a name no site matches gets its own certificate when it has one and
    /// the `DEFAULT_HOST` site (where its requests go, and whose answers over TLS advertise
    /// HTTP/3) is served over HTTP/3.
    pub fn decide_h3(&self, sni: Option<&str>) -> Decision {
        let hosts = self.routes.hosts(true, None);
        let own = hosts.and_then(|hosts| hosts.site(sni.unwrap_or("")));
        let site = own
            .or_else(|| hosts.and_then(|h| h.default_site()))
            .filter(|s| s.https_method != HttpsMethod::NoHttps);
        if own.is_none()
            && self.on_demand
            && let Some(name) = sni
        {
            return self.decide_h3_on_demand(site, name);
        }
        self.decide_for(site, |tls| tls.http3)
    }

    #[cold]
    fn decide_h3_on_demand(&self, default: Option<&Arc<SiteRoute>>, name: &str) -> Decision {
        let h3 = default
            .and_then(|s| self.sites.get(&s.host))
            .is_some_and(|tls| tls.http3);
        match self.decide_on_demand(default, name) {
            served @ Decision::Serve { .. } if h3 => served,
            _ => self.decide_for(default, |tls| tls.http3),
        }
    }

    /// Whether `site` is served over HTTP/3 (its answers over TLS then carry `alt-svc`).
    pub fn http3(&self, site: &SiteRoute) -> bool {
        self.site_tls(site).is_some_and(|t| t.http3)
    }

    #[inline]
    fn decide_for(
        &self,
        site: Option<&Arc<SiteRoute>>,
        served: impl Fn(&SiteTls) -> bool,
    ) -> Decision {
        if let Some(site) = site
            && let Some(tls) = self.sites.get(&site.host)
            && served(tls)
        {
            return match &tls.selection.cert {
                Some(cert) => Decision::Serve {
                    cert: cert.clone(),
                    policy: tls.policy,
                    http2: tls.http2,
                    site: Some(site.host.clone()),
                    client_auth: tls.client_auth.clone(),
                },
                // nginx-proxy: `ssl_reject_handshake on` in the site's own server block.
                None => Decision::Refuse,
            };
        }
        match self.certs.default_cert() {
            Some(cert) => Decision::Serve {
                cert: cert.clone(),
                policy: self.default_policy,
                http2: self.default_http2,
                site: None,
                client_auth: None,
            },
            None => Decision::Refuse,
        }
    }
}

fn inputs(site: &SiteRoute) -> SiteCertInputs<'_> {
    SiteCertInputs {
        host: &site.host,
        cert_name: site.cert_name.as_deref(),
        trust_default_cert: site.trust_default_cert,
    }
}

struct Inputs {
    routes: Arc<RouteTable>,
    certs: Arc<CertMap>,
    /// (host, policy) pairs already warned about, so a rebuild does not repeat the warning.
    warned: HashSet<(String, String)>,
    /// On-demand TLS is on (set once at start, see [`Live::enable_on_demand`]).
    on_demand: bool,
}

/// Owner of the one `ArcSwap<Snapshot>`. The route publisher calls [`Live::set_routes`], the
/// certificate watcher [`Live::set_certs`]; a mutex serializes the rebuilds so two updates
/// racing can never publish a table missing one of them.
pub struct Live {
    inputs: Mutex<Inputs>,
    table: ArcSwap<Snapshot>,
    defaults: (Policy, bool),
    /// Whether TLS is served at all: without it, `SSL_POLICY` values are not judged (and not
    /// warned about).
    tls: bool,
}

impl std::fmt::Debug for Live {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Live").field("table", &self.table).finish()
    }
}

impl Live {
    /// `default_policy` (global `SSL_POLICY`) and `default_http2` (`ENABLE_HTTP2`) apply to
    /// connections served with `default.crt`.
    pub fn new(
        routes: Arc<RouteTable>,
        certs: Arc<CertMap>,
        default_policy: &str,
        default_http2: bool,
    ) -> Arc<Live> {
        let mapping = policy::map(default_policy);
        if let policy::Mapping::Nearest(p) = mapping {
            policy::warn_nearest("(global)", default_policy, p);
        }
        Live::with(routes, certs, (mapping.policy(), default_http2), true)
    }

    /// With HTTPS off: no certificate, so every site is served over HTTP (`cert_ok` is false),
    /// and no `SSL_POLICY` is judged.
    pub fn http_only(routes: Arc<RouteTable>) -> Arc<Live> {
        let defaults = (Policy::Intermediate, false);
        Live::with(routes, Arc::new(CertMap::default()), defaults, false)
    }

    fn with(
        routes: Arc<RouteTable>,
        certs: Arc<CertMap>,
        defaults: (Policy, bool),
        tls: bool,
    ) -> Arc<Live> {
        let mut warned = HashSet::new();
        let table = build(&routes, &certs, defaults, tls.then_some(&mut warned));
        Arc::new(Live {
            inputs: Mutex::new(Inputs {
                routes,
                certs,
                warned,
                on_demand: false,
            }),
            table: ArcSwap::from_pointee(table),
            defaults,
            tls,
        })
    }

    /// The current view: one atomic load per handshake or request.
    pub fn load(&self) -> Arc<Snapshot> {
        self.table.load_full()
    }

    /// Turns on-demand TLS on: unknown names may then get certificates of their own
    /// ([`Decision::OnDemand`]). Called once at start, before anything is served.
    pub fn enable_on_demand(&self) {
        self.update(|inputs| inputs.on_demand = true);
    }

    /// Publishes a new route table.
    pub fn set_routes(&self, routes: Arc<RouteTable>) {
        self.update(|inputs| inputs.routes = routes);
    }

    /// Publishes a new certificate map (the watcher calls this only when the map changed).
    pub fn set_certs(&self, certs: Arc<CertMap>) {
        self.update(|inputs| inputs.certs = certs);
    }

    fn update(&self, change: impl FnOnce(&mut Inputs)) {
        let mut inputs = self.inputs.lock().unwrap_or_else(|p| p.into_inner());
        change(&mut inputs);
        let Inputs {
            routes,
            certs,
            warned,
            on_demand,
        } = &mut *inputs;
        let started = std::time::Instant::now();
        let mut table = build(routes, certs, self.defaults, self.tls.then_some(warned));
        table.on_demand = *on_demand;
        let sites = table.sites.len();
        self.table.store(Arc::new(table));
        // One pass over every site per change: with 10,000 sites, see docs/benchmarks.md.
        tracing::debug!(
            sites,
            ms = started.elapsed().as_secs_f64() * 1000.0,
            "live snapshot rebuilt"
        );
    }
}

fn build(
    routes: &Arc<RouteTable>,
    certs: &Arc<CertMap>,
    defaults: (Policy, bool),
    mut warned: Option<&mut HashSet<(String, String)>>,
) -> Snapshot {
    // `None`: TLS is off, nothing to warn about.
    let mut warn = |host: &str, name: &str, applied: Policy| {
        if let Some(warned) = warned.as_deref_mut()
            && warned.insert((host.to_owned(), name.to_owned()))
        {
            policy::warn_nearest(host, name, applied);
        }
    };
    Snapshot::build(routes.clone(), certs.clone(), defaults, &mut warn)
}

#[cfg(test)]
#[path = "live_tests.rs"]
mod tests;
