//! A small world for the admin model's unit tests (API, dashboard, control metrics): a few
//! containers and a routes-file entry, one of them unroutable, one certificate, ACME state and
//! a Docker connection — all plain values.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use super::{AcmeInput, Inputs, Overview, Traffic, overview};
use crate::acme::CertStatus;
use crate::certs::{CertMap, write_pair};
use crate::discovery::{DockerView, ProviderView, Reloads};
use crate::live::Snapshot;
use crate::model::{BackendAddr, DesiredState, Health, Reach, SourceItem};
use crate::routing::{RouteTable, SiteDefaults};
use crate::settings::test_support::{container_at, source_item};

/// Unix seconds the world is looked at.
pub(crate) const NOW: i64 = 1_800_000_000;

fn container(name: &str, vars: &[(&str, &str)], reach: Reach) -> SourceItem {
    SourceItem {
        reach,
        ..source_item(name, vars)
    }
}

/// The containers and entries: `web` and `web-2` serve a.test (one unhealthy), `typo` sets a
/// bad `VIRTUAL_PORT` for b.test, `db` asks for nothing, `lost` shares no network, a
/// routes-file entry serves files.test, and a container named like markup has a bad setting.
pub(crate) fn items() -> Vec<SourceItem> {
    let unhealthy = Reach::Container {
        ip: std::net::IpAddr::from([172, 18, 0, 3]),
        exposed_ports: vec![80],
        health: Health::Unhealthy,
    };
    vec![
        container(
            "web",
            &[("VIRTUAL_HOST", "a.test"), ("HTTPS_METHOD", "noredirect")],
            container_at(2, &[80]),
        ),
        SourceItem {
            created: 2,
            ..container("web-2", &[("VIRTUAL_HOST", "a.test")], unhealthy)
        },
        container(
            "typo",
            &[("VIRTUAL_HOST", "b.test"), ("VIRTUAL_PORT", "eighty")],
            container_at(4, &[80]),
        ),
        container("db", &[], container_at(5, &[5432])),
        container(
            "lost",
            &[("VIRTUAL_HOST", "c.test")],
            Reach::Unreachable("container lost shares no network with dockside".into()),
        ),
        SourceItem {
            reach: Reach::Addresses(vec![BackendAddr::Tcp("127.0.0.1:9000".parse().unwrap())]),
            ..source_item(
                "routes.toml site #1 (files.test)",
                &[("VIRTUAL_HOST", "files.test")],
            )
        },
        container(
            "<img src=x onerror=alert(1)>",
            &[("VIRTUAL_HOST", "e.test"), ("VIRTUAL_PORT", "<b>80</b>")],
            container_at(6, &[80]),
        ),
    ]
}

/// Everything a page needs, owned, so a test borrows [`World::inputs`].
pub(crate) struct World {
    pub state: DesiredState,
    pub live: Snapshot,
    pub acme: AcmeInput,
    pub providers: ProviderView,
    pub down: Vec<BackendAddr>,
    pub traffic: BTreeMap<String, Traffic>,
    _certs: tempfile::TempDir,
}

impl World {
    pub(crate) fn new() -> World {
        let state = crate::settings::build(&items());
        let table = RouteTable::build(&state, &SiteDefaults::default());
        let dir = tempfile::tempdir().unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec!["a.test".to_owned()]).unwrap();
        let cert = params.self_signed(&key).unwrap();
        write_pair(
            dir.path(),
            "a.test",
            cert.pem().as_bytes(),
            key.serialize_pem().as_bytes(),
        )
        .unwrap();
        let certs = CertMap::scan(dir.path(), &CertMap::default()).0;
        let live = Snapshot::build(
            Arc::new(table),
            Arc::new(certs),
            (crate::tls::policy::Policy::Intermediate, true),
            &mut |_, _, _| {},
        );
        let mut statuses = BTreeMap::new();
        statuses.insert(
            "a.test".to_owned(),
            CertStatus::Valid {
                not_after: NOW + 60 * 86_400,
                renew_at: NOW + 30 * 86_400,
            },
        );
        statuses.insert(
            "b.test".to_owned(),
            CertStatus::Failed {
                error: "b.test: the CA said <urn:ietf:params:acme:error:dns> NXDOMAIN".into(),
                failures: 3,
                retry_in: Duration::from_secs(600),
            },
        );
        World {
            state,
            live,
            acme: AcmeInput {
                started: 5,
                succeeded: 2,
                failed: 3,
                certificates: statuses,
                store: None,
            },
            providers: ProviderView {
                docker: Some(DockerView {
                    endpoint: "unix:///var/run/docker.sock".into(),
                    connected: true,
                    last_error: None,
                    events_seen: 42,
                    last_full_sync: Some(NOW - 5),
                    containers: 5,
                    reconnects: 1,
                }),
                routes_reloads: Reloads { ok: 2, failed: 1 },
                nginx_files_reloads: Reloads { ok: 1, failed: 0 },
                routes_error: Some("routes.toml: line 3: expected `=`".into()),
            },
            down: vec![BackendAddr::Tcp("172.18.0.2:80".parse().unwrap())],
            traffic: [(
                "a.test".to_owned(),
                Traffic {
                    requests_per_second: 12.5,
                    errors_per_second: 0.5,
                },
            )]
            .into(),
            _certs: dir,
        }
    }

    pub(crate) fn inputs(&self) -> Inputs<'_> {
        Inputs {
            state: &self.state,
            live: &self.live,
            acme: Some(&self.acme),
            providers: &self.providers,
            down: &self.down,
            traffic: &self.traffic,
            now: NOW,
        }
    }

    pub(crate) fn overview(&self) -> Overview {
        overview(&self.inputs())
    }
}
