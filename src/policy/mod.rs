//! Site policies (issue 14): what may happen to a request between the HTTPS policy and the
//! forward, and to its response on the way back — access lists, basic auth, rate limits, body
//! limits, header changes, fixed answers, compression and error pages. `spec` is the plain data
//! the settings produce; the other modules are the pure checks the data plane runs, in the order
//! access → auth → rate limit → body limit → request headers → forward → response headers →
//! compression → error pages.

mod compress;
mod spec;

pub use compress::{CompressFacts, compress, negotiate};
pub use spec::{
    AccessRule, BasicAuth, Compression, Encoding, ErrorPage, FixedAnswer, HeaderOp, IpNet, Origin,
    Policy, RateLimit, ResponseHeaderOp, Timeouts,
};
