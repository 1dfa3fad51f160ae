//! The renew endpoint's query, both directions.

use super::*;

#[test]
fn query_round_trips() {
    let q = RenewQuery {
        hosts: vec!["a.test".into(), "*.b.test".into()],
        force: true,
    };
    assert_eq!(q.to_query(), "host=a.test&host=*.b.test&force=true");
    assert_eq!(RenewQuery::parse(Some(&q.to_query())).unwrap(), q);
    assert_eq!(RenewQuery::parse(None).unwrap(), RenewQuery::default());
    assert_eq!(RenewQuery::parse(Some("")).unwrap(), RenewQuery::default());
}

#[test]
fn bad_queries_name_the_parameter() {
    for (query, needle) in [
        ("host=a%20b", "host=\"a%20b\""),
        ("host=", "host=\"\""),
        ("force=maybe", "force"),
        ("hosts=a.test", "unknown parameter \"hosts\""),
    ] {
        let err = RenewQuery::parse(Some(query)).unwrap_err();
        assert!(err.contains(needle), "{query}: {err}");
    }
}
