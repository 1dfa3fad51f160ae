//! Copies the shared state once per page, API answer or scrape, and builds the admin model from
//! the copies (`api::overview`, pure).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::AdminState;
use super::api::{AcmeInput, Inputs, Overview};
use super::traffic::{Sampler, TrafficSource};

/// Where the dashboard's request and error rates come from: the data plane's counters, when
/// they are wired in (`None` shows "–").
#[derive(Clone, Default)]
pub(crate) struct TrafficRates {
    pub source: Option<Arc<dyn TrafficSource>>,
    pub sampler: Arc<Sampler>,
}

/// The admin model as of now.
pub(crate) fn overview(admin: &AdminState) -> Overview {
    let state = admin.state.borrow().clone();
    let live = admin.live.load();
    let acme = admin.acme.as_ref().map(|s| AcmeInput {
        started: s.orders_started.load(Ordering::Relaxed),
        succeeded: s.orders_succeeded.load(Ordering::Relaxed),
        failed: s.orders_failed.load(Ordering::Relaxed),
        certificates: s.snapshot(),
        store: admin
            .store
            .as_ref()
            .map(|st| (st.health(), st.replica().to_owned())),
    });
    let providers = admin.providers.view();
    let down = admin.health.down_now();
    let traffic = match &admin.traffic.source {
        Some(source) => admin.traffic.sampler.rates(source.as_ref()),
        None => BTreeMap::new(),
    };
    super::api::overview(&Inputs {
        state: &state,
        live: &live,
        acme: acme.as_ref(),
        providers: &providers,
        down: &down,
        traffic: &traffic,
        now: crate::discovery::unix_now(),
    })
}
