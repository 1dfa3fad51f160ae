//! Faults and churn (issue 20): what keeps serving, and what dockside says, when the things
//! around it change or fail — a thousand route changes under wrk, the Docker engine going away
//! and coming back, a CA answering 5xx or 429, a full or read-only certificate directory, and
//! SIGTERM while clients are uploading. The dockside binary is the subject where a process
//! matters (signals, the engine, churn); `app::start` where the test needs the admin view next
//! to a Pebble it controls.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::docker::*;
use common::faults::{Bin, Wrk, reply_of, status_of, until_status};
use common::{TestBackend, WAIT};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// What dockside answers for a host it does not route (no `DEFAULT_HOST`): nginx-proxy's 503.
const UNROUTED: u16 = 503;

/// Writes a routes file the way editors do (a new file renamed over the old).
fn write_routes(path: &Path, sites: &[(&str, SocketAddr)]) {
    let mut text = String::new();
    for (host, addr) in sites {
        text.push_str(&format!(
            "[[site]]\nVIRTUAL_HOST = \"{host}\"\nbackends = [\"{addr}\"]\n\n"
        ));
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// The JSON a test backend echoed: which backend answered.
fn backend_of(body: &str) -> String {
    let json: serde_json::Value =
        serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body:?}"));
    json["backend"].as_str().unwrap_or_default().to_owned()
}

const FILE_CHANGES: usize = 900;
/// Container lanes run side by side (one lane takes ~4 s per start under wrk's load);
/// in each, every start after the first also removes the one before: 4 × (13 + 12) = 100
/// container changes.
const LANES: usize = 4;
const STARTS_PER_LANE: usize = 13;
const STABLE_A: &str = "stable-a.churn.test";
const STABLE_B: &str = "stable-b.churn.test";

fn dock_host(lane: usize, i: usize) -> String {
    format!("dock{lane}-{i}.churn.test")
}

/// One lane of container churn: start a container, wait until its host routes, remove the
/// one before and wait until its host is gone. Returns the last container and its host.
async fn container_lane(
    http: SocketAddr,
    scope: &Scope,
    net: &Network,
    lane: usize,
) -> (Container, String) {
    let mut previous: Option<(Container, String)> = None;
    for i in 0..STARTS_PER_LANE {
        let host = dock_host(lane, i);
        let vhost = format!("VIRTUAL_HOST={host}");
        let args = ["--network", net.name.as_str(), "-e", vhost.as_str()];
        let c = Container::run(&format!("c{lane}-{i}"), scope, &args).await;
        until_status(http, &host, 200, WAIT).await;
        if let Some((old, old_host)) = previous.take() {
            docker(&["rm", "-f", &old.name]).await;
            until_status(http, &old_host, UNROUTED, WAIT).await;
        }
        previous = Some((c, host));
    }
    previous.expect("a container runs")
}

/// 900 routes-file rewrites and 100 container starts/removals, each awaited until it is live,
/// while wrk loads two hosts none of them touch: wrk counts zero non-2xx and zero socket
/// errors, and afterwards every host routes as the last change left it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_route_changes_under_wrk_fail_no_request_on_stable_hosts() {
    ensure_image();
    let started = Instant::now();
    let scope = Scope::new();
    let net = Network::create("churn").await;
    let (a, b, fresh) = (
        TestBackend::start("stable-a").await,
        TestBackend::start("stable-b").await,
        TestBackend::start("fresh").await,
    );
    let dir = tempfile::tempdir().unwrap();
    let routes = dir.path().join("routes.toml");
    let file_host = |i: usize| format!("file{i}.churn.test");
    let write = |i: usize| {
        let host = file_host(i);
        let sites = [(STABLE_A, a.addr), (STABLE_B, b.addr), (&*host, fresh.addr)];
        write_routes(&routes, &sites);
    };
    write(0);
    let bin = Bin::spawn(
        &[
            "--routes",
            routes.to_str().unwrap(),
            "--docker-host",
            &format!("unix://{ENGINE_SOCKET}"),
        ],
        &[("DOCKER_CONTAINER_FILTERS", &scope.env_filters())],
    );
    let http = bin.http;
    until_status(http, STABLE_A, 200, WAIT).await;
    until_status(http, STABLE_B, 200, WAIT).await;
    let wrk = [
        Wrk::start(http, STABLE_A, 2, Duration::from_secs(300)),
        Wrk::start(http, STABLE_B, 2, Duration::from_secs(300)),
    ];

    let files = async {
        for i in 1..=FILE_CHANGES {
            write(i);
            until_status(http, &file_host(i), 200, WAIT).await;
        }
        eprintln!("{FILE_CHANGES} file changes took {:?}", started.elapsed());
    };
    let lanes = (0..LANES).map(|lane| container_lane(http, &scope, &net, lane));
    let (lasts, ()) = tokio::join!(futures_util::future::join_all(lanes), files);
    eprintln!(
        "{} container changes done",
        LANES * (2 * STARTS_PER_LANE - 1)
    );
    let churned = started.elapsed();
    let [wa, wb] = wrk;
    let (sa, sb) = (wa.stop().await, wb.stop().await);
    eprintln!("churn took {churned:?}; wrk {STABLE_A}: {sa:?}; {STABLE_B}: {sb:?}");
    for (host, s) in [(STABLE_A, sa), (STABLE_B, sb)] {
        assert!(s.requests > 1000, "{host}: the load ran: {s:?}");
        assert_eq!(
            (s.non_2xx, s.socket_errors),
            (0, 0),
            "{host}: requests failed during the churn: {s:?}"
        );
    }

    // The final state is the last change's: the stable hosts, the last file host, the last
    // container; nothing else.
    for (host, want) in [(STABLE_A, "stable-a"), (STABLE_B, "stable-b")] {
        let (status, body) = reply_of(http, host).await.unwrap();
        assert_eq!(
            (status, backend_of(&body)),
            (200, want.to_owned()),
            "{host}"
        );
    }
    let (status, body) = reply_of(http, &file_host(FILE_CHANGES)).await.unwrap();
    assert_eq!((status, backend_of(&body)), (200, "fresh".to_owned()));
    for (last, last_host) in &lasts {
        let (status, body) = reply_of(http, last_host).await.unwrap();
        assert_eq!(status, 200, "{last_host}: {body}");
        assert_eq!(
            body.trim(),
            last.page().await,
            "{last_host} is its lane's last"
        );
    }
    for i in 0..FILE_CHANGES {
        assert_eq!(
            status_of(http, &file_host(i)).await,
            UNROUTED,
            "{}",
            file_host(i)
        );
    }
    for lane in 0..LANES {
        for i in 0..STARTS_PER_LANE - 1 {
            let host = dock_host(lane, i);
            assert_eq!(status_of(http, &host).await, UNROUTED, "{host}");
        }
    }
    eprintln!("churn test total {:?}", started.elapsed());
}

