//! Telemetry by catalog code: the request span's OpenTelemetry fields, and (feature
//! `telemetry`) the route of each request and the HTTP server metrics.
//!
//! Every request the [`ContractLayer`](crate::ContractLayer) answers runs in one span,
//! `request`, whose fields follow OpenTelemetry's HTTP server conventions:
//! `http.request.method`, `url.scheme`, `url.path`, `http.route`,
//! `http.response.status_code`, `error.type` (the catalog code of the error that
//! answered, a bounded set) and `apierr.condition` (the framework condition it stands
//! for), with `otel.kind = "server"`, `otel.name` (the method: the route is not known
//! when the span starts, and an exported span keeps its first name),
//! `otel.status_code = "ERROR"` on a 5xx, and the request id as `id`. A `tracing-opentelemetry` layer exports it as an OpenTelemetry span; with no
//! subscriber interested it costs a load.
//!
//! With the feature `telemetry`, [`RouteLayer`] (added with `Router::layer`, inside the
//! contract layer) names each request's matched route, and
//! [`ContractLayer::metrics`](crate::ContractLayer::metrics) records, through the
//! [`metrics`](https://docs.rs/metrics) facade:
//!
//! - `http_server_requests_total{http_request_method, http_route, http_response_status_code, error_type}`,
//! - `http_server_request_duration_seconds{http_request_method, http_route}` (a histogram).
//!
//! The other layers count their decisions the same way (feature `telemetry`):
//!
//! - `apierr_rate_limit_decisions_total{decision}`: `allowed`, `limited`, `store_down_open`
//!   (let through unlimited), `store_down_closed` (refused);
//! - `apierr_idempotency_outcomes_total{outcome}`: `executed`, `replayed`, `in_flight`,
//!   `reused` (another body under the key), `missing` (a required key absent),
//!   `store_down`;
//! - `apierr_reconciliation_entries_total{log}`: entries of the reconciliation log
//!   `written`, or `failed` to be written;
//! - `apierr_auth_failures_total{outcome}`: failed authentications `counted`, those that
//!   went over the quota (`limited`), and requests `blocked` while their source waits.
//!
//! Store calls run in spans of their own: `rate_limit.check`, `idempotency.claim`,
//! `idempotency.complete`, `reconciliation.record`.
//!
//! Labels are bounded: the method is one RFC 9110 defines or `_OTHER`, the route is the
//! router's template (`/accounts/{id}`) or `unmatched`, never the raw path, and
//! `error_type` is a catalog code or empty. With the feature `prometheus`,
//! [`Prometheus`] installs the exporter and serves them.

use http::Method;

/// The method as a bounded label: one RFC 9110 or RFC 5789 defines, `QUERY`, or `_OTHER`
/// (OpenTelemetry's value for any other).
pub(crate) fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::CONNECT => "CONNECT",
        _ if method.as_str() == "QUERY" => "QUERY",
        _ => "_OTHER",
    }
}

/// The request span, its answer fields empty until the response is known.
pub(crate) fn request_span<B>(req: &http::Request<B>, id: &crate::RequestId) -> tracing::Span {
    // No subscriber was ever installed, so none can record the span: a process without
    // tracing pays a load, not the span's fields (about 300 instructions a request in
    // the `stack` benchmark, most of them `tracing`'s `log` bridge, which sqlx turns on).
    if !tracing::dispatcher::has_been_set() {
        return tracing::Span::none();
    }
    // At error level so that every line a request logs, whatever the filter lets through,
    // carries its id; with no subscriber interested it costs a load.
    let span = tracing::error_span!(
        "request",
        id = %id,
        otel.kind = "server",
        // OpenTelemetry's name for a server span whose route is not known when it starts
        // (`tracing-opentelemetry` cannot rename a started span; `http.route` says it).
        otel.name = method_label(req.method()),
        otel.status_code = tracing::field::Empty,
        http.request.method = method_label(req.method()),
        // A request over plain HTTP/1 carries no scheme in its target.
        url.scheme = req.uri().scheme_str().unwrap_or("http"),
        url.path = req.uri().path(),
        http.route = tracing::field::Empty,
        http.response.status_code = tracing::field::Empty,
        error.type = tracing::field::Empty,
        apierr.condition = tracing::field::Empty,
    );
    span
}

/// Records the error that answered on the request's span: `span` where the caller holds
/// it (a look-up of the current span costs as much as the record), else the current one.
pub(crate) fn record_error(
    span: Option<&tracing::Span>,
    code: &apierr::Code,
    condition: Option<apierr::Condition>,
) {
    if !tracing::dispatcher::has_been_set() {
        return;
    }
    let current;
    let span = match span {
        Some(span) => span,
        None => {
            current = tracing::Span::current();
            &current
        }
    };
    if span.is_disabled() {
        return;
    }
    span.record("error.type", tracing::field::display(code));
    if let Some(condition) = condition {
        span.record("apierr.condition", condition.default_code());
    }
}

/// Records the answer's status on a request span.
pub(crate) fn record_status(span: &tracing::Span, status: u16) {
    if !span.is_disabled() {
        span.record("http.response.status_code", status);
        // A server span is an error only when the server failed (a 4xx is the client's).
        if status >= 500 {
            span.record("otel.status_code", "ERROR");
        }
    }
}

/// Records the matched route on the current request span.
#[cfg(feature = "telemetry")]
pub(crate) fn record_route(route: &str) {
    tracing::Span::current().record("http.route", route);
}

/// Counts one decision of a layer: `name{key="value"}` (feature `telemetry`; nothing
/// without it). Every value is one of a fixed set.
#[cfg_attr(not(feature = "telemetry"), allow(unused_variables))]
pub(crate) fn count(name: &'static str, key: &'static str, value: &'static str) {
    #[cfg(feature = "telemetry")]
    metrics::counter!(name, key => value).increment(1);
}

#[cfg(feature = "telemetry")]
pub use self::route::{RouteLayer, RouteService};

#[cfg(feature = "telemetry")]
mod route;

#[cfg(feature = "telemetry")]
pub(crate) use self::route::Route;

#[cfg(feature = "prometheus")]
mod prometheus;

#[cfg(feature = "prometheus")]
pub use self::prometheus::{InstallError, Prometheus};

#[cfg(feature = "telemetry")]
pub(crate) use self::server::ServerMetrics;

#[cfg(feature = "telemetry")]
mod server;
