//! Dialects: how an [`ApiError`] looks on the wire, both ways.

mod errors_array;
pub(crate) mod json;
mod nested;
mod oauth;
mod problem;
mod schema;
mod specific_code;
mod violations;
mod wire;
mod wrapper;

use std::fmt;
use std::time::Duration;

use http::header::{CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};

pub use self::errors_array::ErrorsArray;
pub use self::nested::Nested;
pub use self::oauth::OAuth;
pub use self::problem::Problem;
pub use self::specific_code::SpecificCode;
pub use self::wrapper::Wrapper;

pub(crate) use self::problem::CONTENT_TYPE as PROBLEM_CONTENT_TYPE;
use self::wire::{ErrorMember, Filled, StatusMember, Wire};
use crate::hints::HeaderFacts;
use crate::{ApiError, ViolationSupport};

/// `application/json`, the content type of every dialect but `problem`, made at compile
/// time.
const JSON: HeaderValue = HeaderValue::from_static("application/json");

/// The header a request id travels in when the body has no place for it.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A wire format for errors: renders an [`ApiError`] to status, headers and body, and
/// parses a response back.
///
/// apierr ships six: [`Problem`] (RFC 9457, the default), [`Wrapper`] (seed 000),
/// [`OAuth`] (RFC 6749 token errors), [`Nested`] (seed 002), [`ErrorsArray`] (seed 003)
/// and [`SpecificCode`] (seed 004). [`parse_any`] reads any of them without being told
/// which.
pub trait Dialect: fmt::Debug + Send + Sync {
    /// The dialect's name (`problem`, `errors-array`…).
    fn name(&self) -> &'static str;

    /// How many field violations the format can carry.
    fn violations(&self) -> ViolationSupport;

    /// The `Content-Type` of an error body. Default is `application/json`.
    ///
    /// A header value rather than text, so that a dialect states it once, checked when
    /// it is made (`HeaderValue::from_static` at compile time), and rendering costs no
    /// check per response.
    fn content_type(&self) -> HeaderValue {
        JSON
    }

    /// Whether successful responses are wrapped too (seed 000's `status`/`entity`
    /// envelope), so that a server renders its successes through the dialect.
    fn wraps_success(&self) -> bool {
        false
    }

    /// The JSON Schema (2020-12, as OpenAPI 3.1 takes it) of every error body this
    /// dialect writes, for an API's document. Default is any JSON object: a dialect of
    /// one's own states its shape by overriding it.
    fn error_schema(&self) -> serde_json::Value {
        serde_json::json!({"type": "object"})
    }

    /// Whether [`Dialect::write_body`] writes nothing but what the error it is given
    /// holds (no clock, counter or randomness), and writes the request id as given, so
    /// that a server may render each condition's body once and copy it around the
    /// request id ([`Prerendered`](crate::Prerendered)). Default is false: a dialect of
    /// one's own renders every answer until it says so. Every built-in dialect is pure.
    fn is_pure(&self) -> bool {
        false
    }

    /// Writes the body of `error`. Never fails: every part of an [`ApiError`] is
    /// representable as JSON.
    fn write_body(&self, error: &ApiError, out: &mut Vec<u8>);

    /// Parses a response body written in this dialect; `None` when the body is not of
    /// this dialect's shape. The HTTP status is authoritative over any status in the body.
    fn parse(&self, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Option<ApiError>;

    /// Renders `error`: its status, `Content-Type`, `Retry-After` when set, and the body.
    fn render(&self, error: &ApiError) -> Rendered {
        let body = write_exact(|out| self.write_body(error, out));
        Rendered {
            status: error.status(),
            content_type: self.content_type(),
            retry_after: error.retry_after().map(retry_after_secs),
            body,
        }
    }
}

/// Room for a typical error body without regrowing the buffer (seed examples are
/// 60–250 bytes; one with a request id and a few violations runs to 400).
const INITIAL_BODY_CAPACITY: usize = 512;

/// Runs `write` into a new buffer and returns the bytes in a vector of exactly their
/// length. An exact vector becomes a response body without another allocation (`Bytes`
/// needs one for a vector with spare capacity) and holds no unused memory while the
/// response is in flight; shrinking a fresh allocation is done in place by the allocator.
fn write_exact(write: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut body = Vec::with_capacity(INITIAL_BODY_CAPACITY);
    write(&mut body);
    body.shrink_to_fit();
    body
}

/// An error rendered for the wire.
///
/// The headers are kept as plain values and built into a [`HeaderMap`] only when asked,
/// so that a server framework can add them to its own response without a second map.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The HTTP status.
    pub status: StatusCode,
    /// The `Content-Type` of the body.
    pub content_type: HeaderValue,
    /// `Retry-After` in whole seconds, when the error has one.
    pub retry_after: Option<u64>,
    /// The body.
    pub body: Vec<u8>,
}

