//! `--store` and its options: what the user said (flags with `DOCKSIDE_STORE*` environment
//! names) and the validated [`StoreSettings`] the replicas run with.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

/// Raw store flags, flattened into the main command line.
#[derive(Debug, Clone, Default, Args)]
pub struct StoreFlags {
    /// Shared ACME state for several replicas: `etcd://host:2379,host2:2379` (or `off`, the
    /// default). The certificate directory stays the local cache.
    #[arg(global = true, long = "store", env = "DOCKSIDE_STORE")]
    pub store: Option<String>,
    /// Key prefix in etcd; replicas with the same prefix share certificates.
    #[arg(
        global = true,
        long = "store-prefix",
        env = "DOCKSIDE_STORE_PREFIX",
        default_value = "/dockside/"
    )]
    pub prefix: String,
    /// PEM file of the CA that signed etcd's server certificates: turns TLS on.
    #[arg(global = true, long = "store-ca", env = "DOCKSIDE_STORE_CA")]
    pub ca: Option<PathBuf>,
    /// Client certificate (PEM) for etcd's `--client-cert-auth`; needs --store-client-key.
    #[arg(
        global = true,
        long = "store-client-cert",
        env = "DOCKSIDE_STORE_CLIENT_CERT"
    )]
    pub client_cert: Option<PathBuf>,
    /// The client certificate's private key (PEM).
    #[arg(
        global = true,
        long = "store-client-key",
        env = "DOCKSIDE_STORE_CLIENT_KEY"
    )]
    pub client_key: Option<PathBuf>,
    /// etcd user (etcd's `auth enable`); the password comes from DOCKSIDE_STORE_PASSWORD or
    /// --store-password-file.
    #[arg(global = true, long = "store-user", env = "DOCKSIDE_STORE_USER")]
    pub user: Option<String>,
    /// The etcd user's password (prefer the file: it stays out of `ps`).
    #[arg(
        global = true,
        long = "store-password",
        env = "DOCKSIDE_STORE_PASSWORD",
        hide_env_values = true
    )]
    pub password: Option<String>,
    /// A file holding the etcd user's password (a Docker secret).
    #[arg(
        global = true,
        long = "store-password-file",
        env = "DOCKSIDE_STORE_PASSWORD_FILE"
    )]
    pub password_file: Option<PathBuf>,
    /// 32-byte key (raw, hex or base64) sealing private keys in etcd with AES-256-GCM; every
    /// replica needs the same file. Without it keys are stored in etcd unencrypted.
    #[arg(
        global = true,
        long = "store-encryption-key-file",
        env = "DOCKSIDE_STORE_ENCRYPTION_KEY_FILE"
    )]
    pub encryption_key_file: Option<PathBuf>,
    /// Seconds the per-certificate order lock outlives a replica that stopped renewing it.
    #[arg(
        global = true,
        long = "store-lock-ttl",
        env = "DOCKSIDE_STORE_LOCK_TTL",
        default_value_t = 15
    )]
    pub lock_ttl: u64,
    /// This replica's name in locks and logs (default: host name and process id).
    #[arg(global = true, long = "store-replica", env = "DOCKSIDE_STORE_REPLICA")]
    pub replica: Option<String>,
}

/// The validated store settings; `Config::store` is `None` without `--store`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreSettings {
    /// `http://host:port` (or `https://` with TLS), as the etcd client takes them.
    pub endpoints: Vec<String>,
    pub prefix: String,
    pub tls: Option<StoreTls>,
    /// etcd user and password.
    pub user: Option<(String, String)>,
    pub encryption_key_file: Option<PathBuf>,
    pub lock_ttl: Duration,
    pub replica: String,
}

/// TLS towards etcd.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreTls {
    pub ca: PathBuf,
    /// Client certificate and key files.
    pub client: Option<(PathBuf, PathBuf)>,
}

