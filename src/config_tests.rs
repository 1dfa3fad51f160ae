//! `Config` from command lines.

use super::*;

fn flags(args: &[&str]) -> Flags {
    let mut argv = vec!["dockside"];
    argv.extend_from_slice(args);
    Cli::try_parse_from(argv).unwrap().flags
}

#[test]
fn defaults_match_nginx_proxy() {
    let c = Config::try_from(flags(&[])).unwrap();
    assert_eq!(c.http.port(), 80);
    assert_eq!(c.https.map(|a| a.port()), Some(443));
    assert_eq!(c.defaults, SiteDefaults::default());
    assert!(c.trust_downstream_proxy);
    assert_eq!(c.access_log, AccessLog::Vhost);
}

#[test]
fn bad_values_name_the_setting() {
    for (args, name) in [
        (&["--https-method", "sometimes"][..], "HTTPS_METHOD"),
        (&["--http", "eighty"][..], "HTTP_PORT"),
        (&["--enable-http2", "yes"][..], "ENABLE_HTTP2"),
        (&["--non-get-redirect", "302"][..], "NON_GET_REDIRECT"),
    ] {
        let err = format!("{:#}", Config::try_from(flags(args)).unwrap_err());
        assert!(err.contains(name), "{err}");
    }
}
