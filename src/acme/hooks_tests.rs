//! Hook parsing (pure) and running real commands: environment, bounded output, timeout.

use super::*;

fn argv(v: &str) -> Vec<String> {
    Hook::parse("ACME_PRE_HOOK", v).unwrap().unwrap().argv
}

#[test]
fn splits_like_a_shell_without_one() {
    assert_eq!(argv("touch /tmp/x"), ["touch", "/tmp/x"]);
    assert_eq!(
        argv(r#"sh -c 'echo "$Le_Domain" > /tmp/a b'"#),
        ["sh", "-c", r#"echo "$Le_Domain" > /tmp/a b"#]
    );
    assert_eq!(argv(r#"say "two words" a\ b"#), ["say", "two words", "a b"]);
    for none in ["", "  ", ":", " : "] {
        assert_eq!(
            Hook::parse("ACME_PRE_HOOK", none).unwrap(),
            None,
            "{none:?}"
        );
    }
    let err = Hook::parse("ACME_POST_HOOK", "echo 'open").unwrap_err();
    assert!(
        err.contains("ACME_POST_HOOK") && err.contains("unterminated"),
        "{err}"
    );
}

#[test]
fn the_containers_value_replaces_dockside_s() {
    let mut w = Vec::new();
    let hooks = Hooks::resolve(
        "c",
        (Some("own pre".into()), None),
        (Some("global pre"), Some("global post")),
        &mut w,
    );
    assert_eq!(hooks.pre.unwrap().argv, ["own", "pre"]);
    assert_eq!(hooks.post.unwrap().argv, ["global", "post"]);
    // `:` on the container switches dockside's hook off for it.
    let hooks = Hooks::resolve(
        "c",
        (Some(":".into()), None),
        (Some("global"), None),
        &mut w,
    );
    assert_eq!(hooks.pre, None);
    let hooks = Hooks::resolve(
        "c",
        (Some("'bad".into()), None),
        (Some("global"), None),
        &mut w,
    );
    assert_eq!(hooks.pre, None);
    assert_eq!(w.len(), 1, "{w:?}");
}

#[test]
fn environment_uses_acme_sh_names() {
    let hosts = vec!["a.test".to_string(), "b.test".into(), "c.test".into()];
    let (name, env) = environment(Stage::Pre, &hosts, Path::new("/certs/a.test"));
    assert_eq!(name, "ACME_PRE_HOOK");
    assert_eq!(
        env,
        [
            ("Le_Domain".to_string(), "a.test".to_string()),
            ("Le_Alt".into(), "b.test,c.test".into())
        ]
    );
    let (name, env) = environment(
        Stage::Post { ok: false },
        &hosts[..1],
        Path::new("/certs/a.test"),
    );
    assert_eq!(name, "ACME_POST_HOOK");
    let get = |k: &str| env.iter().find(|(n, _)| n == k).unwrap().1.clone();
    assert_eq!(get("Le_Alt"), "no");
    assert_eq!(get("CERT_FULLCHAIN_PATH"), "/certs/a.test/fullchain.pem");
    assert_eq!(get("CERT_KEY_PATH"), "/certs/a.test/key.pem");
    assert_eq!(get("DOCKSIDE_ORDER_RESULT"), "failed");
}

fn sh(script: &str) -> Hook {
    Hook {
        argv: vec!["sh".into(), "-c".into(), script.into()],
    }
}

#[tokio::test]
async fn runs_with_the_environment_and_bounds_output() {
    let env = vec![("Le_Domain".to_string(), "a.test".to_string())];
    let out = run_bounded(
        &sh(r#"echo "$Le_Domain"; echo oops >&2; exit 3"#),
        &env,
        TIMEOUT,
    )
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(
        (out.stdout.as_str(), out.stderr.as_str()),
        ("a.test", "oops")
    );
    let out = run_bounded(&sh("head -c 100000 /dev/zero | tr '\\0' x"), &[], TIMEOUT)
        .await
        .unwrap();
    assert!(out.status.success());
    assert_eq!(out.stdout.len(), OUTPUT_LIMIT + " […]".len());
}

#[tokio::test]
async fn a_stuck_hook_is_killed_and_a_missing_one_reported() {
    let err = run_bounded(&sh("exec sleep 30"), &[], Duration::from_millis(200))
        .await
        .unwrap_err();
    assert!(matches!(err, HookError::Timeout(_)), "{err}");
    let missing = Hook {
        argv: vec!["/nonexistent/dockside-hook".into()],
    };
    let err = run_bounded(&missing, &[], TIMEOUT).await.unwrap_err();
    assert!(
        err.to_string().contains("/nonexistent/dockside-hook"),
        "{err}"
    );
}
