use super::*;

#[test]
fn example_file_parses_cleanly() {
    let routes = parse(EXAMPLE, Path::new("routes.toml")).unwrap();
    assert_eq!(routes.items.len(), 1);
    assert!(routes.warnings.is_empty(), "{:?}", routes.warnings);
    let state = crate::settings::build(&routes.items);
    assert_eq!(
        state
            .sites
            .iter()
            .map(|s| s.host.as_str())
            .collect::<Vec<_>>(),
        ["*.localhost", "localhost"]
    );
}

#[test]
fn entries_become_items_with_their_settings() {
    let text = r#"
            [[site]]
            VIRTUAL_HOST = "a.tld"
            VIRTUAL_PROTO = "uwsgi"
            CLIENT_MAX_BODY_SIZE = 1048576
            backends = ["127.0.0.1:9009", "[::1]:9010", "app:8000", "unix:/run/app.sock"]
        "#;
    let routes = parse(text, Path::new("r.toml")).unwrap();
    let item = &routes.items[0];
    assert_eq!(item.name, "r.toml site #1 (a.tld)");
    assert_eq!(
        item.vars.get("CLIENT_MAX_BODY_SIZE").map(String::as_str),
        Some("1048576")
    );
    let Reach::Addresses(addrs) = &item.reach else {
        panic!("{:?}", item.reach)
    };
    assert_eq!(addrs.len(), 4);
    assert_eq!(
        addrs[2],
        BackendAddr::Name {
            host: "app".into(),
            port: 8000
        }
    );
}

#[test]
fn bad_entries_are_reported_not_fatal() {
    let text = r#"
            [[site]]
            VIRTUAL_HOST = "a.tld"
            backends = ["nowhere"]
            VIRTAUL_PORT = "80"
            [[site]]
            VIRTUAL_HOST = "b.tld"
        "#;
    let routes = parse(text, Path::new("r.toml")).unwrap();
    assert!(matches!(&routes.items[0].reach, Reach::Unreachable(w) if w.contains("\"nowhere\"")));
    assert!(matches!(&routes.items[1].reach, Reach::Unreachable(w) if w.contains("no `backends`")));
    assert!(
        routes.warnings[0].contains("VIRTAUL_PORT"),
        "{:?}",
        routes.warnings
    );
}

#[test]
fn syntax_errors_name_the_file() {
    let err = parse(
        "[[site]\nVIRTUAL_HOST=",
        Path::new("/etc/dockside/routes.toml"),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("/etc/dockside/routes.toml"),
        "{err}"
    );
}

/// A routes file with one site for `host`.
fn write_site(path: &Path, host: &str) {
    let text = format!("[[site]]\nVIRTUAL_HOST = \"{host}\"\nbackends = [\"127.0.0.1:1\"]\n");
    std::fs::write(path, text).unwrap();
}

#[tokio::test]
async fn edits_are_published_and_syntax_errors_keep_the_last_good() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("routes.toml");
    let write = |host: &str| write_site(&path, host);
    write("one.tld");
    let (tx, mut rx) = watch::channel(load(&path).unwrap().items);
    let token = CancellationToken::new();
    let status = std::sync::Arc::new(crate::discovery::ProviderStatus::default());
    let task = spawn(path.clone(), tx, token.clone(), status.clone());
    let host = |items: &Vec<SourceItem>| items[0].vars["VIRTUAL_HOST"].clone();

    tokio::time::sleep(Duration::from_millis(100)).await;
    write("two.tld");
    tokio::time::timeout(Duration::from_secs(1), rx.changed())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(host(&rx.borrow_and_update()), "two.tld");

    std::fs::write(&path, "[[site]\n").unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !rx.has_changed().unwrap(),
        "a broken file must not replace good routes"
    );
    assert_eq!(host(&rx.borrow()), "two.tld");
    // The dashboard and /metrics see the failed reload and why, until a good one.
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    while status.view().routes_reloads.failed == 0 {
        assert!(std::time::Instant::now() < deadline, "{:?}", status.view());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let seen = status.view();
    assert!(seen.routes_reloads.ok >= 1, "{seen:?}");
    assert!(
        seen.routes_error
            .as_deref()
            .is_some_and(|e| e.contains("routes.toml")),
        "{seen:?}"
    );
    write("three.tld");
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    while status.view().routes_error.is_some() {
        assert!(std::time::Instant::now() < deadline, "{:?}", status.view());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    token.cancel();
    task.await.unwrap();
}

/// An edit landing after the caller's `load` but before the task has stamped the file and
/// registered its watcher was never published: the poll compared against the edited stamp.
/// On a current-thread runtime the task cannot start before the edit below.
#[tokio::test]
async fn an_edit_before_the_task_starts_is_published() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("routes.toml");
    let write = |host: &str| write_site(&path, host);
    write("one.tld");
    let (tx, mut rx) = watch::channel(load(&path).unwrap().items);
    let token = CancellationToken::new();
    let task = spawn(path.clone(), tx, token.clone(), Default::default());
    write("two.tld");
    tokio::time::timeout(Duration::from_secs(3), rx.changed())
        .await
        .expect("the edit is published")
        .unwrap();
    assert_eq!(rx.borrow()[0].vars["VIRTUAL_HOST"], "two.tld");
    token.cancel();
    task.await.unwrap();
}

