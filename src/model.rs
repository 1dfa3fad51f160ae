//! The desired state every provider agrees on: plain data, no IO, compared with `Eq` so an
//! identical snapshot is never published twice.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

pub use crate::policy::{ErrorPage, Policy};

/// Everything dockside should serve right now, as produced by `settings::build` from the
/// providers' items. Sorted, so two builds from the same inputs compare equal.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DesiredState {
    /// One entry per `VIRTUAL_HOST` item, sorted by host. Shared: an update keeps the sites no
    /// changed item touches (`settings::Merger`), and comparing a kept one is a pointer check.
    pub sites: Vec<std::sync::Arc<Site>>,
    /// Certificates wanted by `LETSENCRYPT_HOST` / `ACME_HOST`, sorted by base name.
    pub certificates: Vec<CertRequest>,
    /// Items that contribute nothing (or only part), and why: `dockside check` prints these.
    pub skipped: Vec<Skipped>,
    /// Bodies for answers that belong to no site (unknown host 503): nginx-proxy's
    /// `html/errors/50x.html`, by status code.
    pub fallback_pages: BTreeMap<u16, ErrorPage>,
}

/// A virtual host with its locations and per-host settings. `None` means "use the global default".
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Site {
    /// The `VIRTUAL_HOST` item as the user wrote it: exact name, `*.a.b`, `a.*` or `~regex`.
    pub host: String,
    /// Sorted by path.
    pub locations: Vec<Location>,
    pub https_method: Option<HttpsMethod>,
    /// `HSTS` value; `Some("off")` disables it.
    pub hsts: Option<String>,
    pub ssl_policy: Option<String>,
    pub cert_name: Option<String>,
    pub trust_default_cert: Option<bool>,
    pub http2: Option<bool>,
    /// `com.github.nginx-proxy.nginx-proxy.http3.enable` (else `ENABLE_HTTP3`): whether the site
    /// is served over HTTP/3 (QUIC) and advertises it with `alt-svc`.
    pub http3: Option<bool>,
    pub non_get_redirect: Option<u16>,
    pub enable_http_on_missing_cert: Option<bool>,
    pub acme_http_challenge: Option<AcmeChallengeLocation>,
    /// Bytes; `None` = unlimited (bodies stream, so there is no reason for nginx's 1 MiB).
    pub client_max_body_size: Option<u64>,
    /// `EXTERNAL_HTTP_PORT` (or a MULTIPORTS host's `external_http_port`): the port this site's
    /// plain-HTTP server listens on instead of the global HTTP port (nginx-proxy §1.3).
    pub external_http_port: Option<u16>,
    /// `EXTERNAL_HTTPS_PORT` (or MULTIPORTS `external_https_port`): this site's TLS port, also the
    /// port HTTP→HTTPS redirects point to.
    pub external_https_port: Option<u16>,
    /// `SERVER_TOKENS`: the `Server` header dockside puts on this site's answers; `None` leaves
    /// them as they are (a backend's own `Server` passes, dockside's answers carry none).
    pub server_tokens: Option<ServerTokens>,
    /// The label `com.github.nginx-proxy.nginx-proxy.debug-endpoint` (else `DEBUG_ENDPOINT`):
    /// whether `/nginx-proxy-debug` answers this site's settings as JSON.
    pub debug_endpoint: Option<bool>,
    /// `com.github.nginx-proxy.nginx-proxy.ssl_verify_client`: how a client certificate is asked
    /// for when the certificate directory has a CA file for this site (`None`: `on`).
    pub ssl_verify_client: Option<VerifyClient>,
    /// `VIRTUAL_ROOT`: the document root inside the FastCGI container (`SCRIPT_FILENAME` is
    /// this plus the path); `None`: [`DEFAULT_VIRTUAL_ROOT`]. Per host: the oldest container
    /// of the host that sets it wins.
    pub root: Option<String>,
    /// The server-level policy (`vhost.d/<host>`, `conf.d`): for answers no location gives.
    pub policy: Policy,
    /// Names of the containers / routes-file entries that define this site (oldest first).
    pub sources: Vec<String>,
    /// Which item set each per-host setting (by the user's name): the oldest that set it wins,
    /// so the dashboard and `/api/v1/sites` can say where an effective value came from.
    pub set_by: BTreeMap<String, String>,
}

