//! External Account Binding credentials for a new account: the configured `ACME_EAB_*`, or
//! ZeroSSL's for `ZEROSSL_API_KEY` (acme-companion asks ZeroSSL's API when registering a
//! ZeroSSL account without EAB). Neither the API key nor the HMAC key is ever logged: errors
//! name the endpoint without its query string.

use instant_acme::ExternalAccountKey;

use crate::acme::client::AcmeHttp;
use crate::acme::error::Cause;
use crate::acme::spec::{Eab, OrderSpec, ZeroSslEab};

/// The key to register with, if any: `ACME_EAB_*` first, else ZeroSSL's API.
pub(super) async fn for_registration(
    http: &AcmeHttp,
    spec: &OrderSpec,
) -> Result<Option<ExternalAccountKey>, Cause> {
    let eab = match (&spec.eab, &spec.zerossl) {
        (Some(eab), _) => eab.clone(),
        (None, Some(zerossl)) => {
            let eab = from_zerossl(http, zerossl).await?;
            tracing::info!(source = %spec.source, kid = %eab.kid, "EAB credentials from ZeroSSL's API (ZEROSSL_API_KEY)");
            eab
        }
        (None, None) => return Ok(None),
    };
    Ok(Some(ExternalAccountKey::new(
        eab.kid.clone(),
        &decode_hmac(&eab.hmac_key)?,
    )))
}

/// `POST <api>/acme/eab-credentials?access_key=KEY` → `{"success": true, "eab_kid": …,
/// "eab_hmac_key": …}` (or `{"success": false, "error": {"type": …}}`).
pub async fn from_zerossl(http: &AcmeHttp, zerossl: &ZeroSslEab) -> Result<Eab, Cause> {
    let endpoint = format!("{}/acme/eab-credentials", zerossl.api.trim_end_matches('/'));
    let fail = |why: String| Cause::Unusable(format!("ZEROSSL_API_KEY: {endpoint}: {why}"));
    let url = format!("{endpoint}?access_key={}", query_escape(&zerossl.key.0));
    // The error types carry no URL, so the key cannot leak through them.
    let rsp = http
        .post_empty(&url)
        .await
        .map_err(|e| fail(e.to_string()))?;
    let json: serde_json::Value = serde_json::from_slice(rsp.body()).map_err(|_| {
        fail(format!(
            "HTTP {} without a JSON body",
            rsp.status().as_u16()
        ))
    })?;
    let field = |name: &str| json.get(name).and_then(|v| v.as_str()).map(str::to_owned);
    match (
        json.get("success").and_then(|v| v.as_bool()),
        field("eab_kid"),
        field("eab_hmac_key"),
    ) {
        (Some(true), Some(kid), Some(hmac_key)) => Ok(Eab { kid, hmac_key }),
        _ => {
            let reason = json
                .pointer("/error/type")
                .and_then(|v| v.as_str())
                .unwrap_or("no EAB credentials in the answer");
            Err(fail(format!(
                "HTTP {}: {reason} (check the API key in ZeroSSL's dashboard)",
                rsp.status().as_u16()
            )))
        }
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn query_escape(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// CAs hand out the EAB HMAC key base64url-encoded; accept padded and standard alphabets too.
pub(super) fn decode_hmac(key: &str) -> Result<Vec<u8>, Cause> {
    use base64::Engine;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
    let key = key.trim();
    [URL_SAFE_NO_PAD, URL_SAFE, STANDARD]
        .iter()
        .find_map(|e| e.decode(key).ok())
        .ok_or_else(|| Cause::Unusable("ACME_EAB_HMAC_KEY is not base64url".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_escaped() {
        assert_eq!(query_escape("aB3-._~"), "aB3-._~");
        assert_eq!(query_escape("a b&c=d/"), "a%20b%26c%3Dd%2F");
    }

    #[test]
    fn hmac_keys_in_every_base64_spelling() {
        assert_eq!(decode_hmac("c2VjcmV0").unwrap(), b"secret");
        assert_eq!(decode_hmac("_-8").unwrap(), [0xff, 0xef]);
        assert!(decode_hmac("!!").is_err());
    }
}
