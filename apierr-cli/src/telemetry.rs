//! The process's tracing: log lines on standard error, and with an OTLP endpoint the
//! spans exported to it (OpenTelemetry's OTLP over HTTP, protobuf), from the
//! OpenTelemetry crates through `tracing-opentelemetry`.

use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// How long an export may take before it is given up.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// Flushes and stops the span exporter when dropped, so that a process that stops
/// normally sends its last spans.
#[derive(Debug)]
pub struct Tracing {
    provider: Option<SdkTracerProvider>,
}

impl Drop for Tracing {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take()
            && let Err(e) = provider.shutdown_with_timeout(EXPORT_TIMEOUT)
        {
            eprintln!("apierr: the last spans were not exported: {e}");
        }
    }
}

/// Installs the process's subscriber: log lines filtered by `RUST_LOG` (default `info`),
/// and, given `otlp_endpoint` (a collector's OTLP/HTTP base URL such as
/// `http://127.0.0.1:4318`; spans go to its `/v1/traces`), every span exported there
/// as `service` in batches. Must be called inside the Tokio runtime the exports are to
/// run on.
///
/// # Errors
///
/// When the endpoint is not an absolute `http` or `https` URL.
pub fn init(otlp_endpoint: Option<&str>, service: &'static str) -> Result<Tracing, String> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let registry = tracing_subscriber::registry()
        .with(filter)
        .with(tracing_subscriber::fmt::layer());
    let Some(endpoint) = otlp_endpoint else {
        registry.init();
        return Ok(Tracing { provider: None });
    };
    let provider = provider(endpoint, service)?;
    let tracer = provider.tracer("apierr");
    registry
        .with(tracing_opentelemetry::layer().with_tracer(tracer))
        .init();
    Ok(Tracing {
        provider: Some(provider),
    })
}

/// The tracer provider exporting to `endpoint`.
fn provider(endpoint: &str, service: &'static str) -> Result<SdkTracerProvider, String> {
    use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
    let url: reqwest::Url = endpoint
        .parse()
        .map_err(|e| format!("the OTLP endpoint {endpoint:?}: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(format!(
            "the OTLP endpoint {endpoint:?} must be an http:// or https:// URL"
        ));
    }
    let traces = format!("{}/v1/traces", endpoint.trim_end_matches('/'));
    let client = Exporting::new()?;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_http_client(client)
        .with_endpoint(traces)
        .with_timeout(EXPORT_TIMEOUT)
        .build()
        .map_err(|e| format!("the OTLP exporter: {e}"))?;
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(service)
        .build();
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build())
}

/// The exporter's HTTP client: the reqwest 0.12 the rest of the binary uses, run on the
/// process's Tokio runtime. Written here rather than taken from `opentelemetry-otlp`'s
/// features: its reqwest client is reqwest 0.13 (a second HTTP stack in the binary), its
/// hyper client pulls in HTTP/2, and its default blocking client a thread pool of its own;
/// the batch processor exports from a thread of its own, so each export is spawned onto
/// the runtime and awaited there.
#[derive(Debug)]
struct Exporting {
    client: reqwest::Client,
    runtime: tokio::runtime::Handle,
}

impl Exporting {
    fn new() -> Result<Self, String> {
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| "the OTLP exporter needs a Tokio runtime".to_owned())?;
        let client = reqwest::Client::builder()
            .timeout(EXPORT_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("the OTLP exporter's client: {e}"))?;
        Ok(Exporting { client, runtime })
    }
}

#[async_trait::async_trait]
impl opentelemetry_http::HttpClient for Exporting {
    async fn send_bytes(
        &self,
        request: http::Request<bytes::Bytes>,
    ) -> Result<http::Response<bytes::Bytes>, opentelemetry_http::HttpError> {
        let request = reqwest::Request::try_from(request)?;
        let client = self.client.clone();
        let sent = self.runtime.spawn(async move {
            let response = client.execute(request).await?;
            let status = response.status();
            let headers = response.headers().clone();
            let body = response.bytes().await?;
            Ok::<_, reqwest::Error>((status, headers, body))
        });
        let (status, headers, body) = sent.await??;
        let mut response = http::Response::new(body);
        *response.status_mut() = status;
        *response.headers_mut() = headers;
        Ok(response)
    }
}
