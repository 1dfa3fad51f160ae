//! What the user said (flags, with nginx-proxy's environment names as fallback) and the
//! validated `Config` the program runs with.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use crate::acme::{AcmeGlobals, OnDemandSettings, OnDemandSettingsError};
use crate::admin::AdminAuth;
use crate::certs::FileModes;
use crate::discovery::DockerSettings;
use crate::routing::{DefaultRoot, ListenPorts, SiteDefaults};
/// The access log setting; defined with the access log (`service::access_log`).
pub use crate::service::{
    AccessLog, Escape as LogFormatEscape, FormatError as LogFormatError, LogFormat,
};
use crate::settings::{
    parse_bool, parse_challenge_location, parse_https_method, parse_redirect_status, parse_size,
};
use crate::store::{StoreFlags, StoreSettings};
use crate::telemetry::TraceSettings;

/// Command line. Every setting also reads the nginx-proxy / acme-companion environment name.
#[derive(Debug, Parser)]
#[command(name = "dockside", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub flags: Flags,
}

/// Subcommands; none means `run`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve (the default).
    Run,
    /// Validate the configuration and print the route table it would serve, with the reason for
    /// every container or routes-file entry that is not routed.
    Check {
        /// Print the admin model (docs/admin-api.md) as JSON instead of the report.
        #[arg(long)]
        json: bool,
    },
    /// Print what the running dockside serves (sites → locations → backends with health, items
    /// not routed and why, the Docker connection), asked through its admin listener: the same
    /// model as the dashboard and /api/v1/overview.
    Routes {
        /// Print the model as JSON (as /api/v1/overview answers).
        #[arg(long)]
        json: bool,
    },
    /// Exit 0 if a local dockside answers its health endpoint, 1 otherwise (Docker HEALTHCHECK).
    Healthcheck,
    /// Ask the running dockside (through its admin listener, from loopback) to look at the
    /// named certificates — every one without HOST — now, renewing those that are due
    /// (acme-companion's `signal_le_service`); with --force, order them even while valid
    /// (acme-companion's `force_renew`).
    Renew {
        /// Order new certificates although the current ones are valid (mind the CA's rate limits).
        #[arg(long)]
        force: bool,
        /// Any host of a certificate (as in ACME_HOST); none = every certificate.
        hosts: Vec<String>,
    },
}

