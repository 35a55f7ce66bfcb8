//! The reconciliation log: every mutation whose outcome the caller cannot know.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::task::{Context, Poll};
use tracing::Instrument;

use apierr::Condition;
use apierr_store::{Entry, Outcome, ReconciliationLog};
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use http::Method;
use tower_layer::Layer;
use tower_service::Service;

use crate::fingerprint::{DEFAULT_BODY_LIMIT, fingerprint};
use crate::future::BoxResponseFuture;
use crate::idempotency::IDEMPOTENCY_KEY;
use crate::{Caller, Clock, RequestContract};

/// Records every mutating request (POST, PUT, PATCH, DELETE) that ends in a 5xx, panics,
/// or is dropped before it finishes (a timeout, a client gone) in a
/// [`ReconciliationLog`]: time, request id, caller, method, path, `Idempotency-Key`,
/// body fingerprint, status. Those are the requests whose effect the caller cannot know;
/// operators list them to reconcile (the reference server: `GET /admin/reconciliation`,
/// `apierr reconcile`).
///
/// An entry is written before the 5xx it records is answered, so that a crash right after
/// the answer never loses it (the write costs only the requests that failed); a request
/// dropped unfinished is written from a spawned task, as nothing waits for it. A write
/// that fails is logged as an error and the answer still goes out. Put the layer after
/// authentication, so that entries name their caller. A panic is recorded and then
/// resumed, for the contract layer to answer.
#[must_use]
#[derive(Clone)]
pub struct ReconcileLayer {
    log: Arc<dyn ReconciliationLog>,
    clock: Clock,
    body_limit: usize,
}

impl std::fmt::Debug for ReconcileLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReconcileLayer")
            .field("log", &self.log)
            .finish_non_exhaustive()
    }
}

impl ReconcileLayer {
    /// Records into `log` on the system clock, fingerprinting bodies up to 2 MiB.
    pub fn new(log: Arc<dyn ReconciliationLog>) -> Self {
        ReconcileLayer {
            log,
            clock: Arc::new(std::time::SystemTime::now),
            body_limit: DEFAULT_BODY_LIMIT,
        }
    }

    /// The clock entries are timed by.
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The largest body fingerprinted; a larger one is the payload-too-large condition.
    pub fn body_limit(mut self, limit: usize) -> Self {
        self.body_limit = limit;
        self
    }
}

impl<S> Layer<S> for ReconcileLayer {
    type Service = Reconcile<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Reconcile {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service [`ReconcileLayer`] makes.
#[derive(Clone)]
pub struct Reconcile<S> {
    inner: S,
    layer: ReconcileLayer,
}

impl<S> std::fmt::Debug for Reconcile<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reconcile").finish_non_exhaustive()
    }
}

/// Writes the entry unless the request finished with nothing to reconcile.
struct Pending {
    log: Arc<dyn ReconciliationLog>,
    clock: Clock,
    entry: Option<Entry>,
    /// The status a timeout is answered with, for a request dropped unfinished.
    timeout_status: u16,
}

impl Pending {
    /// The entry with its outcome, unless it was already taken.
    fn take(&mut self, status: u16, outcome: Outcome) -> Option<Entry> {
        let mut entry = self.entry.take()?;
        entry.status = status;
        entry.outcome = outcome;
        entry.at = (self.clock)();
        Some(entry)
    }

    /// Writes the entry before the answer leaves: once the caller has its 5xx, the
    /// entry is in the log, whatever happens to the process next.
    async fn record(&mut self, status: u16, outcome: Outcome) {
        if let Some(entry) = self.take(status, outcome) {
            record(&*self.log, &entry).await;
        }
    }
}

async fn record(log: &dyn ReconciliationLog, entry: &Entry) {
    let written = log
        .record(entry)
        .instrument(tracing::info_span!("reconciliation.record"))
        .await;
    match written {
        Ok(()) => crate::telemetry::count("apierr_reconciliation_entries_total", "log", "written"),
        Err(e) => {
            crate::telemetry::count("apierr_reconciliation_entries_total", "log", "failed");
            tracing::error!(error = %e, request_id = %entry.request_id, route = %entry.route, "could not record a request to reconcile");
        }
    }
}

/// A request dropped unfinished (a timeout, a client gone) cannot wait for the write:
/// its entry is written from a task of its own.
impl Drop for Pending {
    fn drop(&mut self) {
        let Some(entry) = self.take(self.timeout_status, Outcome::Abandoned) else {
            return;
        };
        let log = self.log.clone();
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::error!(request_id = %entry.request_id, "no runtime to record a request to reconcile");
            return;
        };
        runtime.spawn(async move { record(&*log, &entry).await });
    }
}

impl<S> Service<Request> for Reconcile<S>
where
    S: Service<Request, Response = Response, Error = std::convert::Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = std::convert::Infallible;
    type Future = BoxResponseFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        crate::boxed::call(
            &mut self.inner,
            &self.layer,
            |mut inner, layer| async move {
                let mutates = matches!(
                    *req.method(),
                    Method::POST | Method::PUT | Method::PATCH | Method::DELETE
                );
                if !mutates {
                    return inner.call(req).await;
                }
                let (req, fingerprint) = match fingerprint(req, layer.body_limit).await {
                    Ok(done) => done,
                    Err(error) => return Ok(error.into_response()),
                };
                let contract = RequestContract::of(req.extensions(), req.headers());
                let timeout_status = contract.adopt(Condition::Timeout.into()).status().as_u16();
                let entry = Entry {
                    seq: 0,
                    at: (layer.clock)(),
                    request_id: contract.request_id().as_str().to_owned(),
                    caller: Caller::of(req.extensions()).map(|c| c.as_str().to_owned()),
                    method: req.method().as_str().to_owned(),
                    route: req
                        .uri()
                        .path_and_query()
                        .map_or_else(|| req.uri().path().to_owned(), |p| p.as_str().to_owned()),
                    idempotency_key: req
                        .headers()
                        .get(IDEMPOTENCY_KEY)
                        .and_then(|v| v.to_str().ok())
                        .map(|k| {
                            k.chars()
                                .take(crate::idempotency::MAX_KEY_LEN + 2)
                                .collect()
                        }),
                    fingerprint: hex::encode(fingerprint.0),
                    status: 0,
                    outcome: Outcome::ServerError,
                    acknowledged_at: None,
                };
                let mut pending = Pending {
                    log: layer.log.clone(),
                    clock: layer.clock.clone(),
                    entry: Some(entry),
                    timeout_status,
                };
                let mut call = std::pin::pin!(inner.call(req));
                let polled = std::future::poll_fn(|cx| {
                    match std::panic::catch_unwind(AssertUnwindSafe(|| call.as_mut().poll(cx))) {
                        Ok(Poll::Pending) => Poll::Pending,
                        Ok(Poll::Ready(result)) => Poll::Ready(Ok(result)),
                        Err(panic) => Poll::Ready(Err(panic)),
                    }
                })
                .await;
                match polled {
                    Ok(Ok(response)) => {
                        let status = response.status();
                        if status.is_server_error() {
                            pending.record(status.as_u16(), Outcome::ServerError).await;
                        } else {
                            pending.entry = None;
                        }
                        Ok(response)
                    }
                    Ok(Err(never)) => match never {},
                    Err(panic) => {
                        let status = contract.adopt(Condition::Internal.into()).status();
                        pending.record(status.as_u16(), Outcome::Panicked).await;
                        std::panic::resume_unwind(panic)
                    }
                }
            },
        )
    }
}
