//! The OpenTelemetry pipeline behind the `tracing` spans of `span.rs`: tracer provider (sampler,
//! `service.name`), batch processor, OTLP/HTTP protobuf exporter over `client.rs`.

use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, SpanExporter, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{Sampler as SdkSampler, SdkTracerProvider};
use tracing::Subscriber;
use tracing_subscriber::Layer;
use tracing_subscriber::registry::LookupSpan;

use super::client::ExportClient;
use super::settings::{Root, Sampler, TraceSettings};
use super::span::TARGET;

/// Spans still queued get this long to reach the collector at shutdown.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// Owns the tracer provider: `shutdown` exports what is queued. Dropping it without calling
/// `shutdown` loses the last batch.
pub struct Traces {
    provider: SdkTracerProvider,
}

impl Traces {
    /// Exports the queued spans (bounded by `FLUSH_TIMEOUT`). Call it outside the runtime's
    /// `block_on`, with the runtime still alive: the export runs on it.
    pub fn shutdown(self) {
        if let Err(e) = self.provider.shutdown_with_timeout(FLUSH_TIMEOUT) {
            tracing::warn!("traces: the last spans were not exported at shutdown: {e}");
        }
    }
}

/// The `tracing` layer that turns dockside's request spans into OpenTelemetry spans, and the
/// handle that flushes them. `runtime` runs the exports.
pub fn layer<S>(
    settings: &TraceSettings,
    runtime: tokio::runtime::Handle,
) -> anyhow::Result<(impl Layer<S> + use<S>, Traces)>
where
    S: Subscriber + for<'span> LookupSpan<'span>,
{
    let exporter = SpanExporter::builder()
        .with_http()
        .with_http_client(ExportClient::new(runtime)?)
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(settings.endpoint.clone())
        .build()?;
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_sampler(sdk_sampler(settings.sampler))
        .with_resource(
            Resource::builder()
                .with_service_name(settings.service_name.clone())
                .build(),
        )
        .build();
    let tracer = provider.tracer("dockside");
    // Only the request spans (and warnings logged inside them, as span events): every other
    // span and event of dockside stays a log line.
    let only_requests = tracing_subscriber::filter::filter_fn(|meta| {
        meta.target() == TARGET || (meta.is_event() && *meta.level() <= tracing::Level::WARN)
    });
    // The request's own attributes only: no source location, thread or busy/idle timings.
    let layer = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_location(false)
        .with_threads(false)
        .with_level(false)
        .with_target(false)
        .with_tracked_inactivity(false)
        .with_filter(only_requests);
    Ok((layer, Traces { provider }))
}

fn sdk_sampler(sampler: Sampler) -> SdkSampler {
    let root = match sampler.root {
        Root::AlwaysOn => SdkSampler::AlwaysOn,
        Root::AlwaysOff => SdkSampler::AlwaysOff,
        Root::Ratio(r) => SdkSampler::TraceIdRatioBased(r),
    };
    if sampler.parent_based {
        SdkSampler::ParentBased(Box::new(root))
    } else {
        root
    }
}
