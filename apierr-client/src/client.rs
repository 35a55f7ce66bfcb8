//! The client: one logical request, as many attempts as is safe.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use apierr::Profile;
use http::header::{AUTHORIZATION, COOKIE, LOCATION};
use http::{HeaderName, HeaderValue, Method, StatusCode};
use reqwest::{Request, Response, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::time::Instant;

use crate::error::{Answer, Error, Kind, Sent, StopReason};
use crate::policy::{RetryBudget, RetryPolicy, is_idempotent};

/// The request header that makes a POST safe to retry.
pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");

/// The API-key header apierr's servers read (never carried to another origin).
const API_KEY: HeaderName = HeaderName::from_static("x-api-key");

/// What one attempt ended in, for tracing and for the metrics hook.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AttemptEvent {
    /// The attempt's number, from 1.
    pub attempt: u32,
    /// The method and URL.
    pub method: Method,
    /// The URL of the attempt (after redirects).
    pub url: Url,
    /// The status, when there was an answer.
    pub status: Option<StatusCode>,
    /// The network failure, when there was none.
    pub network: Option<Sent>,
    /// What follows: a retry after this delay, or nothing (`None`: done or stopped).
    pub retry_in: Option<Duration>,
    /// Why the client stops, when it does after a failure.
    pub stop: Option<StopReason>,
}

type Hook = Arc<dyn Fn(&AttemptEvent) + Send + Sync>;

/// An HTTP client that classifies every failure and retries only what is safe (see
/// [`RetryPolicy`]). Cheap to clone: clones share the connection pool and the
/// [`RetryBudget`].
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

/// A client's parts, shared by its clones and its requests.
#[derive(Clone)]
struct Inner {
    http: reqwest::Client,
    policy: RetryPolicy,
    budget: Arc<RetryBudget>,
    profile: Option<Profile>,
    hook: Option<Hook>,
    /// The most bytes of an error body read (see [`Client::with_max_error_body`]).
    max_error_body: usize,
}

/// An error body is read up to 64 KiB: every real error document is far smaller, and a
/// server that answers an error with an endless body cannot fill the client's memory.
pub const DEFAULT_MAX_ERROR_BODY: usize = 64 * 1024;

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("policy", &self.inner.policy)
            .field("budget", &self.inner.budget)
            .field("profile", &self.inner.profile.as_ref().map(Profile::name))
            .finish_non_exhaustive()
    }
}

impl Default for Client {
    fn default() -> Self {
        Client::new()
    }
}

impl Client {
    /// The default policy, a full default budget, error bodies auto-detected.
    pub fn new() -> Self {
        // Redirects are this client's to follow (GET and HEAD only; credentials never
        // carried to another origin), so reqwest follows none.
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Client {
            inner: Arc::new(Inner {
                http,
                policy: RetryPolicy::default(),
                budget: Arc::new(RetryBudget::default()),
                profile: None,
                hook: None,
                max_error_body: DEFAULT_MAX_ERROR_BODY,
            }),
        }
    }

    /// This client with another policy.
    #[must_use]
    pub fn with_policy(mut self, policy: RetryPolicy) -> Self {
        Arc::make_mut(&mut self.inner).policy = policy;
        self
    }

    /// This client with its own budget (clones made before keep the old one).
    #[must_use]
    pub fn with_budget(mut self, budget: RetryBudget) -> Self {
        Arc::make_mut(&mut self.inner).budget = Arc::new(budget);
        self
    }

    /// The most bytes of an error body the client reads and parses; the rest is left
    /// unread (and the connection closed). Default is [`DEFAULT_MAX_ERROR_BODY`].
    #[must_use]
    pub fn with_max_error_body(mut self, bytes: usize) -> Self {
        Arc::make_mut(&mut self.inner).max_error_body = bytes;
        self
    }

    /// Error bodies read as `profile`'s: a code its catalog knows (or whose parent it
    /// knows) brings the catalog's category, title and documentation link.
    #[must_use]
    pub fn with_profile(mut self, profile: Profile) -> Self {
        Arc::make_mut(&mut self.inner).profile = Some(profile);
        self
    }

