//! [`FailureLimit`]: failed authentication limited per source address (and per any
//! other key, such as an OAuth client id), before any credential is checked.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use apierr::{ApiError, Condition};
use apierr_store::{Quota, RateLimitStore};
use axum::response::{IntoResponse, Response};
use http::HeaderValue;

use crate::rate_limit::{ceil_secs, policy};
use crate::{Clock, RATELIMIT, RATELIMIT_POLICY};

/// The policy name of the failure limit in the rate-limit headers.
const CLASS: &str = "auth-failures";

/// Sixty failures a minute from one address (or for one client id) pass, then one a
/// second: a person who mistypes a key is never stopped, a script that guesses is held to
/// 60 a minute. It is above the few dozen invalid-credential probes an API checker such
/// as schemathesis makes in a run, so that checking an API does not lock the checker out.
pub const DEFAULT_FAILURE_QUOTA: (u32, Duration) = (60, Duration::from_secs(60));

/// The most blocked addresses and keys a process remembers: a block is about 100 bytes,
/// so this bounds the map near 10 MiB whatever an attacker spreads its failures over.
const MAX_BLOCKED: usize = 100_000;

/// Limits failed authentication: each failure of a source address (or of another key,
/// like the client id of a token request) is counted in a [`RateLimitStore`] (memory,
/// or Redis shared by every replica); past the quota, the address is blocked, and its
/// requests are answered 429 (the rate-limited condition with `Retry-After`, and the
/// `RateLimit-Policy` / `RateLimit` headers of the class `auth-failures`) *before* its
/// credentials are checked, so a guess made while blocked learns nothing.
///
/// A successful request pays one lookup in a local map (is this address blocked?), and
/// nothing is written for it. Blocks are remembered by each process, counting by the
/// store: with Redis, a replica learns of a block at the next failure it sees.
///
/// Install it on [`RequireAuthLayer::failure_limit`](crate::RequireAuthLayer::failure_limit),
/// and call [`FailureLimit::blocked`] and [`FailureLimit::failed`] from a handler that
/// checks credentials itself (an OAuth token endpoint).
#[derive(Clone)]
pub struct FailureLimit {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn RateLimitStore>,
    quota: Quota,
    policy: HeaderValue,
    clock: Clock,
    /// Addresses blocked, until when.
    addresses: Mutex<HashMap<IpAddr, SystemTime>>,
    /// Other keys blocked, until when.
    keys: Mutex<HashMap<Box<str>, SystemTime>>,
}

impl std::fmt::Debug for FailureLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FailureLimit")
            .field("store", &self.inner.store)
            .field("quota", &self.inner.quota)
            .finish_non_exhaustive()
    }
}

/// What a failure limit is asked about: a source address, or another key.
#[derive(Debug, Clone, Copy)]
pub enum FailureKey<'a> {
    /// The address a request came from ([`ClientAddress`](crate::ClientAddress)).
    Address(IpAddr),
    /// Another identity that is guessed at, such as an OAuth client id.
    Key(&'a str),
}

impl FailureLimit {
    /// `quota` failures per key, counted in `store`, on the system clock.
    pub fn new(store: Arc<dyn RateLimitStore>, quota: Quota) -> Self {
        FailureLimit {
            inner: Arc::new(Inner {
                store,
                quota,
                policy: policy(CLASS, &quota),
                clock: Arc::new(SystemTime::now),
                addresses: Mutex::default(),
                keys: Mutex::default(),
            }),
        }
    }

    /// [`DEFAULT_FAILURE_QUOTA`] counted in this process's memory, for up to
    /// [`MAX_BLOCKED`] keys: what [`RequireAuthLayer`](crate::RequireAuthLayer) uses
    /// unless given another. `None` without the `memory` feature.
    pub(crate) fn in_memory() -> Option<FailureLimit> {
        #[cfg(feature = "memory")]
        {
            let (limit, window) = DEFAULT_FAILURE_QUOTA;
            let store = Arc::new(apierr_store::MemoryRateLimiter::new(MAX_BLOCKED));
            Quota::new(limit, window).map(|quota| FailureLimit::new(store, quota))
        }
        #[cfg(not(feature = "memory"))]
        None
    }

