//! [`ContractLayer`], the builder of [`Contract`].

use std::sync::Arc;
use std::time::Duration;

use apierr::Profile;
use tower_layer::Layer;

use super::{Config, Contract};

/// Makes every response of a router speak its error contract. Install it once, around the
/// whole router (`ContractLayer::new(profile).layer(router)`, served with
/// `axum::ServiceExt::into_make_service`): `Router::layer` would wrap each route on its own
/// and box every request once more (about 0.45 µs a request in the `stack` benchmark).
///
/// On the way in, it gives the request its context: the caller's `X-Request-Id` when it
/// is 1–128 visible ASCII characters, else a new one (set on the request too), and the
/// profile, both as a [`RequestContract`](crate::RequestContract) extension. An enclosing
/// contract layer's id is kept, so nested layers agree on one id. Every log line of the
/// request carries the id through a `tracing` span.
///
/// On the way out, it renders at the edge:
///
/// - an [`ApiError`](apierr::ApiError) a response carries (handlers return them, extractors
///   reject with them, wherever they were built) in the profile, a framework
///   [`Condition`](apierr::Condition) resolved against the profile's catalog, with the
///   request id in the body where the dialect has a place for it;
/// - any other error response (axum's bare 405 with `Allow`, a 413 from a body limit, a
///   502 from a proxy) as the profile's condition of the same status, keeping only the
///   headers that carry meaning (`Allow`, `WWW-Authenticate`, `Retry-After`, `Vary`, the
///   request id, the rate-limit headers);
/// - a success in the envelope where the dialect wraps successes (seed 000);
/// - `X-Request-Id` on every response.
///
/// It also answers a method no RFC defines (`FOO`) with 501 (RFC 9110 §9.1), a body
/// declared larger than [`ContractLayer::body_limit`] with 413 at once, gives every
/// 401 a `WWW-Authenticate` challenge (see [`ContractLayer::challenge`]), answers an
/// `Accept` that excludes JSON with 406, a panic with a 500 without
/// internal detail, and a handler that runs past the timeout with the catalog's timeout
/// condition; both are logged, as is the internal source of every 5xx.
///
/// Panics and timeouts are caught here rather than by tower-http's `CatchPanic` and
/// `Timeout`: `CatchPanic` boxes every response body once more (an allocation a request)
/// and `Timeout` answers an empty 408 or a fixed status, which would read as the client's
/// timeout instead of the catalog's; doing both in this future costs no extra layer.
/// Request ids are not tower-http's `SetRequestId` either: it keeps any caller value, of
/// any length, where this layer bounds and checks it.
///
/// ```
/// use apierr::Profile;
/// use apierr_axum::ContractLayer;
/// use axum::{Router, ServiceExt, routing::get};
/// use tower_layer::Layer;
///
/// let router: Router = Router::new().route("/", get(|| async { "hello" }));
/// let app = ContractLayer::new(Profile::NESTED).layer(router);
/// # async fn serve(app: apierr_axum::Contract<Router>) {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
/// axum::serve(listener, app.into_make_service()).await.unwrap();
/// # }
/// ```
#[must_use]
#[derive(Debug, Clone)]
pub struct ContractLayer {
    config: Arc<Config>,
}

impl ContractLayer {
    /// A layer answering in `profile`.
    pub fn new(profile: Profile) -> Self {
        ContractLayer {
            config: Arc::new(Config::new(profile)),
        }
    }

    /// Fails a request whose handler has not answered within `timeout` with the catalog's
    /// timeout condition. Default is no timeout.
    pub fn timeout(self, timeout: Duration) -> Self {
        self.with(|c| c.timeout = Some(timeout))
    }

    /// Whether to answer 406 to an `Accept` that excludes JSON. Default is true.
    pub fn check_accept(self, check: bool) -> Self {
        self.with(|c| c.check_accept = check)
    }

    /// The `WWW-Authenticate` challenge of a 401 that carries none (RFC 9110 requires one
    /// on every 401; an authentication layer inside usually sets its own). Default is
    /// `Bearer realm="api"`.
    pub fn challenge(self, challenge: http::HeaderValue) -> Self {
        self.with(|c| c.challenge = challenge)
    }

    /// The largest request body, in bytes, a request may declare in its
    /// `Content-Length`: one over it is answered with the payload-too-large condition
    /// (413) at once, before any layer or handler inside reads a byte of it, so that a
    /// client cannot hold a request open by declaring more than it sends. Set it to the
    /// limit of the router's extractors (axum's `DefaultBodyLimit`), which bound a body
    /// without a declared length as it arrives. Default is 2 MiB, axum's default limit.
    pub fn body_limit(self, limit: usize) -> Self {
        self.with(|c| c.body_limit = limit as u64)
    }

    /// The networks of the proxies in front of the server (a load balancer, an ingress):
    /// for a request whose peer is in one, the client's address is read from `Forwarded`
    /// or `X-Forwarded-For`, skipping the trusted hops, and put on the request as a
    /// [`ClientAddress`](crate::ClientAddress), which rate and failure limits key by.
    /// Trusting a network a client can send from lets it choose its own address and
    /// escape every per-address limit. Default is none: the peer is the client.
    pub fn trust_proxies(self, networks: impl IntoIterator<Item = ipnet::IpNet>) -> Self {
        let networks: Arc<[ipnet::IpNet]> = networks.into_iter().collect();
        self.with(|c| c.trusted_proxies = networks)
    }

    /// Whether to count and time every answer in the HTTP server metrics (see
    /// [`telemetry`](crate::telemetry)): requests by method, route, status and catalog
    /// code, and durations by method and route, through the `metrics` facade, to whatever
    /// recorder the process installed ([`Prometheus`](crate::telemetry::Prometheus) with
    /// the feature `prometheus`). Add [`RouteLayer`](crate::telemetry::RouteLayer) to the
    /// router for the route label. Default is off: a request then costs nothing more.
    #[cfg(feature = "telemetry")]
    pub fn metrics(self, on: bool) -> Self {
        self.with(|c| c.metrics = on)
    }

    /// What the layer was configured with.
    #[cfg(feature = "openapi")]
    pub(crate) fn config(&self) -> &Config {
        &self.config
    }

    fn with(self, f: impl FnOnce(&mut Config)) -> Self {
        let mut config = Config::clone(&self.config);
        f(&mut config);
        ContractLayer {
            config: Arc::new(config),
        }
    }
}

impl<S> Layer<S> for ContractLayer {
    type Service = Contract<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Contract {
            inner,
            config: self.config.clone(),
        }
    }
}
