//! The nginx directives people put in `vhost.d/` and `conf.d/` files → one `Level` of a site's
//! policy, every line it could not apply reported as a `Note`. Pure; `files.rs` joins the levels
//! with nginx-proxy's precedence.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use super::tokenize::Directive;
use crate::policy::{
    AccessRule, FixedAnswer, HeaderOp, IpNet, Origin, Policy, RateLimit, ResponseHeaderOp,
};

/// A line dockside read but did not apply (or applied differently), for `dockside check`,
/// `/status` and the log. Never holds a password.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Note {
    /// The file as nginx-proxy's layout names it: `vhost.d/a.test`, `conf.d/gzip.conf`.
    pub file: String,
    /// 1-based; 0 for the file as a whole.
    pub line: usize,
    /// The directive's name (empty for an `htpasswd` line).
    pub directive: String,
    /// `ignored`, or `ignored: <why>`, or what was done instead.
    pub what: String,
}

impl std::fmt::Display for Note {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.line, self.directive.as_str()) {
            (0, _) => write!(f, "{}: {}", self.file, self.what),
            (line, "") => write!(f, "{}:{line}: {}", self.file, self.what),
            (line, d) => write!(f, "{}:{line}: {d}: {}", self.file, self.what),
        }
    }
}

/// Where a file is included in nginx-proxy's configuration; decides which directives nginx
/// accepts in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Context {
    /// `conf.d/*.conf`: the `http {}` level, for every site.
    Http,
    /// `vhost.d/<host>` / `vhost.d/default`: inside the site's `server {}`.
    Server,
    /// `vhost.d/*_location`: inside a generated `location {}`.
    Location,
}

/// A value and the file line (or file) that set it, for `Origin`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Sourced<T> {
    pub value: T,
    pub from: String,
}

/// What one file asks for. nginx inherits `auth_basic` / `auth_basic_user_file` and the
/// `gzip*` directives one by one (a `gzip_types` in `conf.d` and a `gzip on` in `vhost.d`
/// combine), and `off` undoes an outer level, so those stay apart here until `files.rs` has
/// every level; everything else is already a `Policy` part.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Level {
    pub policy: Policy,
    /// `auth_basic "realm"` (`Some`) or `auth_basic off` (`None`).
    pub realm: Option<Sourced<Option<String>>>,
    /// `auth_basic_user_file`: the users, empty when the file is missing (nobody gets in).
    pub users: Option<Sourced<Vec<(String, String)>>>,
    pub gzip: Option<Sourced<bool>>,
    pub gzip_types: Option<Vec<String>>,
    pub gzip_min_length: Option<u64>,
    pub gzip_comp_level: Option<u32>,
}

/// What a file's directives may refer to outside the file.
pub(crate) struct Env<'a> {
    /// `limit_req_zone` rates from `conf.d`, in millirequests per second, by zone name.
    pub zones: &'a BTreeMap<String, u64>,
    /// `htpasswd/` by file name, for `auth_basic_user_file`.
    pub htpasswd: &'a BTreeMap<String, String>,
}

/// Reads one file's top-level directives.
pub(crate) fn read_level(
    file: &str,
    directives: &[Directive],
    context: Context,
    env: &Env<'_>,
) -> (Level, Vec<Note>) {
    let mut reader = Reader {
        file,
        context,
        env,
        level: Level::default(),
        lines: Vec::new(),
        notes: Vec::new(),
    };
    for d in directives {
        if let Err(what) = reader.directive(d) {
            reader.note(d, what);
        }
    }
    let Reader {
        mut level,
        lines,
        notes,
        ..
    } = reader;
    for (part, lines) in lines {
        let lines: Vec<String> = lines.iter().map(usize::to_string).collect();
        level.policy.origins.push(Origin {
            part,
            from: format!("{file}:{}", lines.join(",")),
        });
    }
    (level, notes)
}

