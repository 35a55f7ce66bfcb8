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
            .field("contract", &self.contract)
            .finish_non_exhaustive()
    }
}

impl<F> ResponseFuture<F> {
    pub(super) fn new(
        inner: F,
        contract: RequestContract,
        span: tracing::Span,
        timeout: Option<Duration>,
    ) -> Self {
        ResponseFuture {
            state: State::Running {
                inner,
                deadline: timeout.map(|t| Box::pin(tokio::time::sleep(t))),
            },
            contract,
            span,
        }
    }

    /// A response the layer made itself.
    pub(super) fn ready(
        response: Response,
        contract: RequestContract,
        span: tracing::Span,
    ) -> Self {
        ResponseFuture {
            state: State::Ready {
                response: Some(response),
            },
            contract,
            span,
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
        Poll::Ready(Ok(render::finish(response, contract)))
    }
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
