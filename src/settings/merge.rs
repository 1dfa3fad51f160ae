//! Merging contributions into sites: containers sharing a host (and path) are load-balanced;
//! when they disagree on a per-host or per-path setting the oldest container wins and a
//! warning names both (nginx-proxy leaves this to Go map order).

use std::collections::BTreeMap;

use super::item::{self, Contribution, Rejection};
use super::names::*;
use super::value::{
    parse_bool, parse_challenge_location, parse_https_method, parse_keepalive, parse_proto,
    parse_redirect_status, parse_size,
};
use crate::model::{Backend, DesiredState, Location, Severity, Site, Skipped, SourceItem};

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

/// Builds the desired state from every provider's items. Pure and deterministic: the same
/// items in any order give an equal state.
pub fn build(items: &[SourceItem]) -> DesiredState {
    let mut ordered: Vec<&SourceItem> = items.iter().collect();
    ordered.sort_by(|a, b| (a.created, &a.name).cmp(&(b.created, &b.name)));

    let mut skipped = Vec::new();
    let mut hosts: BTreeMap<String, HostAcc> = BTreeMap::new();
    for it in &ordered {
        let contribution = match item::parse(it) {
            Ok(c) => c,
            Err(Rejection::NotRouted) => {
                skipped.push(skip(
                    &it.name,
                    "no VIRTUAL_HOST: not routed".into(),
                    Severity::Info,
                ));
                continue;
            }
            Err(Rejection::Invalid(why)) => {
                skipped.push(skip(&it.name, format!("skipped: {why}"), Severity::Warning));
                continue;
            }
        };
        if let Some(why) = &contribution.unreachable {
            let hosts = contribution.hosts.join(",");
            skipped.push(skip(
                &it.name,
                format!("no backend for {hosts}: {why}"),
                Severity::Warning,
            ));
        }
        add(&mut hosts, &it.name, contribution, &mut skipped);
    }

    let certificates = super::acme::requests(&ordered, &mut skipped);
    let sites = hosts
        .into_iter()
        .map(|(host, acc)| site(host, acc))
        .collect();
    skipped.sort();
    skipped.dedup();
    DesiredState {
        sites,
        certificates,
        skipped,
    }
}

fn skip(source: &str, reason: String, severity: Severity) -> Skipped {
    Skipped {
        source: source.to_owned(),
        reason,
        severity,
    }
}

fn add(
    hosts: &mut BTreeMap<String, HostAcc>,
    source: &str,
    c: Contribution,
    skipped: &mut Vec<Skipped>,
) {
    let mut seen = Vec::new();
    for host in &c.hosts {
        if seen.contains(&host) {
            continue;
        }
        seen.push(host);
        let acc = hosts.entry(host.clone()).or_default();
        acc.sources.push(source.to_owned());
        claim(
            &mut acc.settings,
            &c.host_settings,
            source,
            &format!("host {host}"),
            skipped,
        );
        let path = acc.paths.entry(c.path.clone()).or_default();
        claim(
            &mut path.settings,
            &c.path_settings,
            source,
            &format!("{host}{}", c.path),
            skipped,
        );
        for b in &c.backends {
            if !path.backends.iter().any(|x| x.addr == b.addr) {
                path.backends.push(b.clone());
            }
        }
    }
}

/// First writer (the oldest item) wins; a different later value is a warning naming both.
fn claim(
    claimed: &mut Claimed,
    wanted: &BTreeMap<&'static str, String>,
    source: &str,
    what: &str,
    skipped: &mut Vec<Skipped>,
) {
    for (&name, value) in wanted {
        match claimed.get(name) {
            None => {
                claimed.insert(name, (value.clone(), source.to_owned()));
            }
            Some((kept, owner)) if kept != value && owner != source => skipped.push(skip(
                source,
                format!("{name} conflict on {what}: {owner} (oldest) sets {kept:?} and wins; {source} sets {value:?}, ignored"),
                Severity::Warning,
            )),
            Some(_) => {}
        }
    }
}

fn site(host: String, acc: HostAcc) -> Site {
    let s = |name: &str| acc.settings.get(name).map(|(v, _)| v.as_str());
    let bool_of = |name: &str| s(name).and_then(|v| parse_bool(name, v).ok());
    Site {
        host,
        locations: acc
            .paths
            .into_iter()
            .map(|(path, p)| location(path, p))
            .collect(),
        https_method: s(HTTPS_METHOD).and_then(|v| parse_https_method(v).ok()),
        hsts: s(HSTS).map(str::to_owned),
        ssl_policy: s(SSL_POLICY).map(str::to_owned),
        cert_name: s(CERT_NAME).map(str::to_owned),
        trust_default_cert: bool_of(LABEL_TRUST_DEFAULT_CERT),
        http2: bool_of(LABEL_HTTP2),
        non_get_redirect: s(LABEL_NON_GET_REDIRECT)
            .and_then(|v| parse_redirect_status(LABEL_NON_GET_REDIRECT, v).ok()),
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
        sources: acc.sources,
    }
}

