//! The dashboard's sections, each writing HTML for one part of the admin model.

use std::fmt::Write;

use super::{esc, query_value};
use crate::admin::api::{
    AcmeView, BackendView, CertificateView, DockerState, Overview, SiteView, Traffic, Unrouted,
};

/// Top bar: name, version, when, and the Docker and ACME state at a glance.
pub(super) fn header(out: &mut String, view: &Overview) {
    let docker = match (&view.docker.enabled, view.docker.connected) {
        (false, _) => pill("none", "Docker off"),
        (true, true) => pill("ok", "Docker connected"),
        (true, false) => pill("bad", "Docker disconnected"),
    };
    let acme_failed = view
        .acme
        .certificates
        .iter()
        .filter(|c| c.state == "failed")
        .count();
    let acme = match (view.acme.enabled, acme_failed) {
        (false, _) => pill("none", "ACME off"),
        (true, 0) => pill("ok", "ACME ok"),
        (true, n) => pill("bad", &format!("ACME: {n} failing")),
    };
    let _ = write!(
        out,
        "<header><h1><a href=\"/\">dockside</a></h1><span class=\"meta\">v{} · updated {} · refreshes every {}s</span>{docker}{acme}</header>",
        esc(&view.version),
        esc(&clock(view.generated_at)),
        super::REFRESH_SECS,
    );
}

/// Everything: summary numbers, sites, unrouted items, certificates, ACME, Docker.
pub(super) fn overview(out: &mut String, view: &Overview) {
    let served = view.sites.iter().filter(|s| s.served).count();
    let warnings = view
        .unrouted
        .iter()
        .filter(|u| u.severity == "warning")
        .count();
    let _ = write!(
        out,
        "<div class=\"summary\"><div><b>{served}/{}</b><span>sites served</span></div>\
         <div><b>{}</b><span>backends</span></div><div><b>{warnings}</b><span>problems</span></div>\
         <div><b>{}</b><span>certificates</span></div><div><b>{}</b><span>total req/s</span></div></div>",
        view.sites.len(),
        view.sites
            .iter()
            .flat_map(|s| &s.locations)
            .map(|l| l.backends.len())
            .sum::<usize>(),
        view.certificates.len(),
        total_rate(&view.sites),
    );
    out.push_str("<h2>Sites</h2>");
    if view.sites.is_empty() {
        out.push_str(
            "<p class=\"empty\">No site: no container or routes-file entry sets VIRTUAL_HOST.</p>",
        );
    }
    for site in &view.sites {
        site_card(out, site, false);
    }
    unrouted(out, view.unrouted.iter());
    certificates(out, &view.certificates);
    acme(out, &view.acme);
    docker(out, view);
}

/// One site in full: its card with the settings open, and what was meant for it but is not routed.
pub(super) fn site_page(out: &mut String, view: &Overview, site: &SiteView) {
    let _ = write!(
        out,
        "<p class=\"dim\"><a href=\"/\">← overview</a></p><h2>Site {}</h2>",
        esc(&site.host)
    );
    site_card(out, site, true);
    unrouted(
        out,
        view.unrouted
            .iter()
            .filter(|u| u.hosts.contains(&site.host)),
    );
    let certs: Vec<CertificateView> = view
        .certificates
        .iter()
        .filter(|c| site.certificate.as_deref() == Some(c.name.as_str()))
        .cloned()
        .collect();
    certificates(out, &certs);
}

