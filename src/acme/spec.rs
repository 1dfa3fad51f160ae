//! Pure resolution of one `CertRequest` (a container's `ACME_*` / `LETSENCRYPT_*` settings)
//! against the process-wide defaults into the `OrderSpec` the ACME engine executes.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::acme::dns::{self, DnsConfig};
use crate::acme::hooks::Hooks;
use crate::model::CertRequest;
use crate::settings::parse_bool;

/// Let's Encrypt production, acme-companion's default `ACME_CA_URI`.
pub const LE_PRODUCTION: &str = "https://acme-v02.api.letsencrypt.org/directory";
/// Let's Encrypt staging, forced by `LETSENCRYPT_TEST=true`.
pub const LE_STAGING: &str = "https://acme-staging-v02.api.letsencrypt.org/directory";

/// Private key types dockside orders certificates for (`ACME_KEYSIZE` / `DEFAULT_KEY_SIZE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum KeyType {
    /// ECDSA P-256: dockside's default (acme-companion defaults to RSA 4096, which is slower
    /// to generate and to handshake with, for no practical gain).
    #[default]
    EcP256,
    EcP384,
    EcP521,
    Rsa2048,
    Rsa3072,
    Rsa4096,
    /// Slow to generate (seconds) and to handshake with; acme-companion offers it, so do we.
    Rsa8192,
}

impl KeyType {
    /// Parses the acme-companion spelling (`ec-256`, `ec-384`, `ec-521`, `2048`, `3072`,
    /// `4096`, `8192`).
    pub fn parse(value: &str) -> Option<KeyType> {
        Some(match value.trim().to_ascii_lowercase().as_str() {
            "ec-256" => KeyType::EcP256,
            "ec-384" => KeyType::EcP384,
            "ec-521" => KeyType::EcP521,
            "2048" => KeyType::Rsa2048,
            "3072" => KeyType::Rsa3072,
            "4096" => KeyType::Rsa4096,
            "8192" => KeyType::Rsa8192,
            _ => return None,
        })
    }
}

impl std::fmt::Display for KeyType {
    /// The acme-companion spelling, as `ACME_KEYSIZE` takes it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            KeyType::EcP256 => "ec-256",
            KeyType::EcP384 => "ec-384",
            KeyType::EcP521 => "ec-521",
            KeyType::Rsa2048 => "2048",
            KeyType::Rsa3072 => "3072",
            KeyType::Rsa4096 => "4096",
            KeyType::Rsa8192 => "8192",
        })
    }
}

impl KeyType {
    /// The modulus size of the RSA types (`None` for EC).
    pub fn rsa_bits(self) -> Option<usize> {
        match self {
            KeyType::Rsa2048 => Some(2048),
            KeyType::Rsa3072 => Some(3072),
            KeyType::Rsa4096 => Some(4096),
            KeyType::Rsa8192 => Some(8192),
            KeyType::EcP256 | KeyType::EcP384 | KeyType::EcP521 => None,
        }
    }
}

/// How dockside proves control of a name (`ACME_CHALLENGE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum ChallengeKind {
    /// Answered on the HTTP listener under `/.well-known/acme-challenge/`.
    #[default]
    Http01,
    /// Answered on the HTTPS listener for ALPN `acme-tls/1`.
    TlsAlpn01,
    /// A TXT record published through the DNS provider of `ACMESH_DNS_API_CONFIG`; the only
    /// challenge that can prove a wildcard.
    Dns01,
}

/// External Account Binding credentials (`ACME_EAB_KID` + `ACME_EAB_HMAC_KEY`).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Eab {
    pub kid: String,
    /// The HMAC key as given: base64url (padding optional), as CAs hand it out.
    pub hmac_key: String,
}