/// `limit_req_zone` definitions in a `conf.d` file: zone name → millirequests per second.
/// Collected from every `conf.d` file before any `limit_req` is read (nginx does not mind
/// the order either).
pub(crate) fn read_zones(
    file: &str,
    directives: &[Directive],
    zones: &mut BTreeMap<String, u64>,
    notes: &mut Vec<Note>,
) {
    for d in directives.iter().filter(|d| d.name == "limit_req_zone") {
        let args: Vec<&str> = d.args.iter().map(String::as_str).collect();
        match zone(&args) {
            Ok((name, rate)) => {
                zones.insert(name, rate);
            }
            Err(what) => notes.push(note(file, d, what)),
        }
    }
}

/// `htpasswd` file lines `user:hash[:comment]`. Only hashes are accepted; a plain-text or
/// unknown entry is left out (so it can never log in) and reported by line and user, never
/// with the password.
pub(crate) fn read_htpasswd(
    file: &str,
    text: &str,
    notes: &mut Vec<Note>,
) -> Vec<(String, String)> {
    let mut users = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let mut refuse = |what: String| {
            notes.push(Note {
                file: file.to_owned(),
                line: i + 1,
                directive: String::new(),
                what,
            })
        };
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((user, rest)) = line.split_once(':').filter(|(u, _)| !u.is_empty()) else {
            refuse("ignored: not a user:hash line".into());
            continue;
        };
        let hash = rest.split(':').next().unwrap_or_default();
        match hash_kind(hash) {
            HashKind::Known => users.push((user.to_owned(), hash.to_owned())),
            HashKind::Unsupported => refuse(format!(
                "refused: user {user:?} has a hash scheme dockside does not verify \
                 (use bcrypt, $apr1$, $5$, $6$ or {{SHA}})"
            )),
            HashKind::Plain => refuse(format!(
                "refused: user {user:?} has a plain-text password (hash it, e.g. htpasswd -B)"
            )),
        }
    }
    users
}

enum HashKind {
    Known,
    Unsupported,
    Plain,
}

/// The schemes the issue asks for; anything else shaped like a hash (`$1$`, `{SSHA}`, …) is
/// unsupported, and the rest is taken for plain text.
fn hash_kind(hash: &str) -> HashKind {
    const KNOWN: [&str; 7] = ["$2y$", "$2b$", "$2a$", "$apr1$", "$5$", "$6$", "{SHA}"];
    if KNOWN
        .iter()
        .any(|p| hash.len() > p.len() && hash.starts_with(p))
    {
        HashKind::Known
    } else if (hash.starts_with('$') && hash[1..].contains('$')) || hash.starts_with('{') {
        HashKind::Unsupported
    } else {
        HashKind::Plain
    }
}

fn note(file: &str, d: &Directive, what: String) -> Note {
    Note {
        file: file.to_owned(),
        line: d.line,
        directive: d.name.clone(),
        what,
    }
}

struct Reader<'a> {
    file: &'a str,
    context: Context,
    env: &'a Env<'a>,
    level: Level,
    /// The lines that set each policy part, in the order parts first appear.
    lines: Vec<(&'static str, Vec<usize>)>,
    notes: Vec<Note>,
}

type Applied = Result<(), String>;

const IGNORED: &str = "ignored";

