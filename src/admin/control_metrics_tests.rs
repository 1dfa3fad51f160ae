use super::*;
use crate::admin::api::test_support::World;

fn encoded() -> String {
    let mut out = String::new();
    encode_control(&World::new().overview(), &mut out);
    out
}

#[test]
fn families_carry_the_control_plane_state_without_eof() {
    let out = encoded();
    assert!(!out.contains("# EOF"), "the caller ends the exposition");
    let exp = World::new().overview().certificates[0].expires_in_seconds;
    for line in [
        format!(
            "dockside_certificate_expiry_seconds{{certificate=\"a.test\",source=\"acme\"}} {exp}"
        ),
        "dockside_acme_orders_total{outcome=\"failed\"} 3".to_owned(),
        "dockside_acme_orders_started_total 5".to_owned(),
        format!(
            "dockside_acme_next_renewal_timestamp_seconds{{certificate=\"a.test\"}} {}",
            super::super::api::test_support::NOW + 30 * 86_400
        ),
        "dockside_acme_certificate_state{certificate=\"b.test\",state=\"failed\"} 1".to_owned(),
        "dockside_docker_connected 1".to_owned(),
        "dockside_docker_events_total 42".to_owned(),
        "dockside_docker_connection_failures_total 1".to_owned(),
        "dockside_config_reloads_total{source=\"routes_file\",result=\"failed\"} 1".to_owned(),
        "dockside_skipped_items{reason=\"invalid_setting\"} 2".to_owned(),
        "dockside_skipped_items{reason=\"conflict\"} 0".to_owned(),
    ] {
        assert!(out.lines().any(|l| l == line), "missing {line:?} in\n{out}");
    }
    assert!(out.contains("dockside_docker_last_full_sync_timestamp_seconds "));
}

#[test]
fn skipped_reasons_stay_bounded() {
    let out = encoded();
    let reasons = out
        .lines()
        .filter(|l| l.starts_with("dockside_skipped_items{"))
        .count();
    assert_eq!(reasons, CLASSES.len());
}
