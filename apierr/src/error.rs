//! The one error value everything speaks through.

use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderValue, StatusCode};

use crate::{Category, Code, Condition, FieldViolation};

/// The source of an error: kept for logs, never rendered.
type BoxError = Box<dyn StdError + Send + Sync>;

/// A source once attached, shared so that an error's parts can be shared too.
type SharedSource = Arc<dyn StdError + Send + Sync>;

/// An error of an HTTP API, as its contract describes it.
///
/// It carries the HTTP status (standard or not, such as seed 004's 460–463), a stable
/// [`Code`], a message for people, the [`FieldViolation`]s that caused it, additional
/// messages, an optional `Retry-After`, the request id, and an internal source that is
/// logged but never rendered by any dialect.
///
/// An `ApiError` is one pointer wide, so `Result<T, ApiError>` stays small on the happy
/// path. Its parts are reference-counted: a response and the layer that renders it hold
/// the same error without copying it, and changing an error nobody else holds costs
/// no copy either.
///
/// ```
/// use apierr::{ApiError, Code, FieldViolation};
/// use http::StatusCode;
///
/// let err = ApiError::new(StatusCode::BAD_REQUEST, Code::text("validation_error"), "Validation error")
///     .with_violation(FieldViolation::body("first_name", "First name is required"));
/// assert_eq!(err.status(), StatusCode::BAD_REQUEST);
/// assert_eq!(err.violations().len(), 1);
/// ```
pub struct ApiError {
    inner: Arc<Inner>,
}

#[derive(Debug, Clone)]
struct Inner {
    status: StatusCode,
    code: Code,
    message: Cow<'static, str>,
    /// The catalog entry's default message: RFC 9457's `title`, which stays the same
    /// from occurrence to occurrence while `message` may name the field or the token.
    title: Option<Cow<'static, str>>,
    /// Where the code is documented: RFC 9457's `type`.
    doc_url: Option<Cow<'static, str>>,
    category: Category,
    violations: Vec<FieldViolation>,
    messages: Vec<Cow<'static, str>>,
    retry_after: Option<Duration>,
    request_id: Option<RequestIdText>,
    source: Option<SharedSource>,
    /// The framework condition the error stands for, if it was made from one: a server
    /// layer re-resolves it against the router's catalog, wherever the error was built.
    condition: Option<Condition>,
    /// Whether the message was set by the application rather than taken from a catalog
    /// entry; re-resolving a condition keeps such a message.
    custom_message: bool,
    /// The error format a parsed error was recognised in (`google`, `stripe`, …), when
    /// it was not one of apierr's dialects.
    format: Option<&'static str>,
}

/// A request id as given: text, or the header value a server layer or a response
/// carried, kept as it is so that taking it costs no copy.
#[derive(Debug, Clone)]
enum RequestIdText {
    Text(Cow<'static, str>),
    Header(HeaderValue),
}

impl ApiError {
    /// An error with a status, a code and a message; its category follows the status.
    pub fn new(status: StatusCode, code: Code, message: impl Into<Cow<'static, str>>) -> Self {
        ApiError::from_entry(
            status,
            code,
            message.into(),
            None,
            None,
            Category::from_status(status),
        )
    }

    /// An error with a catalog entry's identity, made in one go (each builder call on a
    /// fresh error checks that no one else holds its parts).
    pub(crate) fn from_entry(
        status: StatusCode,
        code: Code,
        message: Cow<'static, str>,
        title: Option<Cow<'static, str>>,
        doc_url: Option<Cow<'static, str>>,
        category: Category,
    ) -> Self {
        ApiError {
            inner: Arc::new(Inner {
                status,
                code,
                message,
                title,
                doc_url,
                category,
                violations: Vec::new(),
                messages: Vec::new(),
                retry_after: None,
                request_id: None,
                source: None,
                condition: None,
                custom_message: false,
                format: None,
            }),
        }
    }

