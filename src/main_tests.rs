use super::log_directives;

#[test]
fn rustls_is_capped_unless_named() {
    assert_eq!(log_directives(None), "info,rustls=error");
    assert_eq!(log_directives(Some("")), "info,rustls=error");
    assert_eq!(log_directives(Some("debug")), "debug,rustls=error");
    assert_eq!(
        log_directives(Some("info,rustls=debug")),
        "info,rustls=debug"
    );
}