fn site_card(out: &mut String, site: &SiteView, open: bool) {
    let state = match &site.not_served {
        None => pill("ok", "served"),
        Some(_) => pill("bad", "not served"),
    };
    let cert = match &site.certificate {
        Some(name) => pill("info", &format!("TLS: {name}")),
        None => pill("none", "no certificate"),
    };
    let _ = write!(
        out,
        "<div class=\"card{}\"><div class=\"site-head\"><span class=\"host\"><a href=\"/?site={}\">{}</a></span>{state}{cert}\
         <span class=\"dim\">from {}</span><span class=\"rate\">{}</span></div>",
        if site.served { "" } else { " bad" },
        query_value(&site.host),
        esc(&site.host),
        esc(&site.sources.join(", ")),
        rate(site.traffic),
    );
    if let Some(why) = &site.not_served {
        let _ = write!(out, "<p class=\"reason\">{}</p>", esc(why));
    }
    if !site.locations.is_empty() {
        out.push_str(
            "<table><tr><th>path</th><th>to</th><th>backend</th><th>from</th><th>health</th></tr>",
        );
        for loc in &site.locations {
            let to = match loc.returns {
                Some(status) => format!("returns {status}"),
                None => {
                    let dest = if loc.dest.is_empty() {
                        String::new()
                    } else {
                        format!(" → {}", loc.dest)
                    };
                    format!("{}{dest} · {}", loc.proto, loc.balance)
                }
            };
            if loc.backends.is_empty() {
                let note = match loc.returns {
                    Some(_) => "",
                    None => "no backend: requests get 502/503",
                };
                let _ = write!(
                    out,
                    "<tr><td><code>{}</code></td><td>{}</td><td colspan=\"3\" class=\"reason\">{note}</td></tr>",
                    esc(&loc.path),
                    esc(&to)
                );
            }
            for (i, b) in loc.backends.iter().enumerate() {
                let (path, to) = match i {
                    0 => (format!("<code>{}</code>", esc(&loc.path)), esc(&to)),
                    _ => (String::new(), String::new()),
                };
                let _ = write!(
                    out,
                    "<tr><td>{path}</td><td>{to}</td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                    esc(&b.address),
                    esc(&b.source),
                    backend_health(b)
                );
            }
        }
        out.push_str("</table>");
    }
    match (open, site.settings.len()) {
        (_, 0) => {}
        // The overview links to the site's page: 1,000 sites × 16 settings would triple the page.
        (false, n) => {
            let _ = write!(
                out,
                "<p class=\"dim\"><a href=\"/?site={}\">effective settings ({n}) and sources →</a></p>",
                query_value(&site.host)
            );
        }
        (true, n) => settings_table(out, site, n),
    }
    out.push_str("</div>");
}

fn settings_table(out: &mut String, site: &SiteView, n: usize) {
    let _ = write!(
        out,
        "<h3 class=\"dim\">effective settings ({n})</h3><table><tr><th>setting</th><th>value</th><th>from</th></tr>"
    );
    for s in &site.settings {
        let from = match &s.source {
            Some(src) => format!(
                "{} <span class=\"dim\">({})</span>",
                esc(src),
                esc(&s.source_kind)
            ),
            None => "<span class=\"dim\">default</span>".to_owned(),
        };
        let _ = write!(
            out,
            "<tr><td><code>{}</code></td><td>{}</td><td>{from}</td></tr>",
            esc(&s.name),
            esc(&s.value)
        );
    }
    out.push_str("</table>");
}

fn backend_health(b: &BackendView) -> String {
    let docker = match b.health.as_str() {
        "healthy" => pill("ok", "healthy"),
        "starting" => pill("warn", "starting"),
        "unhealthy" => pill("bad", "unhealthy"),
        _ => pill("none", "no healthcheck"),
    };
    let passive = if b.passive_down {
        pill("bad", "refused: skipped")
    } else {
        String::new()
    };
    let eligible = if b.eligible {
        pill("ok", "in rotation")
    } else {
        pill("warn", "no traffic")
    };
    format!("{eligible} {docker} {passive}")
}

/// Items not routed, with the reason, warnings first.
pub(super) fn unrouted<'a>(out: &mut String, items: impl Iterator<Item = &'a Unrouted>) {
    let mut items: Vec<&Unrouted> = items.collect();
    items.sort_by_key(|u| u.severity != "warning");
    out.push_str("<h2>Not routed</h2>");
    if items.is_empty() {
        out.push_str("<p class=\"empty\">Every container and routes-file entry is routed.</p>");
        return;
    }
    out.push_str("<table><tr><th>item</th><th>kind</th><th>for</th><th>why</th></tr>");
    for u in items {
        let sev = match u.severity.as_str() {
            "warning" => pill("bad", "problem"),
            _ => pill("none", "ignored"),
        };
        let _ = write!(
            out,
            "<tr><td><b>{}</b></td><td>{}</td><td>{}</td><td>{sev} {}</td></tr>",
            esc(&u.source),
            esc(&u.kind),
            esc(&u.hosts.join(", ")),
            esc(&u.reason)
        );
    }
    out.push_str("</table>");
}

fn certificates(out: &mut String, certs: &[CertificateView]) {
    out.push_str("<h2>Certificates</h2>");
    if certs.is_empty() {
        out.push_str("<p class=\"empty\">No certificate.</p>");
        return;
    }
    out.push_str("<table><tr><th>name</th><th>covers</th><th>issuer</th><th>expires</th><th>source</th></tr>");
    for c in certs {
        let days = c.expires_in_seconds / 86_400;
        let expiry = match c.expires_in_seconds {
            s if s < 0 => pill("bad", "expired"),
            _ if days < 14 => pill("warn", &format!("in {days} days")),
            _ => pill("ok", &format!("in {days} days")),
        };
        let _ = write!(
            out,
            "<tr><td><code>{}</code></td><td>{}</td><td class=\"dim\">{}</td><td>{expiry} <span class=\"dim\">{}</span></td><td>{}</td></tr>",
            esc(&c.name),
            esc(&c.names.join(", ")),
            esc(c.issuer.as_deref().unwrap_or("?")),
            esc(&clock(c.not_after)),
            esc(&c.source)
        );
    }
    out.push_str("</table>");
}

