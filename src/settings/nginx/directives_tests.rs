// Real hashes of "pw" (`openssl passwd -apr1 -salt xxxxxxxx pw`, `-5`/`-6 -salt saltsalt`,
// `htpasswd -nbB -C 5 u pw`, `printf pw | openssl sha1 -binary | base64`): the auth module
// accepts only hashes it can verify.
use std::net::IpAddr;
use std::time::Duration;

use super::*;
use crate::policy::{IpNet, Timeouts};
use crate::settings::nginx::values::time;

fn read_in(text: &str, context: Context) -> (Level, Vec<Note>) {
    let zones = BTreeMap::from([("one".to_owned(), 10_000), ("slow".to_owned(), 500)]);
    let htpasswd = BTreeMap::from([(
        "users".to_owned(),
        "alice:$apr1$xxxxxxxx$chY.w2eF7dPHX8QwFFjk3/\nbob:secret\n".to_owned(),
    )]);
    let env = Env {
        zones: &zones,
        htpasswd: &htpasswd,
    };
    let ds = super::super::tokenize::parse(text).expect("test text parses");
    read_level("vhost.d/a.test", &ds, context, &env)
}

fn read(text: &str) -> (Level, Vec<Note>) {
    read_in(text, Context::Server)
}

/// The notes as `line directive: what`.
fn notes(text: &str) -> Vec<String> {
    read(text)
        .1
        .iter()
        .map(|n| format!("{} {}: {}", n.line, n.directive, n.what))
        .collect()
}

fn policy(text: &str) -> Policy {
    let (level, notes) = read(text);
    assert_eq!(notes, [], "{text}");
    level.policy
}

#[test]
fn sizes_and_times_use_nginx_syntax() {
    for (v, want) in [
        ("10", Some(10)),
        ("512k", Some(512 << 10)),
        ("20M", Some(20 << 20)),
        ("1g", Some(1 << 30)),
        ("0", Some(0)),
        ("", None),
        ("k", None),
        ("1.5m", None),
        ("-1", None),
        ("99999999999999g", None),
    ] {
        assert_eq!(size(v), want, "{v:?}");
    }
    let ms = |n| Some(Duration::from_millis(n));
    for (v, want) in [
        ("30", ms(30_000)),
        ("30s", ms(30_000)),
        ("500ms", ms(500)),
        ("1m", ms(60_000)),
        ("1h30m", ms(5_400_000)),
        ("1m 30s", ms(90_000)),
        ("2d", ms(172_800_000)),
        ("1w", ms(604_800_000)),
        ("1s500ms", ms(1500)),
        ("", None),
        ("s", None),
        ("30x", None),
        ("30s1m", None),
        ("1s1s", None),
        ("1.5s", None),
        ("99999999999999999999", None),
    ] {
        assert_eq!(time(v), want, "{v:?}");
    }
}

#[test]
fn body_size_and_timeouts() {
    let p = policy(
        "client_max_body_size 20m;\nproxy_read_timeout 5m;\nproxy_connect_timeout 3;\nproxy_send_timeout 500ms;",
    );
    assert_eq!(p.max_body, Some(20 << 20));
    assert_eq!(
        p.timeouts,
        Timeouts {
            connect: Some(Duration::from_secs(3)),
            read: Some(Duration::from_secs(300)),
            send: Some(Duration::from_millis(500)),
        }
    );
    assert_eq!(
        p.origins,
        [
            Origin {
                part: "max_body",
                from: "vhost.d/a.test:1".into()
            },
            Origin {
                part: "timeouts",
                from: "vhost.d/a.test:2,3,4".into()
            },
        ]
    );
    assert_eq!(
        policy("client_max_body_size 0;").max_body,
        Some(u64::MAX),
        "0 is unlimited"
    );
}

#[test]
fn headers_in_order() {
    let p = policy(
        "add_header X-Frame-Options SAMEORIGIN;\n\
         add_header Strict-Transport-Security \"max-age=63072000; includeSubDomains\" always;\n\
         more_set_headers \"Server: dockside\" 'X-A:b';\n\
         more_clear_headers X-Powered-By Server;\n\
         more_set_headers \"X-Gone:\";\n\
         proxy_hide_header X-Runtime;\n\
         add_header X-Empty \"\";\n\
         proxy_set_header X-Custom yes;\n\
         proxy_set_header Proxy \"\";",
    );
    let add = |n: &str, v: &str, always| ResponseHeaderOp::Add {
        name: n.into(),
        value: v.into(),
        always,
    };
    let set = |n: &str, v: &str| ResponseHeaderOp::Set {
        name: n.into(),
        value: v.into(),
    };
    let remove = |n: &str| ResponseHeaderOp::Remove { name: n.into() };
    assert_eq!(
        p.response_headers,
        [
            add("X-Frame-Options", "SAMEORIGIN", false),
            add(
                "Strict-Transport-Security",
                "max-age=63072000; includeSubDomains",
                true
            ),
            set("Server", "dockside"),
            set("X-A", "b"),
            remove("X-Powered-By"),
            remove("Server"),
            remove("X-Gone"),
            remove("X-Runtime"),
        ]
    );
    assert_eq!(
        p.request_headers,
        [
            HeaderOp {
                name: "X-Custom".into(),
                value: Some("yes".into())
            },
            HeaderOp {
                name: "Proxy".into(),
                value: None
            },
        ]
    );
    assert_eq!(p.origins[0].from, "vhost.d/a.test:1,2,3,4,5,6,7");
}

