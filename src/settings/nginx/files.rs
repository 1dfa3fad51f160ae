//! nginx-proxy's file layout and precedence (reference §1.5, template `location`): which of
//! `conf.d/*.conf`, `vhost.d/…` and `htpasswd/…` apply to a site and each of its paths, and how
//! their levels join into one policy per answer. Pure: the IO side hands in a snapshot.

use std::collections::BTreeMap;

use super::directives::{
    Context, Env, Level, Note, Sourced, read_htpasswd, read_level, read_zones,
};
use super::tokenize::{self, Directive};
use crate::policy::{BasicAuth, Compression, Encoding, ErrorPage, Origin, Policy};

/// The text of nginx-proxy's configuration files, as the IO side last read them. Only files
/// that pass `check` belong here: the IO side keeps a file's last good version otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NginxFiles {
    /// `vhost.d/`: file name → text.
    pub vhost_d: BTreeMap<String, String>,
    /// `htpasswd/`: file name → text.
    pub htpasswd: BTreeMap<String, String>,
    /// `conf.d/*.conf` only: file name → text.
    pub conf_d: BTreeMap<String, String>,
    /// `html/errors/50x.html`.
    pub errors_50x: Option<String>,
    /// `html/errors/<host>/<code>.html`, by `<host>/<code>.html`: a site's pages for the
    /// answers dockside writes itself.
    pub error_pages: BTreeMap<String, String>,
}

/// What nginx-proxy's files ask for one site.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Resolved {
    /// `conf.d` overlaid by `vhost.d/<host>` (or `vhost.d/default`): for answers no location
    /// gives.
    pub server: Policy,
    /// One per path given to `resolve`, in the same order: the server's policy overlaid by the
    /// path's `htpasswd` and `vhost.d` location files.
    pub locations: Vec<Policy>,
    /// Every line the files used for this site could not apply, sorted by file and line.
    pub notes: Vec<Note>,
}

/// nginx-proxy's generated configuration lives in `conf.d/default.conf` in its image; a
/// volume carried over holds that, not the user's settings.
const GENERATED: &str = "default.conf";

/// The policies nginx-proxy's files give `host` (a `VIRTUAL_HOST` item as written: exact,
/// wildcard, or `~regex`) and each of its `paths` (`VIRTUAL_PATH`s as written).
///
/// Levels, outermost first, each overlaid on the one before (`Policy::overlay`): every
/// `conf.d/*.conf` in name order; `vhost.d/<VH>`, else `vhost.d/default`; then per path the
/// `htpasswd` file (`<VH>_<sha1(path)>`, else `<VH>`) and the first of `vhost.d/<VH>_<sha1(path)>_location`,
/// `<VH>_location`, `default_location` — unless `<VH>_<sha1(path)>_location_override` (or, for
/// `/`, `<VH>_location_override`) exists, which replaces both as it replaces nginx-proxy's whole
/// location block. `<VH>` is the host as written, or `sha1(host)` for a regex host.
///
/// Where dockside differs from nginx: `add_header` / `proxy_set_header` of an inner level are
/// added to the outer ones', where nginx would drop the outer ones (a known nginx-proxy trap,
/// which would also drop its `Strict-Transport-Security`).
#[cfg(test)]
pub fn resolve(files: &NginxFiles, host: &str, paths: &[&str]) -> Resolved {
    resolve_with(files, &proxy_wide(files), host, paths)
}

/// `conf.d`, read once per snapshot: every site starts from it.
#[derive(Debug, Clone)]
pub struct ProxyWide {
    zones: BTreeMap<String, u64>,
    levels: Vec<Level>,
    notes: Vec<Note>,
}

/// Reads `conf.d/*.conf`: its `limit_req_zone` definitions and one policy level per file.
pub fn proxy_wide(files: &NginxFiles) -> ProxyWide {
    let mut notes = Vec::new();
    let parsed_conf_d = parse_conf_d(files, &mut notes);
    let mut zones = BTreeMap::new();
    for (file, directives) in &parsed_conf_d {
        read_zones(file, directives, &mut zones, &mut notes);
    }
    let env = Env {
        zones: &zones,
        htpasswd: &files.htpasswd,
    };
    let levels: Vec<Level> = parsed_conf_d
        .iter()
        .map(|(file, directives)| {
            let (level, n) = read_level(file, directives, Context::Http, &env);
            notes.extend(n);
            level
        })
        .collect();
    ProxyWide {
        zones,
        levels,
        notes,
    }
}

