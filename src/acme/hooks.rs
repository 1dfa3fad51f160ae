//! `ACME_PRE_HOOK` / `ACME_POST_HOOK`: a command run before and after each order of a
//! certificate, as acme.sh's `--pre-hook`/`--post-hook` are under acme-companion.
//!
//! No shell: the value is split into argv with POSIX shell quoting rules (`shlex`), so
//! `sh -c '…'` is how a user asks for pipes or `&&` (the dockside image has no shell; theirs
//! may). The names are in the environment as acme.sh exports them: `Le_Domain` (first host),
//! `Le_Alt` (the others, comma separated, `no` when none); the post hook also gets
//! `CERT_PATH`, `CERT_KEY_PATH`, `CA_CERT_PATH`, `CERT_FULLCHAIN_PATH` and
//! `DOCKSIDE_ORDER_RESULT` (`ok` or `failed`). A hook's output is logged (bounded), it is
//! killed after `TIMEOUT`, and its failure is logged but never stops the order or serving.
//!
//! A hook does NOT inherit dockside's environment, which holds secrets (`ZEROSSL_API_KEY`,
//! `ACME_EAB_HMAC_KEY`, `ACMESH_DNS_API_CONFIG`, `DOCKER_*`): it gets `PATH`, `HOME` (when
//! set) and the variables above, nothing else. It runs in its own process group, and a timeout
//! kills the whole group, so `sh -c 'slow & wait'` leaves nothing behind. A hook that exits
//! while a process it started in the background still holds its stdout is not waited for:
//! its output is read for at most `OUTPUT_GRACE` more, and it counts as finished.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};

use crate::acme::spec::OrderSpec;

/// Longest a hook may run before it is killed: an order should not wait on a stuck script
/// for longer than it waits on the CA.
pub const TIMEOUT: Duration = Duration::from_secs(60);
/// How long output is still read after the hook exited (a background process it started may
/// hold the pipes open forever).
const OUTPUT_GRACE: Duration = Duration::from_secs(1);
/// `PATH` for a hook when dockside has none.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// Bytes of each of stdout and stderr kept for the log; the rest is read and dropped.
const OUTPUT_LIMIT: usize = 4096;

/// A hook command, already split; `argv[0]` is looked up in `PATH`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Hook {
    pub argv: Vec<String>,
}

/// Both hooks of one certificate.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Hooks {
    pub pre: Option<Hook>,
    pub post: Option<Hook>,
}

/// Which hook, for logs and for the environment it gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Pre,
    /// After the order; `ok` says whether it produced a certificate.
    Post {
        ok: bool,
    },
}

impl Hook {
    /// Parses a setting's value. `:` (acme-companion's documented no-op) and an empty value
    /// mean no hook; unbalanced quotes are an error naming the setting.
    pub fn parse(setting: &str, value: &str) -> Result<Option<Hook>, String> {
        let value = value.trim();
        if value.is_empty() || value == ":" {
            return Ok(None);
        }
        match shlex::split(value) {
            Some(argv) if !argv.is_empty() => Ok(Some(Hook { argv })),
            Some(_) => Ok(None),
            None => Err(format!(
                "{setting}={value:?} has an unterminated quote or a trailing backslash: the hook is not run"
            )),
        }
    }
}

impl Hook {
    /// `argv[0]`, what logs and `dockside check` show of a hook: the arguments may carry
    /// credentials.
    pub fn program(&self) -> &str {
        self.argv.first().map_or("", String::as_str)
    }

    /// `program (N arguments)`, for `dockside check`.
    pub fn describe(&self) -> String {
        let n = self.argv.len().saturating_sub(1);
        let s = if n == 1 { "" } else { "s" };
        format!("{} ({n} argument{s})", self.program())
    }
}

impl Hooks {
    /// The container's own value replaces dockside's (acme-companion: no merging); a bad
    /// value means no hook, with a warning.
    pub fn resolve(
        source: &str,
        own: (Option<String>, Option<String>),
        global: (Option<&str>, Option<&str>),
        warnings: &mut Vec<String>,
    ) -> Hooks {
        let mut one = |setting: &str, own: Option<String>, global: Option<&str>| {
            let value = own.as_deref().or(global)?;
            Hook::parse(setting, value)
                .map_err(|e| warnings.push(format!("{source}: {e}")))
                .ok()
                .flatten()
        };
        Hooks {
            pre: one("ACME_PRE_HOOK", own.0, global.0),
            post: one("ACME_POST_HOOK", own.1, global.1),
        }
    }
}

/// Runs `spec`'s hook for `stage`, if it has one.
pub async fn run_for(spec: &OrderSpec, stage: Stage, certs: &Path) {
    let hook = match stage {
        Stage::Pre => &spec.hooks.pre,
        Stage::Post { .. } => &spec.hooks.post,
    };
    if let Some(hook) = hook {
        run(hook, stage, &spec.hosts, certs, &spec.base_dir_name).await;
    }
}

/// Runs `hook` for the certificate of `hosts` written to `<certs>/<base>/`, logging its
/// outcome; never fails the caller.
pub async fn run(hook: &Hook, stage: Stage, hosts: &[String], certs: &Path, base: &str) {
    let (what, env) = environment(stage, hosts, &certs.join(base));
    let started = std::time::Instant::now();
    // The program only: arguments may carry credentials.
    let program = hook.program();
    match run_bounded(hook, &env, TIMEOUT).await {
        Ok(out) if out.status.success() => tracing::info!(
            hook = what, base, program, stdout = %out.stdout, stderr = %out.stderr,
            elapsed_ms = started.elapsed().as_millis() as u64, "hook finished"
        ),
        Ok(out) => tracing::warn!(
            hook = what, base, program, status = %out.status, stdout = %out.stdout,
            stderr = %out.stderr, "hook failed; the order goes on regardless"
        ),
        Err(e) => tracing::warn!(
            hook = what, base, program, error = %e,
            "hook could not run; the order goes on regardless"
        ),
    }
}

