//! `Idempotency-Key`: a POST or PATCH sent again is answered, not run again.

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use apierr::{ApiError, Condition, FieldViolation};
use apierr_store::{Claim, ClaimRequest, IdempotencyStore, StoredResponse};
use axum::body::Body;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::header::HeaderName;
use http::{HeaderValue, Method};
use http_body::Body as _;
use tower_layer::Layer;
use tower_service::Service;
use tracing::Instrument;

use crate::fingerprint::{DEFAULT_BODY_LIMIT, fingerprint};
use crate::future::BoxResponseFuture;
use crate::{Caller, Clock, RequestContract};

/// The request header (draft-ietf-httpapi-idempotency-key-header).
pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");

/// The header that marks a replayed response.
pub const IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// How long a replay is kept: 24 hours, as Stripe keeps them.
pub const DEFAULT_KEEP_FOR: Duration = Duration::from_secs(24 * 60 * 60);

/// How long a claim holds its key if its request never finishes (its process crashed):
/// a minute, longer than any handler of a well-set timeout runs.
pub const DEFAULT_LOCK_FOR: Duration = Duration::from_secs(60);

/// The longest key accepted.
pub const MAX_KEY_LEN: usize = 255;

/// The methods the layer acts on; any other passes through untouched.
pub(crate) const KEYED: [Method; 2] = [Method::POST, Method::PATCH];

/// The keys [`key_of`] accepts, as a regular expression (for documents): 1 to
/// [`MAX_KEY_LEN`] visible ASCII characters but `"` and `\\`, bare or in double quotes.
#[cfg(any(feature = "openapi", test))]
pub(crate) const KEY_PATTERN: &str = "^(?:[!#-\\[\\]-~]{1,255}|\"[!#-\\[\\]-~]{1,255}\")$";

/// The largest response stored for replay; a larger one is answered but not stored.
const MAX_STORED_BODY: usize = 1024 * 1024;

/// Makes POST and PATCH safe to retry: the first request with an `Idempotency-Key`
/// claims it and runs; a later one with the same key, caller and payload gets the first
/// one's response again, marked `Idempotent-Replayed: true`.
///
/// - The key is scoped to the request's [`Caller`] (one partner never replays another's
///   response); it is sent bare or as a quoted string, 1 to 255 visible ASCII characters.
/// - Same key while the first request runs: the in-flight condition (409) with
///   `Retry-After`. Same key with another method, path or body (SHA-256 fingerprint):
///   the key-reused condition (422). No key where [`required`](Self::required): the
///   key-missing condition (400). Each is rendered by the contract like any error.
/// - The claim is a lock with a fencing token: a request that never finishes (its process
///   died) holds the key for [`lock_for`](Self::lock_for) at most, and a slow request
///   whose lock was taken over cannot overwrite the newer claim's response.
/// - 5xx answers are not stored unless [`store_server_errors`](Self::store_server_errors):
///   their lock is released and a retry runs again, as after a panic.
/// - A keyed request runs to its end in a task of its own, even when its client hangs
///   up or the contract's timeout answers first: its response is stored, and the retry
///   replays it rather than running the mutation again. The task is stopped when the
///   lock ends, and the lock released.
/// - What is stored is what the client got: the contract renders it first (see
///   [`RequestContract::finish`]), so this layer sits inside the [`ContractLayer`](crate::ContractLayer),
///   after authentication.
///
/// GET, HEAD, PUT, DELETE and OPTIONS are idempotent by definition and pass through.
#[must_use]
#[derive(Clone)]
pub struct IdempotencyLayer {
    config: Arc<Config>,
}

#[derive(Clone)]
struct Config {
    store: Arc<dyn IdempotencyStore>,
    clock: Clock,
    required: bool,
    lock_for: Duration,
    keep_for: Duration,
    store_server_errors: bool,
    body_limit: usize,
    /// Seals stored bodies, when set.
    #[cfg(feature = "seal")]
    keyring: Option<Arc<apierr_store::Keyring>>,
}

impl Config {
    /// The body to store: sealed under the keyring, bound to its record, when there is
    /// one.
    fn seal(&self, scope: &str, key: &str, body: Bytes) -> Bytes {
        #[cfg(feature = "seal")]
        if let Some(keyring) = &self.keyring {
            return Bytes::from(keyring.seal(&body, &record_context(scope, key)));
        }
        let _ = (scope, key);
        body
    }