/// `resolve`, starting from a `conf.d` already read by [`proxy_wide`] (so a build with many
/// sites reads it once, not once per site).
pub fn resolve_with(
    files: &NginxFiles,
    conf_d: &ProxyWide,
    host: &str,
    paths: &[&str],
) -> Resolved {
    let mut notes = conf_d.notes.clone();
    let env = Env {
        zones: &conf_d.zones,
        htpasswd: &files.htpasswd,
    };
    let mut levels = conf_d.levels.clone();

    let vh = file_host(host);
    let server_file = [vh.as_str(), "default"]
        .into_iter()
        .find(|name| files.vhost_d.contains_key(*name));
    if let Some(name) = server_file {
        levels.push(read_vhost_d(files, name, Context::Server, &env, &mut notes));
    }
    let server = combine(&levels);

    let locations = paths
        .iter()
        .map(|path| {
            let mut chain = levels.clone();
            chain.extend(location_levels(files, host, &vh, path, &env, &mut notes));
            combine(&chain)
        })
        .collect();
    notes.sort();
    notes.dedup();
    Resolved {
        server,
        locations,
        notes,
    }
}

/// nginx-proxy's `errors/50x.html` as the body of the fallback server's 500, 502, 503 and
/// 504 (the answers for unknown hosts), for `DesiredState::fallback_pages`.
pub fn fallback_pages(files: &NginxFiles) -> BTreeMap<u16, ErrorPage> {
    let Some(body) = &files.errors_50x else {
        return BTreeMap::new();
    };
    [500, 502, 503, 504]
        .into_iter()
        .map(|code| {
            let page = ErrorPage {
                content_type: "text/html".into(),
                body: body.clone(),
            };
            (code, page)
        })
        .collect()
}