/// The setting name and the variables a hook sees (acme.sh's names).
fn environment(
    stage: Stage,
    hosts: &[String],
    dir: &Path,
) -> (&'static str, Vec<(String, String)>) {
    let alt = match hosts.get(1..) {
        Some(rest) if !rest.is_empty() => rest.join(","),
        _ => "no".to_owned(),
    };
    let mut env = vec![
        (
            "Le_Domain".to_owned(),
            hosts.first().cloned().unwrap_or_default(),
        ),
        ("Le_Alt".to_owned(), alt),
    ];
    let Stage::Post { ok } = stage else {
        return ("ACME_PRE_HOOK", env);
    };
    let path = |f: &str| dir.join(f).to_string_lossy().into_owned();
    for (name, file) in [
        ("CERT_PATH", "cert.pem"),
        ("CERT_KEY_PATH", "key.pem"),
        ("CA_CERT_PATH", "chain.pem"),
        ("CERT_FULLCHAIN_PATH", "fullchain.pem"),
    ] {
        env.push((name.to_owned(), path(file)));
    }
    let result = if ok { "ok" } else { "failed" };
    env.push(("DOCKSIDE_ORDER_RESULT".to_owned(), result.to_owned()));
    ("ACME_POST_HOOK", env)
}

/// What a finished hook said, each stream cut at `OUTPUT_LIMIT`.
#[derive(Debug)]
pub struct Output {
    pub status: std::process::ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// Why a hook produced no exit status.
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error("cannot start {program:?}: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    #[error("still running after {0:?}: killed")]
    Timeout(Duration),
    #[error("waiting for it: {0}")]
    Wait(std::io::Error),
}

/// Spawns `hook` with only `PATH`, `HOME` and `env` in its environment, stdin closed, output
/// captured, in its own process group; the group is killed at `limit` (and if this future is
/// dropped, e.g. when the order is cancelled).
pub async fn run_bounded(
    hook: &Hook,
    env: &[(String, String)],
    limit: Duration,
) -> Result<Output, HookError> {
    let mut cmd = tokio::process::Command::new(&hook.argv[0]);
    cmd.args(&hook.argv[1..])
        .env_clear()
        .env(
            "PATH",
            std::env::var_os("PATH").unwrap_or_else(|| DEFAULT_PATH.into()),
        )
        .envs(std::env::var_os("HOME").map(|h| ("HOME", h)))
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = cmd.spawn().map_err(|source| HookError::Spawn {
        program: hook.argv[0].clone(),
        source,
    })?;
    // The group's id is the child's pid (process_group(0)); valid until the child is reaped.
    let mut group = GroupKiller(
        child
            .id()
            .and_then(|p| i32::try_from(p).ok())
            .and_then(rustix::process::Pid::from_raw),
    );
    let (out, err) = (Captured::default(), Captured::default());
    let readers = [
        tokio_util::task::AbortOnDropHandle::new(tokio::spawn(
            out.clone().read(child.stdout.take()),
        )),
        tokio_util::task::AbortOnDropHandle::new(tokio::spawn(
            err.clone().read(child.stderr.take()),
        )),
    ];
    let status = match tokio::time::timeout(limit, child.wait()).await {
        Ok(status) => status.map_err(HookError::Wait)?,
        Err(_) => {
            group.kill();
            // The leader too, should the group kill have failed; then reap it (short).
            let _ = child.start_kill();
            let _ = child.wait().await;
            return Err(HookError::Timeout(limit));
        }
    };
    group.0 = None; // reaped: the id may be reused from now on
    let _ = tokio::time::timeout(OUTPUT_GRACE, futures_util::future::join_all(readers)).await;
    Ok(Output {
        status,
        stdout: out.text(),
        stderr: err.text(),
    })
}

/// SIGKILLs a hook's whole process group when told to, or when dropped while still armed.
struct GroupKiller(Option<rustix::process::Pid>);

impl GroupKiller {
    fn kill(&mut self) {
        if let Some(pgid) = self.0.take() {
            // `pgid` is our unreaped child's group: it cannot name anyone else's.
            let _ = rustix::process::kill_process_group(pgid, rustix::process::Signal::KILL);
        }
    }
}

impl Drop for GroupKiller {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One output stream's first `OUTPUT_LIMIT` bytes, shared with the task reading it so what
/// was read is kept when the reading is cut short.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<(Vec<u8>, bool)>>);

impl Captured {
    /// Reads a stream to its end, keeping the first `OUTPUT_LIMIT` bytes.
    async fn read(self, stream: Option<impl AsyncRead + Unpin>) {
        let Some(mut stream) = stream else {
            return;
        };
        let mut buf = [0u8; 1024];
        while let Ok(n) = stream.read(&mut buf).await {
            if n == 0 {
                break;
            }
            let mut kept = self.0.lock().unwrap_or_else(|e| e.into_inner());
            let room = OUTPUT_LIMIT - kept.0.len();
            kept.1 |= n > room;
            kept.0.extend_from_slice(&buf[..n.min(room)]);
        }
    }

    /// What was kept, lossy UTF-8, trimmed, `[…]` when cut.
    fn text(&self) -> String {
        let kept = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let mut s = String::from_utf8_lossy(&kept.0).trim_end().to_owned();
        if kept.1 {
            s.push_str(" […]");
        }
        s
    }
}

#[cfg(test)]
#[path = "hooks_tests.rs"]
mod tests;
