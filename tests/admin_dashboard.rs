//! The admin dashboard, JSON API and control-plane `/metrics` against real containers: dockside
//! in-process watching the real engine (scoped to this test's containers) and a routes file,
//! one container with a malformed setting, one site with an unhealthy backend. The page is
//! loaded in headless Chromium; API answers are checked against docs/admin-api.schema.json by
//! Python's `jsonschema`; `/metrics` is read by the official Prometheus parser.
//!
//! Screenshots go to a temporary directory; with `DOCKSIDE_SCREENSHOTS=docs` they replace
//! docs/dashboard-overview.png and docs/dashboard-site.png (how those were made).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::docker::*;
use common::{Dockside, browser, logs, require_tool};

const WAIT: Duration = Duration::from_secs(20);
const SHOP: &str = "shop.dash.test";

/// This test's containers, and dockside watching them plus a routes file.
struct World {
    _dockside: Dockside,
    scope: Scope,
    routes_file: PathBuf,
    admin: String,
    broken: Container,
    _containers: Vec<Container>,
    _routes: tempfile::TempDir,
}

async fn world() -> World {
    logs::capture();
    ensure_image();
    let scope = Scope::new();
    let run = |tag: &'static str, args: Vec<&'static str>| {
        let scope = &scope;
        async move { Container::run(tag, scope, &args).await }
    };
    let shop = run(
        "shop",
        vec![
            "-e",
            "VIRTUAL_HOST=shop.dash.test",
            "-e",
            "CLIENT_MAX_BODY_SIZE=10m",
        ],
    )
    .await;
    let sick_args = [&["-e", "VIRTUAL_HOST=shop.dash.test"][..], HEALTHCHECK].concat();
    let sick = run("shop-sick", sick_args).await;
    // Meant for the shop, but its VIRTUAL_PORT is not a port: skipped, and the page says why.
    let broken = run(
        "broken",
        vec![
            "-e",
            "VIRTUAL_HOST=shop.dash.test",
            "-e",
            "VIRTUAL_PORT=eighty",
        ],
    )
    .await;
    let blog = run(
        "blog",
        vec![
            "-e",
            "VIRTUAL_HOST=blog.dash.test",
            "--label",
            "HTTPS_METHOD=noredirect",
        ],
    )
    .await;
    let db = run("db", vec![]).await;
    let routes = tempfile::tempdir().unwrap();
    let file = routes.path().join("routes.toml");
    std::fs::write(
        &file,
        "[[site]]\nVIRTUAL_HOST = \"files.dash.test\"\nbackends = [\"127.0.0.1:9\"]\n\n\
         [[site]]\nVIRTUAL_HOST = \"bad.dash.test\"\nHTTPS_METHOD = \"sometimes\"\nbackends = [\"127.0.0.1:9\"]\n",
    )
    .unwrap();
    let dockside = Dockside::start(|c| {
        c.docker = Some(scope.settings(Path::new(ENGINE_SOCKET)));
        c.routes = Some(file.clone());
        c.admin = Some("127.0.0.1:0".parse().unwrap());
        // HTTPS with a self-signed default certificate: the certificates section has one.
        c.https = Some("127.0.0.1:0".parse().unwrap());
        c.create_default_certificate = true;
    })
    .await;
    let admin = format!(
        "http://{}",
        dockside.running.admin_addr.expect("admin listener")
    );
    let world = World {
        _dockside: dockside,
        scope,
        routes_file: file,
        admin,
        broken,
        _containers: vec![shop, sick, blog, db],
        _routes: routes,
    };
    // Level-triggered discovery: wait until the model has everything (the healthcheck too).
    wait_for(
        &world,
        "the shop's two backends, one unhealthy, and the broken container",
        |o| {
            let site = o["sites"]
                .as_array()
                .and_then(|s| s.iter().find(|s| s["host"] == SHOP));
            let unhealthy = site.is_some_and(|s| {
                s["locations"][0]["backends"]
                    .as_array()
                    .is_some_and(|b| b.len() == 2 && b.iter().any(|b| b["health"] == "unhealthy"))
            });
            unhealthy && o.to_string().contains(&world.broken.name)
        },
    )
    .await;
    world
}

fn get(url: &str) -> (u16, String, String) {
    let out = common::curl(&["-w", "\n%{http_code} %{content_type}", url]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, tail) = text.rsplit_once('\n').unwrap_or(("", &text));
    let (code, kind) = tail.split_once(' ').unwrap_or((tail, ""));
    (code.parse().unwrap_or(0), kind.to_owned(), body.to_owned())
}

