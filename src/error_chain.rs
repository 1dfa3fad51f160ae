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
#[path = "error_chain_tests.rs"]
mod tests;
