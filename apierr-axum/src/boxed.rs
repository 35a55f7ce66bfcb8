//! The preamble the boxed layers' services share (authentication, idempotency, rate
//! limits, reconciliation): each awaits a store or the application inside its future,
//! so the future owns the inner service and the layer's settings.

use std::future::Future;
use std::pin::Pin;

use axum::response::Response;

/// A boxed response future with the inner service's error.
pub(crate) type Boxed<E> = Pin<Box<dyn Future<Output = Result<Response, E>> + Send>>;

/// `call` of a boxed layer: `run` gets the inner service that `poll_ready` made ready
/// (a fresh clone takes its place and waits for the next request, tower's way for a
/// service moved into its future) and the layer's settings, and its future is boxed.
pub(crate) fn call<S, C, E, F, Fut>(inner: &mut S, settings: &C, run: F) -> Boxed<E>
where
    S: Clone,
    C: Clone,
    F: FnOnce(S, C) -> Fut,
    Fut: Future<Output = Result<Response, E>> + Send + 'static,
{
    let fresh = inner.clone();
    let ready = std::mem::replace(inner, fresh);
    Box::pin(run(ready, settings.clone()))
}
