//! HTTPS policies through the whole proxy with curl (nginx-proxy §1.6.6): every HTTPS_METHOD ×
//! (GET, POST) × (http, https), NON_GET_REDIRECT global and per site, HSTS on backend and proxy
//! errors, X-Forwarded-* toward backends, ENABLE_HTTP_ON_MISSING_CERT with a certificate that
//! appears while running, unknown names and 421.

mod common;

use std::time::Duration;

use common::https::HttpsProxy;
use common::tls::{Pki, s_client, within};
use common::{TestBackend, dead_addr, site};
use dockside::model::{HttpsMethod, Site};

/// (host, verb, scheme, status, Location, HSTS present)
type Case = (
    &'static str,
    &'static str,
    &'static str,
    u16,
    Option<String>,
    bool,
);

const STS: &str = "strict-transport-security";

fn with(method: HttpsMethod, s: Site) -> Site {
    Site {
        https_method: Some(method),
        ..s
    }
}

#[tokio::test]
async fn method_by_verb_by_scheme() {
    let pki = Pki::new();
    for name in [
        "re.test",
        "nore.test",
        "nohttp.test",
        "nohttps.test",
        "label.test",
    ] {
        pki.install(name, name, &[name]);
    }
    let be = TestBackend::start("be").await;
    let b = [be.addr];
    let p = HttpsProxy::start(&pki.certs(), &pki.ca_pem(), |cfg| {
        cfg.defaults.non_get_redirect = 308;
    })
    .await;
    p.publish(vec![
        site("re.test", &b),
        with(HttpsMethod::NoRedirect, site("nore.test", &b)),
        with(HttpsMethod::NoHttp, site("nohttp.test", &b)),
        with(HttpsMethod::NoHttps, site("nohttps.test", &b)),
        Site {
            non_get_redirect: Some(307),
            ..site("label.test", &b)
        },
    ])
    .await;
    let port = p.https.port();
    let to = |host: &str| format!("https://{host}:{port}/p?q=1");
    let cases: Vec<Case> = vec![
        ("re.test", "GET", "http", 301, Some(to("re.test")), false),
        ("re.test", "POST", "http", 308, Some(to("re.test")), false),
        ("re.test", "GET", "https", 200, None, true),
        ("re.test", "POST", "https", 200, None, true),
        (
            "label.test",
            "GET",
            "http",
            301,
            Some(to("label.test")),
            false,
        ),
        (
            "label.test",
            "POST",
            "http",
            307,
            Some(to("label.test")),
            false,
        ),
        ("nore.test", "GET", "http", 200, None, false),
        ("nore.test", "POST", "http", 200, None, false),
        ("nore.test", "GET", "https", 200, None, false),
        ("nore.test", "POST", "https", 200, None, false),
        ("nohttp.test", "GET", "http", 503, None, false),
        ("nohttp.test", "POST", "http", 503, None, false),
        ("nohttp.test", "GET", "https", 200, None, true),
        ("nohttp.test", "POST", "https", 200, None, true),
        ("nohttps.test", "GET", "http", 200, None, false),
        ("nohttps.test", "POST", "http", 200, None, false),
        // No default.crt: TLS for a nohttps name is refused like an unknown name.
        ("nohttps.test", "GET", "https", 0, None, false),
        ("nohttps.test", "POST", "https", 0, None, false),
    ];
    for (host, verb, scheme, status, location, hsts) in cases {
        let x = p.curl(scheme, host, "/p?q=1", &["-X", verb]).await;
        let what = format!("{verb} {scheme}://{host}: {x:?}");
        assert_eq!(x.status, status, "{what}");
        assert_eq!(x.header("location").map(str::to_owned), location, "{what}");
        assert_eq!(x.header(STS).is_some(), hsts, "{what}");
        if hsts {
            assert_eq!(x.header(STS), Some("max-age=31536000"), "{what}");
        }
        if status == 200 {
            assert_eq!(x.json()["method"], verb, "{what}");
        }
    }
    // Toward the backend over HTTPS (nginx-proxy §1.6.9).
    let x = p.curl("https", "nore.test", "/", &[]).await;
    let h = &x.json()["headers"];
    assert_eq!(h["x-forwarded-proto"], "https", "{x:?}");
    assert_eq!(h["x-forwarded-ssl"], "on", "{x:?}");
    assert_eq!(h["x-forwarded-port"], port.to_string(), "{x:?}");
    // The ACME path is never redirected.
    let x = p
        .curl("http", "re.test", "/.well-known/acme-challenge/t", &[])
        .await;
    assert_eq!(x.status, 404, "{x:?}");
}

