//! Real Pebble + pebble-challtestsrv on loopback, with its own listener CA, free ports and a
//! temp dir per test; both processes are killed on drop (also when a test panics).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use dockside::acme::AcmeHttp;

/// What a test wants from its CA.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `certificateValidityPeriod` in seconds (Pebble's default is 5 years).
    pub validity_secs: Option<u64>,
    /// `domainBlocklist`.
    pub blocklist: Vec<String>,
    /// Require EAB with Pebble's example keys (`kid-1`, `kid-2`).
    pub eab: bool,
    /// `PEBBLE_WFE_NONCEREJECT` percentage (0 = deterministic).
    pub nonce_reject: u8,
    /// Reserve everything but do not start `pebble` itself (for "CA down, then up").
    pub start_down: bool,
    /// The resolver Pebble's validator asks (`-dnsserver`): a real authoritative server for
    /// DNS-01 tests; challtestsrv's (every name → 127.0.0.1) when `None`.
    pub dns_server: Option<std::net::SocketAddr>,
    /// `PEBBLE_ALTERNATE_ROOTS`: extra root hierarchies, offered as alternate chains.
    pub alternate_roots: u8,
}

/// Pebble's example EAB key for `kid-1` (base64url, as a CA hands it out).
pub const EAB_KID: &str = "kid-1";
pub const EAB_HMAC: &str = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W";

pub struct Pebble {
    pub dir: tempfile::TempDir,
    /// ACME directory URL.
    pub url: String,
    /// PEM of the CA that signed Pebble's listener certificate (our `CA_BUNDLE`).
    pub listener_ca: PathBuf,
    mgmt_port: u16,
    dns_server: String,
    config: PathBuf,
    settings: serde_json::Value,
    nonce_reject: u8,
    alternate_roots: u8,
    challtestsrv: Option<Child>,
    pebble: Option<Child>,
}

/// A free loopback TCP port for a process started later, reserved for the rest of this test
/// process. Picked below the kernel's ephemeral range (32768-60999), so no outgoing connection
/// takes it as its source port; reserved by an advisory lock on `<tmp>/dockside-test-ports/<port>`
/// so that no parallel test (in this binary or another) is handed the same port while the
/// process meant for it is still starting. The lock goes with the process, even on a crash.
pub fn free_port() -> u16 {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::Mutex;
    static HELD: Mutex<Vec<std::fs::File>> = Mutex::new(Vec::new());
    let dir = std::env::temp_dir().join("dockside-test-ports");
    std::fs::create_dir_all(&dir).expect("create the port-reservation dir");
    loop {
        let random = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        let port = 20_000 + (random % 12_000) as u16;
        let lock = std::fs::File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(port.to_string()))
            .expect("open a port-reservation file");
        if lock.try_lock().is_err() {
            continue;
        }
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            HELD.lock().unwrap_or_else(|e| e.into_inner()).push(lock);
            return port;
        }
    }
}

fn require(bin: &str) {
    assert!(
        Path::new(bin).exists(),
        "{bin} is missing: apt-get install pebble"
    );
}

impl Pebble {
    /// Pebble with its CA held back (`start_down`, ports picked later): a test points it at
    /// the process that should answer its validations, then calls [`Pebble::start_ca`].
    pub async fn held() -> Pebble {
        let options = Options {
            start_down: true,
            ..Options::default()
        };
        Pebble::start(0, 0, options).await
    }

