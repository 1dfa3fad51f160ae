use super::*;

fn t(site: &str, r: u64, e: u64) -> (String, u64, u64) {
    (site.to_owned(), r, e)
}

#[test]
fn one_sample_gives_no_rate_two_give_the_difference_per_second() {
    let s = Sampler::default();
    let t0 = Instant::now();
    assert!(s.rates_at(vec![t("a.test", 100, 1)], t0).is_empty());
    let r = s.rates_at(
        vec![t("a.test", 120, 5), t("b.test", 10, 0)],
        t0 + Duration::from_secs(4),
    );
    assert_eq!(r["a.test"].requests_per_second, 5.0);
    assert_eq!(r["a.test"].errors_per_second, 1.0);
    // New since the first sample: counted from zero.
    assert_eq!(r["b.test"].requests_per_second, 2.5);
}

#[test]
fn samples_closer_than_a_second_are_not_taken() {
    let s = Sampler::default();
    let t0 = Instant::now();
    s.rates_at(vec![t("a.test", 0, 0)], t0);
    s.rates_at(vec![t("a.test", 10, 0)], t0 + Duration::from_secs(2));
    // 100 ms later: ignored, the rate stays over the first two samples.
    let r = s.rates_at(vec![t("a.test", 1000, 0)], t0 + Duration::from_millis(2100));
    assert_eq!(r["a.test"].requests_per_second, 5.0);
}

#[test]
fn a_counter_that_went_down_counts_from_zero_and_old_samples_age_out() {
    let s = Sampler::default();
    let t0 = Instant::now();
    s.rates_at(vec![t("a.test", 500, 50)], t0);
    let r = s.rates_at(vec![t("a.test", 20, 0)], t0 + Duration::from_secs(10));
    assert_eq!(r["a.test"].requests_per_second, 2.0);
    assert_eq!(r["a.test"].errors_per_second, 0.0);
    for i in 1..=20u64 {
        s.rates_at(
            vec![t("a.test", 20 + i * 10, 0)],
            t0 + Duration::from_secs(10 + i),
        );
    }
    // Only the last KEEP samples count: a steady 10/s.
    let r = s.rates_at(vec![t("a.test", 230, 0)], t0 + Duration::from_secs(31));
    assert_eq!(r["a.test"].requests_per_second, 10.0);
    assert!(s.samples.lock().unwrap().len() <= KEEP);
}
