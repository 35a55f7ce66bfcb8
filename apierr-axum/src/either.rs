//! A future that is either ready now or the inner service's.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::response::{IntoResponse, Response};
use pin_project_lite::pin_project;

pin_project! {
    /// Either a response decided before calling the inner service, or its future.
    #[project = EitherProj]
    pub enum EitherFuture<F, E> {
        /// Answered without the inner service.
        Ready {
            /// The response, until polled.
            response: Option<Response>,
            /// The inner service's error type.
            error: std::marker::PhantomData<E>,
        },
        /// The inner service's future.
        Inner {
            /// The future.
            #[pin]
            future: F,
        },
    }
}

impl<F, E> EitherFuture<F, E> {
    pub(crate) fn ready(response: Response) -> Self {
        EitherFuture::Ready {
            response: Some(response),
            error: std::marker::PhantomData,
        }
    }

    pub(crate) fn inner(future: F) -> Self {
        EitherFuture::Inner { future }
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
        match self.project() {
            EitherProj::Ready { response, .. } => {
                // Polled after completion (a caller bug): a bare 500, which the contract
                // layer outside renders in the profile.
                Poll::Ready(Ok(response.take().unwrap_or_else(|| {
                    http::StatusCode::INTERNAL_SERVER_ERROR.into_response()
                })))
            }
            EitherProj::Inner { future } => future.poll(cx),
        }
    }
}
