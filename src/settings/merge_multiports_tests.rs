//! `VIRTUAL_HOST_MULTIPORTS` items merged with plain ones (nginx-proxy's test_multiports-merge
//! and test_multiports-invalid-syntax), and the `loadbalance` label's warning.

use super::*;
use crate::model::{BackendAddr, Balance, Proto, Reach};
use crate::settings::test_support::{container_at, source_item};

fn item(name: &str, created: i64, last_octet: u8, vars: &[(&str, &str)]) -> SourceItem {
    SourceItem {
        created,
        reach: container_at(last_octet, &[80]),
        ..source_item(name, vars)
    }
}

fn backends(loc: &Location) -> Vec<String> {
    loc.backends
        .iter()
        .map(|b| match &b.addr {
            BackendAddr::Tcp(a) => format!("{a} {}", b.source),
            other => other.to_string(),
        })
        .collect()
}

fn warnings(s: &DesiredState) -> Vec<String> {
    s.skipped
        .iter()
        .filter(|k| k.severity == Severity::Warning)
        .map(|k| format!("{}: {}", k.source, k.reason))
        .collect()
}

#[test]
fn multiports_and_plain_containers_share_one_backend_set() {
    let s = build(&[
        item("plain", 2, 3, &[("VIRTUAL_HOST", "a.tld")]),
        item(
            "multi",
            1,
            2,
            &[(
                "VIRTUAL_HOST_MULTIPORTS",
                "a.tld:\n  /: {port: 8080}\n  /admin/: {port: 9000}\nb.tld:\n",
            )],
        ),
    ]);
    assert_eq!(
        s.sites.iter().map(|x| x.host.as_str()).collect::<Vec<_>>(),
        ["a.tld", "b.tld"]
    );
    let a = &s.sites[0];
    assert_eq!(a.sources, ["multi", "plain"], "each source named once");
    assert_eq!(a.locations.len(), 2);
    assert_eq!(
        backends(&a.locations[0]),
        ["172.18.0.2:8080 multi", "172.18.0.3:80 plain"]
    );
    assert_eq!(backends(&a.locations[1]), ["172.18.0.2:9000 multi"]);
    assert_eq!(backends(&s.sites[1].locations[0]), ["172.18.0.2:80 multi"]);
    assert!(warnings(&s).is_empty(), "{:?}", warnings(&s));
}

#[test]
fn proto_dest_and_external_ports_are_set_once_by_the_oldest() {
    let s = build(&[
        item(
            "old-multi",
            1,
            2,
            &[(
                "VIRTUAL_HOST_MULTIPORTS",
                r#"{"a.tld": {"external_https_port": 8443, "/": {"proto": "https", "dest": "/app/"}}}"#,
            )],
        ),
        item(
            "young-multi",
            3,
            4,
            &[(
                "VIRTUAL_HOST_MULTIPORTS",
                r#"{"a.tld": {"external_https_port": 9443, "external_http_port": 8081, "/": {}}}"#,
            )],
        ),
        item(
            "young-plain",
            2,
            3,
            &[("VIRTUAL_HOST", "a.tld"), ("VIRTUAL_PROTO", "http")],
        ),
    ]);
    let a = &s.sites[0];
    assert_eq!(a.external_https_port, Some(8443));
    assert_eq!(
        a.external_http_port, None,
        "the oldest MULTIPORTS container sets both ports: `default` here"
    );
    let loc = &a.locations[0];
    assert_eq!((loc.proto, loc.dest.as_str()), (Proto::Https, "/app/"));
    assert_eq!(loc.backends.len(), 3);
    let w = warnings(&s);
    for needle in [
        "young-plain: VIRTUAL_PROTO conflict on a.tld/: old-multi (oldest) sets \"https\"",
        "young-multi: VIRTUAL_HOST_MULTIPORTS external_https_port conflict on host a.tld: old-multi (oldest) sets \"8443\"",
        "young-multi: VIRTUAL_HOST_MULTIPORTS external_http_port conflict on host a.tld: old-multi (oldest) sets \"default\" and wins; young-multi sets \"8081\", ignored",
        "young-multi: VIRTUAL_PROTO conflict on a.tld/",
        "young-multi: VIRTUAL_DEST conflict on a.tld/",
    ] {
        assert!(
            w.iter().any(|x| x.starts_with(needle)),
            "{needle} not in {w:#?}"
        );
    }
}

