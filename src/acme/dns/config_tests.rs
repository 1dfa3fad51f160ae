//! Table tests for `ACMESH_DNS_API_CONFIG` and BIND key files.

use super::*;

const SECRET: &str = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA==";

#[test]
fn json_and_yaml_give_the_same_config() {
    let json = format!(
        r#"{{"DNS_API": "dns_nsupdate", "NSUPDATE_SERVER": "ns1.example.com", "NSUPDATE_SERVER_PORT": 5353,
            "NSUPDATE_ZONE": "Example.COM.", "NSUPDATE_KEY_NAME": "acme", "NSUPDATE_KEY_SECRET": "{SECRET}", "DNS_SLEEP": 5}}"#
    );
    let yaml = format!(
        "DNS_API: dns_nsupdate\nNSUPDATE_SERVER: ns1.example.com\nNSUPDATE_SERVER_PORT: '5353'\n\
         NSUPDATE_ZONE: example.com\nNSUPDATE_KEY_NAME: acme\nNSUPDATE_KEY_SECRET: {SECRET}\nDNS_SLEEP: 5\n"
    );
    let (a, wa) = parse(&json).unwrap();
    let (b, wb) = parse(&yaml).unwrap();
    assert_eq!(a, b);
    assert!(wa.is_empty() && wb.is_empty());
    assert_eq!((a.server.as_str(), a.port), ("ns1.example.com", 5353));
    assert_eq!(a.zone.as_deref(), Some("example.com"));
    assert_eq!(a.sleep_secs, Some(5));
    let KeySource::Inline(key) = &a.key else {
        panic!("inline key")
    };
    assert_eq!(
        (key.name.as_str(), key.algorithm),
        ("acme", TsigAlg::Sha256)
    );
    assert_eq!(key.secret(), b"secret-secret-secret-secret-secret");
}

#[test]
fn defaults_are_acme_sh_ones() {
    let (c, _) = parse(r#"{"DNS_API":"dns_nsupdate","NSUPDATE_KEY":"/etc/dns/acme.key"}"#).unwrap();
    assert_eq!(
        (c.server.as_str(), c.port, c.zone, c.sleep_secs),
        ("localhost", 53, None, None)
    );
    assert_eq!(c.key, KeySource::File("/etc/dns/acme.key".into()));
}

#[test]
fn errors_name_the_setting() {
    let err = |v: &str| parse(v).unwrap_err().to_string();
    assert!(
        err(r#"{"DNS_API":"dns_cf","CF_Token":"x"}"#)
            .contains("DNS_API=\"dns_cf\" is not built into dockside: only dns_nsupdate")
    );
    assert!(err(r#"{"NSUPDATE_KEY":"/k"}"#).contains("has no DNS_API"));
    assert!(err(r#"{"DNS_API":"dns_nsupdate"}"#).contains("needs a TSIG key"));
    assert!(
        err(r#"{"DNS_API":"dns_nsupdate","NSUPDATE_KEY_SECRET":"aGk="}"#)
            .contains("needs a TSIG key")
    );
    assert!(
        err(r#"{"DNS_API":"dns_nsupdate","NSUPDATE_KEY":"/k","NSUPDATE_SERVER_PORT":"99999"}"#)
            .contains("NSUPDATE_SERVER_PORT=\"99999\"")
    );
    assert!(
        err(r#"{"DNS_API":"dns_nsupdate","NSUPDATE_KEY":"/k","DNS_SLEEP":"soon"}"#)
            .contains("DNS_SLEEP=\"soon\"")
    );
    assert_eq!(
        err(r#"{"DNS_API":"dns_nsupdate","NSUPDATE_KEY":"/k","DNS_SLEEP":86400}"#),
        "DNS_SLEEP=\"86400\" is more than 3600 seconds (one hour), the most dockside waits: \
         secondaries that lag longer point at a zone transfer problem; DNS_SLEEP is in seconds"
    );
    let (c, _) =
        parse(r#"{"DNS_API":"dns_nsupdate","NSUPDATE_KEY":"/k","DNS_SLEEP":3600}"#).unwrap();
    assert_eq!(c.sleep_secs, Some(DNS_SLEEP_MAX));
    let bad_alg = err(
        r#"{"DNS_API":"dns_nsupdate","NSUPDATE_KEY_NAME":"k","NSUPDATE_KEY_SECRET":"aGk=","NSUPDATE_KEY_ALGORITHM":"hmac-md5"}"#,
    );
    assert!(
        bad_alg.contains("NSUPDATE_KEY_ALGORITHM=\"hmac-md5\""),
        "{bad_alg}"
    );
    let not_b64 = err(
        r#"{"DNS_API":"dns_nsupdate","NSUPDATE_KEY_NAME":"k","NSUPDATE_KEY_SECRET":"not base64!"}"#,
    );
    assert!(
        not_b64.contains("not base64") && !not_b64.contains("not base64!\""),
        "{not_b64}"
    );
    assert!(err("[1, 2]").contains("not a YAML or JSON mapping"));
    assert!(err("{").contains("not a YAML or JSON mapping"));
    let (_, w) =
        parse(r#"{"DNS_API":"dns_nsupdate","NSUPDATE_KEY":"/k","NSUPDATE_OPT":"x"}"#).unwrap();
    assert!(w[0].contains("NSUPDATE_OPT"), "{w:?}");
}

#[test]
fn the_secret_is_never_shown() {
    let (c, _) = parse(&format!(
        r#"{{"DNS_API":"dns_nsupdate","NSUPDATE_KEY_NAME":"acme.","NSUPDATE_KEY_SECRET":"{SECRET}"}}"#
    ))
    .unwrap();
    for shown in [format!("{c}"), format!("{c:?}")] {
        assert!(
            !shown.contains(SECRET) && !shown.contains("secret-secret"),
            "{shown}"
        );
        assert!(
            shown.contains("acme") && shown.contains("hmac-sha256"),
            "{shown}"
        );
    }
}

#[test]
fn bind_and_knot_key_files() {
    let bind = format!(
        "# made by tsig-keygen\nkey \"acme-key\" {{\n\talgorithm hmac-sha256;\n\tsecret \"{SECRET}\";\n}};\n"
    );
    let k = parse_key_file(&bind).unwrap();
    assert_eq!(
        (k.name.as_str(), k.algorithm),
        ("acme-key", TsigAlg::Sha256)
    );
    assert_eq!(k.secret(), b"secret-secret-secret-secret-secret");
    let odd = format!(
        "/* two keys */ // the first wins\nkey acme.example. {{ secret \"{SECRET}\"; algorithm HMAC-SHA512; }};\nkey other {{ algorithm hmac-sha1; secret \"aGk=\"; }};"
    );
    let k = parse_key_file(&odd).unwrap();
    assert_eq!(
        (k.name.as_str(), k.algorithm),
        ("acme.example", TsigAlg::Sha512)
    );
    for (text, want) in [
        ("", "no `key"),
        ("key \"k\" { algorithm hmac-sha256; };", "has no secret"),
        ("key \"k\" { secret \"aGk=\"; };", "has no algorithm"),
        (
            "key \"k\" { algorithm hmac-md5; secret \"aGk=\"; };",
            "not supported",
        ),
        (
            "key \"k\" { algorithm hmac-sha256; secret \"aGk=\";",
            "missing '}'",
        ),
        (
            "key \"k\" { algorithm hmac-sha256; secret \"@@\"; };",
            "not base64",
        ),
    ] {
        let e = parse_key_file(text).unwrap_err();
        assert!(e.contains(want), "{text:?}: {e}");
    }
}
