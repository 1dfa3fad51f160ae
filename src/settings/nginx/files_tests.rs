// Real hashes of "pw" (`openssl passwd -apr1 -salt xxxxxxxx pw`, `-5`/`-6 -salt saltsalt`,
// `htpasswd -nbB -C 5 u pw`, `printf pw | openssl sha1 -binary | base64`): the auth module
// accepts only hashes it can verify.
use super::*;
use crate::policy::{ResponseHeaderOp, Timeouts};
use std::time::Duration;

const ROOT: &str = "42099b4af021e53fd8fd4e056c2568d7c2e3ffa8"; // sha1("/")
const API: &str = "ada91241341ae792ecf0a59cad28616a77bab856"; // sha1("/api")

fn files(
    vhost_d: &[(&str, &str)],
    htpasswd: &[(&str, &str)],
    conf_d: &[(&str, &str)],
) -> NginxFiles {
    let map = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    };
    NginxFiles {
        vhost_d: map(vhost_d),
        htpasswd: map(htpasswd),
        conf_d: map(conf_d),
        errors_50x: None,
        error_pages: Default::default(),
    }
}

/// The `X-From` values a policy adds, in order: which files it was built from.
fn from(policy: &Policy) -> Vec<String> {
    policy
        .response_headers
        .iter()
        .filter_map(|op| match op {
            ResponseHeaderOp::Add { name, value, .. } if name == "X-From" => Some(value.clone()),
            _ => None,
        })
        .collect()
}

fn tag(name: &str) -> String {
    format!("add_header X-From {name};")
}

#[test]
fn sha1_names_match_nginx_proxy() {
    assert_eq!(sha1_hex("/"), ROOT);
    assert_eq!(sha1_hex("/api"), API);
    assert_eq!(file_host("a.test"), "a.test");
    assert_eq!(file_host("*.a.test"), "*.a.test");
    assert_eq!(
        file_host("~^a\\.test$"),
        "af3e80330ad5c75a5f7db65dadf7c53dcd221bde"
    );
}

#[test]
fn server_level_is_the_host_file_else_default() {
    let both = files(
        &[("a.test", &tag("host")), ("default", &tag("default"))],
        &[],
        &[],
    );
    assert_eq!(from(&resolve(&both, "a.test", &[]).server), ["host"]);
    assert_eq!(from(&resolve(&both, "b.test", &[]).server), ["default"]);
    let wildcard = files(&[("*.a.test", &tag("wild"))], &[], &[]);
    assert_eq!(
        from(&resolve(&wildcard, "*.a.test", &["/"]).server),
        ["wild"]
    );
    assert_eq!(
        from(&resolve(&wildcard, "b.a.test", &["/"]).server),
        [] as [&str; 0]
    );
    let regex = files(
        &[("af3e80330ad5c75a5f7db65dadf7c53dcd221bde", &tag("regex"))],
        &[],
        &[],
    );
    assert_eq!(from(&resolve(&regex, "~^a\\.test$", &[]).server), ["regex"]);
}

#[test]
fn location_files_first_match_wins() {
    let path_file = format!("a.test_{API}_location");
    let all = [
        (path_file.as_str(), tag("path").leak() as &str),
        ("a.test_location", tag("host").leak()),
        ("default_location", tag("default").leak()),
        ("a.test", tag("server").leak()),
    ];
    let r = resolve(&files(&all, &[], &[]), "a.test", &["/api", "/"]);
    assert_eq!(from(&r.locations[0]), ["server", "path"]);
    assert_eq!(from(&r.locations[1]), ["server", "host"]);
    assert_eq!(
        from(&r.server),
        ["server"],
        "location files stay in locations"
    );
    let r = resolve(&files(&all, &[], &[]), "b.test", &["/api"]);
    assert_eq!(from(&r.locations[0]), ["default"]);
    let r = resolve(&files(&all[1..], &[], &[]), "a.test", &["/api"]);
    assert_eq!(from(&r.locations[0]), ["server", "host"]);
}

