//! nginx-proxy's configuration files (`vhost.d/`, `htpasswd/`, `conf.d/`) → site policies, with
//! nginx-proxy's precedence. Pure: the IO side hands in a snapshot of the files' text and gets
//! back policies and notes naming every line it could not apply.

#[cfg(test)]
mod corpus_tests;
mod directives;
mod files;
mod htpasswd;
mod tokenize;
mod values;

pub(crate) use files::{
    NginxFiles, ProxyWide, fallback_pages, file_host, proxy_wide, resolve_with, sha1_hex,
};
pub(crate) use tokenize::SyntaxError;
pub(crate) use values::time as parse_time;

/// A file that is not nginx syntax, named by its place in nginx-proxy's layout
/// (`vhost.d/a.test`): the IO side keeps the file's last good version and reports this.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{}: {}", .error.line, .error.kind)]
pub(crate) struct FileError {
    pub file: String,
    #[source]
    pub error: SyntaxError,
}

/// Whether `text` is nginx syntax, so the IO side can decide "does not parse → keep the last
/// good version" before a file enters the snapshot `resolve` reads.
pub(crate) fn check(file: &str, text: &str) -> Result<(), FileError> {
    tokenize::parse(text).map(drop).map_err(|error| FileError {
        file: file.to_owned(),
        error,
    })
}