#[tokio::test]
async fn hsts_on_errors_and_not_when_off() {
    let pki = Pki::new();
    for name in ["a.test", "down.test", "off.test"] {
        pki.install(name, name, &[name]);
    }
    let be = TestBackend::start("be").await;
    let p = HttpsProxy::start(&pki.certs(), &pki.ca_pem(), |_| {}).await;
    p.publish(vec![
        site("a.test", &[be.addr]),
        site("down.test", &[dead_addr()]),
        Site {
            hsts: Some("off".into()),
            ..site("off.test", &[be.addr])
        },
    ])
    .await;
    let x = p.curl("https", "a.test", "/status/500", &[]).await;
    assert_eq!(
        (x.status, x.header(STS)),
        (500, Some("max-age=31536000")),
        "{x:?}"
    );
    let x = p.curl("https", "down.test", "/", &[]).await;
    assert_eq!(
        (x.status, x.header(STS)),
        (502, Some("max-age=31536000")),
        "{x:?}"
    );
    let x = p.curl("https", "off.test", "/status/500", &[]).await;
    assert_eq!((x.status, x.header(STS)), (500, None), "{x:?}");
}

#[tokio::test]
async fn missing_certificate_serves_http_until_one_appears() {
    let pki = Pki::new();
    let be = TestBackend::start("be").await;
    let p = HttpsProxy::start(&pki.certs(), &pki.ca_pem(), |_| {}).await;
    p.publish(vec![
        site("late.test", &[be.addr]),
        Site {
            enable_http_on_missing_cert: Some(false),
            ..site("strict.test", &[be.addr])
        },
    ])
    .await;
    let x = p.curl("http", "late.test", "/", &[]).await;
    assert_eq!(
        x.status, 200,
        "served over HTTP without a certificate: {x:?}"
    );
    let x = p.curl("https", "late.test", "/", &[]).await;
    assert_eq!(x.status, 0, "TLS refused without a certificate: {x:?}");
    // ENABLE_HTTP_ON_MISSING_CERT=false keeps nginx-proxy's redirect to a refused HTTPS.
    let x = p.curl("http", "strict.test", "/", &[]).await;
    assert_eq!(x.status, 301, "{x:?}");

    pki.install("late.test", "late", &["late.test"]);
    let took = within(Duration::from_secs(2), || async {
        p.curl("http", "late.test", "/", &[]).await.status == 301
    })
    .await;
    assert!(took.is_some(), "redirect did not start within 2 s");
    let x = p.curl("https", "late.test", "/", &[]).await;
    assert_eq!(x.status, 200, "{x:?}");
}

#[tokio::test]
async fn unknown_names_and_misdirected_requests() {
    let pki = Pki::new();
    pki.install("a.test", "a", &["a.test"]);
    pki.install("b.test", "b", &["b.test"]);
    pki.install("both", "both", &["c.test", "d.test"]);
    let be = TestBackend::start("be").await;
    let b = [be.addr];
    let p = HttpsProxy::start(&pki.certs(), &pki.ca_pem(), |_| {}).await;
    p.publish(vec![
        site("a.test", &b),
        site("b.test", &b),
        Site {
            cert_name: Some("both".into()),
            ..site("c.test", &b)
        },
        Site {
            cert_name: Some("both".into()),
            ..site("d.test", &b)
        },
    ])
    .await;
    let port = p.https.port();
    // Unknown SNI without default.crt: refused with unrecognized_name.
    let x = p.curl("https", "nowhere.test", "/", &["-k"]).await;
    assert_eq!(x.status, 0, "{x:?}");
    let (ok, text) = s_client(p.https, &["-servername", "nowhere.test"]).await;
    assert!(!ok && text.contains("unrecognized name"), "{text}");
    // SNI a.test, Host b.test: another site, not covered by a.test's certificate → 421.
    let x = p.curl_to("https", "a.test", port, "b.test", "/", &[]).await;
    assert_eq!(x.status, 421, "{x:?}");
    // One certificate for c.test and d.test: a request for either on the other's connection is fine.
    let x = p.curl_to("https", "c.test", port, "d.test", "/", &[]).await;
    assert_eq!(x.status, 200, "{x:?}");

    // With default.crt, unknown names are served with it and answered 503.
    pki.install("default", "default", &["default.invalid"]);
    let took = within(Duration::from_secs(2), || async {
        p.curl("https", "nowhere.test", "/", &["-k"]).await.status == 503
    })
    .await;
    assert!(took.is_some(), "default.crt not picked up within 2 s");
    let x = p.curl("https", "a.test", "/", &[]).await;
    assert_eq!(x.status, 200, "{x:?}");
}

