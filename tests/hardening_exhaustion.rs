//! Resource exhaustion over HTTP/1 and TLS (issue 20): thousands of slow, idle, stalled or
//! non-reading clients against the dockside binary, whose memory (`VmRSS`) and descriptors
//! (`/proc/<pid>/fd`) are read before, during (sampled peaks) and after each attack. Each test
//! also checks that a real client (curl) is served during or right after the attack. The
//! bounds asserted are the ones docs/security.md ("Resource exhaustion") documents.
//!
//! The tests take turns (`serial`): each measures one process, and two floods at once on a
//! small machine would turn the timing bounds into a measure of the machine.

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::exhaust::{Backend, Proxy, Sampler, curl_status, raise_nofile};
use common::policy::{entry, routes_toml};
use common::tls::Pki;
use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// One attack at a time (see the module comment).
async fn serial() -> tokio::sync::MutexGuard<'static, ()> {
    static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    TURN.lock().await
}

/// Waits (≤ 10 s) until `host` answers 200 through the proxy over plain HTTP.
async fn until_served(proxy: &Proxy, host: &str) {
    let deadline = Instant::now() + common::WAIT;
    let url = format!("http://{}/", proxy.http);
    loop {
        let header = format!("Host: {host}");
        let (status, _) = curl_status(&["-H", &header], &url);
        if status == "200" {
            return;
        }
        assert!(Instant::now() < deadline, "{host} never served: {status}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One plain request by curl: its status and how long it took.
fn legit(proxy: &Proxy, host: &str) -> (String, Duration) {
    let header = format!("Host: {host}");
    curl_status(&["-H", &header], &format!("http://{}/", proxy.http))
}

/// Sends a request head one byte a second, never finishing it; returns how long after its
/// first byte the proxy closed the connection (`None`: still open after `limit`).
async fn trickle(mut s: TcpStream, limit: Duration) -> Option<Duration> {
    let head = b"GET / HTTP/1.1\r\nHost: plain.test\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let started = Instant::now();
    let mut buf = [0u8; 512];
    for byte in head.iter().cycle() {
        if s.write_all(&[*byte]).await.is_err() {
            return Some(started.elapsed());
        }
        match tokio::time::timeout(Duration::from_secs(1), s.read(&mut buf)).await {
            // EOF, a reset, or an answer (408 or the like) that ends with a close next.
            Ok(Ok(0)) | Ok(Err(_)) => return Some(started.elapsed()),
            Ok(Ok(_)) => {}
            Err(_) => {}
        }
        if started.elapsed() > limit {
            return None;
        }
    }
    unreachable!("cycle never ends")
}

/// What one slowloris wave did to dockside.
struct Wave {
    rss_peak: u64,
    fds_peak: usize,
    /// How long the curl client during the wave took.
    curl: Duration,
    /// The earliest and latest close of a slow connection, after its first byte.
    closed: (Duration, Duration),
}

/// `conns` connections trickling request heads into `proxy`, each until it is closed; checks
/// they are all accepted and all open while trickling, and that curl is served meanwhile.
async fn slowloris_wave(proxy: &Proxy, conns: usize, fds0: usize) -> Wave {
    let sampler = Sampler::start(proxy);
    // Connected first, silent (the header timer starts at a head's first byte), so that every
    // connection is open at once however slowly this machine connects thousands of sockets.
    let mut sockets = Vec::with_capacity(conns);
    for _ in 0..conns {
        sockets.push(TcpStream::connect(proxy.http).await.expect("connect"));
    }
    let port = proxy.http.port();
    let deadline = Instant::now() + Duration::from_secs(10);
    while proxy.client_sockets(port) < conns && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let accepted = proxy.client_sockets(port);
    assert_eq!(accepted, conns, "connections accepted");
    assert!(proxy.fds() >= fds0 + conns, "one descriptor per connection");
    let limit = Duration::from_secs(20);
    let tasks: Vec<_> = sockets
        .into_iter()
        .map(|s| tokio::spawn(trickle(s, limit)))
        .collect();
    // All trickling now: still every one open.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(proxy.client_sockets(port), conns, "slow connections open");
    let (status, curl) = legit(proxy, "plain.test");
    assert_eq!(status, "200", "a client during the attack");
    assert!(curl < Duration::from_secs(2), "served in {curl:?}");
    let mut closed = Vec::with_capacity(conns);
    for task in tasks {
        closed.push(
            task.await
                .unwrap()
                .expect("a slow connection open after 20 s"),
        );
    }
    let (rss_peak, fds_peak) = sampler.stop();
    let min = *closed.iter().min().unwrap();
    let max = *closed.iter().max().unwrap();
    // The header timer starts at the first byte; the watchdog looks every quarter of it.
    assert!(min >= Duration::from_millis(2900), "closed early: {min:?}");
    assert!(max <= Duration::from_secs(7), "closed late: {max:?}");
    Wave {
        rss_peak,
        fds_peak,
        curl,
        closed: (min, max),
    }
}

/// (1) Slowloris: two waves of 3,000 connections each trickling a request head one byte a
/// second, against a dockside started with a soft descriptor limit of 1024 (Docker's default for
/// containers). dockside accepts them all (it raises its own soft limit to the hard one), a curl
/// client is served during the attack, the header timeout (3 s here) closes every one of them,
/// descriptors return to their baseline, and so does memory: with mimalloc told to return freed
/// pages at once, what stays resident after each wave is what is still allocated, within 2.7 KiB
/// per connection of the start. (Without that, mimalloc returns pages lazily per worker thread:
/// a wave's memory could stay resident until the next one, and the peaks of two clean waves
/// differed by 16.4 MB once under load, so comparing peaks either flaked or missed a 16 KiB
/// leak per connection.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_is_bounded_and_cut_off_by_the_header_timeout() {
    const CONNS: usize = 3000;
    let _turn = serial().await;
    assert!(
        raise_nofile() > 2 * CONNS as u64 + 100,
        "hard RLIMIT_NOFILE too low"
    );
    let backend = Backend::start(0).await;
    let certs = tempfile::tempdir().unwrap();
    let routes = routes_toml(&[entry("plain.test", backend.addr)]);
    // mimalloc gives freed pages back at once instead of 10 ms later on its next call in that
    // thread, so what stays resident after a wave is what is still allocated.
    let env = [
        ("DOCKSIDE_HEADER_TIMEOUT", "3"),
        ("MIMALLOC_PURGE_DELAY", "0"),
    ];
    let proxy = Proxy::spawn(&routes, certs.path(), &env, Some(1024));
    until_served(&proxy, "plain.test").await;
    assert!(
        proxy.nofile_soft() >= CONNS as u64 + 100,
        "dockside kept a soft descriptor limit of {} (DOCKSIDE_MAX_CONNECTIONS is 10240)",
        proxy.nofile_soft()
    );
    let fds0 = proxy.baseline_fds(proxy.http.port()).await;
    let targets0 = proxy.fd_targets();
    let rss0 = proxy.rss_kib();
    let first = slowloris_wave(&proxy, CONNS, fds0).await;
    proxy.fds_settle(fds0, Duration::from_secs(5)).await;
    let rss_between = proxy.rss_kib();
    let second = slowloris_wave(&proxy, CONNS, fds0).await;
    let fds_after = proxy.fds_settle(fds0, Duration::from_secs(5)).await;
    let clients_after = proxy.client_sockets(proxy.http.port());
    let rss_after = proxy.rss_kib();
    for (n, w) in [(1, &first), (2, &second)] {
        eprintln!(
            "slowloris {CONNS}, wave {n}: rss peak {} KiB, fds peak {}; curl {:?}; closed after {:?}..{:?}",
            w.rss_peak, w.fds_peak, w.curl, w.closed.0, w.closed.1
        );
    }
    eprintln!("slowloris: rss {rss0} → {rss_between} → {rss_after} KiB; fds {fds0} → {fds_after}");
    assert_eq!(clients_after, 0, "client connections left");
    // At most one more pooled backend connection per worker (2) than at the start.
    assert!(
        fds_after <= fds0 + 2,
        "descriptors left: {:?} (baseline {targets0:?})",
        proxy.fd_targets()
    );
    for w in [&first, &second] {
        assert!(
            w.fds_peak <= fds0 + CONNS + 16,
            "peak descriptors {}",
            w.fds_peak
        );
        // Measured (debug build): about 55 KiB per slow connection; see docs/security.md.
        assert!(
            w.rss_peak <= rss0 + 96 * CONNS as u64,
            "peak RSS {} KiB from {rss0} KiB",
            w.rss_peak
        );
    }
    // What a wave leaves resident: 8 MiB is 2.7 KiB per connection (clean waves leave ≤ 4.2
    // MiB; a leak of 4 KiB per connection left 16 MiB and failed here).
    for (after, rss) in [("first", rss_between), ("second", rss_after)] {
        assert!(
            rss <= rss0 + 8 * 1024,
            "memory kept after the {after} wave: {rss0} → {rss} KiB"
        );
    }
}

/// (2) A flood of idle connections past `DOCKSIDE_MAX_CONNECTIONS` (300 here): the extra ones
/// are closed at once, one warning line stands for all of them, a curl client is refused only
/// while the limit is taken and served as soon as a connection ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_flood_past_the_limit_is_closed_at_once() {
    const LIMIT: usize = 300;
    const CONNS: usize = 1500;
    let _turn = serial().await;
    raise_nofile();
    let backend = Backend::start(0).await;
    let certs = tempfile::tempdir().unwrap();
    let routes = routes_toml(&[entry("plain.test", backend.addr)]);
    let limit = LIMIT.to_string();
    let env = [("DOCKSIDE_MAX_CONNECTIONS", limit.as_str())];
    let proxy = Proxy::spawn(&routes, certs.path(), &env, None);
    until_served(&proxy, "plain.test").await;
    let fds0 = proxy.baseline_fds(proxy.http.port()).await;
    let rss0 = proxy.rss_kib();
    let sampler = Sampler::start(&proxy);
    let mut held = Vec::new();
    let mut refused = 0;
    for _ in 0..CONNS {
        let s = TcpStream::connect(proxy.http).await.expect("connect");
        held.push(s);
    }
    // A refused connection reads EOF (or a reset) at once; an accepted one nothing.
    let checks = held.into_iter().map(|mut s| async move {
        let mut b = [0u8; 1];
        match tokio::time::timeout(Duration::from_secs(2), s.read(&mut b)).await {
            Ok(_) => None,
            Err(_) => Some(s),
        }
    });
    let mut open = Vec::new();
    for s in futures_util::future::join_all(checks).await {
        match s {
            Some(s) => open.push(s),
            None => refused += 1,
        }
    }
    assert_eq!(open.len(), LIMIT, "connections kept ({refused} refused)");
    let (status, _) = legit(&proxy, "plain.test");
    assert_eq!(status, "000", "served past the limit");
    let warnings = proxy.log_count("connection limit reached");
    // Three connections end: their permits come back at once.
    open.truncate(LIMIT - 3);
    let deadline = Instant::now() + Duration::from_secs(3);
    let took = loop {
        let (status, took) = legit(&proxy, "plain.test");
        if status == "200" {
            break took;
        }
        assert!(Instant::now() < deadline, "never served after the flood");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    drop(open);
    let fds_after = proxy.fds_settle(fds0, Duration::from_secs(5)).await;
    let clients_after = proxy.client_sockets(proxy.http.port());
    let (rss_peak, fds_peak) = sampler.stop();
    let rss_after = proxy.rss_kib();
    eprintln!(
        "flood {CONNS} over {LIMIT}: rss {rss0} → peak {rss_peak} → {rss_after} KiB; fds {fds0} → peak {fds_peak} → {fds_after}; \
         {refused} refused, {warnings} warning lines; curl after {took:?}"
    );
    assert!(
        (1..=3).contains(&warnings),
        "{warnings} warning lines for {refused} refused connections"
    );
    assert!(fds_peak <= fds0 + LIMIT + 16, "peak descriptors {fds_peak}");
    assert_eq!(clients_after, 0, "client connections left");
    // At most one more pooled backend connection per worker (2) than at the start.
    assert!(
        fds_after <= fds0 + 2,
        "descriptors left: {fds_after} (baseline {fds0})"
    );
    assert!(
        rss_peak <= rss0 + 16 * 1024,
        "peak RSS {rss_peak} KiB from {rss0}"
    );
}

/// A real ClientHello for `sni`, as rustls sends it first.
fn client_hello(sni: &str) -> Vec<u8> {
    let config = common::tls::client::Client::new().config();
    let name = rustls::pki_types::ServerName::try_from(sni.to_owned()).unwrap();
    let mut conn = rustls::ClientConnection::new(config, name).unwrap();
    let mut hello = Vec::new();
    conn.write_tls(&mut hello).unwrap();
    hello
}

/// Sends `hello` and never answers the server's flight; how long after `connected` (dockside's
/// handshake timer starts at accept) the proxy closed the connection.
async fn stall_after_hello(
    mut s: TcpStream,
    connected: Instant,
    hello: Arc<Vec<u8>>,
) -> Option<Duration> {
    s.write_all(&hello).await.ok()?;
    let mut buf = vec![0u8; 16 * 1024];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(25);
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Some(connected.elapsed()),
            Ok(Ok(_)) => {}
            Err(_) => return None,
        }
    }
}

