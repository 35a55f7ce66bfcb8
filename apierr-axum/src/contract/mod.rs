//! The contract layer: every response of the router in its profile, rendered at the edge.

mod context;
mod future;
mod layer;
mod render;

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use apierr::{ApiError, Condition, Prerendered, Profile};
use axum::extract::Request;
use axum::response::Response;
use http::HeaderValue;
use http::header::ACCEPT;
use tower_service::Service;

pub use self::context::RequestContract;
pub use self::future::ResponseFuture;
pub use self::layer::ContractLayer;
use crate::RequestId;
use crate::extract::{ends_with_ignore_case, starts_with_ignore_case};

/// The middleware of [`ContractLayer`]: see there.
#[derive(Debug, Clone)]
pub struct Contract<S> {
    inner: S,
    config: Arc<Config>,
}

/// What a [`ContractLayer`] was configured with.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) profile: Profile,
    /// The profile's condition bodies, rendered once (see [`Prerendered`]).
    pub(crate) prerendered: Prerendered,
    pub(crate) timeout: Option<Duration>,
    pub(crate) check_accept: bool,
    /// The `WWW-Authenticate` challenge a 401 gets when nothing inside gave one: RFC 9110
    /// §11.6.1 requires one on every 401.
    pub(crate) challenge: HeaderValue,
    /// The largest body a request may declare (`Content-Length`): one over it is answered
    /// 413 before a byte of it is read, rather than waited for.
    pub(crate) body_limit: u64,
    /// The proxies whose forwarding headers are believed (see
    /// [`ClientAddress`](crate::ClientAddress)); none by default, so that a client cannot
    /// choose its own address.
    pub(crate) trusted_proxies: Arc<[ipnet::IpNet]>,
    /// Whether each answer is counted and timed in the HTTP server metrics.
    #[cfg(feature = "telemetry")]
    pub(crate) metrics: bool,
    /// The handles of the HTTP server metrics, shared by the layer's clones.
    #[cfg(feature = "telemetry")]
    pub(crate) server_metrics: Arc<crate::telemetry::ServerMetrics>,
}

impl Config {
    pub(crate) fn new(profile: Profile) -> Self {
        Config {
            prerendered: Prerendered::new(&profile),
            profile,
            timeout: None,
            check_accept: true,
            challenge: HeaderValue::from_static("Bearer realm=\"api\""),
            body_limit: crate::fingerprint::DEFAULT_BODY_LIMIT as u64,
            trusted_proxies: Arc::new([]),
            #[cfg(feature = "telemetry")]
            metrics: false,
            #[cfg(feature = "telemetry")]
            server_metrics: Arc::default(),
        }
    }
}

/// Whether a method is one RFC 9110 or RFC 5789 defines, or `QUERY` (the IETF's safe
/// method with a body); any other is not implemented (RFC 9110 §9.1: 501), wherever it is
/// sent. A known method a route does not take is the router's 405.
fn is_known_method(method: &http::Method) -> bool {
    use http::Method;
    if method.as_str() == "QUERY" {
        return true;
    }
    [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::CONNECT,
        Method::OPTIONS,
        Method::TRACE,
        Method::PATCH,
    ]
    .contains(method)
}

impl<S> Service<Request> for Contract<S>
where
    S: Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        // An outer contract layer has named the request already: one request, one id.
        let request_id = match req.extensions().get::<RequestContract>() {
            Some(outer) => outer.request_id().clone(),
            None => {
                let (id, fresh) = RequestId::from_headers_or_new(req.headers());
                if fresh {
                    // Inner services (and anything they call) see the id the caller will.
                    req.headers_mut()
                        .insert(crate::REQUEST_ID, id.header_value().clone());
                }
                id
            }
        };
        let contract = RequestContract::new(self.config.clone(), request_id);
        let span = crate::telemetry::request_span(&req, contract.request_id());
        let answer = future::Answer::of(&req, &self.config);
        // Entered while the layer answers or calls inside, so that whatever is logged or
        // recorded meanwhile is the request's.
        let entered = span.enter();
        let early = if !is_known_method(req.method()) {
            Some(Condition::NotImplemented)
        } else if self.config.check_accept && !accepts_json(req.headers().get(ACCEPT)) {
            Some(Condition::NotAcceptable)
        } else if http_body::Body::size_hint(req.body()).lower() > self.config.body_limit {
            // The declared length (hyper's size hint is exactly `Content-Length`); a
            // chunked body is bounded as it arrives, by whatever reads it.
            Some(Condition::PayloadTooLarge)
        } else {
            None
        };
        if let Some(condition) = early {
            let response = contract.response(condition.into());
            drop(entered);
            return ResponseFuture::ready(response, contract, span, answer);
        }
        if !self.config.trusted_proxies.is_empty() {
            resolve_client(&mut req, &self.config.trusted_proxies);
        }
        req.extensions_mut().insert(contract.clone());
        let called =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.inner.call(req)));
        let future = match called {
            Ok(inner) => Ok(inner),
            Err(panic) => Err(future::panic_response(&contract, panic)),
        };
        drop(entered);
        match future {
            Ok(inner) => ResponseFuture::new(inner, contract, span, answer, self.config.timeout),
            Err(response) => ResponseFuture::ready(response, contract, span, answer),
        }
    }
}

/// Puts the address behind the request's trusted proxies on it, as a
/// [`ClientAddress`](crate::ClientAddress).
fn resolve_client(req: &mut Request, trusted: &[ipnet::IpNet]) {
    use axum::extract::ConnectInfo;
    let Some(ConnectInfo(peer)) = req.extensions().get::<ConnectInfo<std::net::SocketAddr>>()
    else {
        return;
    };
    if let Some(ip) = crate::ClientAddress::behind(peer.ip(), req.headers(), trusted) {
        req.extensions_mut().insert(crate::ClientAddress(ip));
    }
}

/// The error of a handler that panicked or timed out, or of a future polled again.
fn internal(contract: &RequestContract, condition: Condition) -> Response {
    contract.response(ApiError::from(condition))
}

/// Whether an `Accept` header admits a JSON body (any JSON type, `*/*`, `application/*`
/// or no header at all), ignoring ranges given `q=0`.
fn accepts_json(accept: Option<&HeaderValue>) -> bool {
    let Some(accept) = accept else {
        return true;
    };
    let Ok(accept) = accept.to_str() else {
        return false;
    };
    if accept.trim().is_empty() {
        return true;
    }
    accept.split(',').any(|range| {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or("").trim();
        let refused = parts.any(|p| {
            let p = p.trim();
            p.strip_prefix("q=")
                .and_then(|q| q.trim().parse::<f32>().ok())
                .is_some_and(|q| q <= 0.0)
        });
        !refused
            && (media == "*/*"
                || media.eq_ignore_ascii_case("application/*")
                || media.eq_ignore_ascii_case("application/json")
                || (starts_with_ignore_case(media, "application/")
                    && ends_with_ignore_case(media, "+json")))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_ranges() {
        // Scenario: JSON-compatible ranges pass, others and q=0 refusals do not.
        let ok = |v: &'static str| accepts_json(Some(&HeaderValue::from_static(v)));
        assert!(accepts_json(None));
        assert!(ok("application/json"));
        assert!(ok("text/html, */*;q=0.1"));
        assert!(ok("application/problem+json"));
        assert!(ok("APPLICATION/*"));
        assert!(!ok("text/html"));
        assert!(!ok("application/json;q=0"));
        assert!(!ok("application/xml, text/plain"));
    }
}
