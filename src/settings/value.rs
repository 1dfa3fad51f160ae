//! Parsers for single setting values, shared by the proxy's own settings and containers'.

use crate::model::{
    AcmeChallengeLocation, Balance, HttpsMethod, Proto, ServerTokens, VerifyClient,
};

/// Go's `strconv.ParseBool`, which nginx-proxy's template uses: anything else is an error.
pub fn parse_bool(name: &str, value: &str) -> Result<bool, String> {
    match value.trim() {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        other => Err(format!(
            "{name}={other:?} is not a boolean: use true or false"
        )),
    }
}

/// nginx size syntax (`client_max_body_size`): bytes, or a `k`/`m`/`g` suffix; `0` = unlimited.
pub fn parse_size(name: &str, value: &str) -> Result<Option<u64>, String> {
    let v = value.trim();
    let err = || format!("{name}={v:?} is not a size: use e.g. 512k, 20m, 1g, or 0 for unlimited");
    let (digits, mult) = match v.char_indices().last() {
        Some((i, 'k' | 'K')) => (&v[..i], 1u64 << 10),
        Some((i, 'm' | 'M')) => (&v[..i], 1 << 20),
        Some((i, 'g' | 'G')) => (&v[..i], 1 << 30),
        _ => (v, 1),
    };
    let n: u64 = digits.parse().map_err(|_| err())?;
    let bytes = n.checked_mul(mult).ok_or_else(err)?;
    Ok((bytes != 0).then_some(bytes))
}

/// `HTTPS_METHOD`, global or per container.
pub fn parse_https_method(value: &str) -> Result<HttpsMethod, String> {
    Ok(match value.trim() {
        "redirect" => HttpsMethod::Redirect,
        "noredirect" => HttpsMethod::NoRedirect,
        "nohttp" => HttpsMethod::NoHttp,
        "nohttps" => HttpsMethod::NoHttps,
        other => {
            return Err(format!(
                "HTTPS_METHOD={other:?}: use redirect, noredirect, nohttp or nohttps"
            ));
        }
    })
}

/// `NON_GET_REDIRECT` (or its label): the status for non-GET redirects to HTTPS.
pub fn parse_redirect_status(name: &str, value: &str) -> Result<u16, String> {
    match value.trim() {
        "301" => Ok(301),
        "307" => Ok(307),
        "308" => Ok(308),
        other => Err(format!("{name}={other:?}: use 301, 307 or 308")),
    }
}

/// `ACME_HTTP_CHALLENGE_LOCATION`: a boolean or `legacy`.
pub fn parse_challenge_location(value: &str) -> Result<AcmeChallengeLocation, String> {
    if value.trim() == "legacy" {
        return Ok(AcmeChallengeLocation::Legacy);
    }
    let on = parse_bool("ACME_HTTP_CHALLENGE_LOCATION", value)?;
    Ok(if on {
        AcmeChallengeLocation::Enabled
    } else {
        AcmeChallengeLocation::Disabled
    })
}

/// `SERVER_TOKENS`: nginx's `server_tokens` values (`build` names the version, as `on` does).
pub fn parse_server_tokens(value: &str) -> Result<ServerTokens, String> {
    match value.trim() {
        "on" | "build" => Ok(ServerTokens::On),
        "off" => Ok(ServerTokens::Off),
        other => Err(format!(
            "SERVER_TOKENS={other:?}: use on or off (dockside's own Server header, with or without its version)"
        )),
    }
}

/// A TCP port (`VIRTUAL_PORT`).
pub fn parse_port(name: &str, value: &str) -> Result<u16, String> {
    match value.trim().parse::<u16>() {
        Ok(p) if p != 0 => Ok(p),
        _ => Err(format!(
            "{name}={value:?} is not a port: use a number from 1 to 65535"
        )),
    }
}

/// `VIRTUAL_PROTO`: the protocols dockside forwards with.
pub fn parse_proto(value: &str) -> Result<Proto, String> {
    match value.trim() {
        "" | "http" => Ok(Proto::Http),
        "https" => Ok(Proto::Https),
        "uwsgi" => Ok(Proto::Uwsgi),
        "grpc" => Ok(Proto::Grpc),
        "grpcs" => Ok(Proto::Grpcs),
        "fastcgi" => Ok(Proto::Fastcgi),
        other => Err(format!(
            "VIRTUAL_PROTO={other:?} is unknown: use http, https, uwsgi, fastcgi, grpc or grpcs"
        )),
    }
}

/// `VIRTUAL_ROOT`: an absolute path inside the FastCGI container, sent as `DOCUMENT_ROOT`.
pub fn parse_root(value: &str) -> Result<&str, String> {
    let root = value.trim();
    if !root.starts_with('/') || root.chars().any(char::is_control) {
        return Err(format!(
            "VIRTUAL_ROOT={value:?} is not an absolute path: use the document root inside the \
             PHP container, e.g. /var/www/public"
        ));
    }
    Ok(root)
}

/// `com.github.nginx-proxy.nginx-proxy.keepalive`: `auto`, a number, or `disabled`.
pub fn parse_keepalive(name: &str, value: &str) -> Result<bool, String> {
    match value.trim() {
        "auto" | "" => Ok(true),
        "disabled" => Ok(false),
        n if n.parse::<u32>().is_ok() => Ok(true),
        other => Err(format!("{name}={other:?}: use auto, disabled or a number")),
    }
}

/// `com.github.nginx-proxy.nginx-proxy.loadbalance`: the nginx `upstream` directive it holds
/// (nginx-proxy pastes it into the block, so the `;` is required there and optional here;
/// spaces between words do not matter). Anything else is an error naming the value: the caller
/// warns and keeps round-robin.
pub fn parse_loadbalance(name: &str, value: &str) -> Result<Balance, String> {
    let text = value.trim().trim_end_matches(';');
    let words: Vec<&str> = text.split_whitespace().collect();
    Ok(match words.as_slice() {
        [] => Balance::RoundRobin,
        ["hash", "$remote_addr" | "$binary_remote_addr"]
        | ["hash", "$remote_addr" | "$binary_remote_addr", "consistent"] => Balance::ClientHash,
        ["ip_hash"] => Balance::IpHash,
        ["least_conn"] => Balance::LeastConn,
        ["random"] => Balance::Random,
        ["random", "two"] | ["random", "two", "least_conn"] => Balance::RandomTwo,
        _ => {
            return Err(format!(
                "{name}={value:?} is not a mode dockside knows: use `hash $remote_addr;`, `ip_hash;`, `least_conn;`, `random;` or `random two least_conn;` (round-robin meanwhile)"
            ));
        }
    })
}

#[cfg(test)]
#[path = "value_tests.rs"]
mod tests;

/// The `ssl_verify_client` label: nginx's four values (nginx refuses anything else).
pub fn parse_verify_client(name: &str, value: &str) -> Result<VerifyClient, String> {
    Ok(match value.trim() {
        "on" => VerifyClient::On,
        "optional" => VerifyClient::Optional,
        "optional_no_ca" => VerifyClient::OptionalNoCa,
        "off" => VerifyClient::Off,
        other => {
            return Err(format!(
                "{name}={other:?}: use on, optional, optional_no_ca or off"
            ));
        }
    })
}
