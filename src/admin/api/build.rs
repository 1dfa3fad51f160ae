//! Builds the admin model from the snapshots dockside already keeps. Pure: every input arrives
//! as a plain value (the caller copies the shared state once), so it is tested on tables.

use std::collections::BTreeMap;

use super::model::*;
use super::settings::{settings, source_kind};
use crate::acme::CertStatus;
use crate::discovery::ProviderView;
use crate::live::Snapshot;
use crate::model::{Backend, BackendAddr, Balance, DesiredState, Health, Severity, Skipped};
use crate::routing::{Action, SiteRoute};

/// The ACME reconciler's numbers at one moment.
#[derive(Debug, Clone, Default)]
pub(crate) struct AcmeInput {
    pub started: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub certificates: BTreeMap<String, CertStatus>,
    /// The shared store's health and this replica's name (`--store`).
    pub store: Option<(crate::store::StoreHealth, String)>,
}

/// Everything the model is built from, copied out of the shared state by the caller.
pub(crate) struct Inputs<'a> {
    pub state: &'a DesiredState,
    pub live: &'a Snapshot,
    /// `None` when ACME is off.
    pub acme: Option<&'a AcmeInput>,
    pub providers: &'a ProviderView,
    /// Backends passive health skips right now.
    pub down: &'a [BackendAddr],
    /// Recent traffic per site (`VIRTUAL_HOST` item); empty without a traffic source.
    pub traffic: &'a BTreeMap<String, Traffic>,
    /// Unix seconds.
    pub now: i64,
}

/// The whole model for one page, scrape or API answer.
pub(crate) fn overview(inputs: &Inputs<'_>) -> Overview {
    Overview {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        generated_at: inputs.now,
        sites: sites(inputs),
        certificates: certificates(inputs),
        acme: acme(inputs.acme),
        unrouted: unrouted(inputs.state, &inputs.live.routes().rejected),
        docker: docker(inputs.providers),
        reloads: ReloadsView {
            routes_file_ok: inputs.providers.routes_reloads.ok,
            routes_file_failed: inputs.providers.routes_reloads.failed,
            routes_file_error: inputs.providers.routes_error.clone(),
            nginx_files_ok: inputs.providers.nginx_files_reloads.ok,
        },
    }
}

/// Every site of the desired state, joined with its route (when served) and its certificate.
pub(crate) fn sites(inputs: &Inputs<'_>) -> Vec<SiteView> {
    let table = inputs.live.routes();
    let rejected: BTreeMap<&str, &str> = table
        .rejected
        .iter()
        .map(|(h, w)| (h.as_str(), w.as_str()))
        .collect();
    inputs
        .state
        .sites
        .iter()
        .map(|site| {
            let route = table.sites().find(|r| r.host == site.host);
            let certificate = route
                .and_then(|r| inputs.live.site_tls(r))
                .and_then(|t| t.selection.cert.as_ref())
                .map(|c| c.name.clone());
            SiteView {
                host: site.host.clone(),
                served: route.is_some(),
                not_served: match route {
                    Some(_) => None,
                    None => Some(
                        rejected
                            .get(site.host.as_str())
                            .map_or("not in the route table", |w| w)
                            .to_owned(),
                    ),
                },
                sources: site.sources.clone(),
                certificate,
                traffic: inputs.traffic.get(&site.host).copied(),
                locations: route.map_or_else(Vec::new, |r| locations(r, inputs.down)),
                settings: route.map_or_else(Vec::new, |r| settings(site, r)),
            }
        })
        .collect()
}

fn locations(route: &SiteRoute, down: &[BackendAddr]) -> Vec<LocationView> {
    route
        .locations
        .iter()
        .map(|loc| match &loc.action {
            Action::Forward(up) => {
                let healthy = up.backends.iter().map(|b| (b, true));
                let excluded = up.excluded.iter().map(|b| (b, false));
                LocationView {
                    path: loc.raw_path.clone(),
                    dest: loc.dest.clone(),
                    proto: up.proto.as_str().to_owned(),
                    balance: balance(up.balance),
                    returns: None,
                    backends: healthy
                        .chain(excluded)
                        .map(|(b, routed)| backend(b, routed, down))
                        .collect(),
                }
            }
            Action::Return(r) => LocationView {
                path: loc.raw_path.clone(),
                dest: loc.dest.clone(),
                proto: "return".to_owned(),
                balance: balance(Balance::RoundRobin),
                returns: Some(r.status.as_u16()),
                backends: Vec::new(),
            },
        })
        .collect()
}

fn balance(b: Balance) -> String {
    b.to_string()
}

fn backend(b: &Backend, routed: bool, down: &[BackendAddr]) -> BackendView {
    let passive_down = down.contains(&b.addr);
    BackendView {
        address: b.addr.to_string(),
        source: b.source.clone(),
        health: health(b.health).to_owned(),
        passive_down,
        eligible: routed && !passive_down,
    }
}

fn health(h: Health) -> &'static str {
    match h {
        Health::None => "none",
        Health::Starting => "starting",
        Health::Healthy => "healthy",
        Health::Unhealthy => "unhealthy",
    }
}

