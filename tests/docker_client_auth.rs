//! mTLS on containers, against the real engine: the `ssl_verify_client` label on a container
//! (nginx-proxy §1.4) makes client certificates optional for its site, while another site under
//! the same global `ca.crt` requires one (the default `on`). curl presents the certificates.

mod common;

use std::path::Path;
use std::time::Duration;

use common::docker::*;
use common::https::HttpsProxy;
use common::tls::mtls::ClientCa;
use common::tls::{Pki, within};

const LABEL: &str = "com.github.nginx-proxy.nginx-proxy.ssl_verify_client";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ssl_verify_client_label_on_a_container() {
    common::require_tool("docker", "docker.io");
    ensure_image();
    let scope = Scope::new();
    let net = Network::create("mtls").await;
    let on_net = ["--network", net.name.as_str()];
    let pki = Pki::new();
    for name in ["optional.test", "strict.test"] {
        pki.install(name, name, &[name]);
    }
    let (ca, other) = (ClientCa::new("client CA"), ClientCa::new("other CA"));
    std::fs::write(pki.certs().join("ca.crt"), &ca.pem).unwrap();
    let alice = ca.client(pki.tmp.path(), "alice", 1, false);
    let mallory = other.client(pki.tmp.path(), "mallory", 2, false);

    let label = format!("{LABEL}=optional");
    let mut optional_args = on_net.to_vec();
    optional_args.extend(["-e", "VIRTUAL_HOST=optional.test", "--label", &label]);
    let optional = Container::run("optional", &scope, &optional_args).await;
    let mut strict_args = on_net.to_vec();
    strict_args.extend(["-e", "VIRTUAL_HOST=strict.test"]);
    let strict = Container::run("strict", &scope, &strict_args).await;

    let socket = Path::new(ENGINE_SOCKET).to_owned();
    let p = HttpsProxy::start(&pki.certs(), &pki.ca_pem(), |c| {
        c.docker = Some(scope.settings(&socket));
    })
    .await;
    let curl = |host: &'static str, cert: Option<&common::tls::mtls::ClientCert>| {
        let args: Vec<String> = cert.map(|c| c.curl_args()).unwrap_or_default();
        let p = &p;
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            p.curl("https", host, "/", &args).await
        }
    };
    // Discovery done: the optional site answers without a certificate.
    let page = optional.page().await;
    let served = within(Duration::from_secs(20), || async {
        curl("optional.test", None).await.body.contains(&page)
    })
    .await;
    assert!(
        served.is_some(),
        "optional.test never served without a certificate"
    );
    let r = curl("optional.test", Some(&mallory)).await;
    assert_eq!(r.status, 400, "{r:?}");
    assert!(r.body.contains("The SSL certificate error"), "{r:?}");
    assert!(
        curl("optional.test", Some(&alice))
            .await
            .body
            .contains(&page)
    );

    // No label: `on`, the global ca.crt applies.
    let page = strict.page().await;
    let served = within(Duration::from_secs(20), || async {
        curl("strict.test", Some(&alice)).await.body.contains(&page)
    })
    .await;
    assert!(
        served.is_some(),
        "strict.test never served with a certificate"
    );
    let r = curl("strict.test", None).await;
    assert_eq!(r.status, 400, "{r:?}");
    assert!(
        r.body.contains("No required SSL certificate was sent"),
        "{r:?}"
    );
}