#[test]
fn access_rules_first_match_order() {
    let p = policy("allow 192.168.1.7;\nallow 10.1.2.3/8;\nallow 2001:db8::1/32;\ndeny all;");
    let rule = |allow, addr: &str, prefix, all| AccessRule {
        allow,
        net: IpNet {
            addr: addr.parse().unwrap(),
            prefix,
            all,
        },
    };
    assert_eq!(
        p.access,
        [
            rule(true, "192.168.1.7", 32, false),
            rule(true, "10.0.0.0", 8, false),
            rule(true, "2001:db8::", 32, false),
            rule(false, "0.0.0.0", 0, true),
        ]
    );
    assert_eq!(ip_net("::1").unwrap().prefix, 128);
    assert_eq!(
        ip_net("0.0.0.0/0").unwrap().addr,
        IpAddr::from([0, 0, 0, 0])
    );
    for bad in [
        "1.2.3.4/33",
        "::/129",
        "1.2.3",
        "host.test",
        "1.2.3.4/",
        "unix:",
        "1.2.3.4/+8",
    ] {
        assert!(ip_net(bad).is_err(), "{bad}");
    }
}

#[test]
fn fixed_answers() {
    let answer_of = |text: &str| policy(text).answer.unwrap();
    let fixed = |status, text: Option<&str>| FixedAnswer {
        status,
        text: text.map(str::to_owned),
    };
    assert_eq!(answer_of("return 418;"), fixed(418, None));
    assert_eq!(
        answer_of("return 403 'go away';"),
        fixed(403, Some("go away"))
    );
    assert_eq!(
        answer_of("return 301 https://b.test$request_uri;"),
        fixed(301, Some("https://b.test$request_uri"))
    );
    assert_eq!(
        answer_of("return https://b.test/;"),
        fixed(302, Some("https://b.test/"))
    );
    assert_eq!(
        answer_of("return $scheme://www.$host$request_uri;"),
        fixed(302, Some("$scheme://www.$host$request_uri"))
    );
}

#[test]
fn understood_directives_with_bad_values_become_notes() {
    let table: &[(&str, &str)] = &[
        (
            "client_max_body_size lots;",
            "ignored: \"lots\" is not a size",
        ),
        (
            "client_max_body_size;",
            "ignored: wrong number of arguments or bad value",
        ),
        (
            "proxy_read_timeout 0;",
            "ignored: \"0\" is not a time such as 30s, 1m or 500ms",
        ),
        (
            "proxy_read_timeout 1x;",
            "ignored: \"1x\" is not a time such as 30s, 1m or 500ms",
        ),
        (
            "add_header X;",
            "ignored: wrong number of arguments or bad value",
        ),
        (
            "add_header X y sometimes;",
            "ignored: \"sometimes\" is not \"always\"",
        ),
        (
            "add_header \"Bad Name\" y;",
            "ignored: \"Bad Name\" is not a header name",
        ),
        (
            "add_header X-Up $upstream_addr;",
            "ignored: uses the nginx variable $upstream_addr, which dockside does not expand",
        ),
        (
            "proxy_set_header X-Real-IP $remote_addr;",
            "ignored: uses the nginx variable $remote_addr, which dockside does not expand",
        ),
        (
            "more_set_headers -s 404 'X: y';",
            "ignored: the -s filter is not supported",
        ),
        (
            "more_clear_headers 'X-Hidden-*';",
            "ignored: the wildcard in \"X-Hidden-*\" is not supported",
        ),
        (
            "allow everyone;",
            "ignored: \"everyone\" is not an address, a CIDR block or \"all\"",
        ),
        (
            "return 444;",
            "ignored: 444 (close the connection) is not supported",
        ),
        (
            "return 99;",
            "ignored: \"99\" is not a status code from 200 to 599",
        ),
        (
            "return /relative;",
            "ignored: \"/relative\" is not a status code from 200 to 599",
        ),
        (
            "return 200 \"hi $remote_addr\";",
            "ignored: uses the nginx variable $remote_addr, which dockside does not expand here",
        ),
        (
            "return 301 https://$server_name$request_uri;",
            "ignored: uses the nginx variable $server_name, which dockside does not expand here",
        ),
        (
            "gzip maybe;",
            "ignored: wrong number of arguments or bad value",
        ),
        (
            "gzip_comp_level 10;",
            "ignored: \"10\" is not a level from 1 to 9",
        ),
        (
            "limit_req zone=none;",
            "ignored: no limit_req_zone \"none\" in conf.d",
        ),
        ("limit_req burst=5;", "ignored: no zone="),
        (
            "limit_req zone=one burst=x;",
            "ignored: \"x\" is not a burst size",
        ),
        (
            "limit_req_zone $binary_remote_addr zone=z:10m rate=1r/s;",
            "ignored: limit_req_zone belongs in conf.d",
        ),
        ("proxy_buffering off;", "ignored"),
        ("location /x { deny all; }", "ignored"),
        ("if ($http_x) { return 403; }", "ignored"),
        ("include /etc/nginx/other.conf;", "ignored"),
    ];
    for (text, what) in table {
        let (level, notes) = read(text);
        assert_eq!(notes.len(), 1, "{text}: {notes:?}");
        assert_eq!(notes[0].what, *what, "{text}");
        assert_eq!(notes[0].line, 1);
        assert_eq!(notes[0].file, "vhost.d/a.test");
        assert!(level.policy.is_empty(), "{text}: {level:?}");
    }
}

