//! What `dockside check` says about the certificates wanted: how each would be ordered
//! (directory, challenge, DNS provider) or why it will not be. Pure; never prints a secret.

use std::fmt::Write;

use crate::acme::spec::{self, AcmeGlobals, ChallengeKind};
use crate::model::CertRequest;

/// One line per certificate request, resolved against the proxy's ACME settings.
pub fn describe(requests: &[CertRequest], globals: &AcmeGlobals) -> String {
    if requests.is_empty() {
        return String::new();
    }
    let mut out = String::from("\nACME orders:\n");
    for req in requests {
        let hosts = req.hosts.join(", ");
        let _ = match spec::resolve(req, globals) {
            Ok((spec, warnings)) => {
                let how = match (&spec.challenge, &spec.dns) {
                    (ChallengeKind::Dns01, Some(dns)) => format!("DNS-01 via {dns}"),
                    (ChallengeKind::TlsAlpn01, _) => "TLS-ALPN-01".to_owned(),
                    (ChallengeKind::Http01, _) => "HTTP-01".to_owned(),
                    (ChallengeKind::Dns01, None) => "DNS-01".to_owned(),
                };
                let _ = writeln!(
                    out,
                    "  {hosts} → {}: {how}, CA {}",
                    spec.base_dir_name, spec.ca_url
                );
                extras(&mut out, &spec);
                warnings
                    .iter()
                    .try_for_each(|w| writeln!(out, "    warning: {w}"))
            }
            Err(e) => writeln!(out, "  {hosts}: not ordered: {e}"),
        };
    }
    out
}

/// The process settings of one certificate (hooks, restart), one line each when set.
fn extras(out: &mut String, spec: &spec::OrderSpec) {
    for (name, hook) in [
        ("ACME_PRE_HOOK", &spec.hooks.pre),
        ("ACME_POST_HOOK", &spec.hooks.post),
    ] {
        if let Some(hook) = hook {
            let _ = writeln!(out, "    {name}: runs {:?}", hook.argv);
        }
    }
    if spec.restart_container {
        let _ = writeln!(
            out,
            "    ACME_RESTART_CONTAINER: restarts {} after each new certificate",
            spec.source
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns01_is_described_without_the_secret() {
        let secret = "c2VjcmV0LXRoYXQtbXVzdC1ub3Qtc2hvdw==";
        let dns = format!(
            r#"{{"DNS_API":"dns_nsupdate","NSUPDATE_SERVER":"ns.b.test","NSUPDATE_ZONE":"b.test","NSUPDATE_KEY_NAME":"acme","NSUPDATE_KEY_SECRET":"{secret}","DNS_SLEEP":"10"}}"#
        );
        let req = |hosts: &[&str], vars: &[(&str, &str)]| CertRequest {
            hosts: hosts.iter().map(|h| h.to_string()).collect(),
            settings: vars
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            source: "shop".into(),
        };
        let out = describe(
            &[
                req(
                    &["*.b.test", "b.test"],
                    &[
                        ("ACME_CHALLENGE", "DNS-01"),
                        ("ACMESH_DNS_API_CONFIG", &dns),
                    ],
                ),
                req(&["*.c.test"], &[]),
                req(
                    &["d.test"],
                    &[
                        ("ACME_POST_HOOK", "notify 'd test'"),
                        ("ACME_RESTART_CONTAINER", "true"),
                    ],
                ),
            ],
            &AcmeGlobals::default(),
        );
        assert!(!out.contains(secret), "{out}");
        assert!(
            out.contains("*.b.test, b.test → wildcard_b.test: DNS-01 via dns_nsupdate to ns.b.test:53, zone b.test, TSIG key acme (hmac-sha256), DNS_SLEEP 10s"),
            "{out}"
        );
        assert!(out.contains("*.c.test: not ordered: shop: wildcard host \"*.c.test\" needs ACME_CHALLENGE=DNS-01"), "{out}");
        assert!(out.contains("d.test → d.test: HTTP-01"), "{out}");
        assert!(
            out.contains("    ACME_POST_HOOK: runs [\"notify\", \"d test\"]\n    ACME_RESTART_CONTAINER: restarts shop"),
            "{out}"
        );
    }
}
