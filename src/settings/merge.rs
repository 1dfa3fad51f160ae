//! Merging contributions into sites: containers sharing a host (and path) are load-balanced;
//! when they disagree on a per-host or per-path setting the oldest container wins and a
//! warning names both (nginx-proxy leaves this to Go map order).

use std::collections::BTreeMap;

use super::item::{self, Contribution, Rejection};
use super::names::*;
use super::nginx::{self, NginxFiles};
use super::value::{
    parse_bool, parse_challenge_location, parse_https_method, parse_keepalive, parse_loadbalance,
    parse_port, parse_proto, parse_redirect_status, parse_root, parse_server_tokens, parse_size,
    parse_verify_client,
};
use crate::model::{
    Backend, CertRequest, DesiredState, ErrorPage, Location, Severity, Site, Skipped, SourceItem,
};
use crate::policy::{Origin, Policy};

/// A setting value and the item that set it first.
type Claimed = BTreeMap<&'static str, (String, String)>;

#[derive(Default)]
struct HostAcc {
    settings: Claimed,
    paths: BTreeMap<String, PathAcc>,
    sources: Vec<String>,
}

#[derive(Default)]
struct PathAcc {
    settings: Claimed,
    backends: Vec<Backend>,
}

/// Builds the desired state from every provider's items, without nginx-proxy files.
#[cfg(test)]
pub fn build(items: &[SourceItem]) -> DesiredState {
    build_with(items, &NginxFiles::default())
}

/// Builds the desired state from every provider's items and nginx-proxy's files. Pure and
/// deterministic: the same inputs in any order give an equal state. One-off: a caller that
/// builds again after each change keeps a `Merger`, which reuses what did not change.
pub fn build_with(items: &[SourceItem], files: &NginxFiles) -> DesiredState {
    super::merger::Merger::default().build(items.to_vec(), files)
}

/// What one item says by itself: its contributions, or why it has none, and the warnings about
/// it that do not depend on any other item.
#[derive(Debug)]
pub(super) struct ItemOutcome {
    pub(super) parsed: Option<item::Parsed>,
    /// Its `LETSENCRYPT_HOST` / `ACME_HOST` certificates, before the older items' win.
    pub(super) certificates: Vec<CertRequest>,
    pub(super) skipped: Vec<Skipped>,
}

impl ItemOutcome {
    pub(super) fn of(it: &SourceItem) -> ItemOutcome {
        let mut skipped = Vec::new();
        let parsed = match item::parse(it) {
            Ok(p) => {
                notes(&it.name, &p, &mut skipped);
                Some(p)
            }
            // A routes-file `[[certificate]]` is not meant to be routed: nothing to say.
            Err(Rejection::NotRouted) if it.vars.contains_key(STANDALONE_CERTIFICATE) => None,
            Err(Rejection::NotRouted) => {
                skipped.push(skip(
                    &it.name,
                    "no VIRTUAL_HOST: not routed".into(),
                    Severity::Info,
                ));
                None
            }
            Err(Rejection::Invalid(why)) => {
                let mut entry = skip(&it.name, format!("skipped: {why}"), Severity::Warning);
                entry.hosts = item::declared_hosts(it);
                skipped.push(entry);
                None
            }
        };
        let certificates = super::acme::item_requests(it, &mut skipped);
        ItemOutcome {
            parsed,
            certificates,
            skipped,
        }
    }
}

/// One host's site from its contributions, oldest item first (`source` names the item), with
/// the conflicts between them and the notes on nginx-proxy's files for it in `skipped`.
pub(super) fn host_site<'a>(
    host: &str,
    contributions: impl Iterator<Item = (&'a str, &'a Contribution)>,
    files: &NginxFiles,
    conf_d: &nginx::ProxyWide,
    skipped: &mut Vec<Skipped>,
) -> Site {
    let mut acc = HostAcc::default();
    for (source, c) in contributions {
        add(&mut acc, host, source, c, skipped);
    }
    with_files(site(host.to_owned(), acc), files, conf_d, skipped)
}

