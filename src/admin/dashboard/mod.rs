//! The dashboard at the admin listener's `/`: one server-rendered HTML page from the admin model
//! (no build step, no external assets, CSS inline), refreshed by `<meta http-equiv="refresh">`
//! so it works without JavaScript. `/?site=<host>` shows one site with its settings and the
//! items that were meant for it but are not routed. Every value is escaped: container names,
//! labels and error texts come from whoever can start a container.

mod sections;

use std::fmt::Write;

use super::api::Overview;
pub(crate) use super::url::{query_value, site_param};

/// Seconds between refreshes: fast enough to follow a deploy, slow enough to read.
pub(crate) const REFRESH_SECS: u32 = 5;

const STYLE: &str = include_str!("style.css");

/// The whole page; `site` selects one site's detail view. Pure.
pub(crate) fn render(view: &Overview, site: Option<&str>) -> String {
    let mut out = String::with_capacity(16 * 1024);
    let title = match site {
        Some(host) => format!("{host} — dockside"),
        None => "dockside".to_owned(),
    };
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"refresh\" content=\"{REFRESH_SECS}\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head><body>",
        esc(&title)
    );
    sections::header(&mut out, view);
    out.push_str("<main>");
    match site {
        Some(host) => match view.sites.iter().find(|s| s.host == host) {
            Some(s) => sections::site_page(&mut out, view, s),
            None => {
                let _ = write!(
                    out,
                    "<h2>Site</h2><p class=\"empty\">No site {} — it may have been removed. \
                     <a href=\"/\">Back to the overview</a></p>",
                    esc(host)
                );
                sections::unrouted(
                    &mut out,
                    view.unrouted
                        .iter()
                        .filter(|u| u.hosts.iter().any(|h| h == host)),
                );
            }
        },
        None => sections::overview(&mut out, view),
    }
    out.push_str("</main></body></html>\n");
    out
}

/// HTML-escapes text for element content and quoted attribute values.
pub(crate) fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
#[path = "dashboard_tests.rs"]
mod tests;
