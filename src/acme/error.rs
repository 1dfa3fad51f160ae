//! The typed failure of one ACME order: which hosts, which CA, which step, and the CA's own
//! problem document, so a log line says exactly what to fix and the reconciler can branch on
//! rate limits and `Retry-After`.

use std::fmt;
use std::time::SystemTime;

/// Where in the order flow a failure happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Account,
    Order,
    Authorization,
    Challenge,
    Finalize,
    Download,
    Store,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Step::Account => "account",
            Step::Order => "order",
            Step::Authorization => "authorization",
            Step::Challenge => "challenge",
            Step::Finalize => "finalize",
            Step::Download => "download",
            Step::Store => "store",
        })
    }
}

/// An RFC 7807 problem document from the CA (RFC 8555 §6.7), flattened for logs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProblemDoc {
    /// e.g. `urn:ietf:params:acme:error:rejectedIdentifier`.
    pub kind: Option<String>,
    pub detail: Option<String>,
    pub status: Option<u16>,
    /// The identifier a subproblem (or a failed challenge) is about.
    pub identifier: Option<String>,
    pub subproblems: Vec<ProblemDoc>,
}

impl ProblemDoc {
    /// Whether the type is `urn:ietf:params:acme:error:<name>`.
    pub fn is(&self, name: &str) -> bool {
        self.kind
            .as_deref()
            .and_then(|k| k.strip_prefix("urn:ietf:params:acme:error:"))
            == Some(name)
    }

    pub(crate) fn from_acme(p: &instant_acme::Problem, identifier: Option<String>) -> ProblemDoc {
        ProblemDoc {
            kind: p.r#type.clone(),
            detail: p.detail.clone(),
            status: p.status,
            identifier,
            subproblems: p
                .subproblems
                .iter()
                .map(|s| ProblemDoc {
                    kind: s.r#type.clone(),
                    detail: s.detail.clone(),
                    identifier: s
                        .identifier
                        .as_ref()
                        .map(|i| i.authorized(false).to_string()),
                    ..ProblemDoc::default()
                })
                .collect(),
        }
    }
}

impl fmt::Display for ProblemDoc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(id) = &self.identifier {
            write!(f, "{id}: ")?;
        }
        write!(f, "{}", self.kind.as_deref().unwrap_or("(no type)"))?;
        if let Some(detail) = &self.detail {
            write!(f, ": {detail}")?;
        }
        if let Some(status) = self.status {
            write!(f, " (HTTP {status})")?;
        }
        for sub in &self.subproblems {
            write!(f, "; {sub}")?;
        }
        Ok(())
    }
}

/// What went wrong in a step.
#[derive(Debug, thiserror::Error)]
pub enum Cause {
    /// The CA answered with a problem document.
    #[error("the CA said {0}")]
    Problem(ProblemDoc),
    /// The CA kept the order pending/processing past our deadline.
    #[error("timed out waiting for the CA")]
    Timeout,
    /// Talking to the CA failed (connection, TLS, malformed answer).
    #[error("{0}")]
    Protocol(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The CA's answer was valid ACME but not usable (e.g. no challenge type we can answer).
    #[error("{0}")]
    Unusable(String),
    /// Generating the key or the CSR failed.
    #[error("key generation: {0}")]
    Key(#[source] rcgen::Error),
    /// Writing the files failed.
    #[error("writing files: {0}")]
    Io(#[source] std::io::Error),
    /// Publishing, checking or removing a DNS-01 record failed (names the zone and server).
    #[error("{0}")]
    Dns(#[source] crate::acme::dns::DnsError),
    /// The shared store (`--store`) failed while the order needed it, or the order lock was
    /// lost: the order is abandoned rather than finished by two replicas.
    #[error("shared store: {0}")]
    Store(#[source] crate::store::EtcdError),
}

/// One failed order, with everything a log line and the backoff need.
#[derive(Debug, thiserror::Error)]
#[error("ACME {step} failed for {} at {ca}: {cause}", hosts.join(","))]
pub struct OrderError {
    pub hosts: Vec<String>,
    pub ca: String,
    pub step: Step,
    #[source]
    pub cause: Cause,
    /// The CA's `Retry-After`, when it sent one with the failing answer.
    pub retry_after: Option<SystemTime>,
}

impl OrderError {
    /// The CA's problem document, if the failure came with one.
    pub fn problem(&self) -> Option<&ProblemDoc> {
        match &self.cause {
            Cause::Problem(p) => Some(p),
            _ => None,
        }
    }

    /// Let's Encrypt's `rateLimited`: the backoff must honour `Retry-After` (or be long).
    pub fn is_rate_limited(&self) -> bool {
        self.problem().is_some_and(|p| p.is("rateLimited"))
    }
}

/// Maps an instant-acme error to a `Cause`, keeping the problem document when there is one.
pub(crate) fn cause(err: instant_acme::Error) -> Cause {
    match err {
        instant_acme::Error::Api(p) => Cause::Problem(ProblemDoc::from_acme(&p, None)),
        instant_acme::Error::Timeout(_) => Cause::Timeout,
        other => Cause::Protocol(Box::new(other)),
    }
}

#[cfg(test)]
#[path = "error_tests.rs"]
mod tests;
