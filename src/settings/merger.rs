//! Building the desired state again after a change, reusing what no changed item touches: an
//! item's parse is kept while the item is equal to the last one of its name, and a host's site
//! while its contributors are the same parses in the same order (and nginx-proxy's files are
//! the same). One changed container then parses one item and builds its own hosts' sites; the
//! rest is a comparison and a pointer copy per item and per site. The result is the state
//! `build_with` gives from scratch (a property test checks it against a fresh `Merger`).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::merge::{ItemOutcome, host_site};
use super::nginx::{self, NginxFiles};
use crate::model::{DesiredState, Site, Skipped, SourceItem};

/// The last build's parts, owned by the one task that rebuilds the state (the combiner).
#[derive(Default)]
pub struct Merger {
    /// Each item by name, as last seen, with its parse (shared with the hosts built from it).
    items: HashMap<String, (SourceItem, Arc<ItemOutcome>)>,
    /// Each host's last site, and the parses it was built from.
    hosts: HashMap<String, HostOutcome>,
    /// The files the hosts' sites were built with.
    files: Option<NginxFiles>,
}

struct HostOutcome {
    /// Its contributors' parses, oldest item first; the `Arc`s also keep their identity.
    contributors: Vec<Arc<ItemOutcome>>,
    site: Arc<Site>,
    /// Conflicts between its contributors, and notes on the files for it.
    skipped: Vec<Skipped>,
}

impl Merger {
    /// The desired state of `items` and `files`, as `build_with` gives it.
    pub fn build(&mut self, mut items: Vec<SourceItem>, files: &NginxFiles) -> DesiredState {
        items.sort_by(|a, b| (a.created, &a.name).cmp(&(b.created, &b.name)));
        let outcomes: Vec<Arc<ItemOutcome>> = items
            .iter()
            .map(|it| match self.items.get(&it.name) {
                Some((last, outcome)) if last == it => outcome.clone(),
                _ => Arc::new(ItemOutcome::of(it)),
            })
            .collect();

        // Each host's contributions, in item order: (item, contribution) indexes.
        let mut by_host: BTreeMap<&str, Vec<(usize, usize)>> = BTreeMap::new();
        for (i, outcome) in outcomes.iter().enumerate() {
            let Some(parsed) = &outcome.parsed else {
                continue;
            };
            for (ci, c) in parsed.contributions.iter().enumerate() {
                for (hi, host) in c.hosts.iter().enumerate() {
                    // A host named twice in one contribution counts once.
                    if !c.hosts[..hi].contains(host) {
                        by_host.entry(host.as_str()).or_default().push((i, ci));
                    }
                }
            }
        }

        let same_files = self.files.as_ref() == Some(files);
        let mut conf_d = None;
        let mut hosts = HashMap::with_capacity(by_host.len());
        let mut sites = Vec::with_capacity(by_host.len());
        for (host, contributions) in by_host {
            let mut contributors: Vec<Arc<ItemOutcome>> = Vec::new();
            for &(i, _) in &contributions {
                if !contributors
                    .last()
                    .is_some_and(|c| Arc::ptr_eq(c, &outcomes[i]))
                {
                    contributors.push(outcomes[i].clone());
                }
            }
            let kept = self.hosts.remove(host).filter(|last| {
                same_files
                    && last.contributors.len() == contributors.len()
                    && last
                        .contributors
                        .iter()
                        .zip(&contributors)
                        .all(|(a, b)| Arc::ptr_eq(a, b))
            });
            let outcome = match kept {
                Some(last) => last,
                None => {
                    let conf_d = conf_d.get_or_insert_with(|| nginx::proxy_wide(files));
                    let mut skipped = Vec::new();
                    let parts = contributions.iter().map(|&(i, ci)| {
                        let parsed = outcomes[i].parsed.as_ref().expect("indexed from a parse");
                        (items[i].name.as_str(), &parsed.contributions[ci])
                    });
                    let site = host_site(host, parts, files, conf_d, &mut skipped);
                    HostOutcome {
                        contributors,
                        site: Arc::new(site),
                        skipped,
                    }
                }
            };
            sites.push(outcome.site.clone());
            hosts.insert(host.to_owned(), outcome);
        }

        let mut skipped: Vec<Skipped> = outcomes
            .iter()
            .flat_map(|o| o.skipped.iter().cloned())
            .chain(hosts.values().flat_map(|h| h.skipped.iter().cloned()))
            .collect();
        let certificates = super::acme::merge(outcomes.iter().map(|o| o.certificates.as_slice()));
        skipped.sort();
        skipped.dedup();
        let state = DesiredState {
            sites,
            certificates,
            skipped,
            fallback_pages: nginx::fallback_pages(files),
        };

        self.hosts = hosts;
        self.items = items
            .into_iter()
            .zip(outcomes)
            .map(|(it, outcome)| (it.name.clone(), (it, outcome)))
            .collect();
        if !same_files {
            self.files = Some(files.clone());
        }
        state
    }
}

#[cfg(test)]
#[path = "merger_tests.rs"]
mod tests;