/// One `VIRTUAL_PATH` of a site: where matching requests go and how.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Location {
    /// `VIRTUAL_PATH` as written: a prefix (`/api/`) or a regex (`~ ^/(a|b)/`).
    pub path: String,
    /// `VIRTUAL_DEST`: replaces the matched prefix when forwarding (nginx URI replacement).
    pub dest: String,
    pub proto: Proto,
    pub backends: Vec<Backend>,
    /// `com.github.nginx-proxy.nginx-proxy.keepalive`: `false` sends `Connection: close` upstream.
    pub keepalive: bool,
    /// The effective policy of this location: settings and files merged, ready to compile.
    pub policy: Policy,
    /// `com.github.nginx-proxy.nginx-proxy.loadbalance`: how a request picks its backend.
    pub balance: Balance,
}

/// How a location picks the backend for a request: nginx's `upstream` methods that
/// `com.github.nginx-proxy.nginx-proxy.loadbalance` names (nginx-proxy §1.4, §1.6.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, PartialOrd, Ord, Hash)]
pub enum Balance {
    /// nginx's default: each request takes the next backend.
    #[default]
    RoundRobin,
    /// `hash $remote_addr;` (also `… consistent;`): the client's address picks the backend, by
    /// rendezvous hashing, so adding a backend moves only the clients it takes over.
    ClientHash,
    /// `ip_hash;`: as `ClientHash`, keyed by an IPv4 client's /24 (nginx's rule; IPv6 whole).
    IpHash,
    /// `least_conn;`: the backend with the fewest requests in flight, ties in turn.
    LeastConn,
    /// `random;`: a uniformly random backend.
    Random,
    /// `random two;` / `random two least_conn;`: two random backends, the one with fewer
    /// requests in flight (the power of two choices).
    RandomTwo,
}

impl std::fmt::Display for Balance {
    /// The nginx directive, as the label would say it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Balance::RoundRobin => "round-robin",
            Balance::ClientHash => "hash $remote_addr",
            Balance::IpHash => "ip_hash",
            Balance::LeastConn => "least_conn",
            Balance::Random => "random",
            Balance::RandomTwo => "random two least_conn",
        })
    }
}

/// How dockside talks to a location's backends (`VIRTUAL_PROTO`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, PartialOrd, Ord, Hash)]
pub enum Proto {
    #[default]
    Http,
    Https,
    Uwsgi,
    /// gRPC over HTTP/2 with prior knowledge (h2c) to the backend (nginx's `grpc_pass grpc://`).
    Grpc,
    /// gRPC over TLS with ALPN `h2` (nginx's `grpc_pass grpcs://`); unverified like `Https`.
    Grpcs,
    /// PHP-FPM and other FastCGI responders (`VIRTUAL_PROTO=fastcgi`), scripts under the
    /// site's `VIRTUAL_ROOT`.
    Fastcgi,
}

impl Proto {
    /// The name `VIRTUAL_PROTO` gives it, for `dockside check`, the status page and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Http => "http",
            Proto::Https => "https",
            Proto::Uwsgi => "uwsgi",
            Proto::Grpc => "grpc",
            Proto::Grpcs => "grpcs",
            Proto::Fastcgi => "fastcgi",
        }
    }

    /// Whether the location speaks gRPC: its errors are answered as gRPC statuses.
    pub fn is_grpc(self) -> bool {
        matches!(self, Proto::Grpc | Proto::Grpcs)
    }
}

/// nginx-proxy's `VIRTUAL_ROOT` default: the document root inside the PHP container.
pub const DEFAULT_VIRTUAL_ROOT: &str = "/var/www/public";

/// One server of an upstream: one per container (nginx-proxy §1.6.3) or routes-file address.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Backend {
    pub addr: BackendAddr,
    /// The container name or routes-file entry it comes from, for logs.
    pub source: String,
    pub health: Health,
}

/// Where a backend listens.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BackendAddr {
    Tcp(SocketAddr),
    /// A DNS name resolved at connect time (routes file only).
    Name {
        host: String,
        port: u16,
    },
    /// A unix socket path (routes file only; uwsgi deployments use these).
    Unix(PathBuf),
}