/// Raw settings as given on the command line or in the environment.
#[derive(Debug, Clone, Args)]
pub struct Flags {
    /// HTTP listener: a port or an address (nginx-proxy: HTTP_PORT).
    #[arg(global = true, long = "http", env = "HTTP_PORT", default_value = "80")]
    pub http: String,
    /// HTTPS listener: a port or an address, or `off` (nginx-proxy: HTTPS_PORT).
    #[arg(
        global = true,
        long = "https",
        env = "HTTPS_PORT",
        default_value = "443"
    )]
    pub https: String,
    /// Static routes file (TOML). Without Docker and without this flag, the shipped example is served.
    #[arg(global = true, long = "routes", env = "DOCKSIDE_ROUTES")]
    pub routes: Option<PathBuf>,
    /// Docker endpoint: `unix:///path`, `tcp://host:port`, or `off`. Default: /var/run/docker.sock, then /tmp/docker.sock.
    #[arg(global = true, long = "docker-host", env = "DOCKER_HOST")]
    pub docker_host: Option<String>,
    /// Certificate directory in nginx-proxy / acme-companion layout.
    #[arg(
        global = true,
        long = "certs-dir",
        env = "CERTS_DIR",
        default_value = "./certs"
    )]
    pub certs_dir: PathBuf,
    /// nginx-proxy's `vhost.d/` (per-site snippets). Default: `vhost.d` next to the certificate directory.
    #[arg(global = true, long = "vhost-dir", env = "VHOST_DIR")]
    pub vhost_dir: Option<PathBuf>,
    /// nginx-proxy's `htpasswd/` (basic-auth users per site). Default: `htpasswd` next to the certificate directory.
    #[arg(global = true, long = "htpasswd-dir", env = "HTPASSWD_DIR")]
    pub htpasswd_dir: Option<PathBuf>,
    /// nginx-proxy's `conf.d/` (proxy-wide `*.conf`). Default: `conf.d` next to the certificate directory.
    #[arg(global = true, long = "conf-dir", env = "CONF_DIR")]
    pub conf_dir: Option<PathBuf>,
    /// nginx-proxy's html root (`errors/50x.html`, per-site `errors/<host>/<code>.html`). Default: `html` next to the certificate directory.
    #[arg(global = true, long = "html-dir", env = "HTML_DIR")]
    pub html_dir: Option<PathBuf>,
    /// Site answering unknown hosts (nginx-proxy DEFAULT_HOST).
    #[arg(global = true, long, env = "DEFAULT_HOST")]
    pub default_host: Option<String>,
    /// Answer for hosts without a `/` location: `CODE [text|URL]` or `none` (DEFAULT_ROOT).
    #[arg(global = true, long, env = "DEFAULT_ROOT", default_value = "404")]
    pub default_root: String,
    /// redirect | noredirect | nohttp | nohttps (HTTPS_METHOD).
    #[arg(global = true, long, env = "HTTPS_METHOD", default_value = "redirect")]
    pub https_method: String,
    /// Strict-Transport-Security value, or `off` (HSTS).
    #[arg(global = true, long, env = "HSTS", default_value = "max-age=31536000")]
    pub hsts: String,
    /// TLS policy name (SSL_POLICY).
    #[arg(
        global = true,
        long,
        env = "SSL_POLICY",
        default_value = "Mozilla-Intermediate"
    )]
    pub ssl_policy: String,
    /// Whether default.crt may serve sites without their own certificate (TRUST_DEFAULT_CERT).
    #[arg(
        global = true,
        long,
        env = "TRUST_DEFAULT_CERT",
        default_value = "true"
    )]
    pub trust_default_cert: String,
    /// Serve HTTP instead of redirecting while a site has no certificate (ENABLE_HTTP_ON_MISSING_CERT).
    #[arg(
        global = true,
        long,
        env = "ENABLE_HTTP_ON_MISSING_CERT",
        default_value = "true"
    )]
    pub enable_http_on_missing_cert: String,
    /// Redirect status for non-GET methods: 301, 307 or 308 (NON_GET_REDIRECT).
    #[arg(global = true, long, env = "NON_GET_REDIRECT", default_value = "301")]
    pub non_get_redirect: String,
    /// true | false | legacy (ACME_HTTP_CHALLENGE_LOCATION).
    #[arg(
        global = true,
        long,
        env = "ACME_HTTP_CHALLENGE_LOCATION",
        default_value = "true"
    )]
    pub acme_http_challenge_location: String,
    /// Answer the ACME challenge path for hosts no site serves (ACME_HTTP_CHALLENGE_ACCEPT_UNKNOWN_HOST).
    #[arg(
        long,
        env = "ACME_HTTP_CHALLENGE_ACCEPT_UNKNOWN_HOST",
        default_value = "false"
    )]
    pub acme_http_challenge_accept_unknown_host: String,
    /// Offer HTTP/2 (ENABLE_HTTP2).
    #[arg(global = true, long, env = "ENABLE_HTTP2", default_value = "true")]
    pub enable_http2: String,
    /// Offer HTTP/3 on every site: QUIC on the HTTPS port, UDP (ENABLE_HTTP3).
    #[arg(global = true, long, env = "ENABLE_HTTP3", default_value = "false")]
    pub enable_http3: String,
    /// Also listen on IPv6: a `[::]` twin of each IPv4 listener (ENABLE_IPV6).
    #[arg(global = true, long, env = "ENABLE_IPV6", default_value = "false")]
    pub enable_ipv6: String,
    /// Every connection starts with a PROXY protocol v1/v2 header (ENABLE_PROXY_PROTOCOL).
    #[arg(
        global = true,
        long,
        env = "ENABLE_PROXY_PROTOCOL",
        default_value = "false"
    )]
    pub enable_proxy_protocol: String,
    /// Answer `/nginx-proxy-debug` on every site with its settings as JSON (DEBUG_ENDPOINT).
    #[arg(global = true, long, env = "DEBUG_ENDPOINT", default_value = "false")]
    pub debug_endpoint: String,
    /// Pass client X-Forwarded-* headers through (TRUST_DOWNSTREAM_PROXY).
    #[arg(global = true, long, env = "TRUST_DOWNSTREAM_PROXY")]
    pub trust_downstream_proxy: Option<String>,
    /// Disable per-request access logs (DISABLE_ACCESS_LOGS).
    #[arg(
        global = true,
        long,
        env = "DISABLE_ACCESS_LOGS",
        default_value = "false"
    )]
    pub disable_access_logs: String,
    /// Access logs as JSON (LOG_JSON).
    #[arg(global = true, long, env = "LOG_JSON", default_value = "false")]
    pub log_json: String,
    /// Access log line as an nginx `log_format` template (LOG_FORMAT); wins over LOG_JSON.
    #[arg(global = true, long, env = "LOG_FORMAT")]
    pub log_format: Option<String>,
    /// Escaping of the access log's values: default, json or none (LOG_FORMAT_ESCAPE).
    #[arg(global = true, long, env = "LOG_FORMAT_ESCAPE")]
    pub log_format_escape: Option<String>,
    /// Verify the certificates of VIRTUAL_PROTO=https backends (nginx does not).
    #[arg(
        global = true,
        long,
        env = "DOCKSIDE_VERIFY_UPSTREAM_TLS",
        default_value = "false"
    )]
    pub verify_upstream_tls: String,
    /// Maximum concurrent client connections.
    #[arg(
        global = true,
        long,
        env = "DOCKSIDE_MAX_CONNECTIONS",
        default_value_t = 10240
    )]
    pub max_connections: usize,
    /// Seconds a client may take to send its request head.
    #[arg(
        global = true,
        long,
        env = "DOCKSIDE_HEADER_TIMEOUT",
        default_value_t = 10
    )]
    pub header_timeout: u64,
    /// Seconds an idle keep-alive client connection is kept.
    #[arg(
        global = true,
        long,
        env = "DOCKSIDE_IDLE_TIMEOUT",
        default_value_t = 75
    )]
    pub idle_timeout: u64,
    /// Seconds to connect to a backend before answering 502.
    #[arg(
        global = true,
        long,
        env = "DOCKSIDE_CONNECT_TIMEOUT",
        default_value_t = 5
    )]
    pub connect_timeout: u64,
    /// Seconds to wait for a backend's response head before answering 504.
    #[arg(
        global = true,
        long,
        env = "DOCKSIDE_UPSTREAM_TIMEOUT",
        default_value_t = 60
    )]
    pub upstream_timeout: u64,
    /// Seconds in-flight requests get to finish on SIGTERM.
    #[arg(
        global = true,
        long,
        env = "DOCKSIDE_DRAIN_TIMEOUT",
        default_value_t = 30
    )]
    pub drain_timeout: u64,
    /// uwsgi: largest request body of unknown length (chunked, HTTP/2) spooled to learn its
    /// length, when the site sets no CLIENT_MAX_BODY_SIZE (nginx's client_max_body_size
    /// default); nginx size syntax, 0 = unlimited.
    #[arg(
        global = true,
        long,
        env = "DOCKSIDE_UWSGI_SPOOL_MAX",
        default_value = "1m"
    )]
    pub uwsgi_spool_max: String,
    /// uwsgi: memory all spooled request bodies may hold at once, process-wide; past it a body
    /// goes on in its (unlinked) spool file.
    #[arg(
        global = true,
        long,
        env = "DOCKSIDE_UWSGI_SPOOL_MEMORY",
        default_value = "16m"
    )]
    pub uwsgi_spool_memory: String,
    /// Admin listener (health, status, metrics); loopback by default.
    #[arg(
        global = true,
        long,
        env = "DOCKSIDE_ADMIN",
        default_value = "127.0.0.1:8099"
    )]
    pub admin: String,
    /// Prometheus `/metrics` on the admin listener: `on` or `off` (DOCKSIDE_METRICS).
    #[arg(global = true, long, env = "DOCKSIDE_METRICS", default_value = "on")]
    pub metrics: String,
    /// `--store` and its options (docs/shared-store.md).
    #[command(flatten)]
    pub store: StoreFlags,
}

