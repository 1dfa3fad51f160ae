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
            Decision::ValidUntil(due_at(&c, None, &hosts)),
        ),
        (
            due_at(&c, None, &hosts),
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

#[test]
fn certificates_issued_together_fall_due_spread_over_a_tenth_of_their_lifetime() {
    let hosts: Vec<Vec<String>> = (0..10_000)
        .map(|i| vec![format!("h{i}.bench.local")])
        .collect();
    let c = info(0, 90, &[]);
    let due: Vec<i64> = hosts.iter().map(|h| due_at(&c, None, h)).collect();
    assert!(
        due.iter().all(|&d| (60 * DAY..69 * DAY).contains(&d)),
        "never before 2/3 of the lifetime, never past it plus a tenth"
    );
    let mut per_hour = std::collections::BTreeMap::<i64, u32>::new();
    for d in &due {
        *per_hour.entry(d / 3600).or_default() += 1;
    }
    // 9 days = 216 hours: about 46 an hour when evenly spread.
    assert!(per_hour.len() >= 210, "hours used: {}", per_hour.len());
    let busiest = per_hour.values().max().unwrap();
    assert!(*busiest <= 90, "busiest hour has {busiest} renewals");
    assert_eq!(
        due,
        hosts
            .iter()
            .map(|h| due_at(&c, None, h))
            .collect::<Vec<_>>(),
        "deterministic: a restart does not move a renewal"
    );
    assert_eq!(
        due_at(&c, None, &["A.example".to_string()]),
        due_at(&c, None, &["a.example".to_string()]),
        "host case does not matter"
    );
}

#[test]
fn the_spread_never_passes_the_last_tenth_of_the_lifetime() {
    let hosts = vec!["a.example".to_string()];
    let six_day = info(0, 6, &["a.example"]);
    let d = due_at(&six_day, None, &hosts);
    assert!((4 * DAY..4 * DAY + 6 * DAY / 10).contains(&d), "{d}");
    // ACME_RENEW_AFTER past the clamp: already at the latest allowed time, no spread added.
    let c = info(0, 90, &["a.example"]);
    assert_eq!(due_at(&c, Some(365), &hosts), 81 * DAY);
}
