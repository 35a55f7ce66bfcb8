//! The retry rules of the contract, once: which answers a caller may send again, and
//! what a partner does about each error. apierr-client's retries and the error-handling
//! plan ([`Plan`](crate::Plan)) both read them from here.

use std::fmt;

use http::StatusCode;
use serde::Serialize;

use crate::{Category, Condition};

/// Whether an error answer may be retried as it is: a rate limit always (the request
/// was refused before any work), 408/502/503/504 when the request is `safe` to repeat
/// (an idempotent method, or a request carrying an `Idempotency-Key`), a 500 only when
/// `retry_500` too (most often a bug that answers the same again), anything else never.
///
/// ```
/// use apierr::{Category, advice::retryable};
///
/// assert!(retryable(429, Category::RateLimited, false, false));
/// assert!(retryable(503, Category::Server, true, false));
/// assert!(!retryable(503, Category::Server, false, false), "a POST without a key");
/// assert!(!retryable(500, Category::Server, true, false));
/// assert!(!retryable(404, Category::Content, true, true));
/// ```
pub fn retryable(status: u16, category: Category, safe: bool, retry_500: bool) -> bool {
    match status {
        _ if category == Category::RateLimited => true,
        408 | 502 | 503 | 504 => safe,
        500 => safe && retry_500,
        _ => false,
    }
}

/// What a partner does about an error answer.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Correct the request; sent again unchanged it gets the same answer.
    FixRequest,
    /// The request's `Date` is too far from the server's clock: send a current one (and
    /// fix the clock), then send the request again.
    SendCurrentDate,
    /// Obtain a new credential (a fresh token), then send the request again.
    Reauthenticate,
    /// Do not retry: the credential may not do this, was revoked, or the server does not
    /// implement it. A person has to act.
    DoNotRetry,
    /// Wait as long as `Retry-After` says (or back off), then send it again, with the
    /// same `Idempotency-Key` where there is one.
    WaitAndRetry,
    /// The outcome is unknown but the request is safe to repeat: retry with backoff
    /// (with the same `Idempotency-Key`).
    RetrySafely,
    /// The outcome is unknown and repeating it could do it twice: find out what happened
    /// (read the resource back, or the reconciliation log) before retrying.
    Reconcile,
}

impl Action {
    /// What a partner does, for an answer of `status` in `category` (of `condition`
    /// where the error stands for one), to a request that is `safe` to repeat or not.
    ///
    /// ```
    /// use apierr::advice::Action;
    /// use apierr::{Category, Condition};
    /// use http::StatusCode;
    ///
    /// let s = |n| StatusCode::from_u16(n).unwrap();
    /// assert_eq!(Action::of(s(503), Category::Server, None, false), Action::Reconcile);
    /// assert_eq!(Action::of(s(503), Category::Server, None, true), Action::RetrySafely);
    /// assert_eq!(Action::of(s(500), Category::Server, None, true), Action::RetrySafely);
    /// assert_eq!(Action::of(s(429), Category::RateLimited, None, false), Action::WaitAndRetry);
    /// let expired = Some(Condition::ExpiredToken);
    /// assert_eq!(Action::of(s(401), Category::Auth, expired, true), Action::Reauthenticate);
    /// assert_eq!(Action::of(s(403), Category::Auth, None, true), Action::DoNotRetry);
    /// ```
    pub fn of(
        status: StatusCode,
        category: Category,
        condition: Option<Condition>,
        safe: bool,
    ) -> Action {
        let code = status.as_u16();
        // The first request with this key is still running: its answer comes on retry.
        if condition == Some(Condition::IdempotencyInFlight) {
            return Action::WaitAndRetry;
        }
        // About the request's date, not its credential, whatever its status says.
        if condition == Some(Condition::StaleRequest) {
            return Action::SendCurrentDate;
        }
        if category == Category::RateLimited {
            return Action::WaitAndRetry;
        }
        match category {
            Category::Server | Category::Network => match code {
                501 => Action::DoNotRetry,
                // A 500 is retried by a partner that knows the request is safe to repeat;
                // apierr-client leaves it off by default (`RetryPolicy::retry_500`).
                _ if safe => Action::RetrySafely,
                _ => Action::Reconcile,
            },
            Category::Auth => match (code, condition) {
                (_, Some(Condition::Forbidden | Condition::KeyRevoked)) => Action::DoNotRetry,
                (403, None) => Action::DoNotRetry,
                _ => Action::Reauthenticate,
            },
            _ if retryable(code, category, safe, false) => Action::RetrySafely,
            _ if code == 408 => Action::Reconcile,
            _ => Action::FixRequest,
        }
    }

    /// The action's name, as JSON has it (`fix_request`).
    pub fn as_str(self) -> &'static str {
        match self {
            Action::FixRequest => "fix_request",
            Action::Reauthenticate => "reauthenticate",
            Action::SendCurrentDate => "send_current_date",
            Action::DoNotRetry => "do_not_retry",
            Action::WaitAndRetry => "wait_and_retry",
            Action::RetrySafely => "retry_safely",
            Action::Reconcile => "reconcile",
        }
    }

    /// The action in a sentence, for a partner.
    pub fn describe(self) -> &'static str {
        match self {
            Action::FixRequest => "Fix the request; sent again unchanged it fails again.",
            Action::SendCurrentDate => {
                "Send a current Date (the error gives the server's time; check the clock), then retry."
            }
            Action::Reauthenticate => "Get a new access token (or check the key), then retry.",
            Action::DoNotRetry => {
                "Do not retry: the credential may not do this, or it was revoked. Contact the API's operator."
            }
            Action::WaitAndRetry => {
                "Wait as long as Retry-After says, then retry (with the same Idempotency-Key, if one was sent)."
            }
            Action::RetrySafely => {
                "Safe to retry with backoff (with the same Idempotency-Key, if one was sent)."
            }
            Action::Reconcile => {
                "The outcome is unknown: check whether it happened (read it back) before sending it again."
            }
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
