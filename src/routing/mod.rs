//! Routing: from a `DesiredState` to the immutable `RouteTable` the data plane reads, and the
//! host/path matching rules (nginx `server_name` / `location` semantics) it uses.

mod balance;
mod host;
mod hosts;
mod path;
mod ports;
mod table;
mod upstream;
mod uri_path;

pub use host::InvalidHost;
pub(crate) use host::{HostPattern, parse_host};
pub use hosts::Hosts;
pub(crate) use path::PathPattern;
pub use ports::{ExtraPort, ExtraPorts, ListenPorts, PortKind};
pub use table::{Action, DefaultRoot, LocationRoute, RouteTable, SiteDefaults, SiteRoute};
pub use upstream::{InFlight, Upstream};
pub use uri_path::PathError;
pub(crate) use uri_path::normalize as normalize_path;
