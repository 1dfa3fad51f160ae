//! A `Policy` compiled once per route-table build into what the data plane runs per request:
//! header names and values parsed, pages as shared bytes, and the stateful parts (credential
//! cache, rate-limit buckets) that live as long as the table.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::StatusCode;
use http::header::{HeaderMap, HeaderName, HeaderValue};

use super::access::allowed;
use super::auth::{AuthOutcome, Authenticator};
use super::rate::RateLimiter;
use super::spec::{AccessRule, Compression, FixedAnswer, Policy, ResponseHeaderOp, Timeouts};

/// The runtime form of one location's (or a site's server-level) policy. Shared by every
/// request of the location through an `Arc`; `None` in the route table when the policy is empty,
/// so a site without one pays a single branch.
pub struct SitePolicy {
    /// What this was compiled from: a rebuilt route table keeps the `SitePolicy` (and so the
    /// credential cache and rate-limit buckets) of a location whose policy did not change.
    spec: Policy,
    access: Vec<AccessRule>,
    auth: Option<Authenticator>,
    limiter: Option<RateLimiter>,
    pub max_body: Option<u64>,
    pub timeouts: Timeouts,
    answer: Option<FixedAnswer>,
    request_headers: Vec<(HeaderName, Option<HeaderValue>)>,
    response_headers: Vec<ResponseOp>,
    pub compression: Option<Compression>,
    error_pages: HashMap<u16, (HeaderValue, Bytes)>,
}

impl std::fmt::Debug for SitePolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The spec says it all; the runtime parts hold caches, not configuration.
        f.debug_struct("SitePolicy")
            .field("spec", &self.spec)
            .finish()
    }
}

#[derive(Debug)]
enum ResponseOp {
    Add {
        name: HeaderName,
        value: HeaderValue,
        always: bool,
    },
    Set {
        name: HeaderName,
        value: HeaderValue,
    },
    Remove {
        name: HeaderName,
    },
}

/// Why the policy turned a request away before it reached a backend.
#[derive(Debug)]
pub enum Refusal {
    /// `deny` / `NETWORK_ACCESS=internal`: 403.
    Forbidden,
    /// No or wrong credentials: 401 with this `WWW-Authenticate`.
    Unauthorized(HeaderValue),
    /// Over the rate limit (or too many failed logins): 429 with `Retry-After`.
    TooManyRequests(Duration),
}

impl SitePolicy {
    /// Compiles `spec`; `None` when it asks for nothing. An error names the header or value
    /// that is not valid HTTP (settings normally reject those earlier).
    pub fn compile(spec: &Policy) -> Result<Option<SitePolicy>, String> {
        if spec.is_empty() {
            return Ok(None);
        }
        let request_headers = spec
            .request_headers
            .iter()
            .map(|op| {
                let value = op.value.as_deref().map(value).transpose()?;
                Ok((name(&op.name)?, value))
            })
            .collect::<Result<_, String>>()?;
        let response_headers = spec
            .response_headers
            .iter()
            .map(|op| {
                Ok(match op {
                    ResponseHeaderOp::Add {
                        name: n,
                        value: v,
                        always,
                    } => ResponseOp::Add {
                        name: name(n)?,
                        value: value(v)?,
                        always: *always,
                    },
                    ResponseHeaderOp::Set { name: n, value: v } => ResponseOp::Set {
                        name: name(n)?,
                        value: value(v)?,
                    },
                    ResponseHeaderOp::Remove { name: n } => ResponseOp::Remove { name: name(n)? },
                })
            })
            .collect::<Result<_, String>>()?;
        let error_pages = spec
            .error_pages
            .iter()
            .map(|(code, page)| {
                let ct = value(&page.content_type)?;
                Ok((*code, (ct, Bytes::from(page.body.clone()))))
            })
            .collect::<Result<_, String>>()?;
        if let Some(a) = &spec.answer {
            StatusCode::from_u16(a.status)
                .map_err(|_| format!("return {}: not a status", a.status))?;
        }
        Ok(Some(SitePolicy {
            spec: spec.clone(),
            access: spec.access.clone(),
            auth: spec.auth.as_ref().map(Authenticator::new),
            limiter: spec.rate_limit.map(RateLimiter::new),
            max_body: spec.max_body,
            timeouts: spec.timeouts,
            answer: spec.answer.clone(),
            request_headers,
            response_headers,
            compression: spec.compression.clone(),
            error_pages,
        }))
    }