/// Validated settings the program runs with: everything dockside reads from its flags and its
/// environment, read once (`from_sources`); what is off is `None`.
#[derive(Debug, Clone)]
pub struct Config {
    pub http: SocketAddr,
    pub https: Option<SocketAddr>,
    pub admin: Option<SocketAddr>,
    /// `DOCKSIDE_METRICS`: count requests for `/metrics` (needs the admin listener to be read).
    pub metrics: bool,
    /// Who may use the admin listener: `DOCKSIDE_ADMIN_TOKEN` (or `_FILE`),
    /// `DOCKSIDE_ADMIN_HTPASSWD`, `DOCKSIDE_METRICS_OPEN`.
    pub admin_auth: AdminAuth,
    /// `ENABLE_IPV6`: each IPv4 listener gets its IPv6 twin (`ipv6_twin`).
    pub ipv6: bool,
    /// `ENABLE_PROXY_PROTOCOL`: every HTTP and HTTPS connection must begin with a PROXY
    /// protocol header, whose source address becomes the client's.
    pub proxy_protocol: bool,
    pub routes: Option<PathBuf>,
    /// Docker discovery (`DOCKER_HOST` and docker-gen's names); `None` with `--docker-host off`.
    /// An embedder (or a test running beside others) scopes discovery with its
    /// `container_filters`, not a process-global variable.
    pub docker: Option<DockerSettings>,
    pub certs_dir: PathBuf,
    /// Where nginx-proxy's configuration files are read from (watched like certificates).
    pub nginx_dirs: NginxDirs,
    pub defaults: SiteDefaults,
    pub trust_downstream_proxy: bool,
    /// `TRUST_DOWNSTREAM_PROXY` was not set: warn at startup like nginx-proxy does.
    pub trust_downstream_proxy_defaulted: bool,
    pub access_log: AccessLog,
    pub verify_upstream_tls: bool,
    pub limits: Limits,
    /// Where uwsgi request bodies of unknown length spool (`TMPDIR`, else `/tmp`).
    pub spool_dir: PathBuf,
    /// acme-companion's proxy-level settings; `None` turns ACME off (tests, HTTPS off).
    pub acme: Option<AcmeGlobals>,
    /// `ACME_HTTP_CHALLENGE_ACCEPT_UNKNOWN_HOST`.
    pub acme_accept_unknown_host: bool,
    /// `FILES_UID`, `FILES_GID`, `FILES_PERMS`, `FOLDERS_PERMS`: what dockside writes into
    /// the certificate directory.
    pub cert_files: FileModes,
    /// `CREATE_DEFAULT_CERTIFICATE`: write a self-signed `default.crt` when there is none.
    pub create_default_certificate: bool,
    /// On-demand TLS (`ON_DEMAND_TLS` and its `ON_DEMAND_TLS_*` settings); `None` when off.
    pub on_demand: Option<OnDemandSettings>,
    /// OpenTelemetry traces (`OTEL_EXPORTER_OTLP_ENDPOINT` and the other standard `OTEL_*`
    /// names); `None` when off.
    pub traces: Option<TraceSettings>,
    /// `--store etcd://...`: ACME state shared with other replicas; `None`: this dockside alone.
    pub store: Option<StoreSettings>,
}