    /// The error a response stands for when it carries no code: the code is the status
    /// number and the message its reason phrase ("fall back to examining the HTTP status",
    /// as seed 003 puts it).
    pub fn from_status(status: StatusCode) -> Self {
        ApiError::new(
            status,
            Code::Numeric(u32::from(status.as_u16())),
            reason_phrase(status),
        )
    }

    /// Says which error format the error was read from (see [`ApiError::format`]).
    #[must_use]
    pub fn with_format(mut self, format: &'static str) -> Self {
        Arc::make_mut(&mut self.inner).format = Some(format);
        self
    }

    /// The vendor error format a parsed error was recognised in (`rfc9457`, `google`,
    /// `odata`, `jsonapi`, `stripe`, `github`, `aws-json`, `aws-xml`, `graphql`,
    /// `fastapi`, `spring`, `rails`, `drf`, `ok-false`, `html`, `text`, `empty`), or
    /// `None` for an error made here or read in one of apierr's own dialects.
    pub fn format(&self) -> Option<&'static str> {
        self.inner.format
    }

    /// Replaces the message. Default is the catalog entry's message; a message set here
    /// is kept when the error's condition is resolved against another catalog.
    #[must_use]
    pub fn with_message(mut self, message: impl Into<Cow<'static, str>>) -> Self {
        self.inner_mut().message = message.into();
        self.inner_mut().custom_message = true;
        self
    }

    /// Replaces the message with a catalog's, which a later resolution may replace again.
    pub(crate) fn with_catalog_message(mut self, message: impl Into<Cow<'static, str>>) -> Self {
        self.inner_mut().message = message.into();
        self
    }

    /// Marks the error as standing for a framework condition.
    pub(crate) fn with_condition(mut self, condition: Condition) -> Self {
        self.inner_mut().condition = Some(condition);
        self
    }

    /// Takes the identity of a catalog entry (status, code, title, documentation URL,
    /// category and, unless the application set one, message), keeping everything else:
    /// violations, additional messages, `Retry-After`, request id and source.
    pub(crate) fn adopt_entry(&mut self, entry: &crate::Entry, message: Cow<'static, str>) {
        let inner = self.inner_mut();
        inner.status = entry.status();
        inner.code = entry.code().clone();
        inner.title = Some(entry.message_cow().clone());
        inner.doc_url = entry.doc_url_cow().cloned();
        inner.category = entry.category();
        if !inner.custom_message {
            inner.message = message;
        }
    }

    /// Sets the title, the short summary of the code that does not change between
    /// occurrences. Default is the catalog entry's message, or none.
    #[must_use]
    pub fn with_title(mut self, title: impl Into<Cow<'static, str>>) -> Self {
        self.inner_mut().title = Some(title.into());
        self
    }

    /// Sets the documentation URL of the code. Default is the catalog entry's, or none.
    #[must_use]
    pub fn with_doc_url(mut self, url: impl Into<Cow<'static, str>>) -> Self {
        self.inner_mut().doc_url = Some(url.into());
        self
    }

    /// Overrides the category. Default is the catalog entry's, or the one the status
    /// implies.
    #[must_use]
    pub fn with_category(mut self, category: Category) -> Self {
        self.inner_mut().category = category;
        self
    }

    /// Adds a field violation. Default is none.
    #[must_use]
    pub fn with_violation(mut self, violation: FieldViolation) -> Self {
        self.inner_mut().violations.push(violation);
        self
    }

    /// Adds field violations. Default is none.
    #[must_use]
    pub fn with_violations(mut self, violations: impl IntoIterator<Item = FieldViolation>) -> Self {
        self.inner_mut().violations.extend(violations);
        self
    }

    /// Adds an additional message (seed 004's `additionalMessages`). Default is none.
    #[must_use]
    pub fn with_additional_message(mut self, message: impl Into<Cow<'static, str>>) -> Self {
        self.inner_mut().messages.push(message.into());
        self
    }

    /// Sets how long the caller should wait before retrying; rendered as `Retry-After`
    /// in whole seconds, rounded up. Default is none.
    #[must_use]
    pub fn with_retry_after(mut self, after: Duration) -> Self {
        self.inner_mut().retry_after = Some(after);
        self
    }