/// curl over HTTPS to `tls.test` verified against the test CA: status and duration.
fn curl_https(proxy: &Proxy, pki: &Pki) -> (String, Duration) {
    let resolve = format!("tls.test:{}:127.0.0.1", proxy.https.port());
    let ca = pki.ca_pem();
    let url = format!("https://tls.test:{}/", proxy.https.port());
    curl_status(
        &["--cacert", ca.to_str().unwrap(), "--resolve", &resolve],
        &url,
    )
}

/// (3) A flood of TLS handshakes: 1,000 clients send a ClientHello and then nothing (dockside
/// has sent its whole flight and waits), while 500 more complete a handshake and close. The
/// handshake timeout (10 s) closes the stalled ones, memory stays bounded and comes back, and
/// curl completes a verified HTTPS request during the flood.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_handshake_flood_is_bounded_by_the_handshake_timeout() {
    const STALLED: usize = 1000;
    const COMPLETED: usize = 500;
    let _turn = serial().await;
    raise_nofile();
    let backend = Backend::start(0).await;
    let pki = Pki::new();
    pki.install("tls.test", "tls.test", &["tls.test"]);
    let routes = routes_toml(&[entry("tls.test", backend.addr)]);
    let proxy = Proxy::spawn(&routes, &pki.certs(), &[], None);
    let deadline = Instant::now() + common::WAIT;
    while curl_https(&proxy, &pki).0 != "200" {
        assert!(
            Instant::now() < deadline,
            "tls.test never served over HTTPS"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let fds0 = proxy.baseline_fds(proxy.https.port()).await;
    let rss0 = proxy.rss_kib();
    let sampler = Sampler::start(&proxy);
    let hello = Arc::new(client_hello("tls.test"));
    let mut stalled = Vec::with_capacity(STALLED);
    for _ in 0..STALLED {
        let connected = Instant::now();
        let s = TcpStream::connect(proxy.https).await.expect("connect");
        stalled.push(tokio::spawn(stall_after_hello(s, connected, hello.clone())));
    }
    let connector = tokio_rustls::TlsConnector::from(common::tls::client::Client::new().config());
    let name = rustls::pki_types::ServerName::try_from("tls.test").unwrap();
    let https = proxy.https;
    let completed = futures_util::stream::iter(0..COMPLETED)
        .map(|_| {
            let (connector, name) = (connector.clone(), name.clone());
            async move {
                let tcp = TcpStream::connect(https).await.ok()?;
                let mut tls = connector.connect(name, tcp).await.ok()?;
                tls.shutdown().await.ok()
            }
        })
        .buffer_unordered(16)
        .filter(|done| std::future::ready(done.is_some()))
        .count()
        .await;
    assert_eq!(
        completed, COMPLETED,
        "handshakes completed during the flood"
    );
    let (status, took) = curl_https(&proxy, &pki);
    assert_eq!(status, "200", "curl during the flood");
    assert!(took < Duration::from_secs(2), "served in {took:?}");
    let mut closed = Vec::new();
    for task in stalled {
        closed.push(task.await.unwrap());
    }
    let (rss_peak, fds_peak) = sampler.stop();
    assert!(
        closed.iter().all(Option::is_some),
        "stalled handshakes left open"
    );
    let min = closed.iter().flatten().min().unwrap();
    let max = closed.iter().flatten().max().unwrap();
    assert!(*min >= Duration::from_millis(9900), "closed early: {min:?}");
    assert!(*max <= Duration::from_secs(14), "closed late: {max:?}");
    let fds_after = proxy.fds_settle(fds0, Duration::from_secs(5)).await;
    let clients_after = proxy.client_sockets(proxy.https.port());
    let rss_after = proxy.rss_kib();
    eprintln!(
        "TLS flood {STALLED} stalled + {COMPLETED} completed: rss {rss0} → peak {rss_peak} → {rss_after} KiB; \
         fds {fds0} → peak {fds_peak} → {fds_after}; curl {took:?}; stalled closed after {min:?}..{max:?}"
    );
    assert_eq!(clients_after, 0, "client connections left");
    // At most one more pooled backend connection per worker (2) than at the start.
    assert!(
        fds_after <= fds0 + 2,
        "descriptors left: {fds_after} (baseline {fds0})"
    );
    assert!(
        fds_peak <= fds0 + STALLED + 32,
        "peak descriptors {fds_peak}"
    );
    // Measured about 10 KiB per stalled handshake (rustls state and its flight).
    assert!(
        rss_peak <= rss0 + 48 * STALLED as u64,
        "peak RSS {rss_peak} KiB from {rss0}"
    );
}

/// (4) Clients that ask for a 50 MB response and never read it: dockside pulls from the backend
/// only what the socket buffers hold (its own memory does not grow with the response), and the
/// idle timeout (2 s here), then the grace of upstream + header timeout (3 + 2 s), ends each
/// connection and its backend connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_is_bounded_and_closed() {
    const CLIENTS: usize = 20;
    const BIG: u64 = 50 * 1024 * 1024;
    let _turn = serial().await;
    raise_nofile();
    let backend = Backend::start(BIG).await;
    let certs = tempfile::tempdir().unwrap();
    let routes = routes_toml(&[entry("plain.test", backend.addr)]);
    let env = [
        ("DOCKSIDE_IDLE_TIMEOUT", "2"),
        ("DOCKSIDE_UPSTREAM_TIMEOUT", "3"),
        ("DOCKSIDE_HEADER_TIMEOUT", "2"),
    ];
    let proxy = Proxy::spawn(&routes, certs.path(), &env, None);
    until_served(&proxy, "plain.test").await;
    let fds0 = proxy.baseline_fds(proxy.http.port()).await;
    let rss0 = proxy.rss_kib();
    let sampler = Sampler::start(&proxy);
    let started = Instant::now();
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        let mut s = TcpStream::connect(proxy.http).await.unwrap();
        s.write_all(b"GET /big HTTP/1.1\r\nHost: plain.test\r\n\r\n")
            .await
            .unwrap();
        clients.push(s);
    }
    // The backend stops being able to send once every buffer on the way is full.
    let mut last = 0;
    loop {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let now = backend.sent.load(Ordering::Relaxed);
        if now == last {
            break;
        }
        last = now;
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "backend never stalled"
        );
    }
    let per_client = last / CLIENTS as u64;
    let (status, took) = legit(&proxy, "plain.test");
    assert_eq!(status, "200", "a client while the others stall");
    let fds_during = proxy.fds();
    // Open until the idle timeout at least: client and backend connection each.
    assert!(fds_during >= fds0 + 2 * CLIENTS, "fds during: {fds_during}");
    let deadline = Instant::now() + Duration::from_secs(14);
    while proxy.client_sockets(proxy.http.port()) > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ended = started.elapsed();
    let clients_after = proxy.client_sockets(proxy.http.port());
    let fds_after = proxy.fds_settle(fds0, Duration::from_secs(1)).await;
    let (rss_peak, fds_peak) = sampler.stop();
    let rss_after = proxy.rss_kib();
    eprintln!(
        "{CLIENTS} non-reading clients of {BIG} bytes: backend sent {per_client} bytes each; rss {rss0} → peak {rss_peak} → {rss_after} KiB; \
         fds {fds0} → peak {fds_peak} → {fds_after} after {ended:?}; curl {took:?}"
    );
    assert_eq!(clients_after, 0, "client connections left");
    // At most one more pooled backend connection per worker (2) than at the start.
    assert!(
        fds_after <= fds0 + 2,
        "descriptors left: {fds_after} (baseline {fds0})"
    );
    // idle (2 s, checked every 0.25 s) + grace (3 + 2 s), and slack for a loaded machine.
    assert!(
        ended >= Duration::from_secs(2),
        "closed before the idle timeout: {ended:?}"
    );
    assert!(ended <= Duration::from_secs(13), "closed after {ended:?}");
    assert!(
        per_client < BIG / 2,
        "dockside pulled {per_client} of {BIG} bytes"
    );
    // Socket buffers are the kernel's; dockside itself holds at most a few buffers per client.
    assert!(
        rss_peak <= rss0 + 1024 * CLIENTS as u64,
        "peak RSS {rss_peak} KiB from {rss0}"
    );
    drop(clients);
}

