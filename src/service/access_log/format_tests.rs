use super::*;

fn parts(template: &str) -> Vec<Part> {
    LogFormat::compile(template, Escape::Default).unwrap().parts
}

fn lit(s: &str) -> Part {
    Part::Literal(s.into())
}

#[test]
fn templates_compile_into_literals_and_variables() {
    let table: Vec<(&str, Vec<Part>)> = vec![
        ("", vec![]),
        ("plain", vec![lit("plain")]),
        ("$status", vec![Part::Var(Var::Status)]),
        (
            "[$time_local] $status",
            vec![
                lit("["),
                Part::Var(Var::TimeLocal),
                lit("] "),
                Part::Var(Var::Status),
            ],
        ),
        // Braces let a name run into letters; names are case-insensitive.
        (
            "${status}ms$REQUEST_TIME",
            vec![
                Part::Var(Var::Status),
                lit("ms"),
                Part::Var(Var::RequestTime),
            ],
        ),
        // A name ends at the first byte that cannot be in one.
        (
            "$host:$server_port/",
            vec![
                Part::Var(Var::Host),
                lit(":"),
                Part::Var(Var::ServerPort),
                lit("/"),
            ],
        ),
        ("$query_string", vec![Part::Var(Var::Args)]),
        ("é$pid", vec![lit("é"), Part::Var(Var::Pid)]),
    ];
    for (template, want) in table {
        assert_eq!(parts(template), want, "{template:?}");
    }
}

#[test]
fn headers_get_one_slot_each() {
    let f = LogFormat::compile(
        "$http_user_agent $HTTP_USER_AGENT $http_x_real_ip $remote_user",
        Escape::Default,
    )
    .unwrap();
    assert_eq!(
        f.headers,
        vec![
            header::USER_AGENT,
            HeaderName::from_static("x-real-ip"),
            header::AUTHORIZATION
        ]
    );
    assert_eq!(f.parts[0], Part::Var(Var::Header(0)));
    assert_eq!(f.parts[2], Part::Var(Var::Header(0)));
    assert_eq!(f.parts[4], Part::Var(Var::Header(1)));
    assert_eq!(f.parts[6], Part::Var(Var::RemoteUser(2)));
    assert!(!f.request_id);
}

#[test]
fn bad_templates_are_refused_with_what_to_fix() {
    let table = [
        ("$nope", FormatError::UnknownVariable("nope".into())),
        (
            "$Sent_Http_X",
            FormatError::UnknownVariable("sent_http_x".into()),
        ),
        ("$http_", FormatError::UnknownVariable("http_".into())),
        ("${status", FormatError::MissingBracket("status".into())),
        ("${sta-tus}", FormatError::MissingBracket("sta".into())),
        ("a $", FormatError::Dollar(2)),
        ("$ b", FormatError::Dollar(0)),
        ("${}", FormatError::Dollar(0)),
        (
            "$http_a $http_b $http_c $http_d $http_e $http_f $http_g $http_h $http_i",
            FormatError::TooManyHeaders,
        ),
    ];
    for (template, want) in table {
        assert_eq!(
            LogFormat::compile(template, Escape::Default),
            Err(want),
            "{template:?}"
        );
    }
    let msg = FormatError::UnknownVariable("nope".into()).to_string();
    assert!(
        msg.starts_with("LOG_FORMAT: unknown variable \"$nope\""),
        "{msg}"
    );
}

#[test]
fn built_in_formats_compile() {
    let vhost = LogFormat::vhost();
    assert_eq!((vhost.escape, vhost.headers.len()), (Escape::Default, 3));
    let json = LogFormat::json();
    assert_eq!(json.escape, Escape::Json);
    assert!(json.request_id);
}

#[test]
fn escape_setting_values() {
    assert_eq!(Escape::parse("default"), Ok(Escape::Default));
    assert_eq!(Escape::parse(" json "), Ok(Escape::Json));
    assert_eq!(Escape::parse("none"), Ok(Escape::None));
    assert_eq!(
        Escape::parse("JSON"),
        Err(FormatError::Escape("JSON".into()))
    );
}