impl Reader<'_> {
    fn note(&mut self, d: &Directive, what: String) {
        self.notes.push(note(self.file, d, what));
    }

    fn set(&mut self, part: &'static str, line: usize) {
        match self.lines.iter_mut().find(|(p, _)| *p == part) {
            Some((_, lines)) => lines.push(line),
            None => self.lines.push((part, vec![line])),
        }
    }

    fn from(&self, d: &Directive) -> String {
        format!("{}:{}", self.file, d.line)
    }

    fn directive(&mut self, d: &Directive) -> Applied {
        if d.block.is_some() {
            // `location`, `if`, `server`, `map`, `upstream`, …: the whole block.
            return Err(IGNORED.into());
        }
        let args: Vec<&str> = d.args.iter().map(String::as_str).collect();
        let p = &mut self.level.policy;
        let part = match (d.name.as_str(), &args[..]) {
            ("client_max_body_size", [v]) => {
                let size = size(v).ok_or_else(|| format!("ignored: {v:?} is not a size"))?;
                p.max_body = Some(if size == 0 { u64::MAX } else { size });
                "max_body"
            }
            ("proxy_connect_timeout", [v]) => {
                p.timeouts.connect = Some(timeout(v)?);
                "timeouts"
            }
            ("proxy_read_timeout", [v]) => {
                p.timeouts.read = Some(timeout(v)?);
                "timeouts"
            }
            ("proxy_send_timeout", [v]) => {
                p.timeouts.send = Some(timeout(v)?);
                "timeouts"
            }
            ("add_header", [name, value, rest @ ..]) if rest.len() <= 1 => {
                let always = match rest {
                    [] => false,
                    ["always"] => true,
                    _ => return Err(format!("ignored: {:?} is not \"always\"", rest[0])),
                };
                if !value.is_empty() {
                    // nginx adds nothing for an empty value.
                    header_name(name)?;
                    header_value(value)?;
                    p.response_headers.push(ResponseHeaderOp::Add {
                        name: (*name).into(),
                        value: (*value).into(),
                        always,
                    });
                }
                "response_headers"
            }
            ("more_set_headers", [_, ..]) => {
                p.response_headers.extend(more_set_headers(&args)?);
                "response_headers"
            }
            ("more_clear_headers", [_, ..]) => {
                p.response_headers.extend(more_clear_headers(&args)?);
                "response_headers"
            }
            ("proxy_hide_header", [name]) => {
                header_name(name)?;
                p.response_headers.push(ResponseHeaderOp::Remove {
                    name: (*name).into(),
                });
                "response_headers"
            }
            ("proxy_set_header", [name, value]) => {
                header_name(name)?;
                header_value(value)?;
                p.request_headers.push(HeaderOp {
                    name: (*name).into(),
                    value: (!value.is_empty()).then(|| (*value).into()),
                });
                "request_headers"
            }
            ("allow" | "deny", [net]) => {
                let net = ip_net(net)?;
                p.access.push(AccessRule {
                    allow: d.name == "allow",
                    net,
                });
                "access"
            }
            ("return", _) if self.context == Context::Http => {
                return Err("ignored: not allowed at the http level (conf.d)".into());
            }
            ("return", [_] | [_, _]) => {
                p.answer = Some(answer(&args)?);
                "answer"
            }
            ("limit_req", [_, ..]) if args.len() <= 3 => {
                p.rate_limit = Some(limit_req(&args, self.env.zones)?);
                "rate_limit"
            }
            ("limit_req_zone", _) if self.context == Context::Http => return Ok(()),
            ("limit_req_zone", _) => {
                return Err("ignored: limit_req_zone belongs in conf.d".into());
            }
            ("auth_basic", [realm]) => {
                let realm = (*realm != "off").then(|| (*realm).to_owned());
                self.level.realm = Some(Sourced {
                    value: realm,
                    from: self.from(d),
                });
                return Ok(());
            }
            ("auth_basic_user_file", [path]) => return self.user_file(d, path),
            ("gzip", [on @ ("on" | "off")]) => {
                self.level.gzip = Some(Sourced {
                    value: *on == "on",
                    from: self.from(d),
                });
                return Ok(());
            }
            ("gzip_types", [_, ..]) => {
                self.level.gzip_types = Some(args.iter().map(|t| (*t).to_owned()).collect());
                return Ok(());
            }
            ("gzip_min_length", [v]) => {
                let n = size(v).ok_or_else(|| format!("ignored: {v:?} is not a size"))?;
                self.level.gzip_min_length = Some(n);
                return Ok(());
            }
            ("gzip_comp_level", [v]) => {
                let n = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=9).contains(n))
                    .ok_or_else(|| format!("ignored: {v:?} is not a level from 1 to 9"))?;
                self.level.gzip_comp_level = Some(n);
                return Ok(());
            }
            (
                "client_max_body_size"
                | "proxy_connect_timeout"
                | "proxy_read_timeout"
                | "proxy_send_timeout"
                | "add_header"
                | "more_set_headers"
                | "more_clear_headers"
                | "proxy_hide_header"
                | "proxy_set_header"
                | "allow"
                | "deny"
                | "return"
                | "limit_req"
                | "auth_basic"
                | "auth_basic_user_file"
                | "gzip"
                | "gzip_types"
                | "gzip_min_length"
                | "gzip_comp_level",
                _,
            ) => return Err("ignored: wrong number of arguments or bad value".into()),
            _ => return Err(IGNORED.into()),
        };
        self.set(part, d.line);
        Ok(())
    }

    /// `auth_basic_user_file PATH`, found by its file name in the `htpasswd/` snapshot (the
    /// only folder dockside reads users from). A missing file still protects the site: with
    /// no users, nobody is let in (nginx would answer 500).
    fn user_file(&mut self, d: &Directive, path: &str) -> Applied {
        let name = match path.rsplit_once('/') {
            Some((dir, name)) if dir == "htpasswd" || dir.ends_with("/htpasswd") => name,
            _ => path,
        };
        let file = format!("htpasswd/{name}");
        let users = match self.env.htpasswd.get(name) {
            Some(text) if !name.is_empty() => read_htpasswd(&file, text, &mut self.notes),
            _ => {
                self.note(
                    d,
                    format!("{path:?} is not a file in htpasswd/: nobody can log in"),
                );
                Vec::new()
            }
        };
        self.level.users = Some(Sourced {
            value: users,
            from: format!("{} ({file})", self.from(d)),
        });
        Ok(())
    }
}

