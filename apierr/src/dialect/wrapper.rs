//! Seed 000's response wrapper.

use super::schema;
use http::{HeaderMap, StatusCode};

use super::json;
use super::violations::{self, Spelling};
use super::wire::{self, StatusMember, Str, Wire, messages};
use super::{Dialect, oauth, parse_with};
use crate::error::reason_phrase;
use crate::{ApiError, Code, ViolationKind, ViolationSupport};

/// Seed 000's wrapper: every response carries `message`, `status` (`success` or
/// `fail`), `entity`, `validationErrors`, `resultCount` and `totalCount`.
///
/// An error adds its `code` (and `requestId`, `additionalMessages` when present) and
/// lists each violation as `{field, message, in}`. Token errors (a code RFC 6749 or 6750
/// defines, such as `invalid_token`) take the OAuth form instead, as the seed shows.
///
/// ```json
/// {"message":"Validation error","status":"fail","code":"validation_error","entity":null,
///  "validationErrors":[{"field":"email","message":"is required","in":"body"}],"resultCount":0,"totalCount":0}
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Wrapper;

/// The `status` member of an error.
pub(crate) const FAIL: &str = "fail";

/// Violations are `{field, message, in}`.
const SPELLING: Spelling = Spelling {
    reason: "message",
    body_implicit: false,
    always: true,
};

impl Dialect for Wrapper {
    fn error_schema(&self) -> serde_json::Value {
        serde_json::json!({"oneOf": [
            {"type": "object", "required": ["message", "status", "code", "validationErrors"],
             "properties": {"message": {"type": "string"}, "status": {"type": "string", "enum": ["fail"]},
                "code": schema::code(), "requestId": {"type": "string"}, "entity": {"type": "null"},
                "validationErrors": {"type": "array", "items": schema::violation("message")},
                "additionalMessages": schema::strings(), "resultCount": {"type": "integer"},
                "totalCount": {"type": "integer"}}},
            // Token errors, in OAuth's form (seed 000).
            super::OAuth.error_schema(),
        ]})
    }

    fn name(&self) -> &'static str {
        "wrapper"
    }

    fn violations(&self) -> ViolationSupport {
        ViolationSupport::All
    }

    fn wraps_success(&self) -> bool {
        true
    }

    fn is_pure(&self) -> bool {
        true
    }

    fn write_body(&self, e: &ApiError, out: &mut Vec<u8>) {
        if oauth::is_oauth_code(e.code()) {
            return oauth::write_body(e, out);
        }
        json::object(out, |o| {
            o.str("message", e.message())
                .str("status", FAIL)
                .code("code", e.code())
                .opt_str("requestId", e.request_id())
                .null("entity");
            violations::write(o, "validationErrors", e.violations(), &SPELLING);
            o.strs(
                "additionalMessages",
                e.additional_messages().iter().map(|m| &**m),
            )
            .num("resultCount", 0)
            .num("totalCount", 0);
        });
    }

    fn parse(&self, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Option<ApiError> {
        parse_with(headers, body, |wire| {
            read(status, wire).or_else(|| oauth::read(status, wire))
        })
    }
}

/// Reads a wrapper whose `status` is a string.
pub(crate) fn read(status: StatusCode, wire: &mut Wire<'_>) -> Option<ApiError> {
    if !matches!(wire.status, Some(StatusMember::Text)) {
        return None;
    }
    let code = wire
        .code
        .take()
        .unwrap_or_else(|| Code::Numeric(u32::from(status.as_u16())));
    let message = wire
        .message
        .take()
        .unwrap_or_else(|| Str::fixed(reason_phrase(status)));
    let mut e = ApiError::new(status, code, message)
        .with_violation_vec(wire::violations(
            wire.validation_errors.take(),
            &ViolationKind::Body,
        ))
        .with_message_vec(messages(wire.additional_messages.take()));
    if let Some(id) = wire.request_id_camel.take() {
        e = e.with_request_id(id);
    }
    Some(e)
}
