//! Scrape time: the shards added up and written as OpenMetrics text through
//! `prometheus-client`'s encoder. Only sites and backends of the live snapshot are written.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use std::fmt::Error;
use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

use super::SiteTotals;
use super::backends::{Backends, IdlePool};
use super::cell::Histogram;
use super::labels::{DOWNSTREAMS, METHODS, REQUEST_SERIES, RequestLabels, STATUSES, UPSTREAMS};
use super::shard::{FAILURE_REASONS, LISTENERS, Shard, SiteCells};
use crate::live::Snapshot;
use crate::routing::Action;

/// The `site` label of requests no site took.
const UNROUTED: &str = "(none)";

/// Writes every family into `out` (no `# EOF`).
pub(super) fn write(
    out: &mut String,
    shards: &[Arc<Shard>],
    live: &Snapshot,
    backends: &Backends,
    pools: &[Arc<dyn IdlePool>],
) {
    let view = View {
        sites: sites(live),
        backends: backend_counts(live, backends, pools),
        shards: shards.to_vec(),
    };
    let mut registry = Registry::default();
    registry.register_collector(Box::new(view));
    if prometheus_client::encoding::text::encode_registry(out, &registry).is_err() {
        tracing::warn!("encoding /metrics failed");
    }
}

/// Requests and 5xx answers per live site.
#[allow(dead_code, reason = "sampled by the admin dashboard")]
pub(super) fn site_totals(shards: &[Arc<Shard>], live: &Snapshot) -> Vec<SiteTotals> {
    sites(live)
        .into_iter()
        .filter_map(|(site, id)| id.map(|id| (site, id)))
        .map(|(site, id)| {
            let (mut requests, mut errors_5xx) = (0, 0);
            for_site(shards, Some(id), |cells| {
                for (i, cell) in cells.requests.iter().enumerate() {
                    let n = cell.get();
                    requests += n;
                    if RequestLabels::of_index(i).status == 4 {
                        errors_5xx += n;
                    }
                }
            });
            SiteTotals {
                site: site.into_owned(),
                requests,
                errors_5xx,
            }
        })
        .collect()
}

/// The live sites as (label value, metrics id), sorted by host, then the unrouted requests.
fn sites(live: &Snapshot) -> Vec<(Cow<'static, str>, Option<u32>)> {
    live.routes()
        .sites()
        .map(|s| (Cow::Owned(s.host.to_string()), Some(s.metrics_id)))
        .chain([(Cow::Borrowed(UNROUTED), None)])
        .collect()
}

/// The failure counts and idle pooled connections of every backend some live location
/// forwards to.
fn backend_counts(
    live: &Snapshot,
    backends: &Backends,
    pools: &[Arc<dyn IdlePool>],
) -> Vec<BackendView> {
    let mut idle: HashMap<String, u64> = HashMap::new();
    for pool in pools {
        pool.idle_counts(&mut |addr, n| *idle.entry(addr.to_string()).or_default() += n as u64);
    }
    let names: BTreeSet<String> = live
        .routes()
        .sites()
        .flat_map(|s| s.locations.iter())
        .filter_map(|l| match &l.action {
            Action::Forward(up) => Some(up.backends.iter().chain(&up.excluded)),
            Action::Return(_) => None,
        })
        .flatten()
        .map(|b| b.addr.to_string())
        .collect();
    names
        .into_iter()
        .map(|name| BackendView {
            failures: backends.get(&name),
            idle: idle.get(&name).copied().unwrap_or(0),
            name: name.to_string(),
        })
        .collect()
}

/// One backend's numbers in a scrape.
#[derive(Debug)]
struct BackendView {
    name: String,
    /// `[connect failures, timeouts, ejections]`.
    failures: [u64; 3],
    idle: u64,
}

fn for_site(shards: &[Arc<Shard>], id: Option<u32>, mut f: impl FnMut(&SiteCells)) {
    for shard in shards {
        if let Some(cells) = shard.site(id) {
            f(cells);
        }
    }
}

/// What one scrape writes, gathered before encoding.
#[derive(Debug)]
struct View {
    sites: Vec<(Cow<'static, str>, Option<u32>)>,
    backends: Vec<BackendView>,
    shards: Vec<Arc<Shard>>,
}

impl Collector for View {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), Error> {
        self.requests(&mut encoder)?;
        self.histogram(&mut encoder, Latency::Request)?;
        self.histogram(&mut encoder, Latency::Upstream)?;
        self.bytes(&mut encoder)?;
        self.connections(&mut encoder)?;
        self.tls(&mut encoder)?;
        self.upstream_failures(&mut encoder)
    }
}

#[derive(Clone, Copy)]
enum Latency {
    Request,
    Upstream,
}

impl View {
    fn requests(&self, encoder: &mut DescriptorEncoder) -> Result<(), Error> {
        let mut family = encoder.encode_descriptor(
            "dockside_http_requests",
            "Requests answered, by site, method, status class, client protocol and upstream protocol.",
            None,
            MetricType::Counter,
        )?;
        let mut totals = vec![0u64; REQUEST_SERIES];
        for (site, id) in &self.sites {
            totals.iter_mut().for_each(|t| *t = 0);
            for_site(&self.shards, *id, |cells| {
                for (total, cell) in totals.iter_mut().zip(&cells.requests) {
                    *total += cell.get();
                }
            });
            for (i, n) in totals.iter().enumerate().filter(|(_, n)| **n > 0) {
                let l = RequestLabels::of_index(i);
                let labels = [
                    ("site", site.as_ref()),
                    ("method", METHODS[usize::from(l.method)]),
                    ("status", STATUSES[usize::from(l.status)]),
                    ("downstream", DOWNSTREAMS[usize::from(l.downstream)]),
                    ("upstream", UPSTREAMS[usize::from(l.upstream)]),
                ];
                ConstCounter::new(*n).encode(family.encode_family(&labels)?)?;
            }
        }
        Ok(())
    }

