use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;
use crate::model::Reach;
use crate::settings::test_support::{container_at, source_item};

/// Settings drawn from small pools, so items share hosts (load balancing, conflicts), repeat
/// names across builds (kept parses) and include bad values (skipped items).
fn item() -> impl Strategy<Value = SourceItem> {
    let pick = |values: &'static [&'static str]| proptest::sample::select(values);
    let maybe = |values: &'static [&'static str]| proptest::option::of(pick(values));
    (
        pick(&["c0", "c1", "c2", "c3", "c4", "c5"]),
        0i64..3,
        2u8..6,
        maybe(&[
            "a.test",
            "b.test",
            "a.test,b.test",
            "*.w.test",
            "~^r\\.test$",
        ]),
        maybe(&["80", "8080", "nope"]),
        maybe(&["/", "/api", "/api/"]),
        maybe(&["http", "https", "uwsgi", "gopher"]),
        maybe(&["redirect", "noredirect", "sometimes"]),
        maybe(&["a.test", "b.test", "x.test"]),
        maybe(&[
            "a.test:\n  /:\n    port: 80\n  /x:\n    port: 8080\n",
            "a.test",
        ]),
    )
        .prop_map(
            |(name, created, octet, host, port, path, proto, https, le, multiports)| {
                let vars: Vec<(&str, &str)> = [
                    ("VIRTUAL_HOST", host),
                    ("VIRTUAL_PORT", port),
                    ("VIRTUAL_PATH", path),
                    ("VIRTUAL_PROTO", proto),
                    ("HTTPS_METHOD", https),
                    ("LETSENCRYPT_HOST", le),
                    ("VIRTUAL_HOST_MULTIPORTS", multiports),
                ]
                .into_iter()
                .filter_map(|(k, v)| Some((k, v?)))
                .collect();
                SourceItem {
                    created,
                    reach: container_at(octet, &[80, 8080]),
                    ..source_item(name, &vars)
                }
            },
        )
}

/// nginx-proxy's files: none, or a `vhost.d` file and an error page for `a.test`.
fn files(with: bool) -> NginxFiles {
    if !with {
        return NginxFiles::default();
    }
    NginxFiles {
        vhost_d: BTreeMap::from([(
            "a.test".to_owned(),
            "add_header X-From-File yes;\n".to_owned(),
        )]),
        error_pages: BTreeMap::from([("a.test/503.html".to_owned(), "down".to_owned())]),
        ..NginxFiles::default()
    }
}

/// One step: an item replaced, added or removed, or the files switched.
#[derive(Debug, Clone)]
enum Change {
    Put(SourceItem),
    Remove(proptest::sample::Index),
    Files(bool),
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        4 => item().prop_map(Change::Put),
        1 => any::<proptest::sample::Index>().prop_map(Change::Remove),
        1 => any::<bool>().prop_map(Change::Files),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// After every change, the kept `Merger` gives exactly what a fresh one gives.
    #[test]
    fn a_kept_merger_builds_what_a_fresh_one_builds(
        start in proptest::collection::vec(item(), 0..6),
        changes in proptest::collection::vec(change(), 1..8),
    ) {
        let mut items = start;
        let mut with_files = false;
        let mut kept = Merger::default();
        kept.build(items.clone(), &files(with_files));
        for change in changes {
            match change {
                Change::Put(new) => match items.iter().position(|it| it.name == new.name) {
                    Some(i) => items[i] = new,
                    None => items.push(new),
                },
                Change::Remove(i) if !items.is_empty() => {
                    items.remove(i.index(items.len()));
                }
                Change::Remove(_) => {}
                Change::Files(on) => with_files = on,
            }
            let fresh = Merger::default().build(items.clone(), &files(with_files));
            prop_assert_eq!(kept.build(items.clone(), &files(with_files)), fresh);
        }
    }
}

/// One changed item: the sites of the hosts it does not touch are the very same `Arc`s, its
/// own host's site is built again, and an unchanged build gives back every site as it was.
#[test]
fn a_change_rebuilds_only_the_hosts_it_touches() {
    let web = |name: &str, host: &str, port: &str| SourceItem {
        reach: Reach::Container {
            ip: [172, 18, 0, 2].into(),
            exposed_ports: vec![80, 8080],
            health: crate::model::Health::None,
        },
        ..source_item(name, &[("VIRTUAL_HOST", host), ("VIRTUAL_PORT", port)])
    };
    let files = NginxFiles::default();
    let mut merger = Merger::default();
    let first = merger.build(
        vec![web("a", "a.test", "80"), web("b", "b.test", "80")],
        &files,
    );
    let second = merger.build(
        vec![web("a", "a.test", "80"), web("b", "b.test", "8080")],
        &files,
    );
    assert!(
        Arc::ptr_eq(&first.sites[0], &second.sites[0]),
        "a.test rebuilt"
    );
    assert!(
        !Arc::ptr_eq(&first.sites[1], &second.sites[1]),
        "b.test kept"
    );
    let third = merger.build(
        vec![web("a", "a.test", "80"), web("b", "b.test", "8080")],
        &files,
    );
    assert!(
        third
            .sites
            .iter()
            .zip(&second.sites)
            .all(|(x, y)| Arc::ptr_eq(x, y))
    );
    let other = NginxFiles {
        errors_50x: Some("x".to_owned()),
        ..NginxFiles::default()
    };
    let fourth = merger.build(
        vec![web("a", "a.test", "80"), web("b", "b.test", "8080")],
        &other,
    );
    assert!(
        !Arc::ptr_eq(&third.sites[0], &fourth.sites[0]),
        "kept across new files"
    );
}
