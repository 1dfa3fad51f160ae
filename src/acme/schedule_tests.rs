use super::*;

const DAY: i64 = 86_400;

fn info(not_before: i64, days: i64, names: &[&str]) -> CertInfo {
    CertInfo {
        not_before,
        not_after: not_before + days * DAY,
        names: names.iter().map(|s| s.to_string()).collect(),
        ..CertInfo::default()
    }
}

#[test]
fn renewal_is_at_two_thirds_unless_renew_after_says_otherwise() {
    let c = info(0, 90, &["a"]);
    assert_eq!(renew_at(&c, None), 60 * DAY);
    assert_eq!(renew_at(&c, Some(30)), 29 * DAY);
    assert_eq!(
        renew_at(&c, Some(0)),
        9 * DAY,
        "clamped: never renew on every loop"
    );
    assert_eq!(
        renew_at(&c, Some(365)),
        81 * DAY,
        "clamped: never let it expire"
    );
    let short = CertInfo {
        not_after: 600,
        ..info(0, 0, &["a"])
    };
    assert_eq!(renew_at(&short, None), 400);
}

#[test]
fn decisions() {
    let hosts = vec!["a".to_string(), "b".to_string()];
    let c = info(0, 90, &["a", "b"]);
    let cases = [
        (10 * DAY, None, None, Decision::Order(Reason::Missing)),
        (
            10 * DAY,
            Some(info(0, 90, &["a"])),
            None,
            Decision::Order(Reason::NamesChanged),
        ),
        (
            10 * DAY,
            Some(c.clone()),
            None,
            Decision::ValidUntil(60 * DAY),
        ),
        (
            60 * DAY,
            Some(c.clone()),
            None,
            Decision::Order(Reason::Renewal),
        ),
        (
            95 * DAY,
            Some(c.clone()),
            None,
            Decision::Order(Reason::Renewal),
        ),
        (
            10 * DAY,
            Some(c.clone()),
            Some(5 * DAY),
            Decision::Order(Reason::Renewal),
        ),
        (
            10 * DAY,
            Some(c.clone()),
            Some(70 * DAY),
            Decision::ValidUntil(70 * DAY),
        ),
    ];
    for (now, disk, ari, want) in cases {
        assert_eq!(
            decide(now, disk.as_ref(), &hosts, None, ari),
            want,
            "now={now} disk={disk:?} ari={ari:?}"
        );
    }
}

#[test]
fn backoff_doubles_with_jitter_and_honours_the_ca() {
    let b = Backoff {
        initial: Duration::from_secs(10),
        max: Duration::from_secs(7200),
    };
    assert_eq!(b.delay(1, None, false, 0.5), Duration::from_secs(10));
    assert_eq!(b.delay(3, None, false, 0.5), Duration::from_secs(40));
    assert_eq!(b.delay(1, None, false, 0.0), Duration::from_secs(8));
    assert_eq!(b.delay(1, None, false, 1.0), Duration::from_secs(12));
    assert_eq!(b.delay(40, None, false, 0.5), Duration::from_secs(7200));
    assert_eq!(
        b.delay(1, Some(Duration::from_secs(600)), false, 0.5),
        Duration::from_secs(600)
    );
    assert_eq!(b.delay(1, None, true, 0.5), RATE_LIMITED_WAIT);
    assert_eq!(
        b.delay(1, Some(Duration::from_secs(86_400)), true, 0.5),
        Duration::from_secs(7200),
        "capped"
    );
}
