//! The admin listener's gate with real curl requests: beyond loopback (a listener on this
//! machine's side of a veth pair, reached from a network namespace) it serves only `/healthz`
//! without a credential, asks for the token when one is set, can leave `/metrics` open; and a
//! site pointed at the admin port is refused even from loopback.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::netns::Netns;
use common::{Dockside, curl, dead_addr};
use dockside::admin::AdminAuth;

const TOKEN: &str = "test-admin-token-0123456789";

fn auth(vars: &[(&str, &str)]) -> AdminAuth {
    let map: HashMap<&str, &str> = vars.iter().copied().collect();
    AdminAuth::from_vars(|name| map.get(name).map(|v| v.to_string())).expect("admin settings")
}

/// `(status, body)` of a curl answer (`-w` appends the status after the body).
fn answer(out: std::process::Output) -> (u16, String) {
    assert!(
        out.status.success(),
        "curl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').expect("status line from -w");
    (code.trim().parse().expect("status"), body.to_owned())
}

async fn admin_beyond_loopback(ns: &Netns, auth: AdminAuth) -> (Dockside, String) {
    let ip = ns.host_ip;
    let d = Dockside::start(move |c| {
        c.admin = Some(SocketAddr::new(ip, 0));
        c.admin_auth = auth;
    })
    .await;
    let addr = d.running.admin_addr.expect("admin listener bound");
    (d, format!("http://{addr}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_credential_only_healthz_is_served_beyond_loopback() {
    let ns = Netns::create();
    let (_d, base) = admin_beyond_loopback(&ns, AdminAuth::default()).await;
    let get = |path: &str| answer(ns.curl(&["-w", "\n%{http_code}", &format!("{base}{path}")]));
    assert_eq!(get("/healthz"), (200, "ok\n".to_owned()));
    let (status, body) = get("/status");
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("DOCKSIDE_ADMIN_TOKEN"), "{body}");
    assert_eq!(get("/metrics").0, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_is_required_and_metrics_can_stay_open() {
    let ns = Netns::create();
    let auth = auth(&[
        ("DOCKSIDE_ADMIN_TOKEN", TOKEN),
        ("DOCKSIDE_METRICS_OPEN", "true"),
    ]);
    let (_d, base) = admin_beyond_loopback(&ns, auth).await;
    let status = format!("{base}/status");
    let with = |extra: &[&str]| {
        let mut args = vec!["-w", "\n%{http_code}", "-D", "/dev/stderr"];
        args.extend_from_slice(extra);
        args.push(&status);
        let out = ns.curl(&args);
        let head = String::from_utf8_lossy(&out.stderr).to_lowercase();
        (answer(out), head)
    };
    let ((code, _), head) = with(&[]);
    assert_eq!(code, 401);
    assert!(
        head.contains("www-authenticate: bearer realm=\"dockside admin\""),
        "{head}"
    );
    assert!(
        head.contains("www-authenticate: basic realm=\"dockside admin\""),
        "{head}"
    );
    let bearer = format!("Authorization: Bearer {TOKEN}");
    let ((code, body), _) = with(&["-H", &bearer]);
    assert_eq!(code, 200, "{body}");
    let wrong = format!("Authorization: Bearer {TOKEN}x");
    assert_eq!(with(&["-H", &wrong]).0.0, 401);
    // A browser's way: Basic auth with the token as the password.
    let user = format!("admin:{TOKEN}");
    assert_eq!(with(&["-u", &user]).0.0, 200);
    // /metrics passes the gate without the token (404 until a metrics endpoint exists).
    let metrics = answer(ns.curl(&["-w", "\n%{http_code}", &format!("{base}/metrics")]));
    assert!(![401, 403].contains(&metrics.0), "{metrics:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_need_the_token_unless_opened() {
    let ns = Netns::create();
    let (_d, base) = admin_beyond_loopback(&ns, auth(&[("DOCKSIDE_ADMIN_TOKEN", TOKEN)])).await;
    let out = ns.curl(&["-w", "\n%{http_code}", &format!("{base}/metrics")]);
    assert_eq!(answer(out).0, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_site_pointed_at_the_admin_listener_is_refused() {
    // A port just freed may be taken (as a connection's source port) before dockside binds it,
    // and dockside then serves without its admin listener: pick another one then.
    let dir = tempfile::tempdir().unwrap();
    let mut tries = 0;
    let (d, admin) = loop {
        let admin = dead_addr();
        let routes = dir.path().join("routes.toml");
        std::fs::write(
            &routes,
            format!("[[site]]\nVIRTUAL_HOST = \"admin.tld\"\nbackends = [\"{admin}\"]\n"),
        )
        .unwrap();
        let d = Dockside::start(|c| {
            c.admin = Some(admin);
            c.routes = Some(routes);
        })
        .await;
        let healthz = format!("http://{admin}/healthz");
        if answer(curl(&["-w", "\n%{http_code}", &healthz])).0 == 200 {
            break (d, admin);
        }
        tries += 1;
        assert!(tries < 5, "the admin listener never bound a free port");
    };
    let direct = format!("http://{admin}/status");
    let proxied = |path: &str| {
        let url = d.url(path);
        answer(curl(&[
            "-w",
            "\n%{http_code}",
            "-H",
            "Host: admin.tld",
            &url,
        ]))
    };
    // The site routes to the admin listener (its /healthz answers through it) …
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (code, body) = proxied("/healthz");
        if code == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "admin.tld never routed: {code} {body}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // … but the status page is refused there, while loopback reaches it directly.
    let (code, body) = proxied("/status");
    assert_eq!(code, 403, "{body}");
    assert!(body.contains("does not answer proxied requests"), "{body}");
    assert_eq!(answer(curl(&["-w", "\n%{http_code}", &direct])).0, 200);
}
