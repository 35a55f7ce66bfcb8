//! The parts the dialects' error schemas share.

use serde_json::{Value, json};

/// A catalog code: a number (2006, 23016) or a text (`not_found`).
pub(super) fn code() -> Value {
    json!({"oneOf": [{"type": "integer"}, {"type": "string"}]})
}

/// Extra messages.
pub(super) fn strings() -> Value {
    json!({"type": "array", "items": {"type": "string"}})
}

/// A field violation whose text is in `message_member`.
pub(super) fn violation(message_member: &str) -> Value {
    json!({"type": "object", "required": ["field", message_member],
        "properties": {"field": {"type": "string"}, message_member: {"type": "string"},
            "in": {"type": "string"}}})
}
