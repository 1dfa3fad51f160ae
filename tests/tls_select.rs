//! Certificate selection over real handshakes (nginx-proxy §1.6.7/§1.6.8): exact, parent,
//! CERT_NAME, default, refusal with `unrecognized_name`, acme-companion's symlink layout, and
//! every supported key type and encoding.

mod common;

use std::time::Duration;

use common::tls::client::{Client, alert};
use common::tls::{Pki, Server, curl, s_client, site, within};
use dockside::model::HttpsMethod;
use rustls::AlertDescription;

#[tokio::test]
async fn exact_parent_cert_name_and_default() {
    let pki = Pki::new();
    pki.install("a.test", "exact-a", &["a.test"]);
    pki.install("b.test", "parent-b", &["b.test", "*.b.test"]);
    pki.install("shared", "shared", &["c.test"]);
    pki.install("default", "default", &["default.invalid"]);
    pki.install("f.test", "f-own", &["f.test"]);
    let sites = vec![
        site("a.test"),
        site("*.b.test"),
        site("x.b.test"),
        dockside::model::Site {
            cert_name: Some("shared".into()),
            ..site("c.test")
        },
        site("d.test"),
        dockside::model::Site {
            trust_default_cert: Some(false),
            ..site("e.test")
        },
        dockside::model::Site {
            https_method: Some(HttpsMethod::NoHttps),
            ..site("f.test")
        },
    ];
    let server = Server::start(&pki.certs(), sites).await;
    let client = Client::new();
    let cases = [
        ("a.test", "exact-a", "site=a.test cert=a.test"),
        ("y.b.test", "parent-b", "site=*.b.test cert=b.test"),
        ("x.b.test", "parent-b", "site=x.b.test cert=b.test"),
        ("c.test", "shared", "site=c.test cert=shared"),
        ("d.test", "default", "site=d.test cert=default"),
        // nohttps sites are unknown over TLS: the default certificate, no site (→ 503).
        ("f.test", "default", "site=- cert=default"),
        ("unknown.test", "default", "site=- cert=default"),
    ];
    for (sni, cn, facts) in cases {
        let seen = client.get(server.addr, sni).await.unwrap();
        assert_eq!(seen.cn, cn, "{sni}");
        assert!(seen.body.contains(facts), "{sni}: {}", seen.body);
    }
    // A known site without a usable certificate is refused even though default.crt exists.
    let err = client.get(server.addr, "e.test").await.unwrap_err();
    assert_eq!(
        alert(&err),
        Some(AlertDescription::UnrecognisedName),
        "{err}"
    );

    // curl verifies the chain and the name against the test CA.
    for host in ["a.test", "x.b.test", "c.test"] {
        let out = curl(&pki, &server, host, "/", &[]).await;
        let body = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{host}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(body.contains("covered=true"), "{host}: {body}");
    }
    let out = curl(&pki, &server, "d.test", "/", &[]).await;
    assert!(
        !out.status.success(),
        "default.crt does not name d.test: curl must reject it"
    );
    let out = curl(&pki, &server, "d.test", "/", &["-k"]).await;
    let body = String::from_utf8_lossy(&out.stdout);
    assert!(
        body.contains("cert=default host=d.test covered=false"),
        "{body}"
    );
}

#[tokio::test]
async fn refusal_is_unrecognized_name() {
    let pki = Pki::new();
    pki.install("example.tld", "example", &["example.tld", "*.example.tld"]);
    let sites = vec![site("example.tld"), site("sub.www.example.tld")];
    let server = Server::start(&pki.certs(), sites).await;
    let client = Client::new();
    assert_eq!(
        client.get(server.addr, "example.tld").await.unwrap().cn,
        "example"
    );
    // The parent rule goes one level up only: sub.www.example.tld does not use example.tld.
    for sni in ["sub.www.example.tld", "unknown.test"] {
        let err = client.get(server.addr, sni).await.unwrap_err();
        assert_eq!(
            alert(&err),
            Some(AlertDescription::UnrecognisedName),
            "{sni}: {err}"
        );
    }
    let (ok, out) = s_client(server.addr, &["-servername", "unknown.test"]).await;
    assert!(!ok && out.contains("unrecognized name"), "{out}");
    let (ok, out) = s_client(server.addr, &["-noservername"]).await;
    assert!(!ok && out.contains("unrecognized name"), "{out}");
    let (ok, out) = s_client(server.addr, &["-servername", "example.tld"]).await;
    assert!(ok && out.contains("CN = example"), "{out}");
}