impl Rendered {
    /// `Content-Type`, and `Retry-After` when set.
    pub fn headers(&self) -> HeaderMap {
        let mut headers = HeaderMap::with_capacity(2);
        headers.insert(CONTENT_TYPE, self.content_type.clone());
        if let Some(secs) = self.retry_after {
            headers.insert(RETRY_AFTER, HeaderValue::from(secs));
        }
        headers
    }

    /// The rendered error as an HTTP response.
    pub fn into_response(self) -> http::Response<Vec<u8>> {
        let headers = self.headers();
        let mut response = http::Response::new(self.body);
        *response.status_mut() = self.status;
        *response.headers_mut() = headers;
        response
    }
}

/// `Retry-After` is whole seconds; round up so that a client never comes back early.
pub(crate) fn retry_after_secs(after: Duration) -> u64 {
    after.as_secs() + u64::from(after.subsec_nanos() > 0)
}

/// Every built-in dialect, in the order [`dialect`] looks them up.
pub static DIALECTS: &[&dyn Dialect] = &[
    &Problem,
    &Wrapper,
    &OAuth,
    &Nested,
    &ErrorsArray,
    &SpecificCode,
];

/// The name of the format `error` was read in from this answer: the vendor format a
/// recogniser named ([`ApiError::format`]), else the built-in dialect that reads the body
/// as that same error, else `None` (a body no dialect writes).
///
/// ```
/// use apierr::{format_of, parse_any};
/// use http::{HeaderMap, StatusCode};
///
/// let body = br#"{"errors":[{"errorCode":3001,"message":"entity not found"}]}"#;
/// let error = parse_any(StatusCode::NOT_FOUND, &HeaderMap::new(), body);
/// assert_eq!(format_of(&error, StatusCode::NOT_FOUND, &HeaderMap::new(), body), Some("errors-array"));
/// let html = parse_any(StatusCode::NOT_FOUND, &HeaderMap::new(), b"<html><title>x</title></html>");
/// assert_eq!(html.format(), Some("html"));
/// ```
pub fn format_of(
    error: &ApiError,
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
) -> Option<&'static str> {
    error.format().or_else(|| {
        DIALECTS
            .iter()
            .find(|d| {
                d.parse(status, headers, body)
                    .is_some_and(|e| e.code() == error.code())
            })
            .map(|d| d.name())
    })
}

/// The built-in dialect with this name.
pub fn dialect(name: &str) -> Option<&'static dyn Dialect> {
    DIALECTS.iter().copied().find(|d| d.name() == name)
}