    /// Called after every attempt (for metrics); tracing events are emitted anyway.
    #[must_use]
    pub fn on_attempt(mut self, hook: impl Fn(&AttemptEvent) + Send + Sync + 'static) -> Self {
        Arc::make_mut(&mut self.inner).hook = Some(Arc::new(hook));
        self
    }

    /// The client's retry budget.
    pub fn budget(&self) -> &RetryBudget {
        &self.inner.budget
    }

    /// A request to build and send.
    pub fn request(&self, method: Method, url: impl reqwest::IntoUrl) -> RequestBuilder {
        RequestBuilder {
            client: self.clone(),
            inner: self.inner.http.request(method, url),
            idempotent: false,
        }
    }

    /// A GET.
    pub fn get(&self, url: impl reqwest::IntoUrl) -> RequestBuilder {
        self.request(Method::GET, url)
    }

    /// A POST.
    pub fn post(&self, url: impl reqwest::IntoUrl) -> RequestBuilder {
        self.request(Method::POST, url)
    }

    /// A PUT.
    pub fn put(&self, url: impl reqwest::IntoUrl) -> RequestBuilder {
        self.request(Method::PUT, url)
    }

    /// A PATCH.
    pub fn patch(&self, url: impl reqwest::IntoUrl) -> RequestBuilder {
        self.request(Method::PATCH, url)
    }

    /// A DELETE.
    pub fn delete(&self, url: impl reqwest::IntoUrl) -> RequestBuilder {
        self.request(Method::DELETE, url)
    }

    /// Sends `request` under the policy; `idempotent` marks a POST or PATCH as safe to
    /// repeat for a reason of the caller's (a unique field, seed 001).
    pub async fn execute(&self, request: Request, idempotent: bool) -> Result<Response, Error> {
        // Boxed: the retry loop's state is a few hundred bytes, and a future is moved
        // whole wherever it is awaited from; a pointer moves for less.
        Box::pin(self.run(request, idempotent, &mut Direct(self))).await
    }

