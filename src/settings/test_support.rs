//! Test builders for `SourceItem`, the input of `settings`: the unit tests of `settings`,
//! `discovery` and `admin` all start from what a provider hands in, so they build it here.

use std::net::IpAddr;

use crate::model::{Health, Reach, SourceItem};

/// An item named `name` with `vars` (environment and labels alike), created at 1 and reached at
/// no address; a test sets `created` or `reach` with struct update syntax.
pub(crate) fn source_item(name: &str, vars: &[(&str, &str)]) -> SourceItem {
    SourceItem {
        name: name.into(),
        created: 1,
        vars: vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        reach: Reach::Addresses(vec![]),
    }
}

/// A container at `172.18.0.<last_octet>` exposing `ports`, without a health check.
pub(crate) fn container_at(last_octet: u8, ports: &[u16]) -> Reach {
    Reach::Container {
        ip: IpAddr::from([172, 18, 0, last_octet]),
        exposed_ports: ports.to_vec(),
        health: Health::None,
    }
}
