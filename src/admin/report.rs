//! The route report `dockside check` prints and `/status` serves: every site with its paths
//! and backends, then every item that is not routed and why — the answers to nginx-proxy
//! users' "why 503?" and "why 502?".

use std::fmt::Write;

use crate::live::Snapshot;
use crate::model::{
    Backend, Balance, DesiredState, Health, HttpsMethod, Reach, Severity, SourceItem, VerifyClient,
};
use crate::policy::{Policy, ResponseHeaderOp};
use crate::routing::{Action, RouteTable};

/// Renders the report. Pure, so it is tested on plain values.
pub fn render(state: &DesiredState, table: &RouteTable) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{} site(s)", state.sites.len());
    let rejected: std::collections::HashMap<_, _> = table.rejected.iter().cloned().collect();
    for site in &state.sites {
        let _ = writeln!(out, "\n{}  (from {})", site.host, site.sources.join(", "));
        if let Some(why) = rejected.get(&site.host) {
            let _ = writeln!(out, "  NOT SERVED: {why}");
            continue;
        }
        let Some(route) = table.sites().find(|r| r.host == site.host) else {
            continue;
        };
        let _ = writeln!(
            out,
            "  HTTPS_METHOD={} HSTS={}",
            https_method(route.https_method),
            route
                .hsts
                .as_ref()
                .and_then(|h| h.to_str().ok())
                .unwrap_or("off")
        );
        if let Some(line) = site_extras(route) {
            let _ = writeln!(out, "  {line}");
        }
        for loc in &route.locations {
            let dest = if loc.dest.is_empty() {
                String::new()
            } else {
                format!(" → dest {}", loc.dest)
            };
            match &loc.action {
                Action::Forward(up) => {
                    let proto = up.proto.as_str();
                    let balance = match up.balance {
                        Balance::RoundRobin => String::new(),
                        mode => format!("  loadbalance: {mode}"),
                    };
                    let root = match &up.root {
                        Some(root) => format!("  VIRTUAL_ROOT={root}"),
                        None => String::new(),
                    };
                    let _ = writeln!(out, "  {}{dest}  {proto}{root}{balance}", loc.raw_path);
                    if up.backends.is_empty() && up.excluded.is_empty() {
                        let _ = writeln!(
                            out,
                            "    (502: no reachable container — see problems below)"
                        );
                    } else if up.backends.is_empty() {
                        let _ = writeln!(
                            out,
                            "    (no healthy backend: requests get 503 until one passes its healthcheck)"
                        );
                    }
                    for b in up.backends.iter().chain(&up.excluded) {
                        let _ = writeln!(out, "    {}", backend(b));
                    }
                    if let Some(l) = site.locations.iter().find(|l| l.path == loc.raw_path) {
                        for line in policy_lines(&l.policy) {
                            let _ = writeln!(out, "    policy: {line}");
                        }
                    }
                }
                Action::Return(r) => {
                    let _ = writeln!(
                        out,
                        "  {}  returns {} (DEFAULT_ROOT)",
                        loc.raw_path,
                        r.status.as_u16()
                    );
                }
            }
        }
    }
    for (host, why) in table
        .rejected
        .iter()
        .filter(|(h, _)| !state.sites.iter().any(|s| &s.host == h))
    {
        let _ = writeln!(out, "\n{host}\n  NOT SERVED: {why}");
    }
    let not_routed: Vec<_> = state
        .skipped
        .iter()
        .filter(|s| s.severity == Severity::Warning)
        .collect();
    if !not_routed.is_empty() {
        let _ = writeln!(out, "\nproblems:");
        for s in not_routed {
            let _ = writeln!(out, "  {}: {}", s.source, s.reason);
        }
    }
    let ignored: Vec<_> = state
        .skipped
        .iter()
        .filter(|s| s.severity == Severity::Info)
        .collect();
    if !ignored.is_empty() {
        let _ = writeln!(out, "\nnot routed:");
        for s in ignored {
            let _ = writeln!(out, "  {}: {}", s.source, s.reason);
        }
    }
    if !state.certificates.is_empty() {
        let _ = writeln!(out, "\ncertificates wanted:");
        for c in &state.certificates {
            let _ = writeln!(out, "  {}  (from {})", c.hosts.join(", "), c.source);
        }
    }
    if !state.sites.is_empty() {
        out.push_str(LEGEND);
    }
    out
}