    /// The retry loop, over any transport: this client's reqwest client, or the rest of a
    /// middleware chain.
    pub(crate) async fn run(
        &self,
        mut request: Request,
        idempotent: bool,
        transport: &mut impl Transport,
    ) -> Result<Response, Error> {
        let policy = &self.inner.policy;
        if policy.generate_keys
            && request.method() == Method::POST
            && !request.headers().contains_key(IDEMPOTENCY_KEY)
        {
            let key = uuid::Uuid::new_v4().to_string();
            if let Ok(value) = HeaderValue::from_str(&key) {
                request.headers_mut().insert(IDEMPOTENCY_KEY, value);
            }
        }
        let safe = idempotent
            || is_idempotent(request.method())
            || request.headers().contains_key(IDEMPOTENCY_KEY);
        let deadline = policy.deadline.map(|d| Instant::now() + d);
        let mut original = Some(request);
        let mut attempt = 0;
        loop {
            attempt += 1;
            // A copy for this attempt while the body can be copied; a stream is sent once
            // (and `decide` then stops, since nothing is left to send again).
            let this = match original.as_ref().and_then(Request::try_clone) {
                Some(copy) => copy,
                None => match original.take() {
                    Some(only) => only,
                    None => {
                        let error =
                            Error::new(Kind::Builder, Some("no request left to send".into()));
                        return Err(self.stopped(
                            error,
                            attempt - 1,
                            StopReason::BodyNotReplayable,
                        ));
                    }
                },
            };
            // Named for reports: by the kept original, or (a stream, sent once) a copy.
            let sent_once = original
                .is_none()
                .then(|| (this.method().clone(), this.url().clone()));
            let mut budget_for = policy.attempt_timeout;
            if let Some(deadline) = deadline {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(self.stopped(
                        Error::new(
                            Kind::Network(Sent::NotSent),
                            Some("deadline passed before the attempt".into()),
                        ),
                        attempt - 1,
                        StopReason::DeadlineExceeded,
                    ));
                }
                budget_for = Some(budget_for.map_or(left, |b| b.min(left)));
            }
            let sending = transport.send(this, original.as_ref());
            // No timer at all when nothing bounds the attempt.
            let outcome = match budget_for {
                Some(limit) => tokio::time::timeout(limit, sending).await,
                None => Ok(sending.await),
            };
            let (error, timed_out) = match outcome {
                Ok(Ok(response)) if !is_error(response.status()) => {
                    self.inner.budget.refund();
                    let (method, url) = target(&sent_once, &original);
                    self.report(
                        attempt,
                        method,
                        url,
                        Some(response.status()),
                        None,
                        None,
                        None,
                    );
                    return Ok(response);
                }
                Ok(Ok(response)) => (self.api_error(response).await, false),
                Ok(Err((error, timed_out))) => (error, timed_out),
                Err(_) => (
                    Error::new(
                        Kind::Network(Sent::MaybeProcessed),
                        Some(
                            format!("no answer within {:?}", budget_for.unwrap_or_default()).into(),
                        ),
                    ),
                    true,
                ),
            };
            let status = error.status();
            let network = match error.kind {
                Kind::Network(sent) => Some(sent),
                _ => None,
            };
            let decision = self.decide(
                &error,
                safe,
                attempt,
                deadline,
                original.is_some(),
                timed_out,
            );
            match decision {
                Ok(delay) => {
                    let (method, url) = target(&sent_once, &original);
                    self.report(attempt, method, url, status, network, Some(delay), None);
                    tokio::time::sleep(delay).await;
                }
                Err(stop) => {
                    let (method, url) = target(&sent_once, &original);
                    self.report(attempt, method, url, status, network, None, Some(stop));
                    return Err(self.stopped(error, attempt, stop));
                }
            }
        }
    }

    fn stopped(&self, mut error: Error, attempts: u32, stop: StopReason) -> Error {
        error.attempts = attempts.max(1);
        error.stop = stop;
        error
    }

    /// Whether to retry, and after how long.
    fn decide(
        &self,
        error: &Error,
        safe: bool,
        attempt: u32,
        deadline: Option<Instant>,
        replayable: bool,
        timed_out: bool,
    ) -> Result<Duration, StopReason> {
        let policy = &self.inner.policy;
        // A 429, or a 403 (or 429) whose body or headers say the quota is spent, as the
        // recognisers of other vendors' formats read them.
        let throttled = error.category() == Some(apierr::Category::RateLimited);
        let retryable = match (&error.kind, error.status(), error.category()) {
            // The contract's rule for answers, shared with the error-handling plan.
            (Kind::Api(_), Some(status), Some(category)) => {
                apierr::advice::retryable(status.as_u16(), category, safe, policy.retry_500)
            }
            (Kind::Network(Sent::NotSent), _, _) => true,
            (Kind::Network(Sent::MaybeProcessed), _, _) => safe,
            _ => false,
        };
        if !retryable {
            return Err(StopReason::NotRetryable);
        }
        if !replayable {
            return Err(StopReason::BodyNotReplayable);
        }
        if attempt >= policy.max_attempts {
            return Err(StopReason::AttemptsExhausted);
        }
        let delay = match error.retry_after() {
            Some(hint) if hint > policy.max_retry_after => {
                return Err(StopReason::RetryAfterTooLong);
            }
            Some(hint) => hint,
            None => policy.backoff(attempt, throttled),
        };
        if let Some(deadline) = deadline
            && Instant::now() + delay >= deadline
        {
            return Err(StopReason::DeadlineExceeded);
        }
        if !self.inner.budget.withdraw(timed_out) {
            return Err(StopReason::BudgetExhausted);
        }
        Ok(delay)
    }

    #[allow(clippy::too_many_arguments)]
    fn report(
        &self,
        attempt: u32,
        method: &Method,
        url: &Url,
        status: Option<StatusCode>,
        network: Option<Sent>,
        retry_in: Option<Duration>,
        stop: Option<StopReason>,
    ) {
        match (retry_in, stop) {
            (Some(delay), _) => tracing::info!(
                attempt, %method, %url, status = status.map(|s| s.as_u16()), network = ?network,
                delay_ms = delay.as_millis() as u64, "retrying"
            ),
            (None, Some(stop)) => tracing::info!(
                attempt, %method, %url, status = status.map(|s| s.as_u16()), network = ?network,
                reason = stop.as_str(), "giving up"
            ),
            (None, None) => {
                tracing::debug!(attempt, %method, %url, status = status.map(|s| s.as_u16()), "answered")
            }
        }
        if let Some(hook) = &self.inner.hook {
            hook(&AttemptEvent {
                attempt,
                method: method.clone(),
                url: url.clone(),
                status,
                network,
                retry_in,
                stop,
            });
        }
    }

    /// Sends one attempt, following redirects of a GET or HEAD within the same attempt.
    async fn follow(
        &self,
        mut request: Request,
        template: Option<&Request>,
    ) -> Result<Response, reqwest::Error> {
        let mut hops = 0;
        loop {
            let follow = matches!(*request.method(), Method::GET | Method::HEAD)
                && hops < self.inner.policy.max_redirects;
            // The next hop is made from the kept original, only when there is one to make.
            let base = (hops == 0).then_some(template).flatten();
            let carry = match (follow, base) {
                (false, _) => None,
                (true, Some(_)) => None,
                (true, None) => request.try_clone(),
            };
            let response = self.inner.http.execute(request).await?;
            if !follow
                || !response.status().is_redirection()
                || response.status() == StatusCode::NOT_MODIFIED
            {
                return Ok(response);
            }
            let Some(mut next) = carry.or_else(|| base.and_then(Request::try_clone)) else {
                return Ok(response);
            };
            let Some(target) = response
                .headers()
                .get(LOCATION)
                .and_then(|l| l.to_str().ok())
                .and_then(|l| response.url().join(l).ok())
            else {
                return Ok(response);
            };
            if target.scheme() != "http" && target.scheme() != "https" {
                return Ok(response);
            }
            if target.origin() != next.url().origin() {
                // Credentials are the first origin's: never sent to another.
                for name in [AUTHORIZATION, COOKIE, API_KEY] {
                    next.headers_mut().remove(name);
                }
            }
            *next.url_mut() = target;
            hops += 1;
            request = next;
        }
    }

    /// The error an error response stands for, its body parsed in whatever dialect.
    async fn api_error(&self, response: Response) -> Error {
        let status = response.status();
        let headers = response.headers().clone();
        let body = match read_at_most(response, self.inner.max_error_body).await {
            Ok(body) => body,
            Err(e) => return network_error(e),
        };
        let mut error = match &self.inner.profile {
            Some(profile) => profile.parse(status, &headers, &body),
            None => apierr::parse_any(status, &headers, &body),
        };
        if error.retry_after().is_none()
            && let Some(wait) = apierr::retry_hint(&headers, SystemTime::now())
        {
            // What only a clock can read: a `Retry-After` date, a quota reset given as a
            // Unix time.
            error = error.with_retry_after(wait);
        }
        // The dialect that reads the body as the error it is, for reports; a body
        // recognised in another vendor's format is in none.
        let dialect = match error.format() {
            Some(_) => None,
            None => apierr::format_of(&error, status, &headers, &body),
        };
        let mut error = Error::new(Kind::Api(error), None);
        error.dialect = dialect;
        error.answer = Some(Box::new(Answer { headers, body }));
        error
    }
}

