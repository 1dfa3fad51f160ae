//! `ACMESH_DNS_API_CONFIG` (acme-companion's YAML or JSON mapping) → the DNS-01 settings an order
//! uses, and BIND-style TSIG key files (`NSUPDATE_KEY`). Pure: text in, values out; reading the
//! key file happens when an order needs it (`nsupdate`).
//!
//! Names are acme.sh's `dns_nsupdate` ones: `NSUPDATE_SERVER` (default `localhost`),
//! `NSUPDATE_SERVER_PORT` (53), `NSUPDATE_KEY` (a key file), `NSUPDATE_ZONE` (found with an SOA
//! query when absent), `DNS_SLEEP`. An inline key is dockside's addition: `NSUPDATE_KEY_NAME`,
//! `NSUPDATE_KEY_ALGORITHM` (default `hmac-sha256`), `NSUPDATE_KEY_SECRET` (base64).

use std::fmt;
use std::path::PathBuf;

use base64::Engine;
use yaml_rust2::{Yaml, YamlLoader};

/// The only `DNS_API` dockside implements (RFC 2136 with TSIG); see `DnsProvider` for others.
pub const NSUPDATE: &str = "dns_nsupdate";

/// HMAC algorithms accepted for TSIG (RFC 8945 §6). `hmac-md5` is refused: it is obsolete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TsigAlg {
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
}

impl TsigAlg {
    /// Parses BIND's spelling (`hmac-sha256`, any case, trailing `.` allowed).
    pub fn parse(value: &str) -> Option<TsigAlg> {
        Some(
            match value
                .trim()
                .trim_end_matches('.')
                .to_ascii_lowercase()
                .as_str()
            {
                "hmac-sha1" => TsigAlg::Sha1,
                "hmac-sha224" => TsigAlg::Sha224,
                "hmac-sha256" => TsigAlg::Sha256,
                "hmac-sha384" => TsigAlg::Sha384,
                "hmac-sha512" => TsigAlg::Sha512,
                _ => return None,
            },
        )
    }

    /// The algorithm's name as written in key files and in the TSIG record.
    pub fn name(self) -> &'static str {
        match self {
            TsigAlg::Sha1 => "hmac-sha1",
            TsigAlg::Sha224 => "hmac-sha224",
            TsigAlg::Sha256 => "hmac-sha256",
            TsigAlg::Sha384 => "hmac-sha384",
            TsigAlg::Sha512 => "hmac-sha512",
        }
    }
}

/// A TSIG key: name, algorithm and the decoded secret. `Debug`/`Display` never show the secret.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct TsigKey {
    pub name: String,
    pub algorithm: TsigAlg,
    secret: Vec<u8>,
}

impl TsigKey {
    /// A key from its base64 secret (as `tsig-keygen` / `keymgr` print it).
    pub fn new(name: &str, algorithm: TsigAlg, secret_b64: &str) -> Result<TsigKey, String> {
        let secret = base64::engine::general_purpose::STANDARD
            .decode(secret_b64.trim())
            .map_err(|_| format!("the secret of TSIG key {name:?} is not base64"))?;
        if secret.is_empty() {
            return Err(format!("the secret of TSIG key {name:?} is empty"));
        }
        let name = name.trim().trim_end_matches('.').to_ascii_lowercase();
        Ok(TsigKey {
            name,
            algorithm,
            secret,
        })
    }

    /// The secret, for the MAC only.
    pub(crate) fn secret(&self) -> &[u8] {
        &self.secret
    }
}

impl fmt::Debug for TsigKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TsigKey({self})")
    }
}

impl fmt::Display for TsigKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name, self.algorithm.name())
    }
}

/// Where the TSIG key comes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KeySource {
    /// `NSUPDATE_KEY`: a BIND-style key file, read when an order starts (so a rotated file is
    /// picked up without a restart).
    File(PathBuf),
    /// `NSUPDATE_KEY_NAME` + `NSUPDATE_KEY_SECRET` (+ `NSUPDATE_KEY_ALGORITHM`).
    Inline(TsigKey),
}

/// DNS-01 over RFC 2136: where to send the UPDATE and how to sign it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DnsConfig {
    /// `NSUPDATE_SERVER`: host name or IP address of the primary server.
    pub server: String,
    /// `NSUPDATE_SERVER_PORT`.
    pub port: u16,
    /// `NSUPDATE_ZONE`, lower-case without the trailing dot; `None` = ask the server (SOA).
    pub zone: Option<String>,
    pub key: KeySource,
    /// `DNS_SLEEP` in seconds: waited after the zone's reachable servers answer the record, for servers
    /// dockside cannot see (anycast, hidden primaries). At most `DNS_SLEEP_MAX`.
    pub sleep_secs: Option<u32>,
}

