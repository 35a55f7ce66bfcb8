//! Seed 003's array of errors.

use http::{HeaderMap, StatusCode};

use super::json::{self, Object};
use super::wire::Wire;
use super::{Dialect, parse_with};
use crate::{ApiError, Code, ViolationKind, ViolationSupport};

/// Seed 003's error list: `{"errors": [{"errorCode", "message"}]}`, where a field
/// validation error adds `subject` (the field) and `subjectType` (its kind).
///
/// Each violation is one element carrying the error's code and message; when the
/// violation's own reason differs from the error's message it is added as `detail`.
/// Additional messages follow as elements without a subject.
///
/// ```json
/// {"errors":[{"errorCode":5000, "message":"validation error", "subject":"firstName", "subjectType":"parameter"}]}
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct ErrorsArray;

impl Dialect for ErrorsArray {
    fn name(&self) -> &'static str {
        "errors-array"
    }

    fn violations(&self) -> ViolationSupport {
        ViolationSupport::All
    }

    fn write_body(&self, e: &ApiError, out: &mut Vec<u8>) {
        json::object(out, |body| {
            body.array("errors", |items| {
                // Every element opens with the error's code and message.
                let head = |item: &mut Object<'_>| {
                    item.code("errorCode", e.code()).str("message", e.message());
                };
                if e.violations().is_empty() {
                    items.object(head);
                }
                for v in e.violations() {
                    items.object(|item| {
                        head(item);
                        item.str("subject", v.field())
                            .str("subjectType", v.kind().as_str());
                        if v.message() != e.message() {
                            item.str("detail", v.message());
                        }
                    });
                }
                for m in e.additional_messages() {
                    items.object(|item| {
                        item.code("errorCode", e.code()).str("message", m);
                    });
                }
            });
        });
    }

    fn parse(&self, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Option<ApiError> {
        parse_with(headers, body, |wire| read(status, wire))
    }
}

/// Reads `{"errors": [...]}`: the first element gives the code and message, elements with
/// a subject are violations, the other elements after the first are additional messages.
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
