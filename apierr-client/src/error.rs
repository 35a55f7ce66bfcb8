//! One error type for any API: what failed, how often it was tried, why it stopped.

use std::fmt;
use std::time::Duration;

use apierr::{ApiError, Category};
use http::{HeaderMap, StatusCode};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Whether a request that failed on the network may have been processed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    /// It never left: the connection was refused, the name did not resolve, the TLS
    /// handshake failed. Safe to retry for any method.
    NotSent,
    /// It was written, then the connection broke or the answer did not come in time: the
    /// server may have acted on it. Retry only what is idempotent.
    MaybeProcessed,
}

/// Why the client stopped trying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StopReason {
    /// The failure is not one that a retry can cure (a 4xx, an auth error, a decode
    /// error), or the request is not safe to repeat after it (a key-less POST whose
    /// outcome is unknown).
    NotRetryable,
    /// The request's body is a stream and could not be sent again.
    BodyNotReplayable,
    /// Every allowed attempt was made.
    AttemptsExhausted,
    /// The total deadline passed, or the server's `Retry-After` reaches past it.
    DeadlineExceeded,
    /// The server's `Retry-After` is longer than the policy accepts to wait.
    RetryAfterTooLong,
    /// The client-wide retry budget is spent: the server has been failing for a while.
    BudgetExhausted,
}

impl StopReason {
    /// A short lower-case name (`attempts-exhausted`).
    pub fn as_str(self) -> &'static str {
        match self {
            StopReason::NotRetryable => "not-retryable",
            StopReason::BodyNotReplayable => "body-not-replayable",
            StopReason::AttemptsExhausted => "attempts-exhausted",
            StopReason::DeadlineExceeded => "deadline-exceeded",
            StopReason::RetryAfterTooLong => "retry-after-too-long",
            StopReason::BudgetExhausted => "budget-exhausted",
        }
    }
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error answer as received.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
}

#[derive(Debug)]
pub(crate) enum Kind {
    /// The server answered with an error status; its body parsed in whatever dialect.
    Api(ApiError),
    /// The exchange failed on the network.
    Network(Sent),
    /// The answer was a success whose body could not be read as expected.
    Decode,
    /// The request could not be built (a bad URL, a header that is not one).
    Builder,
}

/// A failed request, after every attempt the policy allowed.
///
/// Classified in reqwest's style with `is_*` accessors, by the category seeds 000 and
/// 001 use: content (fix the request), auth (fix the credentials), rate-limited (wait),
/// server (outcome unknown), network (not sent, or maybe processed), decode.
pub struct Error {
    pub(crate) kind: Kind,
    pub(crate) dialect: Option<&'static str>,
    /// The error answer as it came, kept beside what was read from it.
    pub(crate) answer: Option<Box<Answer>>,
    pub(crate) attempts: u32,
    pub(crate) stop: StopReason,
    pub(crate) source: Option<BoxError>,
}

impl Error {
    pub(crate) fn new(kind: Kind, source: Option<BoxError>) -> Self {
        Error {
            kind,
            dialect: None,
            answer: None,
            attempts: 1,
            stop: StopReason::NotRetryable,
            source,
        }
    }

    /// The category of the failure.
    pub fn category(&self) -> Option<Category> {
        match &self.kind {
            Kind::Api(error) => Some(error.category()),
            Kind::Network(_) => Some(Category::Network),
            Kind::Decode | Kind::Builder => None,
        }
    }

    /// A 4xx the request itself caused (not auth, not rate limiting): correct it.
    pub fn is_content(&self) -> bool {
        self.category() == Some(Category::Content)
    }

    /// The credentials were refused (401, 403, 407, 410, 462, 463, or what the catalog
    /// says).
    pub fn is_auth(&self) -> bool {
        self.category() == Some(Category::Auth)
    }

    /// Too many requests: see [`retry_after`](Self::retry_after).
    pub fn is_rate_limited(&self) -> bool {
        self.category() == Some(Category::RateLimited)
    }

    /// The server failed (5xx): whether it acted on the request is unknown.
    pub fn is_server(&self) -> bool {
        self.category() == Some(Category::Server)
    }

    /// The exchange failed on the network (see [`is_not_sent`](Self::is_not_sent) and
    /// [`is_maybe_processed`](Self::is_maybe_processed)).
    pub fn is_network(&self) -> bool {
        matches!(self.kind, Kind::Network(_))
    }

    /// The request never reached the server.
    pub fn is_not_sent(&self) -> bool {
        matches!(self.kind, Kind::Network(Sent::NotSent))
    }

    /// The request was sent and may have been acted on.
    pub fn is_maybe_processed(&self) -> bool {
        matches!(self.kind, Kind::Network(Sent::MaybeProcessed))
    }

    /// The outcome of the request is unknown: a 5xx, or a network failure after it was
    /// sent. A mutation that ends so must be reconciled (or retried with its key).
    pub fn is_indeterminate(&self) -> bool {
        self.is_server() || self.is_maybe_processed()
    }

    /// A success whose body was not what the caller expected.
    pub fn is_decode(&self) -> bool {
        matches!(self.kind, Kind::Decode)
    }

    /// The request could not be built.
    pub fn is_builder(&self) -> bool {
        matches!(self.kind, Kind::Builder)
    }

    /// The server's error, parsed from whatever dialect it answered in (code, message,
    /// field violations, request id, category).
    pub fn api_error(&self) -> Option<&ApiError> {
        match &self.kind {
            Kind::Api(error) => Some(error),
            _ => None,
        }
    }

    /// The dialect the server's error body was read in (`problem`, `nested`, …), when it
    /// matched one.
    pub fn dialect(&self) -> Option<&'static str> {
        self.dialect
    }

    /// The body of the last error answer, as it came (up to the client's
    /// `max_error_body`): the vendor's own words, whatever was or was not read from them.
    pub fn body(&self) -> Option<&[u8]> {
        self.answer.as_ref().map(|a| a.body.as_slice())
    }

    /// The headers of the last error answer, as they came.
    pub fn headers(&self) -> Option<&HeaderMap> {
        self.answer.as_ref().map(|a| &a.headers)
    }

    /// The HTTP status of the last answer, if there was one.
    pub fn status(&self) -> Option<StatusCode> {
        self.api_error().map(ApiError::status)
    }

    /// How long the server asked to wait (`Retry-After`), on the last answer.
    pub fn retry_after(&self) -> Option<Duration> {
        self.api_error().and_then(ApiError::retry_after)
    }

    /// How many attempts were made.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Why the client stopped trying.
    pub fn stop_reason(&self) -> StopReason {
        self.stop
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.kind)
            .field("attempts", &self.attempts)
            .field("stop", &self.stop)
            .field("source", &self.source)
            .finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Api(error) => write!(
                f,
                "{} {}: {}",
                error.status().as_u16(),
                error.code(),
                error.message()
            )?,
            Kind::Network(Sent::NotSent) => f.write_str("request not sent")?,
            Kind::Network(Sent::MaybeProcessed) => f.write_str("request sent, no answer")?,
            Kind::Decode => f.write_str("response body could not be decoded")?,
            Kind::Builder => f.write_str("request could not be built")?,
        }
        if let Some(source) = &self.source {
            write!(f, " ({source})")?;
        }
        let tries = if self.attempts == 1 {
            "attempt"
        } else {
            "attempts"
        };
        write!(
            f,
            " after {} {tries}; stopped: {}",
            self.attempts, self.stop
        )
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as _)
    }
}
