//! nginx's `log_format` as `LOG_FORMAT` gives it: the template is compiled once at start into
//! literal and variable parts (pure; no IO), so a request only walks a short list. A variable
//! dockside cannot fill is refused at start, naming it, as nginx refuses to start.

use http::HeaderName;
use http::header;

/// nginx-proxy's default `log_format vhost` (§1.6.11).
pub const VHOST: &str = "$host $remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent \"$http_referer\" \"$http_user_agent\" \"$upstream_addr\"";

/// nginx-proxy's `LOG_JSON` format: every value a JSON string, as in its template.
pub const JSON: &str = concat!(
    "{\"time_local\":\"$time_iso8601\",",
    "\"client_ip\":\"$http_x_forwarded_for\",",
    "\"remote_addr\":\"$remote_addr\",",
    "\"request\":\"$request\",",
    "\"status\":\"$status\",",
    "\"body_bytes_sent\":\"$body_bytes_sent\",",
    "\"request_time\":\"$request_time\",",
    "\"upstream_response_time\":\"$upstream_response_time\",",
    "\"upstream_addr\":\"$upstream_addr\",",
    "\"http_referrer\":\"$http_referer\",",
    "\"http_user_agent\":\"$http_user_agent\",",
    "\"request_id\":\"$request_id\"}"
);

/// Request headers one format may log (`$http_*`, and `Authorization` for `$remote_user`):
/// they are kept in a fixed array per request, so a format needs no allocation to capture them.
pub const MAX_HEADERS: usize = 8;

/// `LOG_FORMAT_ESCAPE`: how variable values are written (literals are written as they are).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escape {
    /// `"`, `\`, control characters and bytes from 0x7F as `\xHH`; a missing value is `-`.
    Default,
    /// JSON string escaping; a missing value is empty.
    Json,
    /// Values as they are; a missing value is empty.
    None,
}

impl Escape {
    /// The setting's value, as nginx spells it.
    pub fn parse(value: &str) -> Result<Escape, FormatError> {
        match value.trim() {
            "default" => Ok(Escape::Default),
            "json" => Ok(Escape::Json),
            "none" => Ok(Escape::None),
            other => Err(FormatError::Escape(other.to_owned())),
        }
    }

    /// The setting's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Escape::Default => "default",
            Escape::Json => "json",
            Escape::None => "none",
        }
    }
}

/// A compiled format: what a request's log line is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFormat {
    pub(super) parts: Vec<Part>,
    pub(super) escape: Escape,
    /// The request headers to keep, in slot order (`Var::Header(slot)`).
    pub(super) headers: Vec<HeaderName>,
    /// `$request_id` is used: a request draws one at capture.
    pub(super) request_id: bool,
    /// The template as given, for `dockside check`.
    source: String,
}

/// One piece of the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Part {
    Literal(Box<str>),
    Var(Var),
}

/// The nginx variables dockside fills (docs/configuration.md lists them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Var {
    RemoteAddr,
    RemotePort,
    /// Decoded from the `Authorization` header kept in this slot.
    RemoteUser(u8),
    Host,
    Request,
    RequestMethod,
    RequestUri,
    Args,
    IsArgs,
    ServerProtocol,
    Scheme,
    Https,
    ServerAddr,
    ServerPort,
    Status,
    BodyBytesSent,
    RequestTime,
    UpstreamAddr,
    UpstreamResponseTime,
    TimeLocal,
    TimeIso8601,
    Msec,
    RequestId,
    Pid,
    /// `$http_<name>`: the request header kept in this slot.
    Header(u8),
}

/// Why a format was refused at start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error(
        "LOG_FORMAT: unknown variable \"${0}\" (dockside logs $remote_addr, $remote_port, $remote_user, $host, $request, $request_method, $request_uri, $args, $query_string, $is_args, $server_protocol, $scheme, $https, $server_addr, $server_port, $status, $body_bytes_sent, $request_time, $upstream_addr, $upstream_response_time, $time_local, $time_iso8601, $msec, $request_id, $pid and $http_<header>)"
    )]
    UnknownVariable(String),
    #[error("LOG_FORMAT: the closing bracket in \"${{{0}\" is missing")]
    MissingBracket(String),
    #[error(
        "LOG_FORMAT: \"$\" at byte {0} is not followed by a variable name (nginx has no way to write a literal \"$\" in a log format)"
    )]
    Dollar(usize),
    #[error(
        "LOG_FORMAT: more than {MAX_HEADERS} different request headers ($http_…, $remote_user); log fewer"
    )]
    TooManyHeaders,
    #[error("LOG_FORMAT_ESCAPE={0:?}: expected default, json or none")]
    Escape(String),
}

