use std::time::Duration;

use http::{Method, StatusCode, Version};

use super::*;
use crate::model::{DesiredState, Site};
use crate::routing::{RouteTable, SiteDefaults};

fn routes(hosts: &[&str], previous: &RouteTable) -> Arc<RouteTable> {
    let state = DesiredState {
        sites: hosts
            .iter()
            .map(|h| {
                Arc::new(Site {
                    host: (*h).to_owned(),
                    ..Default::default()
                })
            })
            .collect(),
        ..Default::default()
    };
    Arc::new(RouteTable::rebuild(
        &state,
        &SiteDefaults::default(),
        previous,
    ))
}

fn id(table: &RouteTable, host: &str) -> u32 {
    table.sites().find(|s| s.host == host).unwrap().metrics_id
}

fn get_ok(site: u32, status: StatusCode, bytes: u64, millis: u64) -> Finished {
    Finished {
        site: Some(site),
        labels: RequestLabels {
            method: method_class(&Method::GET),
            status: status_class(status),
            downstream: downstream(Version::HTTP_11, false),
            upstream: upstream(Some(crate::model::Proto::Http)),
        },
        bytes_out: bytes,
        duration: Duration::from_millis(millis),
        upstream_time: Some(Duration::from_millis(millis / 2)),
    }
}

#[test]
fn shards_add_up_at_scrape_time() {
    let table = routes(&["a.test", "b.test"], &RouteTable::default());
    let metrics = Metrics::new(Live::http_only(table.clone()));
    let (one, two) = (metrics.shard(Writers::One), metrics.shard(Writers::Many));
    let (a, b) = (id(&table, "a.test"), id(&table, "b.test"));
    one.finished(&get_ok(a, StatusCode::OK, 10, 3));
    two.finished(&get_ok(a, StatusCode::OK, 5, 30));
    two.finished(&get_ok(a, StatusCode::BAD_GATEWAY, 7, 2000));
    one.finished(&get_ok(b, StatusCode::NOT_FOUND, 1, 1));
    one.bytes_in(Some(a), 100);
    two.bytes_in(Some(a), 23);

    let totals = metrics.site_totals();
    let of = |h: &str| totals.iter().find(|t| t.site == h).unwrap().clone();
    assert_eq!((of("a.test").requests, of("a.test").errors_5xx), (3, 1));
    assert_eq!((of("b.test").requests, of("b.test").errors_5xx), (1, 0));

    let mut text = String::new();
    metrics.encode(&mut text);
    let has = |line: &str| assert!(text.lines().any(|l| l == line), "{line}\n{text}");
    has(
        r#"dockside_http_requests_total{site="a.test",method="GET",status="2xx",downstream="h1",upstream="http"} 2"#,
    );
    has(
        r#"dockside_http_requests_total{site="a.test",method="GET",status="5xx",downstream="h1",upstream="http"} 1"#,
    );
    has(r#"dockside_http_sent_bytes_total{site="a.test"} 22"#);
    has(r#"dockside_http_received_bytes_total{site="a.test"} 123"#);
    has(r#"dockside_http_request_duration_seconds_count{site="a.test"} 3"#);
    has(r#"dockside_http_request_duration_seconds_bucket{le="0.005",site="a.test"} 1"#);
    has(r#"dockside_http_request_duration_seconds_bucket{le="2.5",site="a.test"} 3"#);
    has(r#"dockside_http_request_duration_seconds_sum{site="a.test"} 2.033"#);
    assert!(!text.contains("# EOF"), "the admin handler writes EOF");
}

#[test]
fn a_removed_site_is_not_exported_and_keeps_its_id_when_back() {
    let first = routes(&["a.test", "b.test"], &RouteTable::default());
    let live = Live::http_only(first.clone());
    let metrics = Metrics::new(live.clone());
    let shard = metrics.shard(Writers::One);
    shard.finished(&get_ok(id(&first, "b.test"), StatusCode::OK, 1, 1));

    let second = routes(&["a.test"], &first);
    live.set_routes(second.clone());
    let mut text = String::new();
    metrics.encode(&mut text);
    assert!(!text.contains("b.test"), "{text}");

    let third = routes(&["a.test", "b.test", "c.test"], &second);
    assert_eq!(id(&third, "b.test"), id(&first, "b.test"));
    assert_eq!(id(&third, "c.test"), 2, "ids stay dense");
}

#[test]
fn label_indices_round_trip() {
    for i in 0..labels::REQUEST_SERIES {
        assert_eq!(RequestLabels::of_index(i).index(), i);
    }
}

#[test]
fn label_values_are_escaped() {
    let table = routes(&[r#"~^x\.test$"#], &RouteTable::default());
    let metrics = Metrics::new(Live::http_only(table.clone()));
    metrics
        .shard(Writers::One)
        .finished(&get_ok(0, StatusCode::OK, 0, 0));
    let mut text = String::new();
    metrics.encode(&mut text);
    assert!(text.contains(r#"site="~^x\\.test$""#), "{text}");
}