/// The first `limit` bytes of a response's body, reading no further.
async fn read_at_most(mut response: Response, limit: usize) -> Result<Vec<u8>, reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = limit - body.len();
        if chunk.len() >= room {
            body.extend_from_slice(&chunk[..room]);
            break;
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// How one attempt is sent: the error comes back classified, with whether it was a
/// timeout (a retry after one costs more of the budget).
pub(crate) trait Transport: Send {
    fn send<'a>(
        &'a mut self,
        request: Request,
        template: Option<&'a Request>,
    ) -> impl Future<Output = Result<Response, (Error, bool)>> + Send + 'a;
}

/// The method and URL a report names.
fn target<'a>(
    sent_once: &'a Option<(Method, Url)>,
    original: &'a Option<Request>,
) -> (&'a Method, &'a Url) {
    match (sent_once, original) {
        (Some((method, url)), _) => (method, url),
        (None, Some(request)) => (request.method(), request.url()),
        (None, None) => unreachable!("a request is kept unless it was sent once"),
    }
}

/// This client's own reqwest client, following redirects of reads.
struct Direct<'c>(&'c Client);

impl Transport for Direct<'_> {
    async fn send<'a>(
        &'a mut self,
        request: Request,
        template: Option<&'a Request>,
    ) -> Result<Response, (Error, bool)> {
        self.0.follow(request, template).await.map_err(|e| {
            let timed_out = e.is_timeout();
            (network_error(e), timed_out)
        })
    }
}

