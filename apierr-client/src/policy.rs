//! When to retry, how long to wait, and how much retrying a client may do in all.

use std::sync::Mutex;
use std::time::Duration;

use http::Method;

/// The retry policy: a `#[must_use]` builder whose defaults follow the spirit of AWS's
/// standard retry mode and seed 001's rules.
///
/// | setting | default |
/// |---|---|
/// | attempts in all (first included) | 3 |
/// | backoff base (doubles each retry) | 100 ms |
/// | backoff base after a 429 | 1 s |
/// | backoff cap (jitter is drawn below it) | 20 s |
/// | longest `Retry-After` honoured | 60 s |
/// | total deadline across attempts | none |
/// | timeout of one attempt | none, as reqwest's (what is left of the deadline, when one is set) |
/// | retry a 500 | no (502, 503, 504, 408 and 429 are retried) |
/// | `Idempotency-Key` generated for a POST without one | yes |
/// | redirects followed (GET and HEAD only) | 5 |
///
/// What is retried: GET, HEAD, PUT, DELETE, OPTIONS and TRACE after a network failure,
/// 408, 429, 502, 503 or 504; POST and PATCH after a failure whose outcome is unknown
/// (a 5xx, or a network failure after the request was written) only when the request
/// carries an `Idempotency-Key` or is marked idempotent; any method when the request was
/// never sent (connection refused) or was refused unprocessed (429).
#[must_use]
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub(crate) max_attempts: u32,
    pub(crate) base: Duration,
    pub(crate) throttle_base: Duration,
    pub(crate) cap: Duration,
    pub(crate) max_retry_after: Duration,
    pub(crate) deadline: Option<Duration>,
    pub(crate) attempt_timeout: Option<Duration>,
    pub(crate) retry_500: bool,
    pub(crate) generate_keys: bool,
    pub(crate) max_redirects: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            base: Duration::from_millis(100),
            throttle_base: Duration::from_secs(1),
            cap: Duration::from_secs(20),
            max_retry_after: Duration::from_secs(60),
            deadline: None,
            attempt_timeout: None,
            retry_500: false,
            generate_keys: true,
            max_redirects: 5,
        }
    }
}

impl RetryPolicy {
    /// The defaults (see the table above).
    pub fn new() -> Self {
        RetryPolicy::default()
    }

    /// No retries at all: one attempt.
    pub fn never() -> Self {
        RetryPolicy::default().max_attempts(1)
    }

    /// Attempts in all, the first included (at least one).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// The backoff base: retry *n* waits a random time below `base × 2ⁿ⁻¹`, capped.
    pub fn base(mut self, base: Duration) -> Self {
        self.base = base;
        self
    }

    /// The backoff base after a 429 without `Retry-After`.
    pub fn throttle_base(mut self, base: Duration) -> Self {
        self.throttle_base = base;
        self
    }

    /// The most any backoff waits; jitter is drawn below it, never added above it.
    pub fn cap(mut self, cap: Duration) -> Self {
        self.cap = cap;
        self
    }

    /// The longest `Retry-After` waited for; a longer one stops the retries at once.
    pub fn max_retry_after(mut self, max: Duration) -> Self {
        self.max_retry_after = max;
        self
    }

    /// One deadline for the whole call, every attempt and wait included.
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// The longest one attempt may take (clamped to what is left of the deadline).
    pub fn attempt_timeout(mut self, timeout: Duration) -> Self {
        self.attempt_timeout = Some(timeout);
        self
    }

    /// Whether a 500 is retried (for requests that are safe to repeat).
    pub fn retry_500(mut self, retry: bool) -> Self {
        self.retry_500 = retry;
        self
    }

    /// Whether a POST without an `Idempotency-Key` gets one, the same on every attempt.
    pub fn generate_idempotency_keys(mut self, generate: bool) -> Self {
        self.generate_keys = generate;
        self
    }

    /// How many redirects of a GET or HEAD are followed.
    pub fn max_redirects(mut self, max: u32) -> Self {
        self.max_redirects = max;
        self
    }

    /// The wait before retry number `retry` (1 for the first retry): full jitter below
    /// `min(cap, base × 2^(retry-1))`.
    pub(crate) fn backoff(&self, retry: u32, throttled: bool) -> Duration {
        let base = if throttled {
            self.throttle_base
        } else {
            self.base
        };
        let doubling = 2u32.saturating_pow(retry.saturating_sub(1));
        let ceiling = base.saturating_mul(doubling).min(self.cap);
        ceiling.mul_f64(fastrand::f64())
    }
}

/// Whether a method may be repeated without changing the outcome (RFC 9110 §9.2.2).
pub(crate) fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS | Method::TRACE
    )
}

/// A client-wide retry budget, a token bucket as in AWS's retry quota: each retry costs
/// tokens (more after a timeout), each success gives one back. When a server fails for a
/// while, the budget runs dry and calls fail at once instead of piling retries on it.
#[derive(Debug)]
pub struct RetryBudget {
    tokens: Mutex<u32>,
    capacity: u32,
    retry_cost: u32,
    timeout_cost: u32,
}

impl Default for RetryBudget {
    /// AWS's standard mode: 500 tokens, 5 a retry, 10 a retry after a timeout.
    fn default() -> Self {
        RetryBudget::new(500, 5, 10)
    }
}

impl RetryBudget {
    /// A full budget of `capacity` tokens; a retry costs `retry_cost`, one after a
    /// timeout `timeout_cost`; a success refunds one.
    pub fn new(capacity: u32, retry_cost: u32, timeout_cost: u32) -> Self {
        RetryBudget {
            tokens: Mutex::new(capacity),
            capacity,
            retry_cost,
            timeout_cost,
        }
    }

    /// Tokens left.
    pub fn available(&self) -> u32 {
        *self
            .tokens
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn withdraw(&self, after_timeout: bool) -> bool {
        let cost = if after_timeout {
            self.timeout_cost
        } else {
            self.retry_cost
        };
        let mut tokens = self
            .tokens
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if *tokens < cost {
            return false;
        }
        *tokens -= cost;
        true
    }

    pub(crate) fn refund(&self) {
        let mut tokens = self
            .tokens
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *tokens = (*tokens + 1).min(self.capacity);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_below_the_cap() {
        let policy = RetryPolicy::new()
            .base(Duration::from_secs(1))
            .cap(Duration::from_secs(5));
        for retry in 1..40 {
            for _ in 0..50 {
                let delay = policy.backoff(retry, false);
                let ceiling =
                    Duration::from_secs(1 << (retry - 1).min(10)).min(Duration::from_secs(5));
                assert!(delay <= ceiling, "retry {retry}: {delay:?}");
            }
        }
    }

    #[test]
    fn the_budget_runs_dry_and_refills_on_success() {
        let budget = RetryBudget::new(12, 5, 10);
        assert!(budget.withdraw(false));
        assert!(budget.withdraw(false));
        assert!(!budget.withdraw(false));
        assert_eq!(budget.available(), 2);
        for _ in 0..100 {
            budget.refund();
        }
        assert_eq!(budget.available(), 12);
        assert!(budget.withdraw(true));
        assert!(!budget.withdraw(true));
    }
}