/// Timeouts and bounds of the data plane.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_connections: usize,
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
    pub connect_timeout: Duration,
    pub upstream_timeout: Duration,
    pub drain_timeout: Duration,
    /// Total request-head size before 431.
    pub max_header_bytes: usize,
    /// uwsgi: largest spooled body of unknown length when the site sets no
    /// `CLIENT_MAX_BODY_SIZE` (`None`: unlimited).
    pub uwsgi_spool_max: Option<u64>,
    /// uwsgi: bytes of spooled bodies held in memory at once, process-wide.
    pub uwsgi_spool_memory: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 10240,
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(75),
            connect_timeout: Duration::from_secs(5),
            upstream_timeout: Duration::from_secs(60),
            drain_timeout: Duration::from_secs(30),
            max_header_bytes: 64 * 1024,
            uwsgi_spool_max: Some(1 << 20),
            uwsgi_spool_memory: 16 << 20,
        }
    }
}

impl Config {
    /// The configuration from the parsed flags (which already hold their environment
    /// fallbacks) and `env`, the lookup for the variables without a flag (acme-companion's,
    /// docker-gen's, `HOSTNAME`, `TMPDIR`): the process environment in `main`, a map in tests.
    /// Nothing else in dockside reads the environment.
    pub fn from_sources(f: Flags, env: impl Fn(&str) -> Option<String>) -> anyhow::Result<Config> {
        let http = listen_addr("HTTP_PORT", &f.http)?;
        let https = off_or_listen("HTTPS_PORT", &f.https)?;
        let on_demand = OnDemandSettings::from_vars(&env)?;
        if on_demand.is_some() && https.is_none() {
            return Err(OnDemandSettingsError::NoAcme.into());
        }
        Ok(Config {
            http,
            https,
            admin: off_or_listen("DOCKSIDE_ADMIN", &f.admin)?,
            metrics: on_or_off("DOCKSIDE_METRICS", &f.metrics)?,
            admin_auth: AdminAuth::from_vars(&env).map_err(anyhow::Error::msg)?,
            ipv6: flag("ENABLE_IPV6", &f.enable_ipv6)?,
            proxy_protocol: flag("ENABLE_PROXY_PROTOCOL", &f.enable_proxy_protocol)?,
            docker: match f.docker_host.as_deref() {
                Some(v) if is_off(v) => None,
                _ => Some(DockerSettings::from_vars(&env, f.docker_host.clone())?),
            },
            defaults: SiteDefaults {
                listen: ListenPorts {
                    http: http.port(),
                    https: https.map(|a| a.port()),
                },
                ..site_defaults(&f)?
            },
            trust_downstream_proxy: match &f.trust_downstream_proxy {
                Some(v) => flag("TRUST_DOWNSTREAM_PROXY", v)?,
                None => true,
            },
            trust_downstream_proxy_defaulted: f.trust_downstream_proxy.is_none(),
            access_log: access_log(&f)?,
            verify_upstream_tls: flag("DOCKSIDE_VERIFY_UPSTREAM_TLS", &f.verify_upstream_tls)?,
            limits: limits(&f)?,
            // Like `std::env::temp_dir` on Unix.
            spool_dir: env("TMPDIR").map_or_else(|| PathBuf::from("/tmp"), PathBuf::from),
            acme: https.is_some().then(|| acme_globals(&env)),
            acme_accept_unknown_host: flag(
                "ACME_HTTP_CHALLENGE_ACCEPT_UNKNOWN_HOST",
                &f.acme_http_challenge_accept_unknown_host,
            )?,
            cert_files: cert_files(&env),
            create_default_certificate: match env("CREATE_DEFAULT_CERTIFICATE") {
                Some(v) if !v.trim().is_empty() => flag("CREATE_DEFAULT_CERTIFICATE", v.trim())?,
                _ => false,
            },
            on_demand,
            traces: TraceSettings::from_vars(&env)?,
            store: f
                .store
                .settings(env("HOSTNAME").as_deref().unwrap_or("dockside"))?,
            nginx_dirs: NginxDirs::beside(&f.certs_dir, &f),
            routes: f.routes,
            certs_dir: f.certs_dir,
        })
    }
}

