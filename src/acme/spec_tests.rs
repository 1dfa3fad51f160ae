//! Table tests for `spec::resolve` and `AcmeGlobals::from_vars`.

use super::*;

type Vars<'a> = &'a [(&'a str, &'a str)];

fn req(hosts: &[&str], vars: &[(&str, &str)]) -> CertRequest {
    CertRequest {
        hosts: hosts.iter().map(|h| h.to_string()).collect(),
        settings: vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        source: "web".into(),
    }
}

fn globals(vars: &[(&str, &str)]) -> AcmeGlobals {
    let map: BTreeMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    AcmeGlobals::from_vars(|k| map.get(k).cloned()).0
}

#[test]
fn defaults_are_le_production_ec256_http01() {
    let (spec, warnings) = resolve(
        &req(&["A.example.com.", "b.example.com"], &[]),
        &AcmeGlobals::default(),
    )
    .unwrap();
    assert_eq!(spec.hosts, ["a.example.com", "b.example.com"]);
    assert_eq!(spec.base_dir_name, "a.example.com");
    assert_eq!(spec.ca_url, LE_PRODUCTION);
    assert_eq!(spec.key_type, KeyType::EcP256);
    assert_eq!(spec.challenge, ChallengeKind::Http01);
    assert_eq!(spec.email, None);
    assert!(warnings.is_empty());
}

#[test]
fn new_spelling_wins_over_legacy_and_container_over_globals() {
    let g = globals(&[
        ("DEFAULT_EMAIL", "g@x.test"),
        ("DEFAULT_KEY_SIZE", "4096"),
        ("ACME_CA_URI", "https://ca.test/dir"),
    ]);
    let cases: &[(Vars, Option<&str>, KeyType)] = &[
        (&[], Some("g@x.test"), KeyType::Rsa4096),
        (
            &[
                ("LETSENCRYPT_EMAIL", "l@x.test"),
                ("LETSENCRYPT_KEYSIZE", "2048"),
            ],
            Some("l@x.test"),
            KeyType::Rsa2048,
        ),
        (
            &[
                ("ACME_EMAIL", "a@x.test"),
                ("LETSENCRYPT_EMAIL", "l@x.test"),
                ("ACME_KEYSIZE", "ec-384"),
                ("LETSENCRYPT_KEYSIZE", "2048"),
            ],
            Some("a@x.test"),
            KeyType::EcP384,
        ),
        (
            &[("ACME_KEYSIZE", "3072")],
            Some("g@x.test"),
            KeyType::Rsa3072,
        ),
        (&[("ACME_EMAIL", " ")], Some("g@x.test"), KeyType::Rsa4096),
    ];
    for (vars, email, key) in cases {
        let (spec, _) = resolve(&req(&["a.test"], vars), &g).unwrap();
        assert_eq!(spec.email.as_deref(), *email, "{vars:?}");
        assert_eq!(spec.key_type, *key, "{vars:?}");
        assert_eq!(spec.ca_url, "https://ca.test/dir");
    }
}

#[test]
fn invalid_keysize_falls_back_with_a_warning() {
    let (spec, warnings) = resolve(
        &req(&["a.test"], &[("ACME_KEYSIZE", "16384")]),
        &AcmeGlobals::default(),
    )
    .unwrap();
    assert_eq!(spec.key_type, KeyType::EcP256);
    assert!(
        warnings[0].contains("ACME_KEYSIZE") && warnings[0].contains("16384"),
        "{warnings:?}"
    );
    let (g, w) = AcmeGlobals::from_vars(|k| (k == "DEFAULT_KEY_SIZE").then(|| "ec-512".to_owned()));
    assert_eq!(g.key_type, KeyType::EcP256);
    assert!(w[0].contains("DEFAULT_KEY_SIZE"));
}