/// The admin API's `docker` object (`GET /api/v1/docker`), or the error.
async fn docker_state(admin: SocketAddr) -> Result<serde_json::Value, String> {
    let (status, body) = common::faults::get(admin, None, "/api/v1/docker").await?;
    if status != 200 {
        return Err(format!("{status}: {body}"));
    }
    serde_json::from_str(&body).map_err(|e| e.to_string())
}

/// The engine's socket goes away (a relay the test stops: the real daemon cannot be restarted
/// in a shared suite) while a container is served under load: serving goes on from the last
/// snapshot, the admin API says the engine is lost, a container started meanwhile is not
/// routed yet; when the socket is back the state resyncs and the new container is routed.
/// (`tests/docker_connection.rs` checks the provider's items alone; this is the whole binary.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_lost_keeps_serving_and_resyncs_a_container_started_meanwhile() {
    ensure_image();
    let scope = Scope::new();
    let net = Network::create("lost").await;
    let mut relay = Relay::start();
    let env = |host: &str| format!("VIRTUAL_HOST={host}");
    let (old_env, new_env) = (env("old.lost.test"), env("new.lost.test"));
    let old = Container::run(
        "old",
        &scope,
        &["--network", net.name.as_str(), "-e", old_env.as_str()],
    )
    .await;
    let admin = SocketAddr::from(([127, 0, 0, 1], common::pebble::free_port()));
    let bin = Bin::spawn(
        &[
            "--docker-host",
            &format!("unix://{}", relay.path.display()),
            "--admin",
            &admin.to_string(),
        ],
        &[("DOCKER_CONTAINER_FILTERS", &scope.env_filters())],
    );
    until_status(bin.http, "old.lost.test", 200, WAIT).await;
    let load = common::load::Load::start(2, format!("http://{}/", bin.http), "old.lost.test");

    relay.stop();
    let new = Container::run(
        "new",
        &scope,
        &["--network", net.name.as_str(), "-e", new_env.as_str()],
    )
    .await;
    let deadline = Instant::now() + WAIT;
    let lost = loop {
        match docker_state(admin).await {
            Ok(d) if d["connected"] == false && d["last_error"].is_string() => break d,
            last => assert!(
                Instant::now() < deadline,
                "engine loss not reported: {last:?}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(
        status_of(bin.http, "new.lost.test").await,
        UNROUTED,
        "routed without the engine? {lost}"
    );
    until_status(bin.http, "old.lost.test", 200, WAIT).await;

    relay.resume();
    until_status(bin.http, "new.lost.test", 200, WAIT).await;
    let (_, body) = reply_of(bin.http, "new.lost.test").await.unwrap();
    assert_eq!(body.trim(), new.page().await);
    let counts = load.stop().await;
    assert!(counts.ok > 50, "the load ran: {counts:?}");
    assert_eq!(
        counts.failed, 0,
        "requests failed while the engine was away: {counts:?}"
    );
    // Events flow again: a stop after the reconnect unroutes.
    old.stop().await;
    until_status(bin.http, "old.lost.test", UNROUTED, WAIT).await;
    let back = docker_state(admin).await.unwrap();
    assert_eq!(back["connected"], true, "{back}");
}

const UPLOADERS: usize = 4;
const UPLOAD: usize = 2 * 1024 * 1024;
const CHUNK: usize = 64 * 1024;
const PACE: Duration = Duration::from_millis(60);
const DRAIN: u64 = 10;

/// One slow upload on its own connection: the head, then `UPLOAD` bytes in paced chunks;
/// `started` is told after the first chunk. Returns the status and what the backend counted.
async fn slow_upload(
    http: SocketAddr,
    started: tokio::sync::mpsc::Sender<()>,
) -> Result<(u16, u64), String> {
    let mut s = TcpStream::connect(http).await.map_err(|e| e.to_string())?;
    let head = format!(
        "POST /upload HTTP/1.1\r\nHost: upload.drain.test\r\nContent-Length: {UPLOAD}\r\n\r\n"
    );
    s.write_all(head.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let chunk = vec![b'x'; CHUNK];
    for i in 0..UPLOAD / CHUNK {
        s.write_all(&chunk)
            .await
            .map_err(|e| format!("chunk {i}: {e}"))?;
        if i == 0 {
            let _ = started.send(()).await;
        }
        tokio::time::sleep(PACE).await;
    }
    let head = common::read_head(&mut s).await;
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("no status line: {head:?}"))?;
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .ok_or_else(|| format!("no content-length: {head:?}"))?;
    let mut body = vec![0u8; len];
    tokio::time::timeout(WAIT, s.read_exact(&mut body))
        .await
        .map_err(|_| "body not within WAIT".to_owned())?
        .map_err(|e| e.to_string())?;
    let json: serde_json::Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
    Ok((status, json["received"].as_u64().unwrap_or(0)))
}

/// SIGTERM while four clients upload 2 MiB each slowly (about 2 s apiece): the listener
/// closes at once (new connections refused while the uploads still run), every upload
/// completes with 200 and all its bytes at the backend, and the process exits 0 within
/// `DOCKSIDE_DRAIN_TIMEOUT`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_slow_uploads_completes_them_and_refuses_new_connections() {
    let sink = TestBackend::start("sink").await;
    let dir = tempfile::tempdir().unwrap();
    let routes = dir.path().join("routes.toml");
    write_routes(&routes, &[("upload.drain.test", sink.addr)]);
    let mut bin = Bin::spawn(
        &["--routes", routes.to_str().unwrap()],
        &[("DOCKSIDE_DRAIN_TIMEOUT", &DRAIN.to_string())],
    );
    let http = bin.http;
    until_status(http, "upload.drain.test", 200, WAIT).await;
    let before = sink.hits();
    let (tx, mut rx) = tokio::sync::mpsc::channel(UPLOADERS);
    let done = Arc::new(AtomicUsize::new(0));
    let uploads: Vec<_> = (0..UPLOADERS)
        .map(|_| {
            let (tx, done) = (tx.clone(), done.clone());
            tokio::spawn(async move {
                let r = slow_upload(http, tx).await;
                done.fetch_add(1, Ordering::SeqCst);
                r
            })
        })
        .collect();
    for _ in 0..UPLOADERS {
        tokio::time::timeout(WAIT, rx.recv())
            .await
            .expect("uploads start");
    }
    // Every upload has reached the backend: dockside accepted and is forwarding each one.
    let deadline = Instant::now() + WAIT;
    while sink.hits() < before + UPLOADERS {
        assert!(
            Instant::now() < deadline,
            "uploads never reached the backend"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    let signalled = Instant::now();
    bin.signal("TERM");
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        match TcpStream::connect(http).await {
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => break,
            other => assert!(
                Instant::now() < deadline,
                "still accepting 2 s after SIGTERM: {other:?}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(
        done.load(Ordering::SeqCst),
        0,
        "the uploads had ended before the listener closed: nothing was in flight"
    );
    for upload in uploads {
        let r = upload.await.unwrap();
        assert_eq!(r, Ok((200, UPLOAD as u64)), "an in-flight upload");
    }
    let status = tokio::task::spawn_blocking(move || bin.wait_exit(Duration::from_secs(DRAIN + 5)))
        .await
        .unwrap();
    let took = signalled.elapsed();
    assert_eq!(status.code(), Some(0), "exit status after the drain");
    assert!(
        took < Duration::from_secs(DRAIN),
        "exited {took:?} after SIGTERM, past DOCKSIDE_DRAIN_TIMEOUT={DRAIN}"
    );
    eprintln!("drained and exited {took:?} after SIGTERM");
}

use common::acme_double::{DirectoryDouble, OrderFault};
use common::pebble::Pebble;
use common::responders::https_get;

/// dockside (`app::start`, admin listener on) ordering from a [`DirectoryDouble`] in front of
/// a real Pebble that validates HTTP-01 on dockside's own listener.
struct CaRig {
    _pebble: Pebble,
    double: DirectoryDouble,
    running: dockside::app::Running,
    /// Pebble's issuing root, what the HTTPS client verifies against.
    root: String,
    admin: SocketAddr,
}

impl CaRig {
    async fn start(certs: &Path) -> CaRig {
        let listen = SocketAddr::from(([127, 0, 0, 1], 0));
        let mut pebble = Pebble::held().await;
        let double = DirectoryDouble::start(&pebble, &[]).await;
        let mut config =
            common::acme::dockside_config(certs, listen, listen, &double.url, &pebble.listener_ca);
        config.admin = Some(listen);
        let running = dockside::app::start(config).await.expect("dockside starts");
        let https = running.https_addr.expect("HTTPS on");
        pebble.set_validation_ports(running.http_addr.port(), https.port());
        pebble.start_ca().await;
        let root = pebble.issuer_root().await;
        let admin = running.admin_addr.expect("admin on");
        CaRig {
            _pebble: pebble,
            double,
            running,
            root,
            admin,
        }
    }

    fn publish(&self, sites: Vec<dockside::model::Site>, certs: &[&str]) {
        self.running.publish(dockside::model::DesiredState {
            sites: sites.into_iter().map(std::sync::Arc::new).collect(),
            certificates: certs
                .iter()
                .map(|h| common::acme::request(&[*h], &[]))
                .collect(),
            ..Default::default()
        });
    }

    /// `host`'s entry in `GET /api/v1/acme` once `pred` holds (panics after 30 s with it).
    async fn acme_until(
        &self,
        host: &str,
        what: &str,
        pred: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (_, body) = common::faults::get(self.admin, None, "/api/v1/acme")
                .await
                .unwrap();
            let view: serde_json::Value = serde_json::from_str(&body).unwrap();
            let entry = view["certificates"]
                .as_array()
                .and_then(|all| all.iter().find(|c| c["name"] == host))
                .cloned()
                .unwrap_or_default();
            if pred(&entry) {
                return entry;
            }
            assert!(Instant::now() < deadline, "{host}: {what}: {view:#}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// `POST /acme/renew?host=<host>&force=true` on the admin listener, as `dockside renew`.
    async fn renew(&self, host: &str) {
        let req = http::Request::post(format!(
            "http://{}/acme/renew?host={host}&force=true",
            self.admin
        ))
        .header("x-dockside-renew", "1")
        .body(common::empty_body())
        .unwrap();
        let rsp = tokio::time::timeout(WAIT, common::client().request(req))
            .await
            .expect("renew answered")
            .expect("renew request");
        assert_eq!(rsp.status(), 200, "renew {host}");
    }

    /// The leaf dockside serves for `host` over verified HTTPS (panics after 30 s).
    async fn leaf_until(&self, host: &str, pred: impl Fn(&[u8]) -> bool) -> Vec<u8> {
        let https = self.running.https_addr.unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let got = https_get(https, host, "/", &self.root).await;
            if let Ok(r) = &got
                && r.status == 200
                && pred(&r.leaf)
            {
                return r.leaf.to_vec();
            }
            assert!(Instant::now() < deadline, "{host} over HTTPS: {got:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn fault(status: u16, problem: &'static str, detail: &str, retry_after: Option<u64>) -> OrderFault {
    OrderFault {
        status: http::StatusCode::from_u16(status).unwrap(),
        problem,
        detail: detail.to_owned(),
        retry_after,
    }
}

const RATE_LIMITED: &str =
    "too many certificates (5) already issued for this exact set of identifiers";
const DOWN: &str = "The service is down for maintenance";
const BAD_GATEWAY_PAGE: &str = "<html><body><h1>502 Bad Gateway</h1></body></html>";

/// A CA answering newOrder with 429 `rateLimited` (`Retry-After: 7200`), then 503: one
/// attempt each, no retry while the backoff runs (7200 s honoured, more than the 3600 s
/// floor for rate limits; 24–36 s after a 5xx), `/api/v1/acme` carrying the CA's own words
/// (or, when a proxy in front of it answers an HTML 502, that status and page),
/// another host served under load throughout with no failure, and the certificate issued once
/// the CA answers again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ca_answering_429_then_5xx_backs_off_says_why_and_serving_goes_on() {
    let certs = tempfile::tempdir().unwrap();
    let rig = CaRig::start(certs.path()).await;
    let web = TestBackend::start("web").await;
    rig.double
        .fail_orders(Some(fault(429, "rateLimited", RATE_LIMITED, Some(7200))));
    let sites = vec![
        common::site("other.ca.test", &[web.addr]),
        common::site("limited.ca.test", &[web.addr]),
    ];
    rig.publish(sites, &["limited.ca.test"]);
    let http = rig.running.http_addr;
    until_status(http, "other.ca.test", 200, WAIT).await;
    let load = common::load::Load::start(2, format!("http://{http}/"), "other.ca.test");

    let failed = rig
        .acme_until("limited.ca.test", "fails on 429", |c| {
            c["state"] == "failed"
        })
        .await;
    let error = failed["last_error"].as_str().unwrap_or_default();
    assert!(
        error.contains("rateLimited") && error.contains(RATE_LIMITED),
        "the CA's reason: {failed:#}"
    );
    let retry_in = failed["retry_in_seconds"].as_u64().unwrap();
    assert!(
        (7100..=7200).contains(&retry_in),
        "Retry-After: 7200 honoured: {failed:#}"
    );
    // Spaced: no second order while the backoff runs (a window, since absence is the claim).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(rig.double.order_attempts().len(), 1, "one order attempt");
    assert_eq!(
        status_of(http, "limited.ca.test").await,
        200,
        "served over HTTP until it has a certificate"
    );

    rig.double
        .fail_orders(Some(fault(503, "serverInternal", DOWN, None)));
    rig.renew("limited.ca.test").await;
    let failed = rig
        .acme_until("limited.ca.test", "fails on 503", |c| {
            c["last_error"].as_str().is_some_and(|e| e.contains(DOWN))
        })
        .await;
    let retry_in = failed["retry_in_seconds"].as_u64().unwrap();
    assert!(
        (24..=36).contains(&retry_in),
        "30 s ± 20 % after a first 5xx: {failed:#}"
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        rig.double.order_attempts().len(),
        2,
        "one attempt after renew"
    );

    // Not even the CA: a proxy in front of it answers 502 with an HTML page.
    rig.double
        .fail_orders(Some(fault(502, "", BAD_GATEWAY_PAGE, None)));
    rig.renew("limited.ca.test").await;
    let failed = rig
        .acme_until("limited.ca.test", "fails on 502", |c| {
            c["last_error"].as_str().is_some_and(|e| !e.contains(DOWN))
        })
        .await;
    let error = failed["last_error"].as_str().unwrap();
    assert!(
        error.contains("502 Bad Gateway") && error.contains("<h1>502 Bad Gateway</h1>"),
        "the status and the page, not a JSON parser's complaint: {error}"
    );

    rig.double.fail_orders(None);
    rig.renew("limited.ca.test").await;
    rig.leaf_until("limited.ca.test", |_| true).await;
    rig.acme_until("limited.ca.test", "valid", |c| c["state"] == "valid")
        .await;
    let counts = load.stop().await;
    assert!(counts.ok > 50, "the load ran: {counts:?}");
    assert_eq!(
        counts.failed, 0,
        "other.ca.test failed while the CA did: {counts:?}"
    );
}

/// With test-speed backoff (200 ms doubling): five 503s are retried at growing gaps (each at
/// least 0.8 × 200 ms × 2^k), a 503 with `Retry-After: 8` is not retried for 8 s although the
/// exponential delay would be ~3 s, and the next attempt succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ca_5xx_retries_back_off_exponentially_and_honour_retry_after() {
    let h = common::acme::harness(common::pebble::Options::default()).await;
    let double = DirectoryDouble::start(&h.pebble, &[]).await;
    double.fail_orders(Some(fault(503, "serverInternal", DOWN, None)));
    let mut globals = h.globals();
    globals.ca_url = Some(double.url.clone());
    let mut run = h.run_with(
        globals,
        vec![common::acme::request(&["spaced.example.test"], &[])],
        |c| {
            c.backoff = dockside::acme::Backoff {
                initial: Duration::from_millis(200),
                max: Duration::from_secs(10),
            }
        },
    );
    attempts_reach(&double, 5).await;
    double.fail_orders(Some(fault(503, "serverInternal", DOWN, Some(8))));
    attempts_reach(&double, 6).await;
    double.fail_orders(None);
    assert_eq!(
        run.next_issued(Duration::from_secs(30)).await,
        "spaced.example.test"
    );
    let at = double.order_attempts();
    let gaps: Vec<Duration> = at.windows(2).map(|w| w[1] - w[0]).collect();
    eprintln!("gaps between order attempts: {gaps:?}");
    assert_eq!(
        at.len(),
        7,
        "five 503s, one with Retry-After, then success: {gaps:?}"
    );
    for (k, gap) in gaps[..4].iter().enumerate() {
        let floor = Duration::from_millis(200 * (1 << k)).mul_f64(0.8);
        assert!(*gap >= floor, "gap {k} {gap:?} < {floor:?}: {gaps:?}");
    }
    assert!(
        gaps[5] >= Duration::from_millis(7900),
        "Retry-After: 8 not honoured: {gaps:?}"
    );
}

/// Waits (at most 30 s) until the double has seen `n` newOrder requests.
async fn attempts_reach(double: &DirectoryDouble, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while double.order_attempts().len() < n {
        assert!(Instant::now() < deadline, "{n} attempts not within 30 s");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The files under `dir` whose name starts with `.dockside-` (an atomic write's temp file).
fn temp_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if entry.file_type().unwrap().is_dir() {
            out.extend(temp_files(&path));
        } else if entry
            .file_name()
            .to_string_lossy()
            .starts_with(".dockside-")
        {
            out.push(path);
        }
    }
    out
}

/// A renewal into a full certificate directory (a 2 MiB tmpfs, filled), then into a
/// read-only one (remounted `ro`): each fails with an error naming the file and the cause in
/// `/api/v1/acme` and the log, the last good certificate is still served and still on disk
/// as a matching pair, no temp file is left, and the next renewal after space is freed (or
/// the mount is writable again) serves a new certificate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_or_read_only_certificate_directory_keeps_the_last_good_certificate() {
    common::logs::capture();
    let fs = common::faults::Tmpfs::mount("2m");
    let rig = CaRig::start(&fs.path).await;
    let web = TestBackend::start("web").await;
    let host = "full.ca.test";
    rig.publish(vec![common::site(host, &[web.addr])], &[host]);
    let first = rig.leaf_until(host, |_| true).await;
    rig.acme_until(host, "valid", |c| c["state"] == "valid")
        .await;
    let dir = fs.path.join(host);

    let filled = fs.fill();
    rig.renew(host).await;
    let failed = rig
        .acme_until(host, "fails on ENOSPC", |c| {
            c["last_error"]
                .as_str()
                .is_some_and(|e| e.contains("No space left on device"))
        })
        .await;
    let error = failed["last_error"].as_str().unwrap();
    assert!(
        error.contains(&dir.display().to_string()),
        "the error names the file: {error}"
    );
    common::logs::wait_line(&[" WARN ", host, "No space left on device"], WAIT).await;
    assert_eq!(
        rig.leaf_until(host, |_| true).await,
        first,
        "last good served"
    );
    let on_disk = common::responders::verify_served(&fs.path, host, &rig.root).await;
    assert_eq!(
        on_disk.to_vec(),
        first,
        "the pair on disk is still the last good one"
    );
    assert_eq!(temp_files(&fs.path), Vec::<std::path::PathBuf>::new());

    fs.unfill();
    rig.renew(host).await;
    let second = rig.leaf_until(host, |leaf| leaf != first.as_slice()).await;
    eprintln!("ENOSPC with {filled} bytes of filler: failed, then renewed once freed");

    fs.set_writable(false);
    rig.renew(host).await;
    let failed = rig
        .acme_until(host, "fails on EROFS", |c| {
            c["last_error"]
                .as_str()
                .is_some_and(|e| e.contains("Read-only file system"))
        })
        .await;
    assert!(
        failed["last_error"]
            .as_str()
            .unwrap()
            .contains(&dir.display().to_string()),
        "{failed:#}"
    );
    assert_eq!(
        rig.leaf_until(host, |_| true).await,
        second,
        "last good served"
    );
    let on_disk = common::responders::verify_served(&fs.path, host, &rig.root).await;
    assert_eq!(on_disk.to_vec(), second);
    fs.set_writable(true);
    assert_eq!(temp_files(&fs.path), Vec::<std::path::PathBuf>::new());
    rig.renew(host).await;
    rig.leaf_until(host, |leaf| leaf != second.as_slice()).await;
    rig.running.shutdown().await;
}
