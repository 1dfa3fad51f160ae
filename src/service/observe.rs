//! What a request leaves behind once its response is over: the access-log line and the
//! metrics, both fed by the response's completion (`exchange::on_complete`), so bytes and time
//! are what the client got, not what was declared. Nothing here runs when both are off.

use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{Response, StatusCode};

use super::access_log::{Outcome, Pending};
use crate::exchange::{self, ConnInfo, OnComplete, ProxyBody};
use crate::metrics::{Finished, RequestLabels, Shard, status_class};
use crate::model::BackendAddr;

/// The request's facts captured before it was consumed, for the report at its end.
pub(super) struct Observed {
    pub started: Instant,
    /// Boxed: with the log off, the request future and the completion stay small (moving a
    /// few hundred bytes of captured headers per request showed as memcpy in the profile).
    pub log: Option<Box<Pending>>,
    /// The shard of this worker, with the method and client protocol classes.
    pub metrics: Option<(Arc<Shard>, u8, u8)>,
}

/// How the pipeline ended, besides the response itself.
pub(super) struct Ending {
    pub host: String,
    /// The client's connection, for the log line; `None` when the log is off.
    pub conn: Option<Arc<ConnInfo>>,
    pub backend: Option<BackendAddr>,
    /// The site's metrics id; `None` when no site took the request.
    pub site: Option<u32>,
    /// The `upstream` label's class (`metrics::upstream`).
    pub upstream_class: u8,
    pub upstream_time: Option<Duration>,
}

/// `response`, reporting to the access log and the metrics when its body is over.
pub(super) fn observe(
    observed: Observed,
    ending: Ending,
    response: Response<ProxyBody>,
) -> Response<ProxyBody> {
    let status = response.status();
    let report = Report {
        started: observed.started,
        status,
        upstream_time: ending.upstream_time,
        metrics: observed.metrics.map(|(shard, method, downstream)| {
            let labels = RequestLabels {
                method,
                status: status_class(status),
                downstream,
                upstream: ending.upstream_class,
            };
            (shard, ending.site, labels)
        }),
        log: observed
            .log
            .zip(ending.conn)
            .map(|(pending, conn)| LogLine {
                pending,
                host: ending.host,
                conn,
                upstream: ending.backend.map(|b| b.to_string()),
            }),
    };
    response.map(|body| exchange::on_complete(body, report))
}

/// Everything the end of one response reports.
struct Report {
    started: Instant,
    status: StatusCode,
    upstream_time: Option<Duration>,
    metrics: Option<(Arc<Shard>, Option<u32>, RequestLabels)>,
    log: Option<LogLine>,
}

struct LogLine {
    pending: Box<Pending>,
    host: String,
    conn: Arc<ConnInfo>,
    upstream: Option<String>,
}

impl OnComplete for Report {
    fn complete(self, sent: u64, end: Instant) {
        let request_time = end.saturating_duration_since(self.started);
        if let Some((shard, site, labels)) = self.metrics {
            shard.finished(&Finished {
                site,
                labels,
                bytes_out: sent,
                duration: request_time,
                upstream_time: self.upstream_time,
            });
        }
        if let Some(line) = self.log {
            let outcome = Outcome {
                host: &line.host,
                conn: &line.conn,
                status: self.status,
                body_bytes: sent,
                upstream: line.upstream,
                request_time,
                upstream_response_time: self.upstream_time,
            };
            (*line.pending).record(&outcome);
        }
    }
}
