//! The bounded label values of the request series: each is a small enum with a dense index, so
//! a request picks its counter by arithmetic, never by hashing a string.

use http::{Method, StatusCode, Version};

use crate::model::Proto;

/// `method` label: the common methods by name, everything else as `other`.
pub(crate) const METHODS: [&str; 8] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "other",
];
/// `status` label: the status class.
pub(crate) const STATUSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];
/// `downstream` label: the client's protocol.
pub(crate) const DOWNSTREAMS: [&str; 3] = ["h1", "h2", "h3"];
/// `upstream` label: how the request went on (`none`: dockside answered itself).
pub(crate) const UPSTREAMS: [&str; 6] = ["http", "https", "uwsgi", "fastcgi", "grpc", "none"];

/// Requests series per site: one counter for each label combination.
pub(crate) const REQUEST_SERIES: usize =
    METHODS.len() * STATUSES.len() * DOWNSTREAMS.len() * UPSTREAMS.len();

/// The labels of one finished request, as indices into the tables above.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RequestLabels {
    pub method: u8,
    pub status: u8,
    pub downstream: u8,
    pub upstream: u8,
}

impl RequestLabels {
    /// The counter of this combination within a site's `REQUEST_SERIES`.
    #[inline]
    pub(crate) fn index(self) -> usize {
        let up = usize::from(self.upstream) * DOWNSTREAMS.len() + usize::from(self.downstream);
        (up * STATUSES.len() + usize::from(self.status)) * METHODS.len() + usize::from(self.method)
    }

    /// The combination of counter `index` (the inverse of [`RequestLabels::index`]).
    pub(crate) fn of_index(index: usize) -> RequestLabels {
        let method = index % METHODS.len();
        let rest = index / METHODS.len();
        let status = rest % STATUSES.len();
        let rest = rest / STATUSES.len();
        RequestLabels {
            method: method as u8,
            status: status as u8,
            downstream: (rest % DOWNSTREAMS.len()) as u8,
            upstream: (rest / DOWNSTREAMS.len()) as u8,
        }
    }
}

/// The `method` index of a request method.
#[inline]
pub(crate) fn method_class(method: &Method) -> u8 {
    match *method {
        Method::GET => 0,
        Method::HEAD => 1,
        Method::POST => 2,
        Method::PUT => 3,
        Method::DELETE => 4,
        Method::PATCH => 5,
        Method::OPTIONS => 6,
        _ => 7,
    }
}

/// The `status` index of a response status (1xx → 0 … 5xx → 4).
#[inline]
pub(crate) fn status_class(status: StatusCode) -> u8 {
    (status.as_u16() / 100).clamp(1, 5) as u8 - 1
}

/// The `downstream` index: HTTP/3 by the body type, h2 or h1 by the request's version.
#[inline]
pub(crate) fn downstream(version: Version, http3: bool) -> u8 {
    match (http3, version == Version::HTTP_2) {
        (true, _) => 2,
        (false, true) => 1,
        (false, false) => 0,
    }
}

/// The `upstream` index of a location's `VIRTUAL_PROTO` (`grpcs` counts as `grpc`).
#[inline]
pub(crate) fn upstream(proto: Option<Proto>) -> u8 {
    match proto {
        Some(Proto::Http) => 0,
        Some(Proto::Https) => 1,
        Some(Proto::Uwsgi) => 2,
        Some(Proto::Fastcgi) => 3,
        Some(Proto::Grpc | Proto::Grpcs) => 4,
        None => 5,
    }
}
