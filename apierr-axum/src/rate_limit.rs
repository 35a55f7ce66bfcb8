//! Rate limits per caller and route class, answered in the contract with the IETF headers.

use std::borrow::Cow;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use apierr::{ApiError, Condition};
use apierr_store::{Decision, Quota, RateLimitStore};
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use http::header::HeaderName;
use http::{HeaderMap, HeaderValue};
use tower_layer::Layer;
use tower_service::Service;
use tracing::Instrument;

use crate::future::BoxResponseFuture;
use crate::{Caller, Clock};

/// `RateLimit-Policy` (draft-ietf-httpapi-ratelimit-headers): the quota, e.g.
/// `"write";q=100;w=60`.
pub const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");

/// `RateLimit`: what is left of it, e.g. `"write";r=42;t=17` (`t`: seconds until the
/// quota is whole again).
pub const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");

/// What a rate limiter does when its store cannot be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenStoreDown {
    /// Let requests through, unlimited (logged as a warning each time).
    FailOpen,
    /// Refuse them with the service-unavailable condition (logged as an error).
    FailClosed,
}

/// Limits each caller (see [`Caller`]; requests without one share the key `anonymous`)
/// to a [`Quota`] per route class, with GCRA in a [`RateLimitStore`]: in memory
/// (bounded, see [`MemoryRateLimiter`](apierr_store::MemoryRateLimiter)) or in Redis
/// (one atomic round trip, a limit shared by every replica).
///
/// A refused request is the rate-limited condition (429) in the router's profile, with
/// `Retry-After` (whole seconds, rounded up) and the `RateLimit-Policy` / `RateLimit`
/// headers; allowed ones carry the headers too. Put it after authentication (so that
/// callers are known) and before idempotency (so that a refusal is not stored).
#[must_use]
#[derive(Clone)]
pub struct RateLimitLayer {
    config: Arc<Config>,
}

#[derive(Clone)]
struct Config {
    store: Arc<dyn RateLimitStore>,
    quota: Quota,
    class: Cow<'static, str>,
    policy: HeaderValue,
    clock: Clock,
    when_down: WhenStoreDown,
}

impl std::fmt::Debug for RateLimitLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimitLayer")
            .field("store", &self.config.store)
            .field("quota", &self.config.quota)
            .field("class", &self.config.class)
            .field("when_down", &self.config.when_down)
            .finish_non_exhaustive()
    }
}

/// The `RateLimit-Policy` value of `quota` in `class`.
pub(crate) fn policy(class: &str, quota: &Quota) -> HeaderValue {
    let value = format!(
        "\"{class}\";q={};w={}",
        quota.limit(),
        quota.window().as_secs().max(1)
    );
    HeaderValue::try_from(value).unwrap_or_else(|_| HeaderValue::from_static("\"default\""))
}

impl RateLimitLayer {
    /// `quota` per caller in the class `default`, failing open, on the system clock.
    pub fn new(store: Arc<dyn RateLimitStore>, quota: Quota) -> Self {
        RateLimitLayer {
            config: Arc::new(Config {
                store,
                quota,
                class: Cow::Borrowed("default"),
                policy: policy("default", &quota),
                clock: Arc::new(std::time::SystemTime::now),
                when_down: WhenStoreDown::FailOpen,
            }),
        }
    }

    fn config(mut self, change: impl FnOnce(&mut Config)) -> Self {
        let config = Arc::make_mut(&mut self.config);
        change(config);
        config.policy = policy(&config.class, &config.quota);
        self
    }

    /// The route class: callers get one quota per class (reads and writes apart, say).
    /// Its name (a token: letters, digits, `-`, `_`) is the policy's name in the headers.
    pub fn class(self, class: impl Into<Cow<'static, str>>) -> Self {
        let class = class.into();
        let class = if !class.is_empty()
            && class
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            class
        } else {
            Cow::Borrowed("default")
        };
        self.config(|c| c.class = class)
    }

    /// What to do when the store is down (fail open by default).
    pub fn when_store_down(self, when_down: WhenStoreDown) -> Self {
        self.config(|c| c.when_down = when_down)
    }

    /// The clock decisions are made on; tests inject their own.
    pub fn clock(self, clock: Clock) -> Self {
        self.config(|c| c.clock = clock)
    }
}

impl<S> Layer<S> for RateLimitLayer {
    type Service = RateLimit<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RateLimit {
            inner,
            config: self.config.clone(),
        }
    }
}

/// The service [`RateLimitLayer`] makes.
#[derive(Clone)]
pub struct RateLimit<S> {
    inner: S,
    config: Arc<Config>,
}

impl<S> std::fmt::Debug for RateLimit<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimit").finish_non_exhaustive()
    }
}

/// Whole seconds, rounded up.
pub(crate) fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

fn stamp(headers: &mut HeaderMap, config: &Config, decision: &Decision) {
    headers.insert(RATELIMIT_POLICY, config.policy.clone());
    let value = format!(
        "\"{}\";r={};t={}",
        config.class,
        decision.remaining,
        ceil_secs(decision.reset)
    );
    if let Ok(value) = HeaderValue::try_from(value) {
        headers.insert(RATELIMIT, value);
    }
}

impl<S> Service<Request> for RateLimit<S>
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
                let caller = Caller::of(req.extensions());
                let who = caller.as_ref().map_or("anonymous", Caller::as_str);
                let key = format!("{}:{who}", config.class);
                let decision = config
                    .store
                    .check(&key, config.quota, (config.clock)())
                    .instrument(tracing::info_span!("rate_limit.check", class = %config.class))
                    .await;
                let decision = match decision {
                    Ok(decision) => decision,
                    Err(e) => match config.when_down {
                        WhenStoreDown::FailOpen => {
                            decided("store_down_open");
                            tracing::warn!(error = %e, "rate-limit store unavailable: request let through unlimited");
                            return inner.call(req).await;
                        }
                        WhenStoreDown::FailClosed => {
                            decided("store_down_closed");
                            tracing::error!(error = %e, "rate-limit store unavailable: request refused");
                            let error = ApiError::from(Condition::ServiceUnavailable)
                                .with_retry_after(Duration::from_secs(1))
                                .with_source(e);
                            return Ok(error.into_response());
                        }
                    },
                };
                decided(if decision.allowed {
                    "allowed"
                } else {
                    "limited"
                });
                if !decision.allowed {
                    let wait = Duration::from_secs(ceil_secs(decision.retry_after).max(1));
                    let mut response = ApiError::from(Condition::RateLimited)
                        .with_retry_after(wait)
                        .into_response();
                    stamp(response.headers_mut(), &config, &decision);
                    return Ok(response);
                }
                let mut response = inner.call(req).await?;
                // A limit inside that answered (a failure limit's 429) speaks for itself.
                if !response.headers().contains_key(RATELIMIT_POLICY) {
                    stamp(response.headers_mut(), &config, &decision);
                }
                Ok(response)
            },
        )
    }
}

/// Counts a rate-limit decision.
fn decided(decision: &'static str) {
    crate::telemetry::count("apierr_rate_limit_decisions_total", "decision", decision);
}
