use super::*;

fn ports(http: Option<u16>, https: Option<u16>) -> SitePorts {
    SitePorts { http, https }
}

fn claimed(port: u16, kind: PortKind, host: &str) -> ExtraPorts {
    ExtraPorts::from([(
        port,
        ExtraPort {
            kind,
            hosts: vec![host.to_owned()],
        },
    )])
}

#[test]
fn placement_table() {
    let listen = ListenPorts::default();
    let none = ExtraPorts::new();
    let https_off = ListenPorts {
        http: 80,
        https: None,
    };
    // (wanted, listeners, claimed, placed)
    let ok: &[(SitePorts, ListenPorts, &ExtraPorts, SitePorts)] = &[
        (ports(None, None), listen, &none, ports(None, None)),
        (
            ports(Some(8080), None),
            listen,
            &none,
            ports(Some(8080), None),
        ),
        (
            ports(None, Some(8443)),
            listen,
            &none,
            ports(None, Some(8443)),
        ),
        // The port of the listener of the same scheme is that listener.
        (ports(Some(80), Some(443)), listen, &none, ports(None, None)),
        // No TLS at all: EXTERNAL_HTTPS_PORT has nothing to serve.
        (ports(None, Some(8443)), https_off, &none, ports(None, None)),
        // Sharing an extra port with another site of the same scheme.
        (
            ports(Some(8080), None),
            listen,
            &claimed(8080, PortKind::Http, "a.test"),
            ports(Some(8080), None),
        ),
    ];
    for (wanted, listen, claimed, placed) in ok {
        assert_eq!(
            place(*wanted, *listen, claimed).as_ref(),
            Ok(placed),
            "{wanted:?}"
        );
    }
    let bad: &[(SitePorts, &ExtraPorts, &str)] = &[
        (
            ports(Some(443), None),
            &none,
            "EXTERNAL_HTTP_PORT=443 is dockside's own HTTPS port",
        ),
        (
            ports(None, Some(80)),
            &none,
            "EXTERNAL_HTTPS_PORT=80 is dockside's own HTTP port",
        ),
        (ports(Some(81), Some(81)), &none, "both 81"),
        (
            ports(Some(8443), None),
            &claimed(8443, PortKind::Https, "a.test"),
            "EXTERNAL_HTTP_PORT=8443 is already EXTERNAL_HTTPS_PORT of a.test",
        ),
    ];
    for (wanted, claimed, why) in bad {
        let err = place(*wanted, listen, claimed).unwrap_err();
        assert!(err.contains(why), "{wanted:?}: {err}");
    }
}