#[test]
fn staging_prefixes_the_directory_and_drops_the_email() {
    for (g, vars) in [
        (
            globals(&[("DEFAULT_EMAIL", "g@x.test")]),
            vec![("LETSENCRYPT_TEST", "true")],
        ),
        (
            globals(&[("DEFAULT_EMAIL", "g@x.test"), ("LETSENCRYPT_TEST", "true")]),
            vec![],
        ),
        (
            globals(&[("DEFAULT_EMAIL", "g@x.test")]),
            vec![(
                "ACME_CA_URI",
                "https://acme-staging-v02.api.letsencrypt.org/directory",
            )],
        ),
    ] {
        let (spec, _) = resolve(&req(&["a.test"], &vars), &g).unwrap();
        assert_eq!(spec.base_dir_name, "_test_a.test");
        assert_eq!(spec.ca_url, LE_STAGING);
        assert_eq!(spec.email, None);
    }
    let (spec, _) = resolve(
        &req(&["a.test"], &[("LETSENCRYPT_TEST", "false")]),
        &globals(&[("LETSENCRYPT_TEST", "true")]),
    )
    .unwrap();
    assert_eq!(spec.base_dir_name, "a.test");
}

#[test]
fn challenges_and_unsupported_cases_name_the_host() {
    let ok = |v: &str| {
        resolve(
            &req(&["a.test"], &[("ACME_CHALLENGE", v)]),
            &AcmeGlobals::default(),
        )
        .map(|r| r.0.challenge)
    };
    assert_eq!(ok("HTTP-01"), Ok(ChallengeKind::Http01));
    assert_eq!(ok("tls-alpn-01"), Ok(ChallengeKind::TlsAlpn01));
    let dns = ok("DNS-01").unwrap_err();
    assert!(
        dns.to_string().contains("a.test")
            && dns.to_string().contains("needs ACMESH_DNS_API_CONFIG"),
        "{dns}"
    );
    assert!(matches!(
        ok("SMOKE-01"),
        Err(SpecError::UnknownChallenge { .. })
    ));
    let g = globals(&[("ACME_CHALLENGE", "TLS-ALPN-01")]);
    assert_eq!(
        resolve(&req(&["a.test"], &[]), &g).unwrap().0.challenge,
        ChallengeKind::TlsAlpn01
    );
    let wild = resolve(&req(&["a.test", "*.b.test"], &[]), &AcmeGlobals::default()).unwrap_err();
    assert!(
        wild.to_string().contains("*.b.test")
            && wild.to_string().contains("needs ACME_CHALLENGE=DNS-01")
            && wild.to_string().contains("HTTP-01 cannot"),
        "{wild}"
    );
    let alpn = resolve(
        &req(&["*.b.test"], &[("ACME_CHALLENGE", "TLS-ALPN-01")]),
        &AcmeGlobals::default(),
    )
    .unwrap_err();
    assert!(alpn.to_string().contains("TLS-ALPN-01 cannot"), "{alpn}");
    assert!(matches!(
        resolve(&req(&[" , "], &[]), &AcmeGlobals::default()),
        Err(SpecError::NoHosts { .. })
    ));
}

#[test]
fn eab_renew_after_and_bundle_from_globals() {
    let g = globals(&[
        ("ACME_EAB_KID", "kid-1"),
        ("ACME_EAB_HMAC_KEY", "c2VjcmV0"),
        ("ACME_RENEW_AFTER", "30"),
        ("CA_BUNDLE", "/ca.pem"),
    ]);
    assert_eq!(
        g.ca_bundle.as_deref(),
        Some(std::path::Path::new("/ca.pem"))
    );
    let (spec, _) = resolve(&req(&["a.test"], &[]), &g).unwrap();
    assert_eq!(spec.eab.as_ref().map(|e| e.kid.as_str()), Some("kid-1"));
    assert!(
        !format!("{:?}", spec.eab).contains("c2VjcmV0"),
        "the HMAC key is never printed"
    );
    assert_eq!(spec.renew_after_days, Some(30));
    let (spec, w) = resolve(
        &req(
            &["a.test"],
            &[
                ("ACME_RENEW_AFTER", "soon"),
                ("ACME_EAB_KID", "k2"),
                ("ACME_EAB_HMAC_KEY", "aa"),
            ],
        ),
        &g,
    )
    .unwrap();
    assert_eq!(spec.renew_after_days, Some(30));
    assert_eq!(spec.eab.map(|e| e.kid), Some("k2".into()));
    assert!(w[0].contains("ACME_RENEW_AFTER"));
}

