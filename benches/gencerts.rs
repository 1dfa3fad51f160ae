//! Certificate-directory load tool for scripts/bench-10k-certs.sh (not a benchmark itself):
//!
//! - `gencerts generate DIR N`: one CA (`DIR/ca.pem`, `DIR/ca.key`), N ECDSA P-256 leaves
//!   `DIR/certs/h<i>.bench.local.{crt,key}` (leaf + CA chain, nginx-proxy layout) and
//!   `DIR/routes.toml` with one `[[site]]` per host — the shape of a proxy with N sites.
//! - `gencerts serves DIR HOST PORT`: waits (up to 5 minutes) until a full handshake with SNI
//!   HOST on 127.0.0.1:PORT verifies against `DIR/ca.pem` — start-up timing.
//! - `gencerts publish DIR HOST PORT`: writes a new pair for HOST the way the ACME side does
//!   (key, then certificate, each atomically), then handshakes with SNI HOST on 127.0.0.1:PORT
//!   until the new leaf is served; prints the milliseconds from the write to that handshake.
//!
//! rcgen keeps generation fast (10,000 pairs in seconds, where `openssl req` per pair takes
//! minutes).

use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["generate", dir, n] => generate(Path::new(dir), n.parse().expect("N is a number")),
        ["serves", dir, host, port] => serves(
            Path::new(dir),
            host,
            port.parse().expect("PORT is a number"),
        ),
        ["publish", dir, host, port] => publish(
            Path::new(dir),
            host,
            port.parse().expect("PORT is a number"),
        ),
        _ => {
            eprintln!("usage: gencerts generate DIR N | gencerts {{serves|publish}} DIR HOST PORT");
            std::process::exit(2);
        }
    }
}

/// The host name of the i-th generated site.
fn host(i: usize) -> String {
    format!("h{i}.bench.local")
}

fn ca(dir: &Path) -> (CertificateParams, KeyPair) {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, "dockside bench CA");
    let key_path = dir.join("ca.key");
    let key = match std::fs::read_to_string(&key_path) {
        Ok(pem) => KeyPair::from_pem(&pem).unwrap(),
        Err(_) => {
            let key = KeyPair::generate().unwrap();
            std::fs::write(&key_path, key.serialize_pem()).unwrap();
            std::fs::write(dir.join("ca.pem"), params.self_signed(&key).unwrap().pem()).unwrap();
            key
        }
    };
    (params, key)
}

/// A leaf for `host` with common name `cn`, chained with the CA: (chain PEM, key PEM, leaf DER).
fn leaf(ca: &(CertificateParams, KeyPair), ca_pem: &str, host: &str, cn: &str) -> Leaf {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec![host.to_owned()]).unwrap();
    params.distinguished_name.push(DnType::CommonName, cn);
    let issuer = Issuer::from_params(&ca.0, &ca.1);
    let cert = params.signed_by(&key, &issuer).unwrap();
    Leaf {
        chain: format!("{}{ca_pem}", cert.pem()),
        key: key.serialize_pem(),
        der: cert.der().to_vec(),
    }
}

struct Leaf {
    chain: String,
    key: String,
    der: Vec<u8>,
}

fn generate(dir: &Path, n: usize) {
    let certs = dir.join("certs");
    std::fs::create_dir_all(&certs).unwrap();
    let ca = ca(dir);
    let ca_pem = std::fs::read_to_string(dir.join("ca.pem")).unwrap();
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    std::thread::scope(|s| {
        for t in 0..threads {
            let (ca, ca_pem, certs) = (&ca, &ca_pem, &certs);
            s.spawn(move || {
                for i in (t..n).step_by(threads) {
                    let host = host(i);
                    let leaf = leaf(ca, ca_pem, &host, &host);
                    std::fs::write(certs.join(format!("{host}.key")), leaf.key).unwrap();
                    std::fs::write(certs.join(format!("{host}.crt")), leaf.chain).unwrap();
                }
            });
        }
    });
    let mut routes =
        std::io::BufWriter::new(std::fs::File::create(dir.join("routes.toml")).unwrap());
    for i in 0..n {
        writeln!(
            routes,
            "[[site]]\nVIRTUAL_HOST = \"{}\"\nbackends = [\"127.0.0.1:9\"]\n",
            host(i)
        )
        .unwrap();
    }
    routes.flush().unwrap();
}

fn publish(dir: &Path, host: &str, port: u16) {
    let ca = ca(dir);
    let ca_pem = std::fs::read_to_string(dir.join("ca.pem")).unwrap();
    let cn = format!("{host} renewed {}", std::process::id());
    let new = leaf(&ca, &ca_pem, host, &cn);
    let client = client(&dir.join("ca.pem"));
    let certs: PathBuf = dir.join("certs");
    let start = Instant::now();
    dockside::certs::write_pair(&certs, host, new.chain.as_bytes(), new.key.as_bytes()).unwrap();
    let limit = Duration::from_secs(60);
    while start.elapsed() < limit {
        if served_leaf(&client, host, port).as_deref() == Some(new.der.as_slice()) {
            println!("{:.1}", start.elapsed().as_secs_f64() * 1000.0);
            return;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    eprintln!("the new certificate for {host} was not served within {limit:?}");
    std::process::exit(1);
}

fn serves(dir: &Path, host: &str, port: u16) {
    let client = client(&dir.join("ca.pem"));
    let (start, limit) = (Instant::now(), Duration::from_secs(300));
    while start.elapsed() < limit {
        if served_leaf(&client, host, port).is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    eprintln!("no verified handshake for {host} on port {port} within {limit:?}");
    std::process::exit(1);
}

fn client(ca_pem: &Path) -> Arc<rustls::ClientConfig> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca_pem).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

/// The leaf served to a full handshake with SNI `host`, if the handshake succeeds.
fn served_leaf(client: &Arc<rustls::ClientConfig>, host: &str, port: u16) -> Option<Vec<u8>> {
    let name = rustls_pki_types::ServerName::try_from(host.to_owned()).ok()?;
    let mut conn = rustls::ClientConnection::new(client.clone(), name).ok()?;
    let mut tcp = TcpStream::connect(("127.0.0.1", port)).ok()?;
    tcp.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    while conn.is_handshaking() {
        conn.complete_io(&mut tcp).ok()?;
    }
    Some(conn.peer_certificates()?.first()?.to_vec())
}