    fn histogram(&self, encoder: &mut DescriptorEncoder, which: Latency) -> Result<(), Error> {
        let (name, help) = match which {
            Latency::Request => (
                "dockside_http_request_duration_seconds",
                "Time from the request to the last byte of the response sent, by site.",
            ),
            Latency::Upstream => (
                "dockside_upstream_response_seconds",
                "Time from sending the request upstream to the response head, by site.",
            ),
        };
        let mut family = encoder.encode_descriptor(name, help, None, MetricType::Histogram)?;
        for (site, id) in &self.sites {
            let mut merged = Histogram::default();
            for_site(&self.shards, *id, |cells| match which {
                Latency::Request => cells.duration.merge_into(&mut merged),
                Latency::Upstream => cells.upstream_time.merge_into(&mut merged),
            });
            if merged.count() == 0 {
                continue;
            }
            let labels = [("site", site.as_ref())];
            family
                .encode_family(&labels)?
                .encode_histogram::<NoLabelSet>(
                    merged.sum_micros as f64 / 1e6,
                    merged.count(),
                    &merged.pairs(),
                    None,
                )?;
        }
        Ok(())
    }

    fn bytes(&self, encoder: &mut DescriptorEncoder) -> Result<(), Error> {
        let families = [
            (
                "dockside_http_received_bytes",
                "Request body bytes received from clients, by site.",
                true,
            ),
            (
                "dockside_http_sent_bytes",
                "Response body bytes sent to clients (as sent, not as declared), by site.",
                false,
            ),
        ];
        for (name, help, received) in families {
            let mut family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
            for (site, id) in &self.sites {
                let (mut n, mut seen) = (0, false);
                for_site(&self.shards, *id, |cells| {
                    let requests: u64 = cells.requests.iter().map(|c| c.get()).sum();
                    seen |= requests > 0;
                    n += if received {
                        cells.bytes_in.get()
                    } else {
                        cells.bytes_out.get()
                    };
                });
                if seen {
                    let labels = [("site", site.as_ref())];
                    ConstCounter::new(n).encode(family.encode_family(&labels)?)?;
                }
            }
        }
        Ok(())
    }

    fn connections(&self, encoder: &mut DescriptorEncoder) -> Result<(), Error> {
        let mut family = encoder.encode_descriptor(
            "dockside_client_connections",
            "Client connections open now, by listener kind.",
            None,
            MetricType::Gauge,
        )?;
        for (i, listener) in LISTENERS.iter().enumerate() {
            let (opened, closed) = self.shards.iter().fold((0u64, 0u64), |(o, c), s| {
                let (so, sc) = s.connections(i);
                (o + so, c + sc)
            });
            let open = i64::try_from(opened.saturating_sub(closed)).unwrap_or(i64::MAX);
            let labels = [("listener", *listener)];
            ConstGauge::new(open).encode(family.encode_family(&labels)?)?;
        }
        Ok(())
    }

    fn tls(&self, encoder: &mut DescriptorEncoder) -> Result<(), Error> {
        let ok: u64 = self.shards.iter().map(|s| s.handshakes()).sum();
        let family = encoder.encode_descriptor(
            "dockside_tls_handshakes",
            "TLS handshakes completed (TCP and QUIC).",
            None,
            MetricType::Counter,
        )?;
        ConstCounter::new(ok).encode(family)?;
        let mut family = encoder.encode_descriptor(
            "dockside_tls_handshake_failures",
            "TLS handshakes that failed, by reason.",
            None,
            MetricType::Counter,
        )?;
        for (i, reason) in FAILURE_REASONS.iter().enumerate() {
            let n: u64 = self.shards.iter().map(|s| s.failures(i)).sum();
            let labels = [("reason", *reason)];
            ConstCounter::new(n).encode(family.encode_family(&labels)?)?;
        }
        Ok(())
    }

    fn upstream_failures(&self, encoder: &mut DescriptorEncoder) -> Result<(), Error> {
        let families = [
            (
                "dockside_upstream_connect_failures",
                "Connections to a backend that failed or timed out, by backend.",
            ),
            (
                "dockside_upstream_timeouts",
                "Backend answers that did not come within the upstream timeout, by backend.",
            ),
            (
                "dockside_upstream_ejections",
                "Times passive health took a backend out of rotation, by backend.",
            ),
        ];
        for (i, (name, help)) in families.into_iter().enumerate() {
            let mut family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
            for backend in &self.backends {
                let labels = [("backend", backend.name.as_str())];
                ConstCounter::new(backend.failures[i]).encode(family.encode_family(&labels)?)?;
            }
        }
        let mut family = encoder.encode_descriptor(
            "dockside_upstream_idle_connections",
            "Idle keep-alive connections to a backend in the workers' pools, by backend.",
            None,
            MetricType::Gauge,
        )?;
        for backend in &self.backends {
            let labels = [("backend", backend.name.as_str())];
            let idle = i64::try_from(backend.idle).unwrap_or(i64::MAX);
            ConstGauge::new(idle).encode(family.encode_family(&labels)?)?;
        }
        Ok(())
    }
}
