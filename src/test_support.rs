//! For dockside's integration tests (`tests/`) and examples (`examples/`), not for the proxy
//! itself: the one documented place they build what they cannot get from the public API.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::config::{AccessLog, Config, Limits, NginxDirs};
use crate::routing::SiteDefaults;

/// A loopback-only configuration for tests and embedding: HTTP on `127.0.0.1:0` (an ephemeral
/// port), no HTTPS, no admin listener, no Docker, no routes file, no ACME; certificates in
/// `certs_dir` (a temp dir in tests), spool files in the system temp dir, default limits.
pub fn config(certs_dir: PathBuf) -> Config {
    Config {
        http: SocketAddr::from(([127, 0, 0, 1], 0)),
        https: None,
        admin: None,
        // Counted only when a test turns the admin listener on (nothing reads them otherwise).
        metrics: true,
        ipv6: false,
        proxy_protocol: false,
        routes: None,
        docker: None,
        // Inside the test's own directory, never a shared folder next to it.
        nginx_dirs: NginxDirs {
            vhost_d: certs_dir.join("vhost.d"),
            htpasswd: certs_dir.join("htpasswd"),
            conf_d: certs_dir.join("conf.d"),
            html: certs_dir.join("html"),
        },
        certs_dir,
        defaults: SiteDefaults::default(),
        trust_downstream_proxy: true,
        trust_downstream_proxy_defaulted: false,
        access_log: AccessLog::Vhost,
        admin_auth: crate::admin::AdminAuth::default(),
        verify_upstream_tls: false,
        limits: Limits::default(),
        spool_dir: std::env::temp_dir(),
        acme: None,
        acme_accept_unknown_host: false,
        cert_files: crate::certs::FileModes::default(),
        store: None,
        create_default_certificate: false,
        on_demand: None,
        traces: None,
    }
}

/// The desired state of `items` without nginx-proxy files: what the settings make of a
/// provider's items (`examples/route_rebuild.rs` times it; the module itself is crate-private).
pub fn desired_state(items: &[crate::model::SourceItem]) -> crate::model::DesiredState {
    crate::settings::build_with(items, &Default::default())
}

/// The items of routes-file text, as the routes-file provider hands them over.
pub fn routes_items(text: &str) -> Result<Vec<crate::model::SourceItem>, String> {
    crate::discovery::file::parse(text, std::path::Path::new("routes.toml"))
        .map(|routes| routes.items)
        .map_err(|e| e.to_string())
}

/// What the combiner keeps between builds: `Merger::build` reuses every item and site no
/// change touched (`examples/route_rebuild`).
pub use crate::settings::Merger;
