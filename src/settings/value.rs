//! Parsers for single setting values, shared by the proxy's own settings and containers'.

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
