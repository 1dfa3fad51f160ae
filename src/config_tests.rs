//! `Config::from_sources` from command lines and an environment map (never the process's).

use std::collections::HashMap;

use super::*;

fn flags(args: &[&str]) -> Flags {
    let mut argv = vec!["dockside"];
    argv.extend_from_slice(args);
    Cli::try_parse_from(argv).unwrap().flags
}

/// `args` on the command line, `vars` as the environment.
fn config(args: &[&str], vars: &[(&str, &str)]) -> anyhow::Result<Config> {
    let env: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Config::from_sources(flags(args), |k| env.get(k).cloned())
}

#[test]
fn defaults_match_nginx_proxy() {
    let c = config(&[], &[]).unwrap();
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
        (&["--enable-http3", "yes"][..], "ENABLE_HTTP3"),
        (&["--non-get-redirect", "302"][..], "NON_GET_REDIRECT"),
    ] {
        let err = format!("{:#}", config(args, &[]).unwrap_err());
        assert!(err.contains(name), "{err}");
    }
}

#[test]
fn docker_off_is_none_and_skips_its_variables() {
    let bad = [("DOCKER_CONTAINER_FILTERS", "network")];
    let c = config(&["--docker-host", "off"], &bad).unwrap();
    assert_eq!(c.docker, None);
    let err = format!(
        "{:#}",
        config(&["--docker-host", "unix:///d.sock"], &bad).unwrap_err()
    );
    assert!(err.contains("DOCKER_CONTAINER_FILTERS"), "{err}");
}

#[test]
fn docker_settings_come_from_the_environment_given() {
    let c = config(
        &["--docker-host", "tcp://10.0.0.1:2376"],
        &[
            ("DOCKER_CONTAINER_FILTERS", "label=a=b"),
            ("DOCKER_TLS_VERIFY", "1"),
            ("HOME", "/home/u"),
            ("HOSTNAME", "c89ee6a31dc8"),
            ("PREFER_IPV6_NETWORK", "true"),
        ],
    )
    .unwrap();
    let docker = c.docker.unwrap();
    assert_eq!(docker.host.as_deref(), Some("tcp://10.0.0.1:2376"));
    assert_eq!(docker.container_filters, [("label".into(), "a=b".into())]);
    assert_eq!(docker.tls_cert_path, Some(PathBuf::from("/home/u/.docker")));
    assert_eq!(docker.hostname.as_deref(), Some("c89ee6a31dc8"));
    assert!(docker.prefer_ipv6);
}

#[test]
fn acme_globals_come_from_the_environment_given_and_only_with_https() {
    let vars = [("DEFAULT_EMAIL", "ops@example.com"), ("TMPDIR", "/spool")];
    let c = config(&[], &vars).unwrap();
    let acme = c.acme.unwrap();
    assert_eq!(acme.email.as_deref(), Some("ops@example.com"));
    assert_eq!(c.spool_dir, PathBuf::from("/spool"));
    assert!(config(&["--https", "off"], &vars).unwrap().acme.is_none());
}

#[test]
fn ipv6_and_proxy_protocol_are_off_by_default_and_parse_bool() {
    let c = config(&[], &[]).unwrap();
    assert!(!c.ipv6 && !c.proxy_protocol);
    let c = config(&["--enable-ipv6", "T", "--enable-proxy-protocol", "1"], &[]).unwrap();
    assert!(c.ipv6 && c.proxy_protocol);
    for (args, name) in [
        (&["--enable-ipv6", "yes"][..], "ENABLE_IPV6"),
        (
            &["--enable-proxy-protocol", "on"][..],
            "ENABLE_PROXY_PROTOCOL",
        ),
    ] {
        let err = format!("{:#}", config(args, &[]).unwrap_err());
        assert!(err.contains(name), "{err}");
    }
}

#[test]
fn the_ipv6_twin_of_a_listen_address() {
    let twin = |a: &str| ipv6_twin(a.parse().unwrap()).map(|t| t.to_string());
    assert_eq!(twin("0.0.0.0:80").as_deref(), Some("[::]:80"));
    assert_eq!(twin("127.0.0.1:8080").as_deref(), Some("[::1]:8080"));
    assert_eq!(twin("127.0.0.1:0").as_deref(), Some("[::1]:0"));
    // No IPv6 counterpart, or already IPv6: taken as given.
    assert_eq!(twin("192.168.1.5:80"), None);
    assert_eq!(twin("[::]:80"), None);
    assert_eq!(twin("[2001:db8::1]:443"), None);
}

#[test]
fn enable_http3_is_off_by_default_and_a_global_site_default() {
    assert!(!config(&[], &[]).unwrap().defaults.http3);
    let on = config(&["--enable-http3", "true"], &[]).unwrap();
    assert!(on.defaults.http3);
    assert!(on.defaults.http2, "ENABLE_HTTP2 stays as it was");
}

#[test]
fn on_demand_tls_needs_an_ask_url_and_https() {
    assert!(config(&[], &[]).unwrap().on_demand.is_none());
    let err = config(&[], &[("ON_DEMAND_TLS", "true")]).unwrap_err();
    assert!(err.to_string().contains("ON_DEMAND_TLS_ASK"), "{err}");
    let on = [
        ("ON_DEMAND_TLS", "true"),
        ("ON_DEMAND_TLS_ASK", "http://auth:5555/check"),
        ("ON_DEMAND_TLS_WAIT", "12"),
    ];
    let c = config(&[], &on).unwrap().on_demand.unwrap();
    assert_eq!(
        (c.ask.as_str(), c.wait.as_secs()),
        ("http://auth:5555/check", 12)
    );
    let err = config(&["--https", "off"], &on).unwrap_err();
    assert!(err.to_string().contains("needs ACME"), "{err}");
}

#[test]
fn traces_are_off_without_an_otlp_endpoint() {
    assert_eq!(config(&[], &[]).unwrap().traces, None);
    let c = config(
        &[],
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
            ("OTEL_SERVICE_NAME", "edge"),
        ],
    )
    .unwrap();
    let traces = c.traces.expect("on with an endpoint");
    assert_eq!(traces.endpoint, "http://collector:4318/v1/traces");
    assert_eq!(traces.service_name, "edge");
    let err = config(&[], &[("OTEL_EXPORTER_OTLP_ENDPOINT", "collector")]).unwrap_err();
    assert!(
        err.to_string().contains("OTEL_EXPORTER_OTLP_ENDPOINT"),
        "{err}"
    );
}
