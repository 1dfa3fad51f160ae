//! Site policies (issue 14): what may happen to a request between the HTTPS policy and the
//! forward, and to its response on the way back — access lists, basic auth, rate limits, body
//! limits, header changes, fixed answers, compression and error pages. `spec` is the plain data
//! the settings produce; the other modules are the pure checks the data plane runs, in the order
//! access → auth → rate limit → body limit → request headers → forward → response headers →
//! compression → error pages.

mod access;
mod auth;
mod compiled;
mod compress;
mod rate;
mod spec;

pub use access::{allowed, internal, parse_net, parse_net_noting};
pub use auth::{AuthOutcome, Authenticator, parse_htpasswd, parse_inline};
pub use compiled::{Refusal, SitePolicy};
pub use compress::{CompressFacts, compress, negotiate};
pub use rate::{DEFAULT_CAPACITY, RateLimiter, parse_rate, retry_after_seconds};
pub use spec::{
    AccessRule, BasicAuth, Compression, Encoding, ErrorPage, FixedAnswer, HeaderOp, IpNet, Origin,
    Policy, RateLimit, ResponseHeaderOp, Timeouts,
};
