//! [`ResponseFuture`] of [`Contract`](super::Contract).

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use apierr::Condition;
use axum::response::Response;
use pin_project_lite::pin_project;
use tokio::time::Sleep;

use super::{RequestContract, internal, render};

pin_project! {
    /// The response future of [`Contract`](super::Contract).
    pub struct ResponseFuture<F> {
        #[pin]
        state: State<F>,
        contract: RequestContract,
        // Entered around every poll, so that whatever the inner service logs carries
        // the request id.
        span: tracing::Span,
        answer: Answer,
    }
}

/// What the telemetry of a request's answer needs from the request.
#[derive(Debug, Clone, Copy)]
pub(super) struct Answer {
    #[cfg(feature = "telemetry")]
    method: &'static str,
    /// When the request arrived, where its duration is measured.
    #[cfg(feature = "telemetry")]
    started: Option<std::time::Instant>,
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
            .field("contract", &self.contract)
            .finish_non_exhaustive()
    }
}

impl Answer {
    /// What the answer's telemetry needs of `req`.
    pub(super) fn of<B>(req: &http::Request<B>, config: &super::Config) -> Self {
        let _ = (req, config);
        Answer {
            #[cfg(feature = "telemetry")]
            method: crate::telemetry::method_label(req.method()),
            #[cfg(feature = "telemetry")]
            started: config.metrics.then(std::time::Instant::now),
        }
    }
}

impl<F> ResponseFuture<F> {
    pub(super) fn new(
        inner: F,
        contract: RequestContract,
        span: tracing::Span,
        answer: Answer,
        timeout: Option<Duration>,
    ) -> Self {
        ResponseFuture {
            state: State::Running {
                inner,
                deadline: timeout.map(|t| Box::pin(tokio::time::sleep(t))),
            },
            contract,
            span,
            answer,
        }
    }

    /// A response the layer made itself.
    pub(super) fn ready(
        response: Response,
        contract: RequestContract,
        span: tracing::Span,
        answer: Answer,
    ) -> Self {
        ResponseFuture {
            state: State::Ready {
                response: Some(response),
            },
            contract,
            span,
            answer,
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
        let _entered = this.span.enter();
        let contract: &RequestContract = this.contract;
        let response = match this.state.project() {
            StateProj::Ready { response } => response.take().unwrap_or_else(|| {
                // Polled again after completion: answer with the contract, never panic.
                internal(contract, Condition::Internal)
            }),
            StateProj::Running { inner, deadline } => {
                match std::panic::catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
                    Ok(Poll::Ready(Ok(response))) => response,
                    Ok(Poll::Ready(Err(e))) => return Poll::Ready(Err(e)),
                    Err(panic) => panic_response(contract, panic),
                    Ok(Poll::Pending) => match deadline.as_mut() {
                        Some(deadline) => {
                            ready!(deadline.as_mut().poll(cx));
                            tracing::error!("handler timed out");
                            internal(contract, Condition::Timeout)
                        }
                        None => return Poll::Pending,
                    },
                }
            }
        };
        let response = render::finish(response, contract, Some(this.span));
        Poll::Ready(Ok(record(response, contract, this.span, *this.answer)))
    }
}

/// Records the answer on the request span, and in the metrics where they are on.
#[cfg_attr(not(feature = "telemetry"), allow(unused_variables))]
fn record(
    response: Response,
    contract: &RequestContract,
    span: &tracing::Span,
    answer: Answer,
) -> Response {
    let status = response.status().as_u16();
    crate::telemetry::record_status(span, status);
    #[cfg(feature = "telemetry")]
    if let Some(started) = answer.started {
        // Read, not removed: the response drops them with the rest of its extensions.
        let extensions = response.extensions();
        let route = extensions.get::<crate::telemetry::Route>();
        let error_type = extensions
            .get::<apierr::ErrorResponse>()
            .and_then(apierr::ErrorResponse::code);
        contract.config().server_metrics.record(
            answer.method,
            route.map(|crate::telemetry::Route(route)| route.as_str()),
            status,
            error_type,
            started.elapsed(),
        );
        return response;
    }
    let _ = answer;
    response
}

/// The answer to a panic: a 500 in the contract, with the panic logged, never shown.
pub(super) fn panic_response(contract: &RequestContract, panic: Box<dyn Any + Send>) -> Response {
    let message = panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("non-string panic payload");
    tracing::error!(panic = message, "handler panicked");
    internal(contract, Condition::Internal)
}