/// Lays the settings' policy of each location over what nginx-proxy's files give it (files <
/// settings), and reports the directives the files use that dockside does not apply.
fn with_files(
    mut site: Site,
    files: &NginxFiles,
    conf_d: &nginx::ProxyWide,
    skipped: &mut Vec<Skipped>,
) -> Site {
    let paths: Vec<&str> = site.locations.iter().map(|l| l.path.as_str()).collect();
    let resolved = nginx::resolve_with(files, conf_d, &site.host, &paths);
    for note in resolved.notes {
        // `file:line` is the entry's source; the reason says what (printed once, not twice).
        let source = match note.line {
            0 => note.file.clone(),
            line => format!("{}:{line}", note.file),
        };
        let reason = match note.directive.as_str() {
            "" => note.what.clone(),
            d => format!("{d}: {}", note.what),
        };
        skipped.push(skip(&source, reason, Severity::Warning));
    }
    let pages = site_pages(files, &site.host);
    let mut server = resolved.server;
    // `CLIENT_MAX_BODY_SIZE` is a setting and wins over a file's `client_max_body_size`
    // (docs/configuration.md); the file's value must not stay in the policy `check` prints.
    let setting_wins = |p: &mut Policy| {
        if site.client_max_body_size.is_some() {
            p.max_body = None;
            p.origins.retain(|o| o.part != "max_body");
        }
    };
    setting_wins(&mut server);
    server.overlay(&pages);
    for (location, mut base) in site.locations.iter_mut().zip(resolved.locations) {
        setting_wins(&mut base);
        base.overlay(&pages);
        base.overlay(&location.policy);
        location.policy = base;
    }
    site.policy = server;
    site
}

/// `html/errors/<host>/<code>.html`: the site's pages for the answers dockside writes.
fn site_pages(files: &NginxFiles, host: &str) -> Policy {
    let mut policy = Policy::default();
    let prefix = format!("{host}/");
    for (name, body) in files.error_pages.range(prefix.clone()..) {
        let Some(file) = name.strip_prefix(&prefix) else {
            break;
        };
        if let Some(code) = file
            .strip_suffix(".html")
            .and_then(|c| c.parse::<u16>().ok())
        {
            policy.error_pages.insert(code, html_page(body));
            policy.origins.push(Origin {
                part: "error_pages",
                from: format!("html/errors/{name}"),
            });
        }
    }
    policy
}

fn html_page(body: &str) -> ErrorPage {
    ErrorPage {
        content_type: "text/html; charset=utf-8".to_owned(),
        body: body.to_owned(),
    }
}

pub(super) fn skip(source: &str, reason: String, severity: Severity) -> Skipped {
    Skipped {
        source: source.to_owned(),
        reason,
        severity,
        hosts: Vec::new(),
    }
}

/// What an item contributes only partly, said once per item: no backend (with the hosts it
/// declares), MULTIPORTS keys that are ignored, a load-balancing mode dockside does not know.
fn notes(source: &str, parsed: &item::Parsed, skipped: &mut Vec<Skipped>) {
    let all = &parsed.contributions;
    if let Some(why) = all.iter().find_map(|c| c.unreachable.as_ref()) {
        let mut hosts: Vec<&str> = all
            .iter()
            .flat_map(|c| &c.hosts)
            .map(String::as_str)
            .collect();
        hosts.dedup();
        let mut entry = skip(
            source,
            format!("no backend for {}: {why}", hosts.join(",")),
            Severity::Warning,
        );
        entry.hosts = hosts.iter().map(|h| (*h).to_owned()).collect();
        skipped.push(entry);
    }
    for key in &parsed.ignored {
        skipped.push(skip(
            source,
            format!("{VIRTUAL_HOST_MULTIPORTS}: {key} is ignored (paths start with /; a path takes port, proto and dest)"),
            Severity::Warning,
        ));
    }
    if let Some(why) = all
        .iter()
        .filter_map(|c| c.path_settings.get(LABEL_LOADBALANCE))
        .find_map(|v| parse_loadbalance(LABEL_LOADBALANCE, v).err())
    {
        skipped.push(skip(source, why, Severity::Warning));
    }
}

/// What contribution `c` of item `source` adds to `host` (one of `c.hosts`).
fn add(acc: &mut HostAcc, host: &str, source: &str, c: &Contribution, skipped: &mut Vec<Skipped>) {
    // A MULTIPORTS item adds one contribution per path of a host: name it once.
    if acc.sources.last().is_none_or(|s| s != source) {
        acc.sources.push(source.to_owned());
    }
    claim(
        &mut acc.settings,
        &c.host_settings,
        source,
        || format!("host {host}"),
        skipped,
    );
    let path = acc.paths.entry(c.path.clone()).or_default();
    claim(
        &mut path.settings,
        &c.path_settings,
        source,
        || format!("{host}{}", c.path),
        skipped,
    );
    for b in &c.backends {
        if !path.backends.iter().any(|x| x.addr == b.addr) {
            path.backends.push(b.clone());
        }
    }
}

/// First writer (the oldest item) wins; a different later value is a warning naming both.
/// `what` names the host or location, written only for a warning (not once per item: with
/// 10,000 sites that was a tenth of a rebuild).
fn claim(
    claimed: &mut Claimed,
    wanted: &BTreeMap<&'static str, String>,
    source: &str,
    what: impl Fn() -> String,
    skipped: &mut Vec<Skipped>,
) {
    for (&name, value) in wanted {
        match claimed.get(name) {
            None => {
                claimed.insert(name, (value.clone(), source.to_owned()));
            }
            Some((kept, owner)) if kept != value && owner != source => skipped.push(skip(
                source,
                format!("{name} conflict on {}: {owner} (oldest) sets {kept:?} and wins; {source} sets {value:?}, ignored", what()),
                Severity::Warning,
            )),
            Some(_) => {}
        }
    }
}

