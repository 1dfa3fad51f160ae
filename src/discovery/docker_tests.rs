//! Recorded `docker inspect` output (tests/data, captured from Engine 20.10 with the test
//! image) parsed into bollard's types and converted to `ContainerInfo`.

use super::*;
use crate::discovery::container::{ProxyNetworks, to_source_item};
use crate::discovery::own::{self, select_proxy};
use crate::model::Reach;
use bollard::models::{EndpointSpecModeEnum, NetworkInspect, Service, Task, TaskState};

fn load(name: &str) -> ContainerInfo {
    let path = format!(
        "{}/tests/data/inspect-{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    container_info_from_json(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn web_container_with_two_networks_ports_and_health() {
    let c = load("web");
    assert_eq!(c.name, "dockside-test-rec-web");
    assert_eq!(c.id.len(), 64);
    assert!(
        c.created > 1_700_000_000_000_000_000,
        "created {}",
        c.created
    );
    assert_eq!(c.env["VIRTUAL_HOST"], "env.example.test");
    assert_eq!(c.labels["VIRTUAL_HOST"], "label.example.test");
    assert_eq!(c.health, Health::Unhealthy);
    let names: Vec<&str> = c.networks.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["dockside-test-rec-a", "dockside-test-rec-b"]);
    assert_eq!(c.networks[0].ip, Some("172.18.0.2".parse().unwrap()));
    assert_eq!(c.networks[0].gateway, Some("172.18.0.1".parse().unwrap()));
    let ports: Vec<(u16, &str, Option<u16>)> = c
        .ports
        .iter()
        .map(|p| (p.port, p.proto.as_str(), p.host_port))
        .collect();
    assert_eq!(ports, [(8080, "tcp", Some(32769)), (9090, "udp", None)]);
    let item = to_source_item(&c, &ProxyNetworks::Standalone, false);
    assert_eq!(
        item.vars["VIRTUAL_HOST"], "label.example.test",
        "label wins"
    );
    assert_eq!(item.vars["VIRTUAL_PORT"], "8080");
    assert_eq!(
        item.reach,
        Reach::Container {
            ip: "172.18.0.2".parse().unwrap(),
            exposed_ports: vec![8080, 9090],
            health: Health::Unhealthy,
        }
    );
}

#[test]
fn network_container_label_decides_reachability() {
    let web = load("web");
    let proxy = load("proxy");
    let host = load("host");
    assert!(
        proxy
            .labels
            .contains_key(own::NGINX_CONTAINER_LABEL_DEFAULT)
    );
    let all = [&web, &proxy, &host];
    let p = select_proxy(&all, None, own::NGINX_CONTAINER_LABEL_DEFAULT);
    let ProxyNetworks::Container {
        name,
        networks,
        host_mode,
    } = &p
    else {
        panic!("labelled container not chosen: {p:?}");
    };
    assert_eq!(
        (name.as_str(), *host_mode),
        ("dockside-test-rec-proxy", false)
    );
    assert_eq!(networks.len(), 1);
    // web is on a and b, the proxy only on a: web is reached on a.
    let item = to_source_item(&web, &p, false);
    assert!(matches!(item.reach, Reach::Container { ip, .. } if ip.to_string() == "172.18.0.2"));
    // The host-network backend is reached through the proxy network's gateway.
    assert!(host.is_host_mode());
    let item = to_source_item(&host, &p, false);
    assert!(
        matches!(item.reach, Reach::Container { ip, ref exposed_ports, .. }
        if ip.to_string() == "172.18.0.1" && exposed_ports.is_empty())
    );
}

#[test]
fn own_container_is_used_without_a_label() {
    let web = load("web");
    let mut own_c = load("proxy");
    own_c.labels.clear();
    own_c.networks.retain(|n| n.name != "dockside-test-rec-a");
    let p = select_proxy(&[&web], Some(&own_c), own::NGINX_CONTAINER_LABEL_DEFAULT);
    let item = to_source_item(&web, &p, false);
    assert!(matches!(item.reach, Reach::Unreachable(ref r) if r.contains("shares no network")));
}