/// Parses any response into an [`ApiError`], detecting the dialect from the content type
/// and the shape of the body. Never panics. A body in none of apierr's dialects is read
/// by the recognisers of other vendors' formats (Google, OData, JSON:API, Stripe, GitHub,
/// AWS, GraphQL, RFC 9457 extensions, FastAPI, Spring, hapi's Boom as Fastify and NestJS
/// answer it, Rails, Django REST framework, `{ok: false}`, HTML, text), which name the
/// format they read ([`ApiError::format`]);
/// what none reads gives the status's code and reason, keeping a top-level `message`
/// and `code` if the body has them.
///
/// Headers supply what a body may lack: `Retry-After` (in seconds) and a request id
/// (see [`retry_hint`](crate::retry_hint) and [`REQUEST_ID_HEADERS`](crate::REQUEST_ID_HEADERS)).
///
/// ```
/// use apierr::{Code, parse_any};
/// use http::{HeaderMap, StatusCode};
///
/// let body = br#"{"errors":[{"errorCode":3001, "message":"entity not found"}]}"#;
/// let err = parse_any(StatusCode::NOT_FOUND, &HeaderMap::new(), body);
/// assert_eq!(err.code(), &Code::numeric(3001));
///
/// let err = parse_any(StatusCode::BAD_GATEWAY, &HeaderMap::new(), b"<html>Bad Gateway</html>");
/// assert_eq!(err.code(), &Code::numeric(502));
/// ```
pub fn parse_any(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> ApiError {
    let facts = HeaderFacts::scan(headers);
    let mut wire = Wire::default();
    let recognise = || crate::recognise::recognise(status, &facts, body);
    let error = match wire.fill(body, true) {
        // Nothing apierr does not write: one of its dialects, or a body that says too
        // little for any reader (its `message` and `code`, read here without a second
        // parse).
        Filled::Whole if !wire.is_foreign() => {
            detect(status, facts.problem, &mut wire).unwrap_or_else(|| unknown(status, &mut wire))
        }
        // Members apierr does not write: another vendor's format, unless none of the
        // recognisers knows it better than the dialect that matches.
        filled @ (Filled::Whole | Filled::Foreign) => {
            let recognised = recognise();
            if recognised.format() != Some("json") {
                recognised
            } else if filled == Filled::Foreign {
                // The skim said another vendor's: read the body for the dialects.
                let mut wire = Wire::default();
                match wire.fill(body, false) {
                    Filled::Whole => detect(status, facts.problem, &mut wire).unwrap_or(recognised),
                    _ => recognised,
                }
            } else {
                detect(status, facts.problem, &mut wire).unwrap_or(recognised)
            }
        }
        // Not JSON, or JSON of shapes no dialect of apierr's has.
        Filled::Failed => recognise(),
    };
    fill(&facts, error)
}

/// A JSON body in no known format, with apierr's member names only: the status speaks,
/// with what the body said.
fn unknown(status: StatusCode, wire: &mut Wire<'_>) -> ApiError {
    // `{"detail": "…"}` alone is FastAPI's (and Django REST framework's) default.
    let format = if wire.message.is_none() && wire.detail.is_some() {
        "fastapi"
    } else {
        "json"
    };
    let message = wire
        .message
        .take()
        .or_else(|| wire.detail.take())
        .or_else(|| wire.error_description.take())
        .map_or_else(
            || crate::error::reason_phrase(status).into(),
            std::borrow::Cow::from,
        );
    let code = wire
        .code
        .take()
        .unwrap_or_else(|| crate::Code::Numeric(u32::from(status.as_u16())));
    let mut error = ApiError::new(status, code, message).with_format(format);
    if let Some(id) = wire
        .request_id
        .take()
        .or_else(|| wire.request_id_camel.take())
    {
        error = error.with_request_id(std::borrow::Cow::from(id));
    }
    error
}

/// Picks the dialect a wire body is written in and reads it; `None` when it is in none.
fn detect(status: StatusCode, problem_type: bool, wire: &mut Wire<'_>) -> Option<ApiError> {
    let read = if problem_type {
        problem::read
    } else {
        match (&wire.error, &wire.errors, &wire.status) {
            (Some(ErrorMember::Object(_)), _, _) => nested::read,
            (Some(ErrorMember::Text(_)), _, _) => oauth::read,
            (_, Some(items), _) if items.iter().any(|i| i.error_code.is_some()) => {
                errors_array::read
            }
            _ if wire.error_code.is_some() => specific_code::read,
            (_, _, Some(StatusMember::Text)) => wrapper::read,
            // apierr's problem bodies always have `type` and `title`; a `detail` alone is
            // FastAPI's or Django REST framework's.
            _ if wire.type_uri.is_some()
                || wire.title.is_some()
                || matches!(wire.status, Some(StatusMember::Number)) =>
            {
                problem::read
            }
            _ => |_, _: &mut Wire<'_>| None,
        }
    };
    read(status, wire)
}

/// Parses with one dialect's reader, for [`Dialect::parse`].
pub(crate) fn parse_with(
    headers: &HeaderMap,
    body: &[u8],
    read: impl FnOnce(&mut Wire<'_>) -> Option<ApiError>,
) -> Option<ApiError> {
    let mut wire = Wire::default();
    if wire.fill(body, false) != Filled::Whole {
        return None;
    }
    read(&mut wire).map(|e| fill(&HeaderFacts::scan(headers), e))
}

/// Fills in what the body did not say: `Retry-After` in seconds (the HTTP-date form
/// needs a clock: [`retry_hint`](crate::retry_hint)) and the request id.
///
/// A body of no dialect of apierr's (one with a [`format`](ApiError::format)) may also
/// be refused for a quota the rate-limit headers say is spent: a 403 or 429 so is
/// rate-limited (never auth), and waits for the quota's reset unless told otherwise.
fn fill(facts: &HeaderFacts<'_>, mut error: ApiError) -> ApiError {
    if let Some(after) = facts.retry_after(None) {
        error = error.with_retry_after(after);
    }
    if error.format().is_some() {
        let quota = facts.quota(None);
        if quota.spent {
            if let (None, Some(reset)) = (error.retry_after(), quota.reset) {
                error = error.with_retry_after(reset);
            }
            if matches!(error.status().as_u16(), 403 | 429) {
                error = error.with_category(crate::Category::RateLimited);
            }
        }
    }
    if error.request_id().is_none() {
        if let Some(id) = facts.request_id_header() {
            error.set_request_id_header(id);
        } else if let Some(trace) = facts.trace_id() {
            error.set_request_id(trace.to_owned());
        }
    }
    error
}

#[cfg(test)]
mod tests {
    use super::write_exact;

    #[test]
    fn bodies_are_exact_and_renders_may_nest() {
        // Scenario: the body has no spare capacity, whether small, nested or huge.
        let body = write_exact(|out| out.extend_from_slice(b"{}"));
        assert_eq!((body.len(), body.capacity()), (2, 2));
        let outer = write_exact(|out| {
            let inner = write_exact(|out| out.extend_from_slice(b"inner"));
            out.extend_from_slice(&inner);
            out.extend_from_slice(b"+outer");
        });
        assert_eq!(outer, b"inner+outer");
        assert_eq!(outer.capacity(), outer.len());
        let huge = write_exact(|out| out.resize(1 << 20, b'x'));
        assert_eq!((huge.len(), huge.capacity()), (1 << 20, 1 << 20));
        assert_eq!(write_exact(|out| out.push(b'1')), b"1");
    }
}