impl LogFormat {
    /// Compiles `template` (nginx's `log_format` syntax: `$name` or `${name}`, names are
    /// case-insensitive letters, digits and `_`).
    pub fn compile(template: &str, escape: Escape) -> Result<LogFormat, FormatError> {
        let mut format = LogFormat {
            parts: Vec::new(),
            escape,
            headers: Vec::new(),
            request_id: false,
            source: template.to_owned(),
        };
        let bytes = template.as_bytes();
        let mut literal_start = 0;
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] != b'$' {
                i += 1;
                continue;
            }
            format.literal(&template[literal_start..i]);
            let (name, end) = variable_name(template, i)?;
            let var = format.variable(&name)?;
            format.parts.push(Part::Var(var));
            i = end;
            literal_start = end;
        }
        format.literal(&template[literal_start..]);
        Ok(format)
    }

    /// nginx-proxy's default `vhost` format.
    pub fn vhost() -> LogFormat {
        LogFormat::compile(VHOST, Escape::Default).expect("the built-in vhost format compiles")
    }

    /// nginx-proxy's `LOG_JSON` format.
    pub fn json() -> LogFormat {
        LogFormat::compile(JSON, Escape::Json).expect("the built-in JSON format compiles")
    }

    /// The template as given.
    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn escape(&self) -> Escape {
        self.escape
    }

    fn literal(&mut self, text: &str) {
        if !text.is_empty() {
            self.parts.push(Part::Literal(text.into()));
        }
    }

    /// `name` is lower-cased already.
    fn variable(&mut self, name: &str) -> Result<Var, FormatError> {
        let var = match name {
            "remote_addr" => Var::RemoteAddr,
            "remote_port" => Var::RemotePort,
            "remote_user" => Var::RemoteUser(self.slot(header::AUTHORIZATION)?),
            "host" => Var::Host,
            "request" => Var::Request,
            "request_method" => Var::RequestMethod,
            "request_uri" => Var::RequestUri,
            "args" | "query_string" => Var::Args,
            "is_args" => Var::IsArgs,
            "server_protocol" => Var::ServerProtocol,
            "scheme" => Var::Scheme,
            "https" => Var::Https,
            "server_addr" => Var::ServerAddr,
            "server_port" => Var::ServerPort,
            "status" => Var::Status,
            "body_bytes_sent" => Var::BodyBytesSent,
            "request_time" => Var::RequestTime,
            "upstream_addr" => Var::UpstreamAddr,
            "upstream_response_time" => Var::UpstreamResponseTime,
            "time_local" => Var::TimeLocal,
            "time_iso8601" => Var::TimeIso8601,
            "msec" => Var::Msec,
            "request_id" => {
                self.request_id = true;
                Var::RequestId
            }
            "pid" => Var::Pid,
            _ => match name.strip_prefix("http_").filter(|h| !h.is_empty()) {
                // nginx matches `_` in the name to `-` in the header.
                Some(h) => match HeaderName::from_bytes(h.replace('_', "-").as_bytes()) {
                    Ok(header) => Var::Header(self.slot(header)?),
                    Err(_) => return Err(FormatError::UnknownVariable(name.to_owned())),
                },
                None => return Err(FormatError::UnknownVariable(name.to_owned())),
            },
        };
        Ok(var)
    }

    /// The slot of `header`, added when new.
    fn slot(&mut self, header: HeaderName) -> Result<u8, FormatError> {
        let index = match self.headers.iter().position(|h| *h == header) {
            Some(i) => i,
            None if self.headers.len() < MAX_HEADERS => {
                self.headers.push(header);
                self.headers.len() - 1
            }
            None => return Err(FormatError::TooManyHeaders),
        };
        // MAX_HEADERS fits in a u8.
        Ok(index as u8)
    }
}

/// The variable starting with the `$` at `at`: its lower-cased name and the byte after it.
fn variable_name(template: &str, at: usize) -> Result<(String, usize), FormatError> {
    let bytes = template.as_bytes();
    let mut i = at + 1;
    let bracket = bytes.get(i) == Some(&b'{');
    if bracket {
        i += 1;
    }
    let start = i;
    while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
        i += 1;
    }
    let name = template[start..i].to_ascii_lowercase();
    if bracket {
        if bytes.get(i) != Some(&b'}') {
            return Err(FormatError::MissingBracket(template[start..i].to_owned()));
        }
        i += 1;
    }
    if name.is_empty() {
        return Err(FormatError::Dollar(at));
    }
    Ok((name, i))
}

#[cfg(test)]
#[path = "format_tests.rs"]
mod tests;