impl fmt::Display for DnsConfig {
    /// For `dockside check` and logs: never the secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{NSUPDATE} to {}:{}", self.server, self.port)?;
        match &self.zone {
            Some(z) => write!(f, ", zone {z}")?,
            None => write!(f, ", zone from the server's SOA")?,
        }
        match &self.key {
            KeySource::File(p) => write!(f, ", TSIG key file {}", p.display())?,
            KeySource::Inline(k) => write!(f, ", TSIG key {k}")?,
        }
        if let Some(s) = self.sleep_secs {
            write!(f, ", DNS_SLEEP {s}s")?;
        }
        Ok(())
    }
}

/// Why an `ACMESH_DNS_API_CONFIG` value cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DnsConfigError {
    #[error("is not a YAML or JSON mapping: {0}")]
    Syntax(String),
    #[error("has no DNS_API (dockside implements DNS_API: dns_nsupdate)")]
    NoApi,
    #[error(
        "DNS_API={0:?} is not built into dockside: only dns_nsupdate (RFC 2136 dynamic updates with a TSIG key, \
         which BIND, Knot, PowerDNS and most self-hosted DNS servers accept) is; see docs/certificates.md"
    )]
    UnsupportedApi(String),
    #[error("{key}={value:?} {why}")]
    Bad {
        key: &'static str,
        value: String,
        why: &'static str,
    },
    #[error(
        "needs a TSIG key: NSUPDATE_KEY (a key file) or NSUPDATE_KEY_NAME + NSUPDATE_KEY_SECRET"
    )]
    NoKey,
    #[error("{0}")]
    Key(String),
}

/// Parses an `ACMESH_DNS_API_CONFIG` value; also returns warnings (unknown keys, which acme.sh
/// would have passed to another provider).
pub fn parse(value: &str) -> Result<(DnsConfig, Vec<String>), DnsConfigError> {
    let docs =
        YamlLoader::load_from_str(value).map_err(|e| DnsConfigError::Syntax(e.to_string()))?;
    let Some(Yaml::Hash(map)) = docs.first() else {
        return Err(DnsConfigError::Syntax("not a mapping".into()));
    };
    let mut vars = std::collections::BTreeMap::new();
    for (k, v) in map {
        let (Some(k), Some(v)) = (scalar(k), scalar(v)) else {
            return Err(DnsConfigError::Syntax(
                "keys and values must be text or numbers".into(),
            ));
        };
        vars.insert(k, v);
    }
    let get = |k: &str| vars.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    match get("DNS_API") {
        None => return Err(DnsConfigError::NoApi),
        Some(NSUPDATE) => {}
        Some(other) => return Err(DnsConfigError::UnsupportedApi(other.to_owned())),
    }
    let number = |key: &'static str| -> Result<Option<u32>, DnsConfigError> {
        get(key)
            .map(|v| {
                v.parse().map_err(|_| DnsConfigError::Bad {
                    key,
                    value: v.to_owned(),
                    why: "is not a whole number",
                })
            })
            .transpose()
    };
    let port = match number("NSUPDATE_SERVER_PORT")? {
        None => 53,
        Some(p) => u16::try_from(p)
            .ok()
            .filter(|p| *p != 0)
            .ok_or(DnsConfigError::Bad {
                key: "NSUPDATE_SERVER_PORT",
                value: p.to_string(),
                why: "is not a port number",
            })?,
    };
    let key = match (get("NSUPDATE_KEY"), get("NSUPDATE_KEY_SECRET")) {
        (_, Some(secret)) => {
            let name = get("NSUPDATE_KEY_NAME").ok_or(DnsConfigError::NoKey)?;
            let alg = get("NSUPDATE_KEY_ALGORITHM").unwrap_or("hmac-sha256");
            let algorithm = TsigAlg::parse(alg).ok_or(DnsConfigError::Bad {
                key: "NSUPDATE_KEY_ALGORITHM",
                value: alg.to_owned(),
                why: "is not one of hmac-sha1, hmac-sha224, hmac-sha256, hmac-sha384, hmac-sha512",
            })?;
            KeySource::Inline(TsigKey::new(name, algorithm, secret).map_err(DnsConfigError::Key)?)
        }
        (Some(path), None) => KeySource::File(PathBuf::from(path)),
        (None, None) => return Err(DnsConfigError::NoKey),
    };
    let known = [
        "DNS_API",
        "DNS_SLEEP",
        "NSUPDATE_SERVER",
        "NSUPDATE_SERVER_PORT",
        "NSUPDATE_KEY",
        "NSUPDATE_ZONE",
        "NSUPDATE_KEY_NAME",
        "NSUPDATE_KEY_ALGORITHM",
        "NSUPDATE_KEY_SECRET",
    ];
    let warnings = vars
        .keys()
        .filter(|k| !known.contains(&k.as_str()))
        .map(|k| format!("ACMESH_DNS_API_CONFIG: {k} is not a dns_nsupdate setting and is ignored"))
        .collect();
    let config = DnsConfig {
        server: get("NSUPDATE_SERVER").unwrap_or("localhost").to_owned(),
        port,
        zone: get("NSUPDATE_ZONE").map(|z| z.trim_end_matches('.').to_ascii_lowercase()),
        key,
        sleep_secs: sleep_secs(number("DNS_SLEEP")?)?,
    };
    Ok((config, warnings))
}

