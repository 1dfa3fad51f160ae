//! `dockside check`: what would be served right now (Docker snapshot and/or routes file, with
//! nginx-proxy's files and the certificate directory's CA files), as the route report, without
//! binding anything.

use std::sync::Arc;

use crate::admin::{self, api::AcmeInput, api::Inputs};
use crate::certs::{self, CertMap};
use crate::config::Config;
use crate::discovery::{self, DockerView, ProviderView, file, nginx_files};
use crate::live::Snapshot;
use crate::model::SourceItem;
use crate::routing::RouteTable;
use crate::server;

/// What `check` read: the items, the sources it names, and the Docker connection it had.
struct Read {
    items: Vec<SourceItem>,
    sources: Vec<String>,
    providers: ProviderView,
}

/// Reads the Docker snapshot and/or the routes file (or the shipped example).
async fn read(config: &Config) -> anyhow::Result<Read> {
    let mut items: Vec<SourceItem> = Vec::new();
    let mut sources = Vec::new();
    let mut providers = ProviderView::default();
    if let Some(settings) = &config.docker {
        let mut docker = DockerView {
            endpoint: discovery::describe(settings),
            ..Default::default()
        };
        match discovery::snapshot(settings).await {
            Ok(found) => {
                sources.push(format!(
                    "Docker engine at {}: {} container(s)",
                    docker.endpoint,
                    found.len()
                ));
                docker.connected = true;
                docker.containers = found.len();
                docker.last_full_sync = Some(discovery::unix_now());
                items.extend(found);
            }
            Err(e) if settings.host.is_some() || config.routes.is_none() => {
                docker.last_error = Some(e.to_string());
                sources.push(format!("Docker: {e}"))
            }
            Err(e) => docker.last_error = Some(e.to_string()),
        }
        providers.docker = Some(docker);
    }
    match &config.routes {
        Some(path) => {
            let routes = file::load(path)?;
            sources.push(format!(
                "routes file {}: {} entries",
                path.display(),
                routes.items.len()
            ));
            sources.extend(routes.warnings);
            items.extend(routes.items);
        }
        None if items.is_empty() => {
            let routes = file::parse(file::EXAMPLE, std::path::Path::new("examples/routes.toml"))?;
            sources.push("no routes file: the shipped example (examples/routes.toml)".to_owned());
            items.extend(routes.items);
        }
        None => {}
    }
    Ok(Read {
        items,
        sources,
        providers,
    })
}

/// `dockside check --json`: the admin model (docs/admin-api.md) of what would be served, as
/// the running instance's `/api/v1/overview` would answer it (no traffic, no ACME history).
pub async fn check_json(config: &Config) -> anyhow::Result<String> {
    let read = read(config).await?;
    let files = nginx_files::load(&config.nginx_dirs, &Default::default());
    let state = crate::settings::build_with(&read.items, &files);
    let table = RouteTable::build(&state, &config.defaults);
    let certs = match config.https.is_some() && config.certs_dir.is_dir() {
        true => certs::load_initial(&config.certs_dir),
        false => Arc::default(),
    };
    let live = snapshot(config, table, certs);
    let acme = config.acme.as_ref().map(|_| AcmeInput::default());
    let view = admin::api::overview(&Inputs {
        state: &state,
        live: &live,
        acme: acme.as_ref(),
        providers: &read.providers,
        down: &[],
        traffic: &Default::default(),
        now: discovery::unix_now(),
    });
    Ok(serde_json::to_string_pretty(&view)? + "\n")
}

/// `dockside check`: what would be served right now (Docker snapshot and/or routes file), as
/// the route report. Fails only when no source can be read at all.
pub async fn check(config: &Config) -> anyhow::Result<String> {
    let Read {
        items, mut sources, ..
    } = read(config).await?;
    let files = nginx_files::load(&config.nginx_dirs, &Default::default());
    let state = crate::settings::build_with(&items, &files);
    let table = RouteTable::build(&state, &config.defaults);
    sources.push(server::describe_listeners(config));
    sources.push(describe_metrics(config));
    sources.push(config.admin_auth.describe(config.admin));
    sources.push(config.access_log.describe());
    sources.push(crate::telemetry::TraceSettings::describe(
        config.traces.as_ref(),
    ));
    if config.https.is_some() {
        sources.push(config.cert_files.describe());
        if config.create_default_certificate {
            sources.push("CREATE_DEFAULT_CERTIFICATE: a self-signed default.crt is written at start when there is none".to_owned());
        }
    }
    let orders = config
        .acme
        .as_ref()
        .map(|globals| crate::acme::describe(&state.certificates, globals))
        .unwrap_or_default();
    let on_demand = config
        .on_demand
        .as_ref()
        .map(|s| s.describe(config.defaults.default_host.as_deref()))
        .unwrap_or_default();
    Ok(format!(
        "{}\n\n{}{}{}{}{}",
        sources.join("\n"),
        admin::render(&state, &table),
        orders,
        on_demand,
        admin::port_hints(&items),
        client_certs(config, table)
    ))
}

/// The mTLS section of `dockside check`: the routes joined with the certificate directory's CA
/// files, as the HTTPS listener would see them (nothing without HTTPS).
fn client_certs(config: &Config, table: RouteTable) -> String {
    if config.https.is_none() || !config.certs_dir.is_dir() {
        return String::new();
    }
    let live = snapshot(config, table, certs::load_initial(&config.certs_dir));
    admin::client_cert_lines(&live)
}

/// The routes joined with the certificate directory, as the HTTPS listener would see them.
fn snapshot(config: &Config, table: RouteTable, certs: Arc<CertMap>) -> Snapshot {
    let defaults = (
        crate::tls::policy::Policy::Intermediate,
        config.defaults.http2,
    );
    Snapshot::build(Arc::new(table), certs, defaults, &mut |_, _, _| {})
}

/// `dockside check`'s line about `/metrics` (`DOCKSIDE_METRICS`).
fn describe_metrics(config: &Config) -> String {
    match (config.metrics, config.admin) {
        (false, _) => "metrics: off (DOCKSIDE_METRICS=off)".to_owned(),
        (true, None) => {
            "metrics: not counted (DOCKSIDE_METRICS=on, but the admin listener is off)".to_owned()
        }
        (true, Some(addr)) => format!("metrics: on, http://{addr}/metrics (DOCKSIDE_METRICS)"),
    }
}