#[test]
fn private_keys_renew_unless_told_otherwise() {
    let reuse =
        |g: &AcmeGlobals, vars: Vars| resolve(&req(&["a.test"], vars), g).unwrap().0.reuse_key;
    let default = AcmeGlobals::default();
    assert!(!reuse(&default, &[]));
    assert!(reuse(&default, &[("ACME_RENEW_PRIVATE_KEYS", "false")]));
    assert!(reuse(&globals(&[("RENEW_PRIVATE_KEYS", "false")]), &[]));
    assert!(reuse(&globals(&[("REUSE_PRIVATE_KEYS", "true")]), &[]));
    assert!(!reuse(
        &globals(&[("RENEW_PRIVATE_KEYS", "false")]),
        &[("ACME_RENEW_PRIVATE_KEYS", "true")]
    ));
}

#[test]
fn hooks_and_restart_resolve_per_container() {
    let globals = AcmeGlobals {
        pre_hook: Some("global-pre".into()),
        post_hook: Some("global-post --x".into()),
        ..AcmeGlobals::default()
    };
    let (spec, w) = resolve(
        &req(
            &["a.test"],
            &[
                ("ACME_POST_HOOK", "sh -c 'echo done'"),
                ("LETSENCRYPT_RESTART_CONTAINER", "true"),
            ],
        ),
        &globals,
    )
    .unwrap();
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(spec.hooks.pre.unwrap().argv, ["global-pre"]);
    assert_eq!(spec.hooks.post.unwrap().argv, ["sh", "-c", "echo done"]);
    assert!(spec.restart_container);
    let (spec, w) = resolve(
        &req(
            &["a.test"],
            &[
                ("ACME_PRE_HOOK", ":"),
                ("ACME_RESTART_CONTAINER", "false"),
                ("LETSENCRYPT_RESTART_CONTAINER", "true"),
            ],
        ),
        &globals,
    )
    .unwrap();
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(spec.hooks.pre, None);
    assert!(!spec.restart_container, "ACME_ wins over LETSENCRYPT_");
    let (spec, w) = resolve(
        &req(&["a.test"], &[("ACME_RESTART_CONTAINER", "maybe")]),
        &AcmeGlobals::default(),
    )
    .unwrap();
    assert!(!spec.restart_container);
    assert!(w[0].contains("ACME_RESTART_CONTAINER"), "{w:?}");
}

const DNS: &str = r#"{"DNS_API":"dns_nsupdate","NSUPDATE_SERVER":"ns.b.test","NSUPDATE_KEY_NAME":"k","NSUPDATE_KEY_SECRET":"c2VjcmV0"}"#;

#[test]
fn dns01_allows_wildcards_in_a_wildcard_directory() {
    let g = globals(&[("ACME_CHALLENGE", "DNS-01"), ("ACMESH_DNS_API_CONFIG", DNS)]);
    let (spec, w) = resolve(&req(&["*.B.test", "b.test"], &[]), &g).unwrap();
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(spec.challenge, ChallengeKind::Dns01);
    assert_eq!(spec.hosts, ["*.b.test", "b.test"]);
    assert_eq!(spec.base_dir_name, "wildcard_b.test");
    assert_eq!(
        spec.dns.as_ref().map(|d| d.server.as_str()),
        Some("ns.b.test")
    );
    let (spec, _) = resolve(&req(&["*.b.test"], &[("LETSENCRYPT_TEST", "true")]), &g).unwrap();
    assert_eq!(spec.base_dir_name, "_test_wildcard_b.test");
    for bad in ["*.*.b.test", "a.*.b.test", "*.test", "*"] {
        let e = resolve(&req(&[bad], &[]), &g).unwrap_err();
        assert!(matches!(e, SpecError::BadWildcard { .. }), "{bad}: {e}");
    }
}

