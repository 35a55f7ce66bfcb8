//! Seed 003's array of errors.

use super::schema;
use http::{HeaderMap, StatusCode};

use super::json::{self, Object};
use super::wire::Wire;
use super::{Dialect, parse_with};
use crate::{ApiError, Code, ViolationKind, ViolationSupport};

/// Seed 003's error list: `{"errors": [{"errorCode", "message"}]}`, where a field
/// validation error adds `subject` (the field) and `subjectType` (its kind).
///
/// Each violation is one element carrying the error's code and message; when the
/// violation's own reason differs from the error's message it is added as `detail`. A
/// request's body, query and path fields are all `"subjectType":"parameter"`, as in seed
/// 003's example; headers are `header`. Additional messages belong to the one error, so
/// they are a `messages` list on its first element rather than elements of their own.
///
/// ```json
/// {"errors":[{"errorCode":5000, "message":"validation error", "subject":"firstName", "subjectType":"parameter"}]}
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct ErrorsArray;

/// Seed 003's name for the kind of a violation's subject.
fn subject_type(kind: &ViolationKind) -> &str {
    match kind {
        ViolationKind::Body | ViolationKind::Query | ViolationKind::Path => "parameter",
        other => other.as_str(),
    }
}

impl Dialect for ErrorsArray {
    fn error_schema(&self) -> serde_json::Value {
        serde_json::json!({"type": "object", "required": ["errors"], "properties": {"errors": {
            "type": "array", "items": {"type": "object", "required": ["errorCode", "message"],
            "properties": {"errorCode": schema::code(), "message": {"type": "string"},
                "subject": {"type": "string"}, "subjectType": {"type": "string"},
                "detail": {"type": "string"}, "messages": schema::strings()}}}}})
    }

    fn name(&self) -> &'static str {
        "errors-array"
    }

    fn violations(&self) -> ViolationSupport {
        ViolationSupport::All
    }

    fn is_pure(&self) -> bool {
        true
    }

    fn write_body(&self, e: &ApiError, out: &mut Vec<u8>) {
        let messages = e.additional_messages();
        json::object(out, |body| {
            body.array("errors", |items| {
                // Every element opens with the error's code and message; the first one
                // carries the additional messages.
                let head = |item: &mut Object<'_>, first: bool| {
                    item.code("errorCode", e.code()).str("message", e.message());
                    if first {
                        item.strs("messages", messages.iter().map(|m| &**m));
                    }
                };
                if e.violations().is_empty() {
                    items.object(|item| head(item, true));
                }
                for (i, v) in e.violations().iter().enumerate() {
                    items.object(|item| {
                        head(item, i == 0);
                        item.str("subject", v.field())
                            .str("subjectType", subject_type(v.kind()));
                        if v.message() != e.message() {
                            item.str("detail", v.message());
                        }
                    });
                }
            });
        });
    }

    fn parse(&self, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Option<ApiError> {
        parse_with(headers, body, |wire| read(status, wire))
    }
}

/// Reads `{"errors": [...]}`: the first element gives the code and message (and the
/// additional messages, in `messages`), elements with a subject are violations; other
/// elements after the first are read as additional messages too, as older bodies had them.
pub(crate) fn read(status: StatusCode, wire: &mut Wire<'_>) -> Option<ApiError> {
    if wire.errors.as_ref().is_none_or(Vec::is_empty) {
        return None;
    }
    let mut items = wire.errors.take()?.into_iter();
    let mut first = items.next()?;
    let code = first
        .error_code
        .take()
        .unwrap_or_else(|| Code::Numeric(u32::from(status.as_u16())));
    let message = first.message.clone().unwrap_or_default();
    let mut e = ApiError::new(status, code, message.clone());
    for message in first.messages.take().into_iter().flatten() {
        e = e.with_additional_message(message);
    }
    for (i, item) in std::iter::once(first).chain(items).enumerate() {
        if item.subject.is_some() {
            let mut v = item;
            if v.detail.is_none() {
                v.detail = Some(v.message.take().unwrap_or_else(|| message.clone()));
            }
            e = e.with_violation(v.into_violation(ViolationKind::Parameter));
        } else if i > 0 {
            e = e.with_additional_message(item.message.unwrap_or_default());
        }
    }
    Some(e)
}
