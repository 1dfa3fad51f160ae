use std::net::Ipv4Addr;

use super::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn limiter(per_second: u64, burst: u32) -> RateLimiter {
    RateLimiter::new(RateLimit {
        millirequests_per_second: per_second * 1000,
        burst,
    })
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn the_burst_is_served_at_once_then_429_with_the_wait() {
    let l = limiter(1, 5);
    let t0 = Instant::now();
    let a = ip("192.0.2.1");
    for i in 0..6 {
        assert_eq!(l.check(a, t0), Ok(()), "request {i} of burst 5 + 1");
    }
    assert_eq!(l.check(a, t0), Err(ms(1000)));
    assert_eq!(l.check(a, t0 + ms(300)), Err(ms(700)));
}

#[test]
fn refused_requests_are_not_counted_and_time_brings_recovery() {
    let l = limiter(1, 2);
    let t0 = Instant::now();
    let a = ip("192.0.2.1");
    for _ in 0..3 {
        l.check(a, t0).unwrap();
    }
    for _ in 0..100 {
        assert!(l.check(a, t0 + ms(500)).is_err());
    }
    // One interval later exactly one more request conforms.
    assert_eq!(l.check(a, t0 + ms(1000)), Ok(()));
    assert_eq!(l.check(a, t0 + ms(1000)), Err(ms(1000)));
    // Long idle: the whole burst again.
    let later = t0 + Duration::from_secs(60);
    for _ in 0..3 {
        assert_eq!(l.check(a, later), Ok(()));
    }
    assert!(l.check(a, later).is_err());
}

#[test]
fn steady_rate_without_burst() {
    let l = limiter(10, 0);
    let t0 = Instant::now();
    let a = ip("192.0.2.1");
    for i in 0..50 {
        assert_eq!(
            l.check(a, t0 + ms(100 * i)),
            Ok(()),
            "request at {}ms",
            100 * i
        );
    }
    let t = t0 + ms(5000);
    assert_eq!(l.check(a, t), Ok(()));
    assert_eq!(l.check(a, t + ms(40)), Err(ms(60)));
    assert_eq!(l.check(a, t + ms(100)), Ok(()));
}

#[test]
fn per_minute_rates_round_as_nginx() {
    // 1r/m is 16 mr/s in nginx's unit: one request per 62.5 s.
    let l = RateLimiter::new(parse_rate("1r/m").unwrap());
    let t0 = Instant::now();
    let a = ip("192.0.2.1");
    l.check(a, t0).unwrap();
    assert_eq!(l.check(a, t0), Err(ms(62_500)));
}

#[test]
fn clients_are_independent() {
    let l = limiter(1, 1);
    let t0 = Instant::now();
    let (a, b) = (ip("192.0.2.1"), ip("192.0.2.2"));
    l.check(a, t0).unwrap();
    l.check(a, t0).unwrap();
    assert!(l.check(a, t0).is_err());
    assert_eq!(l.check(b, t0), Ok(()));
    assert_eq!(l.check(b, t0), Ok(()));
    assert!(l.check(b, t0).is_err());
    assert_eq!(l.tracked(t0), 2);
}

#[test]
fn mapped_ipv4_is_the_same_client_and_ipv6_counts_per_64() {
    let l = limiter(1, 0);
    let t0 = Instant::now();
    l.check(ip("192.0.2.1"), t0).unwrap();
    assert!(l.check(ip("::ffff:192.0.2.1"), t0).is_err());

    l.check(ip("2001:db8:1:2::1"), t0).unwrap();
    assert!(l.check(ip("2001:db8:1:2:ffff::9"), t0).is_err());
    assert_eq!(l.check(ip("2001:db8:1:3::1"), t0), Ok(()));
    // `::/64` is not confused with the mapped IPv4 block.
    assert_eq!(l.check(ip("::1"), t0), Ok(()));
    assert_eq!(l.check(ip("0.0.0.1"), t0), Ok(()));
}

#[test]
fn peek_does_not_count() {
    let l = limiter(1, 0);
    let t0 = Instant::now();
    let a = ip("192.0.2.1");
    for _ in 0..10 {
        assert_eq!(l.peek(a, t0), Ok(()));
    }
    l.check(a, t0).unwrap();
    assert_eq!(l.peek(a, t0), Err(ms(1000)));
    assert_eq!(l.tracked(t0), 1);
}

#[test]
fn a_million_addresses_stay_within_capacity_and_a_limited_client_stays_limited() {
    let l = limiter(1, 4);
    let capacity = l.capacity();
    assert!(capacity >= DEFAULT_CAPACITY);
    let t0 = Instant::now();
    let heavy = ip("198.51.100.7");
    for _ in 0..5 {
        l.check(heavy, t0).unwrap();
    }
    for n in 0..1_000_000u32 {
        let flood = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + n));
        assert_eq!(l.check(flood, t0), Ok(()), "a new address is served");
    }
    assert_eq!(l.capacity(), capacity, "the table never grows");
    assert!(l.tracked(t0) <= capacity);
    assert!(l.tracked(t0) > capacity / 2, "the table is used");
    // The flood's states (one request each) were evicted before the heavy client's.
    assert_eq!(l.check(heavy, t0), Err(ms(1000)));
}

