//! Host matching with nginx `server_name` precedence: exact, longest leading wildcard,
//! longest trailing wildcard, then regexes in order.

use regex::Regex;

/// A compiled `VIRTUAL_HOST` item.
#[derive(Debug, Clone)]
pub enum HostPattern {
    Exact(String),
    /// `*.example.com` (stored as `.example.com`) or `.example.com` (also matches `example.com`).
    Leading {
        suffix: String,
        include_bare: bool,
    },
    /// `example.*` (stored as `example.`).
    Trailing(String),
    Regex(Regex),
}

/// Why a `VIRTUAL_HOST` item cannot be compiled.
#[derive(Debug, thiserror::Error)]
#[error("VIRTUAL_HOST item {item:?} is not a valid regex: {source}")]
pub struct BadHost {
    pub item: String,
    #[source]
    pub source: regex::Error,
}

impl HostPattern {
    /// Compiles one item; names are lower-cased because Host matching is case-insensitive.
    pub fn parse(item: &str) -> Result<HostPattern, BadHost> {
        if let Some(re) = item.strip_prefix('~') {
            let re = re.trim_start();
            return Regex::new(re)
                .map(HostPattern::Regex)
                .map_err(|source| BadHost {
                    item: item.to_owned(),
                    source,
                });
        }
        let lower = item.to_ascii_lowercase();
        if let Some(rest) = lower.strip_prefix("*.") {
            return Ok(HostPattern::Leading {
                suffix: format!(".{rest}"),
                include_bare: false,
            });
        }
        if lower.starts_with('.') && lower.len() > 1 {
            return Ok(HostPattern::Leading {
                suffix: lower,
                include_bare: true,
            });
        }
        if let Some(rest) = lower.strip_suffix(".*") {
            return Ok(HostPattern::Trailing(format!("{rest}.")));
        }
        Ok(HostPattern::Exact(lower))
    }

    /// Whether `host` (lower-case, no port) matches.
    pub fn matches(&self, host: &str) -> bool {
        match self {
            HostPattern::Exact(name) => name == host,
            HostPattern::Leading {
                suffix,
                include_bare,
            } => {
                (host.len() > suffix.len() && host.ends_with(suffix.as_str()))
                    || (*include_bare && host == &suffix[1..])
            }
            HostPattern::Trailing(prefix) => {
                host.len() > prefix.len() && host.starts_with(prefix.as_str())
            }
            HostPattern::Regex(re) => re.is_match(host),
        }
    }
}

/// Lower-cases a Host header value and strips its port (IPv6 literals keep their brackets).
pub fn normalize_host(raw: &str) -> String {
    let raw = raw.trim().trim_end_matches('.');
    let without_port = if raw.starts_with('[') {
        match raw.find(']') {
            Some(end) => &raw[..=end],
            None => raw,
        }
    } else {
        match raw.rsplit_once(':') {
            Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
            _ => raw,
        }
    };
    without_port.to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_like_nginx_server_name() {
        let cases: &[(&str, &str, bool)] = &[
            ("example.com", "example.com", true),
            ("Example.COM", "example.com", true),
            ("example.com", "www.example.com", false),
            ("*.example.com", "a.example.com", true),
            ("*.example.com", "a.b.example.com", true),
            ("*.example.com", "example.com", false),
            (".example.com", "example.com", true),
            (".example.com", "x.example.com", true),
            ("example.*", "example.org", true),
            ("example.*", "example.co.uk", true),
            ("example.*", "example", false),
            ("~^foo\\.bar\\..*\\.nip\\.io", "foo.bar.1.2.nip.io", true),
            ("~^foo\\.bar\\..*\\.nip\\.io", "xfoo.bar.1.nip.io", false),
            ("172.20.0.1", "172.20.0.1", true),
            ("[fd00::1]", "[fd00::1]", true),
        ];
        for (pattern, host, want) in cases {
            let p = HostPattern::parse(pattern).unwrap();
            assert_eq!(p.matches(host), *want, "{pattern} vs {host}");
        }
    }

    #[test]
    fn bad_regex_names_the_item() {
        let err = HostPattern::parse("~^(unclosed").unwrap_err();
        assert!(err.to_string().contains("~^(unclosed"), "{err}");
    }

    #[test]
    fn host_header_is_normalized() {
        assert_eq!(normalize_host("Example.com:8080"), "example.com");
        assert_eq!(normalize_host("example.com."), "example.com");
        assert_eq!(normalize_host("[::1]:443"), "[::1]");
        assert_eq!(normalize_host("[::1]"), "[::1]");
    }
}
