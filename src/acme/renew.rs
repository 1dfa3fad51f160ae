//! `dockside renew [--force] [HOST…]` (acme-companion's `force_renew` / `signal_le_service`):
//! a request from the admin listener that the reconciler looks at the named (or all)
//! certificates now, and with `force` orders them even while they are valid.

use tokio::sync::{mpsc, oneshot};

/// Requests queued beyond this are refused (the admin answers 503): one operator, one request.
const QUEUE: usize = 8;

/// One renew request, answered by the reconciler once it has scheduled the certificates.
#[derive(Debug)]
pub struct RenewRequest {
    /// Host names as the user typed them; empty = every certificate.
    pub hosts: Vec<String>,
    /// Order even a valid certificate (acme.sh `--force`).
    pub force: bool,
    pub reply: oneshot::Sender<RenewOutcome>,
}

/// What the reconciler did with a request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RenewOutcome {
    /// Base directory names looked at now (ordered now when forced or due).
    pub scheduled: Vec<String>,
    /// Named hosts no wanted certificate covers.
    pub unknown: Vec<String>,
}

/// The admin side's handle; cheap to clone.
#[derive(Debug, Clone)]
pub struct Renewer(mpsc::Sender<RenewRequest>);

/// The reconciler's side of the queue.
pub type RenewInbox = mpsc::Receiver<RenewRequest>;

/// A connected pair: `Renewer` for the admin listener, the inbox for `ReconcilerConfig`.
pub fn renew_channel() -> (Renewer, RenewInbox) {
    let (tx, rx) = mpsc::channel(QUEUE);
    (Renewer(tx), rx)
}

/// Why a renew request got no outcome.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenewError {
    #[error("the ACME reconciler is busy with other renew requests; try again")]
    Busy,
    #[error("the ACME reconciler is not running")]
    Stopped,
}

impl Renewer {
    /// Queues the request and waits for the reconciler's answer.
    pub async fn renew(&self, hosts: Vec<String>, force: bool) -> Result<RenewOutcome, RenewError> {
        let (reply, answer) = oneshot::channel();
        self.0
            .try_send(RenewRequest {
                hosts,
                force,
                reply,
            })
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => RenewError::Busy,
                mpsc::error::TrySendError::Closed(_) => RenewError::Stopped,
            })?;
        answer.await.map_err(|_| RenewError::Stopped)
    }
}

/// Which of `certs` (base, hosts) a request names: every one when `asked` is empty, else each
/// one holding an asked host (case and a trailing dot ignored; `*.x` matches as written).
/// Pure, for the reconciler.
pub(crate) fn select<'a>(
    asked: &[String],
    certs: impl Iterator<Item = (&'a String, &'a [String])>,
) -> RenewOutcome {
    let asked: Vec<String> = asked
        .iter()
        .map(|h| h.trim().trim_end_matches('.').to_ascii_lowercase())
        .filter(|h| !h.is_empty())
        .collect();
    let mut out = RenewOutcome::default();
    let mut found = vec![false; asked.len()];
    for (base, hosts) in certs {
        let mut hit = asked.is_empty();
        for (i, a) in asked.iter().enumerate() {
            if hosts.iter().any(|h| h == a) {
                (found[i], hit) = (true, true);
            }
        }
        if hit {
            out.scheduled.push(base.clone());
        }
    }
    out.unknown = asked
        .into_iter()
        .zip(found)
        .filter(|(_, f)| !f)
        .map(|(a, _)| a)
        .collect();
    out
}

#[cfg(test)]
#[path = "renew_tests.rs"]
mod tests;