#[test]
fn rfc3339_timestamps() {
    assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
    assert_eq!(
        parse_rfc3339("2026-11-25T10:10:44.123456789Z"),
        Some(1_795_601_444)
    );
    assert_eq!(
        parse_rfc3339("2026-11-25T11:10:44.5+01:00"),
        Some(1_795_601_444)
    );
    assert_eq!(parse_rfc3339("garbage"), None);
    // Sub-second creation order survives (one `compose up` creates many in one second).
    assert_eq!(
        parse_created("2026-11-25T10:10:44.123456789Z"),
        Some(1_795_601_444_123_456_789)
    );
    assert_eq!(
        parse_created("2026-11-25T10:10:44.5Z"),
        Some(1_795_601_444_500_000_000)
    );
    assert_eq!(
        parse_created("2026-11-25T10:10:44Z"),
        Some(1_795_601_444_000_000_000)
    );
}

/// `tcp://` + `DOCKER_TLS_VERIFY` builds a rustls client on aws-lc-rs without panicking
/// (two crypto providers would panic here) and fails with an error naming the endpoint.
#[tokio::test]
async fn tls_endpoint_builds_and_names_itself_in_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("cert");
    for (file, pem) in [
        ("ca.pem", ck.cert.pem()),
        ("cert.pem", ck.cert.pem()),
        ("key.pem", ck.signing_key.serialize_pem()),
    ] {
        std::fs::write(dir.path().join(file), pem).expect("write pem");
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port");
    let mut settings = DockerSettings::with_host(format!("tcp://127.0.0.1:{port}"));
    settings.tls_cert_path = Some(dir.path().to_path_buf());
    let err = match Engine::connect(&settings).await {
        Ok(_) => panic!("nothing listens on {port}"),
        Err(e) => e.to_string(),
    };
    assert!(
        err.contains(&format!("tcp://127.0.0.1:{port} (TLS)")),
        "{err}"
    );
}

fn container_event(action: &str, signal: Option<&str>) -> EventMessage {
    let attributes = signal.map(|s| HashMap::from([("signal".to_owned(), s.to_owned())]));
    EventMessage {
        typ: Some(EventMessageTypeEnum::CONTAINER),
        action: Some(action.to_owned()),
        actor: Some(bollard::models::EventActor {
            id: Some("c1".to_owned()),
            attributes,
        }),
        ..Default::default()
    }
}

#[test]
fn a_stop_signal_takes_the_container_out_of_rotation_and_a_reload_signal_does_not() {
    let turn = |action, signal| {
        engine_event(container_event(action, signal))
            .expect("a routing event")
            .turn
    };
    assert_eq!(turn("kill", Some("15")), Turn::Stopping);
    assert_eq!(turn("kill", Some("9")), Turn::Stopping);
    assert_eq!(turn("kill", Some("1")), Turn::Other, "SIGHUP reloads");
    assert_eq!(turn("kill", None), Turn::Other);
    assert_eq!(turn("start", None), Turn::Started);
    assert_eq!(turn("die", None), Turn::Other);
    assert_eq!(
        engine_event(container_event("kill", Some("15")))
            .expect("a routing event")
            .container
            .as_deref(),
        Some("c1")
    );
}