/// The `i`-th loopback source address past 127.1.0.0 (all of 127/8 is local on Linux).
fn loopback(i: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(u32::from(Ipv4Addr::new(127, 1, 0, 0)) + i))
}

/// One `GET /` for `host` from source address `from`, on a connection of its own: the status.
async fn get_from(proxy: SocketAddr, from: IpAddr, host: &str) -> u16 {
    let socket = TcpSocket::new_v4().unwrap();
    socket
        .bind(SocketAddr::new(from, 0))
        .expect("bind a loopback source");
    let mut s = socket.connect(proxy).await.expect("connect");
    let request = format!("GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    s.write_all(request.as_bytes()).await.unwrap();
    let head = common::read_head(&mut s).await;
    head.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0)
}

/// (5) Very many rate-limit keys: 50,000 distinct client addresses (loopback sources
/// 127.1.0.0 upwards) each send one request to a site with `RATE_LIMIT=1r/m`. The limiter's
/// table keeps 16,384 clients, so memory does not grow with the flood, every new address is
/// served (no lock-out of newcomers), and a client throttled before the flood is forgotten —
/// the documented price of the bound — and served again.
///
/// Memory is compared after a warm-up of the flood's own shape (64 connections at once, to a
/// site without a limit): what 64 concurrent connections cost stays with the allocator after
/// they close, whatever the limiter does. CI once saw 4.2 MiB of it when the baseline was taken
/// after one connection at a time. After the warm-up, clean runs end ≤ 1.5 MiB above the
/// baseline (11 runs, 3 of them with both cores busy); a map keeping every client ended 4.8 MiB
/// above it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_rate_limit_keys_keep_the_limiter_bounded() {
    const KEYS: u32 = 50_000;
    const AT_ONCE: usize = 64;
    let _turn = serial().await;
    raise_nofile();
    let backend = Backend::start(0).await;
    let certs = tempfile::tempdir().unwrap();
    let routes = routes_toml(&[
        entry("limited.test", backend.addr).set("RATE_LIMIT", "1r/m"),
        entry("open.test", backend.addr),
    ]);
    // Freed pages go back at once (see the slowloris test), so what stays is what is allocated.
    let env = [("MIMALLOC_PURGE_DELAY", "0")];
    let proxy = Proxy::spawn(&routes, certs.path(), &env, None);
    let heavy = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
    let deadline = Instant::now() + common::WAIT;
    while get_from(proxy.http, heavy, "limited.test").await != 200 {
        assert!(Instant::now() < deadline, "limited.test never served");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(get_from(proxy.http, heavy, "limited.test").await, 429);
    let http = proxy.http;
    let flood = |keys: std::ops::Range<u32>, host: &'static str, same_source: bool| {
        futures_util::stream::iter(keys)
            .map(move |i| get_from(http, if same_source { heavy } else { loopback(i) }, host))
            .buffer_unordered(AT_ONCE)
            .collect::<Vec<u16>>()
    };
    let warm = flood(0..4096, "open.test", true).await;
    assert!(warm.iter().all(|&s| s == 200), "the warm-up was refused");
    let rss0 = proxy.rss_kib();
    let sampler = Sampler::start(&proxy);
    let started = Instant::now();
    let statuses = flood(0..KEYS, "limited.test", false).await;
    let took = started.elapsed();
    let (rss_peak, fds_peak) = sampler.stop();
    let rss_after = proxy.rss_kib();
    let served = statuses.iter().filter(|&&s| s == 200).count();
    eprintln!(
        "{KEYS} rate-limit keys in {took:?}: rss {rss0} → peak {rss_peak} → {rss_after} KiB; peak fds {fds_peak}; {served} served"
    );
    assert_eq!(served, KEYS as usize, "new addresses refused");
    // The table is 384 KiB, allocated once; pages are touched as slots fill.
    assert!(
        rss_after <= rss0 + 3 * 1024,
        "RSS grew from {rss0} to {rss_after} KiB"
    );
    assert_eq!(
        get_from(proxy.http, heavy, "limited.test").await,
        200,
        "the throttled client was never forgotten: the table grew past 16,384 clients"
    );
}
