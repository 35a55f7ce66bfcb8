//! Seed 002's nested error object.

use std::borrow::Cow;

use http::{HeaderMap, StatusCode};
use serde::Serialize;

use super::violations::ViolationList;
use super::wire::{ErrorMember, Str, Wire, messages, violations};
use super::{Dialect, parse_with, write_json};
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

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    code: &'a Code,
    message: &'a str,
    #[serde(skip_serializing_if = "Extra::is_empty")]
    extra: Extra<'a>,
}

#[derive(Serialize)]
struct Extra<'a> {
    #[serde(
        rename = "invalid-params",
        skip_serializing_if = "ViolationList::is_empty"
    )]
    invalid_params: ViolationList<'a>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    messages: &'a [Cow<'static, str>],
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<&'a str>,
}

impl Extra<'_> {
    fn is_empty(&self) -> bool {
        self.invalid_params.is_empty() && self.messages.is_empty() && self.request_id.is_none()
    }
}

impl Dialect for Nested {
    fn name(&self) -> &'static str {
        "nested"
    }

    fn violations(&self) -> ViolationSupport {
        ViolationSupport::All
    }

    fn write_body(&self, e: &ApiError, out: &mut Vec<u8>) {
        write_json(
            &Body {
                error: Inner {
                    code: e.code(),
                    message: e.message(),
                    extra: Extra {
                        invalid_params: ViolationList {
                            violations: e.violations(),
                            reason: "message",
                            body_implicit: true,
                        },
                        messages: e.additional_messages(),
                        request_id: e.request_id(),
                    },
                },
            },
            out,
        );
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
            .with_violation_vec(violations(extra.invalid_params, &ViolationKind::Body))
            .with_message_vec(messages(extra.messages));
        if let Some(id) = extra.request_id {
            e = e.with_request_id(id);
        }
    }
    Some(e)
}