    /// The spec this policy was compiled from.
    pub fn spec(&self) -> &Policy {
        &self.spec
    }

    /// The request-side checks in their documented order: access → auth → rate limit. A
    /// credential not yet verified is checked on a blocking thread (bcrypt takes up to a few
    /// hundred ms); every other outcome is decided here without waiting.
    pub async fn admit(
        self: &Arc<Self>,
        client: IpAddr,
        authorization: Option<&HeaderValue>,
    ) -> Result<(), Refusal> {
        if !self.access.is_empty() && !allowed(&self.access, client) {
            return Err(Refusal::Forbidden);
        }
        if let Some(auth) = &self.auth {
            let outcome = match auth.check_cached(authorization, client) {
                Some(outcome) => outcome,
                None => {
                    let me = self.clone();
                    let header = authorization.cloned();
                    tokio::task::spawn_blocking(move || {
                        me.auth
                            .as_ref()
                            .map_or(AuthOutcome::Allowed, |a| a.check(header.as_ref(), client))
                    })
                    .await
                    .unwrap_or(AuthOutcome::Challenge)
                }
            };
            match outcome {
                AuthOutcome::Allowed => {}
                AuthOutcome::Challenge => {
                    return Err(Refusal::Unauthorized(auth.challenge_header().clone()));
                }
                AuthOutcome::Throttled { retry_after } => {
                    return Err(Refusal::TooManyRequests(retry_after));
                }
            }
        }
        if let Some(limiter) = &self.limiter {
            limiter
                .check(client, Instant::now())
                .map_err(Refusal::TooManyRequests)?;
        }
        Ok(())
    }

    /// nginx `return`: the answer that replaces forwarding, if any.
    pub fn fixed_answer(&self) -> Option<&FixedAnswer> {
        self.answer.as_ref()
    }

    /// `proxy_set_header`: set (replacing) or remove, in order.
    pub fn rewrite_request(&self, headers: &mut HeaderMap) {
        for (name, value) in &self.request_headers {
            match value {
                Some(v) => {
                    headers.insert(name.clone(), v.clone());
                }
                None => {
                    headers.remove(name);
                }
            }
        }
    }

    /// `proxy_hide_header`, `add_header [always]`, `more_set_headers`, in order. `add_header`
    /// without `always` applies to the statuses nginx lists (2xx success codes and redirects).
    pub fn rewrite_response(&self, status: StatusCode, headers: &mut HeaderMap) {
        let success = matches!(
            status.as_u16(),
            200 | 201 | 204 | 206 | 301 | 302 | 303 | 304 | 307 | 308
        );
        for op in &self.response_headers {
            match op {
                ResponseOp::Add {
                    name,
                    value,
                    always,
                } if *always || success => {
                    headers.append(name.clone(), value.clone());
                }
                ResponseOp::Add { .. } => {}
                ResponseOp::Set { name, value } => {
                    headers.insert(name.clone(), value.clone());
                }
                ResponseOp::Remove { name } => {
                    headers.remove(name);
                }
            }
        }
    }

    /// The page configured for an answer dockside produced with `status`.
    pub fn error_page(&self, status: StatusCode) -> Option<&(HeaderValue, Bytes)> {
        self.error_pages.get(&status.as_u16())
    }
}

fn name(n: &str) -> Result<HeaderName, String> {
    HeaderName::from_bytes(n.as_bytes()).map_err(|_| format!("{n:?} is not a valid header name"))
}

fn value(v: &str) -> Result<HeaderValue, String> {
    HeaderValue::from_str(v).map_err(|_| format!("{v:?} is not a valid header value"))
}

#[cfg(test)]
#[path = "compiled_tests.rs"]
mod tests;
