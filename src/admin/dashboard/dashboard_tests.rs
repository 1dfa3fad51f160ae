use super::*;
use crate::admin::api::test_support::World;

#[test]
fn the_overview_shows_every_part_and_refreshes_without_javascript() {
    let page = render(&World::new().overview(), None);
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.contains("<meta http-equiv=\"refresh\" content=\"5\">"));
    for needle in [
        "a.test",
        "172.18.0.2:80",
        "refused: skipped",
        "unhealthy",
        "12.5 req/s · 0.5 err/s",
        "– req/s · – err/s",
        "typo",
        "VIRTUAL_PORT",
        "no VIRTUAL_HOST: not routed",
        "failed ×3",
        "NXDOMAIN",
        "Docker connected",
        "unix:///var/run/docker.sock",
        "effective settings (16) and sources →",
        "routes file reloads</th><td>2 ok, 1 failed",
    ] {
        assert!(page.contains(needle), "missing {needle:?}");
    }
    // No external asset: nothing loads from elsewhere.
    for asset in ["<script src", "<link", "http://", "https://", "@import"] {
        assert!(!page.contains(asset), "{asset}");
    }
}

#[test]
fn every_value_is_escaped() {
    let page = render(&World::new().overview(), None);
    assert!(!page.contains("<img"), "a container name became markup");
    assert!(page.contains("&lt;img src=x onerror=alert(1)&gt;"));
    assert!(!page.contains("<b>80"), "a setting value became markup");
    assert!(page.contains("&lt;urn:ietf:params:acme:error:dns&gt;"));
    assert_eq!(
        esc(r#"<a href="x">'&'</a>"#),
        "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
    );
}

#[test]
fn a_site_page_shows_its_settings_and_what_was_meant_for_it() {
    let view = World::new().overview();
    let page = render(&view, Some("c.test"));
    assert!(page.contains("<title>c.test — dockside</title>"));
    assert!(page.contains("effective settings (16)</h3>"), "{page}");
    assert!(page.contains(
        "<td><code>HTTPS_METHOD</code></td><td>redirect</td><td><span class=\"dim\">default</span>"
    ));
    assert!(page.contains("lost"), "the unreachable container of c.test");
    assert!(!page.contains("typo"), "b.test's container is not c.test's");
    let missing = render(&view, Some("b.test"));
    assert!(missing.contains("No site b.test"));
    assert!(
        missing.contains("typo"),
        "b.test is not served: its skipped container says why"
    );
}
