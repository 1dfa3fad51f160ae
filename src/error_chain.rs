//! One readable line for an error and its causes, for log lines: `outer: inner: innermost`
//! (the useful part, e.g. "connection refused", is usually a source, not the top error).

/// `err` followed by each of its sources, separated by `: `.
pub fn chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        out.push_str(": ");
        out.push_str(&e.to_string());
        source = e.source();
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn sources_follow_the_error() {
        let inner = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let outer =
            std::io::Error::other(anyhow::Error::new(inner).context("connecting to 127.0.0.1:1"));
        let line = super::chain(&outer);
        assert!(line.starts_with("connecting to 127.0.0.1:1"), "{line}");
        assert!(line.contains("connection refused"), "{line}");
    }
}
