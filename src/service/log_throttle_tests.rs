use super::*;

#[test]
fn first_line_passes_then_one_per_interval_with_a_count() {
    let t = LogThrottle::new(Duration::from_secs(10));
    let start = Instant::now();
    assert_eq!(t.admit("a", start), Some(0));
    assert_eq!(t.admit("a", start + Duration::from_secs(1)), None);
    assert_eq!(t.admit("a", start + Duration::from_secs(2)), None);
    assert_eq!(
        t.admit("b", start + Duration::from_secs(2)),
        Some(0),
        "keys are independent"
    );
    assert_eq!(t.admit("a", start + Duration::from_secs(11)), Some(2));
    assert_eq!(t.admit("a", start + Duration::from_secs(12)), None);
}

#[test]
fn memory_is_bounded() {
    let t = LogThrottle::new(Duration::from_secs(10));
    let now = Instant::now();
    for i in 0..(MAX_KEYS * 3) {
        t.admit(&format!("host{i}"), now);
    }
    assert!(t.seen.lock().unwrap().len() <= MAX_KEYS);
}