impl std::fmt::Debug for Eab {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The HMAC key is a secret: never print it.
        f.debug_struct("Eab")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// A ZeroSSL API access key (`ZEROSSL_API_KEY`): a secret, never printed.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ZeroSslKey(pub String);

impl std::fmt::Debug for ZeroSslKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ZeroSslKey(..)")
    }
}

/// ZeroSSL's ACME directory: the CA for which `ZEROSSL_API_KEY` fetches EAB credentials.
pub const ZEROSSL_DIRECTORY: &str = "https://acme.zerossl.com/v2/DV90";
/// ZeroSSL's REST API, which hands out EAB credentials for an API key.
pub const ZEROSSL_API: &str = "https://api.zerossl.com";

/// Where `ZEROSSL_API_KEY` applies: ZeroSSL's directory and API. Only tests point these
/// elsewhere (a local double of the API in front of Pebble); users have no setting for it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ZeroSslEndpoints {
    pub directory: String,
    pub api: String,
}

impl Default for ZeroSslEndpoints {
    fn default() -> Self {
        ZeroSslEndpoints {
            directory: ZEROSSL_DIRECTORY.to_owned(),
            api: ZEROSSL_API.to_owned(),
        }
    }
}

/// How a new account gets its EAB credentials from ZeroSSL's API (acme-companion's
/// `ZEROSSL_API_KEY`): resolved when the CA is ZeroSSL and no `ACME_EAB_*` is given.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ZeroSslEab {
    /// The API base URL (`https://api.zerossl.com`).
    pub api: String,
    pub key: ZeroSslKey,
}

/// Process-wide ACME defaults: the acme-companion container's variables. Per-container
/// settings override them. `Config` builds this with `from_vars` over the environment, once.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AcmeGlobals {
    /// `DEFAULT_EMAIL`.
    pub email: Option<String>,
    /// `ACME_CA_URI`; `None` = Let's Encrypt production.
    pub ca_url: Option<String>,
    /// `LETSENCRYPT_TEST` on the proxy: every certificate from the staging CA.
    pub staging: bool,
    /// `ACME_EAB_KID` + `ACME_EAB_HMAC_KEY`.
    pub eab: Option<Eab>,
    /// `DEFAULT_KEY_SIZE` (already validated; invalid → default with a warning).
    pub key_type: KeyType,
    /// `ACME_CHALLENGE`.
    pub challenge: Option<String>,
    /// `ACME_RENEW_AFTER` in days after issuance; `None` = at 2/3 of the lifetime.
    pub renew_after_days: Option<u32>,
    /// `CA_BUNDLE`: extra PEM roots trusted when talking to the CA (Pebble, private CAs).
    pub ca_bundle: Option<PathBuf>,
    /// `RENEW_PRIVATE_KEYS=false` (or legacy `REUSE_PRIVATE_KEYS=true`): renewals keep the
    /// key (e.g. for DANE/TLSA pins). Default: a new key at every renewal.
    pub reuse_private_keys: bool,
    /// `ACMESH_DNS_API_CONFIG` as written (YAML or JSON); parsed per certificate, since a
    /// container's own value replaces it.
    pub dns_api_config: Option<String>,
    /// `ACME_CERT_PROFILE`: the CA's certificate profile (e.g. Let's Encrypt's `shortlived`).
    pub cert_profile: Option<String>,
    /// `ZEROSSL_API_KEY`.
    pub zerossl_api_key: Option<ZeroSslKey>,
    /// ZeroSSL's endpoints (fixed in production; see `ZeroSslEndpoints`).
    pub zerossl: ZeroSslEndpoints,
    /// `ACME_PRE_HOOK` / `ACME_POST_HOOK` as written; a container's own value replaces them.
    pub pre_hook: Option<String>,
    pub post_hook: Option<String>,
    /// `ACME_MAX_ORDERS_PER_HOUR`: new orders per ACME account (CA and email) per hour, a
    /// token bucket of that size; `None` = `budget::DEFAULT_ORDERS_PER_HOUR`.
    pub max_orders_per_hour: Option<u32>,
}