#[tokio::test]
async fn nohttp_falls_to_the_default_host_over_http() {
    let pki = Pki::new();
    pki.install("only-tls.test", "only-tls", &["only-tls.test"]);
    let tls_be = TestBackend::start("tls-site").await;
    let default_be = TestBackend::start("default-site").await;
    let p = HttpsProxy::start(&pki.certs(), &pki.ca_pem(), |cfg| {
        cfg.defaults.default_host = Some("dflt.test".into());
    })
    .await;
    p.publish(vec![
        with(HttpsMethod::NoHttp, site("only-tls.test", &[tls_be.addr])),
        with(
            HttpsMethod::NoRedirect,
            site("dflt.test", &[default_be.addr]),
        ),
    ])
    .await;
    // Over HTTP the nohttp site does not exist: the DEFAULT_HOST site answers, as for an unknown Host.
    let x = p.curl("http", "only-tls.test", "/", &[]).await;
    assert_eq!(x.status, 200, "{x:?}");
    assert_eq!(x.json()["backend"], "default-site", "{x:?}");
    let x = p.curl("https", "only-tls.test", "/", &[]).await;
    assert_eq!(x.json()["backend"], "tls-site", "{x:?}");
}

/// With HTTPS off every site is served as `noredirect` over HTTP, and the ACME step reads the
/// same effective method as the policy step: `redirect` + `ENABLE_HTTP_ON_MISSING_CERT=false`
/// with the `legacy` challenge location no longer answers a stranger's token with 404 (the
/// second copy of `effective_method`, which lacked the HTTPS-off branch, did) but serves the
/// path like any other, as the site's own pages are served.
#[tokio::test]
async fn https_off_challenge_path_follows_the_served_method() {
    use dockside::model::AcmeChallengeLocation;
    let d = common::Dockside::start(|_| {}).await;
    let b = TestBackend::start("app").await;
    let legacy = |host: &str, location| Site {
        https_method: Some(HttpsMethod::Redirect),
        enable_http_on_missing_cert: Some(false),
        acme_http_challenge: Some(location),
        ..site(host, &[b.addr])
    };
    d.publish(vec![
        legacy("legacy.test", AcmeChallengeLocation::Legacy),
        legacy("enabled.test", AcmeChallengeLocation::Enabled),
    ])
    .await;
    let path = "/.well-known/acme-challenge/unknown-token";
    // The site itself is served, not redirected: HTTPS is off.
    assert_eq!(common::get(&d, "legacy.test", "/").await.backend(), "app");
    let x = common::get(&d, "legacy.test", path).await;
    assert_eq!(x.status, http::StatusCode::OK, "{x:?}");
    assert_eq!(x.backend(), "app");
    // `true` (nginx-proxy's default) still answers the challenge path itself.
    let x = common::get(&d, "enabled.test", path).await;
    assert_eq!(x.status, http::StatusCode::NOT_FOUND, "{x:?}");
}

/// A request reads routes and certificate facts of one moment (`live`): while `a.test` (which
/// has a certificate, so `redirect` applies) comes and goes, a plain-HTTP request for it is
/// redirected (301) or finds no site (503), never served over HTTP as if its certificate were
/// missing (200). With the route table and the certificate view in two `ArcSwap`s, a request
/// could look the site up in one table and ask for its certificate in the next, which no
/// longer knows it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_never_mixes_two_moments() {
    use dockside::model::DesiredState;
    let pki = Pki::new();
    pki.install("a.test", "a", &["a.test"]);
    let be = TestBackend::start("be").await;
    let p = HttpsProxy::start(&pki.certs(), &pki.ca_pem(), |_| {}).await;
    let with_a = vec![site("a.test", &[be.addr]), site("b.test", &[be.addr])];
    let without_a = vec![site("b.test", &[be.addr])];
    p.publish(with_a.clone()).await;
    assert_eq!(p.curl("http", "a.test", "/", &[]).await.status, 301);

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let toggler = {
        let (stop, running) = (stop.clone(), &p.d.running);
        let states = [with_a, without_a].map(|sites| DesiredState {
            sites: sites.into_iter().map(std::sync::Arc::new).collect(),
            ..Default::default()
        });
        async move {
            let mut flips = 0u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                running.publish(states[(flips % 2) as usize].clone());
                flips += 1;
                tokio::time::sleep(Duration::from_micros(200)).await;
            }
            flips
        }
    };
    let url = p.d.url("/");
    let client = common::client();
    let requests = async {
        let mut seen = std::collections::BTreeMap::<u16, u32>::new();
        for _ in 0..4000 {
            let req = http::Request::get(&url)
                .header("host", "a.test")
                .body(common::empty_body())
                .unwrap();
            let status = client.request(req).await.expect("response").status();
            *seen.entry(status.as_u16()).or_default() += 1;
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        seen
    };
    let (flips, seen) = tokio::join!(toggler, requests);
    assert!(
        seen.keys().all(|s| *s == 301 || *s == 503),
        "{seen:?} over {flips} route changes"
    );
    assert!(
        flips > 100 && seen.len() == 2,
        "both states were seen: {seen:?}, {flips} flips"
    );
}
