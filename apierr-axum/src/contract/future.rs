//! [`ResponseFuture`] of [`Contract`](super::Contract).

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use apierr::{ApiError, Condition, RenderedError, Scope};
use axum::response::{IntoResponse, Response};
use http::header::CONTENT_LENGTH;
use pin_project_lite::pin_project;
use tokio::time::Sleep;

pin_project! {
    /// The response future of [`Contract`](super::Contract).
    pub struct ResponseFuture<F> {
        #[pin]
        state: State<F>,
        scope: Scope,
        // Whether apierr rendered an error while the inner service ran, which tells its
        // error responses from foreign ones.
        rendered: bool,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F> {
        Ready { response: Option<Response> },
        Running {
            #[pin]
            inner: F,
            // Boxed: a timer is large, and most routers run without one; the future is
            // moved through every layer, so its size is paid on each request.
            deadline: Option<Pin<Box<Sleep>>>,
        },
    }
}

impl<F> std::fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

impl<F> ResponseFuture<F> {
    pub(super) fn new(inner: F, scope: Scope, timeout: Option<Duration>, rendered: bool) -> Self {
        ResponseFuture {
            state: State::Running {
                inner,
                deadline: timeout.map(|t| Box::pin(tokio::time::sleep(t))),
            },
            scope,
            rendered,
        }
    }

    /// A response the layer made itself, in the contract.
    pub(super) fn ready(response: Response, scope: Scope) -> Self {
        ResponseFuture {
            state: State::Ready {
                response: Some(response),
            },
            scope,
            rendered: true,
        }
    }
}

impl<F, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let scope: &Scope = this.scope;
        let response = match this.state.project() {
            StateProj::Ready { response } => response.take().unwrap_or_else(|| {
                // Polled again after completion: answer with the contract, never panic.
                apierr::in_scope(scope, || {
                    scope.profile.error(Condition::Internal).into_response()
                })
            }),
            StateProj::Running { inner, deadline } => {
                let polled = std::panic::catch_unwind(AssertUnwindSafe(|| {
                    apierr::in_scope_tracking(scope, || inner.poll(cx))
                }));
                if let Ok((_, rendered)) = &polled {
                    *this.rendered |= *rendered;
                }
                match polled.map(|(poll, _)| poll) {
                    Ok(Poll::Ready(Ok(response))) => response,
                    Ok(Poll::Ready(Err(e))) => return Poll::Ready(Err(e)),
                    Err(panic) => {
                        *this.rendered = true;
                        panic_response(scope, panic)
                    }
                    Ok(Poll::Pending) => match deadline.as_mut() {
                        Some(deadline) => {
                            ready!(deadline.as_mut().poll(cx));
                            tracing::error!(request_id = id(scope), "handler timed out");
                            *this.rendered = true;
                            apierr::in_scope(scope, || {
                                scope.profile.error(Condition::Timeout).into_response()
                            })
                        }
                        None => return Poll::Pending,
                    },
                }
            }
        };
        Poll::Ready(Ok(finish(response, scope, *this.rendered)))
    }
}

/// The answer to a panic: a 500 in the contract, with the panic logged, never shown.
pub(super) fn panic_response(scope: &Scope, panic: Box<dyn Any + Send>) -> Response {
    let message = panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("non-string panic payload");
    tracing::error!(request_id = id(scope), panic = message, "handler panicked");
    apierr::in_scope(scope, || {
        scope.profile.error(Condition::Internal).into_response()
    })
}

/// Stamps the request id on the response, logs a 5xx's cause, and renders in the contract
/// any error response that apierr did not render itself.
fn finish(mut response: Response, scope: &Scope, rendered: bool) -> Response {
    let status = response.status();
    if status.is_client_error() || status.is_server_error() {
        // Only a server error carries its ApiError (for the log).
        let server_error = status
            .is_server_error()
            .then(|| response.extensions().get::<RenderedError>())
            .flatten();
        match server_error {
            Some(RenderedError(error)) => log_server_error(error, scope),
            None if rendered && has_dialect_type(&response, scope) => {}
            None => response = normalise(response, scope),
        }
    }
    if let Some(id) = &scope.request_id {
        response.headers_mut().insert(crate::REQUEST_ID, id.clone());
    }
    response
}

/// Whether a response has the content type of the profile's error bodies.
fn has_dialect_type(response: &Response, scope: &Scope) -> bool {
    response
        .headers()
        .get(http::header::CONTENT_TYPE)
        .is_some_and(|ct| ct.as_bytes() == scope.profile.dialect().content_type().as_bytes())
}

/// The request id of a scope, for logs.
fn id(scope: &Scope) -> &str {
    scope
        .request_id
        .as_ref()
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
}

fn log_server_error(error: &ApiError, scope: &Scope) {
    match error.internal_source() {
        Some(source) => {
            tracing::error!(request_id = id(scope), code = %error.code(), error = %source, "server error");
        }
        None => tracing::error!(request_id = id(scope), code = %error.code(), "server error"),
    }
}

/// The condition an error status stands for when something other than apierr answered
/// (axum's router, a tower-http layer).
fn condition_for(status: u16) -> Option<Condition> {
    Some(match status {
        400 => Condition::MalformedBody,
        401 => Condition::Unauthenticated,
        403 => Condition::Forbidden,
        404 => Condition::NotFound,
        405 => Condition::MethodNotAllowed,
        406 => Condition::NotAcceptable,
        408 | 504 => Condition::Timeout,
        409 => Condition::AlreadyExists,
        413 => Condition::PayloadTooLarge,
        415 => Condition::UnsupportedMediaType,
        422 => Condition::InvalidParameter,
        429 => Condition::RateLimited,
        501 => Condition::NotImplemented,
        500..=599 => Condition::Internal,
        _ => return None,
    })
}

/// Replaces a foreign error response's body with the contract's, keeping its headers
/// (`Allow`, `WWW-Authenticate`, `Retry-After`).
fn normalise(response: Response, scope: &Scope) -> Response {
    let (mut parts, _body) = response.into_parts();
    if parts.status.is_server_error() {
        // No ApiError carries a cause here; say at least who answered what.
        tracing::error!(
            request_id = id(scope),
            status = parts.status.as_u16(),
            "server error from an inner service"
        );
    }
    let error = match condition_for(parts.status.as_u16()) {
        Some(condition) => scope.profile.error(condition),
        None => ApiError::from_status(parts.status),
    };
    let contract = apierr::in_scope(scope, || error.into_response());
    let (contract_parts, body) = contract.into_parts();
    parts.status = contract_parts.status;
    parts.headers.remove(CONTENT_LENGTH);
    parts.headers.extend(contract_parts.headers);
    parts.extensions.extend(contract_parts.extensions);
    Response::from_parts(parts, body)
}