/// nginx-proxy's configuration folders. By default they sit next to the certificate directory,
/// as in nginx-proxy's image (`/etc/nginx/{certs,vhost.d,htpasswd,conf.d}`); a local run with
/// `./certs` reads `./vhost.d` and so on. A folder that does not exist is simply empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NginxDirs {
    pub vhost_d: PathBuf,
    pub htpasswd: PathBuf,
    pub conf_d: PathBuf,
    pub html: PathBuf,
}

impl NginxDirs {
    fn beside(certs_dir: &std::path::Path, f: &Flags) -> NginxDirs {
        let parent = certs_dir
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(std::path::Path::new("."));
        let pick =
            |flag: &Option<PathBuf>, name: &str| flag.clone().unwrap_or_else(|| parent.join(name));
        NginxDirs {
            vhost_d: pick(&f.vhost_dir, "vhost.d"),
            htpasswd: pick(&f.htpasswd_dir, "htpasswd"),
            conf_d: pick(&f.conf_dir, "conf.d"),
            html: pick(&f.html_dir, "html"),
        }
    }
}

/// The per-site defaults nginx-proxy takes from its own environment.
fn site_defaults(f: &Flags) -> anyhow::Result<SiteDefaults> {
    Ok(SiteDefaults {
        default_host: f.default_host.clone().filter(|h| !h.trim().is_empty()),
        default_root: DefaultRoot::parse(&f.default_root).map_err(anyhow::Error::msg)?,
        https_method: parse_https_method(&f.https_method).map_err(anyhow::Error::msg)?,
        hsts: (!is_off(&f.hsts)).then(|| f.hsts.clone()),
        ssl_policy: f.ssl_policy.clone(),
        trust_default_cert: flag("TRUST_DEFAULT_CERT", &f.trust_default_cert)?,
        http2: flag("ENABLE_HTTP2", &f.enable_http2)?,
        http3: flag("ENABLE_HTTP3", &f.enable_http3)?,
        non_get_redirect: parse_redirect_status("NON_GET_REDIRECT", &f.non_get_redirect)
            .map_err(anyhow::Error::msg)?,
        enable_http_on_missing_cert: flag(
            "ENABLE_HTTP_ON_MISSING_CERT",
            &f.enable_http_on_missing_cert,
        )?,
        acme_http_challenge: parse_challenge_location(&f.acme_http_challenge_location)
            .map_err(anyhow::Error::msg)?,
        debug_endpoint: flag("DEBUG_ENDPOINT", &f.debug_endpoint)?,
        listen: ListenPorts::default(),
    })
}

