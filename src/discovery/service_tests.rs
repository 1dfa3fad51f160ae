//! The service → items mapping on plain `ServiceInfo` values, no Docker.

use super::*;
use std::net::IpAddr;

fn net(name: &str, ip: &str) -> NetworkInfo {
    NetworkInfo {
        name: name.to_owned(),
        ip: ip.parse().ok(),
        ..NetworkInfo::default()
    }
}

fn task(slot: u8, running: bool, nets: Vec<NetworkInfo>) -> TaskInfo {
    TaskInfo {
        id: format!("t{slot}"),
        name: format!("web.{slot}.t{slot}"),
        running,
        container: Some(format!("c{slot}")),
        env: BTreeMap::from([("VIRTUAL_PORT".to_owned(), "8080".to_owned())]),
        container_labels: BTreeMap::new(),
        networks: nets,
    }
}

fn elsewhere(_: &str) -> Local {
    Local::Elsewhere
}

fn web(labels: &[(&str, &str)], tasks: Vec<TaskInfo>) -> ServiceInfo {
    ServiceInfo {
        id: "s1".into(),
        name: "web".into(),
        created: 7,
        labels: labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        vip_mode: true,
        vips: vec![net("front", "10.0.1.2"), net("ingress", "10.0.0.2")],
        tasks,
        ..ServiceInfo::default()
    }
}

fn in_container(nets: &[&str]) -> ProxyNetworks {
    ProxyNetworks::Container {
        name: "dockside".into(),
        host_mode: false,
        networks: nets.iter().map(|n| net(n, "10.9.9.9")).collect(),
    }
}

fn ip(item: &SourceItem) -> Option<IpAddr> {
    match item.reach {
        Reach::Container { ip, .. } => Some(ip),
        _ => None,
    }
}

fn unreachable(item: &SourceItem) -> &str {
    match &item.reach {
        Reach::Unreachable(why) => why,
        other => panic!("{} is reachable: {other:?}", item.name),
    }
}

#[test]
fn each_running_task_is_a_backend_on_the_network_shared_with_dockside() {
    let svc = web(
        &[("VIRTUAL_HOST", "web.test")],
        vec![
            task(
                1,
                true,
                vec![net("back", "10.0.2.3"), net("front", "10.0.1.3")],
            ),
            task(
                2,
                true,
                vec![net("back", "10.0.2.4"), net("front", "10.0.1.4")],
            ),
            task(3, false, vec![net("front", "10.0.1.5")]),
        ],
    );
    let items = to_source_items(&svc, &in_container(&["front"]), false, elsewhere);
    let names: Vec<&str> = items.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(
        names,
        ["web.1.t1", "web.2.t2"],
        "the starting task is left out"
    );
    let ips: Vec<String> = items.iter().map(|i| ip(i).unwrap().to_string()).collect();
    assert_eq!(ips, ["10.0.1.3", "10.0.1.4"]);
    for item in &items {
        assert_eq!(item.created, 7, "every task shares the service's age");
        assert_eq!(
            item.vars["VIRTUAL_HOST"], "web.test",
            "from the service labels"
        );
        assert_eq!(item.vars["VIRTUAL_PORT"], "8080", "from the task's env");
    }
}

#[test]
fn service_labels_win_over_the_task_env() {
    let mut t = task(1, true, vec![net("front", "10.0.1.3")]);
    t.env.insert("VIRTUAL_HOST".into(), "env.test".into());
    let svc = web(&[("VIRTUAL_HOST", "label.test")], vec![t]);
    let items = to_source_items(&svc, &ProxyNetworks::Standalone, false, elsewhere);
    assert_eq!(items[0].vars["VIRTUAL_HOST"], "label.test");
}

#[test]
fn no_running_task_gives_no_item_like_a_stopped_container() {
    let starting = vec![task(1, false, vec![net("front", "10.0.1.3")])];
    let svc = web(&[("VIRTUAL_HOST", "web.test")], starting.clone());
    assert!(to_source_items(&svc, &ProxyNetworks::Standalone, false, elsewhere).is_empty());
    let vip = web(
        &[("VIRTUAL_HOST", "web.test"), (BACKEND_LABEL, "vip")],
        starting,
    );
    assert!(to_source_items(&vip, &ProxyNetworks::Standalone, false, elsewhere).is_empty());
}

#[test]
fn the_vip_label_routes_to_the_vip_on_the_shared_network_not_ingress() {
    let svc = web(
        &[("VIRTUAL_HOST", "web.test"), (BACKEND_LABEL, "vip")],
        vec![task(1, true, vec![net("front", "10.0.1.3")])],
    );
    let items = to_source_items(&svc, &in_container(&["front", "ingress"]), false, elsewhere);
    assert_eq!(items.len(), 1, "one backend: the VIP");
    assert_eq!(items[0].name, "web");
    assert_eq!(ip(&items[0]), Some("10.0.1.2".parse().unwrap()));
}

#[test]
fn the_vip_label_on_a_dnsrr_service_says_what_to_fix() {
    let one = || vec![task(1, true, vec![net("front", "10.0.1.3")])];
    let mut svc = web(&[(BACKEND_LABEL, "vip")], one());
    svc.vip_mode = false;
    svc.vips.clear();
    let items = to_source_items(&svc, &ProxyNetworks::Standalone, false, elsewhere);
    assert!(unreachable(&items[0]).contains("endpoint mode dnsrr"));
    let bad = web(&[(BACKEND_LABEL, "ipvs")], one());
    let items = to_source_items(&bad, &ProxyNetworks::Standalone, false, elsewhere);
    assert!(unreachable(&items[0]).contains("use `tasks`"));
}

