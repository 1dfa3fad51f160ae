//! Recent request and error rates per site for the dashboard, from cumulative counters. The
//! counters belong to the data plane (`crate::metrics`, wired in through [`TrafficSource`]); the
//! admin listener only samples them when a page or `/api` asks, keeps the last few samples and
//! divides, so nothing here runs per request.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::api::Traffic;

/// Cumulative per-site counters: `(site, requests, errors)`, where `site` is the
/// `VIRTUAL_HOST` item and errors are 5xx answers.
pub trait TrafficSource: Send + Sync {
    fn totals(&self) -> Vec<(String, u64, u64)>;
}

/// The data plane's per-site counters, merged over the worker shards at each sample.
impl TrafficSource for crate::metrics::Metrics {
    fn totals(&self) -> Vec<(String, u64, u64)> {
        self.site_totals()
            .into_iter()
            .map(|t| (t.site, t.requests, t.errors_5xx))
            .collect()
    }
}

/// Samples kept: enough for a rate over the last minute at the dashboard's refresh.
const KEEP: usize = 8;
/// Samples closer together than this are not taken (a burst of API calls reuses the last).
const MIN_GAP: Duration = Duration::from_secs(1);
/// The rate is computed over at most this window (older samples are dropped).
const WINDOW: Duration = Duration::from_secs(60);

/// One reading of every site's counters.
#[derive(Debug, Clone)]
struct Sample {
    at: Instant,
    totals: BTreeMap<String, (u64, u64)>,
}

/// The last few samples of a [`TrafficSource`].
#[derive(Debug, Default)]
pub struct Sampler {
    samples: Mutex<VecDeque<Sample>>,
}

impl Sampler {
    /// Takes a sample of `source` now (unless the last is under a second old) and returns
    /// each site's rate between the oldest kept sample and the newest.
    pub fn rates(&self, source: &dyn TrafficSource) -> BTreeMap<String, Traffic> {
        self.rates_at(source.totals(), Instant::now())
    }

    /// [`Sampler::rates`] with the counters and the time given (tests use fake samples).
    pub(crate) fn rates_at(
        &self,
        totals: Vec<(String, u64, u64)>,
        now: Instant,
    ) -> BTreeMap<String, Traffic> {
        let mut samples = self.samples.lock().unwrap_or_else(|p| p.into_inner());
        let fresh = samples
            .back()
            .is_none_or(|last| now.saturating_duration_since(last.at) >= MIN_GAP);
        if fresh {
            samples.push_back(Sample {
                at: now,
                totals: totals.into_iter().map(|(s, r, e)| (s, (r, e))).collect(),
            });
        }
        while samples.len() > KEEP
            || samples
                .front()
                .is_some_and(|s| now.saturating_duration_since(s.at) > WINDOW && samples.len() > 2)
        {
            samples.pop_front();
        }
        match (samples.front(), samples.back()) {
            (Some(first), Some(last)) if samples.len() >= 2 => rates(first, last),
            _ => BTreeMap::new(),
        }
    }
}

/// Per-site rates between two samples. A counter that went down (a site removed and added
/// again, or a restart) counts from zero; a site new since `first` counts from zero too.
fn rates(first: &Sample, last: &Sample) -> BTreeMap<String, Traffic> {
    let secs = last.at.saturating_duration_since(first.at).as_secs_f64();
    if secs <= 0.0 {
        return BTreeMap::new();
    }
    last.totals
        .iter()
        .map(|(site, &(requests, errors))| {
            let (r0, e0) = first.totals.get(site).copied().unwrap_or((0, 0));
            let delta = |now: u64, then: u64| if now >= then { now - then } else { now };
            let traffic = Traffic {
                requests_per_second: delta(requests, r0) as f64 / secs,
                errors_per_second: delta(errors, e0) as f64 / secs,
            };
            (site.clone(), traffic)
        })
        .collect()
}

#[cfg(test)]
#[path = "traffic_tests.rs"]
mod tests;