/// `DISABLE_ACCESS_LOGS`, `LOG_JSON`, `LOG_FORMAT`, `LOG_FORMAT_ESCAPE`; the format is compiled
/// here, so an unknown variable stops the start.
fn access_log(f: &Flags) -> anyhow::Result<AccessLog> {
    Ok(AccessLog::from_settings(
        flag("DISABLE_ACCESS_LOGS", &f.disable_access_logs)?,
        flag("LOG_JSON", &f.log_json)?,
        f.log_format.as_deref(),
        f.log_format_escape.as_deref(),
    )?)
}

fn limits(f: &Flags) -> anyhow::Result<Limits> {
    Ok(Limits {
        max_connections: f.max_connections.max(1),
        header_timeout: Duration::from_secs(f.header_timeout),
        idle_timeout: Duration::from_secs(f.idle_timeout),
        connect_timeout: Duration::from_secs(f.connect_timeout),
        upstream_timeout: Duration::from_secs(f.upstream_timeout),
        drain_timeout: Duration::from_secs(f.drain_timeout),
        uwsgi_spool_max: parse_size("DOCKSIDE_UWSGI_SPOOL_MAX", &f.uwsgi_spool_max)
            .map_err(anyhow::Error::msg)?,
        uwsgi_spool_memory: parse_size("DOCKSIDE_UWSGI_SPOOL_MEMORY", &f.uwsgi_spool_memory)
            .map_err(anyhow::Error::msg)?
            .unwrap_or(u64::MAX),
        ..Limits::default()
    })
}

/// acme-companion's variables; problems are logged, never fatal (a bad key size falls back to
/// the default, as acme-companion does).
fn acme_globals(env: impl Fn(&str) -> Option<String>) -> AcmeGlobals {
    let (globals, warnings) = AcmeGlobals::from_vars(env);
    for w in warnings {
        tracing::warn!("{w}");
    }
    globals
}

/// `FILES_*`/`FOLDERS_PERMS`; a bad value keeps its default with a warning, as acme-companion's
/// own values are advisory.
fn cert_files(env: impl Fn(&str) -> Option<String>) -> FileModes {
    let (modes, warnings) = FileModes::from_vars(env);
    for w in warnings {
        tracing::warn!("{w}");
    }
    modes
}

fn flag(name: &str, value: &str) -> anyhow::Result<bool> {
    parse_bool(name, value).map_err(anyhow::Error::msg)
}

/// `on` / `off` (or a boolean) for a switch that is spelled like the listeners' `off`.
fn on_or_off(name: &str, value: &str) -> anyhow::Result<bool> {
    match value.trim() {
        v if v.eq_ignore_ascii_case("on") => Ok(true),
        v if is_off(v) => Ok(false),
        v => {
            parse_bool(name, v).map_err(|_| anyhow::anyhow!("{name}={v:?}: expected `on` or `off`"))
        }
    }
}

/// The spelling that turns a listener, Docker or HSTS off.
fn is_off(value: &str) -> bool {
    value.eq_ignore_ascii_case("off")
}

/// `off` → `None`, else the listen address.
fn off_or_listen(name: &str, value: &str) -> anyhow::Result<Option<SocketAddr>> {
    if is_off(value) {
        Ok(None)
    } else {
        listen_addr(name, value).map(Some)
    }
}

/// A bare port means all interfaces, like nginx's `listen 80`.
pub fn listen_addr(name: &str, value: &str) -> anyhow::Result<SocketAddr> {
    let v = value.trim();
    if let Ok(port) = v.parse::<u16>() {
        return Ok(SocketAddr::from(([0, 0, 0, 0], port)));
    }
    v.parse().with_context(|| {
        format!("{name}={v:?}: expected a port (8080) or an address (127.0.0.1:8080)")
    })
}

/// The IPv6 listener `ENABLE_IPV6` adds next to an IPv4 one, on the same port: the IPv4
/// wildcard gets `[::]`, IPv4 loopback gets `[::1]`; another IPv4 address has no IPv6
/// counterpart, and an IPv6 address is already what the user asked for (both `None`).
pub fn ipv6_twin(addr: SocketAddr) -> Option<SocketAddr> {
    let ip = match addr.ip() {
        IpAddr::V4(v4) if v4.is_unspecified() => Ipv6Addr::UNSPECIFIED,
        IpAddr::V4(v4) if v4.is_loopback() => Ipv6Addr::LOCALHOST,
        _ => return None,
    };
    Some(SocketAddr::new(IpAddr::V6(ip), addr.port()))
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