/// Whether a status is an error to classify (3xx a redirect not followed is an answer).
fn is_error(status: StatusCode) -> bool {
    status.is_client_error() || status.is_server_error()
}

/// A reqwest failure as this crate's error: never sent, or maybe processed.
pub(crate) fn network_error(e: reqwest::Error) -> Error {
    if e.is_builder() {
        return Error::new(Kind::Builder, Some(e.into()));
    }
    if e.is_decode() {
        return Error::new(Kind::Decode, Some(e.into()));
    }
    let sent = if e.is_connect() {
        Sent::NotSent
    } else {
        Sent::MaybeProcessed
    };
    Error::new(Kind::Network(sent), Some(e.into()))
}

/// A request being built for a [`Client`].
#[must_use]
#[derive(Debug)]
pub struct RequestBuilder {
    client: Client,
    inner: reqwest::RequestBuilder,
    idempotent: bool,
}

impl RequestBuilder {
    /// Adds a header.
    pub fn header<K, V>(mut self, name: K, value: V) -> Self
    where
        HeaderName: TryFrom<K>,
        <HeaderName as TryFrom<K>>::Error: Into<http::Error>,
        HeaderValue: TryFrom<V>,
        <HeaderValue as TryFrom<V>>::Error: Into<http::Error>,
    {
        self.inner = self.inner.header(name, value);
        self
    }

    /// A JSON body.
    pub fn json<T: Serialize + ?Sized>(mut self, body: &T) -> Self {
        self.inner = self.inner.json(body);
        self
    }

    /// A body of bytes (a stream is sent once and never retried).
    pub fn body(mut self, body: impl Into<reqwest::Body>) -> Self {
        self.inner = self.inner.body(body);
        self
    }

    /// The request's `Idempotency-Key`: the same on every attempt.
    pub fn idempotency_key(self, key: &str) -> Self {
        self.header(IDEMPOTENCY_KEY, key)
    }

    /// Marks a POST or PATCH as safe to repeat for a reason of the caller's (a unique
    /// field makes a second creation fail rather than duplicate, seed 001).
    pub fn idempotent(mut self) -> Self {
        self.idempotent = true;
        self
    }

    /// Sends the request under the client's policy.
    ///
    /// The request is built now and the call is one boxed future, as reqwest's own
    /// `send` is: what the caller awaits is a pointer, whatever the retry loop holds.
    pub fn send(self) -> impl Future<Output = Result<Response, Error>> + Send + 'static {
        let built = self.inner.build();
        let (client, idempotent) = (self.client, self.idempotent);
        Box::pin(async move {
            let request = built.map_err(|e| Error::new(Kind::Builder, Some(e.into())))?;
            client.run(request, idempotent, &mut Direct(&client)).await
        })
    }

    /// Sends the request and reads the answer as text, with its status.
    pub async fn send_text(self) -> Result<(StatusCode, String), Error> {
        let response = self.send().await?;
        let status = response.status();
        let text = response.text().await.map_err(network_error)?;
        Ok((status, text))
    }

    /// Sends the request and reads a JSON answer.
    pub async fn send_json<T: DeserializeOwned>(self) -> Result<T, Error> {
        let response = self.send().await?;
        let bytes = response.bytes().await.map_err(network_error)?;
        serde_json::from_slice(&bytes).map_err(|e| Error::new(Kind::Decode, Some(e.into())))
    }
}
