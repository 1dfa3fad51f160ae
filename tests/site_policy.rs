//! Site policies as settings (issue 14), through the whole proxy: routes-file entries carrying
//! `BASIC_AUTH`, `IP_ALLOW`/`IP_DENY`/`NETWORK_ACCESS`, `REQUEST_HEADERS`/`RESPONSE_HEADERS`,
//! `RETURN`/`REDIRECT_TO_HOST`, `PROXY_CONNECT_TIMEOUT`/`PROXY_READ_TIMEOUT`, `COMPRESSION*`,
//! `RATE_LIMIT` and `CLIENT_MAX_BODY_SIZE`, read by real clients (curl, which decodes
//! gzip/br/zstd itself, and the hyper client) on loopback — from 127.0.0.1 and, where the
//! client address matters, from other 127/8 addresses.

mod common;

use std::net::IpAddr;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::policy::*;
use common::{TestBackend, WAIT, empty_body, full_body, get, require_tool, send};
use http::{Request, StatusCode};
use tokio::io::AsyncReadExt;

const LOCAL: [u8; 4] = [127, 0, 0, 1];
const OTHER_LOCAL: [u8; 4] = [127, 0, 0, 2];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_auth_realm_and_every_hash_format() {
    let b = TestBackend::start("web").await;
    let users: Vec<(HashKind, String, String)> = ALL_HASHES
        .iter()
        .enumerate()
        .map(|(i, kind)| {
            let (user, pass) = (format!("user{i}"), format!("pw-{i}-{kind:?}"));
            let h = hash(*kind, &pass);
            (*kind, user, h)
        })
        .collect();
    // Commas and whitespace both separate entries.
    let inline: Vec<String> = users.iter().map(|(_, u, h)| format!("{u}:{h}")).collect();
    let inline = format!(
        "{}, {}\n{} {},{}\n{}",
        inline[0], inline[1], inline[2], inline[3], inline[4], inline[5]
    );
    let one = format!("admin:{}", hash(HashKind::Apr1, "s3cret"));
    let files = Files::new();
    let d = start(
        &files,
        &[
            entry("a.test", b.addr).set("BASIC_AUTH", &inline),
            entry("p.test", b.addr),
            entry("p.test", b.addr)
                .set("VIRTUAL_PATH", "/admin/")
                .set("BASIC_AUTH", &one),
            entry("~^re[0-9]+\\.test$", b.addr).set("BASIC_AUTH", &one),
            entry("r.test", b.addr)
                .set("BASIC_AUTH", &one)
                .set("BASIC_AUTH_REALM", "Staff only"),
        ],
    )
    .await;

    // No credentials: 401 with nginx-proxy's realm, nothing forwarded.
    let r = get(&d, "a.test", "/").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{r:?}");
    assert_eq!(
        header(&r, "www-authenticate"),
        r#"Basic realm="Restricted a.test""#
    );
    assert_eq!(b.hits(), 0, "a refused request reached the backend");

    // Every format: the right password passes (curl -u, a real client), a wrong one does not.
    // Failures are throttled per client (10 at once): each format's failures come from a
    // client address of their own.
    for (i, (kind, user, _)) in users.iter().enumerate() {
        let pass = format!("pw-{i}-{kind:?}");
        let creds = format!("{user}:{pass}");
        let ok = curl_get(&d, "a.test", "/", &["-u", &creds]);
        assert_eq!(ok.status, 200, "{kind:?}: right password refused");
        let from = IpAddr::from([127, 0, 1, i as u8 + 1]);
        let wrong = basic(user, "nope");
        let wrong = get_from(&d, from, "a.test", "/", &[("authorization", &wrong)]).await;
        assert_eq!(
            wrong.status,
            StatusCode::UNAUTHORIZED,
            "{kind:?}: wrong password not refused"
        );
        // A user's password does not open another user's entry.
        let other = &users[(i + 1) % users.len()].1;
        let swapped = basic(other, &pass);
        let swapped = get_from(&d, from, "a.test", "/", &[("authorization", &swapped)]).await;
        assert_eq!(swapped.status, StatusCode::UNAUTHORIZED, "{kind:?} swapped");
    }

    // Malformed credentials are a 401, never a 400 or a 500; the scheme is case-insensitive.
    for (i, bad) in [
        "Basic !!!not-base64",
        "Basic dXNlcjA=",
        "Bearer abc",
        "Basic",
    ]
    .iter()
    .enumerate()
    {
        let from = IpAddr::from([127, 0, 2, i as u8 + 1]);
        let r = get_from(&d, from, "a.test", "/", &[("authorization", bad)]).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "Authorization: {bad}");
    }
    let (kind, user, _) = &users[0];
    let lower = basic(user, &format!("pw-0-{kind:?}")).replacen("Basic", "basic", 1);
    let r = get_with(&d, "a.test", "/", &[("authorization", &lower)]).await;
    assert_eq!(r.status, StatusCode::OK, "lower-case `basic` scheme");

    // Per path: `/admin/` asks, `/` does not; the realm names the path.
    assert_eq!(get(&d, "p.test", "/").await.status, StatusCode::OK);
    let r = get(&d, "p.test", "/admin/x").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        header(&r, "www-authenticate"),
        r#"Basic realm="Restricted p.test/admin/""#
    );
    let r = get_with(
        &d,
        "p.test",
        "/admin/x",
        &[("authorization", &basic("admin", "s3cret"))],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["uri"], "/admin/x");

    // A regex host: nginx-proxy's `Restricted access` (the host name is not known in advance).
    let deadline = Instant::now() + WAIT;
    let r = loop {
        let r = get(&d, "re42.test", "/").await;
        if r.status != StatusCode::SERVICE_UNAVAILABLE || Instant::now() > deadline {
            break r;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{r:?}");
    assert_eq!(
        header(&r, "www-authenticate"),
        r#"Basic realm="Restricted access""#
    );

    // BASIC_AUTH_REALM replaces the realm.
    let r = get(&d, "r.test", "/").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        header(&r, "www-authenticate"),
        r#"Basic realm="Staff only""#
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_auth_failures_are_throttled_per_client() {
    let b = TestBackend::start("web").await;
    let value = format!("carol:{}", hash(HashKind::Sha512Crypt, "carol-pw"));
    let files = Files::new();
    let d = start(
        &files,
        &[entry("bf.test", b.addr).set("BASIC_AUTH", &value)],
    )
    .await;
    let guesser = IpAddr::from([127, 0, 0, 3]);
    let right = basic("carol", "carol-pw");
    let mut codes = Vec::new();
    for n in 0..30 {
        let guess = basic("carol", &format!("guess-{n}"));
        let r = get_from(&d, guesser, "bf.test", "/", &[("authorization", &guess)]).await;
        codes.push(r.status.as_u16());
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            let retry: u64 = header(&r, "retry-after")
                .parse()
                .unwrap_or_else(|_| panic!("429 without a numeric Retry-After: {r:?}"));
            assert!(retry >= 1, "Retry-After {retry}");
            break;
        }
    }
    assert_eq!(codes.last(), Some(&429), "never throttled: {codes:?}");
    assert!(codes.len() > 3, "throttled too early: {codes:?}");
    // Over the limit, even the right password waits; another client is not affected.
    let r = get_from(&d, guesser, "bf.test", "/", &[("authorization", &right)]).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    let r = get_with(&d, "bf.test", "/", &[("authorization", &right)]).await;
    assert_eq!(r.status, StatusCode::OK);
}

/// docs/configuration.md: "A plain-text password rejects the container": the entry is not
/// routed at all (never served without its protection), and the reason names the setting and
/// the user, never the password.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_auth_with_a_plain_text_password_is_not_served_and_not_logged() {
    let b = TestBackend::start("web").await;
    common::logs::capture();
    let value = format!(
        "alice:{}, bob:plainsecret",
        hash(HashKind::Apr1, "alice-pw")
    );
    let files = Files::new();
    let d = start(&files, &[entry("fine.test", b.addr)]).await;
    files.write(
        "routes.toml",
        &routes_toml(&[
            entry("fine.test", b.addr),
            entry("pt.test", b.addr).set("BASIC_AUTH", &value),
        ]),
    );
    // Said in the log once the edit is read, naming the setting and the user.
    let line = common::logs::wait_line(&["BASIC_AUTH", "bob"], WAIT).await;
    assert!(line.contains("pt.test"), "{line}");
    for (user, pass) in [("alice", "alice-pw"), ("bob", "plainsecret")] {
        let r = get_with(&d, "pt.test", "/", &[("authorization", &basic(user, pass))]).await;
        assert_eq!(
            r.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{user}: a site with a plain-text password must not be served"
        );
    }
    assert_eq!(b.hits(), 0);
    assert!(
        !common::logs::text().contains("plainsecret"),
        "the log shows a password:\n{}",
        common::logs::text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ip_allow_deny_and_internal_from_loopback() {
    let b = TestBackend::start("web").await;
    let files = Files::new();
    let entries = [
        entry("deny.test", b.addr).set("IP_DENY", "127.0.0.1"),
        entry("allow.test", b.addr).set("IP_ALLOW", "127.0.0.0/8"),
        entry("elsewhere.test", b.addr).set("IP_ALLOW", "10.0.0.0/8, 192.168.0.0/16"),
        entry("internal.test", b.addr).set("NETWORK_ACCESS", "internal"),
        entry("v6only.test", b.addr).set("IP_ALLOW", "::1"),
        // IP_DENY is checked before IP_ALLOW.
        entry("both.test", b.addr)
            .set("IP_ALLOW", "127.0.0.0/8")
            .set("IP_DENY", "127.0.0.1"),
    ];
    let d = start_with(&files, &entries, |c| c.trust_downstream_proxy = false).await;
    let from = |ip: [u8; 4]| IpAddr::from(ip);
    let status = |r: common::Reply| r.status.as_u16();
    assert_eq!(status(get(&d, "deny.test", "/").await), 403);
    assert_eq!(
        status(get_from(&d, from(OTHER_LOCAL), "deny.test", "/", &[]).await),
        200,
        "IP_DENY=127.0.0.1 denies that address only"
    );
    assert_eq!(status(get(&d, "allow.test", "/").await), 200);
    assert_eq!(status(get(&d, "elsewhere.test", "/").await), 403);
    assert_eq!(status(get(&d, "internal.test", "/").await), 200);
    assert_eq!(
        status(get(&d, "v6only.test", "/").await),
        403,
        "127.0.0.1 is not ::1"
    );
    assert_eq!(status(get(&d, "both.test", "/").await), 403);
    assert_eq!(
        status(get_from(&d, from(OTHER_LOCAL), "both.test", "/", &[]).await),
        200
    );
    // curl, as a user would see it.
    assert_eq!(curl_get(&d, "deny.test", "/", &[]).status, 403);
    // A forged X-Forwarded-For from an untrusted client changes nothing.
    for (host, want) in [("deny.test", 403), ("elsewhere.test", 403)] {
        let r = get_with(&d, host, "/", &[("x-forwarded-for", "10.1.2.3")]).await;
        assert_eq!(status(r), want, "{host} with a forged X-Forwarded-For");
    }
    assert_eq!(b.hits(), 4, "only the allowed requests reach the backend");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_and_response_headers_on_success_and_errors() {
    let echo = TestBackend::start("echo").await;
    let content = ContentBackend::start().await;
    let files = Files::new();
    let d = start(
        &files,
        &[
            // The two-character `\n` separates lines as well as a newline does.
            entry("rq.test", echo.addr).set(
                "REQUEST_HEADERS",
                "X-Tenant: blue\\nUser-Agent:\nX-Forwarded-Proto: ftp",
            ),
            entry("rs.test", content.addr).set(
                "RESPONSE_HEADERS",
                "X-Frame-Options: DENY\nServer:\nX-Powered-By:",
            ),
            entry("rs.test", echo.addr)
                .set("VIRTUAL_PATH", "/locked/")
                .set("BASIC_AUTH", &format!("u:{}", hash(HashKind::Sha1, "pw")))
                .set("RESPONSE_HEADERS", "X-Frame-Options: SAMEORIGIN"),
            entry("rd.test", echo.addr)
                .set("IP_DENY", "127.0.0.1")
                .set("RESPONSE_HEADERS", "X-Policy: denied-here"),
        ],
    )
    .await;

    let r = get_with(&d, "rq.test", "/", &[("user-agent", "test-agent/1")]).await;
    assert_eq!(r.status, StatusCode::OK);
    let seen = &r.json()["headers"];
    assert_eq!(seen["x-tenant"], "blue", "{seen}");
    assert!(
        seen.get("user-agent").is_none(),
        "User-Agent: not removed: {seen}"
    );
    assert_eq!(
        seen["x-forwarded-proto"], "ftp",
        "set replaces dockside's own: {seen}"
    );

    // On success: set and removed.
    let r = curl_get(&d, "rs.test", "/headers", &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-frame-options"), Some("DENY"));
    assert_eq!(r.header("x-powered-by"), None);
    assert_eq!(r.header("server"), None, "Server: removes the header");
    // On the backend's error answer too.
    let r = curl_get(&d, "rs.test", "/nothing-here", &[]);
    assert_eq!(r.status, 404);
    assert_eq!(r.header("x-frame-options"), Some("DENY"));
    // On dockside's own answers: a 401 of the location, and a 403.
    let r = curl_get(&d, "rs.test", "/locked/", &[]);
    assert_eq!(r.status, 401);
    assert_eq!(r.header("x-frame-options"), Some("SAMEORIGIN"), "{r:?}");
    let r = curl_get(&d, "rd.test", "/", &[]);
    assert_eq!(r.status, 403);
    assert_eq!(r.header("x-policy"), Some("denied-here"), "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn return_and_redirect_to_host_answer_without_the_backend() {
    let b = TestBackend::start("web").await;
    let files = Files::new();
    let d = start(
        &files,
        &[
            entry("tea.test", b.addr).set("RETURN", "418 short and stout"),
            entry("bare.test", b.addr).set("RETURN", "418"),
            entry("moved.test", b.addr).set("RETURN", "301 https://example.com$request_uri"),
            entry("w.test", b.addr).set("REDIRECT_TO_HOST", "www.w.test"),
            entry("www.w.test", b.addr),
        ],
    )
    .await;
    let r = get(&d, "tea.test", "/pot").await;
    assert_eq!(r.status.as_u16(), 418);
    assert!(r.body.contains("short and stout"), "{r:?}");
    assert_eq!(get(&d, "bare.test", "/").await.status.as_u16(), 418);
    let r = get(&d, "moved.test", "/a/b?c=d").await;
    assert_eq!(r.status, StatusCode::MOVED_PERMANENTLY);
    assert_eq!(header(&r, "location"), "https://example.com/a/b?c=d");
    let r = curl_get(&d, "w.test", "/x/y?q=1&r=%20", &[]);
    assert_eq!(r.status, 301);
    assert_eq!(
        r.header("location"),
        Some("http://www.w.test/x/y?q=1&r=%20")
    );
    assert_eq!(b.hits(), 0, "fixed answers never reach the backend");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_timeout_applies_to_its_location_only() {
    let b = TestBackend::start("slow").await;
    let files = Files::new();
    let d = start(
        &files,
        &[
            entry("s.test", b.addr),
            entry("s.test", b.addr)
                .set("VIRTUAL_PATH", "/strict/")
                .set("VIRTUAL_DEST", "/")
                .set("PROXY_READ_TIMEOUT", "500ms"),
        ],
    )
    .await;
    let started = Instant::now();
    let r = get(&d, "s.test", "/strict/sleep/3000").await;
    assert_eq!(r.status, StatusCode::GATEWAY_TIMEOUT, "{r:?}");
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "504 came after {:?}: the 500ms timeout did not apply",
        started.elapsed()
    );
    assert_eq!(
        get(&d, "s.test", "/strict/sleep/10").await.status,
        StatusCode::OK
    );
    let r = get(&d, "s.test", "/sleep/1200").await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "the other location keeps the default"
    );
}

/// The codings curl can decode, checked once: the compression tests need all three.
fn require_curl_codings() {
    require_tool("curl", "curl");
    let v = common::curl(&["-V"]);
    let v = String::from_utf8_lossy(&v.stdout);
    let features = v.lines().find(|l| l.starts_with("Features:")).unwrap_or("");
    for f in ["libz", "brotli", "zstd"] {
        assert!(
            features.split_whitespace().any(|x| x == f),
            "curl lacks {f} decoding ({features}): install a curl built with it (Debian 12's curl has all three)"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compression_is_negotiated_and_decoded_by_curl() {
    require_curl_codings();
    let content = ContentBackend::start().await;
    let files = Files::new();
    let d = start(
        &files,
        &[
            entry("z.test", content.addr)
                .set("COMPRESSION", "on")
                .set("COMPRESSION_MIN_LENGTH", "1000"),
            entry("zg.test", content.addr).set("COMPRESSION", "gzip"),
            entry("zj.test", content.addr)
                .set("COMPRESSION", "on")
                .set("COMPRESSION_TYPES", "application/json")
                .set("COMPRESSION_LEVEL", "1"),
            entry("zoff.test", content.addr).set("COMPRESSION", "off"),
        ],
    )
    .await;
    const N: usize = 64 * 1024;
    let raw = compressible(N);
    let path = format!("/body/html/{N}");

    for coding in ["gzip", "br", "zstd"] {
        let accept = format!("Accept-Encoding: {coding}");
        let r = curl_get(&d, "z.test", &path, &["--compressed", "-H", &accept]);
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-encoding"), Some(coding), "{r:?}");
        assert!(
            r.headers_named("vary")
                .iter()
                .any(|v| v.to_ascii_lowercase().contains("accept-encoding")),
            "{coding}: no Vary: Accept-Encoding: {:?}",
            r.headers
        );
        if let Some(len) = r.header("content-length") {
            assert_eq!(
                len,
                r.wire_bytes.to_string(),
                "{coding}: Content-Length is not the encoded length"
            );
        }
        assert!(r.body == raw, "{coding}: decoded body differs");
        assert!(
            (r.wire_bytes as usize) < N / 4,
            "{coding}: {} bytes on the wire for {N}",
            r.wire_bytes
        );
    }

    // q-values decide; q=0 refuses a coding; identity only gets the body as it is.
    for (accept, want) in [
        ("gzip;q=0.5, br;q=0.9, zstd;q=0.1", Some("br")),
        ("br;q=0, zstd;q=0, gzip", Some("gzip")),
        ("zstd, gzip;q=0.2", Some("zstd")),
        ("identity", None),
        ("*;q=0, identity", None),
    ] {
        let h = format!("Accept-Encoding: {accept}");
        let r = curl_get(&d, "z.test", &path, &["--compressed", "-H", &h]);
        assert_eq!(r.status, 200);
        assert_eq!(
            r.header("content-encoding"),
            want,
            "Accept-Encoding: {accept}"
        );
        assert!(r.body == raw, "Accept-Encoding: {accept}: body differs");
    }

    // The hyper client sends no Accept-Encoding: the body comes as it is.
    let r = get(&d, "z.test", &path).await;
    assert_eq!(header(&r, "content-encoding"), "");
    assert_eq!(r.body.as_bytes(), &raw[..]);

    let all = ["--compressed", "-H", "Accept-Encoding: zstd, br, gzip"];
    // The backend's own Vary is kept beside Accept-Encoding.
    let r = curl_get(&d, "z.test", "/vary/5000", &all);
    assert_eq!(r.header("content-encoding"), Some("zstd"));
    let vary = r.headers_named("vary").join(",").to_ascii_lowercase();
    assert!(
        vary.contains("origin") && vary.contains("accept-encoding"),
        "Vary: {vary}"
    );
    // Too small to be worth it.
    let r = curl_get(&d, "z.test", "/body/html/600", &all);
    assert_eq!(
        r.header("content-encoding"),
        None,
        "600 bytes < COMPRESSION_MIN_LENGTH"
    );
    assert_eq!(r.body, compressible(600));
    // Images are not compressed.
    let r = curl_get(&d, "z.test", &format!("/body/png/{N}"), &all);
    assert_eq!(r.header("content-encoding"), None, "image/png compressed");
    assert_eq!(r.wire_bytes as usize, N);
    // A body the backend already encoded is passed on as it is, never encoded twice.
    let r = curl_get(
        &d,
        "z.test",
        "/pregz",
        &["-H", "Accept-Encoding: zstd, br, gzip"],
    );
    assert_eq!(r.headers_named("content-encoding"), vec!["gzip"], "{r:?}");
    assert!(r.body == PRE_GZ, "the backend's gzip body was changed");

    // COMPRESSION=gzip offers gzip only.
    let r = curl_get(
        &d,
        "zg.test",
        &path,
        &[
            "--compressed",
            "-H",
            "Accept-Encoding: zstd, br, gzip;q=0.1",
        ],
    );
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert!(r.body == raw);
    let r = curl_get(
        &d,
        "zg.test",
        &path,
        &["--compressed", "-H", "Accept-Encoding: br"],
    );
    assert_eq!(r.header("content-encoding"), None);
    // COMPRESSION_TYPES: JSON is compressed, images still not.
    let r = curl_get(&d, "zj.test", &format!("/body/json/{N}"), &all);
    assert!(
        r.header("content-encoding").is_some(),
        "json not compressed: {r:?}"
    );
    assert!(r.body == raw);
    let r = curl_get(&d, "zj.test", &format!("/body/png/{N}"), &all);
    assert_eq!(r.header("content-encoding"), None);
    // Off is off.
    let r = curl_get(&d, "zoff.test", &path, &all);
    assert_eq!(r.header("content-encoding"), None);
    assert_eq!(r.wire_bytes as usize, N);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compression_streams_first_bytes_before_the_backend_finishes() {
    require_curl_codings();
    let content = ContentBackend::start().await;
    let files = Files::new();
    let d = start(
        &files,
        &[entry("zs.test", content.addr).set("COMPRESSION", "on")],
    )
    .await;
    for coding in ["gzip", "br", "zstd"] {
        let dir = tempfile::tempdir().unwrap();
        let head = dir.path().join("head");
        let mut child = tokio::process::Command::new("curl")
            .args(["-sS", "-N", "--max-time", "20", "--compressed"])
            .args([
                "-H",
                "Host: zs.test",
                "-H",
                &format!("Accept-Encoding: {coding}"),
            ])
            .arg("-D")
            .arg(&head)
            .arg(d.url("/stream"))
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("curl runs");
        let mut out = child.stdout.take().unwrap();
        let mut seen = Vec::new();
        // The backend holds its last chunk until released: the first one must arrive,
        // compressed and decodable, while it waits.
        let first = tokio::time::timeout(WAIT, async {
            let mut buf = [0u8; 8192];
            while !String::from_utf8_lossy(&seen).contains(FIRST_CHUNK_MARK) {
                let n = out.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                seen.extend_from_slice(&buf[..n]);
            }
        })
        .await;
        content.release();
        assert!(
            first.is_ok() && String::from_utf8_lossy(&seen).contains(FIRST_CHUNK_MARK),
            "{coding}: no decoded bytes within {WAIT:?} while the backend waited ({} bytes)",
            seen.len()
        );
        tokio::time::timeout(WAIT, out.read_to_end(&mut seen))
            .await
            .expect("rest within WAIT")
            .unwrap();
        let status = child.wait().await.unwrap();
        assert!(
            status.success(),
            "{coding}: curl failed to decode: {status}"
        );
        let text = String::from_utf8_lossy(&seen);
        assert!(
            text.ends_with(&format!("{LAST_CHUNK_MARK}\n")),
            "{coding}: {text:?}"
        );
        let head = std::fs::read_to_string(&head).unwrap().to_ascii_lowercase();
        assert!(
            head.contains(&format!("content-encoding: {coding}")),
            "{coding}: {head}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_answers_429_after_the_burst_then_recovers() {
    let b = TestBackend::start("web").await;
    let files = Files::new();
    let d = start(
        &files,
        &[
            entry("rl.test", b.addr).set("RATE_LIMIT", "5r/s burst=2"),
            entry("free.test", b.addr),
        ],
    )
    .await;
    // nodelay: the request and its burst of 2 are served at once.
    for i in 0..3 {
        assert_eq!(
            get(&d, "rl.test", "/").await.status,
            StatusCode::OK,
            "request {i}"
        );
    }
    let mut refused = None;
    for _ in 0..30 {
        let r = get(&d, "rl.test", "/").await;
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            refused = Some(r);
            break;
        }
    }
    let refused = refused.expect("no 429 in 30 quick requests over a 5r/s burst=2 limit");
    let retry: u64 = header(&refused, "retry-after")
        .parse()
        .unwrap_or_else(|_| panic!("429 without a numeric Retry-After: {refused:?}"));
    assert!(retry <= 60, "Retry-After {retry}");
    // Another client and another site are not limited by this client's use.
    let other = get_from(&d, IpAddr::from(OTHER_LOCAL), "rl.test", "/", &[]).await;
    assert_eq!(
        other.status,
        StatusCode::OK,
        "the limit is per client address"
    );
    assert_eq!(get(&d, "free.test", "/").await.status, StatusCode::OK);
    // Time refills the bucket: 200 again (5r/s: a slot every 200 ms).
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let r = get_from(&d, IpAddr::from(LOCAL), "rl.test", "/", &[]).await;
        if r.status == StatusCode::OK {
            break;
        }
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
        assert!(Instant::now() < deadline, "still 429 after 3 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_limit_setting_answers_413() {
    let b = TestBackend::start("web").await;
    let files = Files::new();
    let d = start(
        &files,
        &[entry("up.test", b.addr).set("CLIENT_MAX_BODY_SIZE", "1k")],
    )
    .await;
    let post = |n: usize| {
        send(
            &d,
            Request::post(d.url("/upload")).header("host", "up.test"),
            full_body(vec![b'x'; n]),
        )
    };
    assert_eq!(post(1000).await.status, StatusCode::OK);
    assert_eq!(post(2000).await.status, StatusCode::PAYLOAD_TOO_LARGE);
    let r = send(
        &d,
        Request::get(d.url("/")).header("host", "up.test"),
        empty_body(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
}

/// A backend whose SYNs go unanswered: a listener with a backlog of 1 that never accepts,
/// its queue filled, so Linux drops further SYNs and `connect` hangs.
async fn unanswering_backend() -> (tokio::net::TcpListener, Vec<tokio::net::TcpStream>) {
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = sock.listen(1).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut fillers = Vec::new();
    for _ in 0..8 {
        match tokio::time::timeout(
            Duration::from_millis(200),
            tokio::net::TcpStream::connect(addr),
        )
        .await
        {
            Ok(Ok(s)) => fillers.push(s),
            _ => break,
        }
    }
    let probe = tokio::time::timeout(
        Duration::from_millis(300),
        tokio::net::TcpStream::connect(addr),
    )
    .await;
    assert!(
        probe.is_err(),
        "could not make a backend that leaves connects hanging (queue of {} filled)",
        fillers.len()
    );
    (listener, fillers)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_timeout_applies_to_its_location() {
    let (listener, _fillers) = unanswering_backend().await;
    let files = Files::new();
    let d = start(
        &files,
        &[entry("ct.test", listener.local_addr().unwrap()).set("PROXY_CONNECT_TIMEOUT", "300ms")],
    )
    .await;
    let started = Instant::now();
    let r = get(&d, "ct.test", "/").await;
    let took = started.elapsed();
    assert!(
        matches!(r.status.as_u16(), 502 | 504),
        "a connect timeout answers 502/504: {r:?}"
    );
    assert!(
        took < Duration::from_secs(2),
        "answered after {took:?}: PROXY_CONNECT_TIMEOUT=300ms did not apply (default 5 s)"
    );
}

/// `PROXY_SEND_TIMEOUT`: a backend that accepts the request and then stops reading its body
/// (nginx's `proxy_send_timeout`, the time between two writes) gets the client a 504 after the
/// send timeout, not after the 60 s read timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_timeout_applies_when_the_backend_stops_reading() {
    require_tool("curl", "curl");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // Accepts and holds every connection without reading a byte.
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    let files = Files::new();
    let d = start(
        &files,
        &[entry("st.test", addr)
            .set("PROXY_SEND_TIMEOUT", "1s")
            .set("PROXY_READ_TIMEOUT", "60s")],
    )
    .await;
    // More than the kernel buffers on both sides can hold, so the upload really stalls.
    let upload = files.path().join("upload.bin");
    std::fs::write(&upload, vec![0u8; 64 << 20]).unwrap();
    let url = format!("http://{}/", d.addr);
    let at = format!("@{}", upload.display());
    let started = Instant::now();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("curl")
            .args([
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "--max-time",
                "30",
            ])
            .args(["-H", "Host: st.test", "--data-binary", &at, &url])
            .stdin(Stdio::null())
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let took = started.elapsed();
    let code = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(code, "504", "curl: {out:?}");
    assert!(
        took < Duration::from_secs(20),
        "answered after {took:?}: PROXY_SEND_TIMEOUT=1s did not apply (read timeout 60 s)"
    );
    holder.abort();
}