impl AcmeGlobals {
    /// Reads acme-companion's variable names from a key/value source (the process environment
    /// while `Config` is built, a map in tests); returns warnings for values that fell back to
    /// a default.
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> (AcmeGlobals, Vec<String>) {
        let mut warnings = Vec::new();
        let get = |k: &str| {
            get(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let key_type = match get("DEFAULT_KEY_SIZE") {
            None => KeyType::default(),
            Some(v) => KeyType::parse(&v).unwrap_or_else(|| {
                warnings.push(format!(
                    "DEFAULT_KEY_SIZE={v:?} is not one of {KEY_SIZES}: using ec-256"
                ));
                KeyType::default()
            }),
        };
        let renew_after_days = get("ACME_RENEW_AFTER").and_then(|v| {
            let msg = format!("ACME_RENEW_AFTER={v:?} is not a whole number of days: renewing at 2/3 of the lifetime");
            v.parse().map_err(|_| warnings.push(msg)).ok()
        });
        let staging = get("LETSENCRYPT_TEST").is_some_and(|v| {
            parse_bool("LETSENCRYPT_TEST", &v).unwrap_or_else(|e| {
                warnings.push(e);
                false
            })
        });
        let mut flag = |name: &str| {
            let v = get(name)?;
            parse_bool(name, &v).map_err(|e| warnings.push(e)).ok()
        };
        let reuse_private_keys =
            flag("RENEW_PRIVATE_KEYS") == Some(false) || flag("REUSE_PRIVATE_KEYS") == Some(true);
        for name in CONTAINER_ONLY {
            if get(name).is_some() {
                warnings.push(format!("{name} on dockside is ignored: acme-companion reads it on the proxied container only; set it there"));
            }
        }
        let max_orders_per_hour = get("ACME_MAX_ORDERS_PER_HOUR").and_then(|v| {
            let msg = format!(
                "ACME_MAX_ORDERS_PER_HOUR={v:?} is not a whole number of orders of at least 1: using {}",
                super::budget::DEFAULT_ORDERS_PER_HOUR
            );
            v.parse().ok().filter(|n| *n >= 1).or_else(|| {
                warnings.push(msg);
                None
            })
        });
        let globals = AcmeGlobals {
            email: get("DEFAULT_EMAIL"),
            ca_url: get("ACME_CA_URI"),
            staging,
            eab: eab(get("ACME_EAB_KID"), get("ACME_EAB_HMAC_KEY")),
            key_type,
            challenge: get("ACME_CHALLENGE"),
            renew_after_days,
            ca_bundle: get("CA_BUNDLE").map(PathBuf::from),
            reuse_private_keys,
            dns_api_config: get("ACMESH_DNS_API_CONFIG"),
            cert_profile: get("ACME_CERT_PROFILE"),
            zerossl_api_key: get("ZEROSSL_API_KEY").map(ZeroSslKey),
            zerossl: ZeroSslEndpoints::default(),
            pre_hook: get("ACME_PRE_HOOK"),
            post_hook: get("ACME_POST_HOOK"),
            max_orders_per_hour,
        };
        (globals, warnings)
    }
}

fn eab(kid: Option<String>, hmac_key: Option<String>) -> Option<Eab> {
    Some(Eab {
        kid: kid?,
        hmac_key: hmac_key?,
    })
}

/// Everything one ACME order needs, resolved: what the engine executes and what the
/// reconciler compares against the certificate on disk.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct OrderSpec {
    /// Lower-case, deduplicated, in the user's order; the first names the directory.
    pub hosts: Vec<String>,
    /// Directory under the certs dir: the first host, `_test_` prefixed for staging CAs.
    pub base_dir_name: String,
    pub email: Option<String>,
    pub ca_url: String,
    pub key_type: KeyType,
    pub challenge: ChallengeKind,
    /// The DNS provider settings, with `ChallengeKind::Dns01` only.
    pub dns: Option<DnsConfig>,
    pub renew_after_days: Option<u32>,
    pub eab: Option<Eab>,
    /// Renewals keep `key.pem` (`ACME_RENEW_PRIVATE_KEYS=false`) when it fits `key_type`.
    pub reuse_key: bool,
    /// `ACME_CERT_PROFILE`: asked for when the CA's directory lists it.
    pub profile: Option<String>,
    /// `ACME_PREFERRED_CHAIN`: the issuer CN the topmost certificate of the chain should have.
    pub preferred_chain: Option<String>,
    /// `ACME_OCSP=true`: the CSR asks for the OCSP must-staple (TLS Feature) extension.
    pub ocsp_must_staple: bool,
    /// `ZEROSSL_API_KEY`, when a new account needs EAB credentials from ZeroSSL's API.
    pub zerossl: Option<ZeroSslEab>,
    /// The container or routes entry asking, for logs.
    pub source: String,
    /// `ACME_PRE_HOOK` / `ACME_POST_HOOK`, split (see `hooks`).
    pub hooks: Hooks,
    /// `ACME_RESTART_CONTAINER` (legacy `LETSENCRYPT_RESTART_CONTAINER`): restart `source`
    /// after its certificate was written.
    pub restart_container: bool,
}

/// Why a `CertRequest` cannot be ordered; names the setting and the host so the log is actionable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    #[error("{item}: ACME_HOST/LETSENCRYPT_HOST is empty")]
    NoHosts { item: String },
    #[error(
        "{item}: wildcard host {host:?} needs ACME_CHALLENGE=DNS-01 (a CA validates wildcards only through DNS; {challenge} cannot)"
    )]
    Wildcard {
        item: String,
        host: String,
        challenge: &'static str,
    },
    #[error(
        "{item}: {host:?} is not a valid wildcard (only a whole leftmost label may be `*`, as in *.example.com)"
    )]
    BadWildcard { item: String, host: String },
    #[error(
        "{item}: ACME_CHALLENGE=DNS-01 for {host:?} needs ACMESH_DNS_API_CONFIG (on the container or on dockside), e.g. {{\"DNS_API\": \"dns_nsupdate\", ...}}"
    )]
    NoDnsConfig { item: String, host: String },
    #[error("{item}: ACMESH_DNS_API_CONFIG {why} (the value set on {origin})")]
    DnsConfig {
        item: String,
        why: dns::DnsConfigError,
        /// Which value was bad: the container's own or dockside's, used for every container.
        origin: &'static str,
    },
    #[error("{item}: ACME_CHALLENGE={value:?} is unknown (use HTTP-01, TLS-ALPN-01 or DNS-01)")]
    UnknownChallenge { item: String, value: String },
}