#[test]
fn the_containers_dns_config_replaces_the_global_one() {
    let g = globals(&[("ACMESH_DNS_API_CONFIG", DNS)]);
    let own = "DNS_API: dns_nsupdate\nNSUPDATE_SERVER: 10.0.0.53\nNSUPDATE_KEY: /run/k.key\n";
    let vars = [("ACME_CHALLENGE", "dns-01"), ("ACMESH_DNS_API_CONFIG", own)];
    let (spec, _) = resolve(&req(&["a.test"], &vars), &g).unwrap();
    let dns = spec.dns.unwrap();
    assert_eq!(dns.server, "10.0.0.53");
    assert_eq!(
        dns.key,
        crate::acme::dns::KeySource::File("/run/k.key".into())
    );
    // Not DNS-01: the DNS config is not used.
    let (spec, _) = resolve(&req(&["a.test"], &[]), &g).unwrap();
    assert_eq!((spec.challenge, spec.dns), (ChallengeKind::Http01, None));
    let cf = [
        ("ACME_CHALLENGE", "DNS-01"),
        ("ACMESH_DNS_API_CONFIG", r#"{"DNS_API":"dns_cf"}"#),
    ];
    let e = resolve(&req(&["a.test"], &cf), &g).unwrap_err().to_string();
    assert!(
        e.starts_with("web: ACMESH_DNS_API_CONFIG DNS_API=\"dns_cf\"")
            && e.contains("only dns_nsupdate")
            && e.ends_with("(the value set on the container)"),
        "{e}"
    );
}

#[test]
fn a_dns_sleep_past_the_bound_drops_the_certificate_naming_value_and_source() {
    let sleepy = DNS.replace('}', r#","DNS_SLEEP":"172800"}"#);
    let dns01 = ("ACME_CHALLENGE", "DNS-01");
    let g = globals(&[dns01, ("ACMESH_DNS_API_CONFIG", sleepy.as_str())]);
    let e = resolve(&req(&["a.test"], &[]), &g).unwrap_err().to_string();
    assert!(
        e.starts_with("web: ACMESH_DNS_API_CONFIG DNS_SLEEP=\"172800\" is more than 3600 seconds")
            && e.ends_with("(the value set on dockside)"),
        "{e}"
    );
    let g = globals(&[dns01]);
    let own = [dns01, ("ACMESH_DNS_API_CONFIG", sleepy.as_str())];
    let e = resolve(&req(&["a.test"], &own), &g)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("DNS_SLEEP=\"172800\"") && e.ends_with("(the value set on the container)"),
        "{e}"
    );
}

#[test]
fn new_key_sizes_parse() {
    let cases = [
        ("ec-521", Some(KeyType::EcP521)),
        ("EC-521", Some(KeyType::EcP521)),
        ("8192", Some(KeyType::Rsa8192)),
        ("ec-512", None),
        ("16384", None),
    ];
    for (value, want) in cases {
        assert_eq!(KeyType::parse(value), want, "{value}");
    }
    let (spec, w) = resolve(
        &req(&["a.test"], &[("ACME_KEYSIZE", "ec-521")]),
        &globals(&[("DEFAULT_KEY_SIZE", "8192")]),
    )
    .unwrap();
    assert_eq!((spec.key_type, w.len()), (KeyType::EcP521, 0));
    let (spec, _) = resolve(
        &req(&["a.test"], &[]),
        &globals(&[("DEFAULT_KEY_SIZE", "8192")]),
    )
    .unwrap();
    assert_eq!(spec.key_type, KeyType::Rsa8192);
}

#[test]
fn profile_chain_and_ocsp_resolve_like_acme_companion() {
    let g = globals(&[
        ("ACME_CERT_PROFILE", "tlsserver"),
        // acme-companion reads these two on the proxied container only.
        ("ACME_PREFERRED_CHAIN", "ISRG Root X1"),
        ("ACME_OCSP", "true"),
    ]);
    type Want<'a> = (Option<&'a str>, Option<&'a str>, bool, usize);
    let cases: &[(Vars, Want)] = &[
        (&[], (Some("tlsserver"), None, false, 0)),
        (
            &[
                ("ACME_CERT_PROFILE", "shortlived"),
                ("ACME_PREFERRED_CHAIN", " ISRG Root X2 "),
                ("ACME_OCSP", "TRUE"),
            ],
            (Some("shortlived"), Some("ISRG Root X2"), true, 0),
        ),
        (
            &[("ACME_OCSP", "false")],
            (Some("tlsserver"), None, false, 0),
        ),
        (
            &[("ACME_OCSP", "maybe")],
            (Some("tlsserver"), None, false, 1),
        ),
    ];
    for (vars, (profile, chain, ocsp, warnings)) in cases {
        let (spec, w) = resolve(&req(&["a.test"], vars), &g).unwrap();
        assert_eq!(spec.profile.as_deref(), *profile, "{vars:?}");
        assert_eq!(spec.preferred_chain.as_deref(), *chain, "{vars:?}");
        assert_eq!(spec.ocsp_must_staple, *ocsp, "{vars:?}");
        assert_eq!(w.len(), *warnings, "{vars:?}: {w:?}");
        assert!(
            w.iter()
                .all(|w| w.contains("web") && w.contains("ACME_OCSP")),
            "{w:?}"
        );
    }
    let (_, w) = AcmeGlobals::from_vars(|k| (k == "ACME_OCSP").then(|| "true".to_owned()));
    assert!(
        w.len() == 1 && w[0].contains("ACME_OCSP on dockside is ignored"),
        "{w:?}"
    );
}

#[test]
fn zerossl_api_key_applies_to_zerossl_without_eab_only() {
    let zerossl = ("ACME_CA_URI", ZEROSSL_DIRECTORY);
    let cases: &[(Vars, Vars, Option<&str>)] = &[
        (
            &[zerossl, ("ZEROSSL_API_KEY", "global")],
            &[],
            Some("global"),
        ),
        (
            &[zerossl, ("ZEROSSL_API_KEY", "global")],
            &[("ZEROSSL_API_KEY", "own")],
            Some("own"),
        ),
        (&[zerossl], &[("ZEROSSL_API_KEY", "own")], Some("own")),
        // Not ZeroSSL: the key means nothing to another CA.
        (&[("ZEROSSL_API_KEY", "global")], &[], None),
        // EAB given: used as is, like acme-companion.
        (
            &[zerossl, ("ZEROSSL_API_KEY", "global")],
            &[("ACME_EAB_KID", "k"), ("ACME_EAB_HMAC_KEY", "aG1hYw")],
            None,
        ),
        (
            &[
                zerossl,
                ("ZEROSSL_API_KEY", "global"),
                ("ACME_EAB_KID", "k"),
                ("ACME_EAB_HMAC_KEY", "aG1hYw"),
            ],
            &[],
            None,
        ),
    ];
    for (g, vars, want) in cases {
        let (spec, w) = resolve(&req(&["a.test"], vars), &globals(g)).unwrap();
        assert!(w.is_empty(), "{w:?}");
        let got = spec.zerossl.as_ref().map(|z| z.key.0.as_str());
        assert_eq!(got, *want, "{g:?} {vars:?}");
        if let Some(z) = &spec.zerossl {
            assert_eq!(z.api, ZEROSSL_API);
            assert!(
                !format!("{spec:?}").contains(&z.key.0),
                "Debug hides the key"
            );
        }
    }
}

#[test]
fn orders_per_hour_is_a_positive_whole_number() {
    assert_eq!(globals(&[]).max_orders_per_hour, None);
    assert_eq!(
        globals(&[("ACME_MAX_ORDERS_PER_HOUR", "20")]).max_orders_per_hour,
        Some(20)
    );
    for bad in ["0", "-1", "many", "1.5"] {
        let (g, w) =
            AcmeGlobals::from_vars(|k| (k == "ACME_MAX_ORDERS_PER_HOUR").then(|| bad.to_string()));
        assert_eq!(g.max_orders_per_hour, None, "{bad}");
        assert_eq!(w.len(), 1, "{bad}: {w:?}");
        assert!(
            w[0].contains("ACME_MAX_ORDERS_PER_HOUR") && w[0].contains("using 60"),
            "{w:?}"
        );
    }
}
