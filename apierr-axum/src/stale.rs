//! Staleness: requests must carry a date close to the server's clock (seed 004).

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use apierr::{ApiError, Condition};
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use http::HeaderName;
use http::header::DATE;
use tower_layer::Layer;
use tower_service::Service;

use crate::either::EitherFuture;

/// Seed 004's window: a request's date must fall within 5 minutes of the server's time.
pub const DEFAULT_SKEW: Duration = Duration::from_secs(5 * 60);

/// The clock a layer reads; injected in tests.
pub type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// Rejects requests whose date header is too far from the server's clock, or missing when
/// required, with the stale-request condition. The error's additional messages give the
/// server's time and the allowed skew, so that the caller can correct its clock.
///
/// The date is read as an HTTP-date (`Sun, 06 Nov 1994 08:49:37 GMT`), as RFC 3339
/// (`1994-11-06T08:49:37Z`) or as `1994-11-06 08:49:37` in UTC (seed 004's `iVvyDate`).
#[must_use]
#[derive(Clone)]
pub struct StalenessLayer {
    header: HeaderName,
    skew: Duration,
    required: bool,
    clock: Clock,
    /// Paths answered without a date: public documents such as an OpenAPI description,
    /// which a tool fetches without signing anything.
    exempt: Arc<[&'static str]>,
}

impl fmt::Debug for StalenessLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StalenessLayer")
            .field("header", &self.header)
            .field("skew", &self.skew)
            .field("required", &self.required)
            .finish_non_exhaustive()
    }
}

impl Default for StalenessLayer {
    fn default() -> Self {
        StalenessLayer::new()
    }
}

impl StalenessLayer {
    /// A layer checking `Date` within 5 minutes, required.
    pub fn new() -> Self {
        StalenessLayer {
            header: DATE,
            skew: DEFAULT_SKEW,
            required: true,
            clock: Arc::new(SystemTime::now),
            exempt: Arc::new([]),
        }
    }

    /// The header holding the request's date. Default is `Date`.
    pub fn header(mut self, header: HeaderName) -> Self {
        self.header = header;
        self
    }

    /// How far the date may be from the server's time, either way. Default is 5 minutes.
    pub fn skew(mut self, skew: Duration) -> Self {
        self.skew = skew;
        self
    }

    /// Whether a request without the header is stale. Default is true.
    pub fn required(mut self, required: bool) -> Self {
        self.required = required;
        self
    }

    /// Paths that need no date: exact matches, and, for an entry ending in `/*`, every
    /// path under it (`/portal/*` covers `/portal` and `/portal/a/b`). Default is none.
    pub fn exempt(mut self, paths: &[&'static str]) -> Self {
        self.exempt = paths.into();
        self
    }

    /// The clock to compare with. Default is the system clock.
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The stale-request error for a request, or `None` if it is fresh.
    fn check(&self, headers: &http::HeaderMap) -> Option<ApiError> {
        // The clock is read only when there is a date to compare (or a stale answer to
        // give): a request without the header, where none is required, costs a look-up.
        let value = headers.get(&self.header);
        if value.is_none() && !self.required {
            return None;
        }
        let now = (self.clock)();
        let fresh = value
            .and_then(|value| value.to_str().ok())
            .and_then(parse_date)
            .is_some_and(|date| distance(date, now) <= self.skew);
        (!fresh).then(|| {
            ApiError::from(Condition::StaleRequest)
                .with_additional_message(format!("server time is {}", httpdate::fmt_http_date(now)))
                .with_additional_message(format!(
                    "{} must be within {} seconds of it",
                    self.header,
                    self.skew.as_secs()
                ))
        })
    }
}

fn distance(a: SystemTime, b: SystemTime) -> Duration {
    a.duration_since(b)
        .or_else(|_| b.duration_since(a).map_err(|_| ()))
        .unwrap_or_default()
}

/// Reads an HTTP-date, RFC 3339 UTC, or `YYYY-MM-DD HH:MM:SS` UTC, with `httpdate` and
/// `humantime`: both keep years to four digits, so no date overflows the arithmetic.
pub(crate) fn parse_date(text: &str) -> Option<SystemTime> {
    let text = text.trim();
    httpdate::parse_http_date(text)
        .ok()
        .or_else(|| humantime::parse_rfc3339_weak(text).ok())
}

impl<S> Layer<S> for StalenessLayer {
    type Service = Staleness<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Staleness {
            inner,
            layer: self.clone(),
        }
    }
}

/// The middleware of [`StalenessLayer`].
#[derive(Debug, Clone)]
pub struct Staleness<S> {
    inner: S,
    layer: StalenessLayer,
}

impl<S> Service<Request> for Staleness<S>
where
    S: Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = EitherFuture<S::Future, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let path = req.uri().path();
        let exempt = self
            .layer
            .exempt
            .iter()
            .any(|e| match e.strip_suffix("/*") {
                Some(prefix) => path
                    .strip_prefix(prefix)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('/')),
                None => *e == path,
            });
        if exempt {
            return EitherFuture::inner(self.inner.call(req));
        }
        match self.layer.check(req.headers()) {
            Some(error) => EitherFuture::ready(error.into_response()),
            None => EitherFuture::inner(self.inner.call(req)),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;

    #[test]
    fn dates_in_three_forms() {
        // Scenario: the three accepted forms name the same instant.
        let t = UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(parse_date("Sun, 06 Nov 1994 08:49:37 GMT"), Some(t));
        assert_eq!(parse_date("1994-11-06T08:49:37Z"), Some(t));
        assert_eq!(parse_date("1994-11-06 08:49:37"), Some(t));
        assert_eq!(
            parse_date("2000-06-01 00:00:00"),
            Some(UNIX_EPOCH + Duration::from_secs(959_817_600))
        );
        assert_eq!(parse_date("yesterday"), None);
        assert_eq!(parse_date("1994-13-06 08:49:37"), None);
        assert_eq!(parse_date("1994-11-06 08:49"), None);
        assert_eq!(parse_date("-99999999999-11-06 08:49:37"), None);
        assert_eq!(parse_date("99999999999999-11-06 08:49:37"), None);
        assert!(parse_date("9999-12-31 23:59:59").is_some());
    }
}
