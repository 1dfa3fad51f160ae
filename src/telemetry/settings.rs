//! The OpenTelemetry environment as dockside reads it: the standard `OTEL_*` names, read once
//! by `config.rs` into `TraceSettings` (no IO; table-tested).

use std::fmt;

/// Where spans go and which are kept. Traces are on only when an OTLP endpoint is named.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceSettings {
    /// The full OTLP/HTTP traces URL (`…/v1/traces`).
    pub endpoint: String,
    /// The variable the endpoint came from, for `dockside check` and errors.
    pub endpoint_from: &'static str,
    /// `OTEL_SERVICE_NAME` (default `dockside`): the `service.name` resource attribute.
    pub service_name: String,
    /// `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG`.
    pub sampler: Sampler,
}

/// The specification's sampler names (`parentbased_always_on` by default): the root sampler
/// decides for a trace dockside starts; `parent_based` follows an incoming `traceparent`'s
/// sampled flag instead when there is one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sampler {
    pub parent_based: bool,
    pub root: Root,
}

/// The decision for a trace that starts at dockside.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Root {
    AlwaysOn,
    AlwaysOff,
    /// `traceidratio`: this fraction of trace ids, 0.0 to 1.0.
    Ratio(f64),
}

/// A setting dockside cannot follow; the message names the variable and what to write instead.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum TraceSettingsError {
    #[error("{name}={value:?}: expected an http:// or https:// URL (e.g. http://collector:4318)")]
    Endpoint { name: &'static str, value: String },
    #[error(
        "{name}={value:?}: dockside exports OTLP over HTTP/protobuf only; unset it or write http/protobuf"
    )]
    Protocol { name: &'static str, value: String },
    #[error(
        "OTEL_TRACES_SAMPLER={0:?}: expected always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off or parentbased_traceidratio"
    )]
    Sampler(String),
    #[error("OTEL_TRACES_SAMPLER_ARG={0:?}: expected a ratio between 0 and 1 (e.g. 0.25)")]
    Ratio(String),
    #[error("OTEL_SDK_DISABLED={0:?}: expected true or false")]
    Disabled(String),
}

const TRACES_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
const ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";

impl TraceSettings {
    /// `None` (traces off) unless `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (used as is) or
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` (`/v1/traces` appended, as the specification says) is set,
    /// and `OTEL_SDK_DISABLED` is not `true`. Empty values count as unset.
    pub fn from_vars(
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<TraceSettings>, TraceSettingsError> {
        let var = |name: &str| {
            env(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        if let Some(v) = var("OTEL_SDK_DISABLED") {
            match v.to_ascii_lowercase().as_str() {
                "true" => return Ok(None),
                "false" => {}
                _ => return Err(TraceSettingsError::Disabled(v)),
            }
        }
        let (endpoint, endpoint_from) = match (var(TRACES_ENDPOINT), var(ENDPOINT)) {
            (Some(url), _) => (checked_url(TRACES_ENDPOINT, url)?, TRACES_ENDPOINT),
            (None, Some(base)) => {
                let base = checked_url(ENDPOINT, base)?;
                let slash = if base.ends_with('/') { "" } else { "/" };
                (format!("{base}{slash}v1/traces"), ENDPOINT)
            }
            (None, None) => return Ok(None),
        };
        for name in [
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
            "OTEL_EXPORTER_OTLP_PROTOCOL",
        ] {
            if let Some(value) = var(name).filter(|v| v != "http/protobuf") {
                return Err(TraceSettingsError::Protocol { name, value });
            }
        }
        Ok(Some(TraceSettings {
            endpoint,
            endpoint_from,
            service_name: var("OTEL_SERVICE_NAME").unwrap_or_else(|| "dockside".to_owned()),
            sampler: Sampler::parse(
                var("OTEL_TRACES_SAMPLER").as_deref(),
                var("OTEL_TRACES_SAMPLER_ARG").as_deref(),
            )?,
        }))
    }

    /// The `dockside check` line.
    pub fn describe(settings: Option<&TraceSettings>) -> String {
        match settings {
            None => "traces: off (OTEL_EXPORTER_OTLP_ENDPOINT is not set)".to_owned(),
            Some(s) => format!(
                "traces: OTLP http/protobuf to {} ({}), service.name {}, sampler {}",
                s.endpoint, s.endpoint_from, s.service_name, s.sampler
            ),
        }
    }
}

impl Sampler {
    fn parse(name: Option<&str>, arg: Option<&str>) -> Result<Sampler, TraceSettingsError> {
        let name = name.map(str::to_ascii_lowercase);
        let (parent_based, root) = match name.as_deref().unwrap_or("parentbased_always_on") {
            "always_on" => (false, "always_on"),
            "always_off" => (false, "always_off"),
            "traceidratio" => (false, "traceidratio"),
            "parentbased_always_on" => (true, "always_on"),
            "parentbased_always_off" => (true, "always_off"),
            "parentbased_traceidratio" => (true, "traceidratio"),
            other => return Err(TraceSettingsError::Sampler(other.to_owned())),
        };
        let root = match root {
            "always_on" => Root::AlwaysOn,
            "always_off" => Root::AlwaysOff,
            // The specification's default ratio is 1.0.
            _ => Root::Ratio(match arg {
                None => 1.0,
                Some(a) => a
                    .parse::<f64>()
                    .ok()
                    .filter(|r| (0.0..=1.0).contains(r))
                    .ok_or_else(|| TraceSettingsError::Ratio(a.to_owned()))?,
            }),
        };
        Ok(Sampler { parent_based, root })
    }
}

impl fmt::Display for Sampler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.parent_based {
            f.write_str("parentbased_")?;
        }
        match self.root {
            Root::AlwaysOn => f.write_str("always_on"),
            Root::AlwaysOff => f.write_str("always_off"),
            Root::Ratio(r) => write!(f, "traceidratio {r}"),
        }
    }
}

/// An http(s) URL with a host; anything else would only fail later, at the first export.
fn checked_url(name: &'static str, value: String) -> Result<String, TraceSettingsError> {
    let ok = value
        .parse::<http::Uri>()
        .is_ok_and(|u| matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some());
    if ok {
        Ok(value)
    } else {
        Err(TraceSettingsError::Endpoint { name, value })
    }
}

#[cfg(test)]
#[path = "settings_tests.rs"]
mod tests;
