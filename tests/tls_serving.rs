//! Certificate selection and TLS serving over real handshakes (nginx-proxy §1.6.7/§1.6.8).
//! First dockside's TLS layer alone (`common::tls::Server`): exact, parent, CERT_NAME, default,
//! refusal with `unrecognized_name`, acme-companion's symlink layout, every supported key type
//! and encoding. Then the whole proxy with real clients (`HttpsProxy`): selection reaching the
//! backend, h2 by ALPN per `ENABLE_HTTP2` / site label, Mozilla-Modern refusing TLS 1.2, a
//! certificate replaced during a long download, and the connection limit over HTTPS.

mod common;

use std::time::Duration;

use common::https::HttpsProxy;
use common::tls::client::{Client, alert};
use common::tls::{self, Pki, Server, within};
use common::{TestBackend, read_head, require_tool, site};
use dockside::model::{HttpsMethod, Site};
use rustls::AlertDescription;

/// How soon a certificate change on disk must reach new handshakes.
const LIMIT: Duration = Duration::from_secs(2);

#[tokio::test]
async fn exact_parent_cert_name_and_default() {
    let pki = Pki::new();
    pki.install("a.test", "exact-a", &["a.test"]);
    pki.install("b.test", "parent-b", &["b.test", "*.b.test"]);
    pki.install("shared", "shared", &["c.test"]);
    pki.install("default", "default", &["default.invalid"]);
    pki.install("f.test", "f-own", &["f.test"]);
    let sites = vec![
        tls::site("a.test"),
        tls::site("*.b.test"),
        tls::site("x.b.test"),
        Site {
            cert_name: Some("shared".into()),
            ..tls::site("c.test")
        },
        tls::site("d.test"),
        Site {
            trust_default_cert: Some(false),
            ..tls::site("e.test")
        },
        Site {
            https_method: Some(HttpsMethod::NoHttps),
            ..tls::site("f.test")
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
        let out = tls::curl(&pki, &server, host, "/", &[]).await;
        let body = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{host}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(body.contains("covered=true"), "{host}: {body}");
    }
    let out = tls::curl(&pki, &server, "d.test", "/", &[]).await;
    assert!(
        !out.status.success(),
        "default.crt does not name d.test: curl must reject it"
    );
    let out = tls::curl(&pki, &server, "d.test", "/", &["-k"]).await;
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
    let sites = vec![tls::site("example.tld"), tls::site("sub.www.example.tld")];
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
    let (ok, out) = tls::s_client(server.addr, &["-servername", "unknown.test"]).await;
    assert!(!ok && out.contains("unrecognized name"), "{out}");
    let (ok, out) = tls::s_client(server.addr, &["-noservername"]).await;
    assert!(!ok && out.contains("unrecognized name"), "{out}");
    let (ok, out) = tls::s_client(server.addr, &["-servername", "example.tld"]).await;
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
    let server = Server::start(&certs, vec![tls::site("a.test"), tls::site("www.a.test")]).await;
    for host in ["a.test", "www.a.test"] {
        let out = tls::curl(&pki, &server, host, "/", &[]).await;
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
    let took = client
        .serves_within(server.addr, "www.a.test", "companion-v2", LIMIT)
        .await;
    assert!(took.is_some(), "symlink swap not served within 2 s");
    assert_eq!(
        client.get(server.addr, "a.test").await.unwrap().cn,
        "companion-v1"
    );
    // Rewriting the files behind a symlink in place is picked up too.
    write_base("a.test", "companion-v3");
    let took = client
        .serves_within(server.addr, "a.test", "companion-v3", LIMIT)
        .await;
    assert!(
        took.is_some(),
        "rewritten symlink target not served within 2 s"
    );
}

/// Converts a PKCS#8 PEM key to OpenSSL's traditional form (PKCS#1 for RSA, SEC1 for EC).
fn traditional(pkcs8: &str) -> String {
    require_tool("openssl", "openssl");
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
        dockside::certs::write_pair(&pki.certs(), &host, leaf.chain.as_bytes(), key.as_bytes())
            .unwrap();
        sites.push(tls::site(&host));
    }
    let server = Server::start(&pki.certs(), sites).await;
    let client = Client::new();
    for (label, _, _) in cases {
        let host = format!("{label}.test");
        assert_eq!(client.get(server.addr, &host).await.unwrap().cn, label);
        let out = tls::curl(&pki, &server, &host, "/", &[]).await;
        assert!(
            out.status.success(),
            "{host}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

// Through the whole proxy: the chosen certificate reaches the backend.

#[tokio::test]
async fn selection_reaches_the_backend() {
    let pki = Pki::new();
    pki.install("a.test", "exact-a", &["a.test"]);
    pki.install("b.test", "parent-b", &["b.test", "*.b.test"]);
    pki.install("shared", "shared", &["c.test"]);
    pki.install("default", "default", &["d.test"]);
    let be = TestBackend::start("be").await;
    let b = [be.addr];
    let p = HttpsProxy::start(&pki.certs(), &pki.ca_pem(), |_| {}).await;
    p.publish(vec![
        site("a.test", &b),
        site("*.b.test", &b),
        Site {
            cert_name: Some("shared".into()),
            ..site("c.test", &b)
        },
        site("d.test", &b),
    ])
    .await;
    let client = Client::new();
    for (sni, cn) in [
        ("a.test", "exact-a"),
        ("x.b.test", "parent-b"),
        ("c.test", "shared"),
        ("d.test", "default"),
    ] {
        let seen = client.get(p.https, sni).await.unwrap();
        assert_eq!(seen.cn, cn, "{sni}");
        assert!(
            seen.body.contains("\"backend\":\"be\""),
            "{sni}: {}",
            seen.body
        );
        // curl verifies the chain and the name against the test CA.
        let x = p.curl("https", sni, "/", &[]).await;
        assert_eq!(x.status, 200, "{sni}: {x:?}");
    }
}

#[tokio::test]
async fn h2_by_alpn_per_site_and_globally() {
    let pki = Pki::new();
    pki.install("on.test", "on", &["on.test"]);
    pki.install("off.test", "off", &["off.test"]);
    let be = TestBackend::start("be").await;
    let p = HttpsProxy::start(&pki.certs(), &pki.ca_pem(), |_| {}).await;
    p.publish(vec![
        site("on.test", &[be.addr]),
        Site {
            http2: Some(false),
            ..site("off.test", &[be.addr])
        },
    ])
    .await;
    let x = p.curl("https", "on.test", "/", &["--http2"]).await;
    assert_eq!((x.status, x.version.as_str()), (200, "2"), "{x:?}");
    let x = p.curl("https", "off.test", "/", &["--http2"]).await;
    assert_eq!((x.status, x.version.as_str()), (200, "1.1"), "{x:?}");

    // ENABLE_HTTP2=false: no site offers h2 unless its label says so.
    let global = HttpsProxy::start(&pki.certs(), &pki.ca_pem(), |cfg| {
        cfg.defaults.http2 = false;
    })
    .await;
    global
        .publish(vec![
            site("off.test", &[be.addr]),
            Site {
                http2: Some(true),
                ..site("on.test", &[be.addr])
            },
        ])
        .await;
    let x = global.curl("https", "off.test", "/", &["--http2"]).await;
    assert_eq!((x.status, x.version.as_str()), (200, "1.1"), "{x:?}");
    let x = global.curl("https", "on.test", "/", &["--http2"]).await;
    assert_eq!((x.status, x.version.as_str()), (200, "2"), "{x:?}");
}

#[tokio::test]
async fn modern_policy_refuses_tls12() {
    let pki = Pki::new();
    pki.install("modern.test", "modern", &["modern.test"]);
    pki.install("inter.test", "inter", &["inter.test"]);
    let be = TestBackend::start("be").await;
    let p = HttpsProxy::start(&pki.certs(), &pki.ca_pem(), |_| {}).await;
    p.publish(vec![
        Site {
            ssl_policy: Some("Mozilla-Modern".into()),
            ..site("modern.test", &[be.addr])
        },
        site("inter.test", &[be.addr]),
    ])
    .await;
    let tls12 = ["--tlsv1.2", "--tls-max", "1.2"];
    let x = p.curl("https", "modern.test", "/", &tls12).await;
    assert_eq!(x.status, 0, "TLS 1.2 accepted by Mozilla-Modern: {x:?}");
    let x = p.curl("https", "modern.test", "/", &["--tlsv1.3"]).await;
    assert_eq!(x.status, 200, "{x:?}");
    let x = p.curl("https", "inter.test", "/", &tls12).await;
    assert_eq!(x.status, 200, "{x:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificate_replaced_during_a_download() {
    require_tool("curl", "curl");
    let pki = Pki::new();
    pki.install("a.test", "old", &["a.test"]);
    let be = TestBackend::start("be").await;
    let p = HttpsProxy::start(&pki.certs(), &pki.ca_pem(), |_| {}).await;
    p.publish(vec![site("a.test", &[be.addr])]).await;
    // 4 MiB at 1 MiB/s: the download outlives the certificate swap by seconds.
    let size = 4 * 1024 * 1024;
    let port = p.https.port();
    let download = tokio::process::Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "20",
            "--limit-rate",
            "1M",
            "-o",
            "/dev/null",
        ])
        .args(["-w", "%{http_code} %{size_download}", "--resolve"])
        .arg(format!("a.test:{port}:127.0.0.1"))
        .arg("--cacert")
        .arg(&p.ca)
        .arg(format!("https://a.test:{port}/bytes/{size}"))
        .output();
    let download = tokio::spawn(download);
    tokio::time::sleep(Duration::from_millis(500)).await;
    pki.install("a.test", "new", &["a.test"]);
    let client = Client::new();
    let took = client.serves_within(p.https, "a.test", "new", LIMIT).await;
    assert!(took.is_some(), "new certificate not served within 2 s");
    assert!(
        !download.is_finished(),
        "the download should still be running"
    );
    let out = download.await.unwrap().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text,
        format!("200 {size}"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn the_connection_limit_covers_https_too() {
    use tokio::io::AsyncWriteExt;
    let pki = Pki::new();
    pki.install("a.test", "a", &["a.test"]);
    let be = TestBackend::start("be").await;
    let p = HttpsProxy::start(&pki.certs(), &pki.ca_pem(), |c| {
        c.limits.max_connections = 1
    })
    .await;
    p.publish(vec![site("a.test", &[be.addr])]).await;
    // A plain-HTTP keep-alive connection (answered with the HTTPS redirect) holds the only
    // permit.
    let mut held = tokio::net::TcpStream::connect(p.d.addr).await.unwrap();
    held.write_all(b"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
        .await
        .unwrap();
    assert!(read_head(&mut held).await.starts_with("HTTP/1.1 301"));
    // An HTTPS client past the limit is closed at once, like nginx (not queued behind it).
    let client = Client::new();
    let refused = tokio::time::timeout(Duration::from_secs(5), client.get(p.https, "a.test"))
        .await
        .expect("closed promptly, not left waiting");
    assert!(refused.is_err(), "served beyond the limit");
    drop(held);
    // The permit comes back when the plain connection ends.
    let served = within(Duration::from_secs(5), || async {
        client.get(p.https, "a.test").await.is_ok()
    })
    .await;
    assert!(
        served.is_some(),
        "the HTTPS client never got the freed permit"
    );
}
