//! Client certificates (mTLS, nginx-proxy §1.5 and §1.6.7) through the whole proxy: CA and CRL
//! files in the certificate directory, the `ssl_verify_client` setting, nginx's 400 answers, the
//! verification result for the backend, other sites on the same listener asking for nothing, the
//! global `ca.crt`, and CA files replaced while running. Real clients: curl, openssl s_client,
//! and a rustls client that records the CertificateRequest.

mod common;

use std::time::Duration;

use common::https::{Exchange, HttpsProxy};
use common::tls::mtls::{self, ClientCa, ClientCert, MtlsClient};
use common::tls::{Pki, s_client, within};
use common::{TestBackend, site};
use dockside::model::{Site, VerifyClient};

const NO_CERT: &str = "No required SSL certificate was sent";
const BAD_CERT: &str = "The SSL certificate error";
const TLS13: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS13];
const TLS12: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS12];

async fn curl(p: &HttpsProxy, host: &str, cert: Option<&ClientCert>, extra: &[&str]) -> Exchange {
    let mut args: Vec<String> = cert.map(ClientCert::curl_args).unwrap_or_default();
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    p.curl("https", host, "/", &args).await
}

/// What the backend received as `name` (`None`: not sent).
fn seen(r: &Exchange, name: &str) -> Option<String> {
    r.json()["headers"][name].as_str().map(str::to_owned)
}

fn refused(r: &Exchange, text: &str) {
    assert_eq!(r.status, 400, "{r:?}");
    assert!(r.body.contains(text), "{r:?}");
    // Like nginx, an HTTP/1.1 connection is not kept (HTTP/2 has no Connection header).
    if r.version == "1.1" {
        assert_eq!(r.header("connection"), Some("close"), "{r:?}");
    }
}

