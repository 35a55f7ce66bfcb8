//! What kind of failure an error is, and so whether and how to retry it.

use std::fmt;

use http::StatusCode;

/// The kind of a failure, which decides what the caller should do next.
///
/// Derived from the HTTP status (see [`Category::from_status`]); a catalog entry may
/// override it for a code whose status says less than the code does (seed 004's stale
/// request is a 401 that is fixed by correcting the clock, not the credentials).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Category {
    /// The request itself is wrong (4xx). Correct the request before trying again;
    /// resending it unchanged gets the same answer.
    Content,
    /// The credentials are missing, wrong, expired or revoked (401, 403, 407, 410, 462,
    /// 463). Do not retry as is: obtain or refresh credentials first.
    Auth,
    /// Too many requests (429). Retry after the server's `Retry-After`, or with
    /// exponential backoff when it gives none.
    RateLimited,
    /// The server failed (5xx). The outcome is indeterminate: a mutation may or may not
    /// have happened. Retry only requests that are idempotent (GET, DELETE, or a request
    /// carrying an idempotency key); reconcile the others.
    Server,
    /// The request may or may not have reached the server (connection reset, timeout).
    /// Never derived from a response: only a client produces it. Retry under the same
    /// rule as [`Category::Server`].
    Network,
}

impl Category {
    /// The category an HTTP status implies when no catalog entry says otherwise.
    ///
    /// Anything that is neither 4xx nor 5xx is treated as [`Category::Server`]: an error
    /// with such a status is a server that broke its own contract, and its outcome is as
    /// uncertain as a 5xx.
    ///
    /// ```
    /// use apierr::Category;
    /// use http::StatusCode;
    ///
    /// assert_eq!(Category::from_status(StatusCode::NOT_FOUND), Category::Content);
    /// assert_eq!(Category::from_status(StatusCode::from_u16(463).unwrap()), Category::Auth);
    /// assert_eq!(Category::from_status(StatusCode::TOO_MANY_REQUESTS), Category::RateLimited);
    /// assert_eq!(Category::from_status(StatusCode::BAD_GATEWAY), Category::Server);
    /// ```
    pub fn from_status(status: StatusCode) -> Self {
        match status.as_u16() {
            // 410 is how seed 002 says a bridge token expired; 462/463 are seed 004's
            // session expired and key revoked.
            401 | 403 | 407 | 410 | 462 | 463 => Category::Auth,
            429 => Category::RateLimited,
            400..=499 => Category::Content,
            _ => Category::Server,
        }
    }

    /// Whether the outcome of the failed request is unknown, so that a non-idempotent
    /// request must not be blindly repeated.
    pub fn is_indeterminate(self) -> bool {
        matches!(self, Category::Server | Category::Network)
    }

    /// The category's name in lower-case kebab form (`rate-limited`).
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Content => "content",
            Category::Auth => "auth",
            Category::RateLimited => "rate-limited",
            Category::Server => "server",
            Category::Network => "network",
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
