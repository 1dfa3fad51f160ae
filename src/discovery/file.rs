//! The static provider: a TOML routes file of `[[site]]` entries with nginx-proxy setting
//! names plus `backends` (and `[[certificate]]` entries, acme-companion's standalone
//! certificates, in `standalone`), watched so edits apply without a restart. A file that fails to
//! parse keeps the last good routes serving.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::standalone;
use crate::model::{BackendAddr, Reach, SourceItem};
use crate::settings::names;

/// The example shipped in the repository, served when there is no Docker and no `--routes`.
pub const EXAMPLE: &str = include_str!("../../examples/routes.toml");

/// A routes file that cannot be used at all (unreadable or not TOML).
#[derive(Debug, thiserror::Error)]
pub enum RoutesError {
    #[error("cannot read routes file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("routes file {path} is not valid TOML: {message}")]
    Syntax { path: PathBuf, message: String },
}

/// Entries of a routes file, and warnings about keys that look like typos.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Routes {
    pub items: Vec<SourceItem>,
    pub warnings: Vec<String>,
}

/// Parses routes-file text. Pure: `file` only names entries in messages. An entry with a bad
/// backend list still becomes an item (its site answers 503 and the reason is reported).
pub fn parse(text: &str, file: &Path) -> Result<Routes, RoutesError> {
    let syntax = |message: String| RoutesError::Syntax {
        path: file.to_owned(),
        message,
    };
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| syntax(e.to_string()))?;
    let mut routes = Routes::default();
    for key in table.keys().filter(|k| *k != "site" && *k != "certificate") {
        routes.warnings.push(format!(
            "{}: unknown top-level key {key:?} (expected [[site]] or [[certificate]] entries)",
            file.display()
        ));
    }
    let file_name = file.file_name().map_or_else(
        || file.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    if let Some(certs) = table.get("certificate") {
        let items = standalone::entries(certs, &file_name, &mut routes.warnings).map_err(syntax)?;
        routes.items.extend(items);
    }
    let sites = match table.get("site") {
        None => return Ok(routes),
        Some(toml::Value::Array(sites)) => sites,
        Some(_) => {
            return Err(syntax(
                "`site` must be an array of tables: write [[site]]".into(),
            ));
        }
    };
    for (i, site) in sites.iter().enumerate() {
        let Some(site) = site.as_table() else {
            return Err(syntax(format!("site #{} must be a table", i + 1)));
        };
        routes.items.push(entry(
            site,
            &format!("{file_name} site #{}", i + 1),
            i as i64,
            &mut routes.warnings,
        ));
    }
    Ok(routes)
}

fn entry(site: &toml::Table, name: &str, index: i64, warnings: &mut Vec<String>) -> SourceItem {
    let mut vars = std::collections::BTreeMap::new();
    let mut reach = Reach::Unreachable(format!(
        "{name} has no `backends` list: add backends = [\"127.0.0.1:8000\"]"
    ));
    for (key, value) in site {
        if key == "backends" || key == "backend" {
            reach = backends(value).map_or_else(
                |why| Reach::Unreachable(format!("{name}: {why}")),
                Reach::Addresses,
            );
            continue;
        }
        let text = match value {
            toml::Value::String(s) => s.clone(),
            toml::Value::Integer(_) | toml::Value::Boolean(_) | toml::Value::Float(_) => {
                value.to_string()
            }
            _ => {
                warnings.push(format!(
                    "{name}: {key} must be a string, number or boolean; ignored"
                ));
                continue;
            }
        };
        if !names::is_known(key) {
            warnings.push(format!("{name}: unknown setting {key:?} (typo?); ignored"));
        }
        vars.insert(key.clone(), text);
    }
    let label = vars
        .get(names::VIRTUAL_HOST)
        .map(|h| format!("{name} ({h})"))
        .unwrap_or_else(|| name.to_owned());
    SourceItem {
        name: label,
        created: index,
        vars,
        reach,
    }
}

fn backends(value: &toml::Value) -> Result<Vec<BackendAddr>, String> {
    let list: Vec<&toml::Value> = match value {
        toml::Value::Array(a) => a.iter().collect(),
        v => vec![v],
    };
    list.into_iter()
        .map(|v| {
            v.as_str()
                .ok_or_else(|| format!("backend {v} must be a string like \"127.0.0.1:8000\""))
                .and_then(parse_backend)
        })
        .collect()
}