#[test]
fn services_tasks_and_network_tables_become_service_infos() {
    use bollard::models::{
        EndpointSpec, NetworkAttachmentConfig, ServiceEndpoint, ServiceEndpointVirtualIps,
        ServiceSpec, TaskSpec, TaskSpecContainerSpec, TaskStatus,
    };
    let spec = TaskSpec {
        container_spec: Some(TaskSpecContainerSpec {
            env: Some(vec!["VIRTUAL_PORT=8080".into(), "FLAG".into()]),
            ..Default::default()
        }),
        networks: Some(vec![NetworkAttachmentConfig {
            target: Some("n1".into()),
            ..Default::default()
        }]),
        ..Default::default()
    };
    let service = Service {
        id: Some("s1".into()),
        created_at: Some("2026-12-06T17:00:00.5Z".into()),
        spec: Some(ServiceSpec {
            name: Some("web".into()),
            labels: Some(HashMap::from([("VIRTUAL_HOST".into(), "web.test".into())])),
            task_template: Some(spec.clone()),
            ..Default::default()
        }),
        endpoint: Some(ServiceEndpoint {
            spec: Some(EndpointSpec {
                mode: Some(EndpointSpecModeEnum::VIP),
                ..Default::default()
            }),
            virtual_ips: Some(vec![ServiceEndpointVirtualIps {
                network_id: Some("n1".into()),
                addr: Some("10.0.1.2/24".into()),
            }]),
            ..Default::default()
        }),
        ..Default::default()
    };
    let task = |id: &str, slot, state| Task {
        id: Some(id.into()),
        service_id: Some("s1".into()),
        slot: Some(slot),
        spec: Some(spec.clone()),
        status: Some(TaskStatus {
            state: Some(state),
            container_status: Some(bollard::models::ContainerStatus {
                container_id: Some(format!("c-{id}")),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    // The network's service table as `docker network inspect --verbose` gives it.
    let table = serde_json::json!({
        "VIP": "10.0.1.2",
        "Tasks": [
            {"Name": "web.1.ta", "EndpointIP": "10.0.1.3"},
            {"Name": "web.2.tb", "EndpointIP": "10.0.1.4"}
        ]
    });
    let network = NetworkInspect {
        id: Some("n1".into()),
        name: Some("front".into()),
        services: Some(HashMap::from([("web".into(), table)])),
        ..Default::default()
    };
    assert_eq!(network_ids(&service), ["n1", "n1"]);
    let infos = services_info(
        vec![service],
        vec![
            task("tb", 2, TaskState::STARTING),
            task("ta", 1, TaskState::RUNNING),
        ],
        &[network],
    );
    assert_eq!(infos.len(), 1);
    let svc = &infos[0];
    assert_eq!((svc.id.as_str(), svc.name.as_str()), ("s1", "web"));
    assert_eq!(
        svc.created, 1_796_576_400_500_000_000,
        "2026-12-06T17:00:00.5Z"
    );
    assert_eq!(svc.labels["VIRTUAL_HOST"], "web.test");
    assert!(svc.vip_mode);
    assert_eq!(svc.vips.len(), 1);
    assert_eq!(svc.vips[0].name, "front");
    assert_eq!(svc.vips[0].ip, Some("10.0.1.2".parse().unwrap()));
    let tasks: Vec<(&str, bool, Option<std::net::Ipv4Addr>)> = svc
        .tasks
        .iter()
        .map(|t| (t.name.as_str(), t.running, t.networks[0].ip))
        .collect();
    assert_eq!(
        tasks,
        [
            ("web.1.ta", true, Some("10.0.1.3".parse().unwrap())),
            ("web.2.tb", false, Some("10.0.1.4".parse().unwrap())),
        ]
    );
    assert_eq!(svc.tasks[0].env["VIRTUAL_PORT"], "8080");
    assert_eq!(svc.tasks[0].env["FLAG"], "");
    assert_eq!(
        svc.tasks[0].container.as_deref(),
        Some("c-ta"),
        "the key to the task's container on this node"
    );
}

#[test]
fn service_events_mark_services_and_container_creates_are_dropped() {
    let service = EventMessage {
        typ: Some(EventMessageTypeEnum::SERVICE),
        action: Some("update".into()),
        ..Default::default()
    };
    let ev = engine_event(service).expect("a service event counts");
    assert!(ev.service && ev.container.is_none());
    assert_eq!(engine_event(container_event("create", None)), None);
    assert_eq!(
        engine_event(container_event("start", None)).map(|e| e.service),
        Some(false)
    );
    // The engine names health events with their status after the verb.
    for health in ["health_status: healthy", "health_status: unhealthy"] {
        let ev = engine_event(container_event(health, None)).expect(health);
        assert!(!ev.service, "{health}");
    }
}
