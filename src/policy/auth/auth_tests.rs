use super::*;

/// Hashes of "correct horse" (commands in `hash_tests.rs`).
const USERS: &[(&str, &str)] = &[
    // htpasswd -nb -B -C 4 alice 'correct horse'
    (
        "alice",
        "$2y$04$pF78d2A0x5e6EoBVzl4Q3.aPCHfb3qrqYmxpURBqpVX0rSgJbyUQW",
    ),
    // htpasswd -nb -m bob 'correct horse'
    ("bob", "$apr1$QaotPf5F$OC812LvwkdtuyNsHwfP/C1"),
    // htpasswd -nb -s carol 'correct horse'
    ("carol", "{SHA}L55TUjtiq8FBorTWAZ0jy6g129A="),
    // openssl passwd -5 'correct horse'
    (
        "dave",
        "$5$ufBwRLFGalWe/kgY$1Fcgbj/xf4wGPoJ//NQCTppXMMumpf64rHw6ivEoc59",
    ),
    // openssl passwd -6 'correct horse'
    (
        "erin",
        "$6$XiSfbDJqSYV5iGko$kHjIBjEpqxIFWh9LBYFEysfMnxi.ZJaEluP7Fw9oZW0s5KmDsuYdPp.tqSIFC7Z5HQcoIyvq2bf9uGm/jEW4b/",
    ),
];

fn site(realm: &str) -> Authenticator {
    Authenticator::new(&BasicAuth {
        realm: realm.to_string(),
        users: USERS
            .iter()
            .map(|(u, h)| (u.to_string(), h.to_string()))
            .collect(),
    })
}

fn basic(user: &str, password: &str) -> HeaderValue {
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    HeaderValue::from_str(&format!("Basic {encoded}")).unwrap()
}

