//! What `dockside check` says about the certificates wanted: how each would be ordered
//! (directory, challenge, DNS provider) or why it will not be. Pure; never prints a secret.

use std::fmt::Write;

use crate::acme::spec::{self, AcmeGlobals, ChallengeKind, KeyType, OrderSpec};
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
                    "  {hosts} → {}: {how}, CA {}{}",
                    spec.base_dir_name,
                    spec.ca_url,
                    order_options(&spec)
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

/// The settings that shape the order beyond the challenge (empty when all are defaults).
fn order_options(spec: &OrderSpec) -> String {
    let mut out = String::new();
    if spec.key_type != KeyType::default() {
        let _ = write!(out, ", key {}", spec.key_type);
    }
    if let Some(profile) = &spec.profile {
        let _ = write!(out, ", profile {profile:?}");
    }
    if let Some(chain) = &spec.preferred_chain {
        let _ = write!(out, ", preferred chain {chain:?}");
    }
    if spec.ocsp_must_staple {
        out.push_str(", OCSP must-staple");
    }
    if spec.zerossl.is_some() {
        out.push_str(", EAB from ZeroSSL's API (ZEROSSL_API_KEY)");
    }
    out
}

/// The process settings of one certificate (hooks, restart), one line each when set.
fn extras(out: &mut String, spec: &OrderSpec) {
    for (name, hook) in [
        ("ACME_PRE_HOOK", &spec.hooks.pre),
        ("ACME_POST_HOOK", &spec.hooks.post),
    ] {
        if let Some(hook) = hook {
            let _ = writeln!(out, "    {name}: runs {}", hook.describe());
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
            out.contains("    ACME_POST_HOOK: runs notify (1 argument)\n    ACME_RESTART_CONTAINER: restarts shop"),
            "{out}"
        );
    }

    #[test]
    fn order_settings_are_described_without_the_zerossl_key() {
        let settings = [
            ("ACME_KEYSIZE", "ec-521"),
            ("ACME_CERT_PROFILE", "shortlived"),
            ("ACME_PREFERRED_CHAIN", "ISRG Root X1"),
            ("ACME_OCSP", "true"),
            ("ACME_CA_URI", spec::ZEROSSL_DIRECTORY),
            ("ZEROSSL_API_KEY", "secret-api-key"),
        ];
        let req = CertRequest {
            hosts: vec!["e.test".into()],
            settings: settings
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            source: "shop".into(),
        };
        let out = describe(&[req], &AcmeGlobals::default());
        assert!(!out.contains("secret-api-key"), "{out}");
        assert!(
            out.contains(r#"e.test → e.test: HTTP-01, CA https://acme.zerossl.com/v2/DV90, key ec-521, profile "shortlived", preferred chain "ISRG Root X1", OCSP must-staple, EAB from ZeroSSL's API (ZEROSSL_API_KEY)"#),
            "{out}"
        );
    }
}