    /// A stored response with its body opened.
    fn open(
        &self,
        scope: &str,
        key: &str,
        stored: StoredResponse,
    ) -> Result<StoredResponse, ApiError> {
        #[cfg(feature = "seal")]
        if let Some(keyring) = &self.keyring {
            let body = keyring
                .open(&stored.body, &record_context(scope, key))
                .map_err(|e| ApiError::from(Condition::Internal).with_source(e))?
                .into_owned();
            return Ok(StoredResponse {
                body: Bytes::from(body),
                ..stored
            });
        }
        let _ = (scope, key);
        Ok(stored)
    }
}

/// What a stored body is bound to: its record's scope and key, the scope's length first
/// (see `apierr_store::SqlStore::reseal`, which binds it alike).
#[cfg(feature = "seal")]
fn record_context(scope: &str, key: &str) -> Vec<u8> {
    apierr_store::record_context(scope, key)
}

impl std::fmt::Debug for IdempotencyLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdempotencyLayer")
            .field("store", &self.config.store)
            .field("required", &self.config.required)
            .field("lock_for", &self.config.lock_for)
            .field("keep_for", &self.config.keep_for)
            .finish_non_exhaustive()
    }
}

impl IdempotencyLayer {
    /// Keys optional, records in `store`, kept [`DEFAULT_KEEP_FOR`], locks of
    /// [`DEFAULT_LOCK_FOR`], 5xx not stored, bodies up to 2 MiB, the system clock.
    pub fn new(store: Arc<dyn IdempotencyStore>) -> Self {
        IdempotencyLayer {
            config: Arc::new(Config {
                store,
                clock: Arc::new(std::time::SystemTime::now),
                required: false,
                lock_for: DEFAULT_LOCK_FOR,
                keep_for: DEFAULT_KEEP_FOR,
                store_server_errors: false,
                body_limit: DEFAULT_BODY_LIMIT,
                #[cfg(feature = "seal")]
                keyring: None,
            }),
        }
    }

    fn config(mut self, change: impl FnOnce(&mut Config)) -> Self {
        change(Arc::make_mut(&mut self.config));
        self
    }

    /// Whether POST and PATCH must carry a key (the key-missing condition otherwise).
    pub fn required(self, required: bool) -> Self {
        self.config(|c| c.required = required)
    }

    /// How long an unfinished claim holds its key.
    pub fn lock_for(self, lock_for: Duration) -> Self {
        self.config(|c| c.lock_for = lock_for)
    }

    /// How long a response is replayed.
    pub fn keep_for(self, keep_for: Duration) -> Self {
        self.config(|c| c.keep_for = keep_for)
    }

    /// Whether a 5xx answer is stored and replayed (Stripe's choice) rather than run
    /// again on retry.
    pub fn store_server_errors(self, store: bool) -> Self {
        self.config(|c| c.store_server_errors = store)
    }

    /// The largest body fingerprinted; a larger one is the payload-too-large condition.
    pub fn body_limit(self, limit: usize) -> Self {
        self.config(|c| c.body_limit = limit)
    }

    /// Seals every stored body under `keyring` (feature `seal`), bound to its record:
    /// a response that carries a secret (a webhook endpoint's signing secret) is then
    /// never in the store in plain text. A stored body that does not open (sealed under
    /// a key no longer given) is answered as an internal error, never run again.
    #[cfg(feature = "seal")]
    pub fn seal(self, keyring: Arc<apierr_store::Keyring>) -> Self {
        self.config(|c| c.keyring = Some(keyring))
    }

    /// The clock records are timed by; tests inject their own.
    pub fn clock(self, clock: Clock) -> Self {
        self.config(|c| c.clock = clock)
    }
}

impl<S> Layer<S> for IdempotencyLayer {
    type Service = Idempotency<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Idempotency {
            inner,
            config: self.config.clone(),
        }
    }
}

/// The service [`IdempotencyLayer`] makes.
#[derive(Clone)]
pub struct Idempotency<S> {
    inner: S,
    config: Arc<Config>,
}

impl<S> std::fmt::Debug for Idempotency<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Idempotency").finish_non_exhaustive()
    }
}

/// The key of a request: `None` when absent, an error when malformed.
fn key_of(req: &Request) -> Result<Option<String>, ApiError> {
    let mut values = req.headers().get_all(IDEMPOTENCY_KEY).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    let invalid = |why: &'static str| {
        ApiError::from(Condition::InvalidParameter)
            .with_violation(FieldViolation::header("Idempotency-Key", why))
    };
    if values.next().is_some() {
        return Err(invalid("must be sent once"));
    }
    let raw = value.as_bytes();
    // A structured-field string (the draft's form) or the bare key.
    let key = match raw {
        [b'"', inner @ .., b'"'] => inner,
        _ => raw,
    };
    let visible = |b: &u8| (0x21..=0x7e).contains(b) && *b != b'"' && *b != b'\\';
    if key.is_empty() || key.len() > MAX_KEY_LEN || !key.iter().all(visible) {
        return Err(invalid(
            "must be 1 to 255 visible ASCII characters, bare or in double quotes",
        ));
    }
    Ok(Some(String::from_utf8_lossy(key).into_owned()))
}

