use super::test_support::{NOW, World};
use super::*;

#[test]
fn sites_join_routes_backends_health_certificates_and_traffic() {
    let view = World::new().overview();
    let hosts: Vec<&str> = view.sites.iter().map(|s| s.host.as_str()).collect();
    assert_eq!(hosts, ["a.test", "c.test", "files.test"]);
    let a = &view.sites[0];
    assert!(a.served && a.not_served.is_none());
    assert_eq!(a.sources, ["web", "web-2"]);
    assert_eq!(a.certificate.as_deref(), Some("a.test"));
    assert_eq!(a.traffic.unwrap().requests_per_second, 12.5);
    let backends = &a.locations[0].backends;
    let summary: Vec<(&str, &str, bool, bool)> = backends
        .iter()
        .map(|b| {
            (
                b.address.as_str(),
                b.health.as_str(),
                b.passive_down,
                b.eligible,
            )
        })
        .collect();
    // web is marked down by passive health; web-2's Docker healthcheck fails.
    assert_eq!(
        summary,
        [
            ("172.18.0.2:80", "none", true, false),
            ("172.18.0.3:80", "unhealthy", false, false)
        ]
    );
    assert_eq!(view.sites[2].traffic, None, "no sample: no rate");
    assert_eq!(
        view.sites[2].locations[0].backends[0].source,
        "routes.toml site #1 (files.test)"
    );
}

#[test]
fn settings_say_where_each_value_came_from() {
    let view = World::new().overview();
    let a = &view.sites[0];
    let get = |name: &str| a.settings.iter().find(|s| s.name == name).unwrap();
    let method = get("HTTPS_METHOD");
    assert_eq!(
        (
            method.value.as_str(),
            method.source.as_deref(),
            method.source_kind.as_str()
        ),
        ("noredirect", Some("web"), "container")
    );
    let hsts = get("HSTS");
    assert_eq!(
        (hsts.source.as_deref(), hsts.source_kind.as_str()),
        (None, "default")
    );
    assert_eq!(
        settings::source_kind("routes.toml site #3 (x.test)"),
        "routes file"
    );
    assert_eq!(
        settings::source_kind("/etc/nginx/vhost.d/a.test:4"),
        "nginx file"
    );
}

#[test]
fn every_unrouted_item_has_its_reason_kind_hosts_and_bounded_class() {
    let view = World::new().overview();
    let find = |source: &str| view.unrouted.iter().find(|u| u.source == source).unwrap();
    let typo = find("typo");
    assert_eq!(typo.hosts, ["b.test"]);
    assert_eq!(
        (
            typo.kind.as_str(),
            typo.class.as_str(),
            typo.severity.as_str()
        ),
        ("container", "invalid_setting", "warning")
    );
    assert!(typo.reason.contains("VIRTUAL_PORT"), "{}", typo.reason);
    let db = find("db");
    assert_eq!(
        (db.class.as_str(), db.severity.as_str()),
        ("no_virtual_host", "info")
    );
    let lost = find("lost");
    assert_eq!(
        (lost.class.as_str(), lost.hosts.as_slice()),
        ("unreachable", &["c.test".to_owned()][..])
    );
    for u in &view.unrouted {
        assert!(CLASSES.contains(&u.class.as_str()), "{u:?}");
    }
    let rejected = build::unrouted(
        &Default::default(),
        &[("~(".to_owned(), "bad regex".to_owned())],
    );
    assert_eq!(
        (rejected[0].kind.as_str(), rejected[0].class.as_str()),
        ("site", "site_rejected")
    );
}