/// The lowercase hex SHA-1 nginx-proxy's template uses in file names (`sha1 $path`). Hex by
/// table, not `format!` per byte: that was most of a 10,000-site rebuild (docs/benchmarks.md).
pub fn sha1_hex(s: &str) -> String {
    use aws_lc_rs::digest::{SHA1_FOR_LEGACY_USE_ONLY, digest};
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = digest(&SHA1_FOR_LEGACY_USE_ONLY, s.as_bytes());
    let mut hex = String::with_capacity(2 * digest.as_ref().len());
    for b in digest.as_ref() {
        hex.push(char::from(HEX[usize::from(b >> 4)]));
        hex.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    hex
}

/// `<VH>` in file names: the host as written (wildcards literally), or `sha1(host)` for a
/// regex host, whose characters could not name a file.
pub(crate) fn file_host(host: &str) -> String {
    if host.starts_with('~') {
        sha1_hex(host)
    } else {
        host.to_owned()
    }
}

fn parse_conf_d(files: &NginxFiles, notes: &mut Vec<Note>) -> Vec<(String, Vec<Directive>)> {
    let mut parsed = Vec::new();
    for (name, text) in &files.conf_d {
        let file = format!("conf.d/{name}");
        if name == GENERATED {
            notes.push(Note {
                file,
                line: 0,
                directive: String::new(),
                what: "skipped: nginx-proxy generates this file".into(),
            });
            continue;
        }
        if let Some(directives) = parse(&file, text, notes) {
            parsed.push((file, directives));
        }
    }
    parsed
}

/// A file's directives; a file that does not parse is reported and skipped (the IO side is
/// meant to have kept its last good version instead).
fn parse(file: &str, text: &str, notes: &mut Vec<Note>) -> Option<Vec<Directive>> {
    match tokenize::parse(text) {
        Ok(directives) => Some(directives),
        Err(e) => {
            notes.push(Note {
                file: file.to_owned(),
                line: e.line,
                directive: String::new(),
                what: format!("skipped: does not parse ({})", e.kind),
            });
            None
        }
    }
}

fn read_vhost_d(
    files: &NginxFiles,
    name: &str,
    context: Context,
    env: &Env<'_>,
    notes: &mut Vec<Note>,
) -> Level {
    let file = format!("vhost.d/{name}");
    let text = files.vhost_d.get(name).map_or("", String::as_str);
    let Some(directives) = parse(&file, text, notes) else {
        return Level::default();
    };
    let (level, n) = read_level(&file, &directives, context, env);
    notes.extend(n);
    level
}

/// The levels nginx-proxy puts inside a path's `location {}` block.
fn location_levels(
    files: &NginxFiles,
    host: &str,
    vh: &str,
    path: &str,
    env: &Env<'_>,
    notes: &mut Vec<Note>,
) -> Vec<Level> {
    // Every level below comes from one of these two directories; without them, no file name
    // needs computing (with 10,000 sites, that was a fifth of each rebuild).
    if files.vhost_d.is_empty() && files.htpasswd.is_empty() {
        return Vec::new();
    }
    let vh_ph = format!("{vh}_{}", sha1_hex(path));
    let exists = |name: &String| files.vhost_d.contains_key(name);
    let path_override = format!("{vh_ph}_location_override");
    let host_override = format!("{vh}_location_override");
    let override_file = Some(path_override)
        .filter(exists)
        .or_else(|| Some(host_override).filter(|n| path == "/" && exists(n)));
    if let Some(name) = override_file {
        return vec![read_vhost_d(files, &name, Context::Location, env, notes)];
    }
    let mut levels = Vec::new();
    let regex = host.starts_with('~');
    let htpasswd = [(vh_ph.as_str(), path), (vh, "")]
        .into_iter()
        .find(|(name, _)| files.htpasswd.contains_key(*name));
    if let Some((name, realm_path)) = htpasswd {
        let file = format!("htpasswd/{name}");
        let users = read_htpasswd(&file, &files.htpasswd[name], notes);
        let realm = if regex {
            "Restricted access".to_owned()
        } else {
            format!("Restricted {host}{realm_path}")
        };
        levels.push(Level {
            realm: Some(Sourced {
                value: Some(realm),
                from: file.clone(),
            }),
            users: Some(Sourced {
                value: users,
                from: file,
            }),
            ..Level::default()
        });
    }
    let location_file = [
        format!("{vh_ph}_location"),
        format!("{vh}_location"),
        "default_location".to_owned(),
    ]
    .into_iter()
    .find(|name| exists(name));
    if let Some(name) = location_file {
        levels.push(read_vhost_d(files, &name, Context::Location, env, notes));
    }
    levels
}

/// The `gzip_types` nginx-proxy's template sets at the http level (reference §1.6.9): what a
/// `gzip on;` alone compresses there, besides `text/html`.
const NGINX_PROXY_GZIP_TYPES: [&str; 9] = [
    "text/plain",
    "text/css",
    "application/javascript",
    "application/json",
    "application/x-javascript",
    "text/xml",
    "application/xml",
    "application/xml+rss",
    "text/javascript",
];

/// Joins levels (outermost first) as nginx inherits them: `Policy::overlay` for most parts;
/// `auth_basic` and `auth_basic_user_file` each from the innermost level that has it, active
/// only with a realm that is not `off` and a user file; `gzip`, `gzip_types`,
/// `gzip_min_length` and `gzip_comp_level` each likewise, with nginx's defaults (20 bytes,
/// level 1, `text/html` always compressed) and nginx-proxy's `gzip_types`. Only gzip comes from files: the settings side may
/// add br and zstd to `Compression::encodings`.
fn combine(levels: &[Level]) -> Policy {
    let mut policy = Policy::default();
    for level in levels {
        policy.overlay(&level.policy);
    }
    let innermost = levels.iter().rev();
    let realm = innermost.clone().find_map(|l| l.realm.as_ref());
    let users = innermost.clone().find_map(|l| l.users.as_ref());
    if let (
        Some(Sourced {
            value: Some(realm), ..
        }),
        Some(users),
    ) = (realm, users)
    {
        policy.auth = Some(BasicAuth {
            realm: realm.clone(),
            users: users.value.clone(),
        });
        policy.origins.push(Origin {
            part: "auth",
            from: users.from.clone(),
        });
    }
    let gzip = innermost.clone().find_map(|l| l.gzip.as_ref());
    if let Some(Sourced { value: true, from }) = gzip {
        let mut types = vec!["text/html".to_owned()];
        let listed = innermost.clone().find_map(|l| l.gzip_types.clone());
        let listed = listed.unwrap_or_else(|| NGINX_PROXY_GZIP_TYPES.map(str::to_owned).into());
        for t in listed {
            if !types.contains(&t) {
                types.push(t);
            }
        }
        policy.compression = Some(Compression {
            encodings: vec![Encoding::Gzip],
            types,
            min_length: innermost
                .clone()
                .find_map(|l| l.gzip_min_length)
                .unwrap_or(20),
            level: innermost
                .clone()
                .find_map(|l| l.gzip_comp_level)
                .unwrap_or(1),
        });
        policy.origins.push(Origin {
            part: "compression",
            from: from.clone(),
        });
    }
    policy
}

#[cfg(test)]
#[path = "files_tests.rs"]
mod tests;