#[tokio::test]
async fn client_certificates_per_site_on_one_listener() {
    common::logs::capture();
    let pki = Pki::new();
    let certs = pki.certs();
    for name in ["secure.test", "opt.test", "judge.test"] {
        pki.install(name, name, &[name]);
    }
    // open.test's certificate also covers secure.test: the 421 check must still stop a request
    // for secure.test over a handshake that asked for no client certificate.
    pki.install("open.test", "open.test", &["open.test", "secure.test"]);
    let (one, two) = (
        ClientCa::new("client CA one"),
        ClientCa::new("client CA two"),
    );
    std::fs::write(certs.join("secure.test.ca.crt"), &one.pem).unwrap();
    std::fs::write(certs.join("secure.test.crl.pem"), one.crl(&[13])).unwrap();
    std::fs::write(certs.join("opt.test.ca.crt"), &one.pem).unwrap();
    std::fs::write(certs.join("judge.test.ca.crt"), &one.pem).unwrap();
    let dir = pki.tmp.path();
    let alice = one.client(dir, "alice", 11, false);
    let mallory = two.client(dir, "mallory", 12, false);
    let revoked = one.client(dir, "revoked", 13, false);
    let expired = one.client(dir, "expired", 14, true);

    let be = TestBackend::start("be").await;
    let b = [be.addr];
    let p = HttpsProxy::start(&certs, &pki.ca_pem(), |_| {}).await;
    p.publish(vec![
        site("secure.test", &b),
        Site {
            ssl_verify_client: Some(VerifyClient::Optional),
            ..site("opt.test", &b)
        },
        site("open.test", &b),
        Site {
            ssl_verify_client: Some(VerifyClient::OptionalNoCa),
            ..site("judge.test", &b)
        },
    ])
    .await;

    // `on` (the default with a CA file): only a valid certificate of the site's CA passes.
    let forged = [
        "-H",
        "X-SSL-Client-Verify: SUCCESS",
        "-H",
        "X-SSL-Client-S-DN: CN=root",
    ];
    let r = curl(&p, "secure.test", Some(&alice), &forged).await;
    assert_eq!(r.status, 200, "{r:?}");
    refused(
        &curl(&p, "secure.test", None, &["--http1.1"]).await,
        NO_CERT,
    );
    assert_eq!(seen(&r, "x-ssl-client-verify").as_deref(), Some("SUCCESS"));
    assert_eq!(seen(&r, "x-ssl-client-s-dn").as_deref(), Some("CN=alice"));
    refused(&curl(&p, "secure.test", None, &forged).await, NO_CERT);
    refused(
        &curl(&p, "secure.test", Some(&mallory), &[]).await,
        BAD_CERT,
    );
    refused(
        &curl(&p, "secure.test", Some(&revoked), &[]).await,
        BAD_CERT,
    );
    refused(
        &curl(&p, "secure.test", Some(&expired), &[]).await,
        BAD_CERT,
    );

    // `optional`: no certificate passes (and the backend is told so), an invalid one does not.
    let r = curl(&p, "opt.test", None, &forged).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(seen(&r, "x-ssl-client-verify").as_deref(), Some("NONE"));
    assert_eq!(seen(&r, "x-ssl-client-s-dn"), None);
    assert_eq!(curl(&p, "opt.test", Some(&alice), &[]).await.status, 200);
    refused(&curl(&p, "opt.test", Some(&mallory), &[]).await, BAD_CERT);

    // `optional_no_ca`: nothing is refused; the backend reads the verdict.
    let r = curl(&p, "judge.test", Some(&mallory), &[]).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        seen(&r, "x-ssl-client-verify").as_deref(),
        Some("FAILED:unable to get local issuer certificate")
    );
    assert_eq!(seen(&r, "x-ssl-client-s-dn").as_deref(), Some("CN=mallory"));

    // A site without a CA file asks for nothing and passes no client headers, forged or not.
    let r = curl(&p, "open.test", None, &forged).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(seen(&r, "x-ssl-client-verify"), None, "{r:?}");
    assert_eq!(seen(&r, "x-ssl-client-s-dn"), None, "{r:?}");
    // Host secure.test over open.test's handshake (its certificate covers both): 421.
    let port = p.https.port();
    let r = p
        .curl_to("https", "open.test", port, "secure.test", "/", &[])
        .await;
    assert_eq!(
        r.status, 421,
        "mTLS bypassed through another site's handshake: {r:?}"
    );

    // openssl: the CertificateRequest names the site's CA; the other site sends none.
    let (ok, text) = s_client(p.https, &["-servername", "secure.test"]).await;
    assert!(ok, "{text}");
    assert!(
        text.contains("Acceptable client certificate CA names") && text.contains("client CA one"),
        "{text}"
    );
    let (ok, text) = s_client(p.https, &["-servername", "open.test"]).await;
    assert!(ok, "{text}");
    assert!(
        text.contains("No client certificate CA names sent"),
        "{text}"
    );
    // A certificate of another CA completes the handshake: the refusal is nginx's HTTP 400.
    let (cert, key) = (
        mallory.cert.display().to_string(),
        mallory.key.display().to_string(),
    );
    let (ok, text) = s_client(
        p.https,
        &["-servername", "secure.test", "-cert", &cert, "-key", &key],
    )
    .await;
    assert!(ok && !text.contains("alert"), "{text}");

    // rustls, TLS 1.3 and 1.2: a CertificateRequest only where a CA file applies.
    for versions in [TLS13, TLS12] {
        let open = mtls::request(p.https, "open.test", Some(&alice), versions)
            .await
            .unwrap();
        assert!(
            open.hints.is_none(),
            "open.test asked for a client certificate"
        );
        assert!(
            open.response.starts_with("HTTP/1.1 200"),
            "{}",
            open.response
        );
        let secure = mtls::request(p.https, "secure.test", Some(&alice), versions)
            .await
            .unwrap();
        assert!(secure.names("client CA one"), "{:?}", secure.hints);
        assert!(!secure.names("client CA two"), "{:?}", secure.hints);
        assert!(
            secure.response.starts_with("HTTP/1.1 200"),
            "{}",
            secure.response
        );
        let wrong = mtls::request(p.https, "secure.test", Some(&mallory), versions)
            .await
            .unwrap();
        assert!(
            wrong.response.starts_with("HTTP/1.1 400"),
            "{}",
            wrong.response
        );
        assert!(wrong.response.contains(BAD_CERT), "{}", wrong.response);
    }
}

