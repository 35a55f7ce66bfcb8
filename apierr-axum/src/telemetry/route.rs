//! [`RouteLayer`]: the matched route of a request, for the contract layer's telemetry.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use axum::extract::{MatchedPath, Request};
use axum::response::Response;
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

/// The route template a response answered for, as the router matched it.
#[derive(Debug, Clone)]
pub(crate) struct Route(pub(crate) MatchedPath);

/// Names each request's matched route (`/accounts/{id}`) for the
/// [`ContractLayer`](crate::ContractLayer)'s span (`http.route`) and metrics (`http_route`).
///
/// The contract layer wraps the whole router, so the route is not known there; add this
/// layer with `Router::layer` (after the routes, so that it wraps them all), inside the
/// contract layer. A request no route matched (the fallback) has no route: its metrics say
/// `unmatched`, never the raw path, so that a scan of random paths cannot grow the label
/// set.
///
/// ```
/// use apierr::Profile;
/// use apierr_axum::{ContractLayer, telemetry::RouteLayer};
/// use axum::{Router, routing::get};
/// use tower_layer::Layer;
///
/// let router: Router = Router::new()
///     .route("/accounts/{id}", get(|| async { "account" }))
///     .layer(RouteLayer);
/// let app = ContractLayer::new(Profile::PROBLEM).metrics(true).layer(router);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct RouteLayer;

impl<S> Layer<S> for RouteLayer {
    type Service = RouteService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RouteService { inner }
    }
}

/// The middleware of [`RouteLayer`].
#[derive(Debug, Clone)]
pub struct RouteService<S> {
    inner: S,
}

impl<S> Service<Request> for RouteService<S>
where
    S: Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = RouteFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let route = req.extensions().get::<MatchedPath>().cloned();
        // On the span now, so that a handler that panics still has its route there; the
        // metrics take it from the response, and a panic's answer counts as `unmatched`.
        if let Some(route) = &route {
            super::record_route(route.as_str());
        }
        RouteFuture {
            inner: self.inner.call(req),
            route,
        }
    }
}

pin_project! {
    /// The response future of [`RouteService`].
    #[derive(Debug)]
    pub struct RouteFuture<F> {
        #[pin]
        inner: F,
        route: Option<MatchedPath>,
    }
}

impl<F, E> Future for RouteFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = ready!(this.inner.poll(cx))?;
        if let Some(route) = this.route.take() {
            response.extensions_mut().insert(Route(route));
        }
        Poll::Ready(Ok(response))
    }
}
