use super::*;

#[test]
fn a_regex_host_survives_a_round_trip_through_the_query() {
    let host = r"~^(www\.)?a\.test$ + ü";
    let q = format!("x=1&site={}", query_value(host));
    assert!(!q.contains(' ') && !q.contains('\\'), "{q}");
    assert_eq!(site_param(Some(&q)).as_deref(), Some(host));
}

#[test]
fn bad_escapes_are_kept_and_non_utf8_is_refused() {
    assert_eq!(percent_decode("a%2", true).as_deref(), Some("a%2"));
    assert_eq!(percent_decode("a%zz+b", true).as_deref(), Some("a%zz b"));
    assert_eq!(percent_decode("a+b", false).as_deref(), Some("a+b"));
    assert_eq!(percent_decode("%ff", false), None);
    assert_eq!(site_param(Some("site=")), None);
    assert_eq!(site_param(None), None);
}
