//! Site policies (issue 14): what may happen to a request between the HTTPS policy and the
//! limits, header changes, fixed answers, compression and error pages. `spec` is the plain data
//! the settings produce; the other modules are the pure checks the data plane runs, in the order
//! compression → error pages.

mod access;
mod spec;

pub use access::{allowed, internal, parse_net, parse_net_noting};
pub use spec::{
    AccessRule, BasicAuth, Compression, Encoding, ErrorPage, FixedAnswer, HeaderOp, IpNet, Origin,
    Policy, RateLimit, ResponseHeaderOp, Timeouts,
};