/// Every certificate in the directory, with where it comes from.
pub(crate) fn certificates(inputs: &Inputs<'_>) -> Vec<CertificateView> {
    let acme = inputs.acme.map(|a| &a.certificates);
    inputs
        .live
        .certs()
        .entries()
        .map(|c| CertificateView {
            name: c.name.clone(),
            names: c.names.to_vec(),
            issuer: c
                .key
                .cert
                .first()
                .and_then(|der| crate::certs::issuer_dn(der)),
            not_after: c.not_after,
            expires_in_seconds: c.not_after - inputs.now,
            source: cert_source(&c.name, acme).to_owned(),
        })
        .collect()
}

/// `default` for `default.crt`, `acme` for a certificate the reconciler keeps, else `file`.
pub(crate) fn cert_source(name: &str, acme: Option<&BTreeMap<String, CertStatus>>) -> &'static str {
    if name == "default" {
        "default"
    } else if acme.is_some_and(|a| a.contains_key(name)) {
        "acme"
    } else {
        "file"
    }
}

pub(crate) fn acme(input: Option<&AcmeInput>) -> AcmeView {
    let Some(a) = input else {
        return AcmeView {
            enabled: false,
            orders_started: 0,
            orders_succeeded: 0,
            orders_failed: 0,
            certificates: Vec::new(),
            store: None,
        };
    };
    AcmeView {
        enabled: true,
        orders_started: a.started,
        orders_succeeded: a.succeeded,
        orders_failed: a.failed,
        certificates: a
            .certificates
            .iter()
            .map(|(name, status)| acme_certificate(name, status))
            .collect(),
        store: a.store.as_ref().map(|(h, replica)| StoreView {
            endpoints: h.endpoints.clone(),
            replica: replica.clone(),
            reachable: h.reachable,
            since: h
                .since
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64),
            error: h.error.clone(),
        }),
    }
}

fn acme_certificate(name: &str, status: &CertStatus) -> AcmeCertificate {
    let mut c = AcmeCertificate {
        name: name.to_owned(),
        state: String::new(),
        not_after: None,
        renew_at: None,
        retry_in_seconds: None,
        failures: 0,
        last_error: None,
    };
    match status {
        CertStatus::Valid {
            not_after,
            renew_at,
        } => {
            c.state = "valid".into();
            c.not_after = Some(*not_after);
            c.renew_at = Some(*renew_at);
        }
        CertStatus::Ordering => c.state = "ordering".into(),
        CertStatus::Deferred { retry_in } => {
            c.state = "deferred".into();
            c.retry_in_seconds = Some(retry_in.as_secs());
        }
        CertStatus::Waiting { reason, retry_in } => {
            c.state = "waiting".into();
            c.last_error = Some(reason.clone());
            c.retry_in_seconds = Some(retry_in.as_secs());
        }
        CertStatus::Failed {
            error,
            failures,
            retry_in,
        } => {
            c.state = "failed".into();
            c.last_error = Some(error.clone());
            c.failures = *failures;
            c.retry_in_seconds = Some(retry_in.as_secs());
        }
    }
    c
}

/// Every item that is not routed (or only partly), then every site the route table refused.
pub(crate) fn unrouted(state: &DesiredState, rejected: &[(String, String)]) -> Vec<Unrouted> {
    let skipped = state.skipped.iter().map(|s: &Skipped| Unrouted {
        kind: source_kind(&s.source).to_owned(),
        class: class(source_kind(&s.source), &s.reason).to_owned(),
        source: s.source.clone(),
        hosts: s.hosts.clone(),
        reason: s.reason.clone(),
        severity: match s.severity {
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
        .to_owned(),
    });
    let sites = rejected.iter().map(|(host, why)| Unrouted {
        source: host.clone(),
        hosts: vec![host.clone()],
        kind: "site".to_owned(),
        reason: format!("not served: {why}"),
        severity: "warning".to_owned(),
        class: "site_rejected".to_owned(),
    });
    skipped.chain(sites).collect()
}

/// A bounded class for a skip reason, so `/metrics` labels stay few whatever the text says.
pub(crate) fn class(kind: &str, reason: &str) -> &'static str {
    if kind == "nginx file" {
        "file_directive"
    } else if reason.contains("no VIRTUAL_HOST") {
        "no_virtual_host"
    } else if reason.contains(" conflict on ") {
        "conflict"
    } else if reason.starts_with("no backend for ") {
        "unreachable"
    } else if reason.starts_with("skipped:") {
        "invalid_setting"
    } else {
        "other"
    }
}

/// Every class [`class`] can give, for documentation and tests.
pub(crate) const CLASSES: &[&str] = &[
    "no_virtual_host",
    "invalid_setting",
    "unreachable",
    "conflict",
    "site_rejected",
    "file_directive",
    "other",
];

pub(crate) fn docker(p: &ProviderView) -> DockerState {
    match &p.docker {
        None => DockerState {
            enabled: false,
            endpoint: None,
            connected: false,
            last_error: None,
            events_seen: 0,
            last_full_sync: None,
            containers: 0,
            reconnects: 0,
        },
        Some(d) => DockerState {
            enabled: true,
            endpoint: Some(d.endpoint.clone()),
            connected: d.connected,
            last_error: d.last_error.clone(),
            events_seen: d.events_seen,
            last_full_sync: d.last_full_sync,
            containers: d.containers,
            reconnects: d.reconnects,
        },
    }
}