#[tokio::test]
async fn the_global_ca_applies_and_ca_files_reload_without_a_restart() {
    common::logs::capture();
    let pki = Pki::new();
    let certs = pki.certs();
    for name in ["a.test", "b.test", "c.test"] {
        pki.install(name, name, &[name]);
    }
    let (one, two) = (
        ClientCa::new("client CA one"),
        ClientCa::new("client CA two"),
    );
    std::fs::write(certs.join("ca.crt"), &one.pem).unwrap();
    std::fs::write(certs.join("b.test.ca.crt"), &two.pem).unwrap();
    // Never loadable: c.test refuses every certificate (fail closed) instead of letting all in.
    std::fs::write(certs.join("c.test.ca.crt"), "not a certificate").unwrap();
    let dir = pki.tmp.path();
    let alice = one.client(dir, "alice", 1, false);
    let bob = two.client(dir, "bob", 2, false);

    let be = TestBackend::start("be").await;
    let b = [be.addr];
    let p = HttpsProxy::start(&certs, &pki.ca_pem(), |_| {}).await;
    p.publish(vec![
        site("a.test", &b),
        site("b.test", &b),
        site("c.test", &b),
    ])
    .await;

    // a.test has no file of its own: the global ca.crt applies. b.test's own file wins.
    assert_eq!(curl(&p, "a.test", Some(&alice), &[]).await.status, 200);
    refused(&curl(&p, "a.test", Some(&bob), &[]).await, BAD_CERT);
    refused(&curl(&p, "a.test", None, &[]).await, NO_CERT);
    assert_eq!(curl(&p, "b.test", Some(&bob), &[]).await.status, 200);
    refused(&curl(&p, "b.test", Some(&alice), &[]).await, BAD_CERT);
    refused(&curl(&p, "c.test", Some(&alice), &[]).await, BAD_CERT);
    refused(&curl(&p, "c.test", None, &[]).await, NO_CERT);
    // One clear line naming the file and what to fix, once it has settled (not mid-write).
    let c_file = certs.join("c.test.ca.crt").display().to_string();
    let line =
        common::logs::wait_line(&[&c_file, "no PEM certificate"], Duration::from_secs(5)).await;
    assert!(line.contains("refused until it is fixed"), "{line}");

    // Replacing ca.crt changes who gets in, without a restart.
    replace(&certs.join("ca.crt"), &two.pem);
    let swapped = within(Duration::from_secs(5), || async {
        curl(&p, "a.test", Some(&bob), &[]).await.status == 200
    })
    .await;
    assert!(swapped.is_some(), "the new ca.crt was not picked up");
    refused(&curl(&p, "a.test", Some(&alice), &[]).await, BAD_CERT);

    // A corrupt ca.crt keeps the last good one. (b.test's file changes in the same breath, so
    // seeing it apply proves the corrupt file has been read.)
    replace(
        &certs.join("ca.crt"),
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    );
    replace(&certs.join("b.test.ca.crt"), &one.pem);
    let rescanned = within(Duration::from_secs(5), || async {
        curl(&p, "b.test", Some(&alice), &[]).await.status == 200
    })
    .await;
    assert!(rescanned.is_some(), "b.test.ca.crt was not picked up");
    assert_eq!(curl(&p, "a.test", Some(&bob), &[]).await.status, 200);
    let ca_file = certs.join("ca.crt").display().to_string();
    let line =
        common::logs::wait_line(&[&ca_file, "keeping the last good"], Duration::from_secs(5)).await;
    assert!(line.contains("not a usable CA certificate"), "{line}");

    // A fixed file loads; without any CA file a site asks for nothing (nginx-proxy).
    replace(&certs.join("c.test.ca.crt"), &one.pem);
    let fixed = within(Duration::from_secs(5), || async {
        curl(&p, "c.test", Some(&alice), &[]).await.status == 200
    })
    .await;
    assert!(fixed.is_some(), "the fixed c.test.ca.crt was not picked up");
    std::fs::remove_file(certs.join("ca.crt")).unwrap();
    let gone = within(Duration::from_secs(5), || async {
        curl(&p, "a.test", None, &[]).await.status == 200
    })
    .await;
    assert!(gone.is_some(), "a.test still asks after ca.crt was removed");
    // Each broken file was reported once, though the directory was rescanned many times.
    let logs = common::logs::text();
    let reports = |file: &str| {
        logs.lines()
            .filter(|l| l.contains(&format!("client certificate CA: {file}: ")))
            .count()
    };
    assert_eq!(reports(&c_file), 1, "{logs}");
    assert_eq!(reports(&ca_file), 1, "{logs}");
}