/// `IP:port`, `[v6]:port`, `name:port` or `unix:/path`.
pub fn parse_backend(text: &str) -> Result<BackendAddr, String> {
    let t = text.trim();
    if let Some(path) = t.strip_prefix("unix:") {
        return Ok(BackendAddr::Unix(PathBuf::from(path)));
    }
    if let Ok(addr) = t.parse() {
        return Ok(BackendAddr::Tcp(addr));
    }
    match t.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && !host.contains(':') => {
            match port.parse::<u16>() {
                Ok(port) if port != 0 => Ok(BackendAddr::Name {
                    host: host.to_owned(),
                    port,
                }),
                _ => Err(format!("backend {t:?} has no valid port")),
            }
        }
        _ => Err(format!(
            "backend {t:?} must be IP:port, name:port or unix:/path"
        )),
    }
}

/// Reads and parses the file.
pub fn load(path: &Path) -> Result<Routes, RoutesError> {
    let text = std::fs::read_to_string(path).map_err(|source| RoutesError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse(&text, path)
}

/// Watches `path` (inotify on its directory, so editors that replace the file are seen, plus
/// a 2 s stat poll as a safety net) and publishes its items whenever they change.
pub fn spawn(
    path: PathBuf,
    tx: watch::Sender<Vec<SourceItem>>,
    token: CancellationToken,
    status: std::sync::Arc<super::ProviderStatus>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let (ev_tx, mut ev_rx) = mpsc::channel::<()>(1);
        let _watcher = watcher(&path, ev_tx);
        // `None`: the first tick (at once) reads the file again, so an edit made between the
        // caller's `load` and this task's start (before the watcher existed) is not missed —
        // as `nginx_files::spawn` does. That first read repeats the caller's warnings only if
        // the file changed.
        let mut last_stamp = None;
        let mut initial = true;
        let mut poll = tokio::time::interval(Duration::from_secs(2));
        loop {
            tokio::select! {
                _ = token.cancelled() => return,
                Some(()) = ev_rx.recv() => tokio::time::sleep(Duration::from_millis(30)).await,
                _ = poll.tick() => {
                    if stamp(&path) == last_stamp { continue; }
                }
            }
            last_stamp = stamp(&path);
            // A file rewritten in place (`O_TRUNC`, then write) is empty for a moment: that is
            // an edit not yet finished, not "no sites" — its next write brings another event.
            if last_stamp.is_some_and(|(_, len)| len == 0) {
                tracing::debug!(file = %path.display(), "routes file is empty (being written?); keeping the current routes");
                continue;
            }
            let first = std::mem::replace(&mut initial, false);
            match load(&path) {
                Ok(routes) => {
                    let changed = tx.send_if_modified(|items| {
                        let differs = *items != routes.items;
                        if differs {
                            *items = routes.items;
                        }
                        differs
                    });
                    if changed || !first {
                        for w in &routes.warnings {
                            tracing::warn!("{w}");
                        }
                    }
                    if changed {
                        tracing::info!(file = %path.display(), "routes file reloaded");
                    }
                    status.routes_reloaded(None);
                }
                Err(e) => {
                    tracing::error!("{e}; keeping the last good routes");
                    status.routes_reloaded(Some(e.to_string()));
                }
            }
        }
    })
}

fn stamp(path: &Path) -> Option<(SystemTime, u64)> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len()))
}

fn watcher(path: &Path, tx: mpsc::Sender<()>) -> Option<notify::RecommendedWatcher> {
    use notify::Watcher;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_owned();
    let name = path.file_name().map(|n| n.to_owned());
    let mut w = notify::recommended_watcher(move |ev: notify::Result<notify::Event>| {
        let ours = ev.as_ref().map_or(true, |ev| {
            ev.paths.iter().any(|p| p.file_name() == name.as_deref())
        });
        if ours && super::is_change(&ev) {
            let _ = tx.try_send(());
        }
    })
    .map_err(|e| tracing::warn!("cannot watch {}: {e}; polling every 2 s", dir.display()))
    .ok()?;
    w.watch(&dir, notify::RecursiveMode::NonRecursive)
        .map_err(|e| tracing::warn!("cannot watch {}: {e}; polling every 2 s", dir.display()))
        .ok()?;
    Some(w)
}

#[cfg(test)]
#[path = "file_tests.rs"]
mod tests;
