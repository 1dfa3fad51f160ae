#[test]
fn sources_follow_the_error() {
    let inner = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
    let outer =
        std::io::Error::other(anyhow::Error::new(inner).context("connecting to 127.0.0.1:1"));
    let line = super::chain(&outer);
    assert!(line.starts_with("connecting to 127.0.0.1:1"), "{line}");
    assert!(line.contains("connection refused"), "{line}");
}
