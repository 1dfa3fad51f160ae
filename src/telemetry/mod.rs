//! Optional OpenTelemetry traces (off unless an OTLP endpoint is set): one server span per
//! proxied request and a client span around its upstream exchange, made as `tracing` spans and
//! exported by tracing-opentelemetry over OTLP/HTTP protobuf; the W3C `traceparent` goes to the
//! backend. Settings (`settings`) are read once by `config.rs`; the pipeline (`export`) is
//! installed by `main.rs` next to the log output and flushed at shutdown; the request path calls
//! `span` only when `ServiceState::traces` says so.

mod client;
mod export;
mod settings;
mod span;

pub use export::{Traces, layer};
pub use settings::{Root, Sampler, TraceSettings, TraceSettingsError};
pub use span::TARGET;
pub(crate) use span::{client_span, record, record_exchange, server_span};