#[test]
fn certificates_acme_and_docker_are_reported() {
    let view = World::new().overview();
    let cert = &view.certificates[0];
    assert_eq!(
        (cert.name.as_str(), cert.source.as_str()),
        ("a.test", "acme")
    );
    assert_eq!(cert.names, ["a.test"]);
    assert!(
        cert.issuer.as_deref().is_some_and(|i| i.contains("CN=")),
        "{cert:?}"
    );
    assert_eq!(cert.expires_in_seconds, cert.not_after - NOW);
    assert_eq!(build::cert_source("default", None), "default");
    assert_eq!(build::cert_source("x.test", None), "file");
    let failed = view
        .acme
        .certificates
        .iter()
        .find(|c| c.name == "b.test")
        .unwrap();
    assert_eq!(
        (
            failed.state.as_str(),
            failed.failures,
            failed.retry_in_seconds
        ),
        ("failed", 3, Some(600))
    );
    assert!(failed.last_error.as_deref().unwrap().contains("NXDOMAIN"));
    assert_eq!(view.acme.orders_failed, 3);
    assert!(view.docker.enabled && view.docker.connected);
    assert_eq!(view.docker.events_seen, 42);
    assert_eq!(view.reloads.routes_file_failed, 1);
    assert!(!build::acme(None).enabled);
    assert!(!build::docker(&Default::default()).enabled);
}

#[test]
fn api_paths_answer_json_and_unknown_ones_404() {
    let view = World::new().overview();
    let (status, body) = answer("overview", &view);
    assert_eq!(status, StatusCode::OK);
    let back: Overview = serde_json::from_str(&body).unwrap();
    assert_eq!(back, view);
    let (status, body) = answer("sites/a.test", &view);
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("\"host\": \"a.test\""), "{body}");
    for path in ["sites", "certificates", "acme", "unrouted", "docker/"] {
        assert_eq!(answer(path, &view).0, StatusCode::OK, "{path}");
    }
    let (status, body) = answer("sites/nope.test", &view);
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("no site \\\"nope.test\\\""), "{body}");
    assert_eq!(answer("secrets", &view).0, StatusCode::NOT_FOUND);
}

#[test]
fn the_text_rendering_names_sites_backends_and_skipped_items() {
    let out = render_text(&World::new().overview());
    for needle in [
        "3/3 site(s) served",
        "a.test  (from web, web-2)  certificate a.test  12.5 req/s, 0.5 err/s",
        "    172.18.0.2:80  (web)  [none, refused recently: skipped, no traffic]",
        "settings: HTTPS_METHOD=noredirect ← web",
        "  typo [container] (for b.test): skipped:",
        "Docker: unix:///var/run/docker.sock connected, 5 container(s), 42 event(s) seen",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in\n{out}");
    }
}

/// Enough of JSON Schema for docs/admin-api.schema.json (`$ref`, `oneOf`, `enum`, `type`,
/// objects with `required` and no additional properties, arrays): the model and the documented
/// schema must not drift. The integration test checks live answers with Python's `jsonschema`.
fn conforms(
    value: &serde_json::Value,
    schema: &serde_json::Value,
    root: &serde_json::Value,
    at: &str,
) {
    use serde_json::Value;
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r.trim_start_matches("#/$defs/");
        return conforms(value, &root["$defs"][name], root, at);
    }
    if let Some(options) = schema.get("oneOf").and_then(Value::as_array) {
        let ok = options
            .iter()
            .filter(|o| std::panic::catch_unwind(|| conforms(value, o, root, at)).is_ok());
        assert_eq!(ok.count(), 1, "{at}: not exactly one of oneOf");
        return;
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array) {
        assert!(options.contains(value), "{at}: {value} not in {options:?}");
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => return,
    };
    let kind = match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    assert!(
        types.contains(&kind) || (kind == "integer" && types.contains(&"number")),
        "{at}: {kind} is not {types:?}"
    );
    match value {
        Value::Object(map) => {
            let props = schema["properties"].as_object().unwrap();
            for key in schema["required"].as_array().unwrap() {
                assert!(
                    map.contains_key(key.as_str().unwrap()),
                    "{at}: missing {key}"
                );
            }
            for (k, v) in map {
                let sub = props
                    .get(k)
                    .unwrap_or_else(|| panic!("{at}: {k} is not in the schema"));
                conforms(v, sub, root, &format!("{at}.{k}"));
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                conforms(v, &schema["items"], root, &format!("{at}[{i}]"));
            }
        }
        _ => {}
    }
}

#[test]
fn the_model_matches_the_documented_schema() {
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../../../docs/admin-api.schema.json")).unwrap();
    let view = serde_json::to_value(World::new().overview()).unwrap();
    conforms(&view, &schema, &schema, "overview");
}
