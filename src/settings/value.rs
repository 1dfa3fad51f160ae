//! Parsers for single setting values, shared by the proxy's own settings and containers'.

use crate::model::{AcmeChallengeLocation, HttpsMethod, Proto};

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bools_follow_go_parsebool() {
        for t in ["1", "t", "T", "TRUE", "true", "True", " true "] {
            assert_eq!(parse_bool("X", t), Ok(true), "{t}");
        }
        for f in ["0", "f", "F", "FALSE", "false", "False"] {
            assert_eq!(parse_bool("X", f), Ok(false), "{f}");
        }
        let err = parse_bool("ENABLE_HTTP2", "yes").unwrap_err();
        assert!(err.contains("ENABLE_HTTP2") && err.contains("yes"), "{err}");
    }

    #[test]
    fn sizes_use_nginx_suffixes() {
        assert_eq!(parse_size("S", "10"), Ok(Some(10)));
        assert_eq!(parse_size("S", "512k"), Ok(Some(512 << 10)));
        assert_eq!(parse_size("S", "20M"), Ok(Some(20 << 20)));
        assert_eq!(parse_size("S", "1g"), Ok(Some(1 << 30)));
        assert_eq!(parse_size("S", "0"), Ok(None));
        assert!(
            parse_size("CLIENT_MAX_BODY_SIZE", "lots")
                .unwrap_err()
                .contains("CLIENT_MAX_BODY_SIZE")
        );
        assert!(parse_size("S", "99999999999999g").is_err());
    }
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
        other @ ("fastcgi" | "grpc" | "grpcs") => Err(format!(
            "VIRTUAL_PROTO={other:?} is not supported by dockside yet: use http, https or uwsgi"
        )),
        other => Err(format!(
            "VIRTUAL_PROTO={other:?} is unknown: use http, https or uwsgi"
        )),
    }
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

#[cfg(test)]
mod enum_tests {
    use super::*;

    #[test]
    fn enums_parse_or_name_the_setting() {
        assert_eq!(parse_https_method("nohttps"), Ok(HttpsMethod::NoHttps));
        assert!(
            parse_https_method("maybe")
                .unwrap_err()
                .contains("HTTPS_METHOD=\"maybe\"")
        );
        assert_eq!(parse_redirect_status("NON_GET_REDIRECT", "308"), Ok(308));
        assert!(parse_redirect_status("NON_GET_REDIRECT", "302").is_err());
        assert_eq!(
            parse_challenge_location("legacy"),
            Ok(AcmeChallengeLocation::Legacy)
        );
        assert_eq!(
            parse_challenge_location("false"),
            Ok(AcmeChallengeLocation::Disabled)
        );
        assert_eq!(parse_port("VIRTUAL_PORT", " 8080 "), Ok(8080));
        assert!(
            parse_port("VIRTUAL_PORT", "http")
                .unwrap_err()
                .contains("VIRTUAL_PORT")
        );
        assert!(parse_port("VIRTUAL_PORT", "0").is_err());
        assert_eq!(parse_proto(" uwsgi "), Ok(Proto::Uwsgi));
        assert!(
            parse_proto("fastcgi")
                .unwrap_err()
                .contains("not supported")
        );
        assert!(parse_proto("gopher").unwrap_err().contains("unknown"));
        assert_eq!(parse_keepalive("K", "disabled"), Ok(false));
        assert_eq!(parse_keepalive("K", "16"), Ok(true));
        assert!(parse_keepalive("K", "sometimes").is_err());
    }
}
