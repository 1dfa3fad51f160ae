//! `VIRTUAL_HOST_MULTIPORTS` values (`settings/multiports.rs`) on arbitrary text: a value is
//! refused with a reason or gives hosts that each have at least one path starting with `/`,
//! ports in 1..=65535 — never a panic, however deep or odd the YAML.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../src/settings/multiports.rs"]
mod multiports;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(value) = multiports::parse(&text) else {
        return;
    };
    assert!(!value.hosts.is_empty());
    for host in &value.hosts {
        assert!(!host.paths.is_empty(), "{host:?}");
        for p in &host.paths {
            assert!(p.path.starts_with('/'), "{p:?}");
            assert_ne!(p.port, Some(0));
        }
        assert_ne!(host.external_http_port, Some(0));
        assert_ne!(host.external_https_port, Some(0));
    }
});
