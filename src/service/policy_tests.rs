use super::*;

const ON: Listeners = Listeners {
    https: true,
    https_port: 443,
};

fn site(method: HttpsMethod, cert_ok: bool) -> SitePolicy<'static> {
    SitePolicy {
        method,
        hsts: Some("max-age=31536000"),
        non_get_redirect: 301,
        enable_http_on_missing_cert: true,
        cert_ok,
    }
}

fn ask(scheme: Scheme, method: &Method) -> Ask<'_> {
    Ask {
        scheme,
        method,
        host: "a.test",
        request_uri: "/p?q=1",
    }
}

fn redirect(status: u16, location: &str) -> Verdict<'static> {
    Verdict::Redirect {
        status: StatusCode::from_u16(status).unwrap(),
        location: location.to_owned(),
    }
}

const HSTS: Verdict<'static> = Verdict::Proceed {
    hsts: Some("max-age=31536000"),
};
const PLAIN: Verdict<'static> = Verdict::Proceed { hsts: None };

#[test]
fn method_scheme_table_with_certificate() {
    use HttpsMethod::*;
    let to = "https://a.test/p?q=1";
    let cases = [
        (Redirect, Scheme::Http, Method::GET, redirect(301, to)),
        (Redirect, Scheme::Http, Method::HEAD, redirect(301, to)),
        (Redirect, Scheme::Http, Method::POST, redirect(301, to)),
        (Redirect, Scheme::Https, Method::GET, HSTS),
        (Redirect, Scheme::Https, Method::POST, HSTS),
        (NoRedirect, Scheme::Http, Method::GET, PLAIN),
        (NoRedirect, Scheme::Https, Method::POST, PLAIN),
        (NoHttp, Scheme::Http, Method::GET, Verdict::NotServed),
        (NoHttp, Scheme::Https, Method::GET, HSTS),
        (NoHttps, Scheme::Http, Method::POST, PLAIN),
        (NoHttps, Scheme::Https, Method::GET, Verdict::NotServed),
    ];
    for (method, scheme, verb, want) in cases {
        let got = decide(ask(scheme, &verb), &site(method, true), ON);
        assert_eq!(got, want, "{method:?} {scheme:?} {verb}");
    }
}

#[test]
fn non_get_redirect_applies_to_the_listed_methods_only() {
    let mut s = site(HttpsMethod::Redirect, true);
    s.non_get_redirect = 308;
    for (verb, status) in [
        (Method::GET, 301),
        (Method::HEAD, 301),
        (Method::OPTIONS, 308),
        (Method::POST, 308),
        (Method::PUT, 308),
        (Method::PATCH, 308),
        (Method::DELETE, 308),
        (Method::TRACE, 301),
    ] {
        let got = decide(ask(Scheme::Http, &verb), &s, ON);
        assert_eq!(got, redirect(status, "https://a.test/p?q=1"), "{verb}");
    }
}

#[test]
fn port_is_kept_when_not_443() {
    let listeners = Listeners {
        https: true,
        https_port: 8443,
    };
    let got = decide(
        ask(Scheme::Http, &Method::GET),
        &site(HttpsMethod::Redirect, true),
        listeners,
    );
    assert_eq!(got, redirect(301, "https://a.test:8443/p?q=1"));
}

#[test]
fn missing_certificate_serves_http_unless_disabled() {
    for method in [HttpsMethod::Redirect, HttpsMethod::NoHttp] {
        let got = decide(ask(Scheme::Http, &Method::GET), &site(method, false), ON);
        assert_eq!(got, PLAIN, "{method:?}");
        let mut strict = site(method, false);
        strict.enable_http_on_missing_cert = false;
        let got = decide(ask(Scheme::Http, &Method::GET), &strict, ON);
        assert_ne!(got, PLAIN, "{method:?} without ENABLE_HTTP_ON_MISSING_CERT");
    }
}

#[test]
fn https_off_serves_everything_over_http() {
    let off = Listeners {
        https: false,
        https_port: 443,
    };
    for method in [HttpsMethod::Redirect, HttpsMethod::NoHttp] {
        let got = decide(ask(Scheme::Http, &Method::GET), &site(method, true), off);
        assert_eq!(got, PLAIN, "{method:?}");
    }
}

#[test]
fn hsts_off_and_missing_certificate_send_no_header() {
    let mut off = site(HttpsMethod::Redirect, true);
    off.hsts = None;
    assert_eq!(decide(ask(Scheme::Https, &Method::GET), &off, ON), PLAIN);
    let mut strict = site(HttpsMethod::Redirect, false);
    strict.enable_http_on_missing_cert = false;
    assert_eq!(decide(ask(Scheme::Https, &Method::GET), &strict, ON), PLAIN);
}

#[test]
fn misdirected_only_when_neither_site_nor_certificate_match() {
    let never = || unreachable!();
    assert!(!misdirected(Some("a.test"), "a.test", never, never));
    assert!(!misdirected(Some("a.test"), "b.test", || true, || false));
    assert!(misdirected(Some("a.test"), "b.test", || false, || false));
    assert!(misdirected(None, "b.test", || false, || false));
    // mTLS: another site that verifies clients is never reached over this handshake.
    assert!(misdirected(Some("a.test"), "b.test", || true, || true));
}
