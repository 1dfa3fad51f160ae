use super::*;

fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k| map.get(k).cloned()
}

#[test]
fn settings_are_off_unless_asked_for_and_need_an_ask_url() {
    assert_eq!(OnDemandSettings::from_vars(vars(&[])), Ok(None));
    assert_eq!(
        OnDemandSettings::from_vars(vars(&[("ON_DEMAND_TLS", "false")])),
        Ok(None)
    );
    assert_eq!(
        OnDemandSettings::from_vars(vars(&[("ON_DEMAND_TLS", "true")])),
        Err(SettingsError::NoAsk)
    );
    assert!(matches!(
        OnDemandSettings::from_vars(vars(&[
            ("ON_DEMAND_TLS", "true"),
            ("ON_DEMAND_TLS_ASK", "localhost:5555/check")
        ])),
        Err(SettingsError::BadAsk(_))
    ));
    assert!(matches!(
        OnDemandSettings::from_vars(vars(&[("ON_DEMAND_TLS", "yes please")])),
        Err(SettingsError::Flag(_))
    ));
    let on = OnDemandSettings::from_vars(vars(&[
        ("ON_DEMAND_TLS", "true"),
        ("ON_DEMAND_TLS_ASK", "http://127.0.0.1:5555/check"),
    ]))
    .unwrap()
    .unwrap();
    assert_eq!(
        on,
        OnDemandSettings {
            ask: "http://127.0.0.1:5555/check".into(),
            rate_per_minute: DEFAULT_RATE,
            wait: DEFAULT_WAIT,
            deny_for: DEFAULT_DENY_FOR,
        }
    );
}

#[test]
fn numbers_are_bounded() {
    let with = |name: &str, value: &str| {
        OnDemandSettings::from_vars(vars(&[
            ("ON_DEMAND_TLS", "true"),
            ("ON_DEMAND_TLS_ASK", "https://auth.test/ask?token=x"),
            (name, value),
        ]))
    };
    assert_eq!(
        with("ON_DEMAND_TLS_RATE", "60")
            .unwrap()
            .unwrap()
            .rate_per_minute,
        60
    );
    assert_eq!(
        with("ON_DEMAND_TLS_WAIT", "5").unwrap().unwrap().wait,
        Duration::from_secs(5)
    );
    assert_eq!(
        with("ON_DEMAND_TLS_DENY_CACHE", "0")
            .unwrap()
            .unwrap()
            .deny_for,
        Duration::ZERO
    );
    for (name, bad) in [
        ("ON_DEMAND_TLS_RATE", "0"),
        ("ON_DEMAND_TLS_RATE", "601"),
        ("ON_DEMAND_TLS_RATE", "ten"),
        ("ON_DEMAND_TLS_WAIT", "0"),
        ("ON_DEMAND_TLS_WAIT", "301"),
        ("ON_DEMAND_TLS_DENY_CACHE", "-1"),
    ] {
        let err = with(name, bad).unwrap_err();
        assert!(
            matches!(&err, SettingsError::OutOfRange { name: n, .. } if *n == name),
            "{name}={bad}: {err}"
        );
    }
}

#[test]
fn ask_url_appends_the_domain() {
    let mut s = OnDemandSettings {
        ask: "http://a.test/check".into(),
        rate_per_minute: 1,
        wait: DEFAULT_WAIT,
        deny_for: DEFAULT_DENY_FOR,
    };
    assert_eq!(s.ask_url("x.test"), "http://a.test/check?domain=x.test");
    s.ask = "http://a.test/check?token=t".into();
    assert_eq!(
        s.ask_url("x.test"),
        "http://a.test/check?token=t&domain=x.test"
    );
}

#[test]
fn names_must_be_public_dns_names() {
    for ok in [
        "a.test",
        "www.example.com",
        "x-1.b2.example",
        "a.b.c.d.e.f.example.org",
    ] {
        assert_eq!(check_name(ok), Ok(()), "{ok}");
    }
    let long_label = format!("{}.test", "a".repeat(64));
    let long_name = format!("{}.test", vec!["a".repeat(60); 5].join("."));
    let cases: &[(&str, NameError)] = &[
        ("", NameError::Length),
        (&long_name, NameError::Length),
        ("*.example.com", NameError::Wildcard),
        ("a*.example.com", NameError::Wildcard),
        ("192.0.2.1", NameError::IpAddress),
        ("10.0.0", NameError::IpAddress),
        ("::1", NameError::IpAddress),
        ("localhost", NameError::SingleLabel),
        (&long_label, NameError::Label("a".repeat(64))),
        ("a..test", NameError::Label(String::new())),
        ("a.test.", NameError::Label(String::new())),
        ("-a.test", NameError::Label("-a".into())),
        ("a-.test", NameError::Label("a-".into())),
        ("a_b.test", NameError::Label("a_b".into())),
        ("A.test", NameError::Label("A".into())),
        ("é.test", NameError::Label("é".into())),
        ("a b.test", NameError::Label("a b".into())),
    ];
    for (name, want) in cases {
        assert_eq!(check_name(name).as_ref(), Err(want), "{name:?}");
    }
}

