use super::*;

#[test]
fn retry_delay_grows_to_a_cap_with_jitter() {
    assert_eq!(retry_delay(1, 0.5), Duration::from_millis(500));
    assert_eq!(retry_delay(2, 0.5), Duration::from_secs(1));
    assert_eq!(retry_delay(5, 0.5), Duration::from_secs(8));
    assert_eq!(retry_delay(6, 0.5), Duration::from_secs(10));
    assert_eq!(retry_delay(50, 0.5), Duration::from_secs(10));
    assert_eq!(retry_delay(1, 0.0), Duration::from_millis(400));
    assert_eq!(retry_delay(1, 1.0), Duration::from_millis(600));
}