/// One line per part of a location's policy, with where it came from (setting, or file:line).
/// Never prints credentials: users are named, hashes are not.
pub fn policy_lines(p: &Policy) -> Vec<String> {
    let from = |part: &str| {
        let f: Vec<&str> = p
            .origins
            .iter()
            .filter(|o| o.part == part)
            .map(|o| o.from.as_str())
            .collect();
        if f.is_empty() {
            String::new()
        } else {
            format!("  ← {}", f.join(", "))
        }
    };
    let mut lines = Vec::new();
    if !p.access.is_empty() {
        let rules: Vec<String> = p
            .access
            .iter()
            .map(|r| {
                let verb = if r.allow { "allow" } else { "deny" };
                if r.net.all {
                    format!("{verb} all")
                } else {
                    format!("{verb} {}/{}", r.net.addr, r.net.prefix)
                }
            })
            .collect();
        lines.push(format!("access {}{}", rules.join("; "), from("access")));
    }
    if let Some(a) = &p.auth {
        let users: Vec<&str> = a.users.iter().map(|(u, _)| u.as_str()).collect();
        lines.push(format!(
            "basic auth realm {:?}, users {}{}",
            a.realm,
            users.join(", "),
            from("auth")
        ));
    }
    if let Some(r) = &p.rate_limit {
        lines.push(format!(
            "rate limit {}.{:03} r/s burst {}{}",
            r.millirequests_per_second / 1000,
            r.millirequests_per_second % 1000,
            r.burst,
            from("rate_limit")
        ));
    }
    if let Some(m) = p.max_body {
        lines.push(format!(
            "client_max_body_size {m} bytes{}",
            from("max_body")
        ));
    }
    let t = &p.timeouts;
    if t.connect.is_some() || t.read.is_some() || t.send.is_some() {
        let show = |d: Option<std::time::Duration>| d.map_or("-".to_owned(), |d| format!("{d:?}"));
        lines.push(format!(
            "timeouts connect {} read {} send {}{}",
            show(t.connect),
            show(t.read),
            show(t.send),
            from("timeouts")
        ));
    }
    if let Some(a) = &p.answer {
        lines.push(format!(
            "return {} {}{}",
            a.status,
            a.text.as_deref().unwrap_or(""),
            from("answer")
        ));
    }
    // Header changes add up across levels: each has its own origin, in order.
    let origins = |part: &'static str| {
        let mut it = p.origins.iter().filter(move |o| o.part == part);
        move || {
            it.next()
                .map_or(String::new(), |o| format!("  ← {}", o.from))
        }
    };
    let mut next = origins("request_headers");
    for h in &p.request_headers {
        let v = h.value.as_deref().unwrap_or("(removed)");
        lines.push(format!("request header {}: {v}{}", h.name, next()));
    }
    let mut next = origins("response_headers");
    for h in &p.response_headers {
        let op = match h {
            ResponseHeaderOp::Add {
                name,
                value,
                always,
            } => format!(
                "response header add {name}: {value}{}",
                if *always { " always" } else { "" }
            ),
            ResponseHeaderOp::Set { name, value } => format!("response header set {name}: {value}"),
            ResponseHeaderOp::Remove { name } => format!("response header remove {name}"),
        };
        lines.push(format!("{op}{}", next()));
    }
    if let Some(c) = &p.compression {
        let codings: Vec<&str> = c.encodings.iter().map(|e| e.token()).collect();
        lines.push(format!(
            "compression {} level {} min {} bytes, types {}{}",
            codings.join(","),
            c.level,
            c.min_length,
            c.types.join(" "),
            from("compression")
        ));
    }
    if !p.error_pages.is_empty() {
        let codes: Vec<String> = p.error_pages.keys().map(u16::to_string).collect();
        lines.push(format!(
            "error pages for {}{}",
            codes.join(", "),
            from("error_pages")
        ));
    }
    lines
}

/// The per-site settings that change where and how a site answers, when set: its extra ports
/// (`EXTERNAL_HTTP_PORT` / `EXTERNAL_HTTPS_PORT`: not served on the default ones),
/// `SERVER_TOKENS`, the debug endpoint and HTTP/3.
fn site_extras(route: &crate::routing::SiteRoute) -> Option<String> {
    let mut parts = Vec::new();
    if let Some(p) = route.external_http_port {
        parts.push(format!("EXTERNAL_HTTP_PORT={p} (HTTP only there)"));
    }
    if let Some(p) = route.external_https_port {
        parts.push(format!(
            "EXTERNAL_HTTPS_PORT={p} (HTTPS only there; redirects go to it)"
        ));
    }
    if let Some(tokens) = route.server_tokens {
        let (value, header) = match tokens {
            crate::model::ServerTokens::On => {
                ("on", concat!("dockside/", env!("CARGO_PKG_VERSION")))
            }
            crate::model::ServerTokens::Off => ("off", "dockside"),
        };
        parts.push(format!("SERVER_TOKENS={value} (Server: {header})"));
    }
    if route.debug_endpoint {
        parts.push("debug endpoint /nginx-proxy-debug".to_owned());
    }
    match (route.http3, route.external_https_port) {
        (true, None) => parts.push("HTTP/3 (QUIC on the HTTPS port, UDP; alt-svc)".to_owned()),
        (true, Some(_)) => {
            parts.push("HTTP/3 not served (QUIC is on the default HTTPS port only)".to_owned())
        }
        (false, _) => {}
    }
    (!parts.is_empty()).then(|| parts.join("  "))
}

