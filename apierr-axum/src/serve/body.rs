//! The bodies [`serve`](crate::serve()) wraps: the request's, with its timeout, and the
//! response's, which tells the connection when its request is done.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::BoxError;
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use tokio::time::Sleep;

/// The error of a request body that did not arrive within the server's body timeout
/// ([`Limits::body_timeout`](crate::Limits::body_timeout)). apierr's extractors and
/// layers answer it with the request-timeout condition (408); a handler of its own finds
/// it in the source chain of the body's error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct BodyTimeout;

impl std::fmt::Display for BodyTimeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("request body not received in time")
    }
}

impl std::error::Error for BodyTimeout {}

impl BodyTimeout {
    /// Whether `error` or one of its sources is a body timeout.
    pub fn is_cause_of(error: &(dyn std::error::Error + 'static)) -> bool {
        let mut next = Some(error);
        while let Some(e) = next {
            if e.is::<BodyTimeout>() {
                return true;
            }
            next = e.source();
        }
        false
    }
}

pin_project! {
    /// A request body that fails with [`BodyTimeout`] when it has not ended by its
    /// deadline.
    pub(crate) struct TimedBody<B> {
        #[pin]
        inner: B,
        // Only a body that has bytes to come gets a timer (a GET pays nothing); boxed,
        // since a timer is large and the body is moved through every layer.
        deadline: Option<Pin<Box<Sleep>>>,
    }
}

impl<B: Body> TimedBody<B> {
    pub(crate) fn new(inner: B, timeout: Duration) -> Self {
        let deadline = (!inner.is_end_stream()).then(|| Box::pin(tokio::time::sleep(timeout)));
        TimedBody { inner, deadline }
    }
}

impl<B> Body for TimedBody<B>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.project();
        if let Poll::Ready(frame) = this.inner.poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        if let Some(deadline) = this.deadline
            && deadline.as_mut().poll(cx).is_ready()
        {
            return Poll::Ready(Some(Err(Box::new(BodyTimeout))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// How many requests of a connection are between their head and their response's end:
/// a drain closes a connection at once when there are none.
#[derive(Debug, Clone, Default)]
pub(crate) struct InFlight(Arc<AtomicUsize>);

impl InFlight {
    pub(crate) fn is_idle(&self) -> bool {
        self.0.load(Ordering::Acquire) == 0
    }

    /// Counts a request until the guard is dropped.
    pub(crate) fn start(&self) -> Guard {
        self.0.fetch_add(1, Ordering::AcqRel);
        Guard(self.0.clone())
    }
}

/// One request in flight (see [`InFlight`]).
#[derive(Debug)]
pub(crate) struct Guard(Arc<AtomicUsize>);

impl Drop for Guard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

pin_project! {
    /// A response body that holds its request's [`Guard`] until hyper has written it
    /// and dropped it.
    pub(crate) struct Tracked<B> {
        #[pin]
        inner: B,
        guard: Guard,
    }
}

impl<B> std::fmt::Debug for Tracked<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracked").finish_non_exhaustive()
    }
}

impl<B> Tracked<B> {
    pub(crate) fn new(inner: B, guard: Guard) -> Self {
        Tracked { inner, guard }
    }
}

impl<B: Body> Body for Tracked<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        self.project().inner.poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