/// nginx size syntax (`ngx_parse_offset`): bytes, or a `k`/`m`/`g` suffix in either case.
pub(crate) fn size(v: &str) -> Option<u64> {
    let (digits, shift) = match v.as_bytes().last()? {
        b'k' | b'K' => (&v[..v.len() - 1], 10),
        b'm' | b'M' => (&v[..v.len() - 1], 20),
        b'g' | b'G' => (&v[..v.len() - 1], 30),
        _ => (v, 0),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u64>().ok()?.checked_mul(1 << shift)
}

/// nginx time syntax (`ngx_parse_time`): `500ms`, `30s`, `1m`, `1h30m`, `1d`, `1w`, `1M`,
/// `1y`, units largest first, each at most once; a bare number is seconds.
pub(crate) fn time(v: &str) -> Option<Duration> {
    const UNITS: [(&str, u64); 8] = [
        ("y", 365 * 86_400_000),
        ("M", 30 * 86_400_000),
        ("w", 7 * 86_400_000),
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("ms", 1),
        ("m", 60_000),
        ("s", 1000),
    ];
    let mut rest = v.trim_start_matches(' ');
    let mut last_scale = u64::MAX;
    let mut total: u64 = 0;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let n: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let (unit, scale) = UNITS
            .iter()
            .find(|(u, _)| rest.starts_with(u))
            .map_or(("", 1000), |(u, s)| (*u, *s));
        if unit.is_empty() && !rest.trim_start_matches(' ').is_empty() {
            return None;
        }
        if scale >= last_scale {
            return None;
        }
        last_scale = scale;
        total = total.checked_add(n.checked_mul(scale)?)?;
        rest = rest[unit.len()..].trim_start_matches(' ');
    }
    Some(Duration::from_millis(total))
}

fn timeout(v: &str) -> Result<Duration, String> {
    time(v)
        .filter(|t| !t.is_zero())
        .ok_or_else(|| format!("ignored: {v:?} is not a time such as 30s, 1m or 500ms"))
}

fn header_name(name: &str) -> Applied {
    http::HeaderName::from_bytes(name.as_bytes())
        .map(drop)
        .map_err(|_| format!("ignored: {name:?} is not a header name"))
}

