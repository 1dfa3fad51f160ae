//! `dockside routes`: the admin model as plain text for a terminal — sites → locations →
//! backends with health, then what is not routed and why, then the providers. Pure.

use std::fmt::Write;

use super::model::{Overview, SiteView};

/// The model as text, one site per block.
pub fn render(view: &Overview) -> String {
    let mut out = String::new();
    let served = view.sites.iter().filter(|s| s.served).count();
    let _ = writeln!(out, "{served}/{} site(s) served", view.sites.len());
    for site in &view.sites {
        site_block(&mut out, site);
    }
    if !view.unrouted.is_empty() {
        let _ = writeln!(out, "\nnot routed:");
        for u in &view.unrouted {
            let hosts = match u.hosts.is_empty() {
                true => String::new(),
                false => format!(" (for {})", u.hosts.join(", ")),
            };
            let _ = writeln!(out, "  {} [{}]{hosts}: {}", u.source, u.kind, u.reason);
        }
    }
    let d = &view.docker;
    let docker = match (d.enabled, d.connected) {
        (false, _) => "off".to_owned(),
        (true, connected) => format!(
            "{} {}, {} container(s), {} event(s) seen",
            d.endpoint.as_deref().unwrap_or(""),
            if connected {
                "connected"
            } else {
                "DISCONNECTED"
            },
            d.containers,
            d.events_seen
        ),
    };
    let _ = writeln!(out, "\nDocker: {docker}");
    if let Some(e) = &d.last_error {
        let _ = writeln!(out, "  last error: {e}");
    }
    out
}

fn site_block(out: &mut String, site: &SiteView) {
    let rate = site.traffic.map_or(String::new(), |t| {
        format!(
            "  {:.1} req/s, {:.1} err/s",
            t.requests_per_second, t.errors_per_second
        )
    });
    let cert = site
        .certificate
        .as_deref()
        .map_or(String::new(), |c| format!("  certificate {c}"));
    let _ = writeln!(
        out,
        "\n{}  (from {}){cert}{rate}",
        site.host,
        site.sources.join(", ")
    );
    if let Some(why) = &site.not_served {
        let _ = writeln!(out, "  NOT SERVED: {why}");
        return;
    }
    for loc in &site.locations {
        match loc.returns {
            Some(status) => {
                let _ = writeln!(out, "  {}  returns {status}", loc.path);
            }
            None => {
                let _ = writeln!(out, "  {}  {} ({})", loc.path, loc.proto, loc.balance);
            }
        }
        for b in &loc.backends {
            let mut state = vec![b.health.clone()];
            if b.passive_down {
                state.push("refused recently: skipped".to_owned());
            }
            if !b.eligible {
                state.push("no traffic".to_owned());
            }
            let _ = writeln!(
                out,
                "    {}  ({})  [{}]",
                b.address,
                b.source,
                state.join(", ")
            );
        }
    }
    let set: Vec<String> = site
        .settings
        .iter()
        .filter_map(|s| {
            s.source
                .as_ref()
                .map(|from| format!("{}={} ← {from}", s.name, s.value))
        })
        .collect();
    if !set.is_empty() {
        let _ = writeln!(out, "  settings: {}", set.join("; "));
    }
}