#[tokio::test]
async fn acme_companion_symlink_layout() {
    let pki = Pki::new();
    let certs = pki.certs();
    let write_base = |base: &str, cn: &str| {
        let leaf = pki.leaf(
            cn,
            &["a.test", "www.a.test"],
            &rcgen::PKCS_ECDSA_P384_SHA384,
        );
        let dir = certs.join(base);
        std::fs::create_dir_all(&dir).unwrap();
        let (cert, chain) = leaf
            .chain
            .split_at(leaf.chain.find("-----END").unwrap() + 26);
        std::fs::write(dir.join("cert.pem"), cert).unwrap();
        std::fs::write(dir.join("chain.pem"), chain).unwrap();
        std::fs::write(dir.join("fullchain.pem"), &leaf.chain).unwrap();
        std::fs::write(dir.join("key.pem"), &leaf.key).unwrap();
        std::fs::write(dir.join(".companion"), "dockside-test").unwrap();
    };
    let link = |host: &str, base: &str| {
        for (ext, file) in [
            ("crt", "fullchain.pem"),
            ("key", "key.pem"),
            ("chain.pem", "chain.pem"),
        ] {
            let tmp = certs.join(format!(".{host}.{ext}.tmp"));
            std::os::unix::fs::symlink(format!("./{base}/{file}"), &tmp).unwrap();
            std::fs::rename(&tmp, certs.join(format!("{host}.{ext}"))).unwrap();
        }
    };
    write_base("a.test", "companion-v1");
    link("a.test", "a.test");
    link("www.a.test", "a.test");
    let server = Server::start(&certs, vec![site("a.test"), site("www.a.test")]).await;
    for host in ["a.test", "www.a.test"] {
        let out = curl(&pki, &server, host, "/", &[]).await;
        let body = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{host}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(body.contains(&format!("cert={host} ")), "{host}: {body}");
    }
    // Renewal into a new folder, then an atomic symlink swap: picked up within 2 s.
    write_base("a.test-2", "companion-v2");
    link("www.a.test", "a.test-2");
    let client = Client::new();
    let took = within(Duration::from_secs(2), || async {
        client
            .get(server.addr, "www.a.test")
            .await
            .is_ok_and(|s| s.cn == "companion-v2")
    })
    .await;
    assert!(took.is_some(), "symlink swap not served within 2 s");
    assert_eq!(
        client.get(server.addr, "a.test").await.unwrap().cn,
        "companion-v1"
    );
    // Rewriting the files behind a symlink in place is picked up too.
    write_base("a.test", "companion-v3");
    let took = within(Duration::from_secs(2), || async {
        client
            .get(server.addr, "a.test")
            .await
            .is_ok_and(|s| s.cn == "companion-v3")
    })
    .await;
    assert!(
        took.is_some(),
        "rewritten symlink target not served within 2 s"
    );
}

/// Converts a PKCS#8 PEM key to OpenSSL's traditional form (PKCS#1 for RSA, SEC1 for EC).
fn traditional(pkcs8: &str) -> String {
    common::require_tool("openssl", "openssl");
    let mut child = std::process::Command::new("openssl")
        .args(["pkey", "-traditional"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(pkcs8.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test]
async fn key_types_and_encodings() {
    let pki = Pki::new();
    let cases: [(&str, &'static rcgen::SignatureAlgorithm, Option<&str>); 6] = [
        (
            "rsa-pkcs1",
            &rcgen::PKCS_RSA_SHA256,
            Some("BEGIN RSA PRIVATE KEY"),
        ),
        ("rsa-pkcs8", &rcgen::PKCS_RSA_SHA256, None),
        (
            "p256-sec1",
            &rcgen::PKCS_ECDSA_P256_SHA256,
            Some("BEGIN EC PRIVATE KEY"),
        ),
        ("p256-pkcs8", &rcgen::PKCS_ECDSA_P256_SHA256, None),
        (
            "p384-sec1",
            &rcgen::PKCS_ECDSA_P384_SHA384,
            Some("BEGIN EC PRIVATE KEY"),
        ),
        ("ed25519-pkcs8", &rcgen::PKCS_ED25519, None),
    ];
    let mut sites = Vec::new();
    for (label, alg, traditional_header) in cases {
        let host = format!("{label}.test");
        let leaf = pki.leaf(label, &[&host], alg);
        let key = match traditional_header {
            Some(header) => {
                let key = traditional(&leaf.key);
                assert!(key.contains(header), "{label}: {key:.40}");
                key
            }
            None => leaf.key,
        };
        dockside::tls::write_pair(&pki.certs(), &host, leaf.chain.as_bytes(), key.as_bytes())
            .unwrap();
        sites.push(site(&host));
    }
    let server = Server::start(&pki.certs(), sites).await;
    let client = Client::new();
    for (label, _, _) in cases {
        let host = format!("{label}.test");
        assert_eq!(client.get(server.addr, &host).await.unwrap().cn, label);
        let out = curl(&pki, &server, &host, "/", &[]).await;
        assert!(
            out.status.success(),
            "{host}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