#[test]
fn rate_limit_allows_n_per_sliding_minute() {
    let t0 = Instant::now();
    let s = Duration::from_secs;
    let mut rate = RateLimit::new(3);
    assert_eq!(rate.try_take(t0), Ok(()));
    assert_eq!(rate.try_take(t0 + s(10)), Ok(()));
    assert_eq!(rate.try_take(t0 + s(20)), Ok(()));
    assert_eq!(
        rate.try_take(t0 + s(30)),
        Err(s(30)),
        "full until the first is a minute old"
    );
    assert_eq!(rate.try_take(t0 + s(60)), Ok(()));
    assert_eq!(rate.try_take(t0 + s(61)), Err(s(9)));
    assert_eq!(rate.try_take(t0 + s(200)), Ok(()));
}

#[test]
fn memory_denies_for_a_while_then_forgets() {
    let t0 = Instant::now();
    let s = Duration::from_secs;
    let mut m = Memory::new(10, FAILED_BACKOFF);
    m.deny("no.test", t0, s(300));
    assert_eq!(
        m.recall("no.test", t0 + s(299)),
        Some((Verdict::Denied, t0 + s(300)))
    );
    assert_eq!(m.recall("no.test", t0 + s(300)), None);
    assert_eq!(m.recall("other.test", t0), None);
    m.rate_limited("busy.test", t0, s(5));
    assert_eq!(
        m.recall("busy.test", t0 + s(1)).map(|r| r.0),
        Some(Verdict::RateLimited)
    );
    m.forget("busy.test");
    assert_eq!(m.recall("busy.test", t0 + s(1)), None);
}

#[test]
fn failed_orders_back_off_exponentially() {
    let t0 = Instant::now();
    let mut m = Memory::new(10, FAILED_BACKOFF);
    // jitter 0.5: exactly the nominal delay.
    assert_eq!(m.failed("f.test", t0, 0.5), Duration::from_secs(60));
    assert_eq!(m.failed("f.test", t0, 0.5), Duration::from_secs(120));
    assert_eq!(m.failed("f.test", t0, 0.5), Duration::from_secs(240));
    assert_eq!(
        m.recall("f.test", t0 + Duration::from_secs(1)).map(|r| r.0),
        Some(Verdict::Failed { failures: 3 })
    );
    for _ in 0..10 {
        m.failed("f.test", t0, 0.5);
    }
    assert_eq!(
        m.failed("f.test", t0, 0.5),
        Duration::from_secs(3600),
        "capped"
    );
    // A denial in between starts the failure count over.
    m.deny("f.test", t0, Duration::from_secs(1));
    assert_eq!(m.failed("f.test", t0, 0.5), Duration::from_secs(60));
}

#[test]
fn memory_is_bounded_expired_first_then_soonest() {
    let t0 = Instant::now();
    let s = Duration::from_secs;
    let mut m = Memory::new(3, FAILED_BACKOFF);
    m.deny("a.test", t0, s(1));
    m.deny("b.test", t0, s(2));
    m.deny("c.test", t0, s(50));
    // Full: every expired entry goes at once.
    m.deny("d.test", t0 + s(5), s(100));
    assert_eq!(m.len(), 2);
    m.deny("e.test", t0 + s(5), s(100));
    assert_eq!(m.len(), 3);
    // Full of live entries: the one expiring soonest goes.
    m.deny("f.test", t0 + s(6), s(100));
    assert_eq!(m.len(), 3);
    assert_eq!(
        m.recall("c.test", t0 + s(7)),
        None,
        "soonest to expire dropped"
    );
    for name in ["d.test", "e.test", "f.test"] {
        assert!(m.recall(name, t0 + s(7)).is_some(), "{name}");
    }
}

/// The ask URL's query string may carry a token: `dockside check` and logs show it redacted.
#[test]
fn the_ask_urls_query_is_never_shown() {
    let settings = OnDemandSettings {
        ask: "https://ask.example/check?token=s3cret".to_owned(),
        rate_per_minute: 10,
        wait: Duration::from_secs(30),
        deny_for: Duration::from_secs(300),
    };
    assert_eq!(settings.ask_redacted(), "https://ask.example/check?…");
    assert!(!settings.describe(None).contains("s3cret"));
    assert!(
        settings
            .ask_url("a.example")
            .contains("token=s3cret&domain=a.example")
    );
    assert_eq!(
        redact_query("https://ask.example/check"),
        "https://ask.example/check"
    );
}
