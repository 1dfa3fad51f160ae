//! The sites one listener serves, grouped by match kind so a lookup follows nginx `server_name`
//! precedence: exact, longest leading wildcard, longest trailing wildcard, then regexes in order.

use std::collections::HashMap;
use std::sync::Arc;

use super::host::{HostPattern, normalize_host};
use super::table::SiteRoute;

/// One listener's sites (nginx: the `server` blocks with a `listen` line for that port).
#[derive(Debug, Default)]
pub struct Hosts {
    exact: HashMap<String, Arc<SiteRoute>>,
    /// Leading wildcards, longest suffix first.
    leading: Vec<Arc<SiteRoute>>,
    /// Trailing wildcards, longest prefix first.
    trailing: Vec<Arc<SiteRoute>>,
    regex: Vec<Arc<SiteRoute>>,
    /// The `DEFAULT_HOST` site, when it listens here (nginx `default_server` on its ports).
    default_site: Option<Arc<SiteRoute>>,
}

impl Hosts {
    /// Adds a site; `default` marks the `DEFAULT_HOST` one. Call `finish` once all are in.
    pub(super) fn insert(&mut self, route: &Arc<SiteRoute>, default: bool) {
        if default {
            self.default_site = Some(route.clone());
        }
        match &route.pattern {
            HostPattern::Exact(name) => {
                self.exact.insert(name.clone(), route.clone());
            }
            HostPattern::Leading { .. } => self.leading.push(route.clone()),
            HostPattern::Trailing(_) => self.trailing.push(route.clone()),
            HostPattern::Regex(_) => self.regex.push(route.clone()),
        }
    }

    /// Sorts the wildcard groups, longest first.
    pub(super) fn finish(&mut self) {
        let key = |r: &Arc<SiteRoute>| std::cmp::Reverse(r.host.len());
        self.leading.sort_by_key(key);
        self.trailing.sort_by_key(key);
    }

    /// The site for a Host header (port and case ignored), without the `DEFAULT_HOST` fallback.
    pub fn site(&self, host_header: &str) -> Option<&Arc<SiteRoute>> {
        let host = normalize_host(host_header);
        if let Some(site) = self.exact.get(host.as_ref()) {
            return Some(site);
        }
        [&self.leading, &self.trailing, &self.regex]
            .into_iter()
            .flat_map(|group| group.iter())
            .find(|s| s.pattern.matches(&host))
    }

    /// The site for a Host header, falling back to `DEFAULT_HOST`; `None` means 503.
    pub fn lookup(&self, host_header: &str) -> Option<&Arc<SiteRoute>> {
        self.site(host_header).or(self.default_site.as_ref())
    }

    /// The `DEFAULT_HOST` site, when it listens here: where unknown names go.
    pub fn default_site(&self) -> Option<&Arc<SiteRoute>> {
        self.default_site.as_ref()
    }
}