    /// Starts challtestsrv and Pebble validating against `http_port` / `tls_port`.
    pub async fn start(http_port: u16, tls_port: u16, opts: Options) -> Pebble {
        require("/usr/bin/pebble");
        require("/usr/bin/pebble-challtestsrv");
        let dir = tempfile::tempdir().unwrap();
        let (ca_pem, cert_pem, key_pem) = listener_cert();
        let p = |name: &str| dir.path().join(name);
        std::fs::write(p("listener-ca.pem"), ca_pem).unwrap();
        std::fs::write(p("cert.pem"), cert_pem).unwrap();
        std::fs::write(p("key.pem"), key_pem).unwrap();
        let (port, mgmt_port, dns_port, dns_mgmt) =
            (free_port(), free_port(), free_port(), free_port());
        let mut cfg = serde_json::json!({
            "listenAddress": format!("127.0.0.1:{port}"),
            "managementListenAddress": format!("127.0.0.1:{mgmt_port}"),
            "certificate": p("cert.pem"), "privateKey": p("key.pem"),
            "httpPort": http_port, "tlsPort": tls_port, "ocspResponderURL": "",
            "externalAccountBindingRequired": opts.eab,
        });
        if opts.eab {
            cfg["externalAccountMACKeys"] = serde_json::json!({ EAB_KID: EAB_HMAC });
        }
        if let Some(v) = opts.validity_secs {
            cfg["certificateValidityPeriod"] = v.into();
        }
        if !opts.blocklist.is_empty() {
            cfg["domainBlocklist"] = opts.blocklist.clone().into();
        }
        std::fs::write(
            p("pebble.json"),
            serde_json::json!({ "pebble": cfg }).to_string(),
        )
        .unwrap();
        let log = std::fs::File::create(p("challtestsrv.log")).unwrap();
        let challtestsrv = Command::new("/usr/bin/pebble-challtestsrv")
            .args([
                "-management",
                &format!("127.0.0.1:{dns_mgmt}"),
                "-dns01",
                &format!("127.0.0.1:{dns_port}"),
            ])
            .args(["-http01", "", "-https01", "", "-tlsalpn01", ""])
            .args(["-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""])
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start pebble-challtestsrv");
        let mut pebble = Pebble {
            url: format!("https://127.0.0.1:{port}/dir"),
            listener_ca: p("listener-ca.pem"),
            config: p("pebble.json"),
            settings: cfg,
            dir,
            mgmt_port,
            dns_server: opts
                .dns_server
                .map_or_else(|| format!("127.0.0.1:{dns_port}"), |a| a.to_string()),
            nonce_reject: opts.nonce_reject,
            alternate_roots: opts.alternate_roots,
            challtestsrv: Some(challtestsrv),
            pebble: None,
        };
        pebble.write_config(port, mgmt_port);
        if !opts.start_down {
            // A port picked by `free_port` can be taken by a parallel test before Pebble binds it.
            for _ in 0..3 {
                if pebble.try_start_ca().await {
                    return pebble;
                }
                pebble.write_config(free_port(), free_port());
            }
            panic!("pebble did not start; log: {}", pebble.log());
        }
        pebble
    }

    fn write_config(&mut self, port: u16, mgmt_port: u16) {
        self.settings["listenAddress"] = format!("127.0.0.1:{port}").into();
        self.settings["managementListenAddress"] = format!("127.0.0.1:{mgmt_port}").into();
        self.url = format!("https://127.0.0.1:{port}/dir");
        self.mgmt_port = mgmt_port;
        std::fs::write(
            &self.config,
            serde_json::json!({ "pebble": self.settings }).to_string(),
        )
        .unwrap();
    }

    /// Points validations at other HTTP-01 / TLS-ALPN-01 ports (before `start_ca`): lets a test
    /// start dockside with the CA's URL and listener CA, then aim Pebble at dockside's ports.
    pub fn set_validation_ports(&mut self, http_port: u16, tls_port: u16) {
        self.settings["httpPort"] = http_port.into();
        self.settings["tlsPort"] = tls_port.into();
        std::fs::write(
            &self.config,
            serde_json::json!({ "pebble": self.settings }).to_string(),
        )
        .unwrap();
    }

    /// Starts (or restarts) the `pebble` process on its configured ports.
    pub async fn start_ca(&mut self) {
        for _ in 0..3 {
            if self.try_start_ca().await {
                return;
            }
            // The directory URL may already be in a dockside config: keep its port (a client
            // socket holding it goes away soon); the management port is only read after start.
            let port = self.url_port();
            self.write_config(port, free_port());
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!("pebble did not start; log: {}", self.log());
    }

    fn url_port(&self) -> u16 {
        let authority = self.url.trim_start_matches("https://");
        let port = authority.split(['/', ':']).nth(1).unwrap_or_default();
        port.parse().expect("the directory URL has a port")
    }

    /// Starts `pebble` and waits for its directory; false if it exited or never answered.
    async fn try_start_ca(&mut self) -> bool {
        let log = std::fs::File::options()
            .create(true)
            .append(true)
            .open(self.dir.path().join("pebble.log"))
            .unwrap();
        let child = Command::new("/usr/bin/pebble")
            .arg("-config")
            .arg(&self.config)
            .args(["-dnsserver", &self.dns_server])
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", self.nonce_reject.to_string())
            .env("PEBBLE_AUTHZREUSE", "0")
            .env("PEBBLE_ALTERNATE_ROOTS", self.alternate_roots.to_string())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start pebble");
        self.pebble = Some(child);
        let http = self.http();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if http
                .get(&self.url)
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return true;
            }
            if self
                .pebble
                .as_mut()
                .is_some_and(|c| c.try_wait().ok().flatten().is_some())
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.stop_ca();
        false
    }

    /// Kills the `pebble` process (challtestsrv keeps running).
    pub fn stop_ca(&mut self) {
        if let Some(mut child) = self.pebble.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// A client trusting Pebble's listener CA.
    pub fn http(&self) -> AcmeHttp {
        AcmeHttp::new(Some(&self.listener_ca), Duration::from_secs(5)).unwrap()
    }

    /// PEM of the root that issues certificates (new on every Pebble start).
    pub async fn issuer_root(&self) -> String {
        self.root(0).await
    }

    /// PEM of root hierarchy `i` (0 = the default chain's; more with `alternate_roots`).
    pub async fn root(&self, i: usize) -> String {
        let url = format!("https://127.0.0.1:{}/roots/{i}", self.mgmt_port);
        let rsp = self.http().get(&url).await.expect("GET /roots/0");
        assert!(rsp.status().is_success(), "{}", rsp.status());
        String::from_utf8(rsp.into_body().to_vec()).unwrap()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("pebble.log")).unwrap_or_default()
    }
}

impl Drop for Pebble {
    fn drop(&mut self) {
        self.stop_ca();
        if let Some(mut child) = self.challtestsrv.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A CA and a leaf for 127.0.0.1/localhost/::1 signed by it (the leaf must not be the CA).
fn listener_cert() -> (String, String, String) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "pebble test listener CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca, &ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let names = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ];
    let leaf = rcgen::CertificateParams::new(names)
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    (ca_cert.pem(), leaf.pem(), key.serialize_pem())
}
