use super::*;

#[test]
fn bools_follow_go_parsebool() {
    for t in ["1", "t", "T", "TRUE", "true", "True", " true "] {
        assert_eq!(parse_bool("X", t), Ok(true), "{t}");
    }
    for f in ["0", "f", "F", "FALSE", "false", "False"] {
        assert_eq!(parse_bool("X", f), Ok(false), "{f}");
    }
    let err = parse_bool("ENABLE_HTTP2", "yes").unwrap_err();
    assert!(err.contains("ENABLE_HTTP2") && err.contains("yes"), "{err}");
}

#[test]
fn sizes_use_nginx_suffixes() {
    assert_eq!(parse_size("S", "10"), Ok(Some(10)));
    assert_eq!(parse_size("S", "512k"), Ok(Some(512 << 10)));
    assert_eq!(parse_size("S", "20M"), Ok(Some(20 << 20)));
    assert_eq!(parse_size("S", "1g"), Ok(Some(1 << 30)));
    assert_eq!(parse_size("S", "0"), Ok(None));
    assert!(
        parse_size("CLIENT_MAX_BODY_SIZE", "lots")
            .unwrap_err()
            .contains("CLIENT_MAX_BODY_SIZE")
    );
    assert!(parse_size("S", "99999999999999g").is_err());
}

#[test]
fn enums_parse_or_name_the_setting() {
    assert_eq!(parse_https_method("nohttps"), Ok(HttpsMethod::NoHttps));
    assert!(
        parse_https_method("maybe")
            .unwrap_err()
            .contains("HTTPS_METHOD=\"maybe\"")
    );
    assert_eq!(parse_redirect_status("NON_GET_REDIRECT", "308"), Ok(308));
    assert!(parse_redirect_status("NON_GET_REDIRECT", "302").is_err());
    assert_eq!(
        parse_challenge_location("legacy"),
        Ok(AcmeChallengeLocation::Legacy)
    );
    assert_eq!(
        parse_challenge_location("false"),
        Ok(AcmeChallengeLocation::Disabled)
    );
    assert_eq!(parse_port("VIRTUAL_PORT", " 8080 "), Ok(8080));
    assert!(
        parse_port("VIRTUAL_PORT", "http")
            .unwrap_err()
            .contains("VIRTUAL_PORT")
    );
    assert!(parse_port("VIRTUAL_PORT", "0").is_err());
    assert_eq!(parse_proto(" uwsgi "), Ok(Proto::Uwsgi));
    assert_eq!(parse_proto("grpc"), Ok(Proto::Grpc));
    assert_eq!(parse_proto(" grpcs"), Ok(Proto::Grpcs));
    assert_eq!(parse_proto("fastcgi"), Ok(Proto::Fastcgi));
    assert_eq!(parse_root(" /srv/app/public "), Ok("/srv/app/public"));
    for bad in ["", "var/www", "/srv/\napp"] {
        let err = parse_root(bad).unwrap_err();
        assert!(
            err.contains("VIRTUAL_ROOT") && err.contains("absolute"),
            "{err}"
        );
    }
    assert!(parse_proto("gopher").unwrap_err().contains("unknown"));
    assert_eq!(parse_keepalive("K", "disabled"), Ok(false));
    assert_eq!(parse_keepalive("K", "16"), Ok(true));
    assert!(parse_keepalive("K", "sometimes").is_err());
}

#[test]
fn loadbalance_modes() {
    use crate::model::Balance::*;
    let table = [
        ("hash $remote_addr;", ClientHash),
        ("  hash   $remote_addr  ; ", ClientHash),
        ("hash $remote_addr", ClientHash),
        ("hash $remote_addr consistent;", ClientHash),
        ("hash $binary_remote_addr;", ClientHash),
        ("ip_hash;", IpHash),
        ("least_conn;", LeastConn),
        ("random;", Random),
        ("random two;", RandomTwo),
        ("random two least_conn;", RandomTwo),
        (";", RoundRobin),
    ];
    for (text, want) in table {
        assert_eq!(parse_loadbalance("L", text), Ok(want), "{text:?}");
    }
    for text in [
        "hash $request_uri;",
        "sticky cookie srv_id;",
        "least_time header;",
        "random two least_time=header;",
        "ip_hash; least_conn;",
    ] {
        let why = parse_loadbalance("L", text).unwrap_err();
        assert!(why.contains(&format!("L={text:?}")), "{why}");
    }
}

#[test]
fn verify_client_takes_nginx_values() {
    use crate::model::VerifyClient;
    let name = "com.github.nginx-proxy.nginx-proxy.ssl_verify_client";
    for (text, want) in [
        ("on", VerifyClient::On),
        (" optional ", VerifyClient::Optional),
        ("optional_no_ca", VerifyClient::OptionalNoCa),
        ("off", VerifyClient::Off),
    ] {
        assert_eq!(parse_verify_client(name, text), Ok(want), "{text}");
        assert_eq!(want.as_str(), text.trim());
    }
    for bad in ["", "On", "true", "required"] {
        let err = parse_verify_client(name, bad).unwrap_err();
        assert!(
            err.contains(name) && err.contains("optional_no_ca"),
            "{err}"
        );
    }
}