/// A resolved spec plus the warnings (fallbacks) worth logging once.
pub type Resolved = (OrderSpec, Vec<String>);

/// Resolves one request; per-container values win over globals, `ACME_*` over `LETSENCRYPT_*`.
pub fn resolve(req: &CertRequest, globals: &AcmeGlobals) -> Result<Resolved, SpecError> {
    let s = &req.settings;
    let source = req.source.clone();
    let mut warnings = Vec::new();
    let hosts = normalize_hosts(&req.hosts);
    let Some(first) = hosts.first() else {
        return Err(SpecError::NoHosts { item: source });
    };
    let challenge = challenge(
        get(s, &["ACME_CHALLENGE"]).or(globals.challenge.clone()),
        &source,
    )?;
    check_wildcards(&hosts, challenge, &source)?;
    let dns = match challenge {
        ChallengeKind::Dns01 => {
            let (raw, origin) = match get(s, &["ACMESH_DNS_API_CONFIG"]) {
                Some(own) => (Some(own), "the container"),
                None => (globals.dns_api_config.clone(), "dockside"),
            };
            let raw = raw.ok_or_else(|| SpecError::NoDnsConfig {
                item: source.clone(),
                host: first.clone(),
            })?;
            let (config, w) = dns::parse(&raw).map_err(|why| SpecError::DnsConfig {
                item: source.clone(),
                why,
                origin,
            })?;
            warnings.extend(w.into_iter().map(|w| format!("{source}: {w}")));
            Some(config)
        }
        _ => None,
    };
    let key_type = match get(s, &["ACME_KEYSIZE", "LETSENCRYPT_KEYSIZE"]) {
        None => globals.key_type,
        Some(v) => KeyType::parse(&v).unwrap_or_else(|| {
            warnings.push(format!(
                "{source}: ACME_KEYSIZE={v:?} is not one of {KEY_SIZES}: using DEFAULT_KEY_SIZE"
            ));
            globals.key_type
        }),
    };
    let test = match get(s, &["LETSENCRYPT_TEST"]) {
        None => globals.staging,
        Some(v) => parse_bool("LETSENCRYPT_TEST", &v).unwrap_or_else(|e| {
            warnings.push(format!("{source}: {e}"));
            globals.staging
        }),
    };
    let ca_url = match (test, get(s, &["ACME_CA_URI"]).or(globals.ca_url.clone())) {
        (true, _) => LE_STAGING.to_owned(),
        (false, Some(url)) => url,
        (false, None) => LE_PRODUCTION.to_owned(),
    };
    let renew_after_days = match get(s, &["ACME_RENEW_AFTER"]) {
        None => globals.renew_after_days,
        Some(v) => v.parse().map(Some).unwrap_or_else(|_| {
            let msg = "is not a whole number of days: using the global value";
            warnings.push(format!("{source}: ACME_RENEW_AFTER={v:?} {msg}"));
            globals.renew_after_days
        }),
    };
    let staging = ca_url.starts_with("https://acme-staging");
    // acme-companion names a wildcard's directory `wildcard_<domain>`.
    let dir = match first.strip_prefix("*.") {
        Some(domain) => format!("wildcard_{domain}"),
        None => first.clone(),
    };
    let base_dir_name = if staging { format!("_test_{dir}") } else { dir };
    let eab =
        eab(get(s, &["ACME_EAB_KID"]), get(s, &["ACME_EAB_HMAC_KEY"])).or(globals.eab.clone());
    // acme-companion registers staging accounts without an email.
    let email = if staging {
        None
    } else {
        get(s, &["ACME_EMAIL", "LETSENCRYPT_EMAIL"]).or(globals.email.clone())
    };
    let reuse_key = match get(s, &["ACME_RENEW_PRIVATE_KEYS"]) {
        None => globals.reuse_private_keys,
        Some(v) => parse_bool("ACME_RENEW_PRIVATE_KEYS", &v)
            .map(|renew| !renew)
            .unwrap_or_else(|e| {
                warnings.push(format!("{source}: {e}"));
                globals.reuse_private_keys
            }),
    };
    let ocsp_must_staple = match get(s, &["ACME_OCSP"]) {
        None => false,
        Some(v) => parse_bool("ACME_OCSP", &v).unwrap_or_else(|e| {
            warnings.push(format!("{source}: {e}"));
            false
        }),
    };
    // acme-companion asks ZeroSSL's API only for ZeroSSL, and only when no EAB is given.
    let zerossl = match (&eab, &ca_url) {
        (None, ca) if *ca == globals.zerossl.directory => get(s, &["ZEROSSL_API_KEY"])
            .map(ZeroSslKey)
            .or(globals.zerossl_api_key.clone())
            .map(|key| ZeroSslEab {
                api: globals.zerossl.api.clone(),
                key,
            }),
        _ => None,
    };
    let hooks = Hooks::resolve(
        &source,
        (get(s, &["ACME_PRE_HOOK"]), get(s, &["ACME_POST_HOOK"])),
        (globals.pre_hook.as_deref(), globals.post_hook.as_deref()),
        &mut warnings,
    );
    let restart = ["ACME_RESTART_CONTAINER", "LETSENCRYPT_RESTART_CONTAINER"];
    let restart_container = get(s, &restart).is_some_and(|v| {
        let name = restart
            .into_iter()
            .find(|n| get(s, &[n]).is_some())
            .unwrap_or(restart[0]);
        parse_bool(name, &v).unwrap_or_else(|e| {
            warnings.push(format!("{source}: {e}"));
            false
        })
    });
    let spec = OrderSpec {
        hosts,
        base_dir_name,
        email,
        ca_url,
        key_type,
        challenge,
        dns,
        renew_after_days,
        eab,
        reuse_key,
        profile: get(s, &["ACME_CERT_PROFILE"]).or(globals.cert_profile.clone()),
        preferred_chain: get(s, &["ACME_PREFERRED_CHAIN"]),
        ocsp_must_staple,
        zerossl,
        source,
        hooks,
        restart_container,
    };
    Ok((spec, warnings))
}

