//! Seed 002's nested error object.

use super::schema;
use http::{HeaderMap, StatusCode};

use super::json;
use super::violations::{self, Spelling};
use super::wire::{self, ErrorMember, Str, Wire, messages};
use super::{Dialect, parse_with};
use crate::error::reason_phrase;
use crate::{ApiError, Code, ViolationKind, ViolationSupport};

/// Seed 002's nested error: `{"error": {"code", "message", "extra": {"invalid-params":
/// [{"field", "message"}]}}}`.
///
/// Violations are form fields, so a body violation is just `{field, message}`; any other
/// kind adds `"in"`. `extra` also carries additional `messages` and the `request_id`, and is
/// left out when it would be empty.
///
/// ```json
/// {"error":{"code":"expired_token","message":"Public token expired: 48427a36d43c4d5aa6324bc06c692456"}}
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Nested;

/// Violations are `{field, message}`, with `in` for anything but a body field.
const SPELLING: Spelling = Spelling {
    reason: "message",
    body_implicit: true,
    always: false,
};

impl Dialect for Nested {
    fn error_schema(&self) -> serde_json::Value {
        serde_json::json!({"type": "object", "required": ["error"], "properties": {"error": {
            "type": "object", "required": ["code", "message"],
            "properties": {"code": schema::code(), "message": {"type": "string"},
                "extra": {"type": "object", "properties": {
                    "invalid-params": {"type": "array", "items": schema::violation("message")},
                    "messages": schema::strings(), "request_id": {"type": "string"}}}}}}})
    }

    fn name(&self) -> &'static str {
        "nested"
    }

    fn violations(&self) -> ViolationSupport {
        ViolationSupport::All
    }

    fn is_pure(&self) -> bool {
        true
    }

    fn write_body(&self, e: &ApiError, out: &mut Vec<u8>) {
        json::object(out, |body| {
            body.object("error", |error| {
                error.code("code", e.code()).str("message", e.message());
                let messages = e.additional_messages();
                if !e.violations().is_empty() || !messages.is_empty() || e.request_id().is_some() {
                    error.object("extra", |extra| {
                        violations::write(extra, "invalid-params", e.violations(), &SPELLING);
                        extra
                            .strs("messages", messages.iter().map(|m| &**m))
                            .opt_str("request_id", e.request_id());
                    });
                }
            });
        });
    }

    fn parse(&self, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Option<ApiError> {
        parse_with(headers, body, |wire| read(status, wire))
    }
}

/// Reads `{"error": {…}}`.
pub(crate) fn read(status: StatusCode, wire: &mut Wire<'_>) -> Option<ApiError> {
    if !matches!(wire.error, Some(ErrorMember::Object(_))) {
        return None;
    }
    let Some(ErrorMember::Object(inner)) = wire.error.take() else {
        return None;
    };
    let inner = *inner;
    let code = inner
        .code
        .unwrap_or_else(|| Code::Numeric(u32::from(status.as_u16())));
    let message = inner
        .message
        .unwrap_or_else(|| Str::fixed(reason_phrase(status)));
    let mut e = ApiError::new(status, code, message);
    if let Some(extra) = inner.extra {
        e = e
            .with_violation_vec(wire::violations(extra.invalid_params, &ViolationKind::Body))
            .with_message_vec(messages(extra.messages));
        if let Some(id) = extra.request_id {
            e = e.with_request_id(id);
        }
    }
    Some(e)
}
