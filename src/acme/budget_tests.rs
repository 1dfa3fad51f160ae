use super::*;

const HOUR: Duration = Duration::from_secs(3600);

/// Orders taken by someone who asks every `step` from `t0` for `span`, retrying at the time the
/// budget names.
fn taken_over(budget: &mut OrderBudget, t0: Instant, span: Duration) -> u32 {
    let (mut now, mut taken) = (t0, 0);
    while now < t0 + span {
        match budget.take(now) {
            Ok(()) => {
                taken += 1;
                assert!(taken <= 10_000, "the bucket never runs dry");
            }
            Err(next) => {
                assert!(next > now, "the next token is in the future");
                now = next;
            }
        }
    }
    taken
}

#[test]
fn a_full_bucket_then_the_hourly_rate() {
    let t0 = Instant::now();
    let mut b = OrderBudget::new(60, t0);
    for i in 0..60 {
        assert_eq!(b.take(t0), Ok(()), "order {i} of the first burst");
    }
    assert_eq!(
        b.take(t0),
        Err(t0 + Duration::from_secs(60)),
        "one a minute"
    );
    assert!(b.take(t0 + Duration::from_secs(59)).is_err());
    assert_eq!(b.take(t0 + Duration::from_secs(60)), Ok(()));
    assert!(b.take(t0 + Duration::from_secs(60)).is_err());
}

#[test]
fn never_more_than_lets_encrypts_limit_in_any_three_hours() {
    let t0 = Instant::now();
    let mut b = OrderBudget::new(DEFAULT_ORDERS_PER_HOUR, t0);
    let taken = taken_over(&mut b, t0, 3 * HOUR);
    // The burst (60) plus 3 hours of refill (180), and not one more.
    assert!((239..=240).contains(&taken), "{taken}");
    assert!(
        taken < 300,
        "Let's Encrypt: 300 new orders per account per 3 hours"
    );
}

#[test]
fn an_idle_bucket_refills_only_to_its_capacity() {
    let t0 = Instant::now();
    let mut b = OrderBudget::new(5, t0);
    for _ in 0..5 {
        b.take(t0).unwrap();
    }
    let later = t0 + 10 * HOUR;
    for _ in 0..5 {
        assert_eq!(b.take(later), Ok(()));
    }
    assert!(b.take(later).is_err(), "capacity 5, not 50");
}

#[test]
fn a_clock_going_backwards_refills_nothing() {
    let t0 = Instant::now() + HOUR;
    let mut b = OrderBudget::new(1, t0);
    b.take(t0).unwrap();
    assert!(b.take(t0 - Duration::from_secs(10)).is_err());
    assert!(b.take(t0 + Duration::from_secs(3599)).is_err());
    assert_eq!(b.take(t0 + HOUR), Ok(()));
}

/// The reconciler and on-demand TLS hold clones: one bucket per account between them.
#[test]
fn clones_of_budgets_share_each_accounts_bucket() {
    let t0 = Instant::now();
    let reconciler = Budgets::new(2);
    let on_demand = reconciler.clone();
    assert!(reconciler.take("ca", Some("a@x"), t0).is_ok());
    assert!(on_demand.take("ca", Some("a@x"), t0).is_ok());
    let (at, interval) = on_demand.take("ca", Some("a@x"), t0).unwrap_err();
    assert_eq!(
        (at - t0, interval),
        (Duration::from_secs(1800), Duration::from_secs(1800))
    );
    assert!(reconciler.take("ca", Some("a@x"), t0).is_err());
    // Another account has its own.
    assert!(on_demand.take("ca", None, t0).is_ok());
}