/// `dockside check` and `/status`: per site, whether client certificates (mTLS) are required
/// or optional and from which CA file; empty when no site asks for one and none sets
/// `ssl_verify_client`. `live` joins the routes with the certificate directory.
pub fn client_cert_lines(live: &Snapshot) -> String {
    let mut lines = Vec::new();
    for site in live.routes().sites() {
        let auth = live.site_tls(site).and_then(|t| t.client_auth.as_ref());
        let line = match auth {
            Some(auth) => {
                let how = match auth.mode {
                    VerifyClient::On => "required",
                    VerifyClient::Optional => "optional (an invalid one gets 400)",
                    _ => "asked for, never refused (the backend judges X-SSL-Client-Verify)",
                };
                let crl = auth
                    .ca
                    .crl_file
                    .as_ref()
                    .map_or(String::new(), |f| format!(", CRL {}", f.display()));
                let broken = match (&auth.ca.problem, auth.ca.is_usable()) {
                    (Some(why), false) => {
                        format!("\n    CA UNUSABLE ({why}): every client certificate gets 400")
                    }
                    _ => String::new(),
                };
                format!(
                    "{}  {how} (ssl_verify_client={}), CA {}{crl}{broken}",
                    site.host,
                    auth.mode.as_str(),
                    auth.ca.ca_file.display()
                )
            }
            None if site.ssl_verify_client != VerifyClient::On => format!(
                "{}  none asked (ssl_verify_client={}{})",
                site.host,
                site.ssl_verify_client.as_str(),
                if site.ssl_verify_client == VerifyClient::Off {
                    ""
                } else {
                    ", but no <host>.ca.crt or ca.crt in the certificate directory"
                }
            ),
            None => continue,
        };
        lines.push(line);
    }
    if lines.is_empty() {
        return String::new();
    }
    let mut out = String::from("\nclient certificates (mTLS):\n");
    for line in lines {
        let _ = writeln!(out, "  {line}");
    }
    out
}

/// How to read the report when a site answers 503 or 502 (nginx-proxy users' top questions).
const LEGEND: &str = "\n503 = no site for that Host, or no eligible backend (see above: unhealthy or \
skipped containers).\n502 = no reachable container (it shares no network with dockside), or the \
backend refused or did not answer: the app is not listening on the port shown (set VIRTUAL_PORT) \
or is still starting.\n";

/// Containers that may cause a 502 without any error in the settings: several exposed ports
/// and no `VIRTUAL_PORT`, so port 80 is used (nginx-proxy §1.6.2). For `dockside check`,
/// which has the containers at hand.
pub fn port_hints(items: &[SourceItem]) -> String {
    let mut out = String::new();
    for item in items {
        let Reach::Container { exposed_ports, .. } = &item.reach else {
            continue;
        };
        if exposed_ports.len() < 2
            || !item.vars.contains_key("VIRTUAL_HOST")
            || item.vars.contains_key("VIRTUAL_PORT")
            // Its value gives each path's port.
            || item.vars.contains_key("VIRTUAL_HOST_MULTIPORTS")
        {
            continue;
        }
        let ports: Vec<String> = exposed_ports.iter().map(u16::to_string).collect();
        if out.is_empty() {
            out.push_str("\nport 80 assumed (a 502 means nothing listens there):\n");
        }
        let _ = writeln!(
            out,
            "  {}: exposes {} and sets no VIRTUAL_PORT, so port 80 is used — set VIRTUAL_PORT",
            item.name,
            ports.join(", ")
        );
    }
    out
}

/// The user's spelling of `HTTPS_METHOD`.
fn https_method(m: HttpsMethod) -> &'static str {
    match m {
        HttpsMethod::Redirect => "redirect",
        HttpsMethod::NoRedirect => "noredirect",
        HttpsMethod::NoHttp => "nohttp",
        HttpsMethod::NoHttps => "nohttps",
    }
}

fn backend(b: &Backend) -> String {
    let health = match b.health {
        Health::None => "",
        Health::Healthy => " [healthy]",
        Health::Starting => " [starting: no traffic while a healthy one exists]",
        Health::Unhealthy => " [unhealthy: no traffic]",
    };
    format!("{}  ({}){health}", b.addr, b.source)
}

/// The shared store's line on `/status` (`--store`): whether etcd answers, and what that
/// means for serving and ordering.
pub(crate) fn store_line(health: &crate::store::StoreHealth, replica: &str) -> String {
    let since = httpdate::fmt_http_date(health.since);
    if health.reachable {
        format!(
            "\nshared store: etcd {} reachable since {since} (replica {replica})\n",
            health.endpoints
        )
    } else {
        let error = health.error.as_deref().unwrap_or("unknown");
        format!(
            "\nshared store: etcd {} UNREACHABLE since {since}: {error} (replica {replica}); serving from the local certificate directory, placing no order, retrying\n",
            health.endpoints
        )
    }
}

#[cfg(test)]
#[path = "report_tests.rs"]
mod tests;