fn acme(out: &mut String, acme: &AcmeView) {
    out.push_str("<h2>ACME</h2>");
    if !acme.enabled {
        out.push_str(
            "<p class=\"empty\">ACME is off: certificates come from the certificate directory.</p>",
        );
        return;
    }
    let _ = write!(
        out,
        "<p class=\"dim\">orders: {} started, {} succeeded, {} failed</p>",
        acme.orders_started, acme.orders_succeeded, acme.orders_failed
    );
    if acme.certificates.is_empty() {
        out.push_str(
            "<p class=\"empty\">No certificate wanted (no LETSENCRYPT_HOST / ACME_HOST).</p>",
        );
        return;
    }
    out.push_str(
        "<table><tr><th>certificate</th><th>state</th><th>renewal</th><th>last CA error</th></tr>",
    );
    for c in &acme.certificates {
        let state = match c.state.as_str() {
            "valid" => pill("ok", "valid"),
            "failed" => pill("bad", &format!("failed ×{}", c.failures)),
            other => pill("warn", other),
        };
        let renewal = match (c.renew_at, c.retry_in_seconds) {
            (Some(at), _) => format!("due {}", clock(at)),
            (None, Some(s)) => format!("retry in {s}s"),
            (None, None) => String::new(),
        };
        let _ = write!(
            out,
            "<tr><td><code>{}</code></td><td>{state}</td><td>{}</td><td class=\"reason\">{}</td></tr>",
            esc(&c.name),
            esc(&renewal),
            esc(c.last_error.as_deref().unwrap_or(""))
        );
    }
    out.push_str("</table>");
}

fn docker(out: &mut String, view: &Overview) {
    let d: &DockerState = &view.docker;
    out.push_str("<h2>Providers</h2><table>");
    if d.enabled {
        let state = match d.connected {
            true => pill("ok", "connected"),
            false => pill("bad", "disconnected"),
        };
        let _ = write!(
            out,
            "<tr><th>Docker engine</th><td><code>{}</code> {state}</td></tr>\
             <tr><th>containers</th><td>{}</td></tr><tr><th>events seen</th><td>{}</td></tr>\
             <tr><th>last full sync</th><td>{}</td></tr><tr><th>reconnects</th><td>{}</td></tr>",
            esc(d.endpoint.as_deref().unwrap_or("")),
            d.containers,
            d.events_seen,
            esc(&d.last_full_sync.map_or("never".to_owned(), clock)),
            d.reconnects,
        );
        if let Some(e) = &d.last_error {
            let _ = write!(
                out,
                "<tr><th>last error</th><td class=\"reason\">{}</td></tr>",
                esc(e)
            );
        }
    } else {
        out.push_str("<tr><th>Docker engine</th><td>off (DOCKER_HOST=off, or no socket)</td></tr>");
    }
    let r = &view.reloads;
    let _ = write!(
        out,
        "<tr><th>routes file reloads</th><td>{} ok, {} failed {}</td></tr><tr><th>nginx-proxy files reloads</th><td>{}</td></tr></table>",
        r.routes_file_ok,
        r.routes_file_failed,
        r.routes_file_error
            .as_deref()
            .map_or(String::new(), |e| format!(
                "<span class=\"reason\">{}</span>",
                esc(e)
            )),
        r.nginx_files_ok,
    );
}

fn pill(class: &str, text: &str) -> String {
    format!("<span class=\"pill {class}\">{}</span>", esc(text))
}

/// `12.5 req/s · 0.1 err/s`, or `–` without a traffic source.
fn rate(t: Option<Traffic>) -> String {
    match t {
        Some(t) => format!(
            "{:.1} req/s · {:.1} err/s",
            t.requests_per_second, t.errors_per_second
        ),
        None => "– req/s · – err/s".to_owned(),
    }
}

fn total_rate(sites: &[SiteView]) -> String {
    let rates: Vec<f64> = sites
        .iter()
        .filter_map(|s| s.traffic.map(|t| t.requests_per_second))
        .collect();
    if rates.is_empty() {
        "–".to_owned()
    } else {
        format!("{:.1}", rates.iter().sum::<f64>())
    }
}

/// Unix seconds as an HTTP date (UTC): readable, and no time-zone guess.
fn clock(unix: i64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(unix.max(0) as u64);
    httpdate::fmt_http_date(t)
}
