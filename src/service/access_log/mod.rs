//! One access-log line per request through `tracing` (target `dockside::access`), in
//! nginx-proxy's `vhost` format, its `LOG_JSON` keys, or the user's `LOG_FORMAT`
//! (nginx-proxy §1.6.11), escaped as `LOG_FORMAT_ESCAPE` says.

mod format;
mod render;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode, Uri, Version};

use crate::exchange::ConnInfo;

pub use format::{Escape, FormatError, LogFormat};

/// The access log the user asked for. `Vhost` and `Json` are nginx-proxy's two built-in
/// formats; `Custom` is `LOG_FORMAT` (or a built-in one with another `LOG_FORMAT_ESCAPE`),
/// already compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessLog {
    Off,
    Vhost,
    Json,
    Custom(Arc<LogFormat>),
}

impl AccessLog {
    /// nginx-proxy's rules: `DISABLE_ACCESS_LOGS` wins; `LOG_FORMAT` wins over `LOG_JSON`'s
    /// format; `LOG_FORMAT_ESCAPE` defaults to `json` with `LOG_JSON`, else `default`. Empty
    /// values count as unset, as in nginx-proxy's template.
    pub fn from_settings(
        disabled: bool,
        json: bool,
        format: Option<&str>,
        escape: Option<&str>,
    ) -> Result<AccessLog, FormatError> {
        let format = format.filter(|f| !f.trim().is_empty());
        let escape = escape.filter(|e| !e.trim().is_empty());
        let escape = match escape {
            Some(e) => Escape::parse(e)?,
            None if json => Escape::Json,
            None => Escape::Default,
        };
        // Validated even when the log is off, so that turning it on cannot fail later.
        let template = format.unwrap_or(if json { format::JSON } else { format::VHOST });
        let compiled = LogFormat::compile(template, escape)?;
        Ok(match (disabled, format, json, escape) {
            (true, ..) => AccessLog::Off,
            (false, None, false, Escape::Default) => AccessLog::Vhost,
            (false, None, true, Escape::Json) => AccessLog::Json,
            _ => AccessLog::Custom(Arc::new(compiled)),
        })
    }

    /// The compiled format the data plane renders, `None` when off.
    pub fn format(&self) -> Option<Arc<LogFormat>> {
        match self {
            AccessLog::Off => None,
            AccessLog::Vhost => Some(Arc::new(LogFormat::vhost())),
            AccessLog::Json => Some(Arc::new(LogFormat::json())),
            // A copy per caller (one per worker): requests clone their worker's `Arc` only.
            AccessLog::Custom(format) => Some(Arc::new(LogFormat::clone(format))),
        }
    }

    /// One line for `dockside check`.
    pub fn describe(&self) -> String {
        match self {
            AccessLog::Off => "access log: off (DISABLE_ACCESS_LOGS)".to_owned(),
            AccessLog::Vhost => "access log: nginx-proxy's vhost format".to_owned(),
            AccessLog::Json => "access log: JSON (LOG_JSON)".to_owned(),
            AccessLog::Custom(f) => format!(
                "access log: LOG_FORMAT={:?}, LOG_FORMAT_ESCAPE={}",
                f.source(),
                f.escape().as_str()
            ),
        }
    }
}

/// What the log line needs from the request, captured before the request is consumed.
/// Only built when access logs are on, so a disabled log costs nothing per request; headers are
/// kept as shared values (no copy) in a fixed array.
#[derive(Debug)]
pub struct Pending {
    /// The worker's own copy (`AccessLog::format`), so the clone per request is uncontended.
    format: Arc<LogFormat>,
    method: Method,
    uri: Uri,
    version: Version,
    headers: [Option<HeaderValue>; format::MAX_HEADERS],
    /// `$request_id`, drawn only when the format uses it.
    request_id: u128,
}

/// How a request ended, as the log line reports it.
#[derive(Debug)]
pub struct Outcome<'a> {
    pub host: &'a str,
    /// `$remote_addr`, `$scheme`, `$server_port`.
    pub conn: &'a ConnInfo,
    pub status: StatusCode,
    pub body_bytes: u64,
    /// `$upstream_addr`, `-` when nothing was forwarded.
    pub upstream: Option<String>,
    /// `$request_time`.
    pub request_time: Duration,
    /// `$upstream_response_time`, `-` when unknown.
    pub upstream_response_time: Option<Duration>,
}

impl Pending {
    /// Captures the request line and the headers `format` logs.
    pub fn capture<B>(format: Option<&Arc<LogFormat>>, req: &Request<B>) -> Option<Pending> {
        let format = format?.clone();
        let request_id = if format.request_id {
            fastrand::u128(..)
        } else {
            0
        };
        let mut headers: [Option<HeaderValue>; format::MAX_HEADERS] = Default::default();
        for (slot, name) in headers.iter_mut().zip(&format.headers) {
            *slot = header_value(req.headers(), name);
        }
        Some(Pending {
            format,
            method: req.method().clone(),
            uri: req.uri().clone(),
            version: req.version(),
            headers,
            request_id,
        })
    }

    /// Emits the line.
    pub fn record(self, out: &Outcome<'_>) {
        let line = render::line(&self.format, &self, out, SystemTime::now());
        tracing::info!(target: "dockside::access", "{line}");
    }

    fn header(&self, slot: u8) -> Option<&HeaderValue> {
        self.headers.get(usize::from(slot))?.as_ref()
    }

    /// `$request_uri`: the target as the client sent it.
    fn request_uri(&self) -> std::borrow::Cow<'_, str> {
        match self.uri.path_and_query() {
            Some(p) => p.as_str().into(),
            None => self.uri.to_string().into(),
        }
    }
}

/// nginx's `$http_<name>`: a repeated header is joined with `, ` (`; ` for `Cookie`).
fn header_value(headers: &HeaderMap, name: &HeaderName) -> Option<HeaderValue> {
    let mut values = headers.get_all(name).iter();
    let first = values.next()?;
    let Some(second) = values.next() else {
        return Some(first.clone());
    };
    let sep: &[u8] = if name == http::header::COOKIE {
        b"; "
    } else {
        b", "
    };
    let mut joined = first.as_bytes().to_vec();
    for v in std::iter::once(second).chain(values) {
        joined.extend_from_slice(sep);
        joined.extend_from_slice(v.as_bytes());
    }
    HeaderValue::from_bytes(&joined).ok()
}

#[cfg(test)]
#[path = "access_log_tests.rs"]
mod tests;
