//! A future that is either ready now or the inner service's.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::response::{IntoResponse, Response};
use pin_project_lite::pin_project;

pin_project! {
    /// Either a response decided before calling the inner service, or its future.
    pub struct EitherFuture<F, E> {
        #[pin]
        state: State<F>,
        error: PhantomData<fn() -> E>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F> {
        Ready { response: Option<Response> },
        Inner { #[pin] future: F },
    }
}

impl<F, E> EitherFuture<F, E> {
    pub(crate) fn ready(response: Response) -> Self {
        EitherFuture {
            state: State::Ready {
                response: Some(response),
            },
            error: PhantomData,
        }
    }

    pub(crate) fn inner(future: F) -> Self {
        EitherFuture {
            state: State::Inner { future },
            error: PhantomData,
        }
    }
}

impl<F, E> std::fmt::Debug for EitherFuture<F, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EitherFuture")
    }
}

impl<F, E> Future for EitherFuture<F, E>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            // Polled after completion (a caller bug): a bare 500, which the contract layer
            // outside renders in the profile.
            StateProj::Ready { response } => Poll::Ready(Ok(response
                .take()
                .unwrap_or_else(|| http::StatusCode::INTERNAL_SERVER_ERROR.into_response()))),
            StateProj::Inner { future } => future.poll(cx),
        }
    }
}
