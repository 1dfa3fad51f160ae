use super::*;

fn compile(paths: &[&str]) -> Vec<PathPattern> {
    paths
        .iter()
        .map(|p| PathPattern::parse(p).unwrap())
        .collect()
}

#[test]
fn nginx_location_precedence() {
    let set = compile(&[
        "/",
        "/api/",
        "/api/v2/",
        "~ ^/(web3|alt)/",
        "= /exact",
        "^~ /static/",
    ]);
    let cases: &[(&str, Option<usize>)] = &[
        ("/", Some(0)),
        ("/other", Some(0)),
        ("/api/x", Some(1)),
        ("/api/v2/x", Some(2)),
        ("/web3/x", Some(3)),
        ("/exact", Some(4)),
        ("/exact/more", Some(0)),
        ("/static/a.css", Some(5)),
    ];
    for (path, want) in cases {
        assert_eq!(select(&set, path), *want, "{path}");
    }
}

#[test]
fn regex_beats_plain_prefix_but_not_caret_tilde() {
    let set = compile(&["/img/", "~* \\.PNG$", "^~ /raw/"]);
    assert_eq!(select(&set, "/img/a.png"), Some(1));
    assert_eq!(select(&set, "/raw/a.png"), Some(2));
    assert_eq!(select(&set, "/nothing"), None);
}

#[test]
fn bad_regex_names_the_path() {
    let err = PathPattern::parse("~ ^/(").unwrap_err();
    assert!(err.to_string().contains("VIRTUAL_PATH"), "{err}");
}
