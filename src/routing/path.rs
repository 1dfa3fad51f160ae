//! Path matching with nginx `location` precedence, since `VIRTUAL_PATH` is pasted into
//! `location <path>` by nginx-proxy: `=` exact, then the longest prefix (which wins outright
//! with `^~`), then regexes (`~`, `~*`) in order, then the longest prefix.

use regex::{Regex, RegexBuilder};

/// A compiled `VIRTUAL_PATH`.
#[derive(Debug, Clone)]
pub enum PathPattern {
    Exact(String),
    Prefix { prefix: String, no_regex: bool },
    Regex(Regex),
}

/// Why a `VIRTUAL_PATH` cannot be compiled.
#[derive(Debug, thiserror::Error)]
#[error("VIRTUAL_PATH {path:?} is not a valid regex: {source}")]
pub struct BadPath {
    pub path: String,
    #[source]
    pub source: regex::Error,
}

impl PathPattern {
    /// Compiles one `VIRTUAL_PATH` value with nginx's modifiers.
    pub fn parse(path: &str) -> Result<PathPattern, BadPath> {
        let bad = |source| BadPath {
            path: path.to_owned(),
            source,
        };
        let p = path.trim();
        if let Some(rest) = p.strip_prefix("~*") {
            return RegexBuilder::new(rest.trim())
                .case_insensitive(true)
                .build()
                .map(PathPattern::Regex)
                .map_err(bad);
        }
        if let Some(rest) = p.strip_prefix("^~") {
            return Ok(PathPattern::Prefix {
                prefix: rest.trim().to_owned(),
                no_regex: true,
            });
        }
        if let Some(rest) = p.strip_prefix('~') {
            return Regex::new(rest.trim()).map(PathPattern::Regex).map_err(bad);
        }
        if let Some(rest) = p.strip_prefix('=') {
            return Ok(PathPattern::Exact(rest.trim().to_owned()));
        }
        Ok(PathPattern::Prefix {
            prefix: p.to_owned(),
            no_regex: false,
        })
    }

    /// The literal prefix a request path must start with, when this is a prefix location.
    pub fn prefix(&self) -> Option<&str> {
        match self {
            PathPattern::Prefix { prefix, .. } => Some(prefix),
            _ => None,
        }
    }

    /// Whether this is the catch-all `/` location (decides whether `DEFAULT_ROOT` applies).
    pub fn is_root(&self) -> bool {
        matches!(self, PathPattern::Prefix { prefix, .. } if prefix == "/")
    }
}

/// Index of the location that serves `path`, following nginx's order.
pub fn select(patterns: &[PathPattern], path: &str) -> Option<usize> {
    let mut best_prefix: Option<(usize, usize, bool)> = None;
    for (i, p) in patterns.iter().enumerate() {
        match p {
            PathPattern::Exact(e) if e == path => return Some(i),
            PathPattern::Prefix { prefix, no_regex }
                if path.starts_with(prefix.as_str())
                    && best_prefix.is_none_or(|(_, len, _)| prefix.len() > len) =>
            {
                best_prefix = Some((i, prefix.len(), *no_regex));
            }
            _ => {}
        }
    }
    if let Some((i, _, true)) = best_prefix {
        return Some(i);
    }
    let regex = patterns
        .iter()
        .position(|p| matches!(p, PathPattern::Regex(re) if re.is_match(path)));
    regex.or(best_prefix.map(|(i, _, _)| i))
}

#[cfg(test)]
#[path = "path_tests.rs"]
mod tests;
