//! What one change costs the control plane with many sites (issue 19 part 3; not a test):
//! times each stage a published change goes through — the routes file parsed (file only), every
//! provider's items collected, the desired state built, compared with the last one, the route
//! table rebuilt and the live snapshot rebuilt — for the first build and for one changed item,
//! and prints the process's RSS once built.
//!
//!   cargo run --release --example route_rebuild -- file 10000        # a 10,000-site routes file
//!   cargo run --release --example route_rebuild -- file-policies 10000  # each with a policy
//!   cargo run --release --example route_rebuild -- containers 1000   # 1,000 containers
//!
//! Each stage is the median of 5 runs. A container changes alone (discovery inspects only it);
//! the route table compiles only the sites that changed (`RouteTable::update`), but the desired
//! state and the live snapshot still go over all items: the figures show what that costs.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use dockside::certs::CertMap;
use dockside::live::Live;
use dockside::model::{Health, Reach, SourceItem};
use dockside::routing::{RouteTable, SiteDefaults};

/// As the binary: the allocator shapes both the timings and the RSS.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

const RUNS: usize = 5;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (kind, n) = match args.as_slice() {
        [kind, n] => (kind.as_str(), n.parse::<usize>().expect("N is a number")),
        _ => {
            eprintln!("usage: route_rebuild file|containers N");
            std::process::exit(2);
        }
    };
    let rss_before = rss_kib();
    let (text, items) = match kind {
        "file" | "file-policies" => {
            let text = routes_file(n, 8080, kind == "file-policies");
            let items = parse(&text);
            (Some(text), items)
        }
        "containers" => (None, (0..n).map(|i| container(i, 80)).collect()),
        other => panic!("unknown kind {other:?}: file or containers"),
    };
    let defaults = SiteDefaults::default();
    println!("{kind}, {n} items; stage medians of {RUNS} runs, ms");

    // The first build: what start-up pays.
    let mut full = Stages::default();
    let (mut desired, mut live) = (None, None);
    for _ in 0..RUNS {
        if let Some(text) = &text {
            full.time("parse the routes file", || parse(text));
        }
        let all = full.time("collect the items", || items.clone());
        let state = full.time("desired state", || {
            Arc::new(dockside::test_support::desired_state(&all))
        });
        let table = full.time("route table", || {
            Arc::new(RouteTable::update(
                &state,
                &defaults,
                &RouteTable::default(),
            ))
        });
        let built = full.time("live snapshot", || {
            Live::new(
                table,
                Arc::new(CertMap::default()),
                "Mozilla-Intermediate",
                true,
            )
        });
        desired = Some(state);
        live = Some(built);
    }
    let (desired, live) = (desired.expect("built"), live.expect("built"));
    full.print("first build");
    let rss = rss_kib();
    println!(
        "RSS once built: {rss} KiB ({} KiB before the items; {:.1} KiB per item)",
        rss_before,
        (rss - rss_before) as f64 / n as f64
    );

    // One item changes (its backend port), alternately, so each run is a real change. The
    // state is built as the combiner builds it: by a `Merger` kept from the build before.
    let mut one = Stages::default();
    let mut last = desired;
    let files = Default::default();
    let mut merger = dockside::test_support::Merger::default();
    merger.build(items.clone(), &files);
    for run in 0..RUNS {
        let port = 9000 + run as u16;
        let changed = match &text {
            Some(_) => {
                let text = routes_file(n, 8080, kind == "file-policies").replacen(
                    "127.0.0.1:8080\"]\n",
                    &format!("127.0.0.1:{port}\"]\n"),
                    1,
                );
                one.time("parse the routes file", || parse(&text))
            }
            None => {
                let mut items = items.clone();
                items[n / 2] = container(n / 2, port);
                items
            }
        };
        let all = one.time("collect the items", || changed.clone());
        let state = one.time("desired state", || Arc::new(merger.build(all, &files)));
        let differs = one.time("compare with the last", || state != last);
        assert!(differs, "the change must show in the desired state");
        let table = one.time("route table", || {
            Arc::new(RouteTable::update(&state, &defaults, live.load().routes()))
        });
        one.time("live snapshot", || live.set_routes(table));
        last = state;
    }
    one.print("one changed item");
}

/// A routes file of `n` sites `h<i>.bench.local`, each with one backend and, with `policies`,
/// a response header of its own (a site policy per site, none equal to another).
fn routes_file(n: usize, port: u16, policies: bool) -> String {
    let mut text = String::with_capacity(n * 120);
    for i in 0..n {
        text.push_str(&format!(
            "[[site]]\nVIRTUAL_HOST = \"h{i}.bench.local\"\nbackends = [\"127.0.0.1:{port}\"]\n"
        ));
        if policies {
            text.push_str(&format!("RESPONSE_HEADERS = \"X-Site: h{i}\"\n"));
        }
    }
    text
}

fn parse(text: &str) -> Vec<SourceItem> {
    dockside::test_support::routes_items(text).expect("the generated file parses")
}

/// Container `i` as discovery hands it over: a host, a port, a certificate request, on a
/// network dockside shares.
fn container(i: usize, port: u16) -> SourceItem {
    let vars: BTreeMap<String, String> = [
        ("VIRTUAL_HOST", format!("c{i}.bench.local")),
        ("VIRTUAL_PORT", port.to_string()),
        ("LETSENCRYPT_HOST", format!("c{i}.bench.local")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    SourceItem {
        name: format!("c{i}"),
        created: i as i64,
        vars,
        reach: Reach::Container {
            ip: IpAddr::from([172, 18, (i / 250) as u8, (i % 250) as u8 + 2]),
            exposed_ports: vec![port],
            health: Health::None,
        },
    }
}

/// Each stage's durations, in the order the stages first ran.
#[derive(Default)]
struct Stages(Vec<(&'static str, Vec<f64>)>);

impl Stages {
    fn time<T>(&mut self, stage: &'static str, f: impl FnOnce() -> T) -> T {
        let started = Instant::now();
        let out = f();
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        match self.0.iter_mut().find(|(s, _)| *s == stage) {
            Some((_, runs)) => runs.push(ms),
            None => self.0.push((stage, vec![ms])),
        }
        out
    }

    fn print(&self, title: &str) {
        let mut total = 0.0;
        println!("{title}:");
        for (stage, runs) in &self.0 {
            let mut sorted = runs.clone();
            sorted.sort_by(f64::total_cmp);
            let median = sorted[sorted.len() / 2];
            total += median;
            println!("  {stage:<24} {median:>9.2}");
        }
        println!("  {:<24} {total:>9.2}", "total");
    }
}

fn rss_kib() -> i64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}
