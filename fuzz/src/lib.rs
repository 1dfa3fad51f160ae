//! The pure codecs of dockside (uwsgi codec and vars, the FastCGI codec, the HTTP/1.1 client codec, nginx files, the PROXY protocol header), compiled from the main crate's own
//! source files under the same module paths (so `crate::exchange` and `super::codec` resolve),
//! so the fuzz build needs none of the proxy's IO dependencies.
#![forbid(unsafe_code)]

pub mod exchange;
pub mod policy;
pub mod server;
pub mod upstream;
