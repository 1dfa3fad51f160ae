//! The deployment image on the real engine: `dockside:latest` (static binary FROM scratch,
//! built by `scripts/build-image.sh`) run as a container with the docker socket mounted
//! read-only at nginx-proxy's path, routing to busybox backends by container discovery, by a
//! Docker-DNS name and by an /etc/hosts name; answering 503 for a stopped backend; reporting
//! healthy; draining an in-flight request on `docker stop`; on the host network, obtaining a
//! certificate from Pebble reached by name, serving a certificate volume as acme-companion
//! left it, and forwarding to real uWSGI (`VIRTUAL_PROTO=uwsgi`) by name. Also: the compose files and the Swarm stack file pass `docker-compose config` (which checks syntax, schema
//! and interpolation — not that the external network exists; that is `up`'s job).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::docker::{Container, IMAGE, Network, Scope, docker, ip_on, unique};
use common::image::{self, DOCKSIDE_IMAGE, inspect, published, request, wait_until};
use common::pebble::{Options, Pebble, free_port};
use common::uwsgi;

const WAIT: Duration = Duration::from_secs(20);

/// A busybox backend whose `/cgi-bin/slow` answers `slow-done` after 2 s (`/` answers at once).
const SLOW_BACKEND: &str = "/bin/busybox mkdir -p /www/cgi-bin && echo ok > /www/index.html && \
    /bin/busybox printf '#!/bin/sh\\n/bin/busybox sleep 2\\necho Content-Type: text/plain\\necho\\necho slow-done\\n' \
      > /www/cgi-bin/slow && /bin/busybox chmod 755 /www/cgi-bin/slow && \
    exec /bin/busybox httpd -f -p 80 -h /www";

fn scope_label(scope: &Scope) -> String {
    format!("dockside-test-scope={}", scope.0)
}

fn filter_env(scope: &Scope) -> String {
    format!("DOCKER_CONTAINER_FILTERS=label={}", scope_label(scope))
}

fn curl_args(addr: &str, host: &str, path: &str) -> Vec<String> {
    vec![
        "-H".into(),
        format!("Host: {host}"),
        format!("http://{addr}{path}"),
    ]
}