impl std::fmt::Display for BackendAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BackendAddr::Tcp(a) => write!(f, "{a}"),
            BackendAddr::Name { host, port } => write!(f, "{host}:{port}"),
            BackendAddr::Unix(p) => write!(f, "unix:{}", p.display()),
        }
    }
}

/// Docker healthcheck state. Containers without a healthcheck are `None` and always eligible.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, PartialOrd, Ord, Hash)]
pub enum Health {
    #[default]
    None,
    Starting,
    Healthy,
    Unhealthy,
}

impl Health {
    /// Whether this backend may take traffic while a healthy sibling exists.
    pub fn is_preferred(self) -> bool {
        matches!(self, Health::None | Health::Healthy)
    }
}

/// nginx-proxy `HTTPS_METHOD` (§1.6.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, PartialOrd, Ord, Hash)]
pub enum HttpsMethod {
    #[default]
    Redirect,
    NoRedirect,
    NoHttp,
    NoHttps,
}

/// nginx `server_tokens` as nginx-proxy's `SERVER_TOKENS` sets it: `on` (or `build`) names
/// dockside's version in the `Server` header, `off` sends only `dockside`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ServerTokens {
    On,
    Off,
}

/// nginx's `ssl_verify_client` for a site with a client-certificate CA file (mTLS).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, PartialOrd, Ord, Hash)]
pub enum VerifyClient {
    /// A valid client certificate is required: none, or an invalid one, gets a 400.
    #[default]
    On,
    /// No certificate passes; an invalid one gets a 400.
    Optional,
    /// A certificate is asked for but never refused: the backend judges the verification result.
    OptionalNoCa,
    /// No certificate is asked for, even with a CA file.
    Off,
}

impl VerifyClient {
    /// The value as the label spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            VerifyClient::On => "on",
            VerifyClient::Optional => "optional",
            VerifyClient::OptionalNoCa => "optional_no_ca",
            VerifyClient::Off => "off",
        }
    }
}

/// `ACME_HTTP_CHALLENGE_LOCATION`: `true`, `false` or `legacy` (only when redirecting).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, PartialOrd, Ord, Hash)]
pub enum AcmeChallengeLocation {
    #[default]
    Enabled,
    Disabled,
    Legacy,
}

/// A certificate one container (or one host, in single-domain mode) wants from a CA.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct CertRequest {
    /// First host names the directory (acme-companion's "base").
    pub hosts: Vec<String>,
    /// Settings exactly as given (`ACME_*` / `LETSENCRYPT_*`); resolved against the globals in `acme/`.
    pub settings: BTreeMap<String, String>,
    pub source: String,
}

/// Something a provider found that dockside does not route (or routes only partly), and why.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Skipped {
    /// Container name or routes-file entry.
    pub source: String,
    /// Human sentence naming the setting and value and what to fix.
    pub reason: String,
    /// `Warning` for a mistake the user should fix; `Info` for items not meant to be routed
    /// (e.g. a database container without `VIRTUAL_HOST`).
    pub severity: Severity,
    /// The hosts the item declares (`VIRTUAL_HOST`), so the dashboard can show a skipped
    /// container on the page of the site it was meant for; empty when it names none.
    pub hosts: Vec<String>,
}

/// How loudly a `Skipped` entry is logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Info,
    Warning,
}

/// What a provider hands to `settings::build`: one container or one routes-file entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceItem {
    /// Container name (without `/`) or `routes.toml entry N`.
    pub name: String,
    /// Creation time (unix seconds, or entry index): the oldest item wins per-host conflicts.
    pub created: i64,
    /// Environment merged with labels of the same name (a label wins).
    pub vars: BTreeMap<String, String>,
    pub reach: Reach,
}

/// How dockside reaches an item's backend, decided by the provider (network rules live there).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    /// Explicit addresses from the routes file.
    Addresses(Vec<BackendAddr>),
    /// A container: the IP chosen per nginx-proxy §1.6.3 and its exposed ports (for §1.6.2).
    Container {
        ip: IpAddr,
        exposed_ports: Vec<u16>,
        health: Health,
    },
    /// A container dockside cannot reach, with the reason (e.g. no shared network).
    Unreachable(String),
}
