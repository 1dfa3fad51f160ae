//! Mirrors `dockside::policy`: only the plain policy data (`spec.rs`), which the request facts
//! (`exchange::meta`) name for their timeouts.

#[allow(dead_code)]
#[path = "../../src/policy/spec.rs"]
mod spec;

pub use spec::Timeouts;