/// A value dockside sends as written: it must be a valid header value, and must not use
/// nginx variables (`$remote_addr`, …), which dockside does not expand.
fn header_value(value: &str) -> Applied {
    if let Some(var) = variable(value) {
        return Err(format!(
            "ignored: uses the nginx variable ${var}, which dockside does not expand"
        ));
    }
    http::HeaderValue::from_str(value)
        .map(drop)
        .map_err(|_| format!("ignored: {value:?} is not a header value"))
}

/// The first nginx variable in `s` (`$name` or `${name}`), if any.
fn variable(s: &str) -> Option<&str> {
    variables(s).next()
}

/// The nginx variables `s` uses, in order.
fn variables(s: &str) -> impl Iterator<Item = &str> {
    s.split('$').skip(1).filter_map(|after| {
        let name = after.strip_prefix('{').unwrap_or(after);
        let len = name
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
            .count();
        (len > 0).then(|| &name[..len])
    })
}

/// headers-more's `-s STATUS` / `-t TYPE` filters have no place in the policy: the line is
/// left out rather than applied more widely than written.
fn no_filters(args: &[&str]) -> Applied {
    match args.iter().find(|a| a.starts_with('-')) {
        Some(opt) => Err(format!("ignored: the {opt} filter is not supported")),
        None => Ok(()),
    }
}

/// `more_set_headers "Name: value" …`; `"Name:"` or `"Name"` clears the header.
fn more_set_headers(args: &[&str]) -> Result<Vec<ResponseHeaderOp>, String> {
    no_filters(args)?;
    let mut ops = Vec::new();
    for arg in args {
        let (name, value) = arg.split_once(':').unwrap_or((arg, ""));
        let (name, value) = (name.trim(), value.trim());
        header_name(name)?;
        if value.is_empty() {
            ops.push(ResponseHeaderOp::Remove { name: name.into() });
        } else {
            header_value(value)?;
            ops.push(ResponseHeaderOp::Set {
                name: name.into(),
                value: value.into(),
            });
        }
    }
    Ok(ops)
}

/// `more_clear_headers Name …` (wildcards such as `X-Hidden-*` are not supported).
fn more_clear_headers(args: &[&str]) -> Result<Vec<ResponseHeaderOp>, String> {
    no_filters(args)?;
    args.iter()
        .map(|name| {
            if name.contains('*') {
                return Err(format!(
                    "ignored: the wildcard in {name:?} is not supported"
                ));
            }
            header_name(name)?;
            Ok(ResponseHeaderOp::Remove {
                name: (*name).into(),
            })
        })
        .collect()
}

/// `allow` / `deny` operand: an address, a CIDR block (host bits cleared, as nginx does after
/// its warning), or `all`.
pub(crate) fn ip_net(v: &str) -> Result<IpNet, String> {
    let bad = || format!("ignored: {v:?} is not an address, a CIDR block or \"all\"");
    if v == "all" {
        return Ok(IpNet {
            addr: IpAddr::from([0, 0, 0, 0]),
            prefix: 0,
            all: true,
        });
    }
    let (addr, prefix) = match v.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (v, None),
    };
    let addr: IpAddr = addr.parse().map_err(|_| bad())?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        None => max,
        Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
            p.parse().ok().filter(|p| *p <= max).ok_or_else(bad)?
        }
        Some(_) => return Err(bad()),
    };
    let addr = match addr {
        IpAddr::V4(a) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::from((u32::from(a) & mask).to_be_bytes())
        }
        IpAddr::V6(a) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::from((u128::from(a) & mask).to_be_bytes())
        }
    };
    Ok(IpNet {
        addr,
        prefix,
        all: false,
    })
}

/// The variables dockside expands in a redirect's `Location` (see `FixedAnswer`).
const REDIRECT_VARIABLES: [&str; 3] = ["scheme", "host", "request_uri"];

