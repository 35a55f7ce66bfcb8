//! RFC 9457 problem details, the default dialect.

use super::schema;
use http::{HeaderMap, HeaderValue, StatusCode};

use super::json;
use super::violations::{self, Spelling};
use super::wire::{self, Wire, messages};
use super::{Dialect, parse_with};
use crate::error::reason_phrase;
use crate::{ApiError, Code, ViolationKind, ViolationSupport};

/// The media type of RFC 9457 problem details.
pub(crate) const CONTENT_TYPE: &str = "application/problem+json";

/// [`CONTENT_TYPE`] as a header value, made at compile time.
const CONTENT_TYPE_VALUE: HeaderValue = HeaderValue::from_static(CONTENT_TYPE);

/// RFC 9457's type for a problem with no documentation of its own.
const ABOUT_BLANK: &str = "about:blank";

/// Violations are `{field, detail, in}`.
const SPELLING: Spelling = Spelling {
    reason: "detail",
    body_implicit: false,
    always: false,
};

/// RFC 9457 problem details (`application/problem+json`), the default dialect.
///
/// `type` is the code's documentation URL, or `about:blank` with the status's reason
/// phrase as `title`; `detail` is the message. The code, the request id, the field
/// violations (`errors`: `field`, `in`, `detail`) and additional messages (`messages`)
/// are extension members.
///
/// ```json
/// {"type":"about:blank","title":"Bad Request","status":400,"detail":"parameter does not validate",
///  "code":"invalid_parameter","errors":[{"field":"age","detail":"must be a positive integer","in":"body"}]}
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Problem;

impl Dialect for Problem {
    fn error_schema(&self) -> serde_json::Value {
        serde_json::json!({"type": "object", "required": ["type", "title", "status", "detail", "code"],
            "properties": {"type": {"type": "string"}, "title": {"type": "string"},
                "status": {"type": "integer"}, "detail": {"type": "string"},
                "code": schema::code(), "request_id": {"type": "string"},
                "errors": {"type": "array", "items": schema::violation("detail")},
                "messages": schema::strings()}})
    }

    fn name(&self) -> &'static str {
        "problem"
    }

    fn violations(&self) -> ViolationSupport {
        ViolationSupport::All
    }

    fn content_type(&self) -> HeaderValue {
        CONTENT_TYPE_VALUE
    }

    fn is_pure(&self) -> bool {
        true
    }

    fn write_body(&self, e: &ApiError, out: &mut Vec<u8>) {
        let (type_uri, title) = match e.doc_url() {
            Some(url) => (url, e.title().unwrap_or(e.message())),
            None => (ABOUT_BLANK, reason_phrase(e.status())),
        };
        json::object(out, |o| {
            o.str("type", type_uri)
                .str("title", title)
                .num("status", u32::from(e.status().as_u16()))
                .str("detail", e.message())
                .code("code", e.code())
                .opt_str("request_id", e.request_id());
            violations::write(o, "errors", e.violations(), &SPELLING);
            o.strs("messages", e.additional_messages().iter().map(|m| &**m));
        });
    }

    fn parse(&self, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Option<ApiError> {
        parse_with(headers, body, |wire| read(status, wire))
    }
}

/// Reads problem details; needs at least a `detail`, `title` or `code`.
pub(crate) fn read(status: StatusCode, wire: &mut Wire<'_>) -> Option<ApiError> {
    let message = wire.detail.take().or_else(|| wire.title.clone())?;
    let code = wire
        .code
        .take()
        .unwrap_or_else(|| Code::Numeric(u32::from(status.as_u16())));
    let mut e = ApiError::new(status, code, message);
    if let Some(url) = wire.type_uri.take().filter(|t| &**t != ABOUT_BLANK) {
        e = e.with_doc_url(url);
        if let Some(title) = wire.title.take() {
            e = e.with_title(title);
        }
    }
    if let Some(id) = wire.request_id.take() {
        e = e.with_request_id(id);
    }
    Some(
        e.with_violation_vec(wire::violations(wire.errors.take(), &ViolationKind::Body))
            .with_message_vec(messages(wire.messages.take())),
    )
}