/// An editor writing in place leaves the file empty for a moment; a watcher that read it
/// then published "no sites", and a broken save right after kept that as the last good.
#[tokio::test]
async fn an_emptied_file_is_an_unfinished_edit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("routes.toml");
    let good = "[[site]]\nVIRTUAL_HOST = \"one.tld\"\nbackends = [\"127.0.0.1:1\"]\n";
    std::fs::write(&path, good).unwrap();
    let (tx, rx) = watch::channel(load(&path).unwrap().items);
    let token = CancellationToken::new();
    let task = spawn(path.clone(), tx, token.clone(), Default::default());
    tokio::time::sleep(Duration::from_millis(100)).await;

    std::fs::File::create(&path).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    std::fs::write(&path, "[[site]\n").unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!rx.has_changed().unwrap(), "{:?}", rx.borrow());
    assert_eq!(rx.borrow()[0].vars["VIRTUAL_HOST"], "one.tld");
    token.cancel();
    task.await.unwrap();
}

/// The provider's own read of the file is an inotify event too (`IN_OPEN`); taken as a change,
/// each read caused the next one, about 30 a second for as long as dockside ran. Here a second
/// watcher counts the opens of the file while nothing edits it.
#[tokio::test]
async fn reading_the_file_does_not_wake_the_provider() {
    use notify::Watcher;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("routes.toml");
    write_site(&path, "one.tld");
    // The caller's own load comes before the spy: inotify merges an event identical to the
    // one still unread before it, so counting "two opens" (the load's and the task's) could
    // see one when the spy's thread lagged — a flake seen under load.
    let (tx, _rx) = watch::channel(load(&path).unwrap().items);
    let opens = Arc::new(AtomicUsize::new(0));
    let counter = opens.clone();
    let mut spy = notify::recommended_watcher(move |ev: notify::Result<notify::Event>| {
        if let Ok(ev) = ev
            && matches!(
                ev.kind,
                notify::EventKind::Access(notify::event::AccessKind::Open(_))
            )
            && ev.paths.iter().any(|p| p.ends_with("routes.toml"))
        {
            counter.fetch_add(1, Ordering::SeqCst);
        }
    })
    .unwrap();
    spy.watch(dir.path(), notify::RecursiveMode::NonRecursive)
        .unwrap();
    let token = CancellationToken::new();
    let task = spawn(path.clone(), tx, token.clone(), Default::default());
    // The task reads the file once when it starts (an edit before it started is not missed).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while opens.load(Ordering::SeqCst) < 1 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the task never read the file"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let settled = opens.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(600)).await;
    let more = opens.load(Ordering::SeqCst) - settled;
    assert_eq!(
        more, 0,
        "the unchanged file was read {more} more times in 600 ms"
    );
    token.cancel();
    task.await.unwrap();
}

#[test]
fn certificate_entries_ask_for_certificates_only() {
    let text = r#"
            [[certificate]]
            ACME_HOST = "mail.tld, smtp.tld"
            ACME_EMAIL = "ops@tld"
            ZEROSSL_API_KEY = "k3y"
            ACME_RESTART_CONTAINER = true
            backends = ["127.0.0.1:1"]

            [[site]]
            VIRTUAL_HOST = "a.tld"
            LETSENCRYPT_HOST = "a.tld"
            backends = ["127.0.0.1:9009"]

            [[certificate]]
            ACME_EMAIL = "no hosts"
        "#;
    let routes = parse(text, Path::new("r.toml")).unwrap();
    let w = &routes.warnings;
    assert_eq!(w.len(), 3, "{w:?}");
    assert!(
        w[0].contains("ACME_RESTART_CONTAINER has no container"),
        "{w:?}"
    );
    assert!(
        w[1].contains("\"backends\" is not a certificate setting"),
        "{w:?}"
    );
    assert!(w[2].contains("certificate #2 has no ACME_HOST"), "{w:?}");
    let state = crate::settings::build(&routes.items);
    let hosts: Vec<_> = state.certificates.iter().map(|c| c.hosts.clone()).collect();
    assert_eq!(hosts, [vec!["a.tld"], vec!["mail.tld", "smtp.tld"]]);
    let standalone = &state.certificates[1];
    assert_eq!(
        standalone.source,
        "r.toml certificate #1 (mail.tld, smtp.tld)"
    );
    assert_eq!(
        standalone.settings.get("ACME_EMAIL").map(String::as_str),
        Some("ops@tld")
    );
    assert_eq!(
        standalone
            .settings
            .get("ZEROSSL_API_KEY")
            .map(String::as_str),
        Some("k3y"),
        "an entry's own ZeroSSL key reaches the ACME side"
    );
    let sites: Vec<_> = state.sites.iter().map(|s| s.host.as_str()).collect();
    assert_eq!(sites, ["a.tld"], "a certificate entry routes nothing");
    assert!(
        state.skipped.is_empty(),
        "no VIRTUAL_HOST warnings: {:?}",
        state.skipped
    );
}