/// Response headers that describe this exchange rather than the result: not replayed.
fn kept(name: &HeaderName) -> bool {
    !matches!(
        name.as_str(),
        "date"
            | "content-length"
            | "transfer-encoding"
            | "connection"
            | "set-cookie"
            | "x-request-id"
            | "ratelimit"
            | "ratelimit-policy"
            | "retry-after"
    )
}

/// A replay of `stored`, marked as such and as already rendered.
fn replay(stored: StoredResponse) -> Response {
    let mut response = Response::new(Body::from(stored.body));
    *response.status_mut() =
        http::StatusCode::from_u16(stored.status).unwrap_or(http::StatusCode::OK);
    let headers = response.headers_mut();
    for (name, value) in stored.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_maybe_shared(value),
        ) {
            headers.append(name, value);
        }
    }
    headers.insert(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
    response
        .extensions_mut()
        .insert(apierr::ErrorResponse::rendered());
    response
}

/// Releases a claim whose request was dropped before it finished.
struct Release {
    store: Arc<dyn IdempotencyStore>,
    clock: Clock,
    scope: String,
    key: String,
    token: i64,
    armed: bool,
}

impl Drop for Release {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let now = (self.clock)();
        let (store, scope, key, token) = (
            self.store.clone(),
            std::mem::take(&mut self.scope),
            std::mem::take(&mut self.key),
            self.token,
        );
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(e) = store.release(&scope, &key, token, now).await {
                    tracing::warn!(error = %e, "could not release an abandoned idempotency claim; it expires with its lock");
                }
            });
        }
    }
}

