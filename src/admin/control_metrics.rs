//! The control-plane section of `/metrics`: certificates, ACME, the Docker connection, reloads
//! and skipped items, from the admin model at scrape time (nothing is counted on the request
//! path). Families only: the caller appends the data-plane section and the one `# EOF`.

use prometheus_client::encoding::text::encode_registry;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Registry, Unit};

use super::api::{CLASSES, Overview};

type Labels = Vec<(String, String)>;

/// The OpenMetrics content type `/metrics` answers with.
pub(crate) const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Writes the control-plane metric families of `view` to `out`, without the `# EOF` line.
/// Label values are bounded: certificate names (one per certificate file) and fixed words.
pub(crate) fn encode_control(view: &Overview, out: &mut String) {
    let mut registry = Registry::default();
    certificates(&mut registry, view);
    acme(&mut registry, view);
    docker(&mut registry, view);
    reloads(&mut registry, view);
    skipped(&mut registry, view);
    if let Err(e) = encode_registry(out, &registry) {
        tracing::warn!("cannot encode the control-plane metrics: {e}");
    }
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn gauge(registry: &mut Registry, name: &str, help: &str, unit: Option<Unit>, value: i64) {
    let g: Gauge = Gauge::default();
    g.set(value);
    match unit {
        Some(unit) => registry.register_with_unit(name, help, unit, g),
        None => registry.register(name, help, g),
    }
}

fn counter(registry: &mut Registry, name: &str, help: &str, value: u64) {
    let c: Counter = Counter::default();
    c.inc_by(value);
    registry.register(name, help, c);
}

fn certificates(registry: &mut Registry, view: &Overview) {
    let expiry = Family::<Labels, Gauge>::default();
    for c in &view.certificates {
        expiry
            .get_or_create(&labels(&[("certificate", &c.name), ("source", &c.source)]))
            .set(c.expires_in_seconds);
    }
    registry.register_with_unit(
        "dockside_certificate_expiry",
        "Seconds until the certificate's notAfter (negative once expired)",
        Unit::Seconds,
        expiry,
    );
}

fn acme(registry: &mut Registry, view: &Overview) {
    let a = &view.acme;
    gauge(
        registry,
        "dockside_acme_enabled",
        "Whether ACME is on",
        None,
        a.enabled.into(),
    );
    counter(
        registry,
        "dockside_acme_orders_started",
        "ACME orders started",
        a.orders_started,
    );
    let orders = Family::<Labels, Counter>::default();
    orders
        .get_or_create(&labels(&[("outcome", "succeeded")]))
        .inc_by(a.orders_succeeded);
    orders
        .get_or_create(&labels(&[("outcome", "failed")]))
        .inc_by(a.orders_failed);
    registry.register("dockside_acme_orders", "ACME orders by outcome", orders);
    let renewal = Family::<Labels, Gauge>::default();
    let state = Family::<Labels, Gauge>::default();
    for c in &a.certificates {
        if let Some(at) = c.renew_at {
            renewal
                .get_or_create(&labels(&[("certificate", &c.name)]))
                .set(at);
        }
        for s in ["valid", "ordering", "deferred", "waiting", "failed"] {
            state
                .get_or_create(&labels(&[("certificate", &c.name), ("state", s)]))
                .set((c.state == s).into());
        }
    }
    registry.register_with_unit(
        "dockside_acme_next_renewal_timestamp",
        "Unix time the certificate's renewal is due",
        Unit::Seconds,
        renewal,
    );
    registry.register(
        "dockside_acme_certificate_state",
        "1 for the state each wanted certificate is in",
        state,
    );
}

fn docker(registry: &mut Registry, view: &Overview) {
    let d = &view.docker;
    gauge(
        registry,
        "dockside_docker_enabled",
        "Whether Docker discovery runs",
        None,
        d.enabled.into(),
    );
    gauge(
        registry,
        "dockside_docker_connected",
        "Whether the Docker engine connection is up",
        None,
        d.connected.into(),
    );
    counter(
        registry,
        "dockside_docker_events",
        "Docker engine events received",
        d.events_seen,
    );
    counter(
        registry,
        "dockside_docker_connection_failures",
        "Docker engine connections that failed or ended",
        d.reconnects,
    );
    gauge(
        registry,
        "dockside_docker_containers",
        "Containers in the last list",
        None,
        d.containers as i64,
    );
    if let Some(at) = d.last_full_sync {
        gauge(
            registry,
            "dockside_docker_last_full_sync_timestamp",
            "Unix time of the last full container list",
            Some(Unit::Seconds),
            at,
        );
    }
}

fn reloads(registry: &mut Registry, view: &Overview) {
    let r = &view.reloads;
    let family = Family::<Labels, Counter>::default();
    for (source, result, n) in [
        ("routes_file", "ok", r.routes_file_ok),
        ("routes_file", "failed", r.routes_file_failed),
        ("nginx_files", "ok", r.nginx_files_ok),
    ] {
        family
            .get_or_create(&labels(&[("source", source), ("result", result)]))
            .inc_by(n);
    }
    registry.register(
        "dockside_config_reloads",
        "Reloads of the routes file and nginx-proxy's files, by result",
        family,
    );
}

fn skipped(registry: &mut Registry, view: &Overview) {
    let family = Family::<Labels, Gauge>::default();
    for class in CLASSES {
        let n = view.unrouted.iter().filter(|u| u.class == *class).count();
        family
            .get_or_create(&labels(&[("reason", class)]))
            .set(n as i64);
    }
    registry.register(
        "dockside_skipped_items",
        "Containers, routes-file entries, files and sites not routed, by reason",
        family,
    );
}

#[cfg(test)]
#[path = "control_metrics_tests.rs"]
mod tests;
