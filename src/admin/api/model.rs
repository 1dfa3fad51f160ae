//! The admin model: what `/api/v1/…`, the dashboard, `/metrics`' control section and `dockside
//! routes` all show, as plain serde structs. Field names are the JSON names; docs/admin-api.md
//! and docs/admin-api.schema.json describe them, and the tests hold the two together.

use serde::{Deserialize, Serialize};

/// Everything at once (`GET /api/v1/overview`): one consistent moment for a page or a script.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Overview {
    /// dockside's version, so a script can tell which schema it reads.
    pub version: String,
    /// Unix seconds when this answer was built.
    pub generated_at: i64,
    pub sites: Vec<SiteView>,
    pub certificates: Vec<CertificateView>,
    pub acme: AcmeView,
    pub unrouted: Vec<Unrouted>,
    pub docker: DockerState,
    pub reloads: ReloadsView,
}

/// One `VIRTUAL_HOST` item, served or not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiteView {
    pub host: String,
    /// Whether requests for this host are routed (false: see `not_served`).
    pub served: bool,
    /// Why the site is not served (a broken regex, a port clash…); `None` when it is.
    pub not_served: Option<String>,
    /// The containers / routes-file entries defining the site, oldest first.
    pub sources: Vec<String>,
    /// The certificate served for it over HTTPS (store name), if any.
    pub certificate: Option<String>,
    /// Recent traffic; `None` when no traffic source is wired in (or no sample yet).
    pub traffic: Option<Traffic>,
    pub locations: Vec<LocationView>,
    /// The per-site settings in force, with where each came from.
    pub settings: Vec<Setting>,
}

/// Requests and errors (5xx) per second over the last sampling window.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Traffic {
    pub requests_per_second: f64,
    pub errors_per_second: f64,
}

/// One `VIRTUAL_PATH` of a site.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocationView {
    /// `VIRTUAL_PATH` as written.
    pub path: String,
    /// `VIRTUAL_DEST`, empty when unset.
    pub dest: String,
    /// `http`, `https`, `uwsgi`, `fastcgi`, `grpc`…; `return` for a `DEFAULT_ROOT` answer.
    pub proto: String,
    /// The load-balancing method, as the label would say it.
    pub balance: String,
    /// The status answered without a backend (`DEFAULT_ROOT`); `None` when forwarding.
    pub returns: Option<u16>,
    pub backends: Vec<BackendView>,
}

/// One backend of a location and whether it takes traffic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackendView {
    pub address: String,
    /// The container or routes-file entry it comes from.
    pub source: String,
    /// Docker's healthcheck: `none` (no healthcheck), `starting`, `healthy`, `unhealthy`.
    pub health: String,
    /// Skipped for a few seconds after a refused or timed-out connect (passive health).
    pub passive_down: bool,
    /// Whether new requests go to it now.
    pub eligible: bool,
}

/// A per-site setting in force and its origin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Setting {
    /// The user's spelling (`HTTPS_METHOD`, or the label's name).
    pub name: String,
    pub value: String,
    /// `container` / `routes file` when an item set it, `default` otherwise.
    pub source_kind: String,
    /// The container or routes-file entry that set it; `None` for a default.
    pub source: Option<String>,
}

/// A certificate in the certificate directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateView {
    /// Store name: `example.com` for `example.com.crt`, `default` for `default.crt`.
    pub name: String,
    /// Names the leaf is valid for.
    pub names: Vec<String>,
    /// The issuer's distinguished name (RFC 2253).
    pub issuer: Option<String>,
    /// Unix seconds.
    pub not_after: i64,
    /// Negative once expired.
    pub expires_in_seconds: i64,
    /// `acme` (dockside orders it), `default` (`default.crt`) or `file` (put there by hand).
    pub source: String,
}

/// The ACME reconciler's counters and per-certificate states.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcmeView {
    pub enabled: bool,
    pub orders_started: u64,
    pub orders_succeeded: u64,
    pub orders_failed: u64,
    pub certificates: Vec<AcmeCertificate>,
    /// The shared store (`--store`); `None` when this dockside orders alone.
    pub store: Option<StoreView>,
}

/// Whether the shared store answers (`--store`, docs/shared-store.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreView {
    /// etcd endpoints as dockside reaches them.
    pub endpoints: String,
    /// This replica's name (`--store-replica`).
    pub replica: String,
    pub reachable: bool,
    /// Unix seconds since when it is (un)reachable.
    pub since: i64,
    /// etcd's last error while unreachable.
    pub error: Option<String>,
}

/// Where one wanted certificate stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcmeCertificate {
    /// The base directory name (`<certs>/<name>/`).
    pub name: String,
    /// `valid`, `ordering`, `deferred`, `waiting` or `failed`.
    pub state: String,
    pub not_after: Option<i64>,
    /// Unix seconds when renewal is due.
    pub renew_at: Option<i64>,
    /// Seconds until the next try (deferred or failed).
    pub retry_in_seconds: Option<u64>,
    /// Consecutive failed orders.
    pub failures: u32,
    /// The last order's error, with the CA's problem document.
    pub last_error: Option<String>,
}

/// A container, routes-file entry, file or host that is not routed (or only partly), and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unrouted {
    pub source: String,
    /// The hosts it was meant for (its `VIRTUAL_HOST`), when it names any.
    pub hosts: Vec<String>,
    /// `container`, `routes file`, `nginx file` or `site`.
    pub kind: String,
    pub reason: String,
    /// `warning`: a setting needs fixing; `info`: nothing asked for routing.
    pub severity: String,
    /// A bounded reason class for `/metrics` (`no_virtual_host`, `invalid_setting`,
    /// `unreachable`, `conflict`, `site_rejected`, `file_directive`, `other`).
    pub class: String,
}

/// The Docker engine connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DockerState {
    /// Whether Docker discovery runs at all.
    pub enabled: bool,
    pub endpoint: Option<String>,
    pub connected: bool,
    pub last_error: Option<String>,
    pub events_seen: u64,
    /// Unix seconds of the last full list.
    pub last_full_sync: Option<i64>,
    pub containers: usize,
    pub reconnects: u64,
}

/// How reloads of the routes file and of nginx-proxy's files went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReloadsView {
    pub routes_file_ok: u64,
    pub routes_file_failed: u64,
    pub routes_file_error: Option<String>,
    pub nginx_files_ok: u64,
}
