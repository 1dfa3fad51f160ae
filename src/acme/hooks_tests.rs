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

/// `true` once `pid` is no process, or only a zombie (in a container, pid 1 may not reap the
/// orphans it inherits).
fn gone(pid: &str) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        // "pid (comm) S ...": the state follows the last ')'.
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with(['Z', 'X'])),
    }
}

/// Polls `gone` with a bound: a SIGKILL is delivered asynchronously.
async fn wait_gone(pid: &str) -> bool {
    for _ in 0..200 {
        if gone(pid) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    false
}

/// The pids a script wrote to `file`, one a line, once it wrote `n` of them.
async fn pids(file: &std::path::Path, n: usize) -> Vec<String> {
    for _ in 0..400 {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        let pids: Vec<String> = text.lines().map(str::to_owned).collect();
        if pids.len() >= n {
            return pids;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the hook did not write {n} pids to {}", file.display());
}

#[tokio::test]
async fn a_stuck_hook_is_killed_with_its_children_and_a_missing_one_reported() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pids");
    let script = format!(
        "echo $$ > {f}; sleep 100 & echo $! >> {f}; wait",
        f = file.display()
    );
    let err = run_bounded(&sh(&script), &[], Duration::from_millis(500))
        .await
        .unwrap_err();
    assert!(matches!(err, HookError::Timeout(_)), "{err}");
    let pids = pids(&file, 2).await;
    for pid in &pids {
        assert!(wait_gone(pid).await, "process {pid} survived the timeout");
    }
    let missing = Hook {
        argv: vec!["/nonexistent/dockside-hook".into()],
    };
    let err = run_bounded(&missing, &[], TIMEOUT).await.unwrap_err();
    assert!(
        err.to_string().contains("/nonexistent/dockside-hook"),
        "{err}"
    );
}

/// A hook exiting while a process it started in the background holds its stdout finished:
/// its status and output are reported, it is not "killed".
#[tokio::test]
async fn a_hook_leaving_a_background_process_finishes() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pids");
    let script = format!("echo started; sleep 100 & echo $! > {}", file.display());
    let out = run_bounded(&sh(&script), &[], TIMEOUT).await.unwrap();
    assert!(out.status.success());
    assert_eq!(out.stdout, "started");
    let pid: i32 = pids(&file, 1).await[0].parse().unwrap();
    let pid = rustix::process::Pid::from_raw(pid).unwrap();
    let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
}

/// dockside's environment holds secrets: a hook sees PATH, HOME and acme.sh's variables only.
#[tokio::test]
async fn hooks_do_not_inherit_dockside_s_environment() {
    // cargo sets this for every test process; it stands for any secret of dockside's.
    assert!(std::env::var_os("CARGO_MANIFEST_DIR").is_some());
    let env = vec![("Le_Domain".to_string(), "a.test".to_string())];
    let out = run_bounded(
        &sh(r#"echo "[$CARGO_MANIFEST_DIR]"; echo "$Le_Domain"; [ -n "$PATH" ] && echo path"#),
        &env,
        TIMEOUT,
    )
    .await
    .unwrap();
    assert_eq!(out.stdout, "[]\na.test\npath");
}

#[test]
fn check_shows_the_program_and_the_argument_count_only() {
    let hook = Hook::parse("ACME_POST_HOOK", "curl -u admin:s3cret https://x")
        .unwrap()
        .unwrap();
    assert_eq!(hook.program(), "curl");
    assert_eq!(hook.describe(), "curl (3 arguments)");
    let one = Hook::parse("ACME_PRE_HOOK", "reload").unwrap().unwrap();
    assert_eq!(one.describe(), "reload (0 arguments)");
}
