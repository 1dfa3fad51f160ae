//! `dockside check`: what would be served right now (Docker snapshot and/or routes file, with
//! nginx-proxy's files and the certificate directory's CA files), as the route report, without
//! binding anything.

use std::sync::Arc;

use crate::admin;
use crate::certs;
use crate::config::Config;
use crate::discovery::{self, DockerSettings, file, nginx_files};
use crate::model::SourceItem;
use crate::routing::RouteTable;
use crate::server;

fn describe(settings: &DockerSettings) -> String {
    settings
        .host
        .clone()
        .unwrap_or_else(|| "unix:///var/run/docker.sock".to_owned())
}

/// `dockside check`: what would be served right now (Docker snapshot and/or routes file), as
/// the route report. Fails only when no source can be read at all.
pub async fn check(config: &Config) -> anyhow::Result<String> {
    let mut items: Vec<SourceItem> = Vec::new();
    let mut sources = Vec::new();
    if let Some(settings) = &config.docker {
        match discovery::snapshot(settings).await {
            Ok(found) => {
                sources.push(format!(
                    "Docker engine at {}: {} container(s)",
                    describe(settings),
                    found.len()
                ));
                items.extend(found);
            }
            Err(e) if settings.host.is_some() || config.routes.is_none() => {
                sources.push(format!("Docker: {e}"))
            }
            Err(_) => {}
        }
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
    let files = nginx_files::load(&config.nginx_dirs, &Default::default());
    let state = crate::settings::build_with(&items, &files);
    let table = RouteTable::build(&state, &config.defaults);
    sources.push(server::describe_listeners(config));
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
    let certs = certs::load_initial(&config.certs_dir);
    let defaults = (
        crate::tls::policy::Policy::Intermediate,
        config.defaults.http2,
    );
    let live = crate::live::Snapshot::build(Arc::new(table), certs, defaults, &mut |_, _, _| {});
    admin::client_cert_lines(&live)
}