/// The accepted `ACME_KEYSIZE` / `DEFAULT_KEY_SIZE` values, for warnings.
const KEY_SIZES: &str = "ec-256, ec-384, ec-521, 2048, 3072, 4096, 8192";

/// Settings acme-companion reads on proxied containers only (no default on the companion).
const CONTAINER_ONLY: &[&str] = &["ACME_PREFERRED_CHAIN", "ACME_OCSP"];

/// First non-empty value among `names` (new spelling first).
fn get(s: &BTreeMap<String, String>, names: &[&str]) -> Option<String> {
    names
        .iter()
        .filter_map(|n| s.get(*n))
        .map(|v| v.trim())
        .find(|v| !v.is_empty())
        .map(str::to_owned)
}

/// acme-companion: split on `,`, trim, drop a trailing `.` and empty items; we also lower-case
/// and deduplicate, since a CA would reject a duplicate identifier.
fn normalize_hosts(hosts: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for h in hosts.iter().flat_map(|h| h.split(',')) {
        let h = h.trim().trim_end_matches('.').to_ascii_lowercase();
        if !h.is_empty() && !out.contains(&h) {
            out.push(h);
        }
    }
    out
}

/// Wildcards need DNS-01, and `*` only as a whole leftmost label.
fn check_wildcards(
    hosts: &[String],
    challenge: ChallengeKind,
    source: &str,
) -> Result<(), SpecError> {
    for host in hosts.iter().filter(|h| h.contains('*')) {
        let rest = host.strip_prefix("*.").unwrap_or(host);
        if rest.contains('*') || !rest.contains('.') {
            return Err(SpecError::BadWildcard {
                item: source.to_owned(),
                host: host.clone(),
            });
        }
        let name = match challenge {
            ChallengeKind::Dns01 => continue,
            ChallengeKind::Http01 => "HTTP-01",
            ChallengeKind::TlsAlpn01 => "TLS-ALPN-01",
        };
        return Err(SpecError::Wildcard {
            item: source.to_owned(),
            host: host.clone(),
            challenge: name,
        });
    }
    Ok(())
}

fn challenge(value: Option<String>, source: &str) -> Result<ChallengeKind, SpecError> {
    let Some(v) = value else {
        return Ok(ChallengeKind::Http01);
    };
    match v.to_ascii_uppercase().as_str() {
        "HTTP-01" => Ok(ChallengeKind::Http01),
        "TLS-ALPN-01" => Ok(ChallengeKind::TlsAlpn01),
        "DNS-01" => Ok(ChallengeKind::Dns01),
        _ => Err(SpecError::UnknownChallenge {
            item: source.to_owned(),
            value: v,
        }),
    }
}

#[cfg(test)]
#[path = "spec_tests.rs"]
mod tests;
