//! [`RequestContract`]: the profile and request id a request is answered with.

use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock};

use apierr::{ApiError, Profile, Rendered as RenderedError};
use axum::extract::FromRequestParts;
use axum::response::Response;
use http::Extensions;
use http::request::Parts;

use super::Config;
use crate::RequestId;

/// The contract a request is answered in: the router's [`Profile`] and the request's id.
///
/// [`ContractLayer`](crate::ContractLayer) puts it on every request (an extension), and
/// handlers extract it. Most code never needs it: an [`ApiError`] returned from a
/// handler, built anywhere (a spawned task, a blocking task, a nested router), is
/// rendered in the contract when its response passes the layer. Code that must write an
/// error itself, such as a streaming body producing its chunks after the response left
/// the layer, renders it here.
///
/// Outside a contract layer it is the default profile with the caller's or a new id, and
/// the first such request is logged as a warning.
///
/// ```
/// use apierr::{ApiError, Condition};
/// use apierr_axum::RequestContract;
///
/// async fn stream(contract: RequestContract) -> Vec<u8> {
///     // The error a body stream would write as its last chunk.
///     contract.render(ApiError::from(Condition::Internal)).body
/// }
/// ```
#[derive(Debug, Clone)]
pub struct RequestContract {
    /// The layer's configuration, shared: one reference count a request.
    config: Arc<Config>,
    request_id: RequestId,
}

/// The configuration outside any contract layer: the default profile.
static DEFAULT: LazyLock<Arc<Config>> = LazyLock::new(|| Arc::new(Config::new(Profile::PROBLEM)));

/// Whether a request without a contract has been seen (and said so in the log).
static WARNED: AtomicBool = AtomicBool::new(false);

/// The default configuration, for a request that reached an extractor or layer without
/// a [`ContractLayer`](crate::ContractLayer) around it: answered in `problem`, which is
/// almost never what the application meant, so the first such request is logged (once
/// per process: a router without its layer would otherwise log every request).
fn outside() -> Arc<Config> {
    if !WARNED.swap(true, Ordering::Relaxed) {
        tracing::warn!(
            "a request reached apierr-axum without a ContractLayer around the router: its \
             errors are answered in the default `problem` profile; wrap the whole router in \
             ContractLayer::new(profile)"
        );
    }
    DEFAULT.clone()
}

impl RequestContract {
    pub(crate) fn new(config: Arc<Config>, request_id: RequestId) -> Self {
        RequestContract { config, request_id }
    }

    /// The contract of a request from its extensions, or the default profile with the
    /// id `headers` give (or a new one) outside a contract layer.
    pub(crate) fn of(extensions: &Extensions, headers: &http::HeaderMap) -> Self {
        extensions
            .get::<RequestContract>()
            .cloned()
            .unwrap_or_else(|| RequestContract::new(outside(), RequestId::from_headers(headers)))
    }

    /// The layer's configuration.
    pub(crate) fn config(&self) -> &Config {
        &self.config
    }

    /// The router's profile.
    pub fn profile(&self) -> &Profile {
        &self.config.profile
    }

    /// The request's id, as echoed in `X-Request-Id`.
    pub fn request_id(&self) -> &RequestId {
        &self.request_id
    }

    /// `error` as this contract answers it: a framework condition resolved against the
    /// profile's catalog, and the request id set unless the error has one.
    pub fn adopt(&self, error: ApiError) -> ApiError {
        let mut error = self.config.profile.adopt(error);
        if error.request_id().is_none() {
            error.set_request_id_header(self.request_id.header_value());
        }
        error
    }

    /// Renders `error` in the contract (see [`RequestContract::adopt`]).
    pub fn render(&self, error: ApiError) -> RenderedError {
        self.config.profile.render(&self.adopt(error))
    }

    /// `response` as the contract layer will send it: an error rendered in the profile,
    /// a success enveloped where the dialect wraps successes, the request id stamped.
    /// The contract layer passes a finished response on untouched, so a layer inside it
    /// that keeps responses (for replay, say) keeps exactly what the client gets.
    pub fn finish(&self, response: Response) -> Response {
        super::render::finish(response, self, None)
    }

    /// `error` as a finished response in the contract, with the request id header. The
    /// contract layer passes it on untouched.
    pub fn response(&self, error: ApiError) -> Response {
        let (parts, ()) = Response::new(()).into_parts();
        super::render::error_response(parts, self, error, None)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestContract {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Infallible> {
        Ok(RequestContract::of(&parts.extensions, &parts.headers))
    }
}
