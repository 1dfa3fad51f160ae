use super::*;

fn flags(store: &str) -> StoreFlags {
    StoreFlags {
        store: Some(store.into()),
        prefix: "/dockside/".into(),
        lock_ttl: 15,
        ..StoreFlags::default()
    }
}

#[test]
fn off_or_absent_is_no_store() {
    assert_eq!(StoreFlags::default().settings("h").unwrap(), None);
    assert_eq!(flags("off").settings("h").unwrap(), None);
    assert_eq!(flags(" ").settings("h").unwrap(), None);
}

#[test]
fn endpoints_become_urls() {
    let s = flags("etcd://10.0.0.1:2379, etcd-2:2379,[::1]:2379")
        .settings("h")
        .unwrap()
        .unwrap();
    assert_eq!(
        s.endpoints,
        [
            "http://10.0.0.1:2379",
            "http://etcd-2:2379",
            "http://[::1]:2379"
        ]
    );
    assert!(s.replica.starts_with("h-"), "{}", s.replica);
    assert_eq!(s.lock_ttl, Duration::from_secs(15));
    let mut tls = flags("etcd://a:2379");
    tls.ca = Some("/ca.pem".into());
    let s = tls.settings("h").unwrap().unwrap();
    assert_eq!(s.endpoints, ["https://a:2379"]);
}

#[test]
fn bad_settings_name_the_variable() {
    let err = |f: StoreFlags| f.settings("h").unwrap_err();
    assert!(matches!(
        err(flags("http://a:2379")),
        StoreSettingsError::Url(_)
    ));
    assert!(matches!(
        err(flags("etcd://a")),
        StoreSettingsError::Endpoint(_)
    ));
    assert!(matches!(
        err(flags("etcd://a:0")),
        StoreSettingsError::Endpoint(_)
    ));
    assert!(matches!(
        err(flags("etcd://u@a:1")),
        StoreSettingsError::Endpoint(_)
    ));
    assert!(matches!(err(flags("etcd://")), StoreSettingsError::Url(_)));
    let mut f = flags("etcd://a:1");
    f.client_cert = Some("/c".into());
    assert_eq!(err(f), StoreSettingsError::ClientPair);
    let mut f = flags("etcd://a:1");
    f.user = Some("u".into());
    assert_eq!(err(f.clone()), StoreSettingsError::NoPassword);
    f.password = Some("p".into());
    f.password_file = Some("/p".into());
    assert_eq!(err(f), StoreSettingsError::TwoPasswords);
    let mut f = flags("etcd://a:1");
    f.lock_ttl = 1;
    assert_eq!(err(f), StoreSettingsError::LockTtl);
    assert!(err(flags("x")).to_string().contains("DOCKSIDE_STORE"));
    let mut f = flags("etcd://a:1");
    f.replica = Some("a/b".into());
    assert!(matches!(err(f), StoreSettingsError::Replica(_)));
}

#[test]
fn password_file_is_read_without_its_newline() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pw");
    std::fs::write(&path, "s3cret\n").unwrap();
    let mut f = flags("etcd://a:1");
    f.user = Some("root".into());
    f.password_file = Some(path);
    let s = f.settings("h").unwrap().unwrap();
    assert_eq!(s.user, Some(("root".into(), "s3cret".into())));
}