/// Polls `/api/v1/overview` until `pred` holds; panics with the last answer.
async fn wait_for(w: &World, what: &str, pred: impl Fn(&serde_json::Value) -> bool) {
    let deadline = Instant::now() + WAIT;
    loop {
        let (_, _, body) = get(&format!("{}/api/v1/overview", w.admin));
        let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        if pred(&v) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not within {WAIT:?}; last: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Runs a Python 3 script with `input` on stdin; its stdout (fails with its stderr).
fn python(script: &str, args: &[&str], input: &str) -> String {
    require_tool("/usr/bin/python3", "python3");
    let mut child = Command::new("/usr/bin/python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run python3");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("ModuleNotFoundError"),
        "a Python module is missing (apt-get install -y python3-jsonschema python3-prometheus-client): {stderr}"
    );
    assert!(out.status.success(), "python failed: {stderr}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn screenshots_dir() -> (PathBuf, Option<tempfile::TempDir>) {
    match std::env::var("DOCKSIDE_SCREENSHOTS").as_deref() {
        Ok("docs") => (Path::new(env!("CARGO_MANIFEST_DIR")).join("docs"), None),
        _ => {
            let tmp = tempfile::tempdir().unwrap();
            (tmp.path().to_owned(), Some(tmp))
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_in_a_browser_names_the_skipped_container_and_why() {
    let w = world().await;
    let (code, kind, _) = get(&format!("{}/", w.admin));
    assert_eq!((code, kind.as_str()), (200, "text/html; charset=utf-8"));

    let dom = browser::dump_dom(&format!("{}/", w.admin));
    for needle in [
        SHOP,
        "blog.dash.test",
        "files.dash.test",
        &w.broken.name,
        "VIRTUAL_PORT",
        "eighty",
        "bad.dash.test",
        "HTTPS_METHOD",
        "no VIRTUAL_HOST: not routed",
        "Docker connected",
        "unhealthy",
        "<code>default</code>",
    ] {
        assert!(
            dom.contains(needle),
            "the page does not show {needle:?}:\n{dom}"
        );
    }
    // The row of the skipped container carries its reason.
    let row = dom
        .split("<tr>")
        .find(|r| r.contains(&w.broken.name))
        .expect("a row for the broken container");
    assert!(row.contains("VIRTUAL_PORT") && row.contains(SHOP), "{row}");

    // The shop's own page: its settings, and the container meant for it that is not routed.
    let site_url = format!("{}/?site={SHOP}", w.admin);
    let site = browser::dump_dom(&site_url);
    assert!(
        site.contains("effective settings") && site.contains(&w.broken.name),
        "{site}"
    );
    assert!(
        !site.contains("blog.dash.test"),
        "another site's page leaked in"
    );

    let (dir, _keep) = screenshots_dir();
    browser::screenshot(
        &format!("{}/", w.admin),
        &dir.join("dashboard-overview.png"),
        (1280, 1500),
    );
    browser::screenshot(&site_url, &dir.join("dashboard-site.png"), (1280, 1100));
}

/// The schema's definition for each API path.
const PATHS: &[(&str, &str)] = &[
    ("overview", ""),
    ("sites", "[site]"),
    ("sites/shop.dash.test", "site"),
    ("certificates", "[certificate]"),
    ("acme", "acme"),
    ("unrouted", "[unrouted]"),
    ("docker", "docker"),
];

const VALIDATE: &str = r##"
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
want = sys.argv[2]
body = json.load(sys.stdin)
if want:
    ref = {"$ref": "#/$defs/" + want.strip("[]")}
    sub = {"type": "array", "items": ref} if want.startswith("[") else ref
    schema = {"$defs": schema["$defs"], **sub}
jsonschema.Draft202012Validator.check_schema(schema)
jsonschema.Draft202012Validator(schema).validate(body)
print("valid")
"##;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_answers_match_the_schema_and_metrics_parse() {
    let w = world().await;
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/admin-api.schema.json");
    let schema = schema.to_str().unwrap();
    for (path, def) in PATHS {
        let (code, kind, body) = get(&format!("{}/api/v1/{path}", w.admin));
        assert_eq!(
            (code, kind.as_str()),
            (200, "application/json"),
            "{path}: {body}"
        );
        assert_eq!(
            python(VALIDATE, &[schema, def], &body).trim(),
            "valid",
            "{path}"
        );
    }
    let (code, _, body) = get(&format!("{}/api/v1/sites/nope.test", w.admin));
    assert_eq!(code, 404, "{body}");
    let (_, _, body) = get(&format!("{}/api/v1/unrouted", w.admin));
    let unrouted: serde_json::Value = serde_json::from_str(&body).unwrap();
    let broken = unrouted
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["source"] == w.broken.name.as_str())
        .expect("the broken container is listed");
    assert_eq!(broken["kind"], "container");
    assert_eq!(broken["class"], "invalid_setting");
    assert_eq!(broken["hosts"][0], SHOP);
    let bad_entry = unrouted.as_array().unwrap().iter().any(|u| {
        u["kind"] == "routes file" && u["reason"].as_str().unwrap_or("").contains("HTTPS_METHOD")
    });
    assert!(
        bad_entry,
        "the routes-file entry with a bad HTTPS_METHOD: {body}"
    );
    let (_, _, body) = get(&format!("{}/api/v1/sites/blog.dash.test", w.admin));
    let blog: serde_json::Value = serde_json::from_str(&body).unwrap();
    let method = blog["settings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "HTTPS_METHOD")
        .unwrap();
    assert_eq!(method["value"], "noredirect");
    assert_eq!(method["source_kind"], "container");
    assert!(
        method["source"].as_str().unwrap().ends_with("-blog"),
        "{method}"
    );

    let (code, kind, metrics) = get(&format!("{}/metrics", w.admin));
    assert_eq!(code, 200);
    assert!(kind.starts_with("application/openmetrics-text"), "{kind}");
    assert!(metrics.ends_with("# EOF\n"), "{metrics}");
    let parsed = python(PARSE_METRICS, &[], &metrics);
    let samples: Vec<&str> = parsed.lines().collect();
    for want in [
        "dockside_docker_connected 1.0",
        "dockside_docker_enabled 1.0",
        "dockside_skipped_items{reason=invalid_setting} 2.0",
        "dockside_skipped_items{reason=no_virtual_host} 1.0",
        "dockside_config_reloads_total{result=failed,source=routes_file} 0.0",
        "dockside_acme_enabled 0.0",
    ] {
        assert!(
            samples.contains(&want),
            "missing {want:?} in\n{parsed}\nfrom\n{metrics}"
        );
    }
    assert!(
        samples
            .iter()
            .any(|s| s.starts_with("dockside_docker_last_full_sync_timestamp_seconds ")),
        "{parsed}"
    );
}

/// Both of the official client's parsers (OpenMetrics, then the classic text format) read the
/// exposition; prints `name{k=v,...} value` per sample from the OpenMetrics one.
const PARSE_METRICS: &str = r#"
import sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families as om
from prometheus_client.parser import text_string_to_metric_families as classic
text = sys.stdin.read()
classic_names = {f.name for f in classic(text)}
for family in om(text):
    for s in family.samples:
        labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
        print(f"{s.name}{{{labels}}} {float(s.value)}" if labels else f"{s.name} {float(s.value)}")
assert classic_names, "the classic parser read nothing"
"#;

/// The binary with a clean environment for our settings (nothing inherited from the shell).
fn dockside_bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dockside"));
    for var in [
        "DOCKER_HOST",
        "DOCKER_CONTAINER_FILTERS",
        "DOCKSIDE_ROUTES",
        "DOCKSIDE_ADMIN",
        "RUST_LOG",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

fn stdout_of(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run dockside");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_and_check_print_the_same_model() {
    let w = world().await;
    let admin = w.admin.trim_start_matches("http://");
    let text = stdout_of(dockside_bin().args(["routes"]).env("DOCKSIDE_ADMIN", admin));
    assert!(text.contains("3/3 site(s) served"), "{text}");
    assert!(
        text.contains(&format!(
            "  {} [container] (for {SHOP}): skipped: VIRTUAL_PORT",
            w.broken.name
        )),
        "{text}"
    );
    assert!(text.contains("[unhealthy, no traffic]"), "{text}");
    let json = stdout_of(
        dockside_bin()
            .args(["routes", "--json"])
            .env("DOCKSIDE_ADMIN", admin),
    );
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/admin-api.schema.json");
    let schema = schema.to_str().unwrap();
    assert_eq!(python(VALIDATE, &[schema, ""], &json).trim(), "valid");

    // `check --json` reads the engine and the routes file itself: the same model, no instance.
    let checked = stdout_of(
        dockside_bin()
            .args(["check", "--json", "--https", "off"])
            .env("DOCKER_HOST", format!("unix://{ENGINE_SOCKET}"))
            .env("DOCKER_CONTAINER_FILTERS", w.scope.env_filters())
            .env("DOCKSIDE_ROUTES", &w.routes_file),
    );
    assert_eq!(python(VALIDATE, &[schema, ""], &checked).trim(), "valid");
    let (live, checked): (serde_json::Value, serde_json::Value) = (
        serde_json::from_str(&json).unwrap(),
        serde_json::from_str(&checked).unwrap(),
    );
    assert_eq!(
        live["unrouted"], checked["unrouted"],
        "the same reasons, live and checked"
    );
    let hosts = |v: &serde_json::Value| -> Vec<String> {
        v["sites"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["host"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(hosts(&live), hosts(&checked));
    assert_eq!(checked["docker"]["connected"], true);
}