    /// The clock blocks are timed on; tests inject their own. Default is the system
    /// clock.
    #[must_use]
    pub fn clock(self, clock: Clock) -> Self {
        FailureLimit {
            inner: Arc::new(Inner {
                store: self.inner.store.clone(),
                quota: self.inner.quota,
                policy: self.inner.policy.clone(),
                clock,
                addresses: Mutex::default(),
                keys: Mutex::default(),
            }),
        }
    }

    /// How long `key` must still wait, if it is blocked now: one lookup in a local map.
    pub fn blocked(&self, key: FailureKey<'_>) -> Option<Duration> {
        let now = (self.inner.clock)();
        let until = match key {
            FailureKey::Address(ip) => lock(&self.inner.addresses).get(&ip).copied(),
            FailureKey::Key(k) => lock(&self.inner.keys).get(k).copied(),
        }?;
        until.duration_since(now).ok().filter(|d| !d.is_zero())
    }

    /// Counts a failure of `key`; when it goes over the quota, blocks it and returns how
    /// long it must wait. A store that is down counts nothing (logged): failed
    /// authentication is then limited by nothing but the partner limits.
    pub async fn failed(&self, key: FailureKey<'_>) -> Option<Duration> {
        let now = (self.inner.clock)();
        let stored = match key {
            FailureKey::Address(ip) => format!("auth-failures:ip:{ip}"),
            FailureKey::Key(k) => format!("auth-failures:key:{k}"),
        };
        let decision = match self.inner.store.check(&stored, self.inner.quota, now).await {
            Ok(decision) => decision,
            Err(e) => {
                tracing::warn!(error = %e, "failure-limit store unavailable: failure not counted");
                return None;
            }
        };
        if decision.allowed {
            count("counted");
            return None;
        }
        count("limited");
        let wait = Duration::from_secs(ceil_secs(decision.retry_after).max(1));
        let until = now + wait;
        match key {
            FailureKey::Address(ip) => insert(&self.inner.addresses, ip, until, now),
            FailureKey::Key(k) => insert(&self.inner.keys, k.into(), until, now),
        }
        tracing::warn!(key = %stored, wait_secs = wait.as_secs(), "failed authentication limited");
        Some(wait)
    }

    /// The answer to a blocked request: the rate-limited condition with `Retry-After`
    /// and the limit's headers, for the contract layer to render.
    pub fn response(&self, wait: Duration) -> Response {
        count("blocked");
        let mut response = self.error(wait).into_response();
        self.stamp(response.headers_mut(), wait);
        response
    }

    /// The error of a blocked request (see [`FailureLimit::response`]), for a handler
    /// whose errors take another form; add [`FailureLimit::stamp`]'s headers to it.
    pub fn error(&self, wait: Duration) -> ApiError {
        ApiError::from(Condition::RateLimited)
            .with_message("too many failed authentication attempts")
            .with_retry_after(wait)
    }

    /// Sets the `RateLimit-Policy` and `RateLimit` headers of a blocked answer.
    pub fn stamp(&self, headers: &mut http::HeaderMap, wait: Duration) {
        headers.insert(RATELIMIT_POLICY, self.inner.policy.clone());
        let value = format!("\"{CLASS}\";r=0;t={}", wait.as_secs().max(1));
        if let Ok(value) = HeaderValue::try_from(value) {
            headers.insert(RATELIMIT, value);
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding it leaves a map of times, which is still sound.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Remembers a block; a full map first forgets the blocks that are over, and if it is
/// still full, the new block is kept by the store alone (the next failure answers 429).
fn insert<K: std::hash::Hash + Eq>(
    map: &Mutex<HashMap<K, SystemTime>>,
    key: K,
    until: SystemTime,
    now: SystemTime,
) {
    let mut map = lock(map);
    if map.len() >= MAX_BLOCKED {
        map.retain(|_, until| *until > now);
    }
    if map.len() < MAX_BLOCKED {
        map.insert(key, until);
    }
}

/// Counts a failed authentication (`counted`, or `limited` when it went over the quota)
/// or a request refused while its source is blocked (`blocked`).
fn count(outcome: &'static str) {
    crate::telemetry::count("apierr_auth_failures_total", "outcome", outcome);
}
