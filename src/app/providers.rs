//! Which providers feed the desired state (Docker, the routes file, the shipped example), chosen
//! once at startup, and the combiner that merges them with the nginx-proxy files.

use std::sync::Arc;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::discovery::{self, file, nginx_files};
use crate::model::{DesiredState, SourceItem};

/// How long startup waits for the Docker provider's first container list.
const FIRST_LIST_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// Which providers feed the state, decided once at startup and said in the log: Docker when an
/// engine answers (or `DOCKER_HOST` is given), the routes file when `--routes` is given, and
/// the shipped example when there is neither.
pub(super) async fn spawn_providers(
    config: &Config,
    desired: watch::Sender<Arc<DesiredState>>,
    cancel: CancellationToken,
    status: Arc<discovery::ProviderStatus>,
) -> anyhow::Result<()> {
    let mut inputs = Vec::new();
    let watching_docker = match &config.docker {
        Some(settings) => match discovery::probe(settings).await {
            Ok(version) => {
                tracing::info!(
                    "watching the Docker engine at {} (Docker {}, API {})",
                    version.endpoint,
                    version.version,
                    version.api_version
                );
                true
            }
            // A given endpoint that is not there yet (engine starting) is retried; a socket
            // file that does not exist means "no engine here" (e.g. the socket is not mounted).
            Err(e)
                if settings.host.is_some()
                    && !matches!(e, discovery::DockerError::NoSocket { .. }) =>
            {
                tracing::warn!("{e}; dockside keeps retrying in the background");
                true
            }
            Err(e) => {
                tracing::warn!("no Docker engine: {e}");
                false
            }
        },
        None => false,
    };
    if let (true, Some(settings)) = (watching_docker, &config.docker) {
        let (tx, mut rx) = watch::channel(Vec::new());
        discovery::spawn_observed(settings.clone(), tx, cancel.child_token(), status.clone());
        // Serve the running containers from the first request: wait briefly for the first list.
        if tokio::time::timeout(FIRST_LIST_WAIT, rx.changed())
            .await
            .is_err()
        {
            tracing::warn!(
                "the Docker engine has not listed containers within {FIRST_LIST_WAIT:?}; serving while it catches up"
            );
        }
        inputs.push(rx);
    }
    match &config.routes {
        Some(path) => {
            let routes = file::load(path)?;
            for w in &routes.warnings {
                tracing::warn!("{w}");
            }
            tracing::info!(
                "serving the routes file {} ({} entries), watching it for changes",
                path.display(),
                routes.items.len()
            );
            let (tx, rx) = watch::channel(routes.items);
            file::spawn(path.clone(), tx, cancel.child_token(), status.clone());
            inputs.push(rx);
        }
        None if !watching_docker && config.docker.is_some() => {
            let routes = file::parse(file::EXAMPLE, std::path::Path::new("examples/routes.toml"))?;
            tracing::info!(
                "no Docker engine and no --routes: serving the example routes file (examples/routes.toml): http://localhost/ → 127.0.0.1:8000"
            );
            inputs.push(watch::channel(routes.items).1);
        }
        None if !watching_docker => {
            tracing::warn!("Docker is off and no --routes file is given: no site is served")
        }
        None => {}
    }
    // Without providers the state is only what `Running::publish` sets (embedding, tests).
    if !inputs.is_empty() {
        let files = nginx_files::load(&config.nginx_dirs, &Default::default());
        let items: Vec<SourceItem> = inputs.iter().flat_map(|rx| rx.borrow().clone()).collect();
        desired.send_replace(Arc::new(crate::settings::build_with(&items, &files)));
        let (files_tx, files_rx) = watch::channel(Arc::new(files));
        nginx_files::spawn(
            config.nginx_dirs.clone(),
            files_tx,
            cancel.child_token(),
            status,
        );
        discovery::spawn_combiner(inputs, files_rx, desired, cancel);
    }
    Ok(())
}
