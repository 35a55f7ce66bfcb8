//! Seed 004's status code with a specific code.

use super::schema;
use std::borrow::Cow;

use http::{HeaderMap, StatusCode};

use super::json;
use super::wire::{Str, Wire, messages};
use super::{Dialect, parse_with};
use crate::error::reason_phrase;
use crate::{ApiError, Code, FieldViolation, ViolationSupport};

/// Seed 004's exception body: `{"errorCode": <HTTP status>, "message", "specificCode",
/// "additionalMessages"}`. Only the first invalid parameter is reported.
///
/// `specificCode` is the code, left out when the code is the status itself (the plain
/// exceptions 400…501). The field travels in the message, quoted first (`'id' does not
/// validate`, as a catalog's field template writes it); the violation's reason is the
/// first additional message, or nothing when the message already says it (`'id' is
/// required`). A message that does not quote the field carries no violation back.
///
/// Parsing also reads seed 003's single-object form `{"errorCode": 3001, "message": …}`,
/// where `errorCode` is the code rather than the status.
///
/// ```json
/// {"errorCode":400,"message":"'id' does not validate","specificCode":23016,"additionalMessages":["Value must be a whole number"]}
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct SpecificCode;

/// Splits `'field' rest` into the field and the rest.
fn quoted_field(message: &str) -> Option<(&str, &str)> {
    let inner = message.strip_prefix('\'')?;
    // A plain scan: these messages are short, and `memchr` costs more to set up than
    // they take to read.
    let end = inner.as_bytes().windows(2).position(|pair| pair == b"' ")?;
    Some((&inner[..end], &inner[end + 2..]))
}

impl Dialect for SpecificCode {
    fn error_schema(&self) -> serde_json::Value {
        serde_json::json!({"type": "object", "required": ["errorCode", "message"], "properties": {
            "errorCode": {"type": "integer", "description": "the HTTP status"},
            "message": {"type": "string"}, "specificCode": schema::code(),
            "additionalMessages": schema::strings()}})
    }

    fn name(&self) -> &'static str {
        "specific-code"
    }

    fn violations(&self) -> ViolationSupport {
        ViolationSupport::FirstOnly
    }

    fn is_pure(&self) -> bool {
        true
    }

    fn write_body(&self, e: &ApiError, out: &mut Vec<u8>) {
        let status = e.status().as_u16();
        let reason = e.violations().first().and_then(|v| {
            let said = quoted_field(e.message())
                .is_some_and(|(field, rest)| field == v.field() && rest == v.message());
            // The reason can stay implicit only if nothing follows that parse would
            // mistake for it.
            (!said || !e.additional_messages().is_empty()).then(|| v.message())
        });
        json::object(out, |o| {
            o.num("errorCode", u32::from(status))
                .str("message", e.message());
            if e.code() != &Code::Numeric(u32::from(status)) {
                o.code("specificCode", e.code());
            }
            o.strs(
                "additionalMessages",
                reason
                    .into_iter()
                    .chain(e.additional_messages().iter().map(|m| &**m)),
            );
        });
    }

    fn parse(&self, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Option<ApiError> {
        parse_with(headers, body, |wire| read(status, wire))
    }
}

/// Reads `{"errorCode", "message", "specificCode", "additionalMessages"}`.
pub(crate) fn read(status: StatusCode, wire: &mut Wire<'_>) -> Option<ApiError> {
    let error_code = wire.error_code.take()?;
    let code = match wire.specific_code.take() {
        Some(code) => code,
        // Seed 003's single-object form: errorCode is the catalog code, not the status.
        None => error_code,
    };
    let message = wire
        .message
        .take()
        .unwrap_or_else(|| Str::fixed(reason_phrase(status)));
    let mut extra = messages(wire.additional_messages.take());
    let violation = quoted_field(&message).map(|(field, rest)| {
        let reason = if extra.is_empty() {
            Cow::Owned(rest.to_owned())
        } else {
            extra.remove(0)
        };
        FieldViolation::parameter(field.to_owned(), reason)
    });
    let mut e = ApiError::new(status, code, message).with_message_vec(extra);
    if let Some(v) = violation {
        e = e.with_violation(v);
    }
    Some(e)
}

#[cfg(test)]
mod tests {
    use super::quoted_field;

    #[test]
    fn quoted_field_splits_at_the_first_quote_followed_by_a_space() {
        // Scenario: seed 004 messages name the field in quotes; a quote inside the name
        // does not end it.
        assert_eq!(
            quoted_field("'first_name' does not validate"),
            Some(("first_name", "does not validate"))
        );
        assert_eq!(quoted_field("'it's' bad"), Some(("it's", "bad")));
        assert_eq!(quoted_field("'a'' b"), Some(("a'", "b")));
        assert_eq!(quoted_field("'unterminated"), None);
        assert_eq!(quoted_field("'end'"), None);
        assert_eq!(quoted_field("no quote"), None);
    }
}
