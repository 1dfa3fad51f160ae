//! Providers of `SourceItem`s: the Docker engine (and, later, the static routes file).
//!
//! Docker: `container` (our `ContainerInfo` and the pure §1.6.3 mapping), `own` (which
//! container's networks count), `endpoint` (settings, endpoint, errors), `docker` (the only
//! bollard user) and `watch` (the level-triggered loop behind [`spawn`]).

pub mod container;
pub mod docker;
pub mod endpoint;
pub mod own;
mod watch;

pub use container::{ContainerInfo, NetworkInfo, PortInfo, ProxyNetworks, to_source_item};
pub use docker::{EngineVersion, container_info_from_json};
pub use endpoint::{DockerError, DockerSettings, Endpoint};
pub use watch::{probe, snapshot, spawn};
