//! The OAuth 2.0 error response (RFC 6749 §5.2, RFC 6750 §3.1).

use http::{HeaderMap, StatusCode};

use super::json;
use super::wire::{ErrorMember, Wire};
use super::{Dialect, parse_with};
use crate::{ApiError, Code, ViolationSupport};

/// The error codes RFC 6749 §5.2 and RFC 6750 §3.1 define. A [`Wrapper`](super::Wrapper)
/// error with one of these codes is a token error and takes the OAuth form.
pub(crate) const OAUTH_CODES: &[&str] = &[
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
    "invalid_token",
    "insufficient_scope",
];

/// The OAuth 2.0 error form, `{"error": code, "error_description": message}`, as seed
/// 000 answers token errors.
///
/// It has no place for field violations, additional messages or a request id; the code
/// is sent as a string.
///
/// ```json
/// {"error":"invalid_token","error_description":"Invalid access token: eyJhbGciOiJSUzIi.......3gZthv7Y"}
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct OAuth;

impl Dialect for OAuth {
    fn error_schema(&self) -> serde_json::Value {
        serde_json::json!({"type": "object", "required": ["error"],
            "properties": {"error": {"type": "string"}, "error_description": {"type": "string"}}})
    }

    fn name(&self) -> &'static str {
        "oauth"
    }

    fn violations(&self) -> ViolationSupport {
        ViolationSupport::None
    }

    fn is_pure(&self) -> bool {
        true
    }

    fn write_body(&self, e: &ApiError, out: &mut Vec<u8>) {
        write_body(e, out);
    }

    fn parse(&self, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Option<ApiError> {
        parse_with(headers, body, |wire| read(status, wire))
    }
}

pub(crate) fn write_body(e: &ApiError, out: &mut Vec<u8>) {
    json::object(out, |o| {
        match e.code() {
            Code::Text(_) => o.code("error", e.code()),
            // RFC 6749 error codes are strings.
            Code::Numeric(n) => o.str("error", itoa::Buffer::new().format(*n)),
        };
        o.str("error_description", e.message());
    });
}

/// Whether an error is a token error that takes the OAuth form.
pub(crate) fn is_oauth_code(code: &Code) -> bool {
    code.as_text().is_some_and(|c| OAUTH_CODES.contains(&c))
}

/// Reads `{"error": "…", "error_description": "…"}`.
pub(crate) fn read(status: StatusCode, wire: &mut Wire<'_>) -> Option<ApiError> {
    if !matches!(wire.error, Some(ErrorMember::Text(_))) {
        return None;
    }
    let Some(ErrorMember::Text(code)) = wire.error.take() else {
        return None;
    };
    let message = wire
        .error_description
        .take()
        .unwrap_or_else(|| code.clone());
    Some(ApiError::new(status, Code::owned(code), message))
}
