//! The route report `dockside check` prints and `/status` serves: every site with its paths
//! and backends, then every item that is not routed and why — the answers to nginx-proxy
//! users' "why 503?" and "why 502?".

use std::fmt::Write;

use crate::model::{Backend, DesiredState, Health, Proto, Severity};
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
            "  HTTPS_METHOD={:?} HSTS={}",
            route.https_method,
            route.hsts.as_deref().unwrap_or("off")
        );
        for loc in &route.locations {
            let dest = if loc.dest.is_empty() {
                String::new()
            } else {
                format!(" → dest {}", loc.dest)
            };
            match &loc.action {
                Action::Forward(up) => {
                    let proto = match up.proto {
                        Proto::Http => "http",
                        Proto::Https => "https",
                        Proto::Uwsgi => "uwsgi",
                    };
                    let _ = writeln!(out, "  {}{dest}  {proto}", loc.raw_path);
                    if up.backends.is_empty() {
                        let _ = writeln!(out, "    (no eligible backend: requests get 503)");
                    }
                    for b in up.backends.iter().chain(&up.excluded) {
                        let _ = writeln!(out, "    {}", backend(b));
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
    out
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Reach, SourceItem};
    use crate::routing::SiteDefaults;
    use std::net::IpAddr;

    fn container(name: &str, vars: &[(&str, &str)], reach: Reach) -> SourceItem {
        SourceItem {
            name: name.into(),
            created: 1,
            vars: vars
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            reach,
        }
    }

    #[test]
    fn report_explains_every_item() {
        let ip = IpAddr::from([172, 18, 0, 2]);
        let items = vec![
            container(
                "web",
                &[("VIRTUAL_HOST", "a.tld")],
                Reach::Container {
                    ip,
                    exposed_ports: vec![8080],
                    health: Health::Unhealthy,
                },
            ),
            container(
                "api",
                &[
                    ("VIRTUAL_HOST", "a.tld"),
                    ("VIRTUAL_PATH", "/api/"),
                    ("VIRTUAL_PROTO", "uwsgi"),
                ],
                Reach::Unreachable("shares no network with dockside".into()),
            ),
            container(
                "typo",
                &[("VIRTUAL_HOST", "b.tld"), ("VIRTUAL_PORT", "eighty")],
                Reach::Container {
                    ip,
                    exposed_ports: vec![],
                    health: Health::None,
                },
            ),
            container(
                "db",
                &[],
                Reach::Container {
                    ip,
                    exposed_ports: vec![5432],
                    health: Health::None,
                },
            ),
        ];
        let state = crate::settings::build(&items);
        let text = render(&state, &RouteTable::build(&state, &SiteDefaults::default()));
        for needle in [
            "a.tld  (from api, web)",
            "172.18.0.2:8080  (web) [unhealthy: no traffic]",
            "/api/  uwsgi",
            "(no eligible backend: requests get 503)",
            "api: no backend for a.tld: shares no network with dockside",
            "typo: skipped: VIRTUAL_PORT=\"eighty\"",
            "db: no VIRTUAL_HOST: not routed",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
        }
    }
}
