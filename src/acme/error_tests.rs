use super::*;

#[test]
fn log_line_names_hosts_ca_step_and_problem() {
    let err = OrderError {
        hosts: vec!["a.test".into(), "b.test".into()],
        ca: "https://ca.test/dir".into(),
        step: Step::Order,
        cause: Cause::Problem(ProblemDoc {
            kind: Some("urn:ietf:params:acme:error:rateLimited".into()),
            detail: Some("too many certificates".into()),
            status: Some(429),
            ..ProblemDoc::default()
        }),
        retry_after: None,
    };
    assert_eq!(
        err.to_string(),
        "ACME order failed for a.test,b.test at https://ca.test/dir: the CA said \
         urn:ietf:params:acme:error:rateLimited: too many certificates (HTTP 429)"
    );
    assert!(err.is_rate_limited());
}
