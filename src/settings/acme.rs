//! `ACME_HOST` / `LETSENCRYPT_HOST` → certificate requests, as acme-companion's service data
//! groups them: one SAN certificate per container, or one per host in single-domain mode.

use super::item::{declared_hosts, split_hosts};
use super::names;
use super::value::parse_bool;
use crate::model::{CertRequest, Severity, Skipped, SourceItem};

/// The certificate requests of all items, each item's as `item_requests` gave them, oldest
/// item first: a group of hosts another item already asked for is the older item's.
pub fn merge<'a>(wanted: impl Iterator<Item = &'a [CertRequest]>) -> Vec<CertRequest> {
    let mut out: Vec<CertRequest> = Vec::new();
    // A set, not a scan of `out`: with 10,000 containers with `LETSENCRYPT_HOST` the scan
    // cost 200 ms per change.
    let mut seen: std::collections::HashSet<&[String]> = std::collections::HashSet::new();
    for request in wanted.flatten() {
        if seen.insert(&request.hosts) {
            out.push(request.clone());
        }
    }
    out.sort();
    out
}

/// What one item asks for by itself (kept with its parse by `Merger` while it is unchanged),
/// with warnings in `skipped` for hosts that are not also in the item's `VIRTUAL_HOST`
/// (challenges would then only pass through the fallback).
pub fn item_requests(item: &SourceItem, skipped: &mut Vec<Skipped>) -> Vec<CertRequest> {
    let mut out: Vec<CertRequest> = Vec::new();
    {
        let get = |n: &str| item.vars.get(n).map(|v| v.trim()).filter(|v| !v.is_empty());
        let Some(raw) = get("ACME_HOST").or(get("LETSENCRYPT_HOST")) else {
            return out;
        };
        let setting = if get("ACME_HOST").is_some() {
            "ACME_HOST"
        } else {
            "LETSENCRYPT_HOST"
        };
        let hosts: Vec<String> = split_hosts(raw)
            .into_iter()
            .map(|h| h.trim_end_matches('.').to_owned())
            .collect();
        let virtual_hosts = declared_hosts(item);
        let declared_by = match get("VIRTUAL_HOST_MULTIPORTS") {
            Some(_) => "VIRTUAL_HOST_MULTIPORTS",
            None => "VIRTUAL_HOST",
        };
        // `*.example.com` counts as declared when VIRTUAL_HOST has it or a name it covers.
        let declared = |h: &str| {
            virtual_hosts.iter().any(|v| v == h)
                || h.strip_prefix("*.").is_some_and(|domain| {
                    virtual_hosts
                        .iter()
                        .any(|v| v.split_once('.').is_some_and(|(_, rest)| rest == domain))
                })
        };
        // A standalone certificate (routes file `[[certificate]]`) is for names nothing routes.
        let standalone = item.vars.contains_key(names::STANDALONE_CERTIFICATE);
        for h in hosts.iter().filter(|h| !standalone && !declared(h)) {
            skipped.push(Skipped {
                source: item.name.clone(),
                reason: format!("{setting} lists {h} but {declared_by}={:?} does not: the site will not be served", virtual_hosts.join(",")),
                severity: Severity::Warning,
                hosts: vec![h.to_string()],
            });
        }
        let settings: std::collections::BTreeMap<_, _> = item
            .vars
            .iter()
            .filter(|(k, _)| names::is_certificate_setting(k))
            .map(|(k, v)| (k.clone(), v.trim().to_owned()))
            .collect();
        let single_name = [
            "ACME_SINGLE_DOMAIN_CERTS",
            "LETSENCRYPT_SINGLE_DOMAIN_CERTS",
        ]
        .into_iter()
        .find(|n| get(n).is_some());
        let single = match single_name.map(|n| (n, parse_bool(n, get(n).unwrap_or_default()))) {
            Some((_, Ok(v))) => v,
            Some((_, Err(why))) => {
                skipped.push(Skipped {
                    source: item.name.clone(),
                    reason: format!("{why}; using one certificate for all hosts"),
                    severity: Severity::Warning,
                    hosts: hosts.clone(),
                });
                false
            }
            None => false,
        };
        let groups: Vec<Vec<String>> = if single {
            hosts.iter().map(|h| vec![h.clone()]).collect()
        } else {
            vec![hosts]
        };
        for group in groups.into_iter().filter(|g| !g.is_empty()) {
            if out.iter().any(|r| r.hosts == group) {
                continue;
            }
            out.push(CertRequest {
                hosts: group,
                settings: settings.clone(),
                source: item.name.clone(),
            });
        }
    }
    out
}

#[cfg(test)]
#[path = "acme_tests.rs"]
mod tests;
