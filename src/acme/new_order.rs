//! The newOrder request: the certificate profile (`ACME_CERT_PROFILE`, draft-aaron-acme-profiles)
//! when the CA's directory lists it, and ARI's `replaces` (RFC 9773 §5) when renewing a
//! certificate — which lets a CA such as Let's Encrypt exempt the renewal from rate limits.
//! A CA that refuses `replaces` gets the order once more without it.

use std::borrow::Cow;

use instant_acme::{Account, CertificateIdentifier, Identifier, NewOrder, Order};

use crate::acme::client::RequestError;
use crate::acme::spec::OrderSpec;

/// Places the order. `replaces` is the ARI id (`<AKI>.<serial>`, base64url) of the certificate
/// this one renews.
pub(super) async fn place(
    account: &Account,
    spec: &OrderSpec,
    ids: &[Identifier],
    replaces: Option<&str>,
) -> Result<Order, instant_acme::Error> {
    let profile = spec
        .profile
        .as_deref()
        .filter(|p| offered(account, spec, p));
    let plain = || match profile {
        Some(profile) => NewOrder::new(ids).profile(profile),
        None => NewOrder::new(ids),
    };
    let Some(id) = replaces.and_then(cert_id) else {
        return account.new_order(&plain()).await;
    };
    match account.new_order(&plain().replaces(id)).await {
        Err(e) if refused_replaces(&e) => {
            if !matches!(e, instant_acme::Error::Unsupported(_)) {
                tracing::warn!(
                    source = %spec.source, hosts = %spec.hosts.join(","), ca = %spec.ca_url, error = %e,
                    "the CA refused the renewal's ARI `replaces`: ordering once more without it"
                );
            }
            account.new_order(&plain()).await
        }
        other => other,
    }
}

/// Whether the CA lists `profile`; else one warning and the CA's default profile.
fn offered(account: &Account, spec: &OrderSpec, profile: &str) -> bool {
    let listed: Vec<&str> = account.profiles().map(|p| p.name).collect();
    if listed.contains(&profile) {
        return true;
    }
    tracing::warn!(
        source = %spec.source, hosts = %spec.hosts.join(","), ca = %spec.ca_url, offered = ?listed,
        "ACME_CERT_PROFILE={profile:?} is not offered by the CA: ordering with its default profile"
    );
    false
}

/// `<AKI>.<serial>` as `certs` computes it → instant-acme's identifier.
fn cert_id(id: &str) -> Option<CertificateIdentifier<'static>> {
    let (aki, serial) = id.split_once('.')?;
    Some(CertificateIdentifier {
        authority_key_identifier: Cow::Owned(aki.to_owned()),
        serial: Cow::Owned(serial.to_owned()),
    })
}

/// Which failures of an order with `replaces` are worth one try without it: the CA lacks ARI
/// (`Unsupported`: nothing was sent), refuses the field (`alreadyReplaced`, `malformed`, …),
/// or did not echo it back. Not a rate limit, a lost account or a network failure: those
/// would fail again the same way.
pub(super) fn refused_replaces(e: &instant_acme::Error) -> bool {
    const NOT: [&str; 3] = ["rateLimited", "accountDoesNotExist", "badNonce"];
    match e {
        instant_acme::Error::Unsupported(_) => true,
        instant_acme::Error::Api(p) => !NOT
            .iter()
            .any(|n| p.r#type.as_deref() == Some(&format!("urn:ietf:params:acme:error:{n}"))),
        instant_acme::Error::Other(inner) => inner.downcast_ref::<RequestError>().is_none(),
        _ => false,
    }
}
