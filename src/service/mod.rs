//! One request, as a readable sequence of steps (`pipeline`): ACME challenge → route lookup →
//! HTTPS policy (redirect / not served / 421, HSTS) → location → body limit → header rewrite →
//! the upstream exchange. Answers dockside writes itself, and the one mapping of faults to
//! statuses, are in `answer`; the access log line in `access_log`. Site policies (basic auth,
//! IP allow lists, headers, rate limits) are steps between the HTTPS policy and dispatch.

mod access_log;
mod answer;
mod challenge;
mod debug;
mod headers;
mod https;
mod log_throttle;
mod observe;
mod pipeline;
mod policy;
mod state;

pub use access_log::{AccessLog, Escape, FormatError, LogFormat};
pub(crate) use headers::upgrade_requested;
pub(crate) use log_throttle::LogThrottle;
pub(crate) use pipeline::handle;
pub use state::Http3Status;
pub(crate) use state::ServiceState;