/// `return CODE [TEXT|URL]` or `return URL` (302, as nginx).
fn answer(args: &[&str]) -> Result<FixedAnswer, String> {
    let is_url = |s: &str| {
        ["http://", "https://", "$scheme"]
            .iter()
            .any(|p| s.starts_with(p))
    };
    let (status, text) = match args {
        [url] if is_url(url) => (302, Some(*url)),
        [code] => (status(code)?, None),
        [code, text] => (status(code)?, Some(*text)),
        _ => return Err("ignored: wrong number of arguments".into()),
    };
    let redirect = matches!(status, 301 | 302 | 303 | 307 | 308);
    // Every variable, not just the first: `$scheme://$server_name$request_uri`.
    let unexpanded = text
        .into_iter()
        .flat_map(variables)
        .find(|var| !redirect || !REDIRECT_VARIABLES.contains(var));
    if let Some(var) = unexpanded {
        return Err(format!(
            "ignored: uses the nginx variable ${var}, which dockside does not expand here"
        ));
    }
    Ok(FixedAnswer {
        status,
        text: text.map(str::to_owned),
    })
}

fn status(code: &str) -> Result<u16, String> {
    match code.parse::<u16>() {
        Ok(444) => Err("ignored: 444 (close the connection) is not supported".into()),
        Ok(c) if (200..=599).contains(&c) && code.len() == 3 => Ok(c),
        _ => Err(format!(
            "ignored: {code:?} is not a status code from 200 to 599"
        )),
    }
}

/// `limit_req zone=NAME [burst=N] [nodelay|delay=N]`. dockside serves the burst at once
/// (nginx's `nodelay`); without it nginx would pace the burst instead.
fn limit_req(args: &[&str], zones: &BTreeMap<String, u64>) -> Result<RateLimit, String> {
    let mut zone = None;
    let mut burst = 0;
    for arg in args {
        if let Some(name) = arg.strip_prefix("zone=") {
            zone = Some(name);
        } else if let Some(n) = arg.strip_prefix("burst=") {
            burst = n
                .parse()
                .map_err(|_| format!("ignored: {n:?} is not a burst size"))?;
        } else if *arg != "nodelay" && !arg.starts_with("delay=") {
            return Err(format!("ignored: unknown parameter {arg:?}"));
        }
    }
    let zone = zone.ok_or("ignored: no zone=")?;
    let &rate = zones
        .get(zone)
        .ok_or_else(|| format!("ignored: no limit_req_zone {zone:?} in conf.d"))?;
    Ok(RateLimit {
        millirequests_per_second: rate,
        burst,
    })
}

/// `limit_req_zone KEY zone=NAME:SIZE rate=Nr/s|Nr/m [sync]` → (name, millirequests/s). Only
/// per-client keys mean what dockside does.
fn zone(args: &[&str]) -> Result<(String, u64), String> {
    let [key, rest @ ..] = args else {
        return Err("ignored: no key".into());
    };
    if !matches!(*key, "$binary_remote_addr" | "$remote_addr") {
        return Err(format!(
            "ignored: dockside limits per client address only, not by {key}"
        ));
    }
    let mut name = None;
    let mut rate = None;
    for arg in rest {
        if let Some(z) = arg.strip_prefix("zone=") {
            name = z.split(':').next().filter(|n| !n.is_empty());
        } else if let Some(r) = arg.strip_prefix("rate=") {
            let (n, per) = r
                .strip_suffix("r/s")
                .map(|n| (n, 1))
                .or_else(|| r.strip_suffix("r/m").map(|n| (n, 60)))
                .ok_or_else(|| format!("ignored: {r:?} is not a rate such as 10r/s or 30r/m"))?;
            let n: u64 = n
                .parse()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("ignored: {r:?} is not a rate such as 10r/s"))?;
            rate = Some((n.saturating_mul(1000) / per).max(1));
        } else if *arg != "sync" {
            return Err(format!("ignored: unknown parameter {arg:?}"));
        }
    }
    match (name, rate) {
        (Some(name), Some(rate)) => Ok((name.to_owned(), rate)),
        _ => Err("ignored: needs zone=NAME:SIZE and rate=".into()),
    }
}

#[cfg(test)]
#[path = "directives_tests.rs"]
mod tests;