#[tokio::test]
async fn sessions_never_resume_across_client_authentication() {
    common::logs::capture();
    let pki = Pki::new();
    let certs = pki.certs();
    pki.install("late.test", "late.test", &["late.test"]);
    let (one, two) = (
        ClientCa::new("client CA one"),
        ClientCa::new("client CA two"),
    );
    let alice = one.client(pki.tmp.path(), "alice", 1, false);
    let be = TestBackend::start("be").await;
    let p = HttpsProxy::start(&certs, &pki.ca_pem(), |_| {}).await;
    p.publish(vec![site("late.test", &[be.addr])]).await;
    let ok = |a: &mtls::Asked| a.response.starts_with("HTTP/1.1 200");

    let client = MtlsClient::new(Some(&alice), TLS13, true);
    let first = client.get(p.https, "late.test").await.unwrap();
    assert!(ok(&first) && first.hints.is_none(), "{first:?}");
    let again = client.get(p.https, "late.test").await.unwrap();
    assert!(again.resumed, "resumption works before mTLS: {again:?}");

    // A CA file appears: the session from before must not resume into client authentication
    // (it would carry no certificate and get nginx's 400).
    std::fs::write(certs.join("late.test.ca.crt"), &one.pem).unwrap();
    let asks = within(Duration::from_secs(5), || async {
        let fresh = mtls::request(p.https, "late.test", None, TLS13).await;
        fresh.is_ok_and(|a| a.names("client CA one"))
    })
    .await;
    assert!(asks.is_some(), "late.test.ca.crt was not picked up");
    let after = client.get(p.https, "late.test").await.unwrap();
    assert!(!after.resumed && after.names("client CA one"), "{after:?}");
    assert!(ok(&after), "{after:?}");
    // Within one CA, a resumed session keeps its certificate (verified again).
    let resumed = client.get(p.https, "late.test").await.unwrap();
    assert!(resumed.resumed && ok(&resumed), "{resumed:?}");

    // Another CA: no resumption from the old one; alice's certificate is now refused.
    replace(&certs.join("late.test.ca.crt"), &two.pem);
    let asks = within(Duration::from_secs(5), || async {
        let fresh = mtls::request(p.https, "late.test", None, TLS13).await;
        fresh.is_ok_and(|a| a.names("client CA two"))
    })
    .await;
    assert!(asks.is_some(), "the new late.test.ca.crt was not picked up");
    let refused = client.get(p.https, "late.test").await.unwrap();
    assert!(!refused.resumed, "{refused:?}");
    assert!(refused.response.starts_with("HTTP/1.1 400"), "{refused:?}");
    assert!(refused.response.contains(BAD_CERT), "{refused:?}");
}

/// Writes `text` to `path` atomically (a temporary file renamed over it), as deploy tools do.
fn replace(path: &std::path::Path, text: &str) {
    let tmp = path.with_extension("tmp-new");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}