fn site(host: String, acc: HostAcc) -> Site {
    let s = |name: &str| acc.settings.get(name).map(|(v, _)| v.as_str());
    let bool_of = |name: &str| s(name).and_then(|v| parse_bool(name, v).ok());
    let locations = acc
        .paths
        .into_iter()
        .map(|(path, p)| location(&host, path, p))
        .collect();
    // MULTIPORTS wins for the whole vhost over `EXTERNAL_*_PORT` (nginx-proxy §1.6.1): its
    // first container sets both (`default`: the global port).
    let multiports_ports = s(MULTIPORTS_EXTERNAL_HTTP_PORT).map(|_| {
        let port = |name: &str| s(name).and_then(|v| v.parse::<u16>().ok());
        (
            port(MULTIPORTS_EXTERNAL_HTTP_PORT),
            port(MULTIPORTS_EXTERNAL_HTTPS_PORT),
        )
    });
    let mut site = Site {
        host,
        locations,
        https_method: s(HTTPS_METHOD).and_then(|v| parse_https_method(v).ok()),
        hsts: s(HSTS).map(str::to_owned),
        ssl_policy: s(SSL_POLICY).map(str::to_owned),
        cert_name: s(CERT_NAME).map(str::to_owned),
        trust_default_cert: bool_of(LABEL_TRUST_DEFAULT_CERT),
        http2: bool_of(LABEL_HTTP2),
        http3: bool_of(LABEL_HTTP3),
        non_get_redirect: s(LABEL_NON_GET_REDIRECT)
            .and_then(|v| parse_redirect_status(LABEL_NON_GET_REDIRECT, v).ok()),
        ssl_verify_client: s(LABEL_SSL_VERIFY_CLIENT)
            .and_then(|v| parse_verify_client(LABEL_SSL_VERIFY_CLIENT, v).ok()),
        enable_http_on_missing_cert: bool_of(ENABLE_HTTP_ON_MISSING_CERT),
        acme_http_challenge: s(ACME_HTTP_CHALLENGE_LOCATION)
            .and_then(|v| parse_challenge_location(v).ok()),
        // An explicit `0` is "unlimited" and must stay distinct from "not set", which leaves
        // uwsgi's spool cap (DOCKSIDE_UWSGI_SPOOL_MAX) in force.
        client_max_body_size: s(CLIENT_MAX_BODY_SIZE).and_then(|v| {
            parse_size(CLIENT_MAX_BODY_SIZE, v)
                .ok()
                .map(|size| size.unwrap_or(u64::MAX))
        }),
        external_http_port: s(EXTERNAL_HTTP_PORT)
            .and_then(|v| parse_port(EXTERNAL_HTTP_PORT, v).ok()),
        external_https_port: s(EXTERNAL_HTTPS_PORT)
            .and_then(|v| parse_port(EXTERNAL_HTTPS_PORT, v).ok()),
        server_tokens: s(SERVER_TOKENS).and_then(|v| parse_server_tokens(v).ok()),
        debug_endpoint: bool_of(LABEL_DEBUG_ENDPOINT),
        root: s(VIRTUAL_ROOT).and_then(|v| parse_root(v).ok().map(str::to_owned)),
        policy: Default::default(),
        set_by: acc
            .settings
            .iter()
            .map(|(name, (_, source))| ((*name).to_owned(), source.clone()))
            .collect(),
        sources: acc.sources,
    };
    if let Some(ports) = multiports_ports {
        (site.external_http_port, site.external_https_port) = ports;
    }
    site
}

fn location(host: &str, path: String, mut acc: PathAcc) -> Location {
    let s = |name: &str| acc.settings.get(name).map(|(v, _)| v.as_str());
    acc.backends.sort();
    Location {
        dest: s(VIRTUAL_DEST).unwrap_or_default().to_owned(),
        proto: s(VIRTUAL_PROTO)
            .and_then(|v| parse_proto(v).ok())
            .unwrap_or_default(),
        keepalive: s(LABEL_KEEPALIVE)
            .map(|v| parse_keepalive(LABEL_KEEPALIVE, v).unwrap_or(true))
            .unwrap_or(true),
        backends: acc.backends,
        // An unknown mode was reported when its item was read (`notes`).
        balance: s(LABEL_LOADBALANCE)
            .and_then(|v| parse_loadbalance(LABEL_LOADBALANCE, v).ok())
            .unwrap_or_default(),
        policy: super::policy::build(&acc.settings, host, &path),
        path,
    }
}

#[cfg(test)]
#[path = "merge_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "merge_multiports_tests.rs"]
mod multiports_tests;