#[test]
fn a_task_on_no_network_of_dockside_names_both_sides() {
    let svc = web(
        &[("VIRTUAL_HOST", "web.test")],
        vec![task(1, true, vec![net("back", "10.0.2.3")])],
    );
    let items = to_source_items(&svc, &in_container(&["front"]), false, elsewhere);
    let why = unreachable(&items[0]);
    assert!(why.contains("service web shares no network"), "{why}");
    assert!(why.contains("the service is on: back"), "{why}");
    assert!(why.contains("--network-add"), "{why}");
}

#[test]
fn only_containers_with_the_swarm_service_label_are_tasks() {
    let mut c = ContainerInfo::default();
    assert!(!is_task_container(&c));
    c.labels.insert(TASK_SERVICE_LABEL.into(), "s1".into());
    assert!(is_task_container(&c));
}

#[test]
fn a_local_task_follows_its_containers_health_and_stop_signal() {
    let svc = web(
        &[("VIRTUAL_HOST", "web.test")],
        (1..=4)
            .map(|i| task(i, true, vec![net("front", &format!("10.0.1.{i}"))]))
            .collect(),
    );
    let local = |id: &str| match id {
        "c1" => Local::Running(Health::Starting),
        "c2" => Local::Running(Health::Healthy),
        "c3" => Local::Stopping,
        _ => Local::Elsewhere,
    };
    let items = to_source_items(&svc, &ProxyNetworks::Standalone, false, local);
    let got: Vec<(&str, Health)> = items
        .iter()
        .map(|i| match i.reach {
            Reach::Container { health, .. } => (i.name.as_str(), health),
            _ => panic!("{} unreachable", i.name),
        })
        .collect();
    assert_eq!(
        got,
        [
            ("web.1.t1", Health::Starting),
            ("web.2.t2", Health::Healthy),
            ("web.4.t4", Health::None),
        ],
        "the stopping task is left out; the others carry their container's health"
    );
}

#[test]
fn a_replaced_task_stays_until_its_container_is_told_to_stop() {
    let front = || vec![net("front", "10.0.1.5")];
    let old = vec![web(
        &[],
        vec![task(1, true, front()), task(2, true, front())],
    )];
    // The manager replaced slot 2 (its desired state left `running`): only slot 1 and the
    // replacement, still starting, are read.
    let mut replacement = task(3, false, front());
    replacement.name = "web.2.t3".into();
    let read = || vec![web(&[], vec![task(1, true, front()), replacement.clone()])];

    let mut new = read();
    keep_draining(&old, &mut new, |c| c == "c1" || c == "c2");
    let names: Vec<&str> = new[0].tasks.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["web.1.t1", "web.2.t2", "web.2.t3"]);
    let items = to_source_items(&new[0], &in_container(&["front"]), false, |_| {
        Local::Running(Health::None)
    });
    assert_eq!(
        items.len(),
        2,
        "slot 1 and the kept task; the replacement is not running yet"
    );

    // Told to stop (or gone from this node): not kept.
    let mut new = read();
    keep_draining(&old, &mut new, |c| c == "c1");
    assert_eq!(new[0].tasks.len(), 2);
}

#[test]
fn only_running_tasks_of_services_still_there_are_kept() {
    let front = || vec![net("front", "10.0.1.5")];
    let old = vec![web(
        &[],
        vec![task(1, true, front()), task(2, false, front())],
    )];
    let here = |_: &str| true;

    // Slot 2 never ran: nothing to keep.
    let mut new = vec![web(&[], vec![task(1, true, front())])];
    keep_draining(&old, &mut new, here);
    assert_eq!(new[0].tasks.len(), 1);

    // The service was removed: its tasks go with it.
    let mut new: Vec<ServiceInfo> = Vec::new();
    keep_draining(&old, &mut new, here);
    assert!(new.is_empty());

    // A task kept once is kept again by the next read, until its stop signal.
    let mut first = vec![web(&[], Vec::new())];
    keep_draining(&old, &mut first, here);
    let mut second = vec![web(&[], Vec::new())];
    keep_draining(&first, &mut second, here);
    assert_eq!(second[0].tasks.len(), 1);
    let mut third = vec![web(&[], Vec::new())];
    keep_draining(&second, &mut third, |_| false);
    assert!(third[0].tasks.is_empty());
}

fn filters(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn docker_container_filters_select_services_as_the_engine_selects_containers() {
    let mut svc = web(
        &[("com.example.public", "true")],
        vec![task(1, true, vec![net("tasks-only", "10.0.2.5")])],
    );
    svc.container_labels = BTreeMap::from([("team".to_owned(), "shop".to_owned())]);
    let passes = |pairs: &[(&str, &str)]| passes_filters(&svc, &filters(pairs));

    assert!(passes(&[]));
    // Labels: presence or value, on the service or its container template; all must match.
    assert!(passes(&[("label", "com.example.public")]));
    assert!(passes(&[("label", "com.example.public=true")]));
    assert!(passes(&[("label", "team=shop")]));
    assert!(!passes(&[("label", "com.example.public=false")]));
    assert!(!passes(&[("label", "team=shop"), ("label", "other")]));
    // Other keys: one value of each key, every key.
    assert!(passes(&[("name", "we"), ("name", "nope")]));
    assert!(!passes(&[("name", "nope")]));
    assert!(passes(&[("id", "s")]) && !passes(&[("id", "t")]));
    assert!(passes(&[("network", "front")]) && passes(&[("network", "tasks-only")]));
    assert!(!passes(&[("network", "back")]));
    assert!(!passes(&[("network", "front"), ("name", "nope")]));
    assert!(!passes(&[("network", "front"), ("label", "absent")]));
    // Keys about containers only leave the service in.
    assert!(passes(&[("status", "running"), ("health", "healthy")]));
}
