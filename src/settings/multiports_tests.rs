use super::*;

fn path(path: &str, port: Option<u16>, proto: &str, dest: &str) -> MultiportsPath {
    MultiportsPath {
        path: path.into(),
        port,
        proto: proto.into(),
        dest: dest.into(),
    }
}

fn host(host: &str, paths: Vec<MultiportsPath>) -> MultiportsHost {
    MultiportsHost {
        host: host.into(),
        external_http_port: None,
        external_https_port: None,
        paths,
    }
}

fn root() -> MultiportsPath {
    path("/", None, "http", "")
}

#[test]
fn valid_values_yaml_and_json_alike() {
    let full = "a.test:\n  \"/\":\n    port: 8080\n  \"/api\":\n    port: \"9000\"\n    proto: https\n    dest: /v1\n";
    let full_want = vec![host(
        "a.test",
        vec![
            path("/", Some(8080), "http", ""),
            path("/api", Some(9000), "https", "/v1"),
        ],
    )];
    let json = r#"{"a.test": {"/": {"port": 8080}, "/api": {"port": "9000", "proto": "https", "dest": "/v1"}}}"#;
    let table: &[(&str, Vec<MultiportsHost>)] = &[
        (full, full_want.clone()),
        (json, full_want),
        // An empty host is `/` on the default port; an empty path is the defaults.
        (
            "a.test:\nb.test: {}\n",
            vec![host("a.test", vec![root()]), host("b.test", vec![root()])],
        ),
        (
            "a.test:\n  /x:\n",
            vec![host("a.test", vec![path("/x", None, "http", "")])],
        ),
        (
            r#"{"a.test": {"/x": {}}}"#,
            vec![host("a.test", vec![path("/x", None, "http", "")])],
        ),
        // `port: default` is the §1.6.2 rule, as when absent.
        (
            "a.test: {/: {port: default}}",
            vec![host("a.test", vec![root()])],
        ),
    ];
    for (text, want) in table {
        let got = parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        assert_eq!(&got.hosts, want, "{text:?}");
        assert!(got.ignored.is_empty(), "{text:?}: {:?}", got.ignored);
    }
}

#[test]
fn external_ports_and_ignored_keys() {
    let got = parse(
        "a.test:\n  external_http_port: 8080\n  external_https_port: \"8443\"\n  comment: x\n  /:\n    port: 81\n    pot: 82\n",
    )
    .unwrap();
    assert_eq!(got.hosts[0].external_http_port, Some(8080));
    assert_eq!(got.hosts[0].external_https_port, Some(8443));
    assert_eq!(got.hosts[0].paths, vec![path("/", Some(81), "http", "")]);
    assert_eq!(
        got.ignored,
        ["\"comment\" under a.test", "\"pot\" under a.test/"]
    );
    // Only the port keys: `/` with the defaults (dockside's rule).
    let got = parse("a.test: {external_https_port: 8443}").unwrap();
    assert_eq!(got.hosts[0].paths, vec![root()]);
}

#[test]
fn duplicate_keys_are_refused_at_every_level() {
    for text in [
        "a.test:\n  /: {port: 80}\na.test:\n  /: {port: 81}\n",
        "a.test:\n  /: {port: 80}\n  /: {port: 81}\n",
        "a.test:\n  /:\n    port: 80\n    port: 81\n",
        r#"{"a.test": {"/": {}}, "a.test": {"/x": {}}}"#,
    ] {
        match parse(text) {
            Err(MultiportsError::Syntax(why)) => {
                assert!(why.contains("duplicated key"), "{text:?}: {why}")
            }
            other => panic!("{text:?}: duplicate accepted: {other:?}"),
        }
    }
}

#[test]
fn invalid_values_say_what_is_wrong() {
    let table: &[(&str, &str)] = &[
        ("a.test: {/: {port: 80}", "not valid YAML or JSON"),
        ("{\"a.test\": ", "not valid YAML or JSON"),
        ("", "declares no host"),
        ("{}", "declares no host"),
        ("~", "declares no host"),
        (
            "a.test",
            "must be a mapping of host names, not a single value",
        ),
        ("- a.test", "must be a mapping of host names, not a list"),
        (
            "a.test: 8080",
            "host \"a.test\": expected a mapping of paths, not a single value",
        ),
        (
            "a.test: {/: 8080}",
            "host \"a.test\": path /: expected a mapping",
        ),
        (
            "a.test: {/: {port: eighty}}",
            "host \"a.test\": path /: port: \"eighty\" is not a port",
        ),
        ("a.test: {/: {port: 0}}", "is not a port"),
        ("a.test: {/: {port: 70000}}", "is not a port"),
        (
            "a.test: {external_http_port: [1]}",
            "external_http_port: expected a port number, not a list",
        ),
        (
            "a.test: {/: {proto: [http]}}",
            "proto must be text, not a list",
        ),
        ("a: {/: {}}\n---\nb: {/: {}}\n", "several YAML documents"),
    ];
    for (text, want) in table {
        let why = parse(text).expect_err(text).to_string();
        assert!(why.contains(want), "{text:?}: {why:?} lacks {want:?}");
    }
}