    /// Sets the request id, rendered where the dialect has a place for it. Default is
    /// none.
    #[must_use]
    pub fn with_request_id(mut self, id: impl Into<Cow<'static, str>>) -> Self {
        self.inner_mut().request_id = Some(RequestIdText::Text(id.into()));
        self
    }

    /// Sets the internal cause, which is logged and never rendered. Default is none.
    #[must_use]
    pub fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.inner_mut().source = Some(Arc::from(source.into()));
        self
    }

    /// The condition of an error whose body, once its catalog resolves it, is the
    /// condition's alone: made from the condition and given nothing the body shows (no
    /// message of the application's, violation, additional message, `Retry-After` or
    /// request id). Resolving it sets every other part the body shows from the entry.
    pub(crate) fn bare_condition(&self) -> Option<Condition> {
        let inner = &*self.inner;
        let bare = !inner.custom_message
            && inner.violations.is_empty()
            && inner.messages.is_empty()
            && inner.retry_after.is_none()
            && inner.request_id.is_none();
        inner.condition.filter(|_| bare)
    }

    /// The parts, to change: in place when no one else holds them, else a copy.
    fn inner_mut(&mut self) -> &mut Inner {
        Arc::make_mut(&mut self.inner)
    }

    /// The same error, sharing its parts (a response's body and the layer that renders
    /// it both hold it).
    pub(crate) fn share(&self) -> ApiError {
        ApiError {
            inner: Arc::clone(&self.inner),
        }
    }

    /// Appends violations, taking over the vector when there are none yet (parsers
    /// hand over a vector collected in place, with no second allocation).
    pub(crate) fn with_violation_vec(mut self, violations: Vec<FieldViolation>) -> Self {
        let inner = self.inner_mut();
        if inner.violations.is_empty() {
            inner.violations = violations;
        } else {
            inner.violations.extend(violations);
        }
        self
    }

    /// Appends additional messages, taking over the vector when there are none yet.
    pub(crate) fn with_message_vec(mut self, messages: Vec<Cow<'static, str>>) -> Self {
        let inner = self.inner_mut();
        if inner.messages.is_empty() {
            inner.messages = messages;
        } else {
            inner.messages.extend(messages);
        }
        self
    }

    /// Sets the request id in place (for layers that learn it after the error is made).
    pub fn set_request_id(&mut self, id: impl Into<Cow<'static, str>>) {
        self.inner_mut().request_id = Some(RequestIdText::Text(id.into()));
    }

    /// Sets the request id from an `X-Request-Id` value, without copying it. A value
    /// that is not visible ASCII reads as no request id.
    pub fn set_request_id_header(&mut self, id: &HeaderValue) {
        self.inner_mut().request_id = Some(RequestIdText::Header(id.clone()));
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.inner.status
    }

    /// The stable code.
    pub fn code(&self) -> &Code {
        &self.inner.code
    }

    /// The message for people; it may change between versions, the code does not.
    pub fn message(&self) -> &str {
        &self.inner.message
    }

    /// The title, if known (the catalog entry's message).
    pub fn title(&self) -> Option<&str> {
        self.inner.title.as_deref()
    }

    /// The documentation URL of the code, if known.
    pub fn doc_url(&self) -> Option<&str> {
        self.inner.doc_url.as_deref()
    }

    /// What kind of failure this is, and so whether it may be retried.
    pub fn category(&self) -> Category {
        self.inner.category
    }

    /// The field violations, in the order they were found.
    pub fn violations(&self) -> &[FieldViolation] {
        &self.inner.violations
    }

    /// The additional messages.
    pub fn additional_messages(&self) -> &[Cow<'static, str>] {
        &self.inner.messages
    }

    /// How long to wait before retrying, if the server said.
    pub fn retry_after(&self) -> Option<Duration> {
        self.inner.retry_after
    }

    /// The request id, if known.
    pub fn request_id(&self) -> Option<&str> {
        match self.inner.request_id.as_ref()? {
            RequestIdText::Text(id) => Some(id),
            RequestIdText::Header(id) => id.to_str().ok(),
        }
    }

    /// The framework condition the error was made from, if any. A server layer resolves
    /// it against the router's catalog, so that `Condition::NotFound.into()` answers with
    /// the catalog's own not-found code.
    pub fn condition(&self) -> Option<Condition> {
        self.inner.condition
    }

    /// The internal cause, if any. No dialect renders it.
    pub fn internal_source(&self) -> Option<&(dyn StdError + Send + Sync + 'static)> {
        self.inner.source.as_deref()
    }
}

