//! Routing: from a `DesiredState` to the immutable `RouteTable` the data plane reads, and the
//! host/path matching rules (nginx `server_name` / `location` semantics) it uses.

pub mod host;
pub mod path;
pub mod table;
pub mod upstream;
pub mod uri_path;

pub use table::{Action, DefaultRoot, LocationRoute, RouteTable, SiteDefaults, SiteRoute};
pub use upstream::Upstream;
