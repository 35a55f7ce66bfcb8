//! Seed 003's array of errors.

use http::{HeaderMap, StatusCode};
use serde::Serialize;

use super::wire::Wire;
use super::{Dialect, parse_with, write_json};
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

#[derive(Serialize)]
struct Body<'a> {
    errors: Items<'a>,
}

struct Items<'a>(&'a ApiError);

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Item<'a> {
    error_code: &'a Code,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    subject: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    subject_type: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<&'a str>,
}

impl Serialize for Items<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let e = self.0;
        let plain = |message| Item {
            error_code: e.code(),
            message,
            subject: None,
            subject_type: None,
            detail: None,
        };
        let head = e.violations().is_empty().then(|| plain(e.message()));
        let violations = e.violations().iter().map(|v| Item {
            error_code: e.code(),
            message: e.message(),
            subject: Some(v.field()),
            subject_type: Some(v.kind().as_str()),
            detail: (v.message() != e.message()).then(|| v.message()),
        });
        let extra = e.additional_messages().iter().map(|m| plain(m));
        s.collect_seq(head.into_iter().chain(violations).chain(extra))
    }
}

impl Dialect for ErrorsArray {
    fn name(&self) -> &'static str {
        "errors-array"
    }

    fn violations(&self) -> ViolationSupport {
        ViolationSupport::All
    }

    fn write_body(&self, e: &ApiError, out: &mut Vec<u8>) {
        write_json(&Body { errors: Items(e) }, out);
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
