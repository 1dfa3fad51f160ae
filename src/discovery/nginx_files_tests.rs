use std::sync::Arc;
use std::time::Duration;

use super::*;

fn dirs(root: &Path) -> NginxDirs {
    NginxDirs {
        vhost_d: root.join("vhost.d"),
        htpasswd: root.join("htpasswd"),
        conf_d: root.join("conf.d"),
        html: root.join("html"),
    }
}

fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn missing_folders_are_empty() {
    let root = tempfile::tempdir().unwrap();
    assert_eq!(
        load(&dirs(root.path()), &NginxFiles::default()),
        NginxFiles::default()
    );
}

#[test]
fn reads_every_folder_and_skips_what_is_not_configuration() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    write(r, "vhost.d/a.test", "client_max_body_size 1k;\n");
    write(r, "vhost.d/.a.test.swp", "garbage {");
    write(r, "vhost.d/a.test~", "garbage {");
    write(r, "htpasswd/a.test", "alice:{SHA}x\n");
    write(r, "conf.d/edge.conf", "add_header X-Edge yes always;\n");
    write(r, "conf.d/default.conf", "server { listen 80; }\n");
    write(r, "conf.d/notes.txt", "not a conf");
    write(r, "html/errors/50x.html", "<h1>down</h1>");
    write(r, "html/errors/a.test/502.html", "<h1>a is down</h1>");
    let files = load(&dirs(r), &NginxFiles::default());
    assert_eq!(files.vhost_d.keys().collect::<Vec<_>>(), ["a.test"]);
    assert_eq!(files.htpasswd["a.test"], "alice:{SHA}x\n");
    assert_eq!(files.conf_d.keys().collect::<Vec<_>>(), ["edge.conf"]);
    assert_eq!(files.errors_50x.as_deref(), Some("<h1>down</h1>"));
    assert_eq!(files.error_pages["a.test/502.html"], "<h1>a is down</h1>");
}

#[test]
fn a_file_that_does_not_parse_keeps_its_last_good_version() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    write(r, "vhost.d/a.test", "client_max_body_size 1k;\n");
    let good = load(&dirs(r), &NginxFiles::default());
    write(r, "vhost.d/a.test", "add_header \"unterminated;\n");
    write(r, "vhost.d/b.test", "return 418 {\n");
    let next = load(&dirs(r), &good);
    assert_eq!(next.vhost_d["a.test"], "client_max_body_size 1k;\n");
    assert!(
        !next.vhost_d.contains_key("b.test"),
        "never good: not applied"
    );
}

#[tokio::test]
async fn an_edit_is_published() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path().to_owned();
    write(&r, "vhost.d/a.test", "client_max_body_size 1k;\n");
    let (tx, mut rx) = watch::channel(Arc::new(load(&dirs(&r), &NginxFiles::default())));
    let token = CancellationToken::new();
    let task = spawn(dirs(&r), tx, token.clone(), Default::default());
    write(&r, "vhost.d/a.test", "client_max_body_size 2k;\n");
    tokio::time::timeout(Duration::from_secs(5), rx.changed())
        .await
        .expect("published within the 2 s poll (and usually at once)")
        .unwrap();
    assert_eq!(rx.borrow().vhost_d["a.test"], "client_max_body_size 2k;\n");
    token.cancel();
    task.await.unwrap();
}
