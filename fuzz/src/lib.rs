//! The pure uwsgi codec and vars modules of dockside, compiled from the main crate's own
//! source files under the same module paths (so `crate::exchange` and `super::codec` resolve),
//! so the fuzz build needs none of the proxy's IO dependencies.
#![forbid(unsafe_code)]

pub mod exchange;
pub mod upstream;