/// A store setting that cannot work, named as the user wrote it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StoreSettingsError {
    #[error("DOCKSIDE_STORE={0:?}: expected etcd://host:port[,host:port...]")]
    Url(String),
    #[error("DOCKSIDE_STORE: endpoint {0:?} is not host:port")]
    Endpoint(String),
    #[error(
        "DOCKSIDE_STORE_CLIENT_CERT and DOCKSIDE_STORE_CLIENT_KEY go together, with DOCKSIDE_STORE_CA (the etcd server's CA)"
    )]
    ClientPair,
    #[error("DOCKSIDE_STORE_USER needs DOCKSIDE_STORE_PASSWORD or DOCKSIDE_STORE_PASSWORD_FILE")]
    NoPassword,
    #[error("DOCKSIDE_STORE_PASSWORD and DOCKSIDE_STORE_PASSWORD_FILE are both set: keep one")]
    TwoPasswords,
    #[error("DOCKSIDE_STORE_PASSWORD_FILE={0}: cannot read it ({1})")]
    PasswordFile(String, String),
    #[error("DOCKSIDE_STORE_LOCK_TTL must be between 2 and 3600 seconds")]
    LockTtl,
    #[error("DOCKSIDE_STORE_REPLICA={0:?}: a replica name cannot be empty or contain '/'")]
    Replica(String),
}

impl StoreFlags {
    /// `None` when no store is set (or it is `off`). `hostname` names the replica by default.
    pub fn settings(&self, hostname: &str) -> Result<Option<StoreSettings>, StoreSettingsError> {
        let Some(url) = self.store.as_deref().map(str::trim) else {
            return Ok(None);
        };
        if url.is_empty() || url.eq_ignore_ascii_case("off") {
            return Ok(None);
        }
        let tls = match (&self.ca, &self.client_cert, &self.client_key) {
            (None, None, None) => None,
            (Some(ca), None, None) => Some(StoreTls {
                ca: ca.clone(),
                client: None,
            }),
            (Some(ca), Some(cert), Some(key)) => Some(StoreTls {
                ca: ca.clone(),
                client: Some((cert.clone(), key.clone())),
            }),
            _ => return Err(StoreSettingsError::ClientPair),
        };
        let endpoints = endpoints(url, tls.is_some())?;
        if !(2..=3600).contains(&self.lock_ttl) {
            return Err(StoreSettingsError::LockTtl);
        }
        let replica = self
            .replica
            .clone()
            .unwrap_or_else(|| format!("{hostname}-{}", std::process::id()));
        if !super::layout::segment(&replica) {
            return Err(StoreSettingsError::Replica(replica));
        }
        Ok(Some(StoreSettings {
            endpoints,
            prefix: self.prefix.clone(),
            tls,
            user: self.user()?,
            encryption_key_file: self.encryption_key_file.clone(),
            lock_ttl: Duration::from_secs(self.lock_ttl),
            replica,
        }))
    }

    fn user(&self) -> Result<Option<(String, String)>, StoreSettingsError> {
        let Some(user) = &self.user else {
            return Ok(None);
        };
        let password = match (&self.password, &self.password_file) {
            (Some(_), Some(_)) => return Err(StoreSettingsError::TwoPasswords),
            (Some(p), None) => p.clone(),
            (None, Some(path)) => std::fs::read_to_string(path)
                .map_err(|e| {
                    StoreSettingsError::PasswordFile(path.display().to_string(), e.to_string())
                })?
                .trim_end_matches(['\r', '\n'])
                .to_owned(),
            (None, None) => return Err(StoreSettingsError::NoPassword),
        };
        Ok(Some((user.clone(), password)))
    }
}

/// `etcd://a:2379,b:2379` → `["http://a:2379", "http://b:2379"]` (`https` with TLS).
fn endpoints(url: &str, tls: bool) -> Result<Vec<String>, StoreSettingsError> {
    let list = url
        .strip_prefix("etcd://")
        .ok_or_else(|| StoreSettingsError::Url(url.to_owned()))?;
    let scheme = if tls { "https" } else { "http" };
    let mut out = Vec::new();
    for ep in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let port_ok = ep.rsplit_once(':').is_some_and(|(host, port)| {
            !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0)
        });
        if !port_ok || ep.contains(['/', '@', '?', '#']) {
            return Err(StoreSettingsError::Endpoint(ep.to_owned()));
        }
        out.push(format!("{scheme}://{ep}"));
    }
    if out.is_empty() {
        return Err(StoreSettingsError::Url(url.to_owned()));
    }
    Ok(out)
}

#[cfg(test)]
#[path = "settings_tests.rs"]
mod tests;
