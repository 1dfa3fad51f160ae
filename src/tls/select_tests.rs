use super::*;
use crate::certs::write_pair;

/// A store with these names; a name ending in `!` has a `.crt` but no `.key`.
fn store(names: &[&str]) -> (tempfile::TempDir, CertMap) {
    let dir = tempfile::tempdir().unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["x.test".into()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    for name in names {
        match name.strip_suffix('!') {
            Some(n) => std::fs::write(dir.path().join(format!("{n}.crt")), cert.pem()).unwrap(),
            None => write_pair(
                dir.path(),
                name,
                cert.pem().as_bytes(),
                key.serialize_pem().as_bytes(),
            )
            .unwrap(),
        }
    }
    let (map, errors) = CertMap::scan(dir.path(), &CertMap::default());
    assert!(errors.is_empty(), "{errors:?}");
    (dir, map)
}

/// (certs present, host, CERT_NAME, trust default, chosen name, cert_ok)
type Case = (
    &'static [&'static str],
    &'static str,
    Option<&'static str>,
    bool,
    Option<&'static str>,
    bool,
);

#[test]
fn nginx_proxy_selection_table() {
    let cases: &[Case] = &[
        (&["web.tld"], "web.tld", None, true, Some("web.tld"), true),
        (&["web.tld"], "WEB.tld", None, true, Some("web.tld"), true),
        (
            &["tld.example"],
            "a.tld.example",
            None,
            true,
            Some("tld.example"),
            true,
        ),
        (&["b.c"], "*.b.c", None, true, Some("b.c"), true),
        (
            &["example.tld"],
            "sub.www.example.tld",
            None,
            true,
            None,
            false,
        ),
        (
            &["example.tld", "default"],
            "sub.www.example.tld",
            None,
            true,
            Some("default"),
            true,
        ),
        (
            &["example.tld", "default"],
            "sub.www.example.tld",
            None,
            false,
            None,
            false,
        ),
        (
            &["example.tld"],
            "example.tld",
            Some(""),
            true,
            Some("example.tld"),
            true,
        ),
        (
            &["shared", "web.tld"],
            "web.tld",
            Some("shared"),
            true,
            Some("shared"),
            true,
        ),
        // CERT_NAME pointing at nothing: no fall-through to the exact certificate.
        (
            &["web.tld"],
            "web.tld",
            Some("missing"),
            true,
            Some("missing"),
            false,
        ),
        // exact .crt without .key: no fall-through to parent or default.
        (
            &["web.tld!", "tld", "default"],
            "web.tld",
            None,
            true,
            Some("web.tld"),
            false,
        ),
        (
            &["a.b!", "b", "default"],
            "x.a.b",
            None,
            true,
            Some("a.b"),
            false,
        ),
        // two labels have no parent rule.
        (&["tld"], "web.tld", None, false, None, false),
        (&["default"], "web.tld", None, true, Some("default"), true),
        (&["default!"], "web.tld", None, true, None, false),
        (&[], "web.tld", None, true, None, false),
    ];
    for (i, (present, host, cert_name, trust, want, ok)) in cases.iter().enumerate() {
        let (_dir, map) = store(present);
        let site = SiteCertInputs {
            host,
            cert_name: *cert_name,
            trust_default_cert: *trust,
        };
        let got = select(site, &map);
        assert_eq!(got.name.as_deref(), *want, "case {i}: {host}");
        assert_eq!(got.cert_ok(), *ok, "case {i}: {host}");
    }
}