#[test]
fn overrides_replace_the_location_block() {
    let path_override = format!("a.test_{API}_location_override");
    let fs = files(
        &[
            (path_override.as_str(), &tag("path-override")),
            ("a.test_location_override", &tag("host-override")),
            ("a.test_location", &tag("host")),
        ],
        &[("a.test", "u:$apr1$xxxxxxxx$chY.w2eF7dPHX8QwFFjk3/")],
        &[],
    );
    let r = resolve(&fs, "a.test", &["/api", "/", "/other"]);
    assert_eq!(from(&r.locations[0]), ["path-override"]);
    assert_eq!(r.locations[0].auth, None, "no htpasswd in an override");
    assert_eq!(
        from(&r.locations[1]),
        ["host-override"],
        "the host override is for / only"
    );
    assert_eq!(from(&r.locations[2]), ["host"]);
    assert!(r.locations[2].auth.is_some());
}

#[test]
fn htpasswd_per_path_then_per_host_with_nginx_proxy_realms() {
    let path_users = format!("a.test_{API}");
    let fs = files(
        &[],
        &[
            (
                path_users.as_str(),
                "p:$2y$05$C9Wp5CcovlEQv6wS0T1z7euUDMpHhI761UbunPEaHXBKFEaeXSdlO",
            ),
            ("a.test", "h:{SHA}GpHWL3ymc5liWkNopqtdSjuqYHM="),
        ],
        &[],
    );
    let r = resolve(&fs, "a.test", &["/api", "/"]);
    let auth = |p: &Policy| p.auth.clone().unwrap();
    assert_eq!(auth(&r.locations[0]).realm, "Restricted a.test/api");
    assert_eq!(auth(&r.locations[0]).users[0].0, "p");
    assert_eq!(auth(&r.locations[1]).realm, "Restricted a.test");
    assert_eq!(auth(&r.locations[1]).users[0].0, "h");
    assert_eq!(r.server.auth, None);
    assert_eq!(
        r.locations[1].origins,
        [Origin {
            part: "auth",
            from: "htpasswd/a.test".into()
        }]
    );

    let regex = "~^a\\.test$";
    let fs = files(
        &[],
        &[(
            &sha1_hex(regex),
            "h:$6$saltsalt$pauPrmdmG4BTE9h2HPmywiw152IFch6BJCEsaY6D.PLTfpV8sqvXwWdyfsgVgozkYH9B80bAip/08R2BPH2xk/",
        )],
        &[],
    );
    let r = resolve(&fs, regex, &["/"]);
    assert_eq!(
        r.locations[0].auth.clone().unwrap().realm,
        "Restricted access"
    );
}

#[test]
fn a_file_of_plain_passwords_still_locks_the_site() {
    let fs = files(&[], &[("a.test", "admin:admin\n")], &[]);
    let r = resolve(&fs, "a.test", &["/"]);
    assert_eq!(r.locations[0].auth.clone().unwrap().users, []);
    assert_eq!(r.notes.len(), 1);
    assert_eq!(
        (r.notes[0].file.as_str(), r.notes[0].line),
        ("htpasswd/a.test", 1)
    );
    assert!(!r.notes[0].what.contains(":admin"));
}

#[test]
fn auth_basic_off_in_a_location_lifts_the_htpasswd_auth() {
    let fs = files(
        &[("a.test_location", "auth_basic off;")],
        &[("a.test", "u:$apr1$xxxxxxxx$chY.w2eF7dPHX8QwFFjk3/")],
        &[],
    );
    assert_eq!(resolve(&fs, "a.test", &["/"]).locations[0].auth, None);
    let realm_only = files(&[("a.test", "auth_basic \"Staff\";")], &[], &[]);
    assert_eq!(
        resolve(&realm_only, "a.test", &["/"]).locations[0].auth,
        None,
        "a realm without users is no auth, as in nginx"
    );
    let split = files(
        &[
            ("a.test", "auth_basic_user_file /etc/nginx/htpasswd/staff;"),
            ("a.test_location", "auth_basic \"Staff\";"),
        ],
        &[(
            "staff",
            "s:$5$saltsalt$0rl.MZtoLLPP3X0Rdl8riRnphIcAXJY27/aOAyK2hB5",
        )],
        &[],
    );
    let auth = resolve(&split, "a.test", &["/"]).locations[0]
        .auth
        .clone()
        .unwrap();
    assert_eq!((auth.realm.as_str(), auth.users.len()), ("Staff", 1));
}