fn raw(value: &str) -> HeaderValue {
    HeaderValue::from_str(value).unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

const CLIENT: &str = "192.0.2.10";

#[test]
fn every_user_and_hash_scheme_gets_in_with_the_right_password_only() {
    let auth = site("Restricted a.test");
    for (user, _) in USERS {
        let right = basic(user, "correct horse");
        assert_eq!(
            auth.check(Some(&right), ip(CLIENT)),
            AuthOutcome::Allowed,
            "{user}"
        );
        let wrong = basic(user, "correct horse ");
        assert_eq!(
            auth.check(Some(&wrong), ip("192.0.2.11")),
            AuthOutcome::Challenge,
            "{user}"
        );
    }
    assert_eq!(auth.verifications(), 2 * USERS.len() as u64);
}

#[test]
fn an_unknown_user_is_refused_after_a_dummy_verification() {
    let auth = site("r");
    // Alice's password under another name must not get in through the dummy hash.
    let stranger = basic("mallory", "correct horse");
    assert_eq!(
        auth.check(Some(&stranger), ip(CLIENT)),
        AuthOutcome::Challenge
    );
    assert_eq!(
        auth.verifications(),
        1,
        "the unknown user cost a verification"
    );
    let prefix = basic("alic", "correct horse");
    assert_eq!(
        auth.check(Some(&prefix), ip(CLIENT)),
        AuthOutcome::Challenge
    );
}

#[test]
fn missing_malformed_and_other_schemes_are_challenged_without_verifying() {
    let auth = site("r");
    assert_eq!(auth.check(None, ip(CLIENT)), AuthOutcome::Challenge);
    for value in [
        "",
        "Basic",
        "Basic ",
        "Basic !!!!",
        "Basic YWxpY2U=",                      // "alice": no colon
        "Bearer YWxpY2U6Y29ycmVjdCBob3JzZQ==", // alice:correct horse, wrong scheme
        "Digest username=\"alice\"",
        "BasicYWxpY2U6Y29ycmVjdCBob3JzZQ==",
    ] {
        assert_eq!(
            auth.check(Some(&raw(value)), ip(CLIENT)),
            AuthOutcome::Challenge,
            "{value:?}"
        );
    }
    assert_eq!(auth.verifications(), 0);
    // None of those counted as failures.
    assert_eq!(
        auth.check(Some(&basic("carol", "correct horse")), ip(CLIENT)),
        AuthOutcome::Allowed
    );
}

#[test]
fn scheme_is_case_insensitive_and_padding_optional() {
    let auth = site("r");
    for value in [
        "basic Y2Fyb2w6Y29ycmVjdCBob3JzZQ==",
        "BASIC   Y2Fyb2w6Y29ycmVjdCBob3JzZQ==",
        "Basic Y2Fyb2w6Y29ycmVjdCBob3JzZQ",
    ] {
        assert_eq!(
            auth.check(Some(&raw(value)), ip(CLIENT)),
            AuthOutcome::Allowed,
            "{value:?}"
        );
    }
}

#[test]
fn a_cached_credential_is_not_verified_again() {
    let auth = site("r");
    let alice = basic("alice", "correct horse");
    assert_eq!(auth.check_cached(Some(&alice), ip(CLIENT)), None);
    assert_eq!(auth.verifications(), 0, "check_cached never verifies");
    assert_eq!(auth.check(Some(&alice), ip(CLIENT)), AuthOutcome::Allowed);
    for _ in 0..100 {
        assert_eq!(
            auth.check_cached(Some(&alice), ip("198.51.100.1")),
            Some(AuthOutcome::Allowed)
        );
        assert_eq!(auth.check(Some(&alice), ip(CLIENT)), AuthOutcome::Allowed);
    }
    assert_eq!(auth.verifications(), 1);
    // A failure is not cached: the same wrong value is verified each time.
    let wrong = basic("alice", "nope");
    auth.check(Some(&wrong), ip(CLIENT));
    auth.check(Some(&wrong), ip(CLIENT));
    assert_eq!(auth.verifications(), 3);
    assert_eq!(auth.check_cached(Some(&wrong), ip(CLIENT)), None);
}

#[test]
fn failures_are_throttled_per_client_without_verifying() {
    let auth = site("r");
    let t0 = Instant::now();
    let attacker = ip("203.0.113.5");
    let guess = basic("carol", "guess");
    for i in 0..FAILURE_BURST {
        assert_eq!(
            auth.decide(Some(&guess), attacker, t0, true),
            Some(AuthOutcome::Challenge),
            "failure {i}"
        );
    }
    let Some(AuthOutcome::Throttled { retry_after }) =
        auth.decide(Some(&guess), attacker, t0, true)
    else {
        panic!("not throttled after {FAILURE_BURST} failures");
    };
    assert!(retry_after > Duration::ZERO && retry_after <= Duration::from_secs(7));
    assert_eq!(auth.verifications(), u64::from(FAILURE_BURST));
    // Even the right (and cached) credential is not looked at from a throttled client …
    let carol = basic("carol", "correct horse");
    assert_eq!(
        auth.decide(Some(&carol), ip(CLIENT), t0, true),
        Some(AuthOutcome::Allowed)
    );
    assert!(matches!(
        auth.decide(Some(&carol), attacker, t0, true),
        Some(AuthOutcome::Throttled { .. })
    ));
    assert!(matches!(
        auth.decide(Some(&carol), attacker, t0, false),
        Some(AuthOutcome::Throttled { .. })
    ));
    // … the other clients are unaffected, and the attacker gets one more try per 6 s.
    assert_eq!(
        auth.decide(Some(&guess), ip("203.0.113.6"), t0, true),
        Some(AuthOutcome::Challenge)
    );
    let later = t0 + retry_after;
    assert_eq!(
        auth.decide(Some(&carol), attacker, later, true),
        Some(AuthOutcome::Allowed)
    );
    assert_eq!(
        auth.decide(Some(&guess), attacker, later, true),
        Some(AuthOutcome::Challenge)
    );
    assert!(matches!(
        auth.decide(Some(&guess), attacker, later, true),
        Some(AuthOutcome::Throttled { .. })
    ));
}

#[test]
fn busy_verification_slots_throttle_instead_of_queueing() {
    let auth = site("r");
    let held: Vec<_> = (0..auth.max_verifying)
        .map(|_| VerifySlot::take(&auth.verifying, auth.max_verifying).unwrap())
        .collect();
    assert_eq!(
        auth.check(Some(&basic("carol", "correct horse")), ip(CLIENT)),
        AuthOutcome::Throttled {
            retry_after: BUSY_RETRY
        }
    );
    drop(held);
    assert_eq!(
        auth.check(Some(&basic("carol", "correct horse")), ip(CLIENT)),
        AuthOutcome::Allowed
    );
}

#[test]
fn no_users_means_nobody() {
    let auth = Authenticator::new(&BasicAuth {
        realm: "r".into(),
        users: vec![],
    });
    assert_eq!(
        auth.check(Some(&basic("alice", "correct horse")), ip(CLIENT)),
        AuthOutcome::Challenge
    );
}

#[test]
fn realm_is_quoted_and_escaped() {
    assert_eq!(
        site("Restricted a.test").challenge_header(),
        "Basic realm=\"Restricted a.test\""
    );
    assert_eq!(
        site("Restricted a.test/admin").challenge_header(),
        "Basic realm=\"Restricted a.test/admin\""
    );
    assert_eq!(
        site(r#"Restricted "quoted" \ back"#).challenge_header(),
        r#"Basic realm="Restricted \"quoted\" \\ back""#
    );
    assert_eq!(
        site("bad\r\nSet-Cookie: x").challenge_header(),
        "Basic realm=\"bad??Set-Cookie: x\""
    );
    assert_eq!(
        site("Restricted bücher.test").challenge_header().as_bytes(),
        "Basic realm=\"Restricted bücher.test\"".as_bytes()
    );
}

#[test]
fn the_cache_holds_tags_only_and_stays_bounded() {
    let cache = CredentialCache::new();
    let value = b"Basic YWxpY2U6Y29ycmVjdCBob3JzZQ==";
    let tag = cache.tag(value);
    assert_ne!(&tag[..], &value[..32]);
    assert_eq!(tag, cache.tag(value));
    assert_ne!(tag, CredentialCache::new().tag(value), "a key per cache");
    for n in 0..20_000u32 {
        cache.insert(cache.tag(&n.to_le_bytes()));
    }
    assert!(cache.len() <= CredentialCache::CAPACITY);
    assert!(cache.len() > CredentialCache::CAPACITY / 2);
}

#[test]
fn shared_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Authenticator>();
    assert_send_sync::<RateLimiter>();
}