impl<S> Service<Request> for Idempotency<S>
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
            &self.config,
            |mut inner, config| async move {
                if !KEYED.contains(req.method()) {
                    return inner.call(req).await;
                }
                let key = match key_of(&req) {
                    Ok(Some(key)) => key,
                    Ok(None) if !config.required => return inner.call(req).await,
                    Ok(None) => {
                        outcome("missing");
                        return Ok(ApiError::from(Condition::IdempotencyKeyMissing).into_response());
                    }
                    Err(error) => return Ok(error.into_response()),
                };
                let (req, fingerprint) = match fingerprint(req, config.body_limit).await {
                    Ok(done) => done,
                    Err(error) => return Ok(error.into_response()),
                };
                let contract = RequestContract::of(req.extensions(), req.headers());
                let scope = Caller::of(req.extensions())
                    .map_or_else(String::new, |c| c.as_str().to_owned());
                let claim = ClaimRequest {
                    scope: &scope,
                    key: &key,
                    fingerprint,
                    now: (config.clock)(),
                    lock_for: config.lock_for,
                    keep_for: config.keep_for,
                };
                let claimed = config
                    .store
                    .claim(&claim)
                    .instrument(tracing::info_span!("idempotency.claim"))
                    .await;
                let token = match claimed {
                    Ok(Claim::Acquired { token }) => {
                        outcome("executed");
                        token
                    }
                    Ok(Claim::Completed(stored)) => {
                        outcome("replayed");
                        return Ok(match config.open(&scope, &key, stored) {
                            Ok(stored) => replay(stored),
                            Err(error) => {
                                tracing::error!(error = %error, "a stored idempotent response does not open");
                                error.into_response()
                            }
                        });
                    }
                    Ok(Claim::Mismatch) => {
                        outcome("reused");
                        return Ok(ApiError::from(Condition::IdempotencyKeyReused).into_response());
                    }
                    Ok(Claim::InFlight { lock_expires_in }) => {
                        outcome("in_flight");
                        // The first request may finish any moment; its lock ends at the latest
                        // then. A second is a fair first wait.
                        let wait = lock_expires_in.min(Duration::from_secs(1));
                        let error =
                            ApiError::from(Condition::IdempotencyInFlight).with_retry_after(wait);
                        return Ok(error.into_response());
                    }
                    Err(e) => {
                        // Without the store nothing can be run exactly once: refuse, retryably.
                        outcome("store_down");
                        tracing::error!(error = %e, "idempotency store unavailable");
                        let error = ApiError::from(Condition::ServiceUnavailable)
                            .with_retry_after(Duration::from_secs(1))
                            .with_source(e);
                        return Ok(error.into_response());
                    }
                };
                // The request runs to its end in a task of its own, whatever becomes of
                // the connection: a client that hangs up after the handler's write has
                // committed finds the response stored when it retries, rather than a
                // released key that would run the mutation a second time. The task
                // lives no longer than the claim's lock.
                let lock_for = config.lock_for;
                let answer_contract = contract.clone();
                let work = async move {
                    let mut guard = Release {
                        store: config.store.clone(),
                        clock: config.clock.clone(),
                        scope: scope.clone(),
                        key: key.clone(),
                        token,
                        armed: true,
                    };
                    let response = contract.finish(inner.call(req).await?);
                    let stored_size = response.body().size_hint().upper();
                    // A 429 did nothing, and asks for a retry later: stored, it would be
                    // replayed to that retry (and every one after it).
                    let status = response.status();
                    let storable = stored_size.is_some_and(|n| n <= MAX_STORED_BODY as u64)
                        && status != http::StatusCode::TOO_MANY_REQUESTS
                        && (config.store_server_errors || !status.is_server_error());
                    guard.armed = false;
                    if !storable {
                        // A 5xx or a 429 (or a stream, or a body too large to keep): a retry
                        // runs again.
                        if let Err(e) = config
                            .store
                            .release(&scope, &key, token, (config.clock)())
                            .await
                        {
                            tracing::warn!(error = %e, "could not release an idempotency claim; it expires with its lock");
                        }
                        return Ok(response);
                    }
                    let (parts, body) = response.into_parts();
                    let body = match axum::body::to_bytes(body, MAX_STORED_BODY).await {
                        Ok(body) => body,
                        Err(e) => {
                            let _ = config
                                .store
                                .release(&scope, &key, token, (config.clock)())
                                .await;
                            return Ok(contract
                                .response(ApiError::from(Condition::Internal).with_source(e)));
                        }
                    };
                    let stored = StoredResponse {
                        status: parts.status.as_u16(),
                        headers: parts
                            .headers
                            .iter()
                            .filter(|(name, _)| kept(name))
                            .map(|(name, value)| {
                                (
                                    name.as_str().to_owned(),
                                    Bytes::copy_from_slice(value.as_bytes()),
                                )
                            })
                            .collect(),
                        body: config.seal(&scope, &key, body.clone()),
                    };
                    match config
                        .store
                        .complete(&scope, &key, token, (config.clock)(), &stored)
                        .instrument(tracing::info_span!("idempotency.complete"))
                        .await
                    {
                        Ok(true) => {}
                        Ok(false) => tracing::warn!(
                            "a newer request took this idempotency key over while it ran; its response was not stored"
                        ),
                        Err(e) => {
                            tracing::warn!(error = %e, "could not store an idempotent response; its claim expires with its lock")
                        }
                    }
                    Ok(Response::from_parts(parts, Body::from(body)))
                };
                match tokio::spawn(tokio::time::timeout(lock_for, work)).await {
                    Ok(Ok(answered)) => answered,
                    // Past its lock the claim is another request's to take: given back.
                    Ok(Err(_elapsed)) => {
                        Ok(answer_contract.response(ApiError::from(Condition::Timeout)))
                    }
                    Err(failed) => match failed.try_into_panic() {
                        // For the layers outside (the reconciliation log, the contract).
                        Ok(panic) => std::panic::resume_unwind(panic),
                        Err(cancelled) => Ok(answer_contract
                            .response(ApiError::from(Condition::Internal).with_source(cancelled))),
                    },
                }
            },
        )
    }
}

/// Counts what became of a request under the idempotency layer.
fn outcome(outcome: &'static str) {
    crate::telemetry::count("apierr_idempotency_outcomes_total", "outcome", outcome);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_key_pattern_accepts_exactly_the_keys_the_layer_does() {
        // Scenario: a client that keeps to the document's pattern never meets a 400 for
        // its key, and a key the pattern refuses is refused by the layer too.
        let pattern = regex::Regex::new(KEY_PATTERN).expect("a valid pattern");
        let long = "k".repeat(MAX_KEY_LEN);
        let too_long = "k".repeat(MAX_KEY_LEN + 1);
        let quoted = format!("\"{long}\"");
        for key in [
            "a",
            "order-1",
            "\"quoted\"",
            "~!#$%&'()*+,-./:;<=>?@[]^_`{|}",
            long.as_str(),
            quoted.as_str(),
            "",
            "\"\"",
            "has space",
            "back\\slash",
            "in\"side",
            "\"open",
            "tab\t",
            too_long.as_str(),
        ] {
            let req = Request::builder()
                .method(Method::POST)
                .header(IDEMPOTENCY_KEY, key)
                .body(Body::empty())
                .expect("a request");
            assert_eq!(
                matches!(key_of(&req), Ok(Some(_))),
                pattern.is_match(key),
                "{key:?}"
            );
        }
    }
}