impl From<Condition> for ApiError {
    /// The condition's error in the general catalog, marked with the condition so that
    /// a server layer (or [`Profile::render`](crate::Profile::render)) answers with the
    /// code the router's catalog binds to it.
    ///
    /// ```
    /// use apierr::{ApiError, Code, Condition, Profile};
    ///
    /// let err: ApiError = Condition::NotFound.into();
    /// assert_eq!(err.code(), &Code::text("not_found"));
    /// let rendered = Profile::ERRORS_ARRAY.render(&err);
    /// assert_eq!(rendered.body, br#"{"errors":[{"errorCode":3001,"message":"entity not found"}]}"#);
    /// ```
    fn from(condition: Condition) -> Self {
        // The error of a bare condition is the same every time: made once and shared, it
        // costs a reference count instead of an allocation and a free (the parts are
        // copied on first change, as for any shared error). A constant of the general
        // catalog, not the contract: the profile is still the edge's to apply.
        static BARE: [std::sync::OnceLock<ApiError>; Condition::COUNT] =
            [const { std::sync::OnceLock::new() }; Condition::COUNT];
        BARE[condition.index()]
            .get_or_init(|| crate::catalog::GENERAL_STATIC.error(condition))
            .share()
    }
}

/// The reason phrase of a status, or `Unknown Error` for one without (such as 460).
pub(crate) fn reason_phrase(status: StatusCode) -> &'static str {
    match status.as_u16() {
        // RFC 9110 renamed these two; the http crate keeps RFC 7231's names.
        413 => "Content Too Large",
        422 => "Unprocessable Content",
        _ => status.canonical_reason().unwrap_or("Unknown Error"),
    }
}

impl fmt::Debug for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.inner.status.as_u16(),
            self.inner.code,
            self.inner.message
        )
    }
}

impl StdError for ApiError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.inner
            .source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_request_id_reads_as_text_when_it_is_visible_ascii() {
        // Scenario: a header value taken as is; one with obs-text is no id at all.
        let mut e = ApiError::new(http::StatusCode::NOT_FOUND, Code::numeric(404), "nope");
        e.set_request_id_header(&http::HeaderValue::from_static("req-7"));
        assert_eq!(e.request_id(), Some("req-7"));
        e.set_request_id_header(&http::HeaderValue::from_bytes(b"caf\xe9").unwrap());
        assert_eq!(e.request_id(), None);
        e.set_request_id("text-id");
        assert_eq!(e.request_id(), Some("text-id"));
    }

    #[test]
    fn api_error_is_one_pointer_wide() {
        // Scenario: handlers return Result<T, ApiError>; the error must not bloat it.
        assert_eq!(
            std::mem::size_of::<ApiError>(),
            std::mem::size_of::<usize>()
        );
    }

    #[test]
    fn fallback_uses_the_status_as_code() {
        // Scenario: a response without a code stands for its status.
        let e = ApiError::from_status(StatusCode::from_u16(463).unwrap());
        assert_eq!(e.code(), &Code::numeric(463));
        assert_eq!(e.message(), "Unknown Error");
        assert_eq!(e.category(), Category::Auth);
    }

    #[test]
    fn source_is_kept_but_separate() {
        // Scenario: the internal cause is reachable for logging through Error::source.
        let e = ApiError::from_status(StatusCode::INTERNAL_SERVER_ERROR)
            .with_source(std::io::Error::other("disk on fire"));
        assert_eq!(StdError::source(&e).unwrap().to_string(), "disk on fire");
        assert!(!e.to_string().contains("disk"));
    }
}