#[test]
fn conf_d_applies_to_every_site_and_its_zones_to_limit_req() {
    let fs = files(
        &[
            (
                "a.test",
                "limit_req zone=perip burst=5;\nadd_header X-From a;",
            ),
            ("b.test_location", "gzip off;"),
        ],
        &[],
        &[
            (
                "10-limits.conf",
                "limit_req_zone $binary_remote_addr zone=perip:10m rate=2r/s;",
            ),
            (
                "20-site.conf",
                "add_header X-From conf;\nproxy_read_timeout 90;\ngzip on;\ngzip_types application/json text/html;",
            ),
            ("default.conf", "this would not even parse {"),
        ],
    );
    let a = resolve(&fs, "a.test", &["/"]);
    assert_eq!(from(&a.server), ["conf", "a"]);
    assert_eq!(from(&a.locations[0]), ["conf", "a"]);
    assert_eq!(
        a.locations[0].rate_limit.unwrap().millirequests_per_second,
        2000
    );
    assert_eq!(
        a.server.timeouts,
        Timeouts {
            read: Some(Duration::from_secs(90)),
            ..Timeouts::default()
        }
    );
    assert_eq!(
        a.server.compression,
        Some(Compression {
            encodings: vec![Encoding::Gzip],
            types: vec!["text/html".into(), "application/json".into()],
            min_length: 20,
            level: 1,
        })
    );
    let b = resolve(&fs, "b.test", &["/"]);
    assert_eq!(from(&b.server), ["conf"]);
    assert_eq!(b.server.rate_limit, None);
    assert!(b.server.compression.is_some());
    assert_eq!(b.locations[0].compression, None, "gzip off in the location");
    assert_eq!(
        a.notes.iter().map(|n| n.to_string()).collect::<Vec<_>>(),
        ["conf.d/default.conf: skipped: nginx-proxy generates this file"]
    );
}

#[test]
fn gzip_settings_inherit_one_by_one() {
    let fs = files(
        &[("a.test", "gzip on;\ngzip_comp_level 6;")],
        &[],
        &[("gzip.conf", "gzip_types text/css;\ngzip_min_length 1000;")],
    );
    let c = resolve(&fs, "a.test", &[]).server.compression.unwrap();
    assert_eq!(c.types, ["text/html", "text/css"]);
    assert_eq!((c.min_length, c.level), (1000, 6));
    let alone = files(&[("a.test", "gzip on;")], &[], &[]);
    let c = resolve(&alone, "a.test", &[]).server.compression.unwrap();
    assert_eq!(c.types.len(), 10, "nginx-proxy's gzip_types: {:?}", c.types);
    assert!(c.types.contains(&"application/json".to_owned()));
    assert_eq!((c.min_length, c.level), (20, 1));
    assert_eq!(
        resolve(&fs, "a.test", &[]).server.origins,
        [Origin {
            part: "compression",
            from: "vhost.d/a.test:1".into()
        }]
    );
}

#[test]
fn notes_are_deduplicated_and_bad_files_skipped() {
    let fs = files(
        &[
            ("default_location", "proxy_buffering off;"),
            ("a.test", "client_max_body_size 5m;\nadd_header 'broken;"),
        ],
        &[],
        &[],
    );
    let r = resolve(&fs, "a.test", &["/a", "/b"]);
    let shown: Vec<_> = r.notes.iter().map(|n| n.to_string()).collect();
    assert_eq!(
        shown,
        [
            "vhost.d/a.test:2: skipped: does not parse (unterminated quote)",
            "vhost.d/default_location:1: proxy_buffering: ignored",
        ]
    );
    assert_eq!(r.server.max_body, None);
}

#[test]
fn check_names_file_and_line() {
    assert_eq!(super::super::check("vhost.d/a.test", "gzip on;"), Ok(()));
    let err = super::super::check("vhost.d/a.test", "gzip on;\nadd_header X \"y;\n").unwrap_err();
    assert_eq!(err.file, "vhost.d/a.test");
    assert_eq!(err.error.line, 2);
    assert_eq!(err.to_string(), "vhost.d/a.test:2: unterminated quote");
}

#[test]
fn the_50x_page_answers_for_unknown_hosts() {
    assert!(fallback_pages(&NginxFiles::default()).is_empty());
    let fs = NginxFiles {
        errors_50x: Some("<h1>down</h1>".into()),
        ..NginxFiles::default()
    };
    let pages = fallback_pages(&fs);
    assert_eq!(
        pages.keys().copied().collect::<Vec<_>>(),
        [500, 502, 503, 504]
    );
    assert_eq!(pages[&503].body, "<h1>down</h1>");
    assert_eq!(pages[&503].content_type, "text/html");
}
