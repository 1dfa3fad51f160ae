//! A site policy as plain data: what the settings (env / label / routes file) and nginx-proxy's
//! files (`vhost.d/`, `htpasswd/`, `conf.d/`, `html/errors/`) asked for, compared with `Eq` like the
//! rest of the `DesiredState`. Parsed values only: a setting that does not parse never gets here
//! (it is reported where it was read). The data plane compiles it once per route-table build.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

/// Everything a site (or one of its locations) may add to the plain proxying. `Policy::default()`
/// is "no policy": the data plane skips every step for it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Hash)]
pub struct Policy {
    /// nginx `allow` / `deny`: first match wins; no match allows (as nginx). Empty: everyone.
    pub access: Vec<AccessRule>,
    /// nginx `auth_basic` + `auth_basic_user_file`.
    pub auth: Option<BasicAuth>,
    /// nginx `limit_req`: per client address.
    pub rate_limit: Option<RateLimit>,
    /// nginx `client_max_body_size`; `Some(u64::MAX)` is an explicit `0` (unlimited).
    pub max_body: Option<u64>,
    /// `proxy_connect_timeout` / `proxy_read_timeout` / `proxy_send_timeout`.
    pub timeouts: Timeouts,
    /// nginx `return CODE [TEXT|URL]`: answered without a backend.
    pub answer: Option<FixedAnswer>,
    /// `proxy_set_header` (set / remove on the request to the backend), in order.
    pub request_headers: Vec<HeaderOp>,
    /// `proxy_hide_header`, `add_header [always]`, `more_set_headers`, in order.
    pub response_headers: Vec<ResponseHeaderOp>,
    /// nginx `gzip on` and friends; `None`: off (nginx-proxy's default).
    pub compression: Option<Compression>,
    /// Bodies for the answers dockside itself produces, by status code (`html/errors/`).
    pub error_pages: BTreeMap<u16, ErrorPage>,
    /// Where each part came from, for `dockside check` (`auth` ← `htpasswd/a.test`,
    /// `access` ← `label NETWORK_ACCESS`, `response_headers` ← `vhost.d/a.test:3`, …).
    pub origins: Vec<Origin>,
}

/// One part of a policy and the setting or file line that set it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    /// The field: `access`, `auth`, `rate_limit`, `max_body`, `timeouts`, `answer`,
    /// `request_headers`, `response_headers`, `compression`, `error_pages`.
    pub part: &'static str,
    /// `env X` / `label X` / `routes-file X` / `vhost.d/a.test:3` / `htpasswd/a.test`.
    pub from: String,
}

impl Policy {
    /// Whether the data plane has anything to do for this policy.
    pub fn is_empty(&self) -> bool {
        self == &Policy::default()
    }

    /// Lays `top` over `self`: a part `top` sets replaces this one's, except header changes,
    /// which apply both (`self`'s first), and error pages, merged by code. Used for the
    /// precedence chain `conf.d` < `vhost.d` server < `vhost.d` location < settings.
    pub fn overlay(&mut self, top: &Policy) {
        if !top.access.is_empty() {
            self.access = top.access.clone();
        }
        if top.auth.is_some() {
            self.auth = top.auth.clone();
        }
        if top.rate_limit.is_some() {
            self.rate_limit = top.rate_limit;
        }
        if top.max_body.is_some() {
            self.max_body = top.max_body;
        }
        let t = &top.timeouts;
        self.timeouts.connect = t.connect.or(self.timeouts.connect);
        self.timeouts.read = t.read.or(self.timeouts.read);
        self.timeouts.send = t.send.or(self.timeouts.send);
        if top.answer.is_some() {
            self.answer = top.answer.clone();
        }
        self.request_headers
            .extend(top.request_headers.iter().cloned());
        self.response_headers
            .extend(top.response_headers.iter().cloned());
        if top.compression.is_some() {
            self.compression = top.compression.clone();
        }
        for (code, page) in &top.error_pages {
            self.error_pages.insert(*code, page.clone());
        }
        for origin in &top.origins {
            if !matches!(
                origin.part,
                "request_headers" | "response_headers" | "error_pages"
            ) {
                self.origins.retain(|o| o.part != origin.part);
            }
            self.origins.push(origin.clone());
        }
    }
}

/// One `allow` / `deny` line.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AccessRule {
    pub allow: bool,
    pub net: IpNet,
}

/// An address block; `prefix` 0 with `addr` unspecified is nginx's `all` (v4 and v6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpNet {
    pub addr: IpAddr,
    pub prefix: u8,
    /// nginx `all`: matches every address of either family.
    pub all: bool,
}

impl IpNet {
    /// nginx's `all`.
    pub const ALL: IpNet = IpNet {
        addr: IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
        prefix: 0,
        all: true,
    };
}

/// Basic authentication for a site or a location.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BasicAuth {
    /// `Restricted <host>` / `Restricted <host><path>` / `Restricted access` (nginx-proxy).
    pub realm: String,
    /// `(user, hash)` in file order; the hash in its htpasswd form (`$2y$…`, `$apr1$…`, `{SHA}…`).
    pub users: Vec<(String, String)>,
}

/// `rate` requests per second per client address, with `burst` extra requests queued (nginx
/// `limit_req zone=… burst=… nodelay`: the burst is served at once, the rest get 429).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RateLimit {
    /// Requests per minute × 1000 would be nginx's unit; we keep milli-requests per second.
    pub millirequests_per_second: u64,
    pub burst: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Timeouts {
    pub connect: Option<Duration>,
    pub read: Option<Duration>,
    pub send: Option<Duration>,
}

/// `return CODE [TEXT|URL]`. For 301/302/303/307/308 the text is the `Location`, and may use
/// `$scheme`, `$host`, `$request_uri` (expanded per request).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FixedAnswer {
    pub status: u16,
    pub text: Option<String>,
}

/// A request header change: `value: None` removes the header (nginx `proxy_set_header X "";`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HeaderOp {
    pub name: String,
    pub value: Option<String>,
}

/// A response header change.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ResponseHeaderOp {
    /// `add_header NAME VALUE [always]`: added (not replacing) on 200/201/204/206/301/302/303/
    /// 304/307/308 answers, or on every answer with `always`.
    Add {
        name: String,
        value: String,
        always: bool,
    },
    /// `more_set_headers "NAME: VALUE"`: replaces, on every answer.
    Set { name: String, value: String },
    /// `proxy_hide_header NAME` / `more_clear_headers NAME`.
    Remove { name: String },
}

/// Response compression (nginx `gzip on`, `gzip_types`, `gzip_min_length`, plus br and zstd).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Compression {
    /// Codings offered, in the server's order of preference among equal client q-values.
    pub encodings: Vec<Encoding>,
    /// Media types compressed (`text/html` always, as nginx); `*` for every type.
    pub types: Vec<String>,
    /// Responses with a known `Content-Length` below this are sent as they are.
    pub min_length: u64,
    /// 1–9 (gzip scale; mapped to each coder's own range).
    pub level: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Encoding {
    Zstd,
    Brotli,
    Gzip,
}

impl Encoding {
    /// The `Content-Encoding` token.
    pub fn token(self) -> &'static str {
        match self {
            Encoding::Zstd => "zstd",
            Encoding::Brotli => "br",
            Encoding::Gzip => "gzip",
        }
    }
}

/// A page served as the body of an answer dockside produces.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ErrorPage {
    pub content_type: String,
    pub body: String,
}
