//! Mirrors `dockside::policy`: the plain policy data (`spec.rs`), which the request facts
//! (`exchange::meta`) name for their timeouts, and the readers the nginx-file parsers call —
//! addresses (`access.rs`) and htpasswd lines with the hash shapes they check (`auth/`).

#[allow(dead_code)]
#[path = "../../src/policy/access.rs"]
mod access;
#[allow(dead_code)]
#[path = "../../src/policy/auth/hash.rs"]
mod hash;
#[allow(dead_code)]
#[path = "../../src/policy/auth/htpasswd.rs"]
mod htpasswd;
#[allow(dead_code)]
#[path = "../../src/policy/spec.rs"]
mod spec;

pub use access::parse_net;
pub use htpasswd::parse_htpasswd;
pub use spec::*;