#[test]
fn the_rest_of_a_file_still_applies() {
    assert_eq!(
        notes("proxy_buffering off;\nclient_max_body_size 1m;\nlocation / {\n}\nfoo bar;"),
        [
            "1 proxy_buffering: ignored",
            "3 location: ignored",
            "5 foo: ignored"
        ]
    );
    assert_eq!(
        read("proxy_buffering off;\nclient_max_body_size 1m;")
            .0
            .policy
            .max_body,
        Some(1 << 20)
    );
    assert_eq!(
        notes("x;").first().map(String::as_str),
        Some("1 x: ignored")
    );
    let note = &read("x;").1[0];
    assert_eq!(note.to_string(), "vhost.d/a.test:1: x: ignored");
}

#[test]
fn return_is_not_allowed_in_conf_d_and_zones_are_read_there() {
    let (level, notes) = read_in(
        "return 403;\nlimit_req_zone $binary_remote_addr zone=z:10m rate=1r/s;",
        Context::Http,
    );
    assert!(level.policy.is_empty());
    assert_eq!(notes.len(), 1);
    assert_eq!(
        notes[0].what,
        "ignored: not allowed at the http level (conf.d)"
    );
}

#[test]
fn zones_and_rate_limits() {
    let ds = super::super::tokenize::parse(
        "limit_req_zone $binary_remote_addr zone=a:10m rate=5r/s;\n\
         limit_req_zone $remote_addr zone=b:1m rate=30r/m sync;\n\
         limit_req_zone $server_name zone=c:1m rate=1r/s;\n\
         limit_req_zone $binary_remote_addr zone=d:1m rate=fast;\n\
         limit_req_zone $binary_remote_addr rate=1r/s;",
    )
    .unwrap();
    let (mut zones, mut notes) = (BTreeMap::new(), Vec::new());
    read_zones("conf.d/limits.conf", &ds, &mut zones, &mut notes);
    assert_eq!(
        zones,
        BTreeMap::from([("a".to_owned(), 5000), ("b".to_owned(), 500)])
    );
    let whats: Vec<_> = notes.iter().map(|n| (n.line, n.what.as_str())).collect();
    assert_eq!(
        whats,
        [
            (
                3,
                "ignored: dockside limits per client address only, not by $server_name"
            ),
            (4, "ignored: \"fast\" is not a rate such as 10r/s or 30r/m"),
            (5, "ignored: needs zone=NAME:SIZE and rate="),
        ]
    );
    assert_eq!(
        policy("limit_req zone=one burst=20 nodelay;").rate_limit,
        Some(RateLimit {
            millirequests_per_second: 10_000,
            burst: 20
        })
    );
    assert_eq!(
        policy("limit_req zone=slow;").rate_limit,
        Some(RateLimit {
            millirequests_per_second: 500,
            burst: 0
        })
    );
}

