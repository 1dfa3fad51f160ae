use super::*;
use std::collections::HashMap;

const TOKEN: &str = "0123456789abcdef0123";

fn auth(vars: &[(&str, &str)]) -> Result<AdminAuth, String> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    AdminAuth::from_vars(|name| map.get(name).cloned())
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(
            http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    map
}

fn basic(user: &str, password: &str) -> String {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {encoded}")
}

/// (auth, path, request headers, peer, allowed)
type Case<'a> = (
    &'a AdminAuth,
    &'a str,
    Vec<(&'a str, &'a str)>,
    &'a str,
    bool,
);

const LOOPBACK: &str = "127.0.0.1:40000";
const REMOTE: &str = "192.0.2.7:40000";

#[test]
fn gate_table() {
    let none = AdminAuth::default();
    let token = auth(&[("DOCKSIDE_ADMIN_TOKEN", TOKEN)]).unwrap();
    let open_metrics = auth(&[("DOCKSIDE_METRICS_OPEN", "true")]).unwrap();
    let bearer = format!("Bearer {TOKEN}");
    let wrong = format!("Bearer {TOKEN}x");
    let as_password = basic("anyone", TOKEN);
    let other = basic("a", "b");
    let forbidden = |g: Option<Gate>| matches!(g, Some(Gate::Forbidden(_)));
    let table: Vec<Case> = vec![
        (&none, "/status", vec![], LOOPBACK, true),
        (&none, "/status", vec![], REMOTE, false),
        (&none, "/healthz", vec![], REMOTE, true),
        (&none, "/metrics", vec![], REMOTE, false),
        (&open_metrics, "/metrics", vec![], REMOTE, true),
        (&open_metrics, "/status", vec![], REMOTE, false),
        (&token, "/status", vec![], REMOTE, false),
        // With a token set, loopback needs it too.
        (&token, "/status", vec![], LOOPBACK, false),
        (
            &token,
            "/status",
            vec![("authorization", &bearer)],
            REMOTE,
            true,
        ),
        (
            &token,
            "/status",
            vec![("authorization", &bearer)],
            LOOPBACK,
            true,
        ),
        (
            &token,
            "/status",
            vec![("authorization", &wrong)],
            REMOTE,
            false,
        ),
        (
            &token,
            "/status",
            vec![("authorization", &as_password)],
            REMOTE,
            true,
        ),
        (
            &token,
            "/status",
            vec![("authorization", &other)],
            REMOTE,
            false,
        ),
        // A proxied request is refused whatever it carries; /healthz stays open.
        (
            &none,
            "/status",
            vec![("x-forwarded-for", "1.2.3.4")],
            LOOPBACK,
            false,
        ),
        (
            &token,
            "/status",
            vec![("authorization", &bearer), ("x-real-ip", "1.2.3.4")],
            LOOPBACK,
            false,
        ),
        (
            &open_metrics,
            "/metrics",
            vec![("via", "1.1 x")],
            REMOTE,
            false,
        ),
        (
            &none,
            "/healthz",
            vec![("forwarded", "for=1.2.3.4")],
            REMOTE,
            true,
        ),
    ];
    for (auth, path, pairs, peer, allowed) in table {
        let got = auth.gate(path, &headers(&pairs), peer.parse().unwrap());
        assert_eq!(
            got == Some(Gate::Allow),
            allowed,
            "{path} {pairs:?} from {peer}: {got:?}"
        );
    }
    assert!(forbidden(none.gate(
        "/status",
        &headers(&[]),
        REMOTE.parse().unwrap()
    )));
    assert_eq!(
        token.gate("/status", &headers(&[]), REMOTE.parse().unwrap()),
        Some(Gate::Challenge)
    );
}

#[test]
fn htpasswd_users_are_verified_and_loopback_stays_open_without_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("admin.htpasswd");
    // alice:secret, SHA-1 ({SHA}): fast enough to verify in a test.
    std::fs::write(&path, "alice:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=\n").unwrap();
    let auth = auth(&[("DOCKSIDE_ADMIN_HTPASSWD", path.to_str().unwrap())]).unwrap();
    let remote: SocketAddr = REMOTE.parse().unwrap();
    let good = headers(&[("authorization", &basic("alice", "secret"))]);
    let bad = headers(&[("authorization", &basic("alice", "nope"))]);
    // Not cached yet: the hash decides.
    assert_eq!(auth.gate("/status", &good, remote), None);
    assert_eq!(auth.verify(&good, remote), Gate::Allow);
    assert_eq!(auth.gate("/status", &good, remote), Some(Gate::Allow));
    assert_eq!(auth.verify(&bad, remote), Gate::Challenge);
    assert_eq!(
        auth.gate("/status", &headers(&[]), remote),
        Some(Gate::Challenge)
    );
    assert_eq!(
        auth.gate("/status", &headers(&[]), LOOPBACK.parse().unwrap()),
        Some(Gate::Allow)
    );
    assert_eq!(auth.challenges().len(), 1);
}

#[test]
fn bad_settings_name_what_to_fix() {
    let dir = tempfile::tempdir().unwrap();
    let short = dir.path().join("short");
    std::fs::write(&short, "abc\n").unwrap();
    let table: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (
            vec![("DOCKSIDE_ADMIN_TOKEN", "short")],
            "DOCKSIDE_ADMIN_TOKEN: the admin token must be at least 16",
        ),
        (
            vec![
                ("DOCKSIDE_ADMIN_TOKEN", TOKEN),
                ("DOCKSIDE_ADMIN_TOKEN_FILE", "/x"),
            ],
            "both set",
        ),
        (
            vec![("DOCKSIDE_ADMIN_TOKEN_FILE", "/nonexistent/t")],
            "DOCKSIDE_ADMIN_TOKEN_FILE=/nonexistent/t: cannot read it",
        ),
        (
            vec![("DOCKSIDE_ADMIN_TOKEN_FILE", short.to_str().unwrap())],
            "at least 16",
        ),
        (
            vec![("DOCKSIDE_ADMIN_HTPASSWD", "/nonexistent/h")],
            "DOCKSIDE_ADMIN_HTPASSWD=/nonexistent/h: cannot read it",
        ),
        (
            vec![("DOCKSIDE_METRICS_OPEN", "maybe")],
            "DOCKSIDE_METRICS_OPEN",
        ),
    ];
    for (vars, want) in table {
        let err = auth(&vars).unwrap_err();
        assert!(err.contains(want), "{vars:?}: {err}");
    }
}

#[test]
fn a_token_file_is_trimmed_and_never_shown() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, format!("{TOKEN}\n")).unwrap();
    let auth = auth(&[("DOCKSIDE_ADMIN_TOKEN_FILE", file.to_str().unwrap())]).unwrap();
    assert_eq!(auth.token(), Some(TOKEN));
    let shown = format!(
        "{auth:?} {}",
        auth.describe(Some("0.0.0.0:8099".parse().unwrap()))
    );
    assert!(!shown.contains(TOKEN), "{shown}");
    assert!(
        shown.contains("credential required (token from DOCKSIDE_ADMIN_TOKEN_FILE="),
        "{shown}"
    );
}
