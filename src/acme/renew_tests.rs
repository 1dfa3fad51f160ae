//! Which certificates a renew request names.

use super::*;

fn certs() -> Vec<(String, Vec<String>)> {
    vec![
        ("a.test".into(), vec!["a.test".into(), "www.a.test".into()]),
        ("b.test".into(), vec!["b.test".into()]),
        ("wildcard_c.test".into(), vec!["*.c.test".into()]),
    ]
}

fn run(asked: &[&str]) -> RenewOutcome {
    let certs = certs();
    let asked: Vec<String> = asked.iter().map(|s| s.to_string()).collect();
    select(&asked, certs.iter().map(|(b, h)| (b, h.as_slice())))
}

#[test]
fn nothing_named_means_everything() {
    assert_eq!(run(&[]).scheduled, ["a.test", "b.test", "wildcard_c.test"]);
}

#[test]
fn any_host_of_a_certificate_names_it() {
    let out = run(&["WWW.A.test.", "*.c.test", "nope.test", "b.test"]);
    assert_eq!(out.scheduled, ["a.test", "b.test", "wildcard_c.test"]);
    assert_eq!(out.unknown, ["nope.test"]);
    let out = run(&["x.c.test"]);
    assert!(out.scheduled.is_empty());
    assert_eq!(out.unknown, ["x.c.test"]);
}