#[test]
fn auth_and_gzip_stay_apart_for_inheritance() {
    let (level, notes) = read(
        "auth_basic \"Members\";\nauth_basic_user_file /etc/nginx/htpasswd/users;\n\
         gzip on;\ngzip_types application/json text/css;\ngzip_min_length 1k;\ngzip_comp_level 5;",
    );
    assert_eq!(
        level.realm,
        Some(Sourced {
            value: Some("Members".into()),
            from: "vhost.d/a.test:1".into()
        })
    );
    let users = level.users.unwrap();
    assert_eq!(
        users.value,
        [(
            "alice".to_owned(),
            "$apr1$xxxxxxxx$chY.w2eF7dPHX8QwFFjk3/".to_owned()
        )],
        "bob's plain-text password is refused"
    );
    assert_eq!(users.from, "vhost.d/a.test:2 (htpasswd/users)");
    assert_eq!(notes.len(), 1);
    assert_eq!(
        (notes[0].file.as_str(), notes[0].line),
        ("htpasswd/users", 2)
    );
    assert!(!notes[0].what.contains("secret"), "{}", notes[0].what);
    assert!(level.gzip.unwrap().value);
    assert_eq!(
        level.gzip_types,
        Some(vec!["application/json".into(), "text/css".into()])
    );
    assert_eq!(level.gzip_min_length, Some(1024));
    assert_eq!(level.gzip_comp_level, Some(5));
    assert!(level.policy.is_empty());

    let (off, _) = read("auth_basic off;\ngzip off;");
    assert_eq!(off.realm.unwrap().value, None);
    assert!(!off.gzip.unwrap().value);
}

#[test]
fn a_missing_user_file_lets_nobody_in() {
    for path in [
        "/etc/nginx/htpasswd/nobody",
        "/etc/nginx/.htpasswd",
        "htpasswd/",
    ] {
        let (level, notes) = read(&format!("auth_basic_user_file {path};"));
        assert_eq!(level.users.unwrap().value, [], "{path}");
        assert_eq!(
            notes[0].what,
            format!("{path:?} is not a file in htpasswd/: nobody can log in")
        );
    }
    let (level, _) = read("auth_basic_user_file htpasswd/users;");
    assert_eq!(level.users.unwrap().value.len(), 1);
}

#[test]
fn htpasswd_accepts_hashes_only() {
    let text = "# a comment\n\
                a:$2y$05$C9Wp5CcovlEQv6wS0T1z7euUDMpHhI761UbunPEaHXBKFEaeXSdlO\n\
                b:$2b$05$C9Wp5CcovlEQv6wS0T1z7euUDMpHhI761UbunPEaHXBKFEaeXSdlO\n\
                c:$apr1$xxxxxxxx$chY.w2eF7dPHX8QwFFjk3/:a comment\n\
                d:{SHA}GpHWL3ymc5liWkNopqtdSjuqYHM=\n\
                e:$5$saltsalt$0rl.MZtoLLPP3X0Rdl8riRnphIcAXJY27/aOAyK2hB5\r\n\
                f:$6$rounds=5000$saltsalt$pauPrmdmG4BTE9h2HPmywiw152IFch6BJCEsaY6D.PLTfpV8sqvXwWdyfsgVgozkYH9B80bAip/08R2BPH2xk/\n\
                \n\
                g:hunter2\n\
                h:$1$md5$crypt\n\
                i:{SSHA}abc\n\
                no-colon\n\
                :nouser\n\
                j:$2y$\n";
    let mut notes = Vec::new();
    let users = read_htpasswd("htpasswd/a.test", text, &mut notes);
    let names: Vec<_> = users.iter().map(|(u, _)| u.as_str()).collect();
    assert_eq!(names, ["a", "b", "c", "d", "e", "f"]);
    assert_eq!(
        users[2].1, "$apr1$xxxxxxxx$chY.w2eF7dPHX8QwFFjk3/",
        "the comment field is dropped"
    );
    assert_eq!(
        users[4].1, "$5$saltsalt$0rl.MZtoLLPP3X0Rdl8riRnphIcAXJY27/aOAyK2hB5",
        "CRLF files work"
    );
    let lines: Vec<_> = notes.iter().map(|n| n.line).collect();
    assert_eq!(lines, [9, 10, 11, 12, 13, 14]);
    assert!(
        notes[0].what.contains("`g`") && notes[0].what.contains("plain-text"),
        "{notes:?}"
    );
    assert!(
        notes[1].what.contains("not a hash dockside verifies"),
        "{notes:?}"
    );
    for n in &notes {
        for secret in ["hunter2", "md5$crypt", "SSHA}abc", "nouser"] {
            assert!(!n.to_string().contains(secret), "{n}");
        }
    }
}