/// Waits until `host` answers `want` through dockside at `addr`; returns the body.
async fn until_status(dockside: &Container, addr: &str, host: &str, want: u16) -> String {
    wait_until(dockside, &format!("{host} answering {want}"), WAIT, || {
        let args = curl_args(addr, host, "/");
        async move {
            let (code, body) = request(args).await;
            (code == want).then_some(body)
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_routes_reports_healthy_answers_503_and_drains_on_docker_stop() {
    image::ensure_dockside_image();
    let scope = Scope::new();
    let label = scope_label(&scope);
    let net = Network::create("deploy").await;
    let id = unique("d");
    let (web_host, slow_host) = (format!("web.{id}.test"), format!("slow.{id}.test"));
    let web = Container::run(
        "web",
        &scope,
        &[
            "--network",
            &net.name,
            "-e",
            &format!("VIRTUAL_HOST={web_host}"),
        ],
    )
    .await;
    let slow = image::run(
        "slow",
        &[
            "--label",
            &label,
            "--network",
            &net.name,
            "-e",
            &format!("VIRTUAL_HOST={slow_host}"),
            "--entrypoint",
            "/bin/sh",
            IMAGE,
            "-c",
            SLOW_BACKEND,
        ],
    )
    .await;
    let web_ip = ip_on(&web, &net).await;
    let web_hostname = docker(&["inspect", "-f", "{{.Config.Hostname}}", &web.name]).await;

    // A routes file next to Docker: one backend by its container name (Docker's embedded
    // DNS, 127.0.0.11) and one by an --add-host name (/etc/hosts), both resolved inside the
    // scratch image at connect time.
    let dir = tempfile::tempdir().unwrap();
    let routes = dir.path().join("routes.toml");
    std::fs::write(
        &routes,
        format!(
            "[[site]]\nVIRTUAL_HOST = \"dns.{id}.test\"\nbackends = [\"{}:80\"]\n\n\
             [[site]]\nVIRTUAL_HOST = \"hosts.{id}.test\"\nbackends = [\"web.hosts.test:80\"]\n",
            web.name
        ),
    )
    .unwrap();
    let dockside = image::run(
        "dockside",
        &[
            "--network",
            &net.name,
            "-p",
            "127.0.0.1::80",
            // nginx-proxy's mount, unchanged: found without DOCKER_HOST.
            "-v",
            "/var/run/docker.sock:/tmp/docker.sock:ro",
            "-v",
            &format!("{}:/etc/dockside/routes.toml:ro", routes.display()),
            "-e",
            "DOCKSIDE_ROUTES=/etc/dockside/routes.toml",
            "-e",
            &filter_env(&scope),
            "--add-host",
            &format!("web.hosts.test:{web_ip}"),
            // The image's HEALTHCHECK command, probed every second instead of every 10 s.
            "--health-interval",
            "1s",
            DOCKSIDE_IMAGE,
        ],
    )
    .await;
    let addr = published(&dockside, "80/tcp").await;

    let body = until_status(&dockside, &addr, &web_host, 200).await;
    assert_eq!(
        body.trim(),
        web_hostname,
        "answered by the discovered backend"
    );
    let body = until_status(&dockside, &addr, &format!("dns.{id}.test"), 200).await;
    assert_eq!(body.trim(), web_hostname, "backend by Docker-DNS name");
    let body = until_status(&dockside, &addr, &format!("hosts.{id}.test"), 200).await;
    assert_eq!(body.trim(), web_hostname, "backend by /etc/hosts name");

    // The certificate volume the image declares, as a volume.
    let mounts = inspect(
        &dockside,
        "{{range .Mounts}}{{.Type}} {{.Destination}};{{end}}",
    )
    .await;
    assert!(
        mounts.contains("volume /etc/nginx/certs;"),
        "certs volume: {mounts}"
    );

    let health = wait_until(&dockside, "health check healthy", WAIT, || async {
        let s = inspect(&dockside, "{{.State.Health.Status}}").await;
        (s == "healthy").then_some(s)
    })
    .await;
    assert_eq!(health, "healthy");

    web.stop().await;
    until_status(&dockside, &addr, &web_host, 503).await;

    // docker stop while a request is in flight: it completes, dockside exits 0, promptly.
    until_status(&dockside, &addr, &slow_host, 200).await;
    let inflight = tokio::spawn(request(curl_args(&addr, &slow_host, "/cgi-bin/slow")));
    wait_until(&dockside, "the slow CGI running", WAIT, || async {
        let ps = docker(&["exec", &slow.name, "/bin/busybox", "ps"]).await;
        ps.contains("sleep 2").then_some(())
    })
    .await;
    let began = Instant::now();
    docker(&["stop", "-t", "10", &dockside.name]).await;
    let stop_took = began.elapsed();
    eprintln!("docker stop with a request in flight took {stop_took:?}");
    let (code, body) = tokio::time::timeout(WAIT, inflight)
        .await
        .expect("in-flight request ends")
        .unwrap();
    let logs = image::logs(&dockside);
    assert_eq!(
        (code, body.trim()),
        (200, "slow-done"),
        "in-flight request across docker stop; logs:\n{logs}"
    );
    let exit = inspect(&dockside, "{{.State.ExitCode}}").await;
    assert_eq!(exit, "0", "exit code after SIGTERM; logs:\n{logs}");
    assert!(
        stop_took < Duration::from_secs(6),
        "docker stop took {stop_took:?}: SIGTERM not handled as PID 1 (SIGKILL after 10 s?)"
    );
    assert!(
        stop_took >= Duration::from_millis(500),
        "docker stop took {stop_took:?}: returned before the in-flight request could finish"
    );
}

/// An acme-companion certificate volume entry for `host`: `<host>/{key,cert,chain,fullchain}.pem`
/// and the relative symlinks nginx-proxy reads (`<host>.crt`, `<host>.key`, `<host>.chain.pem`),
/// signed by a fresh CA; returns the CA's PEM.
fn companion_cert(certs: &Path, host: &str) -> String {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "companion-era CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca, &ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec![host.to_owned()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    let dir = certs.join(host);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("key.pem"), key.serialize_pem()).unwrap();
    std::fs::write(dir.join("cert.pem"), leaf.pem()).unwrap();
    std::fs::write(dir.join("chain.pem"), ca_cert.pem()).unwrap();
    std::fs::write(dir.join("fullchain.pem"), leaf.pem() + &ca_cert.pem()).unwrap();
    for (link, target) in [
        ("crt", "fullchain.pem"),
        ("key", "key.pem"),
        ("chain.pem", "chain.pem"),
    ] {
        std::os::unix::fs::symlink(
            format!("./{host}/{target}"),
            certs.join(format!("{host}.{link}")),
        )
        .unwrap();
    }
    ca_cert.pem()
}

/// `curl` arguments for `https://{host}:{port}/` on 127.0.0.1 trusting `ca`.
fn https_args(host: &str, port: u16, ca: &Path) -> Vec<String> {
    vec![
        "--resolve".into(),
        format!("{host}:{port}:127.0.0.1"),
        "--cacert".into(),
        ca.display().to_string(),
        format!("https://{host}:{port}/"),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_on_host_network_gets_a_pebble_certificate_serves_companion_certs_and_uwsgi() {
    image::ensure_dockside_image();
    let (http_port, tls_port, admin_port) = (free_port(), free_port(), free_port());
    let pebble = Pebble::start(http_port, tls_port, Options::default()).await;
    // By name: `localhost` from the container's /etc/hosts (the host's, on the host network).
    let ca_url = pebble.url.replace("127.0.0.1", "localhost");
    assert_ne!(ca_url, pebble.url);
    let scope = Scope::new();
    let net = Network::create("acme").await;
    let host = format!("{}.acme.test", unique("le"));
    let _web = Container::run(
        "le-web",
        &scope,
        &[
            "--network",
            &net.name,
            "-e",
            &format!("VIRTUAL_HOST={host}"),
            "-e",
            &format!("LETSENCRYPT_HOST={host}"),
        ],
    )
    .await;
    // A certificate volume as acme-companion left it, for a site without LETSENCRYPT_HOST:
    // served as is.
    let certs = tempfile::tempdir().unwrap();
    let old_host = format!("{}.old.test", unique("old"));
    let old_ca = certs.path().join("companion-ca.pem");
    std::fs::write(&old_ca, companion_cert(certs.path(), &old_host)).unwrap();
    let old_chain =
        std::fs::read_to_string(certs.path().join(&old_host).join("fullchain.pem")).unwrap();
    let _old = Container::run(
        "old-web",
        &scope,
        &[
            "--network",
            &net.name,
            "-e",
            &format!("VIRTUAL_HOST={old_host}"),
        ],
    )
    .await;
    // The shop's wsgiapp shape: real uWSGI speaking the uwsgi protocol, as a routes-file
    // backend given by name (`localhost`, from /etc/hosts).
    let wsgi = uwsgi::Uwsgi::tcp();
    let dockside::model::BackendAddr::Tcp(wsgi_addr) = wsgi.addr.clone() else {
        unreachable!("tcp harness")
    };
    let shop_host = format!("{}.shop.test", unique("shop"));
    let routes = certs.path().join("routes.toml");
    std::fs::write(
        &routes,
        format!(
            "[[site]]\nVIRTUAL_HOST = \"{shop_host}\"\nVIRTUAL_PROTO = \"uwsgi\"\n\
             backends = [\"localhost:{}\"]\n",
            wsgi_addr.port()
        ),
    )
    .unwrap();
    let dockside = image::run(
        "dockside-acme",
        &[
            "--network",
            "host",
            "-v",
            "/var/run/docker.sock:/var/run/docker.sock:ro",
            "-v",
            &format!("{}:/etc/nginx/certs", certs.path().display()),
            "-v",
            &format!("{}:/pebble-ca.pem:ro", pebble.listener_ca.display()),
            "-e",
            &format!("HTTP_PORT={http_port}"),
            "-e",
            &format!("HTTPS_PORT={tls_port}"),
            "-e",
            &format!("DOCKSIDE_ADMIN=127.0.0.1:{admin_port}"),
            "-e",
            &format!("ACME_CA_URI={ca_url}"),
            "-e",
            "CA_BUNDLE=/pebble-ca.pem",
            "-e",
            "DOCKSIDE_ROUTES=/etc/nginx/certs/routes.toml",
            "-e",
            "DEFAULT_EMAIL=ops@example.test",
            "-e",
            &filter_env(&scope),
            DOCKSIDE_IMAGE,
        ],
    )
    .await;

    let fullchain = certs.path().join(&host).join("fullchain.pem");
    wait_until(
        &dockside,
        "certificate issued",
        Duration::from_secs(60),
        || {
            let f = fullchain.clone();
            async move { f.exists().then_some(()) }
        },
    )
    .await;
    let root = certs.path().join("pebble-root.pem");
    std::fs::write(&root, pebble.issuer_root().await).unwrap();
    for (what, host, ca) in [
        ("HTTPS with the issued certificate", &host, &root),
        (
            "HTTPS with acme-companion's certificate",
            &old_host,
            &old_ca,
        ),
    ] {
        let args = https_args(host, tls_port, ca);
        let body = wait_until(&dockside, what, WAIT, || {
            let args = args.clone();
            async move {
                let (code, body) = request(args).await;
                (code == 200).then_some(body)
            }
        })
        .await;
        assert!(!body.trim().is_empty(), "{what}: backend page");
    }
    let http = format!("127.0.0.1:{http_port}");
    let body = until_status(&dockside, &http, &shop_host, 200).await;
    assert!(
        body.contains("\"REQUEST_METHOD\": \"GET\"") && body.contains(&shop_host),
        "uWSGI's environ through dockside: {body}; uwsgi log: {}",
        wsgi.log()
    );
    let now = std::fs::read_to_string(certs.path().join(&old_host).join("fullchain.pem")).unwrap();
    assert_eq!(
        now, old_chain,
        "the companion-era certificate is served as is, not replaced"
    );
}

/// `docker-compose config` on a file: stdout, or the failure.
fn compose_config(file: &Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new("docker-compose")
        .arg("-f")
        .arg(file)
        .arg("config")
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("docker-compose: {e}: install it (apt-get install docker-compose)")
        });
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn deploy_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy")
        .join(name)
}

#[test]
fn compose_files_pass_docker_compose_config() {
    let proxy = deploy_file("nginx-compose.yml");
    let services = compose_config(&proxy, &["--services"]).unwrap();
    assert_eq!(services.trim(), "dockside", "one service replaces two");
    let cfg = compose_config(&proxy, &[]).unwrap();
    for want in [
        "image: dockside:latest",
        "/var/run/docker.sock:/tmp/docker.sock:ro",
        "certs:/etc/nginx/certs",
        "published: 80",
        "published: 443",
        "protocol: udp",
        "DEFAULT_EMAIL:",
        "ACME_CA_URI:",
        "external: true",
        "nginx-proxy",
    ] {
        assert!(cfg.contains(want), "{want:?} missing in:\n{cfg}");
    }

    let shop = deploy_file("docker-compose.yml");
    let mut services: Vec<String> = compose_config(&shop, &["--services"])
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    services.sort();
    assert_eq!(
        services,
        ["elasticsearch", "postgres", "redis", "worker", "wsgiapp"]
    );
    let cfg = compose_config(&shop, &[]).unwrap();
    for want in [
        "VIRTUAL_HOST: shop.example.com",
        "VIRTUAL_PROTO: uwsgi",
        "VIRTUAL_PORT: '9009'",
        "LETSENCRYPT_HOST: shop.example.com",
        "LETSENCRYPT_EMAIL: ops@example.com",
    ] {
        assert!(cfg.contains(want), "{want:?} missing in:\n{cfg}");
    }

    // dockside as a Swarm service: what only a stack file says (host-mode ports, managers).
    let stack = deploy_file("swarm-stack.yml");
    let services = compose_config(&stack, &["--services"]).unwrap();
    assert_eq!(services.trim(), "dockside");
    let cfg = compose_config(&stack, &[]).unwrap();
    for want in [
        "image: dockside:latest",
        "/var/run/docker.sock:/var/run/docker.sock:ro",
        "certs:/etc/nginx/certs",
        "mode: global",
        "node.role == manager",
        "published: 80",
        "published: 443",
        "name: dockside-front",
        "attachable: true",
    ] {
        assert!(cfg.contains(want), "{want:?} missing in:\n{cfg}");
    }
    let host_ports = cfg.matches("mode: host").count();
    assert_eq!(
        host_ports, 3,
        "80, 443 and 443/udp bypass the ingress mesh:\n{cfg}"
    );

    // The check can fail: a broken copy is rejected.
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("nginx-compose.yml");
    let text = std::fs::read_to_string(&proxy).unwrap();
    std::fs::write(&broken, text.replace("ports:", "portz:")).unwrap();
    assert!(
        compose_config(&broken, &[]).is_err(),
        "an unknown key passes"
    );
}