/// The largest `DNS_SLEEP` accepted, in seconds. Secondaries catch up within seconds of a NOTIFY
/// and within their SOA refresh (minutes) without one; an hour covers any working setup. The
/// order (and the certificate's next attempt) waits the whole sleep, so without a bound a typo
/// (`86400`, or minutes written as seconds × 60) would hold it for days.
pub const DNS_SLEEP_MAX: u32 = 3600;

fn sleep_secs(value: Option<u32>) -> Result<Option<u32>, DnsConfigError> {
    match value {
        Some(s) if s > DNS_SLEEP_MAX => Err(DnsConfigError::Bad {
            key: "DNS_SLEEP",
            value: s.to_string(),
            why: "is more than 3600 seconds (one hour), the most dockside waits: secondaries that lag \
                  longer point at a zone transfer problem; DNS_SLEEP is in seconds",
        }),
        other => Ok(other),
    }
}

fn scalar(y: &Yaml) -> Option<String> {
    match y {
        Yaml::String(s) | Yaml::Real(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Reads the first `key "name" { algorithm …; secret "…"; };` clause of a BIND-style key file
/// (as written by `tsig-keygen`, `ddns-confgen` or Knot's `keymgr -t`); `#`, `//` and `/* */`
/// comments are skipped. Errors say what is missing, never the secret.
pub fn parse_key_file(text: &str) -> Result<TsigKey, String> {
    let tokens = tokenize(&strip_comments(text));
    let mut it = tokens.iter().map(String::as_str).peekable();
    while let Some(t) = it.next() {
        if t != "key" {
            continue;
        }
        let name = it.next().ok_or("a key clause has no name")?;
        if it.next() != Some("{") {
            return Err(format!("key {name:?}: expected '{{' after the name"));
        }
        let (mut algorithm, mut secret) = (None, None);
        loop {
            match it.next() {
                None => return Err(format!("key {name:?}: missing '}}'")),
                Some("}") => break,
                Some(";") => {}
                Some("algorithm") => algorithm = it.next(),
                Some("secret") => secret = it.next(),
                Some(_) => {}
            }
        }
        let alg = algorithm.ok_or_else(|| format!("key {name:?} has no algorithm"))?;
        let algorithm = TsigAlg::parse(alg).ok_or_else(|| {
            format!("key {name:?}: algorithm {alg:?} is not supported (use hmac-sha256)")
        })?;
        let secret = secret.ok_or_else(|| format!("key {name:?} has no secret"))?;
        return TsigKey::new(name, algorithm, secret);
    }
    Err("no `key \"name\" { … };` clause found".into())
}

fn strip_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("/*") {
            rest = after.split_once("*/").map_or("", |(_, r)| r);
        } else if rest.starts_with('#') || rest.starts_with("//") {
            rest = rest.split_once('\n').map_or("", |(_, r)| r);
            out.push('\n');
        } else if rest.starts_with('"') {
            let end = rest[1..].find('"').map_or(rest.len(), |i| i + 2);
            out.push_str(&rest[..end]);
            rest = &rest[end..];
        } else {
            let c = rest.chars().next().unwrap_or(' ');
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

/// Words, quoted strings (unquoted) and the punctuation `{`, `}`, `;` as tokens.
fn tokenize(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' | '}' | ';' => out.push(c.to_string()),
            '"' => out.push(chars.by_ref().take_while(|c| *c != '"').collect()),
            c if c.is_whitespace() => {}
            c => {
                let mut word = c.to_string();
                while let Some(n) = chars.next_if(|n| !n.is_whitespace() && !"{};\"".contains(*n)) {
                    word.push(n);
                }
                out.push(word);
            }
        }
    }
    out
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
