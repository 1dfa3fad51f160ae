//! Which listener serves a site. nginx-proxy's `EXTERNAL_HTTP_PORT` / `EXTERNAL_HTTPS_PORT`
//! (§1.3) put a vhost's server blocks on their own port *instead of* `HTTP_PORT` / `HTTPS_PORT`:
//! the host is served there and is unknown on the default ports. This module places each site
//! (pure) and lists the extra ports the route table wants, which `server::extra` binds.

use std::collections::BTreeMap;

/// The ports of dockside's own listeners, as bound: a site's external port equal to one of them
/// is simply that listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenPorts {
    pub http: u16,
    /// `None` with `--https off`: `EXTERNAL_HTTPS_PORT` is then ignored (there is no TLS).
    pub https: Option<u16>,
}

impl Default for ListenPorts {
    fn default() -> Self {
        ListenPorts {
            http: 80,
            https: Some(443),
        }
    }
}

/// Whether an extra port speaks plain HTTP or TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PortKind {
    Http,
    Https,
}

impl PortKind {
    /// The setting that asks for such a port, in the user's spelling (logs, `dockside check`).
    pub fn setting(self) -> &'static str {
        match self {
            PortKind::Http => "EXTERNAL_HTTP_PORT",
            PortKind::Https => "EXTERNAL_HTTPS_PORT",
        }
    }
}

/// One extra port and the sites that asked for it (sorted, as the sites are).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtraPort {
    pub kind: PortKind,
    pub hosts: Vec<String>,
}

/// Every extra port a route table serves: what the extra listeners must be.
pub type ExtraPorts = BTreeMap<u16, ExtraPort>;

/// A site's ports: `None` is the default listener of that scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SitePorts {
    pub http: Option<u16>,
    pub https: Option<u16>,
}

/// Resolves the external ports a site asks for against dockside's listeners and the extra ports
/// earlier sites `claimed`. A port equal to the listener of the same scheme is that listener;
/// with HTTPS off `EXTERNAL_HTTPS_PORT` is ignored. A port already used for the other scheme
/// (dockside's own, or an earlier site's) cannot serve both: the site is not served and the
/// reason names the setting (the first site by name keeps the port).
pub fn place(
    wanted: SitePorts,
    listen: ListenPorts,
    claimed: &ExtraPorts,
) -> Result<SitePorts, String> {
    let http = wanted.http.filter(|&p| p != listen.http);
    let https = match listen.https {
        Some(own) => wanted.https.filter(|&p| p != own),
        None => None,
    };
    let check = |port: u16, kind: PortKind, other_own: Option<u16>| {
        let setting = kind.setting();
        if other_own == Some(port) {
            return Err(format!(
                "{setting}={port} is dockside's own {} port",
                other_name(kind)
            ));
        }
        match claimed.get(&port) {
            Some(used) if used.kind != kind => Err(format!(
                "{setting}={port} is already {} of {}: a port serves HTTP or HTTPS, not both",
                used.kind.setting(),
                used.hosts.join(", ")
            )),
            _ => Ok(()),
        }
    };
    if let Some(p) = http {
        check(p, PortKind::Http, listen.https)?;
    }
    if let Some(p) = https {
        check(p, PortKind::Https, Some(listen.http))?;
    }
    if let (Some(a), Some(b)) = (http, https)
        && a == b
    {
        return Err(format!(
            "EXTERNAL_HTTP_PORT and EXTERNAL_HTTPS_PORT are both {a}: a port serves HTTP or HTTPS, not both"
        ));
    }
    Ok(SitePorts { http, https })
}

fn other_name(kind: PortKind) -> &'static str {
    match kind {
        PortKind::Http => "HTTPS",
        PortKind::Https => "HTTP",
    }
}

#[cfg(test)]
#[path = "ports_tests.rs"]
mod tests;