#[test]
fn an_invalid_multiports_container_is_skipped_alone() {
    let s = build(&[
        item(
            "dup",
            1,
            2,
            &[(
                "VIRTUAL_HOST_MULTIPORTS",
                "a.tld:\n  /: {}\na.tld:\n  /x: {}\n",
            )],
        ),
        item(
            "broken",
            1,
            4,
            &[("VIRTUAL_HOST_MULTIPORTS", "a.tld: {/: {port: 80}")],
        ),
        item("empty", 1, 5, &[("VIRTUAL_HOST_MULTIPORTS", "{}")]),
        item("good", 2, 3, &[("VIRTUAL_HOST", "a.tld")]),
    ]);
    assert_eq!(s.sites.len(), 1);
    assert_eq!(backends(&s.sites[0].locations[0]), ["172.18.0.3:80 good"]);
    let w = warnings(&s);
    assert_eq!(w.len(), 3, "{w:#?}");
    assert!(w[0].starts_with("broken: skipped: VIRTUAL_HOST_MULTIPORTS not valid YAML or JSON"));
    assert!(w[1].starts_with("dup: skipped: VIRTUAL_HOST_MULTIPORTS not valid YAML or JSON"));
    assert!(w[1].contains("duplicated key"), "{}", w[1]);
    assert_eq!(
        w[2],
        "empty: skipped: VIRTUAL_HOST_MULTIPORTS declares no host"
    );
}

#[test]
fn multiports_notes_ignored_keys_and_keeps_letsencrypt_hosts() {
    let s = build(&[item(
        "multi",
        1,
        2,
        &[
            (
                "VIRTUAL_HOST_MULTIPORTS",
                "a.tld:\n  /: {pot: 81}\n  api: {}\n",
            ),
            ("LETSENCRYPT_HOST", "a.tld"),
        ],
    )]);
    assert_eq!(s.certificates[0].hosts, ["a.tld"]);
    assert_eq!(
        warnings(&s),
        [
            "multi: VIRTUAL_HOST_MULTIPORTS: \"api\" under a.tld is ignored (paths start with /; a path takes port, proto and dest)",
            "multi: VIRTUAL_HOST_MULTIPORTS: \"pot\" under a.tld/ is ignored (paths start with /; a path takes port, proto and dest)",
        ]
    );
}

#[test]
fn loadbalance_label_sets_the_mode_and_unknown_text_warns() {
    const LB: &str = "com.github.nginx-proxy.nginx-proxy.loadbalance";
    let s = build(&[
        item(
            "sticky",
            1,
            2,
            &[("VIRTUAL_HOST", "a.tld"), (LB, "hash $remote_addr;")],
        ),
        item(
            "odd",
            1,
            3,
            &[("VIRTUAL_HOST", "b.tld"), (LB, "sticky cookie srv;")],
        ),
        item("plain", 1, 4, &[("VIRTUAL_HOST", "c.tld")]),
    ]);
    let mode = |i: usize| s.sites[i].locations[0].balance;
    assert_eq!(
        (mode(0), mode(1), mode(2)),
        (
            Balance::ClientHash,
            Balance::RoundRobin,
            Balance::RoundRobin
        )
    );
    assert_eq!(s.sites[1].locations[0].backends.len(), 1, "still routed");
    let w = warnings(&s);
    assert_eq!(w.len(), 1, "{w:#?}");
    assert!(
        w[0].starts_with(&format!(
            "odd: {LB}=\"sticky cookie srv;\" is not a mode dockside knows"
        )),
        "{}",
        w[0]
    );
}

#[test]
fn a_routes_file_entry_serves_every_declared_host_and_path_from_its_backends() {
    let it = SourceItem {
        reach: Reach::Addresses(vec![BackendAddr::Tcp(([127, 0, 0, 1], 8000).into())]),
        ..source_item(
            "routes.toml site #1",
            &[(
                "VIRTUAL_HOST_MULTIPORTS",
                "a.tld:\n  /: {port: 9000}\n  /api/: {proto: https}\n  /rpc/: {proto: grpcs}\nb.tld:\n  /: {proto: grpc}\n",
            )],
        )
    };
    let s = build(&[it]);
    let all: Vec<(String, String, Proto, Vec<String>)> = s
        .sites
        .iter()
        .flat_map(|site| {
            site.locations
                .iter()
                .map(|l| (site.host.clone(), l.path.clone(), l.proto, backends(l)))
        })
        .collect();
    let one = || vec!["127.0.0.1:8000 routes.toml site #1".to_owned()];
    assert_eq!(
        all,
        [
            ("a.tld".into(), "/".into(), Proto::Http, one()),
            ("a.tld".into(), "/api/".into(), Proto::Https, one()),
            ("a.tld".into(), "/rpc/".into(), Proto::Grpcs, one()),
            ("b.tld".into(), "/".into(), Proto::Grpc, one()),
        ]
    );
}