fn location(path: String, mut acc: PathAcc) -> Location {
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
        path,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{BackendAddr, HttpsMethod, Proto, Reach};
    use crate::settings::test_support::{container_at, source_item};

    fn item(name: &str, created: i64, last_octet: u8, vars: &[(&str, &str)]) -> SourceItem {
        SourceItem {
            created,
            reach: container_at(last_octet, &[80]),
            ..source_item(name, vars)
        }
    }

    #[test]
    fn replicas_share_one_location() {
        let s = build(&[
            item("web2", 2, 3, &[("VIRTUAL_HOST", "a.tld")]),
            item("web1", 1, 2, &[("VIRTUAL_HOST", "a.tld")]),
            item("db", 0, 9, &[("POSTGRES_DB", "x")]),
        ]);
        assert_eq!(s.sites.len(), 1);
        assert_eq!(s.sites[0].sources, ["web1", "web2"]);
        assert_eq!(s.sites[0].locations[0].backends.len(), 2);
        assert_eq!(s.skipped.len(), 1);
        assert_eq!(
            (s.skipped[0].source.as_str(), s.skipped[0].severity),
            ("db", Severity::Info)
        );
    }

    #[test]
    fn order_of_items_does_not_matter() {
        let a = item(
            "web1",
            1,
            2,
            &[
                ("VIRTUAL_HOST", "a.tld,b.tld"),
                ("HTTPS_METHOD", "noredirect"),
            ],
        );
        let b = item(
            "web2",
            2,
            3,
            &[
                ("VIRTUAL_HOST", "a.tld"),
                ("HTTPS_METHOD", "nohttp"),
                ("VIRTUAL_PATH", "/x/"),
            ],
        );
        assert_eq!(build(&[a.clone(), b.clone()]), build(&[b, a]));
    }

    #[test]
    fn oldest_container_wins_conflicts_with_a_warning_naming_both() {
        let s = build(&[
            item(
                "young",
                20,
                3,
                &[
                    ("VIRTUAL_HOST", "a.tld"),
                    ("HTTPS_METHOD", "nohttp"),
                    ("VIRTUAL_PROTO", "https"),
                ],
            ),
            item(
                "old",
                10,
                2,
                &[
                    ("VIRTUAL_HOST", "a.tld"),
                    ("HTTPS_METHOD", "noredirect"),
                    ("VIRTUAL_PROTO", "http"),
                ],
            ),
        ]);
        let site = &s.sites[0];
        assert_eq!(site.https_method, Some(HttpsMethod::NoRedirect));
        assert_eq!(site.locations[0].proto, Proto::Http);
        let warnings: Vec<_> = s
            .skipped
            .iter()
            .filter(|k| k.severity == Severity::Warning)
            .collect();
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        for w in warnings {
            assert!(
                w.reason.contains("old") && w.reason.contains("young"),
                "{}",
                w.reason
            );
        }
    }

    #[test]
    fn a_bad_container_is_skipped_alone() {
        let s = build(&[
            item(
                "bad",
                1,
                2,
                &[("VIRTUAL_HOST", "a.tld"), ("VIRTUAL_PORT", "http")],
            ),
            item("good", 2, 3, &[("VIRTUAL_HOST", "a.tld")]),
        ]);
        assert_eq!(s.sites[0].locations[0].backends.len(), 1);
        assert_eq!(s.sites[0].locations[0].backends[0].source, "good");
        let w = &s.skipped[0];
        assert_eq!(w.source, "bad");
        assert!(w.reason.contains("VIRTUAL_PORT=\"http\""), "{}", w.reason);
    }

    #[test]
    fn paths_split_locations_with_their_own_proto_and_dest() {
        let s = build(&[
            item(
                "api",
                1,
                2,
                &[
                    ("VIRTUAL_HOST", "a.tld"),
                    ("VIRTUAL_PATH", "/api/"),
                    ("VIRTUAL_DEST", "/"),
                    ("VIRTUAL_PROTO", "uwsgi"),
                ],
            ),
            item("web", 2, 3, &[("VIRTUAL_HOST", "a.tld")]),
        ]);
        let locs = &s.sites[0].locations;
        assert_eq!(
            locs.iter().map(|l| l.path.as_str()).collect::<Vec<_>>(),
            ["/", "/api/"]
        );
        assert_eq!((locs[1].proto, locs[1].dest.as_str()), (Proto::Uwsgi, "/"));
        assert_eq!(locs[0].proto, Proto::Http);
    }

    #[test]
    fn unreachable_container_makes_a_site_without_backend_and_says_why() {
        let mut it = item("lonely", 1, 2, &[("VIRTUAL_HOST", "a.tld")]);
        it.reach = Reach::Unreachable("shares no network with dockside".into());
        let s = build(&[it]);
        assert!(s.sites[0].locations[0].backends.is_empty());
        assert!(s.skipped[0].reason.contains("shares no network"));
    }

    #[test]
    fn routes_file_addresses_are_kept() {
        let it = SourceItem {
            reach: Reach::Addresses(vec![
                BackendAddr::Unix("/run/app.sock".into()),
                BackendAddr::Name {
                    host: "localhost".into(),
                    port: 8000,
                },
            ]),
            ..source_item("routes.toml site 1", &[("VIRTUAL_HOST", "a.tld")])
        };
        assert_eq!(build(&[it]).sites[0].locations[0].backends.len(), 2);
    }
}
