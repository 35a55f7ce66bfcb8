//! Rate limits: the generic cell rate algorithm (GCRA), one stored time per key.

use std::fmt;
use std::time::{Duration, SystemTime};

use crate::{BoxFuture, StoreError, duration_micros, micros_duration};

/// `limit` requests per `window`, all of which may come at once (a burst of `limit`),
/// then one every `window / limit`.
///
/// GCRA keeps one number per key, its *theoretical arrival time* (TAT): when the key
/// would be back to a full burst. A request is allowed when that time, pushed on by one
/// emission interval, is at most one window ahead of now. A key whose TAT is in the past
/// is exactly as if it had never been seen, which is what lets stores forget idle keys
/// without changing any decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    limit: u32,
    window: Duration,
    /// The emission interval, `window / limit`, in microseconds (at least one).
    interval: i64,
}

impl Quota {
    /// `limit` requests per `window`; `None` when either is zero or the window is shorter
    /// than a microsecond per request.
    pub fn new(limit: u32, window: Duration) -> Option<Quota> {
        let window_us = duration_micros(window);
        let interval = window_us.checked_div(i64::from(limit))?;
        (interval > 0).then_some(Quota {
            limit,
            window,
            interval,
        })
    }

    /// Requests per window.
    pub fn limit(&self) -> u32 {
        self.limit
    }

    /// The window.
    pub fn window(&self) -> Duration {
        self.window
    }

    /// The emission interval in microseconds.
    pub(crate) fn interval(&self) -> i64 {
        self.interval
    }

    /// The window in microseconds.
    pub(crate) fn window_micros(&self) -> i64 {
        duration_micros(self.window)
    }

    /// The decision for a key whose stored TAT is `tat` (microseconds; `None` or a past
    /// time for a fresh key), at `now`; and the TAT to store when allowed.
    pub fn decide(&self, tat: Option<i64>, now: i64) -> (Decision, Option<i64>) {
        let start = tat.map_or(now, |t| t.max(now));
        let next = start.saturating_add(self.interval);
        let window = self.window_micros();
        if next - now > window {
            let decision = self.decision(false, start - now, next - window - now);
            return (decision, None);
        }
        (self.decision(true, next - now, 0), Some(next))
    }

    /// A decision from the GCRA state after it: `ahead` is how far the key's TAT is ahead
    /// of now, `wait` how long until the next request would be allowed (zero if this one
    /// was). Shared by every store, so their headers agree to the microsecond.
    pub(crate) fn decision(&self, allowed: bool, ahead: i64, wait: i64) -> Decision {
        let window = self.window_micros();
        let room = (window - ahead).max(0) / self.interval;
        Decision {
            allowed,
            limit: self.limit,
            remaining: u32::try_from(room).unwrap_or(self.limit).min(self.limit),
            reset: micros_duration(ahead),
            retry_after: micros_duration(wait),
        }
    }
}

/// What a rate limiter decided, with what the `RateLimit` headers say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Whether the request may proceed.
    pub allowed: bool,
    /// The quota's limit.
    pub limit: u32,
    /// How many more requests would be allowed right now.
    pub remaining: u32,
    /// How long until the key is back to its full quota.
    pub reset: Duration,
    /// When refused, how long until a request would be allowed; zero when allowed.
    pub retry_after: Duration,
}

/// Storage of rate-limit state: one atomic decision per request.
pub trait RateLimitStore: Send + Sync + fmt::Debug + 'static {
    /// Decides a request of `key` under `quota` at `now`, and records it when allowed.
    fn check<'a>(
        &'a self,
        key: &'a str,
        quota: Quota,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<Decision, StoreError>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_of_the_limit_then_one_per_interval() {
        // Scenario: 4 per second: four at once, the fifth waits 250 ms; 250 ms later one
        // more is allowed, with nothing to spare.
        let quota = Quota::new(4, Duration::from_secs(1)).unwrap();
        let mut tat = None;
        for left in (0..4).rev() {
            let (decision, next) = quota.decide(tat, 0);
            assert!(decision.allowed);
            assert_eq!(decision.remaining, left);
            tat = next;
        }
        let (refused, next) = quota.decide(tat, 0);
        assert!(!refused.allowed);
        assert_eq!(next, None);
        assert_eq!(refused.retry_after, Duration::from_millis(250));
        assert_eq!(refused.reset, Duration::from_secs(1));
        let (later, _) = quota.decide(tat, 250_000);
        assert!(later.allowed);
        assert_eq!(later.remaining, 0);
    }

    #[test]
    fn quotas_that_cannot_be_kept_are_refused() {
        assert_eq!(Quota::new(0, Duration::from_secs(1)), None);
        assert_eq!(Quota::new(10, Duration::ZERO), None);
        assert_eq!(Quota::new(10, Duration::from_micros(5)), None);
    }
}
