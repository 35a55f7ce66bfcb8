//! Field violations as a JSON list, the shape `problem`, `wrapper` and `nested` share:
//! `[{"field", <reason>, "in"}]`, differing only in the reason's name and whether a body
//! field states its location.

use super::json::Object;
use crate::{FieldViolation, ViolationKind};

/// How a dialect spells a violation list.
pub(crate) struct Spelling {
    /// The member holding the reason (`detail` in RFC 9457, `message` elsewhere).
    pub(crate) reason: &'static str,
    /// Whether `in` is left out for body fields (seed 002's form fields carry none).
    pub(crate) body_implicit: bool,
    /// Whether an empty list is written (seed 000 always has the member) or left out.
    pub(crate) always: bool,
}

/// Writes `key: [violations]`; nothing when there are none, unless the spelling
/// always has the member.
pub(crate) fn write(
    o: &mut Object<'_>,
    key: &'static str,
    violations: &[FieldViolation],
    spelling: &Spelling,
) {
    if violations.is_empty() && !spelling.always {
        return;
    }
    o.array(key, |list| {
        for v in violations {
            list.object(|item| {
                item.str("field", v.field())
                    .str(spelling.reason, v.message());
                if !(spelling.body_implicit && v.kind() == &ViolationKind::Body) {
                    item.str("in", v.kind().as_str());
                }
            });
        }
    });
}