#[test]
fn drained_states_are_reused_first() {
    let l = RateLimiter::with_capacity(
        RateLimit {
            millirequests_per_second: 1000,
            burst: 0,
        },
        1,
    );
    assert_eq!(l.capacity(), SHARDS * WAYS);
    let t0 = Instant::now();
    for n in 0..10_000u32 {
        l.check(IpAddr::V4(Ipv4Addr::from(n)), t0).unwrap();
    }
    assert_eq!(l.tracked(t0), l.capacity());
    assert_eq!(l.tracked(t0 + ms(1000)), 0, "every state has drained");
}

#[test]
fn extreme_settings_do_not_overflow() {
    let l = RateLimiter::new(RateLimit {
        millirequests_per_second: 1,
        burst: u32::MAX,
    });
    let t0 = Instant::now();
    for _ in 0..1000 {
        l.check(ip("192.0.2.1"), t0).unwrap();
    }
    let fast = RateLimiter::new(RateLimit {
        millirequests_per_second: u64::MAX,
        burst: 0,
    });
    fast.check(ip("192.0.2.1"), t0).unwrap();
    // An instant before the limiter was made counts as its start.
    let early = t0.checked_sub(Duration::from_secs(1)).unwrap_or(t0);
    let l = limiter(1, 0);
    assert_eq!(l.check(ip("192.0.2.1"), early), Ok(()));
}

#[test]
fn parses_nginx_rates() {
    let table = [
        ("10r/s", 10_000, 0),
        ("600r/m", 10_000, 0),
        ("1r/m", 16, 0),
        ("30r/m", 500, 0),
        ("10r/s burst=20", 10_000, 20),
        ("  10r/s   burst=20  nodelay ", 10_000, 20),
        ("rate=5r/s nodelay", 5_000, 0),
        ("1r/s burst=0", 1_000, 0),
    ];
    for (text, millirequests_per_second, burst) in table {
        assert_eq!(
            parse_rate(text),
            Ok(RateLimit {
                millirequests_per_second,
                burst
            }),
            "{text:?}"
        );
    }
}

#[test]
fn refuses_bad_rates() {
    for bad in [
        "",
        "10",
        "10r/h",
        "r/s",
        "-1r/s",
        "+1r/s",
        "1.5r/s",
        "0r/s",
        "0r/m",
        "59r/m burst",
        "10r/s burst=",
        "10r/s burst=-1",
        "10r/s burst=1 burst=2",
        "10r/s delay=5",
        "99999999999999999999r/s",
    ] {
        assert!(parse_rate(bad).is_err(), "{bad:?} parsed");
    }
    let err = parse_rate("10r/s delay=5").unwrap_err();
    assert!(err.contains("delay=5"), "{err}");
}

#[test]
fn retry_after_rounds_up_to_whole_seconds() {
    assert_eq!(retry_after_seconds(Duration::ZERO), 1);
    assert_eq!(retry_after_seconds(ms(1)), 1);
    assert_eq!(retry_after_seconds(ms(1000)), 1);
    assert_eq!(retry_after_seconds(ms(1001)), 2);
    assert_eq!(retry_after_seconds(ms(62_500)), 63);
}
