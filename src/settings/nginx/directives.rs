//! The nginx directives people put in `vhost.d/` and `conf.d/` files → one `Level` of a site's
//! policy, every line it could not apply reported as a `Note`. Pure; `files.rs` joins the levels
//! with nginx-proxy's precedence.

use std::collections::BTreeMap;

pub(crate) use super::htpasswd::read_htpasswd;
use super::tokenize::Directive;
use super::values::{header_name, header_value, ip_net, size, timeout, variables};
use crate::policy::{
    AccessRule, FixedAnswer, HeaderOp, Origin, Policy, RateLimit, ResponseHeaderOp,
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
