use super::*;

#[test]
fn every_key_parses_back() {
    let l = Layout::new("/dockside");
    assert_eq!(l.root(), "/dockside/");
    let cases = [
        (l.cert("a.example"), Key::Cert("a.example".into())),
        (
            l.account("ca:14000/dir/ops@x/account.json"),
            Key::Account("ca:14000/dir/ops@x/account.json".into()),
        ),
        (l.http01("tok-1_x"), Key::Http01("tok-1_x".into())),
        (
            l.tls_alpn01("A.Example"),
            Key::TlsAlpn01("a.example".into()),
        ),
        (l.lock("a.example"), Key::Lock("a.example".into())),
    ];
    for (key, want) in cases {
        assert_eq!(l.parse(&key), Some(want), "{key}");
    }
}

#[test]
fn unsafe_or_foreign_keys_are_ignored() {
    let l = Layout::new("/dockside/");
    for key in [
        "/other/certs/a",
        "/dockside/certs/",
        "/dockside/certs/..",
        "/dockside/certs/a/b",
        "/dockside/accounts/../../etc/passwd",
        "/dockside/accounts/a//b",
        "/dockside/accounts/",
        "/dockside/challenges/http-01/",
        "/dockside/challenges/dns-01/x",
        "/dockside/unknown/x",
        "/dockside/certs",
    ] {
        assert_eq!(l.parse(key), None, "{key}");
    }
}

#[test]
fn acks_and_replicas_sit_outside_the_mirrored_kinds() {
    let l = Layout::new("/d/");
    let acks = l.acks(&l.http01("tok")).unwrap();
    assert_eq!(acks, "/d/acks/http-01/tok/");
    assert_eq!(l.acks("/d/certs/a"), None);
    assert_eq!(l.parse(&format!("{acks}r1")), None);
    assert_eq!(l.parse(&l.replica("r1")), None);
    assert!(l.replica("r1").starts_with(&l.replicas()));
}
